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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// A knowledge-base entry matched with a high score.
    KnowledgeBased,
    /// An LLM produced it.
    AiGenerated,
    /// The rule analyzers produced it.
    RuleBased,
}

/// Output of `analyze` (the seed's `AnalysisResult`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

/// Input of `decide_next`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecideInput {
    /// The alert.
    pub event: StandardEvent,
    /// The initial analysis.
    pub analysis: AnalysisResult,
    /// Every step result so far, in order.
    pub results: Vec<StepResult>,
    /// Steps already queued but not run.
    pub pending: Vec<DiagnosticStep>,
    /// How many more steps may run.
    pub steps_left: u32,
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
}

impl From<&StepResult> for StepSummary {
    fn from(r: &StepResult) -> Self {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(r.output.as_bytes());
        for o in &r.objects {
            h.update(b"\n");
            h.update(o.to_string().as_bytes());
        }
        StepSummary {
            command: r.command.to_string(),
            status: r.status,
            duration_ms: r.duration_ms,
            output_digest: Some(hex::encode(h.finalize())),
            error: r.error.clone(),
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
