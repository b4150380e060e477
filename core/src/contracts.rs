//! Inputs and outputs of the diagnosis workflow and its activities. These types travel
//! through Temporal history, so changing their shape needs a replay-compatible plan.

use crate::{
    RootCause, StandardEvent, Target,
    approval::{ApprovalPolicy, ApprovalRecord, PendingApproval},
    command::Command,
};
use serde::{Deserialize, Serialize};

/// Input of `DiagnosisWorkflow`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosisRequest {
    /// The standardized alert.
    pub event: StandardEvent,
    /// Most steps the diagnosis may execute.
    pub max_steps: u32,
    /// Priority score (seed formula).
    pub priority: i64,
    /// Which steps wait for a human (default: none).
    #[serde(default)]
    pub approval: ApprovalPolicy,
    /// Workflow id of the diagnosis this one retries, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<String>,
}

impl DiagnosisRequest {
    /// Bound of the whole diagnosis: every activity's budget on the longest path (see
    /// [`budget`](crate::budget)), plus the longest every step could wait for a human when
    /// its policy asks for approvals.
    pub fn execution_timeout(&self) -> std::time::Duration {
        let a = &self.approval;
        let may_wait = a.always || a.configmaps || a.llm_proposed || !a.sensitive_namespaces.is_empty();
        let waits = if may_wait { u64::from(self.max_steps).saturating_mul(a.timeout_secs) } else { 0 };
        std::time::Duration::from_secs(crate::budget::execution_timeout_secs(self.max_steps, waits))
    }
}

/// Default step budget of one diagnosis.
pub const DEFAULT_MAX_STEPS: u32 = 12;

/// How an analysis was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// A knowledge-base entry matched with a high score.
    KnowledgeBased,
    /// An LLM produced it.
    AiGenerated,
    /// The rule analyzers produced it.
    #[default]
    RuleBased,
}

/// Output of `analyze` (the seed's `AnalysisResult`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AnalysisResult {
    /// One paragraph for a human.
    pub summary: String,
    /// Hypotheses worth checking, most likely first (taxonomy ids where known).
    pub possible_causes: Vec<String>,
    /// Steps worth running, in words.
    pub suggested_steps: Vec<String>,
    /// 0..1.
    pub confidence: f64,
    /// Object the alert points at, when its labels say.
    pub target: Option<Target>,
    /// How the analysis was reached.
    pub method: Method,
    /// LLM tokens spent (0 without an LLM).
    pub tokens_used: u32,
    /// Model used, if any.
    pub model: Option<String>,
    /// Knowledge entries the analysis used: `"<title>" (entry <id>, match <score>)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub knowledge: Vec<String>,
}

/// Who put a step in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StepOrigin {
    /// The rules (or a knowledge entry) planned it.
    #[default]
    Plan,
    /// An LLM proposed it.
    Llm,
}

/// One read-only step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagnosticStep {
    /// Why this step is worth running.
    pub purpose: String,
    /// What to run.
    pub command: Command,
    /// Who proposed it.
    #[serde(default)]
    pub origin: StepOrigin,
}

/// Output of `strategize` (the seed's `DiagnosticStrategy`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticStrategy {
    /// `knowledge_based`, `ai_generated` or `rule_based`.
    pub method: Method,
    /// Steps to run first.
    pub steps: Vec<DiagnosticStep>,
    /// Rough time the steps take, in seconds.
    pub estimated_secs: u64,
    /// 0..1.
    pub confidence: f64,
}

/// Outcome class of one step. 4xx answers are outcomes, not failures: a missing object
/// is evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// The read succeeded.
    Success,
    /// The object does not exist (404).
    NotFound,
    /// The identity may not read it (403 or RBAC pre-check).
    Forbidden,
    /// A safety layer refused the command; it never ran.
    Rejected,
    /// Any other error (400 from the API, e.g. a container that never started).
    Failed,
    /// It needed a human and did not run (rejected, timed out, alert resolved, cancelled).
    Skipped,
}

/// Output of `execute_step` (the seed's `StepResult`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    /// The command that ran.
    pub command: Command,
    /// Outcome class.
    pub status: StepStatus,
    /// Human-readable output, redacted and capped.
    pub output: String,
    /// Objects read, pruned of noise (managedFields, last-applied annotations) and with
    /// Secret data removed. Log lines arrive in `output`.
    pub objects: Vec<serde_json::Value>,
    /// Error text for non-success outcomes.
    pub error: Option<String>,
    /// True when output or objects were cut at the size cap.
    pub truncated: bool,
    /// Wall time of the call.
    pub duration_ms: u64,
    /// SHA-256 (hex) of the full output and objects, when they were cut for history and the
    /// whole is kept in PostgreSQL (`step_outputs`, by workflow and step id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_ref: Option<String>,
}

/// Largest step result carried in workflow history (output and objects together, about):
/// well under Temporal's 2 MB payload limit. The whole is kept in `step_outputs`.
pub const HISTORY_STEP_BYTES: usize = 256 * 1024;

/// Most bytes of one log an [`Observed`] step keeps (its tail: the analyzers read the last
/// matching lines).
pub const OBSERVED_LOG_BYTES: usize = 32 * 1024;

/// Most bytes of one ConfigMap value an [`Observed`] step keeps.
pub const OBSERVED_VALUE_BYTES: usize = 16 * 1024;

/// What `decide_next` needs of one step: its command, outcome and objects, a log's tail,
/// never the human-readable output again (patch `compact-decide`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    /// The command that ran.
    pub command: Command,
    /// Outcome class.
    pub status: StepStatus,
    /// Objects read (long ConfigMap values cut).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<serde_json::Value>,
    /// A log step's text: its last [`OBSERVED_LOG_BYTES`].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log: String,
    /// Error text for non-success outcomes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// True when the step or this observation of it was cut.
    #[serde(default)]
    pub truncated: bool,
}

/// The last `max` bytes of `text` from a line start, after a marker saying what was cut.
pub fn tail(text: &str, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text.to_owned(), false);
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let start = text[start..].find('\n').map(|i| start + i + 1).filter(|&i| i < text.len()).unwrap_or(start);
    (format!("[... first {start} bytes of {} cut ...]\n{}", text.len(), &text[start..]), true)
}

/// The first `max` bytes of `text`, then a marker saying what was cut.
pub fn head(text: &str, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text.to_owned(), false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (format!("{}\n[... output truncated at {max} bytes of {} ...]", &text[..end], text.len()), true)
}

impl StepResult {
    /// Whether this step read a log (its text is in `output`).
    pub fn is_log(&self) -> bool {
        self.command.action == "logs"
    }

    /// This result cut to about `max` bytes for history: a log keeps its tail, other text
    /// its head, objects as many whole ones as fit in the other half; `truncated` says so.
    pub fn capped(mut self, max: usize) -> StepResult {
        let objects_size: usize = self.objects.iter().map(|o| o.to_string().len()).sum();
        if self.output.len() + objects_size <= max {
            return self;
        }
        let half = max / 2;
        let text_room = if objects_size <= half { max - objects_size } else { half };
        let (output, cut_text) = if self.is_log() { tail(&self.output, text_room) } else { head(&self.output, text_room) };
        let object_room = max.saturating_sub(output.len());
        // An object is large for a few long strings (annotations, ConfigMap values,
        // certificates): cut those before giving up whole objects.
        if objects_size > object_room {
            let mut shrunk = false;
            for o in &mut self.objects {
                shrunk |= shrink_strings(o, LONG_STRING_BYTES);
            }
            self.truncated |= shrunk;
        }
        let total = self.objects.len();
        let mut size = 0;
        self.objects.retain(|o| {
            size += o.to_string().len();
            size <= object_room
        });
        self.output = output;
        self.truncated |= cut_text || self.objects.len() < total;
        self
    }
}

/// Longest string an object keeps when a step is capped for history.
const LONG_STRING_BYTES: usize = 4 * 1024;

/// Cuts every string in `v` longer than `max` bytes to its head and a marker; whether any was.
fn shrink_strings(v: &mut serde_json::Value, max: usize) -> bool {
    match v {
        serde_json::Value::String(t) if t.len() > max => {
            *t = head(t, max).0;
            true
        }
        serde_json::Value::Array(a) => a.iter_mut().fold(false, |cut, x| shrink_strings(x, max) | cut),
        serde_json::Value::Object(m) => m.values_mut().fold(false, |cut, x| shrink_strings(x, max) | cut),
        _ => false,
    }
}

impl From<&StepResult> for Observed {
    fn from(r: &StepResult) -> Self {
        let mut truncated = r.truncated;
        let log = if r.is_log() && r.status == StepStatus::Success {
            let (log, cut) = tail(&r.output, OBSERVED_LOG_BYTES);
            truncated |= cut;
            log
        } else {
            String::new()
        };
        let objects = r
            .objects
            .iter()
            .map(|o| {
                let mut o = o.clone();
                if o.get("kind").and_then(serde_json::Value::as_str) == Some("ConfigMap")
                    && let Some(data) = o.get_mut("data").and_then(serde_json::Value::as_object_mut)
                {
                    for v in data.values_mut() {
                        if let Some(text) = v.as_str().filter(|t| t.len() > OBSERVED_VALUE_BYTES) {
                            truncated = true;
                            *v = serde_json::Value::String(head(text, OBSERVED_VALUE_BYTES).0);
                        }
                    }
                }
                o.as_object_mut().map(|m| m.remove("binaryData"));
                o
            })
            .collect();
        Observed { command: r.command.clone(), status: r.status, objects, log, error: r.error.clone(), truncated }
    }
}

impl From<Observed> for StepResult {
    fn from(o: Observed) -> Self {
        StepResult {
            command: o.command,
            status: o.status,
            output: o.log,
            objects: o.objects,
            error: o.error,
            truncated: o.truncated,
            duration_ms: 0,
            output_ref: None,
        }
    }
}

/// Input of `decide_next`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecideInput {
    /// The alert.
    pub event: StandardEvent,
    /// The initial analysis.
    pub analysis: AnalysisResult,
    /// Every step result so far, in order (histories from before patch `compact-decide`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<StepResult>,
    /// Every step so far, in order, as the reasoning needs it (patch `compact-decide`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observations: Vec<Observed>,
    /// Steps already queued but not run.
    pub pending: Vec<DiagnosticStep>,
    /// How many more steps may run.
    pub steps_left: u32,
}

impl DecideInput {
    /// The steps so far in the reasoning's form, whichever shape this input has.
    pub fn steps(&self) -> std::borrow::Cow<'_, [StepResult]> {
        if self.observations.is_empty() {
            std::borrow::Cow::Borrowed(&self.results)
        } else {
            std::borrow::Cow::Owned(self.observations.iter().cloned().map(StepResult::from).collect())
        }
    }
}

/// What to do after a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Decision {
    /// Run the pending steps, plus these new ones first.
    Continue {
        /// Steps to run before the pending ones.
        add_steps: Vec<DiagnosticStep>,
        /// Why.
        reason: String,
    },
    /// Stop: the diagnosis is ready.
    Conclude {
        /// The result.
        diagnosis: Diagnosis,
    },
}

/// One piece of evidence: where it was seen and what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Object, event or log it comes from (`shop/Pod/checkout-1 status`, `logs shop/checkout-1/app (previous)`).
    pub source: String,
    /// What it shows.
    pub detail: String,
}

/// The conclusion of a diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// Taxonomy id.
    pub root_cause: RootCause,
    /// The object a human must change: `<namespace>/<Kind>/<name>` or `<Kind>/<name>`.
    pub resource: Option<String>,
    /// One or two sentences a human reads first.
    pub summary: String,
    /// What supports it.
    pub evidence: Vec<Evidence>,
    /// What to do.
    pub recommendations: Vec<String>,
    /// 0..1.
    pub confidence: f64,
}

/// Input of `report`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportInput {
    /// Workflow id of the diagnosis.
    pub workflow_id: String,
    /// The alert.
    pub event: StandardEvent,
    /// The initial analysis.
    pub analysis: AnalysisResult,
    /// Commands that ran, with their outcome.
    pub steps: Vec<StepSummary>,
    /// The conclusion.
    pub diagnosis: Diagnosis,
    /// Steps that needed a human, and what became of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<ApprovalRecord>,
    /// How the diagnosis ended (concluded, alert resolved, cancelled).
    #[serde(default)]
    pub ending: Ending,
    /// Things the reader must know about how the diagnosis ran (a resolved alert, skipped steps).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Workflow id of the diagnosis this one retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<String>,
    /// When the diagnosis started (workflow time; absent in histories from before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When the diagnosis ended, just before its report (workflow time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<chrono::DateTime<chrono::Utc>>,
    /// What every LLM call of the diagnosis spent, per model. The workflow leaves it empty;
    /// the report activity fills it from the usage ledger (`llm_usage_task_model`), which
    /// counts `analyze` and every `decide_next`, retries included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub llm_usage: Vec<ModelSpend>,
}

/// One model's share of a diagnosis' LLM use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ModelSpend {
    /// The model as the API named it in its answers (often a dated snapshot).
    pub model: String,
    /// Answers received.
    pub requests: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Total tokens.
    pub total_tokens: u64,
    /// USD, from `[llm.prices]`; absent when no price is configured for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

/// How a diagnosis ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ending {
    /// It reached its conclusion.
    #[default]
    Concluded,
    /// The alert resolved while it ran.
    AlertResolved {
        /// When the resolution arrived (workflow time).
        at: chrono::DateTime<chrono::Utc>,
        /// Who said so.
        source: String,
    },
    /// Someone cancelled it.
    Cancelled {
        /// The reason given, if any.
        reason: Option<String>,
    },
    /// An activity failed for good (a non-retryable failure, or its retries spent): the
    /// diagnosis stopped there, and its workflow ends failed after this report.
    Failed {
        /// Where it stopped (the phase, and the step's command when a step failed).
        stage: String,
        /// The failure, as Temporal reported it.
        error: String,
    },
}

/// A step as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepSummary {
    /// kubectl-equivalent line.
    pub command: String,
    /// Outcome class.
    pub status: StepStatus,
    /// Wall time.
    pub duration_ms: u64,
    /// SHA-256 (hex) of the output and objects, for the audit trail (absent in old histories).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_digest: Option<String>,
    /// Why it failed or did not run (a safety layer's refusal, a rejected approval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The earliest symptom the step's objects show (the report's timeline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_symptom: Option<crate::symptom::Symptom>,
}

impl From<&StepResult> for StepSummary {
    fn from(r: &StepResult) -> Self {
        StepSummary {
            command: r.command.to_string(),
            status: r.status,
            duration_ms: r.duration_ms,
            output_digest: Some(r.output_ref.clone().unwrap_or_else(|| output_digest(&r.output, &r.objects))),
            error: r.error.clone(),
            first_symptom: crate::symptom::first_symptom(&r.objects),
        }
    }
}

/// Output of `report`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReport {
    /// Primary key of the stored report.
    pub report_id: String,
}

/// Result of `DiagnosisWorkflow`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosisOutcome {
    /// Stored report id.
    pub report_id: String,
    /// The conclusion.
    pub diagnosis: Diagnosis,
    /// Steps executed.
    pub steps_executed: u32,
}

/// Where a diagnosis stands (the `status` query).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Not started yet.
    #[default]
    Pending,
    /// Running `analyze` / `strategize`.
    Analyzing,
    /// Running steps.
    Investigating,
    /// A step waits for a human.
    AwaitingApproval,
    /// Writing the report.
    Reporting,
    /// Done.
    Completed,
    /// Cancelled (a report is still written).
    Cancelled,
    /// An activity failed for good (a report is still written, then the workflow fails).
    Failed,
}

/// Answer of the `status` query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct DiagnosisStatus {
    /// Phase.
    pub phase: Phase,
    /// Steps run so far.
    pub steps_executed: u32,
    /// Steps queued.
    pub steps_pending: u32,
    /// The step running now or last run (kubectl line).
    pub current_step: Option<String>,
    /// Root cause, once concluded.
    pub root_cause: Option<RootCause>,
    /// Summary, once concluded.
    pub summary: Option<String>,
    /// Hypotheses of the first analysis, most likely first.
    #[serde(default)]
    pub possible_causes: Vec<String>,
    /// Steps queued (kubectl lines), next first.
    #[serde(default)]
    pub plan: Vec<String>,
    /// Steps done, with their outcome.
    #[serde(default)]
    pub steps: Vec<StepSummary>,
    /// Why the last decision continued (the leading hypothesis, if any).
    #[serde(default)]
    pub last_reason: Option<String>,
    /// The step waiting for a human, if any.
    #[serde(default)]
    pub pending_approval: Option<PendingApproval>,
    /// Approvals decided so far.
    #[serde(default)]
    pub approvals: Vec<ApprovalRecord>,
    /// Set when the alert resolved while the diagnosis ran.
    #[serde(default)]
    pub resolved: Option<crate::approval::AlertResolved>,
}

/// Input of `strategize`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategizeInput {
    /// The alert.
    pub event: StandardEvent,
    /// The initial analysis.
    pub analysis: AnalysisResult,
}

/// SHA-256 (hex) of a step's output and objects: what `StepSummary::output_digest` and
/// `step_outputs.sha256` hold.
pub fn output_digest(output: &str, objects: &[serde_json::Value]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(output.as_bytes());
    for o in objects {
        h.update(b"\n");
        h.update(o.to_string().as_bytes());
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod bounded_tests {
    use super::*;
    use serde_json::json;

    fn result(command: Command, output: String, objects: Vec<serde_json::Value>) -> StepResult {
        StepResult { command, status: StepStatus::Success, output, objects, error: None, truncated: false, duration_ms: 1, output_ref: None }
    }

    #[test]
    fn a_capped_log_keeps_its_tail_and_says_so() {
        let log: String = (0..100_000).map(|i| format!("line {i}\n")).collect::<String>() + "FATAL: DATABASE_URL is not set\n";
        let r = result(Command::logs("c", "ns", "p", "app", true, 1000), log.clone(), vec![]).capped(HISTORY_STEP_BYTES);
        assert!(r.truncated && r.output.len() <= HISTORY_STEP_BYTES + 100, "{}", r.output.len());
        assert!(r.output.starts_with("[... first ") && r.output.ends_with("FATAL: DATABASE_URL is not set\n"));
        // Whole lines after the marker.
        assert!(r.output.lines().nth(1).unwrap().starts_with("line "));
    }

    #[test]
    fn capped_objects_lose_long_strings_first_and_text_keeps_its_head() {
        let big = json!({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "x".repeat(200_000)}});
        let objects = vec![big.clone(), big.clone(), big];
        let r = result(Command::list("c", Some("ns"), "configmaps", None), "ConfigMap ns/a\n".repeat(30_000), objects).capped(HISTORY_STEP_BYTES);
        assert!(r.truncated);
        assert_eq!(r.objects.len(), 3, "long strings are cut before whole objects are dropped");
        assert!(r.objects[0]["data"]["k"].as_str().unwrap().starts_with("xxxx") && r.objects[0]["data"]["k"].as_str().unwrap().contains("[... output truncated at 4096 bytes of 200000"));
        let many: Vec<_> = (0..2000).map(|i| json!({"kind": "Pod", "metadata": {"name": format!("p-{i}"), "labels": {"a": "b".repeat(100)}}})).collect();
        let r2 = result(Command::list("c", Some("ns"), "pods", None), String::new(), many).capped(HISTORY_STEP_BYTES);
        assert!(r2.truncated && r2.objects.len() < 2000 && r2.objects[0]["metadata"]["name"] == "p-0", "many small objects: the first ones stay");
        assert!(r.output.starts_with("ConfigMap ns/a") && r.output.contains("[... output truncated at"));
        let size = r.output.len() + r.objects.iter().map(|o| o.to_string().len()).sum::<usize>();
        assert!(size <= HISTORY_STEP_BYTES + 100, "{size}");
        let small = result(Command::list("c", Some("ns"), "pods", None), "ok".into(), vec![json!({"kind": "Pod"})]);
        assert_eq!(small.clone().capped(HISTORY_STEP_BYTES), small, "under the cap nothing changes");
    }

    #[test]
    fn observed_drops_the_text_of_reads_and_long_config_values_but_keeps_keys() {
        let cm = json!({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"big": "y".repeat(100_000), "small": "v"}, "binaryData": {"b": "AAAA"}});
        let o = Observed::from(&result(Command::get("c", Some("ns"), "configmaps", "a"), "ConfigMap ns/a ...".into(), vec![cm]));
        assert!(o.log.is_empty() && o.truncated);
        assert_eq!(o.objects[0]["data"]["small"], "v");
        assert!(o.objects[0]["data"]["big"].as_str().unwrap().len() < OBSERVED_VALUE_BYTES + 100);
        assert!(o.objects[0].get("binaryData").is_none());
        let log = "x\n".repeat(50_000) + "panic: boom\n";
        let o = Observed::from(&result(Command::logs("c", "ns", "p", "app", false, 1000), log, vec![]));
        assert!(o.log.ends_with("panic: boom\n") && o.log.len() <= OBSERVED_LOG_BYTES + 100 && o.truncated);
        // Back to the reasoning's form: the log is its output again.
        assert!(StepResult::from(o).output.ends_with("panic: boom\n"));
    }

    #[test]
    fn an_observed_step_reads_back_as_its_result() {
        let r = result(Command::logs("c", "ns", "p", "app", false, 10), "err\n".into(), vec![]);
        let as_step = StepResult::from(Observed::from(&r));
        assert_eq!((as_step.command, as_step.output, as_step.status), (r.command.clone(), r.output.clone(), r.status));
    }
}
