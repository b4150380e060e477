//! `POST /webhook/custom/{source}`: any JSON alert body, read through the source's
//! configured field mapping (JSON pointers, RFC 6901) into the Alertmanager alert shape,
//! validated like one, then standardized and ingested. A body the mapping cannot read
//! starts nothing.

use crate::{
    ApiError, AppState,
    ingest::{body_or_error, parse},
};
use aetherius_core::{AlertStatus, AlertmanagerAlert, StandardEvent, fingerprint};
use axum::{
    Json,
    body::Bytes,
    extract::{State, rejection::BytesRejection},
    http::StatusCode,
};
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// How one source's body maps to alerts. Every field but `alerts` is a JSON pointer into
/// one alert (the whole body when `alerts` is absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomSource {
    /// Pointer to the array of alerts; absent: the body is one alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<String>,
    /// The alert's name (required in every alert).
    pub alertname: String,
    /// Severity; absent or missing: `default_severity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Source value → severity (`P1` → `critical`); unmapped values are kept, lowercased.
    #[serde(default)]
    pub severity_map: BTreeMap<String, String>,
    /// Severity when the body names none.
    #[serde(default = "default_severity")]
    pub default_severity: String,
    /// Status; absent: every alert is firing. Required in the body when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Source value → `firing`/`resolved` (case-insensitive); empty: only `firing` and
    /// `resolved` themselves. An unmapped value is refused.
    #[serde(default)]
    pub status_map: BTreeMap<String, AlertStatus>,
    /// Cluster id; missing: the configured default cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Label → pointer, for the alert's target (`pod`, `deployment`, `node`, ...).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Pointer to an object whose string entries are copied as labels (Grafana's `labels`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels_object: Option<String>,
    /// Pointer to `key:value` tags, one comma-separated string or an array (Datadog `$TAGS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<String>,
    /// Label → tag key, read from `tags` (`namespace = "kube_namespace"`).
    #[serde(default)]
    pub tag_labels: BTreeMap<String, String>,
    /// Labels every alert of the source gets (lowest precedence).
    #[serde(default)]
    pub static_labels: BTreeMap<String, String>,
    /// `description` annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `summary` annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// When the alert started: RFC 3339, or unix seconds or milliseconds. Required in the
    /// body when configured; absent: the time of arrival.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    /// What identifies the alert (hex is kept, anything else hashed); absent: the labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// A value that stays the same from trigger to resolution (Datadog `$ALERT_CYCLE_KEY`):
    /// when set, the workflow id uses it instead of `starts_at`, so renotifications and the
    /// resolution reach the same diagnosis. Required in the body when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub episode: Option<String>,
}

fn default_severity() -> String {
    "warning".into()
}

impl CustomSource {
    /// Every pointer is a JSON pointer (empty, or starting with `/`).
    pub fn check(&self, name: &str) -> Result<(), String> {
        let mut pointers: Vec<(&str, &String)> = vec![("alertname", &self.alertname)];
        for (field, p) in [
            ("alerts", &self.alerts),
            ("severity", &self.severity),
            ("status", &self.status),
            ("cluster", &self.cluster),
            ("namespace", &self.namespace),
            ("labels_object", &self.labels_object),
            ("tags", &self.tags),
            ("description", &self.description),
            ("summary", &self.summary),
            ("starts_at", &self.starts_at),
            ("fingerprint", &self.fingerprint),
            ("episode", &self.episode),
        ] {
            if let Some(p) = p {
                pointers.push((field, p));
            }
        }
        pointers.extend(self.labels.values().map(|p| ("labels", p)));
        for (field, p) in pointers {
            if !p.is_empty() && !p.starts_with('/') {
                return Err(format!("api.custom_sources.{name}.{field}: {p:?} is not a JSON pointer (it starts with /)"));
            }
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') || name.is_empty() {
            return Err(format!("api.custom_sources: {name:?}: a source name is letters, digits, - and _"));
        }
        Ok(())
    }

    /// The standardized events of `body` (all of them, or an error naming the field).
    pub fn events(&self, source: &str, body: &Value, now: DateTime<Utc>, default_cluster: &str) -> Result<Vec<StandardEvent>, ApiError> {
        let alerts = self.map(source, body, now)?;
        let items = self.items(body)?;
        alerts
            .iter()
            .zip(items)
            .map(|(alert, (at, item))| {
                let mut event = StandardEvent::from_alertmanager(alert, default_cluster);
                event.source = source.to_owned();
                if let Some(p) = &self.episode {
                    let episode = read(item, p).filter(|e| !e.is_empty()).ok_or_else(|| {
                        ApiError::InvalidPayload(format!("{at}{p}: the episode is missing or not a string/number"))
                    })?;
                    let digest = Sha256::digest(format!("{source}\u{0}{episode}").as_bytes());
                    let base = fingerprint::workflow_id(&event.cluster_id, &event.fingerprint, event.timestamp);
                    let base = base.rsplit_once('-').map_or(base.as_str(), |(b, _)| b);
                    event.id = format!("{base}-e{}", hex::encode(&digest[..6]));
                }
                Ok(event)
            })
            .collect()
    }

    fn items<'a>(&self, body: &'a Value) -> Result<Vec<(String, &'a Value)>, ApiError> {
        Ok(match &self.alerts {
            None => vec![(String::new(), body)],
            Some(p) => {
                let list = body
                    .pointer(p)
                    .and_then(Value::as_array)
                    .ok_or_else(|| ApiError::InvalidPayload(format!("{p}: missing or not an array of alerts")))?;
                if list.is_empty() {
                    return Err(ApiError::InvalidPayload(format!("{p}: the alert list is empty")));
                }
                list.iter().enumerate().map(|(i, v)| (format!("{p}/{i}"), v)).collect()
            }
        })
    }

    /// The alerts of `body`, validated, as Alertmanager alerts.
    pub fn map(&self, source: &str, body: &Value, now: DateTime<Utc>) -> Result<Vec<AlertmanagerAlert>, ApiError> {
        self.items(body)?.into_iter().map(|(at, item)| self.map_one(source, &at, item, now)).collect()
    }

    fn map_one(&self, source: &str, at: &str, item: &Value, now: DateTime<Utc>) -> Result<AlertmanagerAlert, ApiError> {
        let missing = |p: &str, what: &str| ApiError::InvalidPayload(format!("{at}{p}: {what} is missing or not a string/number"));
        let mut labels = self.static_labels.clone();
        if let Some(p) = &self.labels_object
            && let Some(obj) = item.pointer(p).and_then(Value::as_object)
        {
            for (k, v) in obj {
                if let Some(v) = scalar(v) {
                    labels.insert(k.clone(), v);
                }
            }
        }
        if let Some(p) = &self.tags {
            let tags = tags(item.pointer(p));
            for (label, key) in &self.tag_labels {
                if let Some(v) = tags.get(key.as_str()) {
                    labels.insert(label.clone(), (*v).to_owned());
                }
            }
        }
        for (label, p) in &self.labels {
            if let Some(v) = read(item, p) {
                labels.insert(label.clone(), v);
            }
        }
        for (label, p) in [("cluster", &self.cluster), ("namespace", &self.namespace)] {
            if let Some(v) = p.as_deref().and_then(|p| read(item, p)) {
                labels.insert(label.into(), v);
            }
        }
        let alertname = read(item, &self.alertname).filter(|a| !a.trim().is_empty()).ok_or_else(|| missing(&self.alertname, "the alert name"))?;
        labels.insert("alertname".into(), alertname);
        let severity = self.severity.as_deref().and_then(|p| read(item, p));
        let severity = match severity {
            Some(s) => self.severity_map.get(&s).cloned().unwrap_or(s),
            None => self.default_severity.clone(),
        };
        labels.insert("severity".into(), severity.to_ascii_lowercase());

        let status = match &self.status {
            None => AlertStatus::Firing,
            Some(p) => {
                let value = read(item, p).ok_or_else(|| missing(p, "the status"))?;
                let mapped = self.status_map.iter().find(|(k, _)| k.eq_ignore_ascii_case(&value)).map(|(_, s)| *s);
                let plain = match value.to_ascii_lowercase().as_str() {
                    "firing" => Some(AlertStatus::Firing),
                    "resolved" => Some(AlertStatus::Resolved),
                    _ => None,
                };
                mapped.or(if self.status_map.is_empty() { plain } else { None }).ok_or_else(|| {
                    ApiError::InvalidPayload(format!("{at}{p}: status {value:?} is not mapped to firing or resolved (see status_map)"))
                })?
            }
        };
        let starts_at = match &self.starts_at {
            None => now,
            Some(p) => {
                let v = item.pointer(p).ok_or_else(|| missing(p, "the start time"))?;
                time(v).ok_or_else(|| ApiError::InvalidPayload(format!("{at}{p}: {v} is not an RFC 3339 time or a unix time")))?
            }
        };
        let fingerprint = match &self.fingerprint {
            None => None,
            Some(p) => {
                let v = read(item, p).filter(|v| !v.is_empty()).ok_or_else(|| missing(p, "the fingerprint"))?;
                Some(if v.len() <= 32 && v.chars().all(|c| c.is_ascii_hexdigit()) {
                    v.to_ascii_lowercase()
                } else {
                    let digest = Sha256::digest(format!("{source}\u{0}{v}").as_bytes());
                    hex::encode(&digest[..8])
                })
            }
        };
        let mut annotations = BTreeMap::new();
        for (name, p) in [("description", &self.description), ("summary", &self.summary)] {
            if let Some(v) = p.as_deref().and_then(|p| read(item, p)) {
                annotations.insert(name.to_owned(), v);
            }
        }
        let alert = AlertmanagerAlert { status, labels, annotations, starts_at, ends_at: None, generator_url: String::new(), fingerprint };
        let path = if at.is_empty() { "body".to_owned() } else { at.to_owned() };
        alert.validate(&path).map_err(|e| ApiError::InvalidPayload(e.to_string()))?;
        Ok(alert)
    }
}

/// A string, number or boolean as text.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn read(item: &Value, pointer: &str) -> Option<String> {
    item.pointer(pointer).and_then(scalar)
}

fn tags(v: Option<&Value>) -> BTreeMap<&str, &str> {
    let parts: Vec<&str> = match v {
        Some(Value::String(s)) => s.split(',').collect(),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    parts.into_iter().filter_map(|t| t.trim().split_once(':')).map(|(k, v)| (k.trim(), v.trim())).collect()
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    let number = match v {
        Value::String(s) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => return Some(t.with_timezone(&Utc)),
            Err(_) => s.trim().parse::<i64>().ok()?,
        },
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    // Above 10^11 it is milliseconds (10^11 seconds is the year 5138).
    if number > 100_000_000_000 { Utc.timestamp_millis_opt(number).single() } else { Utc.timestamp_opt(number, 0).single() }
}

/// A custom source's webhook: any JSON body, read through `[api.custom_sources.<source>]`.
#[utoipa::path(post, path = "/webhook/custom/{source}", tag = "webhooks",
    params(("source" = String, Path, description = "A configured source (`[api.custom_sources.<source>]`).")),
    request_body(content = Object, description = "The source's own alert JSON (Grafana, Datadog, PagerDuty, ...)."),
    responses(
        (status = 202, description = "Every alert was started, found or resolved.", body = crate::ingest::WebhookAnswer),
        (status = 400, description = "The body is not JSON (`malformed_json`).", body = crate::error::ErrorBody),
        (status = 404, description = "No source of that name is configured (`unknown_source`).", body = crate::error::ErrorBody),
        (status = 422, description = "The mapping cannot read the body (`invalid_payload`), naming the field.", body = crate::error::ErrorBody),
        (status = 503, description = "Temporal is unavailable.", body = crate::error::ErrorBody),
    ))]
pub(crate) async fn webhook(
    State(state): State<AppState>,
    crate::error::PathParam(source): crate::error::PathParam,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<crate::ingest::WebhookAnswer>), ApiError> {
    let Some(mapping) = state.options.custom_sources.get(&source) else {
        let known: Vec<&str> = state.options.custom_sources.keys().map(String::as_str).collect();
        return Err(ApiError::UnknownSource(format!("no custom webhook source {source:?} is configured (known: {})", known.join(", "))));
    };
    let mapped = body_or_error(body, state.options.max_payload_bytes)
        .and_then(|b| parse::<Value>(&b))
        .and_then(|v| mapping.events(&source, &v, Utc::now(), &state.options.default_cluster));
    let events = match mapped {
        Ok(a) => a,
        Err(e) => {
            state.metrics.alert(&source, "rejected");
            return Err(e);
        }
    };
    let out = crate::ingest::ingest_all(&state, &source, events).await?;
    Ok((StatusCode::ACCEPTED, Json(crate::ingest::WebhookAnswer::new(out))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The mappings of deploy/aetherius.example.toml.
    fn example() -> BTreeMap<String, CustomSource> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/aetherius.example.toml");
        let file: toml::Value = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let sources = file["api"]["custom_sources"].clone();
        let sources: BTreeMap<String, CustomSource> = sources.try_into().unwrap();
        for (name, s) in &sources {
            s.check(name).unwrap();
        }
        sources
    }

    fn body(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/custom").join(format!("{name}.json"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn now() -> DateTime<Utc> {
        "2024-12-06T10:05:00Z".parse().unwrap()
    }

    fn label<'a>(a: &'a AlertmanagerAlert, name: &str) -> &'a str {
        a.labels.get(name).map_or("", String::as_str)
    }

    fn invalid(e: ApiError) -> String {
        assert_eq!(e.parts().1, "invalid_payload", "{e}");
        e.to_string()
    }

    #[test]
    fn the_example_maps_a_grafana_unified_alerting_webhook() {
        let alerts = example()["grafana"].map("grafana", &body("grafana"), now()).unwrap();
        assert_eq!(alerts.len(), 2);
        let a = &alerts[0];
        assert_eq!(a.status, AlertStatus::Firing);
        assert_eq!(
            [label(a, "alertname"), label(a, "severity"), label(a, "cluster"), label(a, "namespace"), label(a, "pod")],
            ["CheckoutHighMemory", "critical", "prod-eu", "shop", "checkout-7d9f8b6c5-x2x4q"]
        );
        assert_eq!(a.fingerprint.as_deref(), Some("c6eadffa33fcdf37"));
        assert_eq!(a.starts_at, "2024-10-12T07:51:03.157076Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(a.annotations["summary"], "Checkout memory close to its limit");
        assert!(a.annotations["description"].contains("97%"));
        assert_eq!(alerts[1].status, AlertStatus::Resolved);
        let event = StandardEvent::from_alertmanager(a, "default");
        assert_eq!((event.cluster_id.as_str(), event.namespace.as_deref()), ("prod-eu", Some("shop")));
    }

    #[test]
    fn the_example_maps_a_datadog_webhook_with_priority_transition_and_tags() {
        let datadog = &example()["datadog"];
        let mut b = body("datadog");
        let a = &datadog.map("datadog", &b, now()).unwrap()[0];
        assert_eq!(a.status, AlertStatus::Firing);
        assert_eq!(
            [label(a, "severity"), label(a, "cluster"), label(a, "namespace"), label(a, "deployment")],
            ["critical", "prod-eu", "shop", "checkout"]
        );
        assert!(label(a, "alertname").contains("Checkout pods are restarting"));
        assert_eq!(a.starts_at, "2024-12-06T10:00:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(a.fingerprint.as_deref(), Some("d7b9c1f3a2e04c5f8b6e1a9d3c7f2b40"));
        let trigger = datadog.events("datadog", &b, now(), "default").unwrap().remove(0);
        assert!(trigger.id.starts_with("diag-prod-eu-d7b9c1f3a2e04c5f8b6e1a9d3c7f2b40-e"), "{}", trigger.id);
        b["alert_transition"] = json!("Recovered");
        b["alert_priority"] = json!("P4");
        b["date"] = json!("1733480400000");
        let r = &datadog.map("datadog", &b, now()).unwrap()[0];
        assert_eq!((r.status, label(r, "severity")), (AlertStatus::Resolved, "info"));
        // The recovery comes 20 min later, same alert cycle: the same diagnosis.
        let recovery = datadog.events("datadog", &b, now(), "default").unwrap().remove(0);
        assert_eq!((recovery.id, recovery.source.as_str()), (trigger.id.clone(), "datadog"));
        b["alert_cycle_key"] = json!("7734193421903999999");
        assert_ne!(datadog.events("datadog", &b, now(), "default").unwrap()[0].id, trigger.id);
        b.as_object_mut().unwrap().remove("alert_cycle_key");
        let m = invalid(datadog.events("datadog", &b, now(), "default").unwrap_err());
        assert!(m.contains("/alert_cycle_key"), "{m}");
        b["alert_cycle_key"] = json!("7734193421903876544");
        b["alert_transition"] = json!("Muted");
        let m = invalid(datadog.map("datadog", &b, now()).unwrap_err());
        assert!(m.contains("/alert_transition") && m.contains("Muted"), "{m}");
    }

    #[test]
    fn the_example_maps_a_pagerduty_v3_incident_webhook() {
        let pd = &example()["pagerduty"];
        let mut b = body("pagerduty");
        let a = &pd.map("pagerduty", &b, now()).unwrap()[0];
        assert_eq!(a.status, AlertStatus::Firing);
        assert_eq!(
            [label(a, "alertname"), label(a, "severity"), label(a, "cluster"), label(a, "service")],
            ["Checkout API 5xx rate above 5%", "critical", "prod-eu", "Checkout API"]
        );
        assert_eq!(a.starts_at, "2024-12-06T10:00:02Z".parse::<DateTime<Utc>>().unwrap());
        // The incident id is not hex: hashed with the source name, stable across its events.
        let fp = a.fingerprint.clone().unwrap();
        assert!(fp.len() == 16 && fp.chars().all(|c| c.is_ascii_hexdigit()), "{fp}");
        b["event"]["event_type"] = json!("incident.resolved");
        b["event"]["data"]["status"] = json!("resolved");
        b["event"]["data"]["priority"] = Value::Null;
        let r = &pd.map("pagerduty", &b, now()).unwrap()[0];
        assert_eq!((r.status, label(r, "severity"), r.fingerprint.clone().unwrap()), (AlertStatus::Resolved, "warning", fp));
        // Same incident, same episode: the same workflow id, so the resolution finds it.
        assert_eq!(StandardEvent::from_alertmanager(a, "d").id, StandardEvent::from_alertmanager(r, "d").id);
    }

    #[test]
    fn a_body_the_mapping_cannot_read_is_refused_naming_the_field() {
        let sources = example();
        let mut g = body("grafana");
        g["alerts"][1]["labels"].as_object_mut().unwrap().remove("alertname");
        let m = invalid(sources["grafana"].map("grafana", &g, now()).unwrap_err());
        assert!(m.contains("/alerts/1/labels/alertname"), "{m}");
        let m = invalid(sources["grafana"].map("grafana", &json!({"alerts": {}}), now()).unwrap_err());
        assert!(m.contains("/alerts") && m.contains("array"), "{m}");
        let mut pd = body("pagerduty");
        pd["event"]["data"]["created_at"] = json!("yesterday");
        let m = invalid(sources["pagerduty"].map("pagerduty", &pd, now()).unwrap_err());
        assert!(m.contains("/event/data/created_at"), "{m}");
        let mut g = body("grafana");
        g["alerts"][0]["labels"]["team.name"] = json!("blue");
        let m = invalid(sources["grafana"].map("grafana", &g, now()).unwrap_err());
        assert!(m.contains("team.name"), "{m}");
    }

    #[test]
    fn without_status_or_time_pointers_an_alert_fires_now_and_bad_pointers_are_refused() {
        let plain: CustomSource = serde_json::from_value(json!({"alertname": "/name", "severity": "/sev"})).unwrap();
        let a = &plain.map("ci", &json!({"name": "BuildBroken", "sev": 2}), now()).unwrap()[0];
        assert_eq!((a.status, a.starts_at, label(a, "severity")), (AlertStatus::Firing, now(), "2"));
        let unix: CustomSource = serde_json::from_value(json!({"alertname": "/n", "starts_at": "/t"})).unwrap();
        let a = &unix.map("ci", &json!({"n": "X", "t": 1733479200}), now()).unwrap()[0];
        assert_eq!(a.starts_at, "2024-12-06T10:00:00Z".parse::<DateTime<Utc>>().unwrap());
        let bad: CustomSource = serde_json::from_value(json!({"alertname": "labels.alertname"})).unwrap();
        assert!(bad.check("x").unwrap_err().contains("JSON pointer"));
        assert!(plain.check("a b").unwrap_err().contains("source name"));
    }
}
