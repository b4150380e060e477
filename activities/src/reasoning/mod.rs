//! The reasoning pool: analyze, strategize and decide_next, driven by rule analyzers that
//! read what the steps fetched. Pure over their inputs; no cluster access here.

pub mod analyzers;
pub mod health;
pub mod k8s;
pub mod logs;
pub mod observations;
pub mod plan;
pub mod scope;

use aetherius_core::{
    AnalysisResult, DecideInput, Decision, Diagnosis, DiagnosticStrategy, Evidence, Method, RootCause, StandardEvent,
    StrategizeInput, Target, queues::activity,
};
use analyzers::{Finding, Tier};
use observations::Observations;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// Most new steps one decision adds, to keep the investigation focused.
const MAX_NEW_STEPS: usize = 6;
/// Confidence of a `not-an-issue` resting on the object's health (not on a rule).
const ALL_CLEAR_CONFIDENCE: f64 = 0.75;
/// Confidence of an `unknown`.
const UNKNOWN_CONFIDENCE: f64 = 0.2;

/// Activities of the reasoning pool.
#[derive(Default)]
pub struct ReasoningActivities {
    /// The LLM, when `[llm]` configures one: it refines the rules' answers (crate::llm::assist).
    llm: Option<std::sync::Arc<crate::llm::Llm>>,
    /// The knowledge base: a runbook matching the alert makes the analysis knowledge-based.
    knowledge: Option<std::sync::Arc<crate::knowledge::KnowledgeBase>>,
}

impl ReasoningActivities {
    /// With the LLM, if any; `None` keeps the rules alone.
    pub fn new(llm: Option<std::sync::Arc<crate::llm::Llm>>) -> Self {
        ReasoningActivities { llm, knowledge: None }
    }

    /// With the knowledge base.
    pub fn with_knowledge(mut self, knowledge: Option<std::sync::Arc<crate::knowledge::KnowledgeBase>>) -> Self {
        self.knowledge = knowledge;
        self
    }
}

/// The seed's order: a knowledge match at score >= 0.8 (or the alert's own runbook) makes
/// the analysis knowledge-based; the rules' hypotheses and target stay, since the steps
/// and the conclusion still come from what the cluster shows. A failing search leaves the
/// rules' analysis as it was.
pub async fn with_knowledge(kb: &crate::knowledge::KnowledgeBase, event: &StandardEvent, mut analysis: AnalysisResult) -> AnalysisResult {
    let matches = match kb.match_alert(event).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "knowledge search failed; the rules' analysis stands");
            return analysis;
        }
    };
    let Some(best) = matches.into_iter().filter(|m| m.is_knowledge_based()).max_by(|a, b| a.score.total_cmp(&b.score)) else {
        return analysis;
    };
    analysis.method = Method::KnowledgeBased;
    analysis.confidence = analysis.confidence.max(best.score.min(0.9));
    analysis.summary = format!("{} Runbook: {:?} (match {:.2}).", analysis.summary, best.entry.title, best.score);
    analysis.suggested_steps.push(format!("Follow the runbook {:?} (knowledge entry {}).", best.entry.title, best.entry.id));
    analysis.knowledge.push(format!("{:?} (entry {}, match {:.2})", best.entry.title, best.entry.id, best.score));
    analysis
}

/// The task an activity serves (its workflow id: the LLM's token budget is per task).
fn task_id(ctx: &ActivityContext, fallback: &str) -> String {
    ctx.info().workflow_id.clone().unwrap_or_else(|| fallback.to_owned())
}

/// Hypotheses an alert name suggests before anything is read.
fn hypotheses(alertname: &str) -> &'static [RootCause] {
    use RootCause::*;
    match alertname {
        "KubePodCrashLooping" => &[CrashloopAppError, CrashloopMissingConfig, CrashloopDependencyUnavailable, OomKilled, LivenessProbeFailing],
        "KubePodNotReady" => &[ReadinessProbeFailing, PendingInsufficientResources, ImagePullNotFound, ContainerConfigMissingRef],
        "KubeDeploymentReplicasMismatch" | "KubeDeploymentRolloutStuck" | "KubeStatefulSetReplicasMismatch" => {
            &[RolloutStuck, ImagePullNotFound, QuotaExceeded, AdmissionDenied, PendingInsufficientResources]
        }
        "KubeContainerWaiting" => &[ImagePullNotFound, ImagePullAuth, ContainerConfigMissingRef, VolumeMountFailed],
        "KubeJobFailed" | "KubeJobNotCompleted" => &[JobFailed],
        "KubeNodeNotReady" | "KubeNodeUnreachable" => &[NodeNotReady],
        "KubeHpaMaxedOut" | "KubeHpaReplicasMismatch" => &[HpaMisconfigured],
        "CPUThrottlingHigh" => &[CpuThrottling],
        "KubeNodePressure" | "KubeNodeEviction" | "NodeFilesystemAlmostOutOfSpace" => &[NodePressureEviction],
        "TargetDown" => &[ServicePortMismatch, ServiceNoEndpoints, NetworkPolicyBlocked],
        "BlackboxProbeFailed" | "ProbeFailed" => &[IngressMisconfigured, ServiceNoEndpoints, ServicePortMismatch, NetworkPolicyBlocked],
        "KubeDaemonSetRolloutStuck" | "KubeDaemonSetNotScheduled" => &[PendingTaint, PendingInsufficientResources, ImagePullNotFound],
        "KubePersistentVolumeErrors" => &[PendingPvcUnbound, VolumeMountFailed],
        "Watchdog" | "InfoInhibitor" => &[NotAnIssue],
        _ => &[],
    }
}

/// The first analysis, from the alert alone.
pub fn analyze_alert(event: &StandardEvent) -> AnalysisResult {
    let target = scope::alert_target(event);
    let causes: Vec<String> = hypotheses(event.alertname()).iter().map(|c| c.as_str().to_owned()).collect();
    let about = target
        .as_ref()
        .map(Target::resource_ref)
        .or_else(|| scope::external_host(event).map(|h| format!("host {h}")))
        .unwrap_or_else(|| match scope::subject(event) {
            aetherius_core::target::Subject::NodeAddress(a) => format!("the node at {a}"),
            aetherius_core::target::Subject::Namespace(ns) => format!("namespace {ns} (no object named: its unhealthy objects are swept)"),
            aetherius_core::target::Subject::Cluster => "the cluster (no single object)".into(),
            _ => "no specific object".into(),
        });
    let summary = format!(
        "{} ({}) on cluster {} about {about}. {}",
        event.alertname(),
        event.severity,
        event.cluster_id,
        event.annotations.get("summary").or_else(|| event.annotations.get("description")).map(String::as_str).unwrap_or("")
    );
    let suggested_steps = target
        .as_ref()
        .map(|t| vec![format!("read {} and its events", t.resource_ref()), "follow owners, references and previous logs".into()])
        .unwrap_or_default();
    AnalysisResult {
        summary: summary.trim().to_owned(),
        confidence: if causes.len() == 1 { 0.6 } else { 0.3 },
        possible_causes: causes,
        suggested_steps,
        target,
        method: Method::RuleBased,
        tokens_used: 0,
        model: None,
        knowledge: vec![],
    }
}

/// The first plan.
pub fn strategize_plan(input: &StrategizeInput) -> DiagnosticStrategy {
    let steps = plan::initial_steps(&input.event, input.analysis.target.as_ref());
    DiagnosticStrategy {
        method: Method::RuleBased,
        estimated_secs: steps.len() as u64,
        confidence: input.analysis.confidence,
        steps,
    }
}

/// Decide after a step: conclude on a decisive finding, or when nothing is left to read.
/// A consistent finding is a diagnosis, but the investigation reads on while it can, in
/// case the decisive fact turns up (possibly for another cause); a weak one is only a lead.
pub fn decide(input: &DecideInput) -> Decision {
    let steps = input.steps();
    let obs = Observations::new(&steps);
    // What belongs to the alert, worked out once for the rules, the plan and the conclusion.
    let sc = scope::scope(&input.event, &obs);
    let findings = analyzers::analyze(&input.event, &obs, &sc);
    let best = findings.first().filter(|f| f.tier >= Tier::Consistent);
    let mut follow = plan::follow_ups(&input.event, &obs, &sc, &input.pending);
    follow.truncate(MAX_NEW_STEPS);
    // A pod's events often overturn what its status and logs suggest (a liveness kill looks
    // like a crash): never conclude early while a pod's events are still queued.
    let events_pending = input
        .pending
        .iter()
        .any(|p| p.command.action == "events" && p.command.flag("for").is_some_and(|f| f.starts_with("Pod/")));
    let conclusive = best.is_some_and(|f| f.tier == Tier::Decisive);
    let nothing_left = follow.is_empty() && input.pending.is_empty();
    if (conclusive && !events_pending) || nothing_left || input.steps_left == 0 {
        return Decision::Conclude { diagnosis: conclude(input, &steps, &obs, &sc, &findings) };
    }
    if conclusive {
        // Only the pod's events stand between us and the conclusion: read them next,
        // nothing else.
        return Decision::Continue { add_steps: vec![], reason: "confirming with the pod's events".into() };
    }
    let reason = match best {
        Some(f) => format!("leading hypothesis {} ({:?}); reading {} more", f.root_cause, f.tier, follow.len()),
        None => format!("no finding yet; reading {} more", follow.len()),
    };
    Decision::Continue { add_steps: follow, reason }
}

/// The diagnosis: the best finding when it is at least consistent; `not-an-issue` only with
/// positive evidence that the alert's object and what it points at are healthy now and no
/// rule found even a lead; else `unknown`, naming the strongest lead and what to read next.
fn conclude(input: &DecideInput, steps: &[aetherius_core::StepResult], obs: &Observations<'_>, sc: &scope::Scope<'_>, findings: &[Finding]) -> Diagnosis {
    let effective = sc.target.clone().or_else(|| input.analysis.target.clone());
    let target = effective.as_ref();
    let best = findings.first();
    if let Some(f) = best.filter(|f| f.tier >= Tier::Consistent) {
        return Diagnosis {
            root_cause: f.root_cause,
            resource: f.resource.clone(),
            summary: f.summary.clone(),
            evidence: f.evidence.clone(),
            recommendations: f.recommendations.clone(),
            confidence: f.confidence,
        };
    }
    let health = match target {
        // A healthy status clears only alerts that measure it (not disk usage on a Ready node).
        Some(_) if !aetherius_core::target::catalog::status_can_clear(input.event.alertname()) => {
            Err(format!("{} measures something other than its object's status", input.event.alertname()))
        }
        // An application known by name (its latency, errors, backlog, leader): a healthy
        // status of its workload says nothing about what the alert measures.
        Some(t) if scope::named(&input.event).is_some() => Err(format!("{} measures how {} behaves, which its status does not show", input.event.alertname(), t.name)),
        Some(t) => health::all_clear(&input.event, obs, sc, t),
        None => match health::control_plane_work(input.event.alertname()) {
            Some(work) => health::control_plane_clear(&input.event, obs, work),
            None => Err("the alert names no object whose health could be read".into()),
        },
    };
    // A control-plane component known only by its work: positive evidence it is at work.
    if let (None, Some(work), Ok(why), None) = (target, health::control_plane_work(input.event.alertname()), &health, best) {
        return Diagnosis {
            root_cause: RootCause::NotAnIssue,
            resource: None,
            summary: format!("{} fired, but the {} is at work: {why}.", input.event.alertname(), work.component),
            evidence: vec![Evidence { source: format!("{} at work", work.component), detail: why.clone() }],
            recommendations: vec![format!(
                "On a managed control plane, turn off scraping of the {} (kube-prometheus-stack: disable its component, e.g. kubeScheduler.enabled=false) so the alert stops firing.",
                work.component
            )],
            confidence: ALL_CLEAR_CONFIDENCE,
        };
    }
    if let (Some(t), Ok(why), None) = (target, &health, best) {
        return Diagnosis {
            root_cause: RootCause::NotAnIssue,
            resource: Some(t.resource_ref()),
            summary: format!("{} looks healthy now: {why}; its pods are ready, not restarted lately, and their logs read show no errors. The condition behind the alert is not visible any more.", t.resource_ref()),
            evidence: vec![Evidence { source: t.resource_ref(), detail: why.clone() }],
            recommendations: vec!["Check whether the alert is flapping or its threshold is too tight.".into()],
            confidence: ALL_CLEAR_CONFIDENCE,
        };
    }
    // Say so rather than guess: name the lead, why it is not an all-clear, what could not be
    // read, and what a human should read next.
    let mut evidence: Vec<Evidence> = best.map(|f| f.evidence.clone()).unwrap_or_default();
    let not_clear = health.as_ref().err().cloned();
    if let (Some(t), Some(why)) = (target, &not_clear) {
        evidence.push(Evidence { source: t.resource_ref(), detail: format!("not an all-clear: {why}") });
    }
    evidence.extend(steps.iter().filter(|r| r.error.is_some()).map(|r| Evidence { source: r.command.to_string(), detail: r.error.clone().unwrap_or_default() }));
    let lead = match (best, &not_clear) {
        (Some(f), _) => format!(" Strongest lead ({}, weak): {}", f.root_cause, f.summary),
        (None, Some(why)) => format!(" Not an all-clear: {why}."),
        (None, None) => " No rule found a lead, and no object of the alert shows a healthy status.".into(),
    };
    Diagnosis {
        root_cause: RootCause::Unknown,
        resource: best.and_then(|f| f.resource.clone()).or_else(|| target.map(Target::resource_ref)),
        summary: format!("The evidence read ({} steps) does not support any known cause; a human should look.{lead}", steps.len()),
        evidence,
        recommendations: vec![read_next(best, target), "Add what you learn to the knowledge base.".into()],
        confidence: UNKNOWN_CONFIDENCE,
    }
}

/// What a human should read next when the rules cannot decide.
fn read_next(lead: Option<&Finding>, target: Option<&Target>) -> String {
    let describe = |t: &Target| match &t.namespace {
        Some(ns) => format!("kubectl -n {ns} describe {} {}", t.kind.to_lowercase(), t.name),
        None => format!("kubectl describe {} {}", t.kind.to_lowercase(), t.name),
    };
    match (lead, target) {
        (Some(f), _) => format!(
            "Read next: {} (what the lead rests on: {}).",
            f.resource.as_deref().unwrap_or("the lead's object"),
            f.evidence.iter().map(|e| e.source.as_str()).collect::<Vec<_>>().join(", ")
        ),
        (None, Some(t)) => format!("Read next: `{}` (its events and conditions), then the logs of its pods, including --previous.", describe(t)),
        (None, None) => "Read next: the alert's expression in Prometheus, then the namespace's events (`kubectl get events -n <ns> --sort-by=.lastTimestamp`).".into(),
    }
}

#[activities]
impl ReasoningActivities {
    /// Initial analysis of the alert.
    #[activity(name = activity::ANALYZE)]
    pub async fn analyze(self: std::sync::Arc<Self>, ctx: ActivityContext, event: StandardEvent) -> Result<AnalysisResult, ActivityError> {
        let work = async {
            let mut rules = analyze_alert(&event);
            if let Some(kb) = &self.knowledge {
                rules = with_knowledge(kb, &event, rules).await;
            }
            match &self.llm {
                Some(llm) => crate::llm::assist::analyze(llm, &task_id(&ctx, &event.id), &event, rules).await,
                None => rules,
            }
        };
        crate::heartbeat::heartbeating(&ctx, work).await
    }

    /// The first diagnostic plan.
    #[activity(name = activity::STRATEGIZE)]
    pub async fn strategize(self: std::sync::Arc<Self>, ctx: ActivityContext, input: StrategizeInput) -> Result<DiagnosticStrategy, ActivityError> {
        let work = async {
            let plan = strategize_plan(&input);
            match &self.llm {
                Some(llm) => crate::llm::assist::extend_plan(llm, &input, plan),
                None => plan,
            }
        };
        crate::heartbeat::heartbeating(&ctx, work).await
    }

    /// What to do after a step.
    #[activity(name = activity::DECIDE_NEXT)]
    pub async fn decide_next(self: std::sync::Arc<Self>, ctx: ActivityContext, input: DecideInput) -> Result<Decision, ActivityError> {
        let work = async {
            let decision = decide(&input);
            match &self.llm {
                Some(llm) => crate::llm::assist::decide(llm, &task_id(&ctx, &input.event.id), &input, decision).await,
                None => decision,
            }
        };
        crate::heartbeat::heartbeating(&ctx, work).await
    }
}
