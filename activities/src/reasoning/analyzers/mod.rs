//! Rule analyzers: each reads the observations the way an SRE would and returns findings
//! that cite their evidence. They know Kubernetes, not our scenarios: every rule keys on
//! what the API server, kubelet, scheduler and controllers really write, and follows a
//! symptom to the object a human must change (a crash to the database scaled to zero, a
//! DNS error to the CoreDNS config, a 403 to the Role that lacks the verb).
//!
//! One module per family, each a [`Rule`]; [`RULES`] runs them in order. This module holds
//! what several families share: the finding type, container states, log symptoms.

mod admission;
mod autoscaling;
mod crash;
mod dependency;
mod dns;
mod image;
mod ingress;
mod network_policy;
mod nodes;
mod probes;
mod rbac;
mod scheduling;
mod services;
mod volumes;
mod workloads;

pub use dns::{DNS_NAMESPACE, DNS_SERVICE};
pub(crate) use dns::link_local_resolver;
pub(crate) use autoscaling::{METRICS_SERVER, metrics_api_group};
pub(crate) use nodes::{cni_sandbox_failure, is_cni_daemonset, network_plugin_not_ready};

use super::{
    k8s,
    logs::{self, ConnectFailure, Host, Symptom},
    observations::{Observations, s},
    scope::{self, Scope},
};
use aetherius_core::{Evidence, RootCause, StandardEvent, target::resource_ref};
use regex::Regex;
use serde_json::{Map, Value};
use std::sync::LazyLock;

/// How strongly what was read supports a finding. Every rule says which of the three it
/// has seen; the tier alone ranks findings across rules (ties: [`rank`]) and gives the
/// confidence a diagnosis reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// A lead: something is off, but it does not explain the alert on its own.
    Weak,
    /// The symptoms fit the cause, but the fact that proves it was not seen.
    Consistent,
    /// The fact that makes the cause certain was seen (OOMKilled on the container, the
    /// scheduler naming the filter, the missing key named by the kubelet, the Role lacking
    /// the verb the 403 names).
    Decisive,
}

impl Tier {
    /// The confidence a diagnosis at this tier reports.
    pub fn confidence(self) -> f64 {
        match self {
            Tier::Decisive => 0.95,
            Tier::Consistent => 0.75,
            Tier::Weak => 0.4,
        }
    }
}

use Tier::{Consistent, Decisive, Weak};

/// One candidate root cause.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Taxonomy id.
    pub root_cause: RootCause,
    /// Object to change.
    pub resource: Option<String>,
    /// How strongly the evidence supports it.
    pub tier: Tier,
    /// 0..1, from the tier.
    pub confidence: f64,
    /// One sentence.
    pub summary: String,
    /// What supports it.
    pub evidence: Vec<Evidence>,
    /// What to do.
    pub recommendations: Vec<String>,
}

impl Finding {
    /// Moves the finding to another tier (and its confidence with it).
    pub fn set_tier(&mut self, tier: Tier) {
        self.tier = tier;
        self.confidence = tier.confidence();
    }
}

fn finding(root_cause: RootCause, resource: impl Into<Option<String>>, tier: Tier, summary: impl Into<String>, evidence: Vec<Evidence>, advice: impl Into<String>) -> Finding {
    Finding { root_cause, resource: resource.into(), tier, confidence: tier.confidence(), summary: summary.into(), evidence, recommendations: vec![advice.into()] }
}

fn ev(source: impl Into<String>, detail: impl Into<String>) -> Evidence {
    Evidence { source: source.into(), detail: detail.into() }
}

/// What a rule reads: the alert, everything observed, and the objects the alert is about.
pub struct Ctx<'c, 'a> {
    /// The alert.
    pub event: &'c StandardEvent,
    /// Everything the steps read.
    pub obs: &'c Observations<'a>,
    /// The alert's objects among them.
    pub scope: &'c Scope<'a>,
}

/// A family of rules.
pub trait Rule: Sync {
    /// Short name, for traces.
    fn name(&self) -> &'static str;
    /// Appends the findings the observations support.
    fn check(&self, cx: &Ctx<'_, '_>, out: &mut Vec<Finding>);
}

/// Every rule, in the order its findings are gathered.
pub static RULES: &[&dyn Rule] = &[
    &Informational,
    &nodes::Evicted,
    &crash::Crash,
    &rbac::Rbac,
    &dns::Dns,
    &dependency::Dependency,
    &image::Image,
    &volumes::Volumes,
    &probes::Probes,
    &scheduling::Scheduling,
    &nodes::Nodes,
    &workloads::Workloads,
    &admission::Admission,
    &autoscaling::Autoscaling,
    &services::Services,
    &ingress::Ingress,
    &probes::CpuThrottling,
];

/// Every finding the observations support, best first (see [`rank`]).
pub fn analyze<'a>(event: &StandardEvent, obs: &Observations<'a>, sc: &Scope<'a>) -> Vec<Finding> {
    let cx = Ctx { event, obs, scope: sc };
    let mut out = vec![];
    for rule in RULES {
        rule.check(&cx, &mut out);
    }
    rank(&own_objects(&cx), &mut out);
    out
}

/// The one place findings are ordered: by tier; within a tier, a finding about the alert's
/// own object (its target, or the workload of the pod it names) before one about another
/// object; then by the order of [`RULES`] (the sort is stable), which lists the families
/// whose facts explain others first (a crash before the probe that fails because of it).
pub fn rank(own: &[String], findings: &mut [Finding]) {
    let near = |f: &Finding| f.resource.as_ref().is_some_and(|r| own.contains(r));
    findings.sort_by(|a, b| b.tier.cmp(&a.tier).then_with(|| near(b).cmp(&near(a))));
}

/// The alert's own objects, as finding resources name them.
fn own_objects(cx: &Ctx<'_, '_>) -> Vec<String> {
    let Some(t) = &cx.scope.target else { return vec![] };
    let mut own = vec![t.resource_ref()];
    if t.kind == "Pod"
        && let Some(pod) = cx.obs.get("Pod", t.namespace.as_deref().unwrap_or(""), &t.name)
    {
        own.push(workload_ref(cx.obs, pod));
    }
    own
}

/// Alerts that are not problems by design: the heartbeat, the inhibitor, a resolved alert.
struct Informational;

impl Rule for Informational {
    fn name(&self) -> &'static str {
        "informational"
    }

    fn check(&self, cx: &Ctx<'_, '_>, out: &mut Vec<Finding>) {
        let (summary, detail) = match cx.event.alertname() {
            "Watchdog" => ("Watchdog is the always-firing heartbeat of the alerting pipeline; it firing means alerting works.", "alertname=Watchdog"),
            "InfoInhibitor" => ("InfoInhibitor only inhibits info alerts; it is not a problem on its own.", "alertname=InfoInhibitor"),
            _ if cx.event.status == aetherius_core::AlertStatus::Resolved => ("The alert is already resolved.", "status=resolved"),
            _ => return,
        };
        out.push(finding(RootCause::NotAnIssue, None, Decisive, summary, vec![ev("alert", detail)], "No action needed."));
    }
}

// ---------------------------------------------------------------------------------------
// Shared by the pod families

fn workload_ref(obs: &Observations<'_>, pod: &Value) -> String {
    let (k, ns, n) = obs.workload_of(pod);
    resource_ref(Some(&ns), &k, &n)
}

fn container_statuses(pod: &Value) -> impl Iterator<Item = &Value> {
    ["/status/initContainerStatuses", "/status/containerStatuses"].into_iter().filter_map(|p| pod.pointer(p).and_then(Value::as_array)).flatten()
}

fn container_spec<'v>(pod: &'v Value, name: &str) -> Option<&'v Value> {
    pod.get("spec").and_then(|spec| k8s::containers(spec).find(|c| s(c, "/name") == name))
}

fn workload_hint(pod: &Value) -> String {
    format!("{}/Pod/{}", s(pod, "/metadata/namespace"), s(pod, "/metadata/name"))
}

static PROBE_TIMEOUT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)(context deadline exceeded|Client\.Timeout|timed out|timeout)").expect("regex"));

/// What a container's status says, as the families divide it: each state belongs to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ContainerState {
    /// Killed for its memory limit (now or last time).
    OomKilled,
    /// ErrImagePull, ImagePullBackOff, InvalidImageName.
    ImagePull,
    /// CreateContainerError, RunContainerError, StartError.
    CannotStart,
    /// CreateContainerConfigError.
    ConfigError,
    /// CrashLoopBackOff, or restarted after a non-zero exit.
    Crashing,
    /// Running, not crashing.
    Running,
    /// Anything else (ContainerCreating, completed, ...).
    Other,
}

fn container_state(cs: &Value) -> ContainerState {
    use ContainerState::*;
    if s(cs, "/lastState/terminated/reason") == "OOMKilled" || s(cs, "/state/terminated/reason") == "OOMKilled" {
        return OomKilled;
    }
    let waiting = s(cs, "/state/waiting/reason");
    match waiting {
        "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" => ImagePull,
        "CreateContainerError" | "RunContainerError" | "StartError" => CannotStart,
        "CreateContainerConfigError" => ConfigError,
        _ => {
            let restarts = cs.get("restartCount").and_then(Value::as_u64).unwrap_or(0);
            let last_code = cs.pointer("/lastState/terminated/exitCode").and_then(Value::as_i64);
            if waiting == "CrashLoopBackOff" || (restarts > 0 && last_code.is_some_and(|c| c != 0)) {
                Crashing
            } else if cs.pointer("/state/running").is_some() {
                Running
            } else {
                Other
            }
        }
    }
}

/// Whether a container of the pod crashes (or is OOM-killed).
fn pod_crashing(pod: &Value) -> bool {
    container_statuses(pod).any(|cs| matches!(container_state(cs), ContainerState::OomKilled | ContainerState::Crashing))
}

/// Whether the kubelet killed this container for a failing liveness probe.
fn killed_by_liveness(events: &[&Value], container: &str) -> bool {
    events.iter().any(|e| {
        let m = s(e, "/message");
        m.contains("failed liveness probe") && (container.is_empty() || m.contains(container))
    })
}

/// Whether a crash of this container is the liveness probe's doing (the probe rule speaks for it).
fn crash_is_liveness_kill(events: &[&Value], cs: &Value) -> bool {
    let last_code = cs.pointer("/lastState/terminated/exitCode").and_then(Value::as_i64).unwrap_or(0);
    let liveness_failing = events.iter().any(|e| s(e, "/reason") == "Unhealthy" && s(e, "/message").starts_with("Liveness probe failed"));
    killed_by_liveness(events, s(cs, "/name")) || (liveness_failing && matches!(last_code, 137 | 143))
}

/// The state of a crashing container, as evidence.
fn crash_state_evidence(pod: &Value, cs: &Value) -> Evidence {
    let last_code = cs.pointer("/lastState/terminated/exitCode").and_then(Value::as_i64).unwrap_or(0);
    ev(
        format!("{}/Pod/{} container {}", s(pod, "/metadata/namespace"), s(pod, "/metadata/name"), s(cs, "/name")),
        format!(
            "{}; last terminated: {} exit code {last_code}, restarts {}",
            if s(cs, "/state/waiting/reason").is_empty() { "running".to_owned() } else { format!("waiting: {}", s(cs, "/state/waiting/reason")) },
            s(cs, "/lastState/terminated/reason"),
            cs.get("restartCount").and_then(Value::as_u64).unwrap_or(0)
        ),
    )
}

/// A crashing container's log (the previous instance's when read) with its termination
/// message, which the kubelet keeps (or, with FallbackToLogsOnError, the log tail).
fn crash_text<'a>(obs: &Observations<'a>, pod: &Value, cs: &Value) -> (String, &'a str, String) {
    let (ns, pod_name, container) = (s(pod, "/metadata/namespace"), s(pod, "/metadata/name"), s(cs, "/name"));
    let (log, previous) = obs.log(ns, pod_name, container).unwrap_or(("", true));
    let log_src = format!("logs {ns}/{pod_name}/{container}{}", if previous { " (previous)" } else { "" });
    (format!("{log}\n{}", s(cs, "/lastState/terminated/message")), log, log_src)
}

/// A pod whose logs are being read and what is known about it.
struct Client<'c> {
    obs: &'c Observations<'c>,
    pod: &'c Value,
    workload: String,
    container: String,
    log_src: String,
    state: Evidence,
    crashed: bool,
}

/// Symptoms in a pod's logs that point outside it (RBAC, DNS, a dependency): from the
/// crash cause of a crashing container, or the first such line of a running one's log.
fn outward_symptoms<'c>(obs: &'c Observations<'c>, pod: &'c Value) -> Vec<(Client<'c>, Symptom)> {
    let (ns, pod_name) = (s(pod, "/metadata/namespace"), s(pod, "/metadata/name"));
    let events = obs.events_for("Pod", ns, pod_name);
    let mut out = vec![];
    for cs in container_statuses(pod) {
        let container = s(cs, "/name");
        let client = |log_src: String, state: Evidence, crashed: bool| Client { obs, pod, workload: workload_ref(obs, pod), container: container.to_owned(), log_src, state, crashed };
        match container_state(cs) {
            ContainerState::Crashing if !crash_is_liveness_kill(&events, cs) => {
                let (text, _, log_src) = crash_text(obs, pod, cs);
                if let Some(sy @ (Symptom::Rbac { .. } | Symptom::Dns { .. } | Symptom::Dependency { .. })) = logs::crash_cause(&text) {
                    out.push((client(log_src, crash_state_evidence(pod, cs), true), sy));
                }
            }
            ContainerState::Running => {
                let Some((log, false)) = obs.log(ns, pod_name, container) else { continue };
                let found = logs::symptoms(log).into_iter().find(|sy| matches!(sy, Symptom::Rbac { .. } | Symptom::Dns { .. } | Symptom::Dependency { host: Some(_), .. }));
                if let Some(sy) = found {
                    let state = ev(format!("{ns}/Pod/{pod_name} container {container}"), "running");
                    out.push((client(format!("logs {ns}/{pod_name}/{container}"), state, false), sy));
                }
            }
            _ => {}
        }
    }
    out
}

/// Workloads of `ns` whose pod template carries every label of `selector`.
fn workloads_selected<'a>(obs: &Observations<'a>, ns: &str, selector: &Map<String, Value>) -> Vec<&'a Value> {
    ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"]
        .iter()
        .flat_map(|k| obs.all(k))
        .filter(|w| s(w, "/metadata/namespace") == ns)
        .filter(|w| w.pointer("/spec/template/metadata/labels").and_then(Value::as_object).is_some_and(|l| k8s::map_selects(selector, l)))
        // A Deployment's ReplicaSets repeat it.
        .filter(|w| s(w, "/kind") != "ReplicaSet" || Observations::controller_of(w).is_none())
        .collect()
}

/// Ready endpoints of a Service, if its Endpoints or EndpointSlices were read.
fn service_endpoints(obs: &Observations<'_>, ns: &str, name: &str) -> Option<(usize, usize)> {
    if let Some(e) = obs.get("Endpoints", ns, name) {
        return Some(k8s::endpoint_addresses(e));
    }
    let slices: Vec<&Value> = obs.all("EndpointSlice").filter(|e| s(e, "/metadata/namespace") == ns && s(e, "/metadata/labels/kubernetes.io~1service-name") == name).collect();
    (!slices.is_empty()).then(|| slices.iter().map(|e| k8s::endpoint_addresses(e)).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1)))
}

fn probe_spec_evidence(pod: &Value, kind: &str) -> Vec<Evidence> {
    let Some(spec) = pod.get("spec") else { return vec![] };
    k8s::containers(spec)
        .filter_map(|c| c.get(kind).map(|p| ev(format!("{} container {} {kind}", workload_hint(pod), s(c, "/name")), k8s::describe_probe(spec, p))))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests;
