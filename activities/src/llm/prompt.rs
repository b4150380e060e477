//! What the LLM is told: a system message (role, rules, the taxonomy) and one user message
//! that is a JSON document of the context (the alert, the rules' hypotheses and findings,
//! the steps read so far), redacted again and capped at `max_prompt_bytes`: each step's
//! output gets an equal share, and the oldest steps are dropped when even that is too much.

use crate::{reasoning::analyzers::Finding, redact::redact};
use aetherius_core::{DiagnosticStep, RootCause, StandardEvent, StepResult};
use serde_json::{Value, json};
use std::fmt::Write;

/// What a call is about.
pub struct Context<'a> {
    /// The alert.
    pub event: &'a StandardEvent,
    /// The rules' first hypotheses (taxonomy ids).
    pub hypotheses: &'a [String],
    /// The rule analyzers' findings, most confident first.
    pub findings: &'a [Finding],
    /// Steps read so far, in order (already redacted and capped by the execution pool).
    pub results: &'a [StepResult],
    /// Steps queued but not run.
    pub pending: &'a [DiagnosticStep],
}

/// Smallest share of one step's output worth sending.
const MIN_STEP_BYTES: usize = 400;
/// Most findings sent.
const MAX_FINDINGS: usize = 5;

fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [cut, {} bytes in all]", &text[..end], text.len())
}

/// The system message: role, rules of the answer, the taxonomy.
pub fn system(task: &str) -> String {
    let mut s = String::from(
        "You are Aetherius, a Kubernetes SRE assistant. You diagnose alerts from what the cluster shows. \
         You never change a cluster: you may only propose read-only kubectl commands \
         (get, describe, logs, events, top, rollout history), one read per line, no shell, no pipes. \
         Base every claim on the context given; when it does not support a cause, answer \"unknown\". \
         Answer with one JSON object that follows the schema, nothing else.\n",
    );
    let _ = writeln!(s, "Task: {task}");
    s.push_str("Root-cause ids (use exactly one):\n");
    for c in RootCause::ALL {
        let _ = writeln!(s, "- {}: {}", c.as_str(), c.meaning());
    }
    s
}

fn step_json(r: &StepResult, share: usize) -> Value {
    let objects = if r.objects.is_empty() { String::new() } else { serde_json::to_string(&r.objects).unwrap_or_default() };
    let half = share / 2;
    json!({
        "command": r.command.to_string(),
        "status": r.status,
        "error": r.error.as_deref().map(|e| cut(&redact(e), 300)),
        "output": cut(&redact(&r.output), if objects.is_empty() { share } else { half }),
        "objects": cut(&redact(&objects), if r.output.is_empty() { share } else { half }),
        "truncated": r.truncated,
    })
}

/// The user message: the context as JSON, at most `max_bytes` (about).
pub fn user(ctx: &Context<'_>, instruction: &str, max_bytes: usize) -> String {
    let e = ctx.event;
    let alert = json!({
        "alertname": e.alertname(),
        "cluster": e.cluster_id,
        "namespace": e.namespace,
        "severity": e.severity,
        "status": e.status,
        "starts_at": e.timestamp,
        "labels": e.labels.iter().map(|(k, v)| (k.clone(), Value::String(cut(&redact(v), 200)))).collect::<serde_json::Map<_, _>>(),
        "annotations": e.annotations.iter().map(|(k, v)| (k.clone(), Value::String(cut(&redact(v), 1000)))).collect::<serde_json::Map<_, _>>(),
    });
    let findings: Vec<Value> = ctx
        .findings
        .iter()
        .take(MAX_FINDINGS)
        .map(|f| {
            json!({
                "root_cause": f.root_cause.as_str(),
                "resource": f.resource,
                "confidence": f.confidence,
                "summary": cut(&redact(&f.summary), 500),
                "evidence": f.evidence.iter().take(5).map(|ev| format!("{}: {}", ev.source, cut(&redact(&ev.detail), 300))).collect::<Vec<_>>(),
            })
        })
        .collect();
    let pending: Vec<String> = ctx.pending.iter().take(10).map(|p| p.command.to_string()).collect();
    let mut doc = json!({
        "instruction": instruction,
        "alert": alert,
        "rule_hypotheses": ctx.hypotheses,
        "rule_findings": findings,
        "pending_commands": pending,
        "steps": [],
        "steps_omitted": 0,
    });
    let base = doc.to_string().len();
    let room = max_bytes.saturating_sub(base);
    // Newest steps matter most: keep as many of the latest as fit at MIN_STEP_BYTES each.
    let n = ctx.results.len();
    let keep = n.min((room / MIN_STEP_BYTES).max(1)).min(n);
    let skipped = n - keep;
    let share = room.checked_div(keep).map_or(0, |s| s.saturating_sub(200).max(MIN_STEP_BYTES / 2));
    doc["steps"] = Value::Array(ctx.results[skipped..].iter().map(|r| step_json(r, share)).collect());
    doc["steps_omitted"] = json!(skipped);
    doc.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aetherius_core::{AlertStatus, Command, EventType, StepStatus};
    use std::collections::BTreeMap;

    fn event() -> StandardEvent {
        StandardEvent {
            id: "t".into(),
            event_type: EventType::Alert,
            source: "test".into(),
            timestamp: chrono::Utc::now(),
            cluster_id: "c".into(),
            namespace: Some("shop".into()),
            severity: "warning".into(),
            labels: BTreeMap::from([("alertname".into(), "KubePodCrashLooping".into())]),
            annotations: BTreeMap::from([("description".into(), "password=hunter2 in the logs".into())]),
            fingerprint: "f".into(),
            status: AlertStatus::Firing,
        }
    }

    fn result(i: usize, bytes: usize) -> StepResult {
        StepResult {
            command: Command::get("c", Some("shop"), "pods", &format!("p{i}")),
            status: StepStatus::Success,
            output: "x".repeat(bytes),
            objects: vec![],
            error: None,
            truncated: false,
            duration_ms: 1,
            output_ref: None,
        }
    }

    #[test]
    fn the_prompt_is_capped_valid_json_and_redacted() {
        let results: Vec<StepResult> = (0..40).map(|i| result(i, 20_000)).collect();
        let ctx = Context { event: &event(), hypotheses: &[], findings: &[], results: &results, pending: &[] };
        let text = user(&ctx, "diagnose", 8_000);
        assert!(text.len() < 10_000, "{}", text.len());
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(v["steps_omitted"].as_u64().unwrap() > 0);
        assert_eq!(v["steps"].as_array().unwrap().last().unwrap()["command"], "kubectl get pods p39 -n shop");
        assert!(!text.contains("hunter2"));
    }

    #[test]
    fn the_system_prompt_lists_every_taxonomy_id() {
        let s = system("analysis");
        assert!(RootCause::ALL.iter().all(|c| s.contains(c.as_str())));
    }
}
