//! The audit trail (`audit_logs`, migration 0006): one row per command attempted, decision,
//! approval and notification. Append-only in the database (a trigger); rows are keyed by
//! `<workflow>/<kind>/<seq>` so an activity's retries never write one twice.

use aetherius_core::{ReportInput, StepStatus, approval::Verdict};
use serde::Serialize;

/// One row of `audit_logs`, before it is written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Diagnosis the row belongs to.
    pub workflow_id: String,
    /// `command`, `decision`, `approval` or `notification`.
    pub kind: &'static str,
    /// Who or what acted: `aetherius`, a person, `notify:<channel>`.
    pub actor: String,
    /// Cluster.
    pub cluster_id: String,
    /// Namespace, if any.
    pub namespace: Option<String>,
    /// kubectl-equivalent line.
    pub command: Option<String>,
    /// `allowed`, `rejected` (a safety layer), `not_run` (approval), `approved`, a root cause, `sent`, `failed`...
    pub decision: Option<String>,
    /// SHA-256 (hex) of a command's output.
    pub result_digest: Option<String>,
    /// The person who approved or rejected.
    pub approver: Option<String>,
    /// Anything else worth keeping.
    pub detail: serde_json::Value,
    /// Unique per row: `<workflow>/<kind>/<seq>`.
    pub dedup_key: String,
}

fn snake<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The rows a finished diagnosis leaves: every step (run, refused or skipped), every
/// approval, and the conclusion.
pub fn entries(r: &ReportInput) -> Vec<AuditEntry> {
    let e = &r.event;
    let row = |kind: &'static str, seq: usize| AuditEntry {
        workflow_id: r.workflow_id.clone(),
        kind,
        actor: "aetherius".into(),
        cluster_id: e.cluster_id.clone(),
        namespace: e.namespace.clone(),
        command: None,
        decision: None,
        result_digest: None,
        approver: None,
        detail: serde_json::json!({}),
        dedup_key: format!("{}/{kind}/{seq}", r.workflow_id),
    };
    let mut out = vec![];
    for (i, s) in r.steps.iter().enumerate() {
        let n = i + 1;
        let approval = r.approvals.iter().find(|a| a.step_id == format!("step-{n}"));
        let decision = match s.status {
            StepStatus::Rejected => "rejected",
            StepStatus::Skipped => "not_run",
            _ => "allowed",
        };
        out.push(AuditEntry {
            command: Some(s.command.clone()),
            decision: Some(decision.into()),
            result_digest: s.output_digest.clone().filter(|_| decision == "allowed"),
            approver: approval.filter(|a| a.verdict == Verdict::Approved).and_then(|a| a.by.clone()),
            detail: serde_json::json!({"step": n, "status": s.status, "duration_ms": s.duration_ms, "error": s.error}),
            ..row("command", n)
        });
    }
    for (i, a) in r.approvals.iter().enumerate() {
        out.push(AuditEntry {
            actor: a.by.clone().unwrap_or_else(|| "aetherius".into()),
            command: Some(a.command.clone()),
            decision: Some(snake(&a.verdict)),
            approver: a.by.clone(),
            detail: serde_json::json!({"step_id": a.step_id, "reason": a.reason, "comment": a.comment,
                                       "requested_at": a.requested_at, "decided_at": a.decided_at}),
            ..row("approval", i + 1)
        });
    }
    let d = &r.diagnosis;
    out.push(AuditEntry {
        decision: Some(d.root_cause.as_str().into()),
        detail: serde_json::json!({"resource": d.resource, "confidence": d.confidence, "ending": r.ending,
                                   "steps": r.steps.len(), "analysis": r.analysis.method}),
        ..row("decision", 1)
    });
    out
}

impl AuditEntry {
    /// A notification's row (for the notification activities): `channel` (`slack`,
    /// `webhook`, `email`), `outcome` (`sent`, `failed`, `suppressed`), keyed per channel
    /// so a retried activity writes it once.
    pub fn notification(r: &ReportInput, channel: &str, outcome: &str, detail: serde_json::Value) -> AuditEntry {
        AuditEntry {
            workflow_id: r.workflow_id.clone(),
            kind: "notification",
            actor: format!("notify:{channel}"),
            cluster_id: r.event.cluster_id.clone(),
            namespace: r.event.namespace.clone(),
            command: None,
            decision: Some(outcome.to_owned()),
            result_digest: None,
            approver: None,
            detail,
            dedup_key: format!("{}/notification/{channel}", r.workflow_id),
        }
    }
}

/// Writes `entry` unless a row with its key exists.
pub async fn record(conn: &mut sqlx::PgConnection, entry: &AuditEntry) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_logs (workflow_id, kind, actor, cluster_id, namespace, command, decision, result_digest, approver, detail, dedup_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (dedup_key) DO NOTHING",
    )
    .bind(&entry.workflow_id)
    .bind(entry.kind)
    .bind(&entry.actor)
    .bind(&entry.cluster_id)
    .bind(&entry.namespace)
    .bind(&entry.command)
    .bind(&entry.decision)
    .bind(&entry.result_digest)
    .bind(&entry.approver)
    .bind(&entry.detail)
    .bind(&entry.dedup_key)
    .execute(conn)
    .await?;
    Ok(())
}

/// Retention: deletes rows older than `days` (the database refuses fewer than 7) and
/// returns how many went.
pub async fn prune(pool: &sqlx::PgPool, days: u32) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT aetherius_audit_prune($1)").bind(i32::try_from(days).unwrap_or(i32::MAX)).fetch_one(pool).await
}
