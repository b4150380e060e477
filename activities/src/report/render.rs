//! Rendering of a report: one view model ([`ReportView`]) from a [`ReportInput`], shown as
//! Markdown and self-contained HTML (minijinja templates embedded in the binary) or JSON.
//!
//! Every string is redacted before it reaches a template, and again in the output. HTML
//! templates auto-escape; Markdown templates escape every value with [`md_escape`] (a
//! custom auto-escape mode), commands go through the `code` filter.

use crate::redact::redact;
use aetherius_core::{Ending, ModelSpend, ReportInput, approval::Verdict};
use chrono::{DateTime, Utc};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, Value, escape_formatter};
use serde::Serialize;
use std::{collections::BTreeMap, fmt::Write, str::FromStr, sync::LazyLock};

/// A format a report is rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// CommonMark / GitHub Markdown.
    Markdown,
    /// One HTML page, inline CSS, no scripts or external assets.
    Html,
    /// The view model as JSON ([`ReportView`]).
    Json,
}

impl Format {
    /// Media type of the format.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
            Format::Json => "application/json",
        }
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "markdown" | "md" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            "json" => Ok(Format::Json),
            other => Err(format!("unknown report format {other:?} (markdown, html, json)")),
        }
    }
}

/// Version tag of [`ReportView`]'s JSON.
pub const SCHEMA: &str = "aetherius.report/v1";

/// What a report shows, in the order a reader needs it.
#[derive(Debug, Clone, Serialize)]
pub struct ReportView {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// Workflow id of the diagnosis.
    pub workflow_id: String,
    /// `<alertname> on <cluster>`.
    pub title: String,
    /// The alert.
    pub alert: AlertView,
    /// `concluded`, `alert_resolved` or `cancelled`.
    pub ending: &'static str,
    /// A sentence about a diagnosis that did not simply conclude.
    pub ending_note: Option<String>,
    /// Taxonomy id and its meaning.
    pub root_cause: RootCauseView,
    /// 0..1.
    pub confidence: f64,
    /// Confidence in whole percent.
    pub confidence_pct: u32,
    /// The object a human must change.
    pub resource: Option<String>,
    /// One or two sentences.
    pub summary: String,
    /// Quoted evidence with its source.
    pub evidence: Vec<EvidenceView>,
    /// What happened when, oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// Steps in the order they ran (or were skipped).
    pub steps: Vec<StepView>,
    /// Actions for a human; Aetherius never runs them.
    pub recommendations: Vec<String>,
    /// How the diagnosis ran (resolved alert, skipped steps).
    pub notes: Vec<String>,
    /// The first analysis.
    pub analysis: AnalysisView,
    /// Knowledge entries the diagnosis used (ids or titles; empty when none are recorded).
    pub knowledge: Vec<String>,
    /// Model, tokens, cost.
    pub llm: LlmView,
    /// Workflow id this diagnosis retries.
    pub retry_of: Option<String>,
}

/// The alert as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    /// `alertname` label.
    pub name: String,
    /// Cluster id.
    pub cluster: String,
    /// Namespace, if any.
    pub namespace: Option<String>,
    /// Severity.
    pub severity: String,
    /// Source (`alertmanager`, ...).
    pub source: String,
    /// When it started firing.
    pub started_at: DateTime<Utc>,
    /// Fingerprint.
    pub fingerprint: String,
    /// Labels as received (escaped and redacted when shown).
    pub labels: BTreeMap<String, String>,
    /// Annotations as received.
    pub annotations: BTreeMap<String, String>,
}

/// Root cause id and its plain sentence.
#[derive(Debug, Clone, Serialize)]
pub struct RootCauseView {
    /// Taxonomy id.
    pub id: String,
    /// What it means.
    pub meaning: String,
}

/// One quoted piece of evidence.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceView {
    /// Object, event or log it comes from.
    pub source: String,
    /// What it says.
    pub quote: String,
}

/// One moment of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// What happened.
    pub what: String,
}

/// A step as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    /// 1-based position (approvals name steps `step-<n>`).
    pub n: usize,
    /// kubectl-equivalent line.
    pub command: String,
    /// Outcome class (`success`, `not_found`, `rejected`, `skipped`, ...).
    pub outcome: String,
    /// Wall time.
    pub duration_ms: u64,
    /// The human decision this step waited for, if any.
    pub approval: Option<ApprovalView>,
}

/// A human decision on a step.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalView {
    /// `approved`, `rejected`, `timed_out`, ...
    pub verdict: String,
    /// The same in words (`timed out`, `dropped: the alert resolved`).
    pub verdict_text: &'static str,
    /// Who decided.
    pub by: Option<String>,
    /// Their comment.
    pub comment: Option<String>,
    /// Why the step needed approval.
    pub reason: String,
    /// When it was asked.
    pub requested_at: DateTime<Utc>,
    /// When it was decided.
    pub decided_at: DateTime<Utc>,
}

/// The first analysis.
#[derive(Debug, Clone, Serialize)]
pub struct AnalysisView {
    /// `rule_based`, `knowledge_based` or `ai_generated`.
    pub method: String,
    /// Its summary.
    pub summary: String,
    /// Hypotheses, most likely first.
    pub possible_causes: Vec<String>,
}

/// LLM use of the whole diagnosis (`analyze` and every `decide_next`).
#[derive(Debug, Clone, Serialize)]
pub struct LlmView {
    /// Models used, most tokens first, comma-separated; none without an LLM.
    pub model: Option<String>,
    /// Tokens spent (0 without an LLM).
    pub tokens: u64,
    /// Cost in USD, when every model used has a price in `[llm.prices]`.
    pub cost_usd: Option<f64>,
    /// Each model's share.
    pub models: Vec<ModelSpend>,
    /// The above in one sentence, for people.
    pub text: String,
}

impl LlmView {
    fn new(r: &ReportInput) -> LlmView {
        if r.llm_usage.is_empty() {
            // No LLM, or a report from before the ledger was read: only the first analysis'
            // figures are known.
            let text = match &r.analysis.model {
                None => "none (no tokens, no cost)".to_owned(),
                Some(m) => format!("{m}, {} tokens in the first analysis (later calls and cost not recorded)", r.analysis.tokens_used),
            };
            return LlmView { model: r.analysis.model.clone(), tokens: r.analysis.tokens_used.into(), cost_usd: None, models: vec![], text };
        }
        let tokens = r.llm_usage.iter().map(|m| m.total_tokens).sum();
        let cost_usd = r.llm_usage.iter().map(|m| m.cost_usd).sum::<Option<f64>>();
        let mut parts: Vec<String> = r
            .llm_usage
            .iter()
            .map(|m| {
                let calls = if m.requests == 1 { "1 call".to_owned() } else { format!("{} calls", m.requests) };
                let cost = m.cost_usd.map_or_else(|| "cost unknown (no price in [llm.prices])".to_owned(), usd);
                format!("{}: {calls}, {} tokens ({} prompt, {} completion), {cost}", m.model, m.total_tokens, m.prompt_tokens, m.completion_tokens)
            })
            .collect();
        if r.llm_usage.len() > 1 {
            parts.push(format!("in all {tokens} tokens, {}", cost_usd.map_or_else(|| "cost unknown".to_owned(), usd)));
        }
        LlmView {
            model: Some(r.llm_usage.iter().map(|m| m.model.as_str()).collect::<Vec<_>>().join(", ")),
            tokens,
            cost_usd,
            models: r.llm_usage.clone(),
            text: parts.join("; "),
        }
    }
}

/// `0.000552 USD`: six decimals, since one diagnosis often costs a fraction of a cent;
/// less than that is said so, not printed as zero.
fn usd(v: f64) -> String {
    if v > 0.0 && v < 0.000_000_5 { "under 0.000001 USD".to_owned() } else { format!("{v:.6} USD") }
}

fn snake<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

impl ReportView {
    /// The view of `r`, not yet redacted (see [`render`]).
    pub fn new(r: &ReportInput) -> ReportView {
        let d = &r.diagnosis;
        let e = &r.event;
        let (ending, ending_note) = match &r.ending {
            Ending::Concluded => ("concluded", None),
            Ending::AlertResolved { at, source } => (
                "alert_resolved",
                Some(format!(
                    "The alert resolved at {at}{} while the diagnosis ran.",
                    if source.is_empty() { String::new() } else { format!(" ({source})") }
                )),
            ),
            Ending::Cancelled { reason } => (
                "cancelled",
                Some(format!("Cancelled{} before the diagnosis concluded.", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())),
            ),
            Ending::Failed { stage, error } => (
                "failed",
                Some(format!("The diagnosis stopped while {stage}: it failed for good ({error}). Nothing after that ran.")),
            ),
        };
        let approval_of = |n: usize| {
            r.approvals.iter().find(|a| a.step_id == format!("step-{n}")).map(|a| ApprovalView {
                verdict: snake(&a.verdict),
                verdict_text: verdict_words(a.verdict),
                by: a.by.clone(),
                comment: a.comment.clone(),
                reason: a.reason.clone(),
                requested_at: a.requested_at,
                decided_at: a.decided_at,
            })
        };
        let steps = r
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| StepView {
                n: i + 1,
                command: s.command.clone(),
                outcome: snake(&s.status),
                duration_ms: s.duration_ms,
                approval: approval_of(i + 1),
            })
            .collect();

        let mut timeline = vec![TimelineEntry { at: e.timestamp, what: format!("{} started firing ({})", e.alertname(), e.severity) }];
        if let Some(first) = r.steps.iter().filter_map(|s| s.first_symptom.as_ref()).min_by_key(|s| s.at) {
            timeline.push(TimelineEntry { at: first.at, what: format!("First symptom: {}", first.what) });
        }
        if let Some(at) = r.started_at {
            timeline.push(TimelineEntry { at, what: "Diagnosis started".into() });
        }
        for a in &r.approvals {
            timeline.push(TimelineEntry { at: a.requested_at, what: format!("{} waited for approval: {}", a.step_id, a.reason) });
            let who = a.by.as_deref().map(|b| format!(" by {b}")).unwrap_or_default();
            let verdict = verdict_words(a.verdict);
            timeline.push(TimelineEntry { at: a.decided_at, what: format!("{} {verdict}{who}", a.step_id) });
        }
        if let Ending::AlertResolved { at, .. } = &r.ending {
            timeline.push(TimelineEntry { at: *at, what: "Alert resolved".into() });
        }
        if let Some(at) = r.ended_at {
            timeline.push(TimelineEntry { at, what: format!("Diagnosis ended: {}", d.root_cause) });
        }
        timeline.sort_by_key(|t| t.at);

        ReportView {
            schema: SCHEMA,
            workflow_id: r.workflow_id.clone(),
            title: format!("{} on {}", e.alertname(), e.cluster_id),
            alert: AlertView {
                name: e.alertname().to_owned(),
                cluster: e.cluster_id.clone(),
                namespace: e.namespace.clone(),
                severity: e.severity.clone(),
                source: e.source.clone(),
                started_at: e.timestamp,
                fingerprint: e.fingerprint.clone(),
                labels: e.labels.clone(),
                annotations: e.annotations.clone(),
            },
            ending,
            ending_note,
            root_cause: RootCauseView { id: d.root_cause.as_str().to_owned(), meaning: d.root_cause.meaning().to_owned() },
            confidence: d.confidence,
            confidence_pct: (d.confidence.clamp(0.0, 1.0) * 100.0).round() as u32,
            resource: d.resource.clone(),
            summary: d.summary.clone(),
            evidence: d.evidence.iter().map(|e| EvidenceView { source: e.source.clone(), quote: e.detail.clone() }).collect(),
            timeline,
            steps,
            recommendations: d.recommendations.clone(),
            notes: r.notes.clone(),
            analysis: AnalysisView {
                method: snake(&r.analysis.method),
                summary: r.analysis.summary.clone(),
                possible_causes: r.analysis.possible_causes.clone(),
            },
            knowledge: r.analysis.knowledge.clone(),
            llm: LlmView::new(r),
            retry_of: r.retry_of.clone(),
        }
    }
}

/// Redacts every string (keys included) of a JSON value.
fn redact_strings(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        J::String(s) => J::String(redact(&s)),
        J::Array(a) => J::Array(a.into_iter().map(redact_strings).collect()),
        J::Object(o) => J::Object(o.into_iter().map(|(k, v)| (redact(&k), redact_strings(v))).collect()),
        other => other,
    }
}

const MARKDOWN: AutoEscape = AutoEscape::Custom("markdown");

/// Escapes text for inline Markdown: CommonMark's backslash escapes for every character
/// that could start markup, HTML or a table cell; line breaks become spaces.
pub fn md_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for (i, c) in text.chars().enumerate() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~' | '&' | '!' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '-' | '+' | '=' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An inline code span holding `text` verbatim, however many backticks it contains.
fn code_span(text: &str) -> String {
    let text: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') || text.is_empty() { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else if name.ends_with(".md") {
            MARKDOWN
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(|out, state, value| {
        if value.is_none() || value.is_undefined() {
            return Ok(());
        }
        if state.auto_escape() == MARKDOWN {
            let text = value.to_string();
            let text = if value.is_safe() { text } else { md_escape(&text) };
            return out.write_str(&text).map_err(|e| Error::new(ErrorKind::WriteFailure, e.to_string()));
        }
        escape_formatter(out, state, value)
    });
    env.add_filter("code", |s: String| Value::from_safe_string(code_span(&s)));
    env.add_filter("time", |s: String| s.replace('T', " ").trim_end_matches('Z').to_owned() + " UTC");
    env.add_filter("duration", |ms: u64| if ms < 1000 { format!("{ms} ms") } else { format!("{:.1} s", ms as f64 / 1000.0) });
    env.add_template("report.md", include_str!("templates/report.md")).expect("report.md compiles");
    env.add_template("report.html", include_str!("templates/report.html")).expect("report.html compiles");
    env
});

/// A verdict as a reader says it.
fn verdict_words(v: Verdict) -> &'static str {
    match v {
        Verdict::Approved => "approved",
        Verdict::Rejected => "rejected",
        Verdict::TimedOut => "timed out",
        Verdict::AlertResolved => "dropped: the alert resolved",
        Verdict::Cancelled => "dropped: the diagnosis was cancelled",
    }
}

/// Renders `r` in `format`: the seam for anything that shows a report (API, notifications).
/// Secrets are masked in every format.
pub fn render(r: &ReportInput, format: Format) -> String {
    let view = serde_json::to_value(ReportView::new(r)).unwrap_or(serde_json::Value::Null);
    let view = redact_strings(view);
    let out = match format {
        // Every string is redacted already; a second pass over JSON text could break it.
        Format::Json => return serde_json::to_string_pretty(&view).unwrap_or_default(),
        Format::Markdown | Format::Html => {
            let name = if format == Format::Html { "report.html" } else { "report.md" };
            let tmpl = ENV.get_template(name).expect("embedded template");
            match tmpl.render(Value::from_serialize(&view)) {
                // `[REDACTED]` is plain text in Markdown: no need to show it escaped.
                Ok(s) if format == Format::Markdown => s.replace(r"\[REDACTED\]", "[REDACTED]"),
                Ok(s) => s,
                Err(e) => {
                    // The templates are tested; this only guards against a panic in production.
                    let mut s = String::new();
                    let _ = write!(s, "report rendering failed: {e}");
                    s
                }
            }
        }
    };
    redact(&out)
}

/// The Markdown report (stored with the report, shown by `GET /reports/{id}`).
pub fn markdown(r: &ReportInput) -> String {
    render(r, Format::Markdown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A report whose alert, evidence and steps carry markup and secrets.
    pub(crate) fn hostile() -> ReportInput {
        serde_json::from_value(json!({
            "workflow_id": "diag-1",
            "event": {
                "id": "diag-1", "type": "alert", "source": "alertmanager",
                "timestamp": "2026-12-01T10:00:00Z", "cluster_id": "prod|eu", "namespace": "shop",
                "severity": "critical",
                "labels": {"alertname": "KubePodCrashLooping", "pod": "<script>alert(1)</script>", "team": "*ops* | `sre`"},
                "annotations": {"summary": "see [here](javascript:alert(1)) <!channel> # not a heading", "runbook": "token: ghp_abcdefghijklmnopqrstuvwxyz0123456789"},
                "fingerprint": "abc123", "status": "firing"
            },
            "analysis": {"summary": "crash loop", "possible_causes": ["crashloop-missing-config"], "suggested_steps": [], "confidence": 0.6,
                         "target": null, "method": "rule_based", "tokens_used": 0, "model": null},
            "steps": [
                {"command": "kubectl logs -n shop checkout-1 --previous", "status": "success", "duration_ms": 42},
                {"command": "kubectl get configmap -n shop `evil`", "status": "skipped", "duration_ms": 0}
            ],
            "diagnosis": {
                "root_cause": "crashloop-missing-config", "resource": "shop/Deployment/checkout",
                "summary": "checkout exits: DATABASE_URL is not set <b>now</b>",
                "evidence": [
                    {"source": "logs shop/checkout-1/app (previous)", "detail": "FATAL: DATABASE_URL missing | password=hunter2 <img src=x onerror=alert(1)>"},
                    {"source": "shop/Pod/checkout-1 status", "detail": "Authorization: Bearer abcdefghijklmnop1234"}
                ],
                "recommendations": ["kubectl -n shop set env deployment/checkout DATABASE_URL=postgres://app:s3cretpw@db:5432/app"],
                "confidence": 0.9
            },
            "approvals": [{"step_id": "step-2", "command": "kubectl get configmap -n shop `evil`", "reason": "configmaps need approval",
                           "verdict": "rejected", "by": "alice<script>", "comment": "no *way*",
                           "requested_at": "2026-12-01T10:01:00Z", "decided_at": "2026-12-01T10:01:30Z"}],
            "notes": ["1 step(s) that needed approval did not run; see Approvals."],
            "started_at": "2026-12-01T10:00:30Z",
            "ended_at": "2026-12-01T10:02:00Z"
        }))
        .expect("fixture")
    }

    const SECRETS: &[&str] = &["hunter2", "abcdefghijklmnop1234", "s3cretpw", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"];

    #[test]
    fn no_secret_in_any_format() {
        let r = hostile();
        for f in [Format::Markdown, Format::Html, Format::Json] {
            let out = render(&r, f);
            for s in SECRETS {
                assert!(!out.contains(s), "{f:?} leaks {s}:\n{out}");
            }
            assert!(out.contains("[REDACTED]"), "{f:?} shows that something was masked");
        }
    }

    #[test]
    fn html_escapes_markup_and_is_self_contained() {
        let html = render(&hostile(), Format::Html);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "{html}");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"), "{html}");
        assert!(html.contains("alice&lt;script&gt;"), "{html}");
        // No external assets, no scripts: nothing is fetched when the page opens.
        for tag in ["src=\"", "href=", "<link", "@import", "url("] {
            assert!(!html.contains(tag), "{tag} in {html}");
        }
        assert!(html.contains("name=\"viewport\""));
        assert!(html.contains("<code>crashloop-missing-config</code>"));
        assert!(html.contains(RootCauseMeaning::CRASHLOOP_MISSING_CONFIG));
    }

    struct RootCauseMeaning;
    impl RootCauseMeaning {
        const CRASHLOOP_MISSING_CONFIG: &'static str = "fails at start: missing or invalid env var, config file, flag or command";
    }

    #[test]
    fn markdown_escapes_markup() {
        let md = render(&hostile(), Format::Markdown);
        // No `<` reaches a Markdown renderer as HTML: every one is backslash-escaped.
        let bare = md.match_indices('<').filter(|(i, _)| !md[..*i].ends_with('\\')).count();
        assert_eq!(bare, 0, "{md}");
        assert!(md.contains(r"\<script\>alert(1)\</script\>") || md.contains("`<script>alert(1)</script>`"), "{md}");
        assert!(md.contains(r"\<img src=x onerror=alert(1)\>"), "{md}");
        assert!(md.contains(r"DATABASE\_URL missing \|"), "{md}");
        assert!(md.contains(r"see \[here\](javascript:alert(1)) \<\!channel\> \# not a heading"), "{md}");
        assert!(md.contains(r"alice\<script\>"), "{md}");
        assert!(md.contains(r#"("no \*way\*")"#), "{md}");
        // Backticks in a label are escaped; a command holding backticks stays one code span.
        assert!(md.contains(r"= \*ops\* \| \`sre\`"), "{md}");
        assert!(md.contains("`` kubectl get configmap -n shop `evil` ``"), "{md}");
        assert!(md.contains("prod\\|eu"), "{md}");
    }

    #[test]
    fn every_section_is_there() {
        let r = hostile();
        let json: serde_json::Value = serde_json::from_str(&render(&r, Format::Json)).expect("valid JSON");
        assert_eq!(json["schema"], SCHEMA);
        assert_eq!(json["root_cause"]["id"], "crashloop-missing-config");
        assert_eq!(json["root_cause"]["meaning"], RootCauseMeaning::CRASHLOOP_MISSING_CONFIG);
        assert_eq!(json["confidence_pct"], 90);
        assert_eq!(json["resource"], "shop/Deployment/checkout");
        assert_eq!(json["evidence"][0]["source"], "logs shop/checkout-1/app (previous)");
        let whats: Vec<&str> = json["timeline"].as_array().unwrap().iter().map(|t| t["what"].as_str().unwrap()).collect();
        assert_eq!(
            whats,
            [
                "KubePodCrashLooping started firing (critical)",
                "Diagnosis started",
                "step-2 waited for approval: configmaps need approval",
                "step-2 rejected by alice<script>",
                "Diagnosis ended: crashloop-missing-config"
            ]
        );
        assert_eq!(json["steps"][1]["approval"]["verdict"], "rejected");
        assert_eq!(json["steps"][0]["approval"], serde_json::Value::Null);
        assert_eq!(json["llm"]["tokens"], 0);
        assert_eq!(json["alert"]["labels"]["pod"], "<script>alert(1)</script>", "JSON carries data, escaped by its encoding");

        let md = render(&r, Format::Markdown);
        for want in [
            "# KubePodCrashLooping on prod\\|eu",
            "**Root cause:** `crashloop-missing-config`",
            "**Confidence:** 90%",
            "## Evidence",
            "## Timeline",
            "- 2026-12-01 10:00:30 UTC: Diagnosis started",
            "Aetherius never runs these",
            "1. `kubectl logs -n shop checkout-1 --previous`: success (42 ms)",
            "needed approval because configmaps need approval: rejected by alice",
            "none (no tokens, no cost)",
        ] {
            assert!(md.contains(want), "{want:?} missing from\n{md}");
        }
    }

    #[test]
    fn the_llm_line_states_every_model_and_its_cost() {
        let mut r = hostile();
        let spend = |model: &str, requests, prompt, completion, cost_usd| ModelSpend {
            model: model.into(),
            requests,
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
            cost_usd,
        };
        r.llm_usage = vec![spend("gpt-4o-2024-08-06", 2, 3000, 400, Some(0.0115)), spend("local*model", 1, 900, 100, None)];
        let json: serde_json::Value = serde_json::from_str(&render(&r, Format::Json)).unwrap();
        assert_eq!(json["llm"]["tokens"], 4400);
        assert_eq!(json["llm"]["cost_usd"], serde_json::Value::Null, "one model has no price, so the total is unknown");
        assert_eq!(json["llm"]["models"][0]["cost_usd"], 0.0115);
        let md = render(&r, Format::Markdown);
        for want in [
            "gpt-4o-2024-08-06: 2 calls, 3400 tokens (3000 prompt, 400 completion), 0.011500 USD",
            "local\\*model: 1 call, 1000 tokens (900 prompt, 100 completion), cost unknown (no price in \\[llm.prices\\])",
            "in all 4400 tokens, cost unknown",
        ] {
            assert!(md.contains(want), "{want:?} missing from\n{md}");
        }
        r.llm_usage[1].cost_usd = Some(0.0000001);
        assert!(render(&r, Format::Markdown).contains("1000 tokens (900 prompt, 100 completion), under 0.000001 USD"));
        r.llm_usage[1].cost_usd = Some(0.0);
        let html = render(&r, Format::Html);
        assert!(html.contains("in all 4400 tokens, 0.011500 USD"), "{html}");

        r.llm_usage.clear();
        r.analysis.model = Some("gpt-4o-mini".into());
        r.analysis.tokens_used = 812;
        assert!(render(&r, Format::Markdown).contains("gpt-4o-mini, 812 tokens in the first analysis (later calls and cost not recorded)"));
    }

    #[test]
    fn old_inputs_without_times_render() {
        let mut r = hostile();
        r.started_at = None;
        r.ended_at = None;
        r.approvals.clear();
        let json: serde_json::Value = serde_json::from_str(&render(&r, Format::Json)).unwrap();
        assert_eq!(json["timeline"].as_array().unwrap().len(), 1);
        assert!(render(&r, Format::Html).contains("started firing"));
    }

    #[test]
    fn md_escape_and_code_spans() {
        assert_eq!(md_escape("- a\nb"), r"\- a b");
        assert_eq!(md_escape("a_b*c"), r"a\_b\*c");
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("`x`"), "`` `x` ``");
    }
}
