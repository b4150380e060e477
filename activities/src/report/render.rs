//! Markdown rendering of a report.

use crate::redact::redact;
use aetherius_core::{Ending, ReportInput};
use std::fmt::Write;

/// The report a human reads first: root cause, evidence, what to do, what was run.
pub fn markdown(r: &ReportInput) -> String {
    let d = &r.diagnosis;
    let mut md = String::new();
    let _ = writeln!(md, "# {} on {}\n", r.event.alertname(), r.event.cluster_id);
    match &r.ending {
        Ending::Concluded => {}
        Ending::AlertResolved { at, source } => {
            let _ = writeln!(md, "> **The alert resolved** at {at}{} while the diagnosis ran.\n", if source.is_empty() { String::new() } else { format!(" ({source})") });
        }
        Ending::Cancelled { reason } => {
            let _ = writeln!(md, "> **Cancelled**{} before the diagnosis concluded.\n", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default());
        }
    }
    let _ = writeln!(md, "**Root cause:** `{}` ({})  ", d.root_cause, d.root_cause.meaning());
    if let Some(res) = &d.resource {
        let _ = writeln!(md, "**Fix in:** `{res}`  ");
    }
    let _ = writeln!(md, "**Confidence:** {:.0}%\n", d.confidence * 100.0);
    let _ = writeln!(md, "{}\n", d.summary);
    if !d.evidence.is_empty() {
        let _ = writeln!(md, "## Evidence");
        for e in &d.evidence {
            let _ = writeln!(md, "- **{}**: {}", e.source, e.detail);
        }
        md.push('\n');
    }
    if !d.recommendations.is_empty() {
        let _ = writeln!(md, "## What to do");
        for rec in &d.recommendations {
            let _ = writeln!(md, "- {rec}");
        }
        md.push('\n');
    }
    if !r.notes.is_empty() {
        let _ = writeln!(md, "## Notes");
        for n in &r.notes {
            let _ = writeln!(md, "- {n}");
        }
        md.push('\n');
    }
    let _ = writeln!(md, "## Steps run ({}), all read-only", r.steps.len());
    for s in &r.steps {
        let _ = writeln!(md, "- `{}`: {:?} ({} ms)", s.command, s.status, s.duration_ms);
    }
    if !r.approvals.is_empty() {
        let _ = writeln!(md, "\n## Approvals");
        for a in &r.approvals {
            let who = a.by.as_deref().map(|b| format!(" by {b}")).unwrap_or_default();
            let why = a.comment.as_deref().map(|c| format!(" (\"{c}\")")).unwrap_or_default();
            let _ = writeln!(
                md,
                "- `{}`: {:?}{who}{why} at {}; asked at {} because {}",
                a.command, a.verdict, a.decided_at, a.requested_at, a.reason
            );
        }
    }
    if let Some(old) = &r.retry_of {
        let _ = writeln!(md, "\n_Retry of diagnosis {old}_");
    }
    let _ = writeln!(md, "\n_Diagnosis {} · analysis: {:?}_", r.workflow_id, r.analysis.method);
    redact(&md)
}
