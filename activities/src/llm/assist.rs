//! How the reasoning activities use the LLM. The rules always answer first; the LLM's
//! answer is merged in only when it is valid and the rules support its root cause, and any
//! [`LlmError`](super::LlmError) leaves the rules' answer as it was.
//!
//! - [`analyze`]: the LLM may refine the summary, put its (supported) root cause first and
//!   propose read-only commands; accepted ones become kubectl lines in `suggested_steps`,
//!   rejected ones are recorded there with their rejection.
//! - [`extend_plan`]: `strategize` adds the accepted lines of an AI-generated analysis
//!   (checked again) to the rules' first steps.
//! - [`decide`]: when the rules are not confident, the LLM proposes further reads, or
//!   refines a conclusion whose root cause a rule finding supports.

use super::{Llm, Proposal, prompt::Context};
use crate::reasoning::{
    analyzers::{self, Finding},
    observations::Observations,
};
use aetherius_core::{
    AnalysisResult, DecideInput, Decision, Diagnosis, DiagnosticStep, DiagnosticStrategy, Evidence, Method, RootCause, StandardEvent,
    StepOrigin, StrategizeInput,
};
use std::collections::HashSet;

/// The LLM's own confidence is capped at this in an analysis: it has read nothing yet.
const MAX_LLM_CONFIDENCE: f64 = 0.8;
/// Below this best-finding confidence the rules count as not confident.
pub const UNSURE: f64 = 0.6;
/// Most steps the LLM adds to a plan or a decision.
const MAX_LLM_STEPS: usize = 4;
/// What an accepted proposal looks like in `suggested_steps` (kubectl lines start so).
const KUBECTL: &str = "kubectl ";

/// Whether the rules support `cause`: a finding names it, or the alert's hypotheses do, or
/// the rules have no opinion at all. `unknown` never counts.
pub fn supported(cause: RootCause, hypotheses: &[String], findings: &[Finding]) -> bool {
    if cause == RootCause::Unknown {
        return false;
    }
    findings.iter().any(|f| f.root_cause == cause)
        || hypotheses.iter().any(|h| h == cause.as_str())
        || (hypotheses.is_empty() && findings.is_empty())
}

fn rejected_line(p: &Proposal) -> Option<String> {
    match p {
        Proposal::Rejected { line, rejection } => Some(format!("not run, {rejection}: {line}")),
        Proposal::Accepted { .. } => None,
    }
}

/// `analyze` with the LLM: `rules` is the rules' analysis of the alert.
pub async fn analyze(llm: &Llm, task: &str, event: &StandardEvent, rules: AnalysisResult) -> AnalysisResult {
    let obs = Observations::new(&[]);
    let findings = analyzers::analyze(event, &obs, &crate::reasoning::scope::scope(event, &obs));
    let ctx = Context { event, hypotheses: &rules.possible_causes, findings: &findings, results: &[], pending: &[] };
    let answer = llm.analyze(task, &ctx).await;
    merge_analysis(task, rules, &findings, answer)
}

/// The rules' analysis with the LLM's answer merged in, when it is valid and supported;
/// the rules' analysis unchanged after any error.
pub fn merge_analysis(task: &str, rules: AnalysisResult, findings: &[Finding], answer: Result<super::LlmAnalysis, super::LlmError>) -> AnalysisResult {
    let answered = match answer {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(task, error = %e, kind = e.kind(), "LLM analysis failed; the rules' analysis stands");
            return rules;
        }
    };
    let a = &answered.answer;
    let mut out = rules.clone();
    out.tokens_used = u32::try_from(answered.usage.total_tokens).unwrap_or(u32::MAX);
    out.model = Some(answered.model.clone());
    if !supported(a.root_cause, &rules.possible_causes, findings) {
        tracing::info!(task, root_cause = %a.root_cause, hypotheses = ?rules.possible_causes, "LLM root cause not supported by the rules; the rules' analysis stands");
        return out;
    }
    out.method = Method::AiGenerated;
    let mut summary = if a.summary.is_empty() { rules.summary.clone() } else { a.summary.clone() };
    if !a.evidence.is_empty() {
        let ev: Vec<String> = a.evidence.iter().map(|e| format!("{}: {}", e.source, e.detail)).collect();
        summary = format!("{summary} Evidence: {}.", ev.join("; "));
    }
    out.summary = summary;
    out.possible_causes = std::iter::once(a.root_cause.as_str().to_owned())
        .chain(rules.possible_causes.iter().filter(|c| *c != a.root_cause.as_str()).cloned())
        .collect();
    out.confidence = rules.confidence.max(a.confidence.min(MAX_LLM_CONFIDENCE));
    for p in &answered.proposals {
        match p.command() {
            Some(cmd) => out.suggested_steps.push(cmd.to_string()),
            None => out.suggested_steps.extend(rejected_line(p)),
        }
    }
    out
}

/// `strategize` with the LLM: the accepted commands of an AI-generated analysis, checked
/// again, after the rules' first steps.
pub fn extend_plan(llm: &Llm, input: &StrategizeInput, mut strategy: DiagnosticStrategy) -> DiagnosticStrategy {
    if input.analysis.method != Method::AiGenerated {
        return strategy;
    }
    let mut known: HashSet<String> = strategy.steps.iter().map(|s| s.command.key()).collect();
    let mut added = 0;
    for line in input.analysis.suggested_steps.iter().filter(|l| l.starts_with(KUBECTL)) {
        if added == MAX_LLM_STEPS {
            break;
        }
        if let Proposal::Accepted { command, .. } = llm.check_command(line, &input.event.cluster_id)
            && known.insert(command.key())
        {
            let model = input.analysis.model.as_deref().unwrap_or("the LLM");
            strategy.steps.push(DiagnosticStep { purpose: format!("Proposed by {model}"), command, origin: StepOrigin::Llm });
            added += 1;
        }
    }
    if added > 0 {
        strategy.method = Method::AiGenerated;
        strategy.estimated_secs = strategy.steps.len() as u64;
    }
    strategy
}

/// `decide_next` with the LLM: `rules` is the rules' decision. Consulted only while the
/// rules are not confident and steps are left.
pub async fn decide(llm: &Llm, task: &str, input: &DecideInput, rules: Decision) -> Decision {
    if !llm.options().consult_on_decide || input.steps_left == 0 {
        return rules;
    }
    let steps = input.steps();
    let obs = Observations::new(&steps);
    let findings = analyzers::analyze(&input.event, &obs, &crate::reasoning::scope::scope(&input.event, &obs));
    let best = findings.first().map_or(0.0, |f| f.confidence);
    if best >= UNSURE {
        return rules;
    }
    let mut known: HashSet<String> = steps.iter().map(|r| r.command.key()).chain(input.pending.iter().map(|p| p.command.key())).collect();
    let room = MAX_LLM_STEPS.min(input.steps_left as usize);
    match rules {
        Decision::Conclude { diagnosis } => {
            let ctx = Context { event: &input.event, hypotheses: &input.analysis.possible_causes, findings: &findings, results: &steps, pending: &input.pending };
            let answered = match llm.analyze(task, &ctx).await {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(task, error = %e, kind = e.kind(), "LLM consultation failed; the rules' conclusion stands");
                    return Decision::Conclude { diagnosis };
                }
            };
            let (steps, rejected) = new_steps(&answered.proposals, &mut known, room, &answered.model);
            if !steps.is_empty() {
                return Decision::Continue {
                    reason: format!(
                        "rules not confident ({best:.2}); {} proposes {} more read(s){}",
                        answered.model,
                        steps.len(),
                        rejected_note(&rejected)
                    ),
                    add_steps: steps,
                };
            }
            let a = &answered.answer;
            match findings.iter().find(|f| f.root_cause == a.root_cause && a.root_cause != RootCause::Unknown) {
                Some(f) => Decision::Conclude { diagnosis: refine(f, &answered.answer) },
                None => Decision::Conclude { diagnosis },
            }
        }
        Decision::Continue { mut add_steps, reason } => {
            let mut pending = add_steps.clone();
            pending.extend(input.pending.iter().cloned());
            known.extend(add_steps.iter().map(|s| s.command.key()));
            let ctx = Context { event: &input.event, hypotheses: &input.analysis.possible_causes, findings: &findings, results: &steps, pending: &pending };
            match llm.propose_next(task, &ctx).await {
                Ok(answered) => {
                    let (steps, rejected) = new_steps(&answered.proposals, &mut known, room, &answered.model);
                    if steps.is_empty() && rejected.is_empty() {
                        return Decision::Continue { add_steps, reason };
                    }
                    let reason = format!("{reason}; {} adds {} read(s){}", answered.model, steps.len(), rejected_note(&rejected));
                    add_steps.extend(steps);
                    Decision::Continue { add_steps, reason }
                }
                Err(e) => {
                    tracing::warn!(task, error = %e, kind = e.kind(), "LLM next-step proposal failed; the rules' steps stand");
                    Decision::Continue { add_steps, reason }
                }
            }
        }
    }
}

fn new_steps(proposals: &[Proposal], known: &mut HashSet<String>, room: usize, model: &str) -> (Vec<DiagnosticStep>, Vec<String>) {
    let mut steps = vec![];
    let mut rejected = vec![];
    for p in proposals {
        match p {
            Proposal::Accepted { command, .. } if steps.len() < room && known.insert(command.key()) => {
                steps.push(DiagnosticStep { purpose: format!("Proposed by {model}"), command: command.clone(), origin: StepOrigin::Llm });
            }
            Proposal::Accepted { .. } => {}
            Proposal::Rejected { .. } => rejected.extend(rejected_line(p)),
        }
    }
    (steps, rejected)
}

fn rejected_note(rejected: &[String]) -> String {
    if rejected.is_empty() { String::new() } else { format!("; rejected: {}", rejected.join(" | ")) }
}

/// A rule finding, with the LLM's summary and evidence added.
fn refine(f: &Finding, a: &super::AnalysisAnswer) -> Diagnosis {
    let mut evidence = f.evidence.clone();
    evidence.extend(a.evidence.iter().map(|e| Evidence { source: format!("{} (LLM)", e.source), detail: e.detail.clone() }));
    Diagnosis {
        root_cause: f.root_cause,
        resource: f.resource.clone(),
        summary: if a.summary.is_empty() { f.summary.clone() } else { format!("{} {}", f.summary, a.summary) },
        evidence,
        recommendations: f.recommendations.clone(),
        confidence: f.confidence,
    }
}
