//! Alerts as they arrive (Alertmanager v4 webhook) and as Aetherius handles them
//! ([`StandardEvent`]).

use crate::fingerprint;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `firing` or `resolved`, as Alertmanager sends it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// The alert is active.
    Firing,
    /// The alert has stopped firing.
    Resolved,
}

/// The body Alertmanager POSTs to a `webhook_configs` receiver (version 4).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerPayload {
    /// Always "4" today.
    pub version: String,
    /// Identifies the alert group.
    #[serde(default)]
    pub group_key: String,
    /// Alerts Alertmanager left out because of `max_alerts`.
    #[serde(default)]
    pub truncated_alerts: u64,
    /// Status of the group.
    pub status: AlertStatus,
    /// Receiver name.
    #[serde(default)]
    pub receiver: String,
    /// Labels of the group.
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    /// Labels common to every alert of the group.
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    /// Annotations common to every alert of the group.
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    /// Alertmanager's external URL.
    #[serde(default, rename = "externalURL")]
    pub external_url: String,
    /// The alerts, one diagnosis per firing alert.
    pub alerts: Vec<AlertmanagerAlert>,
}

/// One alert of a v4 webhook payload, and the `alert:` of a scenario.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerAlert {
    /// Firing or resolved.
    pub status: AlertStatus,
    /// Identifying labels; `alertname` is required.
    pub labels: BTreeMap<String, String>,
    /// Informational annotations (summary, description, runbook_url...).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// When the alert started firing.
    pub starts_at: DateTime<Utc>,
    /// When it ended; Alertmanager sends the zero time `0001-01-01T00:00:00Z` while firing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    /// Link to the expression in Prometheus.
    #[serde(default, rename = "generatorURL", skip_serializing_if = "String::is_empty")]
    pub generator_url: String,
    /// Alertmanager's fingerprint of the label set; computed when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// Largest label value accepted, in bytes. Real label values are short; a huge one is a bug
/// or an attack, and it would end up in search attributes and reports.
pub const MAX_LABEL_VALUE_LEN: usize = 4096;

/// Why an alert was refused. `path` names the offending field (`alerts[1].labels.alertname`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct InvalidAlert {
    /// JSON path of the offending field.
    pub path: String,
    /// What is wrong with it.
    pub problem: String,
}

impl AlertmanagerPayload {
    /// Checks what serde cannot: a non-empty alert list, and each alert's labels.
    pub fn validate(&self) -> Result<(), InvalidAlert> {
        if self.alerts.is_empty() {
            return Err(InvalidAlert {
                path: "alerts".into(),
                problem: "the alert list is empty".into(),
            });
        }
        for (i, alert) in self.alerts.iter().enumerate() {
            alert.validate(&format!("alerts[{i}]"))?;
        }
        Ok(())
    }
}

impl AlertmanagerAlert {
    /// Checks label names (Prometheus charset), required labels and value sizes.
    pub fn validate(&self, path: &str) -> Result<(), InvalidAlert> {
        let bad = |field: String, problem: String| InvalidAlert {
            path: format!("{path}.{field}"),
            problem,
        };
        match self.labels.get("alertname") {
            None => return Err(bad("labels.alertname".into(), "required label is missing".into())),
            Some(v) if v.trim().is_empty() => {
                return Err(bad("labels.alertname".into(), "must not be empty".into()));
            }
            Some(_) => {}
        }
        for (name, value) in &self.labels {
            if !is_valid_label_name(name) {
                return Err(bad(
                    format!("labels.{name}"),
                    "label name must match [a-zA-Z_][a-zA-Z0-9_]*".into(),
                ));
            }
            if value.len() > MAX_LABEL_VALUE_LEN {
                return Err(bad(
                    format!("labels.{name}"),
                    format!("label value is longer than {MAX_LABEL_VALUE_LEN} bytes"),
                ));
            }
        }
        if let Some(fp) = &self.fingerprint
            && !fp.is_empty()
            && !fp.chars().all(|c| c.is_ascii_hexdigit())
        {
            return Err(bad("fingerprint".into(), "must be hexadecimal".into()));
        }
        Ok(())
    }

    /// The alert's name (validated to exist).
    pub fn alertname(&self) -> &str {
        self.labels.get("alertname").map(String::as_str).unwrap_or_default()
    }
}

/// Prometheus label name rule.
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// A monitoring alert (Alertmanager or a custom webhook).
    Alert,
    /// A Kubernetes Warning event.
    Event,
    /// A person asked for a diagnosis over REST.
    Manual,
}

/// The one shape every source is turned into (the seed's `StandardEvent`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandardEvent {
    /// Stable id: also the diagnosis workflow id.
    pub id: String,
    /// Kind of source.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// Source name (`alertmanager`, a custom source, `kubernetes`, `rest`).
    pub source: String,
    /// When the condition started.
    pub timestamp: DateTime<Utc>,
    /// Cluster the alert is about.
    pub cluster_id: String,
    /// Namespace the alert is about, when it names one.
    pub namespace: Option<String>,
    /// Severity label, lowercased (`critical`, `warning`, `info`, ...).
    pub severity: String,
    /// Labels as received.
    pub labels: BTreeMap<String, String>,
    /// Annotations as received.
    pub annotations: BTreeMap<String, String>,
    /// Identity of the alert's label set.
    pub fingerprint: String,
    /// Firing or resolved.
    pub status: AlertStatus,
}

impl StandardEvent {
    /// Standardizes one Alertmanager alert. `default_cluster` is used when the alert has no
    /// `cluster` label.
    pub fn from_alertmanager(alert: &AlertmanagerAlert, default_cluster: &str) -> Self {
        let cluster_id = alert
            .labels
            .get("cluster")
            .filter(|c| !c.is_empty())
            .cloned()
            .unwrap_or_else(|| default_cluster.to_owned());
        let fingerprint = alert
            .fingerprint
            .clone()
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| fingerprint::of_labels(&alert.labels));
        let id = fingerprint::workflow_id(&cluster_id, &fingerprint, alert.starts_at);
        StandardEvent {
            id,
            event_type: EventType::Alert,
            source: "alertmanager".into(),
            timestamp: alert.starts_at,
            cluster_id,
            namespace: alert.labels.get("namespace").filter(|n| !n.is_empty()).cloned(),
            severity: alert
                .labels
                .get("severity")
                .map(|s| s.to_ascii_lowercase())
                .unwrap_or_else(|| "none".into()),
            labels: alert.labels.clone(),
            annotations: alert.annotations.clone(),
            fingerprint,
            status: alert.status,
        }
    }

    /// The `alertname` label (empty when there is none).
    pub fn alertname(&self) -> &str {
        self.labels.get("alertname").map(String::as_str).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(json: &str) -> AlertmanagerPayload {
        serde_json::from_str(json).unwrap()
    }

    const REAL: &str = r#"{
      "receiver": "aetherius", "status": "firing", "version": "4",
      "groupKey": "{}:{alertname=\"KubePodCrashLooping\"}", "truncatedAlerts": 0,
      "groupLabels": {"alertname": "KubePodCrashLooping"},
      "commonLabels": {"alertname": "KubePodCrashLooping", "severity": "warning"},
      "commonAnnotations": {}, "externalURL": "http://am:9093",
      "alerts": [{
        "status": "firing",
        "labels": {"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": "checkout-1", "severity": "Warning"},
        "annotations": {"summary": "Pod is crash looping."},
        "startsAt": "2026-11-20T10:00:00.123Z", "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prom/graph", "fingerprint": "5f1c2a9e0b7d3c41"
      }]
    }"#;

    #[test]
    fn parses_a_real_v4_payload_and_standardizes_it() {
        let p = payload(REAL);
        p.validate().unwrap();
        let ev = StandardEvent::from_alertmanager(&p.alerts[0], "default");
        assert_eq!(ev.cluster_id, "default");
        assert_eq!(ev.namespace.as_deref(), Some("shop"));
        assert_eq!(ev.severity, "warning");
        assert_eq!(ev.fingerprint, "5f1c2a9e0b7d3c41");
        assert_eq!(ev.alertname(), "KubePodCrashLooping");
        assert!(ev.id.contains("5f1c2a9e0b7d3c41"));
    }

    #[test]
    fn rejects_an_empty_alert_list_naming_the_field() {
        let mut p = payload(REAL);
        p.alerts.clear();
        let err = p.validate().unwrap_err();
        assert_eq!(err.path, "alerts");
    }

    #[test]
    fn rejects_a_missing_alertname_and_a_bad_label_name() {
        let mut p = payload(REAL);
        p.alerts[0].labels.remove("alertname");
        assert_eq!(p.validate().unwrap_err().path, "alerts[0].labels.alertname");
        let mut p = payload(REAL);
        p.alerts[0].labels.insert("bad-name".into(), "x".into());
        assert_eq!(p.validate().unwrap_err().path, "alerts[0].labels.bad-name");
    }

    #[test]
    fn label_name_charset_follows_prometheus() {
        assert!(is_valid_label_name("_a1"));
        assert!(is_valid_label_name("alertname"));
        assert!(!is_valid_label_name("1a"));
        assert!(!is_valid_label_name(""));
        assert!(!is_valid_label_name("a.b"));
    }
}
