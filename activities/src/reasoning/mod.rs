//! The reasoning pool: analyze, strategize and decide_next, driven by rule analyzers that
//! read what the steps fetched. Pure over their inputs; no cluster access here.

pub mod analyzers;
pub mod observations;
pub mod plan;

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

/// Activities of the reasoning pool.
#[derive(Default)]
pub struct ReasoningActivities;

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
        "KubePersistentVolumeErrors" => &[PendingPvcUnbound, VolumeMountFailed],
        "Watchdog" | "InfoInhibitor" => &[NotAnIssue],
        _ => &[],
    }
}

/// The first analysis, from the alert alone.
pub fn analyze_alert(event: &StandardEvent) -> AnalysisResult {
    let target = Target::from_labels(&event.labels);
    let causes: Vec<String> = hypotheses(event.alertname()).iter().map(|c| c.as_str().to_owned()).collect();
    let about = target.as_ref().map(Target::resource_ref).unwrap_or_else(|| "no specific object".into());
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
    let best = findings.first();
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
        return Decision::Conclude { diagnosis: conclude(input, &obs, best) };
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

fn conclude(input: &DecideInput, obs: &Observations<'_>, best: Option<&Finding>) -> Diagnosis {
    if let Some(f) = best {
        return Diagnosis {
            root_cause: f.root_cause,
            resource: f.resource.clone(),
            summary: f.summary.clone(),
            evidence: f.evidence.clone(),
            recommendations: f.recommendations.clone(),
            confidence: f.confidence,
        };
    }
    let target = input.analysis.target.as_ref();
    let healthy = target.and_then(|t| {
        let ns = t.namespace.as_deref().unwrap_or("");
        obs.get(&t.kind, ns, &t.name).map(|o| (t, looks_healthy(o)))
    });
    match healthy {
        Some((t, Some(why))) => Diagnosis {
            root_cause: RootCause::NotAnIssue,
            resource: Some(t.resource_ref()),
            summary: format!("{} looks healthy now: {why}. The condition behind the alert is not visible any more.", t.resource_ref()),
            evidence: vec![Evidence { source: t.resource_ref(), detail: why }],
            recommendations: vec!["Check whether the alert is flapping or its threshold is too tight.".into()],
            confidence: 0.5,
        },
        _ => Diagnosis {
            root_cause: RootCause::Unknown,
            resource: target.map(Target::resource_ref),
            summary: format!(
                "The evidence read ({} steps) does not support any known cause; a human should look.",
                input.results.len()
            ),
            evidence: input
                .results
                .iter()
                .filter(|r| r.error.is_some())
                .map(|r| Evidence { source: r.command.to_string(), detail: r.error.clone().unwrap_or_default() })
                .collect(),
            recommendations: vec!["Inspect the object, its events and logs by hand; add what you learn to the knowledge base.".into()],
            confidence: 0.2,
        },
    }
}

/// Why an object looks healthy, if it does.
fn looks_healthy(obj: &serde_json::Value) -> Option<String> {
    let conditions = obj.pointer("/status/conditions").and_then(serde_json::Value::as_array)?;
    let is_true = |t: &str| conditions.iter().any(|c| s(c, "/type") == t && s(c, "/status") == "True");
    match s(obj, "/kind") {
        "Pod" if s(obj, "/status/phase") == "Running" && is_true("Ready") => Some("phase Running, Ready=True".into()),
        "Deployment" if is_true("Available") => Some("Available=True".into()),
        "Node" if is_true("Ready") => Some("Ready=True".into()),
        _ => None,
    }
}

#[activities]
impl ReasoningActivities {
    /// Initial analysis of the alert.
    #[activity(name = activity::ANALYZE)]
    pub async fn analyze(_ctx: ActivityContext, event: StandardEvent) -> Result<AnalysisResult, ActivityError> {
        Ok(analyze_alert(&event))
    }

    /// The first diagnostic plan.
    #[activity(name = activity::STRATEGIZE)]
    pub async fn strategize(_ctx: ActivityContext, input: StrategizeInput) -> Result<DiagnosticStrategy, ActivityError> {
        Ok(strategize_plan(&input))
    }

    /// What to do after a step.
    #[activity(name = activity::DECIDE_NEXT)]
    pub async fn decide_next(_ctx: ActivityContext, input: DecideInput) -> Result<Decision, ActivityError> {
        Ok(decide(&input))
    }
}
