//! The reasoning pool: analyze, strategize and decide_next, driven by rule analyzers that
//! read what the steps fetched. Pure over their inputs; no cluster access here.

pub mod analyzers;
pub mod k8s;
pub mod logs;
pub mod observations;
pub mod plan;
pub mod scope;

use aetherius_core::{
    AnalysisResult, DecideInput, Decision, Diagnosis, DiagnosticStrategy, Evidence, Method, RootCause, StandardEvent,
    StrategizeInput, Target, queues::activity,
};
use analyzers::Finding;
use observations::{Observations, s};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// Confidence at which a finding ends the investigation early.
const CONCLUSIVE: f64 = 0.9;
/// Most new steps one decision adds, to keep the investigation focused.
const MAX_NEW_STEPS: usize = 6;
/// Below this, a finding is a lead, not a diagnosis: the report says "unknown" and names it.
const MIN_CONFIDENCE: f64 = 0.5;
/// A target that looks healthy again outweighs findings weaker than this.
const HEALTHY_OVERRIDES: f64 = 0.6;

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

/// Decide after a step: conclude when a finding is conclusive or nothing is left to read.
pub fn decide(input: &DecideInput) -> Decision {
    let obs = Observations::new(&input.results);
    let findings = analyzers::analyze(&input.event, &obs);
    let best = findings.first().filter(|f| f.confidence >= MIN_CONFIDENCE);
    let mut follow = plan::follow_ups(&input.event, &obs, &input.pending);
    follow.truncate(MAX_NEW_STEPS);
    // A pod's events often overturn what its status and logs suggest (a liveness kill looks
    // like a crash): never conclude early while a pod's events are still queued.
    let events_pending = input
        .pending
        .iter()
        .any(|p| p.command.action == "events" && p.command.flag("for").is_some_and(|f| f.starts_with("Pod/")));
    let conclusive = best.is_some_and(|f| f.confidence >= CONCLUSIVE);
    let nothing_left = follow.is_empty() && input.pending.is_empty();
    if (conclusive && !events_pending) || nothing_left || input.steps_left == 0 {
        return Decision::Conclude { diagnosis: conclude(input, &obs, &findings) };
    }
    if conclusive {
        // Only the pod's events stand between us and the conclusion: read them next,
        // nothing else.
        return Decision::Continue { add_steps: vec![], reason: "confirming with the pod's events".into() };
    }
    let reason = match best {
        Some(f) => format!("leading hypothesis {} ({:.2}); reading {} more", f.root_cause, f.confidence, follow.len()),
        None => format!("no finding yet; reading {} more", follow.len()),
    };
    Decision::Continue { add_steps: follow, reason }
}

fn conclude(input: &DecideInput, obs: &Observations<'_>, findings: &[Finding]) -> Diagnosis {
    let effective = scope::effective_target(&input.event, obs).or_else(|| input.analysis.target.clone());
    let target = effective.as_ref();
    // A healthy status clears only alerts that measure it (not disk usage on a Ready node).
    let healthy = target.filter(|_| aetherius_core::target::catalog::status_can_clear(input.event.alertname())).and_then(|t| {
        let ns = t.namespace.as_deref().unwrap_or("");
        obs.get(&t.kind, ns, &t.name).and_then(looks_healthy).map(|why| (t, why))
    });
    let best = findings.first();
    if let Some(f) = best.filter(|f| f.confidence >= HEALTHY_OVERRIDES || (f.confidence >= MIN_CONFIDENCE && healthy.is_none())) {
        return Diagnosis {
            root_cause: f.root_cause,
            resource: f.resource.clone(),
            summary: f.summary.clone(),
            evidence: f.evidence.clone(),
            recommendations: f.recommendations.clone(),
            confidence: f.confidence,
        };
    }
    if let Some((t, why)) = healthy {
        return Diagnosis {
            root_cause: RootCause::NotAnIssue,
            resource: Some(t.resource_ref()),
            summary: format!("{} looks healthy now: {why}. The condition behind the alert is not visible any more.", t.resource_ref()),
            evidence: vec![Evidence { source: t.resource_ref(), detail: why }],
            recommendations: vec!["Check whether the alert is flapping or its threshold is too tight.".into()],
            confidence: 0.6,
        };
    }
    // Say so rather than guess: name the weak lead, if any, and what could not be read.
    let mut evidence: Vec<Evidence> = best.map(|f| f.evidence.clone()).unwrap_or_default();
    evidence.extend(input.results.iter().filter(|r| r.error.is_some()).map(|r| Evidence { source: r.command.to_string(), detail: r.error.clone().unwrap_or_default() }));
    let lead = best.map(|f| format!(" Weak lead ({}, {:.2}): {}", f.root_cause, f.confidence, f.summary)).unwrap_or_default();
    Diagnosis {
        root_cause: RootCause::Unknown,
        resource: target.map(Target::resource_ref),
        summary: format!("The evidence read ({} steps) does not support any known cause; a human should look.{lead}", input.results.len()),
        evidence,
        recommendations: vec!["Inspect the object, its events and logs by hand; add what you learn to the knowledge base.".into()],
        confidence: 0.2,
    }
}

/// Why an object the alert measures looks healthy, if it does. Only kinds whose status is
/// what kube-state-metrics alerts on: a Service with endpoints can still fail requests.
fn looks_healthy(obj: &serde_json::Value) -> Option<String> {
    let int = |p: &str| obj.pointer(p).and_then(serde_json::Value::as_i64);
    let is_true = |t: &str| k8s::condition(obj, t).is_some_and(|c| s(c, "/status") == "True");
    match s(obj, "/kind") {
        "Pod" => {
            let waiting = obj.pointer("/status/containerStatuses").and_then(serde_json::Value::as_array).into_iter().flatten().any(|c| c.pointer("/state/waiting").is_some());
            (k8s::pod_ready(obj) && !waiting).then(|| "phase Running, Ready=True, no container waiting".into())
        }
        "Deployment" => {
            let want = int("/spec/replicas").unwrap_or(1);
            let all = ["/status/replicas", "/status/readyReplicas", "/status/availableReplicas", "/status/updatedReplicas"].iter().all(|p| int(p).unwrap_or(0) == want);
            let stuck = k8s::condition(obj, "Progressing").is_some_and(|c| s(c, "/reason") == "ProgressDeadlineExceeded");
            (all && !stuck && is_true("Available")).then(|| format!("{want}/{want} replicas ready, available and up to date"))
        }
        "StatefulSet" => {
            let want = int("/spec/replicas").unwrap_or(1);
            let all = ["/status/replicas", "/status/readyReplicas"].iter().all(|p| int(p).unwrap_or(0) == want);
            (all && s(obj, "/status/currentRevision") == s(obj, "/status/updateRevision")).then(|| format!("{want}/{want} replicas ready"))
        }
        "DaemonSet" => {
            let want = int("/status/desiredNumberScheduled").unwrap_or(0);
            let ok = int("/status/numberReady") == Some(want) && int("/status/updatedNumberScheduled").unwrap_or(want) == want && int("/status/numberUnavailable").unwrap_or(0) == 0;
            ok.then(|| format!("{want}/{want} daemon pods ready"))
        }
        "Node" => {
            let pressure = ["MemoryPressure", "DiskPressure", "PIDPressure"].iter().any(|t| is_true(t));
            (is_true("Ready") && !pressure).then(|| "Ready=True, no pressure condition".into())
        }
        "Job" => is_true("Complete").then(|| "Complete=True".into()),
        "HorizontalPodAutoscaler" => {
            let ok = is_true("AbleToScale") && is_true("ScalingActive") && int("/status/currentReplicas") == int("/status/desiredReplicas");
            ok.then(|| "AbleToScale and ScalingActive, at the desired replica count".into())
        }
        _ => None,
    }
}

#[activities]
impl ReasoningActivities {
    /// Initial analysis of the alert.
    #[activity(name = activity::ANALYZE)]
    pub async fn analyze(self: std::sync::Arc<Self>, ctx: ActivityContext, event: StandardEvent) -> Result<AnalysisResult, ActivityError> {
        let mut rules = analyze_alert(&event);
        if let Some(kb) = &self.knowledge {
            rules = with_knowledge(kb, &event, rules).await;
        }
        Ok(match &self.llm {
            Some(llm) => crate::llm::assist::analyze(llm, &task_id(&ctx, &event.id), &event, rules).await,
            None => rules,
        })
    }

    /// The first diagnostic plan.
    #[activity(name = activity::STRATEGIZE)]
    pub async fn strategize(self: std::sync::Arc<Self>, _ctx: ActivityContext, input: StrategizeInput) -> Result<DiagnosticStrategy, ActivityError> {
        let plan = strategize_plan(&input);
        Ok(match &self.llm {
            Some(llm) => crate::llm::assist::extend_plan(llm, &input, plan),
            None => plan,
        })
    }

    /// What to do after a step.
    #[activity(name = activity::DECIDE_NEXT)]
    pub async fn decide_next(self: std::sync::Arc<Self>, ctx: ActivityContext, input: DecideInput) -> Result<Decision, ActivityError> {
        let decision = decide(&input);
        Ok(match &self.llm {
            Some(llm) => crate::llm::assist::decide(llm, &task_id(&ctx, &input.event.id), &input, decision).await,
            None => decision,
        })
    }
}
