//! Humans in the loop: which steps wait for a person, and what the person decided.
//!
//! The policy travels in the workflow's input (`DiagnosisRequest::approval`), so the
//! workflow decides deterministically; its default asks for nothing, which is also what
//! histories recorded before approvals existed replay with.

use crate::{DiagnosticStep, StepOrigin, command::ResourceKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Default wait for a decision: 30 minutes.
pub const DEFAULT_APPROVAL_TIMEOUT_SECS: u64 = 1800;

/// Which steps of one diagnosis wait for a human.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApprovalPolicy {
    /// Every step waits (the cluster is marked `approval = "always"`).
    pub always: bool,
    /// `kubectl logs` in these namespaces waits (logs may carry personal data).
    pub sensitive_namespaces: Vec<String>,
    /// Reads of ConfigMaps wait.
    pub configmaps: bool,
    /// Steps an LLM proposed outside the rules' plan wait.
    pub llm_proposed: bool,
    /// How long a step waits before it is skipped, in seconds.
    pub timeout_secs: u64,
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        ApprovalPolicy {
            always: false,
            sensitive_namespaces: vec![],
            configmaps: false,
            llm_proposed: false,
            timeout_secs: DEFAULT_APPROVAL_TIMEOUT_SECS,
        }
    }
}

impl ApprovalPolicy {
    /// Why `step` needs a human, or `None` when it may run at once.
    pub fn requires(&self, step: &DiagnosticStep) -> Option<String> {
        let cmd = &step.command;
        if self.always {
            return Some(format!("every step on cluster {} needs approval (approval = \"always\")", cmd.cluster_id));
        }
        if self.llm_proposed && step.origin == StepOrigin::Llm {
            return Some("an LLM proposed this step outside the rules' plan".into());
        }
        if cmd.action == "logs"
            && let Some(ns) = cmd.namespace.as_deref().filter(|ns| self.sensitive_namespaces.iter().any(|s| s == ns))
        {
            return Some(format!("it reads logs in namespace {ns}, which is marked sensitive"));
        }
        let reads_configmap = cmd.args.first().and_then(|r| ResourceKind::lookup(r)).is_some_and(|k| k.kind == "ConfigMap");
        if self.configmaps && reads_configmap {
            return Some("it reads a ConfigMap, and ConfigMap reads need approval".into());
        }
        None
    }
}

/// Per-cluster approval mode (`[api.approval.clusters]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClusterApproval {
    /// The rules of `[api.approval]` decide.
    #[default]
    Policy,
    /// Every step waits for a human.
    Always,
}

/// The configured approval rules (`[api.approval]`), from which each diagnosis gets its policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApprovalConfig {
    /// Namespaces whose logs need approval.
    pub sensitive_namespaces: Vec<String>,
    /// Whether ConfigMap reads need approval.
    pub configmaps: bool,
    /// Whether steps an LLM proposed need approval.
    pub llm_proposed: bool,
    /// Seconds a step waits for a decision before it is skipped.
    pub timeout_secs: u64,
    /// Clusters by id: `always` makes every step wait.
    pub clusters: BTreeMap<String, ClusterApproval>,
    /// Environment variable holding the key that signs approve / reject links in Slack.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_secret_env: Option<String>,
    /// File holding that key (instead of `link_secret_env`, e.g. a mounted Secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_secret_file: Option<std::path::PathBuf>,
}

impl Default for ApprovalConfig {
    fn default() -> Self {
        ApprovalConfig {
            sensitive_namespaces: vec![],
            configmaps: false,
            llm_proposed: false,
            timeout_secs: DEFAULT_APPROVAL_TIMEOUT_SECS,
            clusters: BTreeMap::new(),
            link_secret_env: None,
            link_secret_file: None,
        }
    }
}

impl ApprovalConfig {
    /// The policy of a diagnosis on `cluster`.
    pub fn policy_for(&self, cluster: &str) -> ApprovalPolicy {
        ApprovalPolicy {
            always: self.clusters.get(cluster) == Some(&ClusterApproval::Always),
            sensitive_namespaces: self.sensitive_namespaces.clone(),
            configmaps: self.configmaps,
            llm_proposed: self.llm_proposed,
            timeout_secs: self.timeout_secs,
        }
    }
}

/// A step waiting for a human (the `pending_approval` query).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingApproval {
    /// Id of the waiting step (`step-<n>`, n counting the diagnosis's steps from 1): what an
    /// approval names.
    pub step_id: String,
    /// The kubectl line it would run.
    pub command: String,
    /// Why the step is worth running.
    pub purpose: String,
    /// Why it needs a human.
    pub reason: String,
    /// When it started waiting.
    pub since: DateTime<Utc>,
    /// When it is skipped if nobody decides.
    pub expires_at: DateTime<Utc>,
}

/// Input of the `approve` and `reject` updates. In the Temporal UI: Update, name `approve`
/// (or `reject`), input `{"step_id": "...", "by": "alice", "comment": "read-only, fine"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    /// The step decided on (from `pending_approval`).
    pub step_id: String,
    /// Who decides.
    pub by: String,
    /// Why.
    #[serde(default)]
    pub comment: String,
}

/// What became of a step that needed a human.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Approved: the step ran.
    Approved,
    /// Rejected: the step was skipped.
    Rejected,
    /// Nobody decided in time: skipped.
    TimedOut,
    /// The alert resolved while the step waited: skipped.
    AlertResolved,
    /// The diagnosis was cancelled while the step waited.
    Cancelled,
}

impl Verdict {
    /// Whether the step may run.
    pub fn runs(self) -> bool {
        self == Verdict::Approved
    }
}

/// One approval, as the status, the report and the audit trail show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    /// The step.
    pub step_id: String,
    /// Its kubectl line.
    pub command: String,
    /// Why it needed a human.
    pub reason: String,
    /// What became of it.
    pub verdict: Verdict,
    /// Who decided (none on timeout, resolution or cancellation).
    pub by: Option<String>,
    /// Their comment.
    pub comment: Option<String>,
    /// When it started waiting.
    pub requested_at: DateTime<Utc>,
    /// When it was decided.
    pub decided_at: DateTime<Utc>,
}

/// Answer of the `approve` and `reject` updates.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalAck {
    /// The step decided on.
    pub step_id: String,
    /// `approved` or `rejected`.
    pub verdict: Verdict,
    /// Who decided.
    pub by: String,
}

/// Input of the `alert_resolved` signal (`{}` is enough in the Temporal UI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct AlertResolved {
    /// When the alert stopped firing (Alertmanager's `endsAt`), if known.
    pub ends_at: Option<DateTime<Utc>>,
    /// Who says so (`alertmanager`, a person's name).
    pub source: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Command;

    fn step(line: &str, origin: StepOrigin) -> DiagnosticStep {
        let command = crate::kubectl::parse(line, "prod").expect("valid line");
        DiagnosticStep { purpose: "test".into(), command, origin }
    }

    #[test]
    fn the_default_policy_asks_for_nothing() {
        let p = ApprovalPolicy::default();
        for line in ["kubectl logs checkout-1 -n shop", "kubectl get configmap app -n shop", "kubectl get pods -n shop"] {
            assert_eq!(p.requires(&step(line, StepOrigin::Llm)), None, "{line}");
        }
    }

    #[test]
    fn each_rule_names_why() {
        let cfg = ApprovalConfig {
            sensitive_namespaces: vec!["payments".into()],
            configmaps: true,
            llm_proposed: true,
            clusters: BTreeMap::from([("prod".to_owned(), ClusterApproval::Always)]),
            ..Default::default()
        };
        let staging = cfg.policy_for("staging");
        let logs = step("kubectl logs api-1 -n payments", StepOrigin::Plan);
        assert!(staging.requires(&logs).unwrap().contains("payments"));
        assert_eq!(staging.requires(&step("kubectl logs api-1 -n shop", StepOrigin::Plan)), None);
        assert!(staging.requires(&step("kubectl get cm app -n shop", StepOrigin::Plan)).unwrap().contains("ConfigMap"));
        assert!(staging.requires(&step("kubectl get pods -n shop", StepOrigin::Llm)).unwrap().contains("LLM"));
        assert_eq!(staging.requires(&step("kubectl get pods -n shop", StepOrigin::Plan)), None);
        let prod = cfg.policy_for("prod");
        assert!(prod.requires(&step("kubectl get pods -n shop", StepOrigin::Plan)).unwrap().contains("always"));
        let _: &Command = &logs.command;
    }

    #[test]
    fn an_approval_from_the_temporal_ui_parses_and_unknown_fields_are_refused() {
        let r: ApprovalRequest = serde_json::from_str(r#"{"step_id":"s1","by":"alice"}"#).unwrap();
        assert_eq!((r.step_id.as_str(), r.by.as_str(), r.comment.as_str()), ("s1", "alice", ""));
        assert!(serde_json::from_str::<ApprovalRequest>(r#"{"step_id":"s1","by":"a","approve":true}"#).is_err());
        let _: AlertResolved = serde_json::from_str("{}").unwrap();
    }
}
