//! What each channel sends: Slack Block Kit, the generic webhook's JSON, the email's text.
//! Every piece of alert or diagnosis text is redacted first, then escaped for its format.

use crate::redact::redact;
use aetherius_core::ReportInput;
use serde_json::{Value, json};

/// Links a message carries.
#[derive(Debug, Clone)]
pub struct Links {
    /// `GET /reports/{id}` under the public base URL (none when it is not configured).
    pub report: Option<String>,
    /// The diagnosis in the Temporal UI.
    pub temporal: String,
}

/// Evidence lines a message quotes at most.
const TOP_EVIDENCE: usize = 3;

/// Escapes text for Slack mrkdwn: `&`, `<`, `>` become entities (so `<!channel>`, user
/// mentions and links stay text), and a zero-width space goes before `*`, `~`, `` ` `` and
/// `|`, so they neither open formatting nor split a link. `_` stays (identifiers such as
/// `DATABASE_URL` are common; at worst a word turns italic).
pub fn mrkdwn_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '*' | '~' | '`' | '|' => {
                out.push('\u{200B}');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Redacted, escaped and cut to `max` characters (Slack limits a text block to 3000).
fn text(s: &str, max: usize) -> String {
    let r = redact(s);
    let cut: String = if r.chars().count() > max { r.chars().take(max).chain("…".chars()).collect() } else { r };
    mrkdwn_escape(&cut)
}

/// Redacted plain text for headers (Slack `plain_text` is not parsed; still bounded).
fn plain(s: &str, max: usize) -> String {
    let r = redact(s);
    if r.chars().count() > max { r.chars().take(max.saturating_sub(1)).chain("…".chars()).collect() } else { r }
}

fn headline(r: &ReportInput) -> String {
    let e = &r.event;
    let place = match &e.namespace {
        Some(ns) => format!("{}/{ns}", e.cluster_id),
        None => e.cluster_id.clone(),
    };
    format!("[{}] {} on {place}: {}", e.severity, e.alertname(), r.diagnosis.root_cause.as_str())
}

/// The Slack incoming-webhook body: Block Kit with the root cause, the resource, the top
/// evidence and links to the report and the Temporal UI; `text` is the notification's
/// fallback line.
pub fn slack(r: &ReportInput, links: &Links) -> Value {
    let d = &r.diagnosis;
    let mut fields = format!(
        "*Root cause:* `{}`\n{}\n*Resource:* {}\n*Confidence:* {:.0}%",
        mrkdwn_escape(d.root_cause.as_str()),
        text(&d.summary, 1500),
        d.resource.as_deref().map(|x| text(x, 200)).unwrap_or_else(|| "_not identified_".into()),
        d.confidence * 100.0
    );
    if !r.notes.is_empty() {
        fields.push_str(&format!("\n*Note:* {}", text(&r.notes.join(" "), 400)));
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": plain(&headline(r), 150), "emoji": false}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": fields}}),
    ];
    let evidence: Vec<String> = d
        .evidence
        .iter()
        .take(TOP_EVIDENCE)
        .map(|e| format!("• *{}*: {}", text(&e.source, 100), text(&e.detail, 600)))
        .collect();
    if !evidence.is_empty() {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*Evidence*\n{}", evidence.join("\n"))}}));
    }
    let mut buttons = vec![];
    if let Some(url) = &links.report {
        buttons.push(json!({"type": "button", "text": {"type": "plain_text", "text": "Report"}, "url": url, "style": "primary"}));
    }
    buttons.push(json!({"type": "button", "text": {"type": "plain_text", "text": "Temporal UI"}, "url": links.temporal}));
    blocks.push(json!({"type": "actions", "elements": buttons}));
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Diagnosis `{}` · fingerprint `{}`", mrkdwn_escape(&r.workflow_id), mrkdwn_escape(&r.event.fingerprint))}]}));
    json!({"text": text(&headline(r), 300), "blocks": blocks})
}

/// Links of an approval request: where the approve and reject pages are (none without a
/// link key or a public URL), and the diagnosis in the Temporal UI.
#[derive(Debug, Clone)]
pub struct ApprovalLinks {
    /// `GET /approvals/{token}` pages: (approve, reject).
    pub decide: Option<(String, String)>,
    /// The diagnosis in the Temporal UI.
    pub temporal: String,
}

/// The Slack message of a step that waits for a person: the command, why it waits, until
/// when, and approve / reject link buttons (each opens a page that asks who decides; the
/// link alone changes nothing).
pub fn approval_slack(n: &aetherius_core::notify::ApprovalNotice, links: &ApprovalLinks) -> Value {
    let e = &n.event;
    let p = &n.pending;
    let place = match &e.namespace {
        Some(ns) => format!("{}/{ns}", e.cluster_id),
        None => e.cluster_id.clone(),
    };
    let head = format!("Approval needed: {} on {place}", e.alertname());
    let fields = format!(
        "*Step {}* wants to run:\n`{}`\n*Why it waits:* {}\n*Purpose:* {}\n*Expires:* {} (skipped if nobody decides)",
        text(&p.step_id, 40),
        text(&p.command, 500),
        text(&p.reason, 400),
        text(&p.purpose, 400),
        p.expires_at.format("%Y-%m-%d %H:%M:%S UTC"),
    );
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": plain(&head, 150), "emoji": false}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": fields}}),
    ];
    let mut buttons = vec![];
    match &links.decide {
        Some((approve, reject)) => {
            buttons.push(json!({"type": "button", "text": {"type": "plain_text", "text": "Approve…"}, "url": approve, "style": "primary", "action_id": "approve"}));
            buttons.push(json!({"type": "button", "text": {"type": "plain_text", "text": "Reject…"}, "url": reject, "style": "danger", "action_id": "reject"}));
        }
        None => blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "No approve / reject links (no link key or public URL is configured): decide with `POST /tasks/{}/approve` or `/reject`, or the `approve` / `reject` update in the Temporal UI.",
            text(&n.workflow_id, 300)
        )}})),
    }
    buttons.push(json!({"type": "button", "text": {"type": "plain_text", "text": "Temporal UI"}, "url": links.temporal, "action_id": "temporal"}));
    blocks.push(json!({"type": "actions", "elements": buttons}));
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Diagnosis `{}` · fingerprint `{}`", mrkdwn_escape(&n.workflow_id), mrkdwn_escape(&e.fingerprint))}]}));
    json!({"text": text(&format!("{head}: {}", p.command), 300), "blocks": blocks})
}

/// The generic webhook's JSON body (redacted).
pub fn webhook(r: &ReportInput, report_id: &str, links: &Links) -> Value {
    let e = &r.event;
    let d = &r.diagnosis;
    let mut v = json!({
        "type": "diagnosis.completed",
        "workflow_id": r.workflow_id,
        "report_id": report_id,
        "report_url": links.report,
        "temporal_url": links.temporal,
        "alert": {
            "name": e.alertname(), "severity": e.severity, "cluster": e.cluster_id,
            "namespace": e.namespace, "fingerprint": e.fingerprint, "starts_at": e.timestamp,
        },
        "diagnosis": {
            "root_cause": d.root_cause.as_str(), "resource": d.resource, "summary": d.summary,
            "confidence": d.confidence, "evidence": d.evidence.iter().take(TOP_EVIDENCE).collect::<Vec<_>>(),
            "recommendations": d.recommendations,
        },
        "ending": r.ending,
        "notes": r.notes,
    });
    crate::redact::redact_value(&mut v);
    v
}

/// The email's subject and plain-text body: the Markdown report with the links first.
pub fn email(r: &ReportInput, markdown: &str, links: &Links) -> (String, String) {
    let subject = plain(&format!("Aetherius: {}", headline(r)).replace(['\r', '\n'], " "), 200);
    let mut body = String::new();
    if let Some(url) = &links.report {
        body.push_str(&format!("Report: {url}\n"));
    }
    body.push_str(&format!("Temporal UI: {}\n\n", links.temporal));
    body.push_str(&redact(markdown));
    (subject, body)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aetherius_core::{AnalysisResult, Diagnosis, Evidence, RootCause, StandardEvent};

    pub(crate) fn report() -> ReportInput {
        let alert: aetherius_core::AlertmanagerAlert = serde_json::from_value(json!({
            "status": "firing",
            "labels": {"alertname": "KubePodCrashLooping", "severity": "critical", "cluster": "prod", "namespace": "shop"},
            "annotations": {"description": "<!channel> *pay* now"},
            "startsAt": "2026-01-01T00:00:00Z",
        }))
        .unwrap();
        ReportInput {
            started_at: None,
            ended_at: None,
            llm_usage: vec![],
            workflow_id: "diag-prod-1".into(),
            event: StandardEvent::from_alertmanager(&alert, "prod"),
            analysis: AnalysisResult::default(),
            steps: vec![],
            diagnosis: Diagnosis {
                root_cause: RootCause::CrashloopMissingConfig,
                resource: Some("shop/Deployment/checkout".into()),
                summary: "<!channel> checkout *crashes* | <https://evil.example|click> & more_stuff ~x~ `y`".into(),
                evidence: vec![
                    Evidence { source: "pod/checkout".into(), detail: "DATABASE_URL=postgres://app:hunter2@db/shop missing <@U123>".into() },
                    Evidence { source: "log".into(), detail: "password=s3cr3t-value".into() },
                ],
                recommendations: vec!["kubectl -n shop set env deploy/checkout DATABASE_URL=...".into()],
                confidence: 0.9,
            },
            approvals: vec![],
            ending: Default::default(),
            notes: vec![],
            retry_of: None,
        }
    }

    fn links() -> Links {
        Links { report: Some("https://aetherius.example.com/reports/r1".into()), temporal: "http://ui/namespaces/ns/workflows/diag-prod-1".into() }
    }

    #[test]
    fn mrkdwn_control_characters_are_escaped() {
        let e = mrkdwn_escape("<!channel> *b* ~s~ `c` a|b & <https://x|y>");
        assert!(!e.contains('<') && !e.contains('>'), "{e}");
        assert!(e.starts_with("&lt;!channel&gt;"), "{e}");
        assert!(e.contains("&amp;"), "{e}");
        for c in ['*', '~', '`', '|'] {
            for (i, _) in e.match_indices(c) {
                assert!(e[..i].ends_with('\u{200B}'), "{c} at {i} unguarded in {e}");
            }
        }
        // Entities are produced once: an ampersand in the input is not left raw.
        assert_eq!(mrkdwn_escape("a&lt;b"), "a&amp;lt;b");
    }

    #[test]
    fn slack_blocks_carry_cause_resource_evidence_and_links_and_no_raw_control_text_or_secret() {
        let v = slack(&report(), &links());
        let all = v.to_string();
        assert!(all.contains("crashloop-missing-config") && all.contains("shop/Deployment/checkout"), "{all}");
        assert!(all.contains("https://aetherius.example.com/reports/r1") && all.contains("http://ui/namespaces/ns/workflows/diag-prod-1"), "{all}");
        assert!(!all.contains("<!channel>") && !all.contains("<@U123>") && !all.contains("<https://evil"), "{all}");
        assert!(!all.contains("hunter2") && !all.contains("s3cr3t-value"), "secret in {all}");
        let blocks = v["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "header");
        let evidence = blocks.iter().find(|b| b["text"]["text"].as_str().is_some_and(|t| t.starts_with("*Evidence*"))).expect("evidence block");
        assert!(evidence["text"]["text"].as_str().unwrap().contains("DATABASE_URL"), "{evidence}");
        let actions = blocks.iter().find(|b| b["type"] == "actions").unwrap();
        assert_eq!(actions["elements"].as_array().unwrap().len(), 2);
        // The fallback text is mrkdwn too.
        assert!(!v["text"].as_str().unwrap().contains('<'));
    }

    #[test]
    fn webhook_and_email_are_redacted() {
        let r = report();
        let v = webhook(&r, "r1", &links());
        let all = v.to_string();
        assert_eq!(v["diagnosis"]["root_cause"], "crashloop-missing-config");
        assert_eq!(v["alert"]["fingerprint"], r.event.fingerprint);
        assert!(!all.contains("hunter2") && !all.contains("s3cr3t-value"), "{all}");
        let (subject, body) = email(&r, "# Report\npassword=s3cr3t-value\n", &links());
        assert!(subject.contains("KubePodCrashLooping") && !subject.contains('\n'), "{subject}");
        assert!(body.starts_with("Report: https://aetherius.example.com/reports/r1\n"), "{body}");
        assert!(!body.contains("s3cr3t-value"), "{body}");
    }
}
