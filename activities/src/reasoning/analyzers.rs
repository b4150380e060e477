//! Rule analyzers: each reads the observations the way an SRE would and returns findings
//! that cite their evidence. They know Kubernetes, not our scenarios: every rule keys on
//! what the API server, kubelet, scheduler and controllers really write, and follows a
//! symptom to the object a human must change (a crash to the database scaled to zero, a
//! DNS error to the CoreDNS config, a 403 to the Role that lacks the verb).

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

/// One candidate root cause.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Taxonomy id.
    pub root_cause: RootCause,
    /// Object to change.
    pub resource: Option<String>,
    /// 0..1.
    pub confidence: f64,
    /// One sentence.
    pub summary: String,
    /// What supports it.
    pub evidence: Vec<Evidence>,
    /// What to do.
    pub recommendations: Vec<String>,
}

fn finding(root_cause: RootCause, resource: impl Into<Option<String>>, confidence: f64, summary: impl Into<String>, evidence: Vec<Evidence>, advice: impl Into<String>) -> Finding {
    Finding { root_cause, resource: resource.into(), confidence, summary: summary.into(), evidence, recommendations: vec![advice.into()] }
}

fn ev(source: impl Into<String>, detail: impl Into<String>) -> Evidence {
    Evidence { source: source.into(), detail: detail.into() }
}

/// Every finding the observations support, most confident first.
pub fn analyze(event: &StandardEvent, obs: &Observations<'_>) -> Vec<Finding> {
    let sc = scope::scope(event, obs);
    let mut out = vec![];
    informational(event, &mut out);
    for pod in &sc.pods {
        pod_findings(event, obs, pod, &mut out);
    }
    node_findings(obs, &sc, &mut out);
    for w in &sc.workloads {
        match s(w, "/kind") {
            "Job" => job_failed(obs, w, &mut out),
            "Deployment" => rollout_stuck(w, &mut out),
            _ => {}
        }
    }
    create_failures(obs, &sc, &mut out);
    hpa_findings(event, obs, &sc, &mut out);
    for svc in &sc.services {
        service_findings(event, obs, svc, &mut out);
    }
    ingress_findings(obs, &sc, &mut out);
    cpu_throttling(event, obs, &sc, &mut out);
    out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    out
}

fn informational(event: &StandardEvent, out: &mut Vec<Finding>) {
    let (summary, detail) = match event.alertname() {
        "Watchdog" => ("Watchdog is the always-firing heartbeat of the alerting pipeline; it firing means alerting works.", "alertname=Watchdog"),
        "InfoInhibitor" => ("InfoInhibitor only inhibits info alerts; it is not a problem on its own.", "alertname=InfoInhibitor"),
        _ if event.status == aetherius_core::AlertStatus::Resolved => ("The alert is already resolved.", "status=resolved"),
        _ => return,
    };
    out.push(finding(RootCause::NotAnIssue, None, 0.97, summary, vec![ev("alert", detail)], "No action needed."));
}

// ---------------------------------------------------------------------------------------
// Pods

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

static PROBE_TIMEOUT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)(context deadline exceeded|Client\.Timeout|timed out|timeout)").expect("regex"));

fn pod_findings(event: &StandardEvent, obs: &Observations<'_>, pod: &Value, out: &mut Vec<Finding>) {
    let ns = s(pod, "/metadata/namespace");
    let pod_name = s(pod, "/metadata/name");
    let workload = workload_ref(obs, pod);
    let pod_ref = format!("{ns}/Pod/{pod_name}");
    let events = obs.events_for("Pod", ns, pod_name);

    if s(pod, "/status/reason") == "Evicted" {
        let node = s(pod, "/spec/nodeName");
        out.push(finding(
            RootCause::NodePressureEviction,
            (!node.is_empty()).then(|| format!("Node/{node}")),
            0.88,
            format!("Pod {pod_name} was evicted by the kubelet of {node}: {}", s(pod, "/status/message")),
            vec![ev(format!("{pod_ref} status"), s(pod, "/status/message"))],
            "Free the node's resource or add capacity; set requests (memory, ephemeral-storage) so the scheduler accounts for real usage.",
        ));
    }

    let mut crashing_any = false;
    for cs in container_statuses(pod) {
        let container = s(cs, "/name");
        let spec = container_spec(pod, container);
        let waiting_reason = s(cs, "/state/waiting/reason");
        let waiting_message = s(cs, "/state/waiting/message");
        let last_reason = s(cs, "/lastState/terminated/reason");
        let last_code = cs.pointer("/lastState/terminated/exitCode").and_then(Value::as_i64);
        let restarts = cs.get("restartCount").and_then(Value::as_u64).unwrap_or(0);
        let src = format!("{pod_ref} container {container}");

        if last_reason == "OOMKilled" || s(cs, "/state/terminated/reason") == "OOMKilled" {
            let limit = spec.map(|c| s(c, "/resources/limits/memory")).unwrap_or("");
            // One OOM kill long ago on a container that runs fine is history, not the cause.
            let current = waiting_reason == "CrashLoopBackOff" || restarts > 1 || !cs.get("ready").and_then(Value::as_bool).unwrap_or(false);
            out.push(finding(
                RootCause::OomKilled,
                workload.clone(),
                if current { 0.95 } else { 0.55 },
                format!("Container {container} is killed for exceeding its memory limit{}.", if limit.is_empty() { String::new() } else { format!(" of {limit}") }),
                vec![ev(format!("{src} lastState"), format!("terminated: OOMKilled, exit code {}, restarts {restarts}", last_code.unwrap_or(137)))],
                format!("Raise the memory limit of {container} in {workload} (now {}) or fix the memory growth; check the usage trend first.", if limit.is_empty() { "unset" } else { limit }),
            ));
            crashing_any = true;
            continue;
        }
        match waiting_reason {
            "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" => {
                image_pull(pod, &workload, container, cs, &events, out);
                continue;
            }
            "CreateContainerError" | "RunContainerError" | "StartError" => {
                let cause = logs::crash_cause(waiting_message);
                let (rc, confidence) = match &cause {
                    Some(Symptom::BadConfig { .. }) | Some(Symptom::MissingVar { .. }) => (RootCause::CrashloopMissingConfig, 0.9),
                    _ => (RootCause::CrashloopMissingConfig, 0.7),
                };
                out.push(finding(
                    rc,
                    workload.clone(),
                    confidence,
                    format!("Container {container} cannot start: {waiting_message}"),
                    vec![ev(format!("{src} state"), format!("waiting: {waiting_reason}: {waiting_message}"))],
                    format!("Fix the command, args, working directory or mounts of {container} in {workload}."),
                ));
                continue;
            }
            "CreateContainerConfigError" => {
                let mut evidence = vec![ev(format!("{src} state"), format!("waiting: CreateContainerConfigError: {waiting_message}"))];
                evidence.extend(events.iter().filter(|e| s(e, "/reason") == "Failed").take(1).map(|e| ev(format!("event on {pod_ref}"), s(e, "/message"))));
                out.push(finding(
                    RootCause::ContainerConfigMissingRef,
                    workload.clone(),
                    0.93,
                    format!("Container {container} cannot be created: {waiting_message}"),
                    evidence,
                    format!("Create the missing object or key, or fix the reference in {workload}."),
                ));
                continue;
            }
            _ => {}
        }
        let crashing = waiting_reason == "CrashLoopBackOff" || (restarts > 0 && last_code.is_some_and(|c| c != 0));
        if crashing {
            crashing_any = true;
            crashloop(event, obs, pod, &workload, cs, spec, &events, out);
        } else if cs.pointer("/state/running").is_some()
            && let Some((log, false)) = obs.log(ns, pod_name, container)
        {
            running_log(event, obs, pod, &workload, container, log, out);
        }
    }

    volume_mounts(obs, pod, &workload, &events, out);
    if !crashing_any {
        probe_failures(obs, pod, &workload, &events, out);
    } else {
        liveness_only(obs, pod, &workload, &events, out);
    }
    if s(pod, "/status/phase") == "Pending" && pod.pointer("/spec/nodeName").is_none() {
        unschedulable(obs, pod, &workload, &events, out);
    }
}

static AUTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(unauthorized|authentication required|authorization failed|access denied|access to the requested resource is not authorized|insufficient_scope|no basic auth credentials|401|403 forbidden|denied: )").expect("regex")
});
static NOT_FOUND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(not found|manifest unknown|does not exist|no such image|name unknown|invalid reference format)").expect("regex")
});

fn image_pull(pod: &Value, workload: &str, container: &str, cs: &Value, events: &[&Value], out: &mut Vec<Finding>) {
    let image = s(cs, "/image");
    let image = if image.is_empty() { container_spec(pod, container).map(|c| s(c, "/image")).unwrap_or("") } else { image };
    let messages: Vec<&str> = events
        .iter()
        .filter(|e| matches!(s(e, "/reason"), "Failed" | "FailedToRetrieveImagePullSecret" | "ErrImagePull"))
        .map(|e| s(e, "/message"))
        .chain(std::iter::once(s(cs, "/state/waiting/message")))
        .filter(|m| !m.is_empty())
        .collect();
    let auth = messages.iter().find(|m| AUTH.is_match(m) && !m.contains("repository does not exist"));
    let missing_secret = events.iter().any(|e| s(e, "/reason") == "FailedToRetrieveImagePullSecret");
    let pod_ref = format!("{}/Pod/{}", s(pod, "/metadata/namespace"), s(pod, "/metadata/name"));
    let (root_cause, detail, advice, confidence) = if let Some(m) = auth.or(if missing_secret { messages.first() } else { None }) {
        (RootCause::ImagePullAuth, *m, format!("Give {workload} a valid imagePullSecret for the registry of {image} (check the secret exists in the namespace and its credentials)."), 0.92)
    } else if let Some(m) = messages.iter().find(|m| NOT_FOUND.is_match(m)) {
        (RootCause::ImagePullNotFound, *m, format!("Fix the image reference {image} in {workload}: the tag or repository does not exist."), 0.92)
    } else {
        // Only "Back-off pulling image": the events tell why; not conclusive before them.
        (RootCause::ImagePullNotFound, messages.first().copied().unwrap_or("image pull back-off"), format!("Check that {image} exists and is reachable from the nodes."), 0.6)
    };
    out.push(finding(
        root_cause,
        workload.to_owned(),
        confidence,
        format!("Image {image} of container {container} cannot be pulled."),
        vec![
            ev(format!("{pod_ref} container {container}"), format!("waiting: {} for image {image}", s(cs, "/state/waiting/reason"))),
            ev(format!("events of {pod_ref}"), detail),
        ],
        advice,
    ));
}

/// Whether the kubelet killed this container for a failing liveness probe.
fn killed_by_liveness(events: &[&Value], container: &str) -> bool {
    events.iter().any(|e| {
        let m = s(e, "/message");
        m.contains("failed liveness probe") && (container.is_empty() || m.contains(container))
    })
}

#[allow(clippy::too_many_arguments)]
fn crashloop(event: &StandardEvent, obs: &Observations<'_>, pod: &Value, workload: &str, cs: &Value, spec: Option<&Value>, events: &[&Value], out: &mut Vec<Finding>) {
    let ns = s(pod, "/metadata/namespace");
    let pod_name = s(pod, "/metadata/name");
    let container = s(cs, "/name");
    let last_code = cs.pointer("/lastState/terminated/exitCode").and_then(Value::as_i64).unwrap_or(0);
    // A liveness probe kill is not a crash of the app: the probe analyzer speaks for it.
    let liveness_failing = events.iter().any(|e| s(e, "/reason") == "Unhealthy" && s(e, "/message").starts_with("Liveness probe failed"));
    if killed_by_liveness(events, container) || (liveness_failing && matches!(last_code, 137 | 143)) {
        return;
    }
    let (log, previous) = obs.log(ns, pod_name, container).unwrap_or(("", true));
    let log_src = format!("logs {ns}/{pod_name}/{container}{}", if previous { " (previous)" } else { "" });
    // The kubelet keeps the termination message (or, with FallbackToLogsOnError, the log tail).
    let text = format!("{log}\n{}", s(cs, "/lastState/terminated/message"));
    let state_ev = ev(
        format!("{ns}/Pod/{pod_name} container {container}"),
        format!(
            "{}; last terminated: {} exit code {last_code}, restarts {}",
            if s(cs, "/state/waiting/reason").is_empty() { "running".to_owned() } else { format!("waiting: {}", s(cs, "/state/waiting/reason")) },
            s(cs, "/lastState/terminated/reason"),
            cs.get("restartCount").and_then(Value::as_u64).unwrap_or(0)
        ),
    );
    let loop_state = s(cs, "/state/waiting/reason") == "CrashLoopBackOff";
    let symptom = logs::crash_cause(&text);
    let ctx = Client { obs, pod, workload, container, log_src: &log_src, state: state_ev.clone(), crashed: true };
    match symptom {
        Some(Symptom::Rbac { .. }) | Some(Symptom::Dns { .. }) | Some(Symptom::Dependency { .. }) => {
            if let Some(f) = chain(event, &ctx, symptom.as_ref().expect("matched")) {
                out.push(f);
            }
        }
        Some(Symptom::MissingVar { line, var }) => {
            let declared: Vec<&str> = spec.and_then(|c| c.get("env")).and_then(Value::as_array).map(|env| env.iter().map(|e| s(e, "/name")).collect()).unwrap_or_default();
            let absent = !var.is_empty() && !declared.contains(&var.as_str());
            let mut evidence = vec![ev(log_src.clone(), line.trim()), state_ev];
            if absent {
                evidence.push(ev(format!("{workload} container {container} env"), format!("{var} is not among the declared env vars ({})", declared.join(", "))));
            }
            out.push(finding(
                RootCause::CrashloopMissingConfig,
                workload.to_owned(),
                if absent { 0.95 } else { 0.85 },
                format!("Container {container} exits at start: {var} is missing or invalid."),
                evidence,
                format!("Set {var} in {workload} (env or envFrom of container {container}), then let the rollout replace the pods."),
            ));
        }
        Some(Symptom::BadConfig { line }) => out.push(finding(
            RootCause::CrashloopMissingConfig,
            workload.to_owned(),
            0.86,
            format!("Container {container} exits at start on its configuration: {}", line.trim()),
            vec![ev(log_src, line.trim()), state_ev],
            "Fix the command, flags or config file the container starts with.",
        )),
        Some(Symptom::AppError { line }) => out.push(finding(
            RootCause::CrashloopAppError,
            workload.to_owned(),
            if loop_state { 0.85 } else { 0.7 },
            format!("Container {container} keeps crashing on an application error: {}", line.trim()),
            vec![ev(log_src, line.trim()), state_ev],
            "The application fails on its own: read the stack trace, fix the code or roll back to the last good version.",
        )),
        None => {
            // Only the exit code speaks.
            let (rc, confidence, why) = match last_code {
                127 => (RootCause::CrashloopMissingConfig, 0.8, "exit code 127: the command was not found in the image"),
                126 => (RootCause::CrashloopMissingConfig, 0.75, "exit code 126: the command is not executable"),
                139 => (RootCause::CrashloopAppError, 0.75, "exit code 139: segmentation fault"),
                134 => (RootCause::CrashloopAppError, 0.7, "exit code 134: the process aborted"),
                _ => (RootCause::CrashloopAppError, 0.4, "the container exits without saying why"),
            };
            let detail = if log.trim().is_empty() { format!("{why}; the log is empty") } else { format!("{why}; no error line in the log") };
            out.push(finding(
                rc,
                workload.to_owned(),
                confidence,
                format!("Container {container} exits with code {last_code}: {detail}."),
                vec![state_ev, ev(log_src, detail)],
                "Run the image by hand with the same command, env and mounts; add logging to the entrypoint.",
            ));
        }
    }
}

/// A pod whose logs are being read and what is known about it.
struct Client<'c> {
    obs: &'c Observations<'c>,
    pod: &'c Value,
    workload: &'c str,
    container: &'c str,
    log_src: &'c str,
    state: Evidence,
    crashed: bool,
}

/// Follows an RBAC, DNS or dependency symptom to the object to fix.
fn chain(event: &StandardEvent, c: &Client<'_>, symptom: &Symptom) -> Option<Finding> {
    match symptom {
        Symptom::Rbac { line, sa_namespace, sa_name, verb, resource, group, namespace } => Some(rbac_finding(c, line, sa_namespace, sa_name, verb, resource, group, namespace.as_deref())),
        Symptom::Dns { line, host } => Some(dns_finding(event, c, line, host.as_ref())),
        Symptom::Dependency { line, host, failure } => dependency_finding(event, c, line, host.as_ref(), *failure),
        _ => None,
    }
}

/// Current logs of a running container: what it says about its dependencies.
fn running_log(event: &StandardEvent, obs: &Observations<'_>, pod: &Value, workload: &str, container: &str, log: &str, out: &mut Vec<Finding>) {
    let ns = s(pod, "/metadata/namespace");
    let log_src = format!("logs {ns}/{}/{container}", s(pod, "/metadata/name"));
    let state = ev(format!("{ns}/Pod/{} container {container}", s(pod, "/metadata/name")), "running");
    let Some(symptom) = logs::symptoms(log).into_iter().find(|sy| matches!(sy, Symptom::Rbac { .. } | Symptom::Dns { .. } | Symptom::Dependency { host: Some(_), .. })) else { return };
    let c = Client { obs, pod, workload, container, log_src: &log_src, state, crashed: false };
    if let Some(mut f) = chain(event, &c, &symptom) {
        // The container still runs: what it cannot reach hurts its requests, not its life.
        if f.root_cause == RootCause::CrashloopDependencyUnavailable {
            f.confidence -= 0.1;
        }
        out.push(f);
    }
}

#[allow(clippy::too_many_arguments)]
fn rbac_finding(c: &Client<'_>, line: &str, sa_ns: &str, sa: &str, verb: &str, resource: &str, group: &str, namespace: Option<&str>) -> Finding {
    let obs = c.obs;
    let scope_txt = namespace.map(|n| format!("in namespace {n}")).unwrap_or_else(|| "at cluster scope".into());
    let what = format!("{verb} {resource}{}", if group.is_empty() { String::new() } else { format!(".{group}") });
    let mut evidence = vec![ev(c.log_src, line.trim()), c.state.clone()];
    let subject_matches = |b: &Value| {
        b.get("subjects").and_then(Value::as_array).into_iter().flatten().any(|sub| {
            s(sub, "/kind") == "ServiceAccount" && s(sub, "/name") == sa && (s(sub, "/namespace") == sa_ns || (s(sub, "/namespace").is_empty() && s(b, "/metadata/namespace") == sa_ns))
        })
    };
    let bindings: Vec<&Value> = obs
        .all("RoleBinding")
        .filter(|b| namespace.is_none_or(|n| s(b, "/metadata/namespace") == n))
        .chain(obs.all("ClusterRoleBinding"))
        .filter(|b| subject_matches(b))
        .collect();
    let listed = obs.all("RoleBinding").next().is_some() || obs.all("ClusterRoleBinding").next().is_some() || obs.executed.iter().any(|k| k.contains("rolebindings"));
    let (res_name, sub) = resource.split_once('/').map(|(r, s)| (r, Some(s))).unwrap_or((resource, None));
    let rule_covers = |r: &Value| {
        let has = |field: &str, want: &str| r.get(field).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).any(|x| x == want || x == "*");
        has("apiGroups", group) && (has("resources", resource) || (sub.is_none() && has("resources", res_name)))
    };
    let grants = |r: &Value| rule_covers(r) && r.get("verbs").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).any(|v| v == verb || v == "*") && r.get("resourceNames").and_then(Value::as_array).is_none_or(|n| n.is_empty() || !matches!(verb, "list" | "watch" | "create" | "deletecollection"));
    let mut bound_roles = vec![];
    for b in &bindings {
        let kind = s(b, "/roleRef/kind");
        let role_ns = if kind == "Role" { s(b, "/metadata/namespace") } else { "" };
        let binding_ref = resource_ref(Some(s(b, "/metadata/namespace")), s(b, "/kind"), s(b, "/metadata/name"));
        evidence.push(ev(binding_ref.clone(), format!("binds {kind} {} to ServiceAccount {sa_ns}/{sa}", s(b, "/roleRef/name"))));
        if let Some(role) = obs.get(kind, role_ns, s(b, "/roleRef/name")) {
            bound_roles.push((role, binding_ref));
        }
    }
    let rules_of = |role: &Value| role.get("rules").and_then(Value::as_array).cloned().unwrap_or_default();
    let granted = bound_roles.iter().any(|(r, _)| rules_of(r).iter().any(&grants));
    let partial = bound_roles.iter().find_map(|(r, _)| rules_of(r).into_iter().find(|rule| rule_covers(rule)).map(|rule| (*r, rule)));
    let role_ref = |r: &Value| resource_ref(Some(s(r, "/metadata/namespace")).filter(|n| !n.is_empty()), s(r, "/kind"), s(r, "/metadata/name"));
    let (resource_to_fix, confidence, detail) = if granted {
        (bound_roles.first().map(|(r, _)| role_ref(r)), 0.55, format!("a bound role now grants {what}; the denial may predate a fix"))
    } else if let Some((role, rule)) = partial {
        let verbs: Vec<&str> = rule.get("verbs").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        evidence.push(ev(role_ref(role), format!("grants [{}] on {resource}, not {verb}", verbs.join(", "))));
        (Some(role_ref(role)), 0.94, format!("{} grants [{}] on {resource} but not {verb}", role_ref(role), verbs.join(", ")))
    } else if let Some((role, _)) = bound_roles.first() {
        evidence.push(ev(role_ref(role), format!("has no rule for {resource}")));
        (Some(role_ref(role)), 0.9, format!("{} has no rule for {resource}", role_ref(role)))
    } else if !bindings.is_empty() {
        (Some(bindings.first().map(|b| role_ref_of_binding(b)).unwrap_or_default()), 0.82, "the bound role was not readable".into())
    } else if listed {
        (Some(format!("{sa_ns}/ServiceAccount/{sa}")), 0.88, format!("no RoleBinding or ClusterRoleBinding gives ServiceAccount {sa_ns}/{sa} any role"))
    } else {
        (Some(format!("{sa_ns}/ServiceAccount/{sa}")), 0.8, "the ServiceAccount's bindings are not read yet".into())
    };
    finding(
        RootCause::RbacForbidden,
        resource_to_fix.clone(),
        confidence,
        format!("ServiceAccount {sa_ns}/{sa} may not {what} {scope_txt}: {detail}."),
        evidence,
        format!("Grant {verb} on {resource} to ServiceAccount {sa_ns}/{sa} in {} (least privilege: only the verbs the app uses).", resource_to_fix.unwrap_or_default()),
    )
}

fn role_ref_of_binding(b: &Value) -> String {
    let kind = s(b, "/roleRef/kind");
    if kind == "Role" { resource_ref(Some(s(b, "/metadata/namespace")), kind, s(b, "/roleRef/name")) } else { format!("{kind}/{}", s(b, "/roleRef/name")) }
}

/// The cluster DNS Service (kube-dns: the name kubeadm, EKS, GKE and AKS give CoreDNS).
pub const DNS_NAMESPACE: &str = "kube-system";
/// Name of the cluster DNS Service.
pub const DNS_SERVICE: &str = "kube-dns";

fn dns_finding(event: &StandardEvent, c: &Client<'_>, line: &str, host: Option<&Host>) -> Finding {
    let obs = c.obs;
    let client_ns = s(c.pod, "/metadata/namespace");
    let mut evidence = vec![ev(c.log_src, line.trim()), c.state.clone()];
    let host_txt = host.map(|h| format!("{}{}", h.name, h.namespace.as_ref().map(|n| format!(".{n}")).unwrap_or_default())).unwrap_or_else(|| "a host".into());
    let advice_dns = "Fix CoreDNS (kube-system): its pods must run and its Corefile must parse; check `kubectl -n kube-system logs -l k8s-app=kube-dns`.";
    let rc = RootCause::DnsFailure;
    let Some(dns_svc) = obs.get("Service", DNS_NAMESPACE, DNS_SERVICE) else {
        if obs.missing.contains(&("Service".into(), DNS_NAMESPACE.into(), DNS_SERVICE.into())) {
            evidence.push(ev(format!("{DNS_NAMESPACE}/Service/{DNS_SERVICE}"), "the cluster DNS Service does not exist"));
            return finding(rc, format!("{DNS_NAMESPACE}/Service/{DNS_SERVICE}"), 0.8, format!("Name resolution of {host_txt} fails and the cluster DNS Service is missing."), evidence, advice_dns);
        }
        let conf = if obs.denied.iter().any(|d| d.contains(DNS_NAMESPACE)) { 0.72 } else { 0.7 };
        return finding(rc, c.workload.to_owned(), conf, format!("Container {} cannot resolve {host_txt}; the cluster DNS is not checked yet.", c.container), evidence, advice_dns);
    };
    let dns_pods = scope::pods_of_service(obs, dns_svc);
    let unhealthy: Vec<&Value> = dns_pods.iter().copied().filter(|p| !k8s::pod_ready(p)).collect();
    if !dns_pods.is_empty() && !unhealthy.is_empty() {
        let mut resource = workload_ref(obs, unhealthy[0]);
        let mut confidence = 0.88;
        let mut cause_txt = format!("{} of {} CoreDNS pods are not ready", unhealthy.len(), dns_pods.len());
        for p in &unhealthy {
            let (pns, pname) = (s(p, "/metadata/namespace"), s(p, "/metadata/name"));
            for cs in container_statuses(p) {
                let cname = s(cs, "/name");
                evidence.push(ev(format!("{pns}/Pod/{pname} container {cname}"), format!("ready={}, waiting: {}, restarts {}", cs.get("ready").and_then(Value::as_bool).unwrap_or(false), s(cs, "/state/waiting/reason"), cs.get("restartCount").and_then(Value::as_u64).unwrap_or(0))));
                let Some((log, prev)) = obs.log(pns, pname, cname) else { continue };
                let Some(sym) = logs::crash_cause(log) else { continue };
                evidence.push(ev(format!("logs {pns}/{pname}/{cname}{}", if prev { " (previous)" } else { "" }), sym.line().trim()));
                confidence = 0.93;
                cause_txt = format!("CoreDNS crashes: {}", sym.line().trim());
                if matches!(sym, Symptom::BadConfig { .. })
                    && let Some(cm) = p.pointer("/spec/volumes").and_then(Value::as_array).into_iter().flatten().find_map(|v| v.pointer("/configMap/name").and_then(Value::as_str))
                {
                    resource = format!("{pns}/ConfigMap/{cm}");
                }
                break;
            }
            if confidence > 0.9 {
                break;
            }
        }
        return finding(rc, resource.clone(), confidence, format!("{} cannot resolve {host_txt} because the cluster DNS is down: {cause_txt}.", c.container), evidence, format!("Fix {resource}; every pod's name resolution depends on it."));
    }
    let dns_selector = dns_svc.pointer("/spec/selector").and_then(Value::as_object).cloned().unwrap_or_default();
    let dns_pods_listed = !dns_selector.is_empty() && obs.ran(&aetherius_core::Command::list(&event.cluster_id, Some(DNS_NAMESPACE), "pods", Some(&k8s::selector_string(&dns_selector))));
    if dns_pods.is_empty() && dns_pods_listed {
        // No DNS pod at all: the workload behind kube-dns is scaled down or gone.
        evidence.push(ev(format!("{DNS_NAMESPACE}/Service/{DNS_SERVICE}"), format!("selector {} matches no pod", k8s::selector_string(&dns_selector))));
        let backing = workloads_selected(obs, DNS_NAMESPACE, &dns_selector);
        let (resource, conf) = match backing.first() {
            Some(w) => {
                let wref = resource_ref(Some(DNS_NAMESPACE), s(w, "/kind"), s(w, "/metadata/name"));
                evidence.push(ev(wref.clone(), format!("spec.replicas: {}", w.pointer("/spec/replicas").map(Value::to_string).unwrap_or_default())));
                (wref, 0.92)
            }
            None => (format!("{DNS_NAMESPACE}/Service/{DNS_SERVICE}"), 0.8),
        };
        return finding(rc, resource.clone(), conf, format!("{} cannot resolve {host_txt}: no CoreDNS pod runs.", c.container), evidence, format!("Bring {resource} back (scale it up); every pod's name resolution depends on it."));
    }
    let dns_healthy = !dns_pods.is_empty() || obs.get("Endpoints", DNS_NAMESPACE, DNS_SERVICE).is_some_and(|e| k8s::endpoint_addresses(e).0 > 0);
    if dns_healthy {
        evidence.push(ev(format!("{DNS_NAMESPACE}/Service/{DNS_SERVICE}"), format!("{} CoreDNS pods ready", dns_pods.len())));
        // An egress policy of the client's namespace that forgets port 53.
        let dns_labels: Map<String, Value> = dns_pods.first().map(|p| k8s::labels(p).clone()).unwrap_or_else(|| dns_selector.clone());
        let client_end = End { ns: client_ns, labels: k8s::labels(c.pod) };
        let dns_end = End { ns: DNS_NAMESPACE, labels: &dns_labels };
        if let Verdict::Blocked { policy, why } = policy_verdict(obs, "Egress", &client_end, &dns_end, Some((Some(53), Some("dns".into())))) {
            evidence.push(ev(policy.clone(), why.clone()));
            return finding(RootCause::NetworkPolicyBlocked, policy.clone(), 0.9, format!("{} cannot resolve {host_txt}: NetworkPolicy {policy} blocks its DNS traffic to CoreDNS ({why}).", c.container), evidence, format!("Allow egress to kube-system pods on UDP and TCP 53 in {policy}."));
        }
        let dns_policy = s(c.pod, "/spec/dnsPolicy");
        if matches!(dns_policy, "Default" | "None") {
            evidence.push(ev(format!("{client_ns}/Pod/{} spec", s(c.pod, "/metadata/name")), format!("dnsPolicy {dns_policy}: cluster names are not resolvable")));
            return finding(rc, c.workload.to_owned(), 0.88, format!("{} cannot resolve {host_txt}: its dnsPolicy {dns_policy} bypasses cluster DNS.", c.container), evidence, format!("Set dnsPolicy ClusterFirst in {}.", c.workload));
        }
        if let Some(h) = host {
            let hns = h.namespace.as_deref().unwrap_or(client_ns);
            if c.obs.missing.contains(&("Service".into(), hns.into(), h.name.clone())) {
                evidence.push(ev(format!("{hns}/Service/{}", h.name), "does not exist"));
                return finding(rc, c.workload.to_owned(), 0.88, format!("{} resolves {host_txt}, which names no Service: CoreDNS is healthy, the name is wrong.", c.container), evidence, format!("Fix the host name {} uses (the Service may have been renamed).", c.workload));
            }
        }
        return finding(rc, c.workload.to_owned(), 0.6, format!("{} cannot resolve {host_txt} although CoreDNS is ready.", c.container), evidence, "Check the name, the pod's dnsConfig, and network policies that may block UDP/TCP 53.");
    }
    finding(rc, c.workload.to_owned(), 0.72, format!("{} cannot resolve {host_txt}; CoreDNS pods are not read yet.", c.container), evidence, advice_dns)
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

fn dependency_finding(event: &StandardEvent, c: &Client<'_>, line: &str, host: Option<&Host>, failure: ConnectFailure) -> Option<Finding> {
    let obs = c.obs;
    let client_ns = s(c.pod, "/metadata/namespace");
    let mut evidence = vec![ev(c.log_src, line.trim()), c.state.clone()];
    let rc = RootCause::CrashloopDependencyUnavailable;
    let verb = if c.crashed { "crashes because" } else { "fails requests because" };
    let Some(h) = host else {
        return Some(finding(rc, c.workload.to_owned(), if c.crashed { 0.86 } else { 0.4 }, format!("{} {verb} a dependency is unreachable: {}", c.container, line.trim()), evidence, "Check the service it connects to, its endpoints and the address configured."));
    };
    let ns = h.namespace.as_deref().unwrap_or(client_ns);
    let svc_ref = format!("{ns}/Service/{}", h.name);
    if obs.missing.contains(&("Service".into(), ns.into(), h.name.clone())) {
        evidence.push(ev(svc_ref.clone(), "does not exist"));
        return Some(finding(rc, c.workload.to_owned(), if c.crashed { 0.85 } else { 0.6 }, format!("{} {verb} it connects to {}, which is not a Service in {ns}.", c.container, h.name), evidence, format!("Point {} at the right Service, or deploy the dependency.", c.workload)));
    }
    let Some(svc) = obs.get("Service", ns, &h.name) else {
        return Some(finding(rc, c.workload.to_owned(), if c.crashed { 0.8 } else { 0.45 }, format!("{} {verb} {} is unreachable; the Service is not read yet.", c.container, h.name), evidence, format!("Check Service {svc_ref} and its endpoints.")));
    };
    let Some((ready, not_ready)) = service_endpoints(obs, ns, &h.name) else {
        return Some(finding(rc, c.workload.to_owned(), if c.crashed { 0.8 } else { 0.45 }, format!("{} {verb} {} is unreachable; its endpoints are not read yet.", c.container, h.name), evidence, format!("Check the endpoints of {svc_ref}.")));
    };
    evidence.push(ev(format!("Endpoints of {svc_ref}"), format!("{ready} ready, {not_ready} not ready addresses")));
    if ready == 0 {
        let selector = svc.pointer("/spec/selector").and_then(Value::as_object).cloned().unwrap_or_default();
        let pods = scope::pods_of_service(obs, svc);
        let backing = workloads_selected(obs, ns, &selector);
        let (resource, conf, why) = if let Some(w) = backing.iter().find(|w| w.pointer("/spec/replicas").and_then(Value::as_i64) == Some(0)) {
            let wref = resource_ref(Some(ns), s(w, "/kind"), s(w, "/metadata/name"));
            evidence.push(ev(wref.clone(), "spec.replicas: 0 (scaled to zero)"));
            (wref.clone(), 0.95, format!("{wref}, which backs {svc_ref}, is scaled to 0"))
        } else if let Some(p) = pods.first() {
            let wref = workload_ref(obs, p);
            evidence.push(ev(format!("{ns}/Pod/{}", s(p, "/metadata/name")), format!("phase {}, not ready", s(p, "/status/phase"))));
            (wref.clone(), 0.85, format!("the pods of {wref} behind {svc_ref} are not ready"))
        } else if let Some(w) = backing.first() {
            let wref = resource_ref(Some(ns), s(w, "/kind"), s(w, "/metadata/name"));
            (wref.clone(), 0.85, format!("{wref} backs {svc_ref} but has no running pod"))
        } else if !selector.is_empty() && obs.ran(&aetherius_core::Command::list(&event.cluster_id, Some(ns), "pods", Some(&k8s::selector_string(&selector)))) {
            evidence.push(ev(svc_ref.clone(), format!("selector {} matches no pod", k8s::selector_string(&selector))));
            (svc_ref.clone(), 0.85, format!("{svc_ref} selects no pod"))
        } else {
            (svc_ref.clone(), 0.8, format!("{svc_ref} has no ready endpoint"))
        };
        return Some(finding(rc, resource.clone(), conf, format!("{} {verb} {} refuses connections: {why}.", c.container, h.name), evidence, format!("Restore {resource} (scale it up / fix its pods); {} recovers once {svc_ref} has ready endpoints.", c.workload)));
    }
    // The dependency has ready endpoints.
    if failure == ConnectFailure::Refused
        && let Some(f) = port_mismatch(obs, svc)
    {
        let mut f = f;
        f.evidence.splice(0..0, evidence);
        f.summary = format!("{} {verb} {}: {}", c.container, h.name, f.summary);
        return Some(f);
    }
    if failure != ConnectFailure::Refused {
        let server_pods = scope::pods_of_service(obs, svc);
        match network_policy_verdict(obs, c.pod, svc, &server_pods, h.port) {
            Verdict::Blocked { policy, why } => {
                evidence.push(ev(policy.clone(), why.clone()));
                return Some(finding(
                    RootCause::NetworkPolicyBlocked,
                    policy.clone(),
                    0.93,
                    format!("{} times out calling {} although {svc_ref} has {ready} ready endpoints: NetworkPolicy {policy} does not admit it ({why}).", c.container, h.name),
                    evidence,
                    format!("Fix {policy} so its ingress rule admits pods of {} from namespace {client_ns}.", c.workload),
                ));
            }
            Verdict::Allowed => evidence.push(ev(format!("NetworkPolicies of {ns}"), format!("admit {client_ns}/{}", s(c.pod, "/metadata/name")))),
            Verdict::NotRead => return Some(finding(rc, c.workload.to_owned(), if c.crashed { 0.75 } else { 0.45 }, format!("{} {verb} {} times out although {svc_ref} has ready endpoints; network policies are not read yet.", c.container, h.name), evidence, format!("Check NetworkPolicies in {ns} and the health of {svc_ref}'s pods."))),
        }
    }
    Some(finding(rc, c.workload.to_owned(), if c.crashed { 0.7 } else { 0.45 }, format!("{} {verb} {} is unreachable although {svc_ref} has {ready} ready endpoints.", c.container, h.name), evidence, format!("Check the pods behind {svc_ref} (overload, slow start) and the address {} uses.", c.workload)))
}

enum Verdict {
    Blocked { policy: String, why: String },
    Allowed,
    NotRead,
}

/// Labels of a namespace: its object's, plus the `kubernetes.io/metadata.name` label the
/// API server sets on every namespace.
fn namespace_labels(obs: &Observations<'_>, ns: &str) -> Map<String, Value> {
    let mut labels: Map<String, Value> = obs.get("Namespace", "", ns).map(|n| k8s::labels(n).clone()).unwrap_or_default();
    labels.entry("kubernetes.io/metadata.name").or_insert_with(|| Value::String(ns.to_owned()));
    labels
}

fn policies_read(obs: &Observations<'_>, ns: &str) -> bool {
    obs.executed.iter().any(|k| k.contains(&format!("|{ns}|get|networkpolicies")))
}

/// One side of a connection as NetworkPolicies see it.
struct End<'v> {
    ns: &'v str,
    labels: &'v Map<String, Value>,
}

/// Whether the NetworkPolicies of `subject.ns` that select `subject` admit traffic from
/// (`Ingress`) or to (`Egress`) `other` on `port` (container port number and name).
fn policy_verdict(obs: &Observations<'_>, direction: &str, subject: &End<'_>, other: &End<'_>, port: Option<(Option<i64>, Option<String>)>) -> Verdict {
    let ns = subject.ns;
    if !policies_read(obs, ns) {
        return Verdict::NotRead;
    }
    let selecting: Vec<&Value> = obs
        .all("NetworkPolicy")
        .filter(|p| s(p, "/metadata/namespace") == ns)
        .filter(|p| p.pointer("/spec/podSelector").is_some_and(|sel| k8s::label_selector_matches(sel, subject.labels)))
        .filter(|p| {
            let types: Vec<&str> = p.pointer("/spec/policyTypes").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
            // Without policyTypes a policy is Ingress, plus Egress when it has egress rules.
            types.contains(&direction) || (types.is_empty() && (direction == "Ingress" || p.pointer("/spec/egress").is_some()))
        })
        .collect();
    if selecting.is_empty() {
        return Verdict::Allowed;
    }
    let other_ns_labels = namespace_labels(obs, other.ns);
    let (rules_key, peers_key) = if direction == "Ingress" { ("/spec/ingress", "from") } else { ("/spec/egress", "to") };
    let port_ok = |rule: &Value| {
        let ports: Vec<&Value> = rule.get("ports").and_then(Value::as_array).into_iter().flatten().collect();
        ports.is_empty()
            || port.is_none()
            || ports.iter().any(|p| match (p.get("port"), &port) {
                (None, _) => true,
                (Some(Value::Number(n)), Some((num, _))) => num.is_none_or(|t| n.as_i64() == Some(t)),
                (Some(Value::String(name)), Some((_, tname))) => tname.as_ref().is_none_or(|t| t == name),
                _ => true,
            })
    };
    // (pod part matches, namespace part matches) for one peer; an ipBlock cannot be judged
    // without pod IPs, so it is given the benefit of the doubt.
    let peer_match = |peer: &Value| -> (bool, bool) {
        if peer.get("ipBlock").is_some() {
            return (true, true);
        }
        let pod_ok = peer.get("podSelector").is_none_or(|sel| k8s::label_selector_matches(sel, other.labels));
        let ns_ok = match peer.get("namespaceSelector") {
            Some(sel) => k8s::label_selector_matches(sel, &other_ns_labels),
            None => ns == other.ns,
        };
        (pod_ok, ns_ok)
    };
    let mut near: Option<(u8, String, String)> = None;
    for p in &selecting {
        let pname = resource_ref(Some(ns), "NetworkPolicy", s(p, "/metadata/name"));
        // A policy written for these very pods (not `{}`) is the one meant to admit the peer.
        let specific = p.pointer("/spec/podSelector").and_then(Value::as_object).is_some_and(|m| !m.is_empty()) as u8;
        let rules: Vec<&Value> = p.pointer(rules_key).and_then(Value::as_array).into_iter().flatten().collect();
        for rule in &rules {
            let peers: Vec<&Value> = rule.get(peers_key).and_then(Value::as_array).into_iter().flatten().collect();
            let peers_ok = peers.is_empty() || peers.iter().any(|peer| peer_match(peer) == (true, true));
            if peers_ok && port_ok(rule) {
                return Verdict::Allowed;
            }
            for peer in &peers {
                let (pod_ok, ns_ok) = peer_match(peer);
                // How close the rule comes: an explicit selector that matches, the right port.
                let explicit_pod = pod_ok && peer.get("podSelector").and_then(Value::as_object).is_some_and(|m| !m.is_empty());
                let explicit_ns = ns_ok && peer.get("namespaceSelector").and_then(Value::as_object).is_some_and(|m| !m.is_empty());
                let score = 1 + 2 * explicit_pod as u8 + 2 * explicit_ns as u8 + port_ok(rule) as u8 + specific;
                let why = if !ns_ok {
                    match peer.get("namespaceSelector") {
                        Some(sel) => format!(
                            "its namespaceSelector {} matches no label of namespace {} ({})",
                            sel.get("matchLabels").map(Value::to_string).unwrap_or_else(|| sel.to_string()),
                            other.ns,
                            k8s::selector_string(&other_ns_labels)
                        ),
                        None => format!("its podSelector only covers namespace {ns}, the peer runs in {}", other.ns),
                    }
                } else if !pod_ok {
                    format!("its podSelector {} does not match the peer's labels ({})", peer.get("podSelector").map(Value::to_string).unwrap_or_default(), k8s::selector_string(other.labels))
                } else {
                    format!("its ports do not include port {}", port.as_ref().and_then(|(n, name)| n.map(|n| n.to_string()).or(name.clone())).unwrap_or_default())
                };
                if near.as_ref().is_none_or(|(best, _, _)| score > *best) {
                    near = Some((score, pname.clone(), why));
                }
            }
            if peers.is_empty() && near.as_ref().is_none_or(|(best, _, _)| *best < 1 + specific) {
                near = Some((1 + specific, pname.clone(), format!("its {} rule does not include the port", direction.to_lowercase())));
            }
        }
        if rules.is_empty() && near.is_none() {
            near = Some((0, pname.clone(), format!("it selects these pods and allows no {} traffic (default deny), and no other policy admits the peer", direction.to_lowercase())));
        }
    }
    match near {
        Some((_, policy, why)) => Verdict::Blocked { policy, why },
        None => Verdict::Blocked { policy: resource_ref(Some(ns), "NetworkPolicy", s(selecting[0], "/metadata/name")), why: format!("no {} rule admits the peer", direction.to_lowercase()) },
    }
}

/// Whether NetworkPolicies let `client` reach the pods of `svc`: ingress at the server's
/// namespace, then egress at the client's.
fn network_policy_verdict(obs: &Observations<'_>, client: &Value, svc: &Value, server_pods: &[&Value], port: Option<u16>) -> Verdict {
    let server_labels: Map<String, Value> = server_pods.first().map(|p| k8s::labels(p).clone()).unwrap_or_else(|| svc.pointer("/spec/selector").and_then(Value::as_object).cloned().unwrap_or_default());
    let server_spec = server_pods.first().and_then(|p| p.get("spec"));
    // The container port the connection lands on.
    let target = svc.pointer("/spec/ports").and_then(Value::as_array).and_then(|ports| {
        let p = ports.iter().find(|p| port.is_none_or(|want| p.get("port").and_then(Value::as_i64) == Some(want as i64))).or(ports.first())?;
        let tp = p.get("targetPort").cloned().unwrap_or_else(|| p.get("port").cloned().unwrap_or(Value::Null));
        let number = match server_spec {
            Some(spec) => k8s::resolve_port(spec, &tp),
            None => tp.as_i64(),
        };
        let name = match &tp {
            Value::String(n) => Some(n.clone()),
            _ => server_spec.and_then(|spec| k8s::container_ports(spec).into_iter().find(|(n, _, _)| Some(*n) == number).map(|(_, name, _)| name)),
        };
        Some((number, name))
    });
    let server = End { ns: s(svc, "/metadata/namespace"), labels: &server_labels };
    let client_end = End { ns: s(client, "/metadata/namespace"), labels: k8s::labels(client) };
    match policy_verdict(obs, "Ingress", &server, &client_end, target.clone()) {
        Verdict::Allowed => policy_verdict(obs, "Egress", &client_end, &server, target),
        other => other,
    }
}

static MOUNT_MISSING: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"(?i)(secret|configmap|persistentvolumeclaim)s? "([^"]+)" not found"#).expect("regex"));

fn volume_mounts(obs: &Observations<'_>, pod: &Value, workload: &str, events: &[&Value], out: &mut Vec<Finding>) {
    let started = container_statuses(pod).filter(|c| !s(c, "/name").is_empty()).all(|c| c.pointer("/state/running").is_some() || c.pointer("/state/terminated").is_some());
    if started && s(pod, "/status/phase") == "Running" {
        return;
    }
    let Some(e) = events.iter().rev().find(|e| matches!(s(e, "/reason"), "FailedMount" | "FailedAttachVolume" | "FailedMapVolume")) else { return };
    let message = s(e, "/message");
    let pod_ref = format!("{}/Pod/{}", s(pod, "/metadata/namespace"), s(pod, "/metadata/name"));
    let mut evidence = vec![ev(format!("{} on {pod_ref}", s(e, "/reason")), message)];
    let (confidence, what) = match MOUNT_MISSING.captures(message) {
        Some(c) => {
            let kind = match c[1].to_lowercase().as_str() {
                "secret" => "Secret",
                "configmap" => "ConfigMap",
                _ => "PersistentVolumeClaim",
            };
            let ns = s(pod, "/metadata/namespace");
            if obs.missing.contains(&(kind.to_owned(), ns.to_owned(), c[2].to_owned())) {
                evidence.push(ev(format!("{ns}/{kind}/{}", &c[2]), "get: not found"));
            }
            (0.93, format!("{kind} {} does not exist", &c[2]))
        }
        None => (0.85, "the volume cannot be attached or mounted".to_owned()),
    };
    out.push(finding(
        RootCause::VolumeMountFailed,
        workload.to_owned(),
        confidence,
        format!("Pod {} cannot start: a volume fails to mount ({what}).", s(pod, "/metadata/name")),
        evidence,
        format!("Create the missing object or fix the volume reference in {workload}."),
    ));
}

/// Usage and limit (millicores) of a container whose CPU use sits at its limit.
fn cpu_saturated(obs: &Observations<'_>, pod: &Value, container: &str) -> Option<(f64, f64)> {
    let limit = container_spec(pod, container).and_then(|c| k8s::cpu_millis(s(c, "/resources/limits/cpu")))?;
    let usage = pod_cpu_usage(obs, pod, container)?;
    (usage >= 0.9 * limit).then_some((usage, limit))
}

fn pod_cpu_usage(obs: &Observations<'_>, pod: &Value, container: &str) -> Option<f64> {
    let m = obs.get("PodMetrics", s(pod, "/metadata/namespace"), s(pod, "/metadata/name"))?;
    m.get("containers").and_then(Value::as_array)?.iter().find(|c| s(c, "/name") == container).and_then(|c| k8s::cpu_millis(s(c, "/usage/cpu")))
}

/// Whether probe timeouts are better explained by CPU starvation: `Some(true)` when the
/// container's usage sits at its CPU limit, `None` when its usage was not read.
fn starved(obs: &Observations<'_>, pod: &Value, container_hint: &str, message: &str) -> Option<bool> {
    if !PROBE_TIMEOUT.is_match(message) {
        return Some(false);
    }
    let containers: Vec<&str> = container_statuses(pod).map(|c| s(c, "/name")).filter(|c| container_hint.is_empty() || *c == container_hint).collect();
    let limited: Vec<&str> = containers.into_iter().filter(|c| container_spec(pod, c).is_some_and(|spec| !s(spec, "/resources/limits/cpu").is_empty())).collect();
    if limited.is_empty() {
        return Some(false);
    }
    obs.get("PodMetrics", s(pod, "/metadata/namespace"), s(pod, "/metadata/name"))?;
    Some(limited.iter().any(|c| cpu_saturated(obs, pod, c).is_some()))
}

fn probe_spec_evidence(pod: &Value, kind: &str) -> Vec<Evidence> {
    let Some(spec) = pod.get("spec") else { return vec![] };
    k8s::containers(spec)
        .filter_map(|c| c.get(kind).map(|p| ev(format!("{} container {} {kind}", workload_hint(pod), s(c, "/name")), k8s::describe_probe(spec, p))))
        .collect()
}

fn workload_hint(pod: &Value) -> String {
    format!("{}/Pod/{}", s(pod, "/metadata/namespace"), s(pod, "/metadata/name"))
}

fn liveness_only(obs: &Observations<'_>, pod: &Value, workload: &str, events: &[&Value], out: &mut Vec<Finding>) {
    liveness(obs, pod, workload, events, out);
}

fn liveness(obs: &Observations<'_>, pod: &Value, workload: &str, events: &[&Value], out: &mut Vec<Finding>) {
    let pod_ref = workload_hint(pod);
    let Some(e) = events.iter().rev().find(|e| s(e, "/reason") == "Unhealthy" && s(e, "/message").starts_with("Liveness probe failed")) else { return };
    let message = s(e, "/message");
    let restarted = container_statuses(pod).any(|c| c.get("restartCount").and_then(Value::as_u64).unwrap_or(0) > 0);
    let killed = killed_by_liveness(events, "") || restarted;
    let confidence = match starved(obs, pod, "", message) {
        Some(true) => return,
        None => 0.7,
        Some(false) if killed => 0.9,
        Some(false) => 0.75,
    };
    let mut evidence = vec![ev(format!("events of {pod_ref}"), message)];
    evidence.extend(events.iter().filter(|e| s(e, "/message").contains("failed liveness probe")).take(1).map(|e| ev(format!("events of {pod_ref}"), s(e, "/message"))));
    evidence.extend(probe_spec_evidence(pod, "livenessProbe"));
    out.push(finding(
        RootCause::LivenessProbeFailing,
        workload.to_owned(),
        confidence,
        format!("The kubelet restarts the container because its liveness probe fails: {message}"),
        evidence,
        format!("Check the probe's path, port and timeouts in {workload} against what the app serves, and its startup time (initialDelaySeconds / startupProbe)."),
    ));
}

static STATUS_CODE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"statuscode: (\d{3})").expect("regex"));

fn probe_failures(obs: &Observations<'_>, pod: &Value, workload: &str, events: &[&Value], out: &mut Vec<Finding>) {
    liveness(obs, pod, workload, events, out);
    let pod_ref = workload_hint(pod);
    let running_unready = s(pod, "/status/phase") == "Running" && !k8s::pod_ready(pod) && container_statuses(pod).any(|c| c.pointer("/state/running").is_some() && !c.get("ready").and_then(Value::as_bool).unwrap_or(false));
    if !running_unready {
        return;
    }
    let Some(e) = events.iter().rev().find(|e| s(e, "/reason") == "Unhealthy" && s(e, "/message").starts_with("Readiness probe failed")) else { return };
    let message = s(e, "/message");
    let code = STATUS_CODE.captures(message).and_then(|c| c[1].parse::<u16>().ok());
    let confidence = match (starved(obs, pod, "", message), code) {
        (Some(true), _) => return,
        (None, _) => 0.7,
        // 5xx: the app answers but says it is not ready, often for a dependency.
        (_, Some(c)) if c >= 500 => 0.75,
        (_, Some(_)) => 0.92,
        _ if message.contains("connection refused") => 0.88,
        _ => 0.85,
    };
    let mut evidence = vec![ev(format!("events of {pod_ref}"), message)];
    evidence.extend(probe_spec_evidence(pod, "readinessProbe"));
    let why = match code {
        Some(404) => "the probe path does not exist in the app (404)".to_owned(),
        Some(c) => format!("the app answers the probe with {c}"),
        None => message.trim_start_matches("Readiness probe failed: ").to_owned(),
    };
    out.push(finding(
        RootCause::ReadinessProbeFailing,
        workload.to_owned(),
        confidence,
        format!("Containers run but never become Ready: the readiness probe fails ({why})."),
        evidence,
        format!("Compare the readiness probe of {workload} with the port and path the app serves; check what the app needs before it is ready."),
    ));
}

// ---------------------------------------------------------------------------------------
// Scheduling

static SCHED_REASON: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(\d+) (node\(s\) (?:[^,.{]|\{[^}]*\})+|Insufficient [a-zA-Z0-9./-]+|Too many pods)").expect("regex"));

/// Scheduler filter stage of a reason: later stages mean the node passed the earlier ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Taint,
    NodeAffinity,
    Ports,
    Resources,
    Volume,
    PodAffinity,
}

fn stage_of(reason: &str) -> Option<Stage> {
    let l = reason.to_ascii_lowercase();
    Some(if l.starts_with("insufficient") || l.starts_with("too many pods") || l.contains("were unschedulable") {
        Stage::Resources
    } else if l.contains("free ports") {
        Stage::Ports
    } else if l.contains("pod affinity") || l.contains("pod anti-affinity") || l.contains("topology spread") {
        Stage::PodAffinity
    } else if l.contains("taint") {
        // Control-plane and node-health taints are by design; they explain no workload pod.
        if l.contains("control-plane") || l.contains("master") || l.contains("node-role.kubernetes.io/") || l.contains("node.kubernetes.io/") {
            return None;
        }
        Stage::Taint
    } else if l.contains("affinity") || l.contains("selector") {
        Stage::NodeAffinity
    } else if l.contains("persistentvolumeclaim") || l.contains("volume node affinity") || l.contains("volume zone") || l.contains("bind") {
        Stage::Volume
    } else {
        return None;
    })
}

fn normalize_key(k: &str) -> String {
    k.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase()
}

fn unschedulable(obs: &Observations<'_>, pod: &Value, workload: &str, events: &[&Value], out: &mut Vec<Finding>) {
    let pod_ref = workload_hint(pod);
    let condition = k8s::condition(pod, "PodScheduled").filter(|c| s(c, "/status") == "False").map(|c| s(c, "/message"));
    let event = events.iter().rev().find(|e| s(e, "/reason") == "FailedScheduling").map(|e| s(e, "/message"));
    let Some(message) = event.or(condition).filter(|m| !m.is_empty()) else { return };
    // Only the part before "preemption:" describes the nodes.
    let nodes_part = message.split("preemption:").next().unwrap_or(message);
    let reasons: Vec<(u64, String, Stage)> = SCHED_REASON
        .captures_iter(nodes_part)
        .filter_map(|c| {
            let r = c[2].to_owned();
            stage_of(&r).map(|st| (c[1].parse().unwrap_or(0), r, st))
        })
        .collect();
    let mut evidence = vec![ev(format!("FailedScheduling on {pod_ref}"), message)];

    // With the nodes at hand, replay the scheduler's selection and taint filters.
    let nodes: Vec<&Value> = obs.all("Node").filter(|n| !n.pointer("/spec/unschedulable").and_then(Value::as_bool).unwrap_or(false)).collect();
    let selects = pod.pointer("/spec/nodeSelector").is_some() || pod.pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution").is_some();
    let mut simulated: Option<Stage> = None;
    if !nodes.is_empty() {
        let eligible: Vec<&Value> = nodes.iter().copied().filter(|n| k8s::node_selection_misses(pod, n).is_empty()).collect();
        if eligible.is_empty() && selects {
            simulated = Some(Stage::NodeAffinity);
            let mut misses: Vec<String> = nodes.iter().flat_map(|n| k8s::node_selection_misses(pod, n)).collect();
            misses.sort();
            misses.dedup();
            evidence.push(ev(format!("{pod_ref} spec"), format!("no node satisfies: {}", misses.join("; "))));
            // A near-identical label key on the nodes is the classic typo.
            let wanted: Vec<String> = pod
                .pointer("/spec/nodeSelector")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(k, _)| k.clone())
                .chain(
                    pod.pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .flat_map(|t| t.get("matchExpressions").and_then(Value::as_array).into_iter().flatten())
                        .map(|e| s(e, "/key").to_owned()),
                )
                .collect();
            for key in wanted {
                if nodes.iter().any(|n| k8s::labels(n).contains_key(&key)) {
                    continue;
                }
                let similar: Vec<String> = nodes
                    .iter()
                    .flat_map(|n| k8s::labels(n).iter())
                    .filter(|(k, _)| normalize_key(k) == normalize_key(&key))
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let detail = if similar.is_empty() { format!("no node has the label key {key}") } else { format!("no node has the label key {key}; nodes carry {}", similar.join(", ")) };
                evidence.push(ev("node labels", detail));
            }
        } else if !eligible.is_empty() {
            let tainted: Vec<(String, Vec<String>)> = eligible.iter().map(|n| (s(n, "/metadata/name").to_owned(), k8s::untolerated_taints(pod, n))).collect();
            let workload_taints = |t: &Vec<String>| t.iter().any(|x| !x.starts_with("node-role.kubernetes.io/") && !x.starts_with("node.kubernetes.io/"));
            if tainted.iter().all(|(_, t)| !t.is_empty()) && tainted.iter().any(|(_, t)| workload_taints(t)) {
                simulated = Some(Stage::Taint);
                for (n, t) in tainted.iter().filter(|(_, t)| workload_taints(t)).take(3) {
                    evidence.push(ev(format!("Node/{n}"), format!("untolerated taint {}", t.join(", "))));
                }
            }
        }
    }
    let stage = simulated.or_else(|| {
        // Nodes counted under a later filter passed the earlier ones: those are the nodes the
        // pod was meant for, and their reason is the blocker.
        let late = reasons.iter().filter(|(_, _, st)| *st >= Stage::Ports).max_by_key(|(_, _, st)| *st).map(|(_, _, st)| *st);
        late.or_else(|| {
            let count = |want: Stage| reasons.iter().filter(|(_, _, st)| *st == want).map(|(c, _, _)| *c).sum::<u64>();
            match (count(Stage::Taint), count(Stage::NodeAffinity)) {
                (0, 0) => None,
                (t, a) if t > a => Some(Stage::Taint),
                _ => Some(Stage::NodeAffinity),
            }
        })
    });
    let stage = match stage {
        Some(st) => st,
        None if message.contains("unbound immediate PersistentVolumeClaims") || message.contains("has unbound") => Stage::Volume,
        None => return,
    };
    let owner_kind = obs.workload_of(pod).0;
    let (rc, advice, mut confidence) = match stage {
        Stage::Resources => (RootCause::PendingInsufficientResources, format!("Lower the requests of {workload} to what it needs, or add node capacity (cluster autoscaler / node pool)."), 0.9),
        Stage::Taint => (RootCause::PendingTaint, format!("Add the matching toleration to {workload}, or schedule it on nodes without that taint."), 0.9),
        Stage::NodeAffinity => (RootCause::PendingNodeSelectorAffinity, format!("Fix the nodeSelector / affinity of {workload} to match labels that nodes really carry."), if simulated.is_some() { 0.93 } else { 0.88 }),
        Stage::PodAffinity => {
            let rules = pod.pointer("/spec/affinity/podAntiAffinity").or_else(|| pod.pointer("/spec/affinity/podAffinity"));
            if let Some(r) = rules {
                evidence.push(ev(format!("{pod_ref} spec affinity"), r.to_string()));
            }
            (RootCause::PendingNodeSelectorAffinity, format!("Relax the pod (anti-)affinity of {workload} (preferred instead of required, or a wider topologyKey), or add nodes."), 0.88)
        }
        Stage::Ports => {
            let host_ports: Vec<String> = pod.get("spec").map(k8s::containers).into_iter().flatten().flat_map(|c| c.get("ports").and_then(Value::as_array).into_iter().flatten()).filter_map(|p| p.get("hostPort").and_then(Value::as_i64)).map(|p| p.to_string()).collect();
            if !host_ports.is_empty() {
                evidence.push(ev(format!("{pod_ref} spec"), format!("hostPort {}", host_ports.join(", "))));
            }
            if owner_kind == "Deployment"
                && let Some(d) = obs.get("Deployment", s(pod, "/metadata/namespace"), &obs.workload_of(pod).2)
            {
                let ru = d.pointer("/spec/strategy/rollingUpdate");
                evidence.push(ev(format!("{workload} strategy"), format!(
                    "{} maxSurge {}, maxUnavailable {}",
                    s(d, "/spec/strategy/type"),
                    ru.and_then(|r| r.get("maxSurge")).map(Value::to_string).unwrap_or_else(|| "25%".into()),
                    ru.and_then(|r| r.get("maxUnavailable")).map(Value::to_string).unwrap_or_else(|| "25%".into())
                )));
            }
            if owner_kind == "Deployment" {
                (RootCause::RolloutStuck, format!("The surge pod needs a node whose host ports are free: set maxSurge 0 / maxUnavailable 1 in {workload}, drop hostPort, or add a node."), 0.88)
            } else {
                (RootCause::PendingInsufficientResources, format!("Free the host ports {workload} asks for, or add nodes."), 0.8)
            }
        }
        Stage::Volume => (RootCause::PendingPvcUnbound, "Make the PersistentVolumeClaim bindable: a StorageClass that exists and provisions, or a matching PV.".into(), 0.9),
    };
    if rc == RootCause::PendingPvcUnbound {
        // The claim says why it stays unbound; without it the finding is not conclusive.
        let claims = claim_evidence(obs, pod);
        confidence = if claims.is_empty() { 0.8 } else { 0.92 };
        evidence.extend(claims);
    }
    out.push(finding(rc, workload.to_owned(), confidence, format!("The pod cannot be scheduled: {}", nodes_part.trim().trim_end_matches('.')), evidence, advice));
}

/// For each PersistentVolumeClaim the pod mounts that is not Bound: its phase, class, the
/// provisioner's events, and whether the StorageClass exists.
fn claim_evidence(obs: &Observations<'_>, pod: &Value) -> Vec<Evidence> {
    let ns = s(pod, "/metadata/namespace");
    let mut out = vec![];
    let claims = pod.pointer("/spec/volumes").and_then(Value::as_array).into_iter().flatten().filter_map(|v| v.pointer("/persistentVolumeClaim/claimName").and_then(Value::as_str));
    for claim in claims {
        let Some(pvc) = obs.get("PersistentVolumeClaim", ns, claim) else { continue };
        if s(pvc, "/status/phase") == "Bound" {
            continue;
        }
        let class = s(pvc, "/spec/storageClassName");
        let src = format!("{ns}/PersistentVolumeClaim/{claim}");
        out.push(ev(src.clone(), format!("phase {}, storageClassName {}", s(pvc, "/status/phase"), if class.is_empty() { "(default)" } else { class })));
        for e in obs.events_for("PersistentVolumeClaim", ns, claim).iter().filter(|e| s(e, "/type") == "Warning").take(2) {
            out.push(ev(format!("{} on {src}", s(e, "/reason")), s(e, "/message")));
        }
        if !class.is_empty() && obs.missing.contains(&("StorageClass".to_owned(), String::new(), class.to_owned())) {
            out.push(ev(format!("StorageClass/{class}"), format!("StorageClass {class:?} does not exist")));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Nodes

fn node_findings(obs: &Observations<'_>, sc: &Scope<'_>, out: &mut Vec<Finding>) {
    let mut names: Vec<String> = vec![];
    if let Some(t) = sc.target.as_ref().filter(|t| t.kind == "Node") {
        names.push(t.name.clone());
    }
    // Nodes that host pods of the alert matter when those pods are lost or evicted there.
    for p in &sc.pods {
        let node = s(p, "/spec/nodeName");
        let affected = matches!(s(p, "/status/phase"), "Unknown" | "Failed") || s(p, "/status/reason") == "NodeLost" || p.pointer("/metadata/deletionTimestamp").is_some() || !k8s::pod_ready(p);
        if !node.is_empty() && affected && !names.iter().any(|n| n == node) {
            names.push(node.to_owned());
        }
    }
    let is_target = |n: &str| sc.target.as_ref().is_some_and(|t| t.kind == "Node" && t.name == n);
    for name in names {
        let Some(node) = obs.get("Node", "", &name) else { continue };
        if let Some(c) = k8s::condition(node, "Ready").filter(|c| s(c, "/status") != "True") {
            out.push(finding(
                RootCause::NodeNotReady,
                format!("Node/{name}"),
                if is_target(&name) { 0.85 } else { 0.8 },
                format!("Node {name} is not Ready ({}): {}", s(c, "/reason"), s(c, "/message")),
                vec![ev(format!("Node/{name} condition Ready"), format!("{} {} {}", s(c, "/status"), s(c, "/reason"), s(c, "/message")))],
                format!("Check the kubelet and container runtime on {name} (journalctl -u kubelet), its network and its cloud instance; drain it if it does not recover."),
            ));
            continue;
        }
        let pressures: Vec<&Value> = ["MemoryPressure", "DiskPressure", "PIDPressure"].iter().filter_map(|t| k8s::condition(node, t)).filter(|c| s(c, "/status") == "True").collect();
        if pressures.is_empty() {
            continue;
        }
        let mut evidence: Vec<Evidence> = pressures.iter().map(|c| ev(format!("Node/{name} condition {}", s(c, "/type")), format!("{}=True ({}): {}", s(c, "/type"), s(c, "/reason"), s(c, "/message")))).collect();
        for t in node.pointer("/spec/taints").and_then(Value::as_array).into_iter().flatten().filter(|t| s(t, "/key").ends_with("-pressure")) {
            evidence.push(ev(format!("Node/{name} taint"), k8s::describe_taint(t)));
        }
        let node_events: Vec<&Value> = obs.events_for("Node", "", &name).into_iter().filter(|e| s(e, "/type") == "Warning").collect();
        for e in node_events.iter().rev().take(3) {
            evidence.push(ev(format!("{} on Node/{name}", s(e, "/reason")), s(e, "/message")));
        }
        let evicted: Vec<&Value> = obs.all("Pod").filter(|p| s(p, "/spec/nodeName") == name && s(p, "/status/reason") == "Evicted").collect();
        for p in evicted.iter().take(3) {
            evidence.push(ev(format!("{}/Pod/{} status", s(p, "/metadata/namespace"), s(p, "/metadata/name")), format!("Evicted: {}", s(p, "/status/message"))));
        }
        let evictions = !evicted.is_empty() || node_events.iter().any(|e| matches!(s(e, "/reason"), "EvictionThresholdMet" | "Evicted"));
        let kinds: Vec<&str> = pressures.iter().map(|c| s(c, "/type")).collect();
        out.push(finding(
            RootCause::NodePressureEviction,
            format!("Node/{name}"),
            if evictions { 0.92 } else { 0.8 },
            format!("Node {name} is under {} and the kubelet evicts pods ({} evicted).", kinds.join(", "), evicted.len()),
            evidence,
            format!("Find what fills {name} (`kubectl describe node {name}`, the largest pods' usage, hostPath and log volumes), free it, and set requests/limits so it cannot recur."),
        ));
    }
}

fn job_failed(obs: &Observations<'_>, job: &Value, out: &mut Vec<Finding>) {
    let Some(c) = k8s::condition(job, "Failed").filter(|c| s(c, "/status") == "True") else { return };
    let ns = s(job, "/metadata/namespace");
    let r = resource_ref(Some(ns), "Job", s(job, "/metadata/name"));
    let mut evidence = vec![ev(format!("{r} condition Failed"), format!("{}: {}", s(c, "/reason"), s(c, "/message")))];
    // Why its pods failed, from their logs.
    let mut why = String::new();
    for p in scope::pods_of_workload(obs, job) {
        for cs in container_statuses(p) {
            if let Some((log, _)) = obs.log(ns, s(p, "/metadata/name"), s(cs, "/name"))
                && let Some(sym) = logs::crash_cause(log)
            {
                evidence.push(ev(format!("logs {ns}/{}/{}", s(p, "/metadata/name"), s(cs, "/name")), sym.line().trim()));
                why = format!(": {}", sym.line().trim());
                break;
            }
        }
        if !why.is_empty() {
            break;
        }
    }
    out.push(finding(
        RootCause::JobFailed,
        r,
        if why.is_empty() { 0.85 } else { 0.9 },
        format!("Job failed: {} ({}){why}", s(c, "/reason"), s(c, "/message")),
        evidence,
        "Read the logs of the Job's last failed pod; raise backoffLimit / activeDeadlineSeconds only if the work legitimately needs it.",
    ));
}

fn rollout_stuck(deploy: &Value, out: &mut Vec<Finding>) {
    let Some(c) = k8s::condition(deploy, "Progressing").filter(|c| s(c, "/reason") == "ProgressDeadlineExceeded") else { return };
    let r = resource_ref(Some(s(deploy, "/metadata/namespace")), "Deployment", s(deploy, "/metadata/name"));
    out.push(finding(
        RootCause::RolloutStuck,
        r.clone(),
        0.5,
        format!("Rollout exceeded its progress deadline: {}", s(c, "/message")),
        vec![ev(format!("{r} condition Progressing"), s(c, "/message"))],
        "Look at the new ReplicaSet's pods for why they do not become available; roll back if the release is bad.",
    ));
}

static QUOTA: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"exceeded quota: ([a-z0-9.-]+)|maximum [a-z ]+ usage per [A-Za-z]+ is|minimum [a-z ]+ usage per [A-Za-z]+ is|must specify limits|must specify requests").expect("regex"));
static ADMISSION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"admission webhook \\?"[^"\\]+\\?" denied the request|violates PodSecurity|denied by [A-Za-z]+|validation error:|is forbidden: .*(policy|polic(y|ies))"#).expect("regex"));
static KYVERNO_POLICY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"following polic(?:y|ies)\s*\n\s*\n?\s*([a-z0-9][-a-z0-9.]*):").expect("regex"));
static GATEKEEPER_POLICY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"denied the request: \[([a-z0-9][-a-z0-9.]*)\]").expect("regex"));
static PSA_POLICY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"violates PodSecurity "([^"]+)""#).expect("regex"));

/// The workload in scope a FailedCreate on `kind/name` belongs to.
fn owner_in_scope(obs: &Observations<'_>, sc: &Scope<'_>, kind: &str, ns: &str, name: &str) -> Option<String> {
    for w in &sc.workloads {
        let (wk, wns, wn) = (s(w, "/kind"), s(w, "/metadata/namespace"), s(w, "/metadata/name"));
        if wns != ns {
            continue;
        }
        let owned_rs = kind == "ReplicaSet"
            && wk == "Deployment"
            && (obs.get("ReplicaSet", ns, name).and_then(Observations::controller_of).is_some_and(|(k, n)| k == "Deployment" && n == wn)
                || name.strip_prefix(&format!("{wn}-")).is_some_and(|hash| !hash.is_empty() && hash.chars().all(|c| c.is_ascii_alphanumeric())));
        if (wk == kind && wn == name) || owned_rs {
            return Some(resource_ref(Some(ns), wk, wn));
        }
    }
    for p in &sc.pods {
        if s(p, "/metadata/namespace") == ns && Observations::controller_of(p).is_some_and(|(k, n)| k == kind && n == name) {
            return Some(workload_ref(obs, p));
        }
    }
    if sc.target.is_none() && sc.external_host.is_none() {
        return Some(obs.get(kind, ns, name).and_then(Observations::controller_of).map(|(k, n)| resource_ref(Some(ns), &k, &n)).unwrap_or_else(|| resource_ref(Some(ns), kind, name)));
    }
    None
}

/// FailedCreate on ReplicaSets, Jobs, StatefulSets, DaemonSets: quota, LimitRange, admission.
fn create_failures(obs: &Observations<'_>, sc: &Scope<'_>, out: &mut Vec<Finding>) {
    let mut seen = std::collections::BTreeSet::new();
    for e in obs.events.iter().rev().filter(|e| s(e, "/reason") == "FailedCreate") {
        let message = s(e, "/message");
        let ns = s(e, "/involvedObject/namespace");
        let (kind, name) = (s(e, "/involvedObject/kind"), s(e, "/involvedObject/name"));
        let Some(owner) = owner_in_scope(obs, sc, kind, ns, name) else { continue };
        if !seen.insert(owner.clone()) {
            continue;
        }
        let src = format!("FailedCreate on {}", resource_ref(Some(ns), kind, name));
        if let Some(cap) = QUOTA.captures(message) {
            let resource = cap.get(1).map(|q| format!("{ns}/ResourceQuota/{}", q.as_str())).unwrap_or_else(|| owner.clone());
            out.push(finding(
                RootCause::QuotaExceeded,
                resource,
                0.92,
                format!("Pods cannot be created: {message}"),
                vec![ev(src, message)],
                format!("Raise the quota or lower the requests of {owner}, or free usage in namespace {ns}."),
            ));
        } else if ADMISSION.is_match(message) {
            let policy = KYVERNO_POLICY
                .captures(message)
                .or_else(|| GATEKEEPER_POLICY.captures(message))
                .or_else(|| PSA_POLICY.captures(message))
                .map(|c| c[1].to_owned());
            let mut evidence = vec![ev(src, message)];
            if let Some(p) = &policy {
                evidence.push(ev("admission policy", format!("rejected by policy {p}")));
            }
            out.push(finding(
                RootCause::AdmissionDenied,
                owner.clone(),
                0.92,
                format!("An admission policy{} rejects the pods of {owner}.", policy.as_ref().map(|p| format!(" ({p})")).unwrap_or_default()),
                evidence,
                format!("Change {owner}'s pod template to satisfy the policy, or get an exception from the policy's owners."),
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Autoscaling, Services, Ingresses, CPU

fn hpa_findings(event: &StandardEvent, obs: &Observations<'_>, sc: &Scope<'_>, out: &mut Vec<Finding>) {
    let in_scope = |h: &Value| {
        let ns = s(h, "/metadata/namespace");
        sc.target.as_ref().is_some_and(|t| t.kind == "HorizontalPodAutoscaler" && t.name == s(h, "/metadata/name") && t.namespace.as_deref() == Some(ns))
            || sc.workloads.iter().any(|w| s(w, "/metadata/namespace") == ns && s(w, "/kind") == s(h, "/spec/scaleTargetRef/kind") && s(w, "/metadata/name") == s(h, "/spec/scaleTargetRef/name"))
    };
    for hpa in obs.all("HorizontalPodAutoscaler").filter(|h| in_scope(h)) {
        let ns = s(hpa, "/metadata/namespace");
        let name = s(hpa, "/metadata/name");
        let hpa_ref = resource_ref(Some(ns), "HorizontalPodAutoscaler", name);
        let target_ref = resource_ref(Some(ns), s(hpa, "/spec/scaleTargetRef/kind"), s(hpa, "/spec/scaleTargetRef/name"));
        let mut evidence = vec![];
        let mut problem: Option<(String, f64, String)> = None;
        for t in ["AbleToScale", "ScalingActive"] {
            if let Some(c) = k8s::condition(hpa, t).filter(|c| s(c, "/status") == "False") {
                let msg = s(c, "/message");
                evidence.push(ev(format!("{hpa_ref} condition {t}"), format!("False ({}): {msg}", s(c, "/reason"))));
                if problem.is_none() {
                    let resource = if msg.contains("missing request for") { target_ref.clone() } else { hpa_ref.clone() };
                    problem = Some((resource, 0.93, format!("{t}=False ({}): {msg}", s(c, "/reason"))));
                }
            }
        }
        for e in obs.events_for("HorizontalPodAutoscaler", ns, name).iter().rev().filter(|e| s(e, "/type") == "Warning").take(2) {
            evidence.push(ev(format!("{} on {hpa_ref}", s(e, "/reason")), s(e, "/message")));
            if problem.is_none() {
                let resource = if s(e, "/message").contains("missing request for") { target_ref.clone() } else { hpa_ref.clone() };
                problem = Some((resource, 0.85, s(e, "/message").to_owned()));
            }
        }
        let (min, max) = (hpa.pointer("/spec/minReplicas").and_then(Value::as_i64).unwrap_or(1), hpa.pointer("/spec/maxReplicas").and_then(Value::as_i64).unwrap_or(0));
        if problem.is_none() && min == max {
            evidence.push(ev(format!("{hpa_ref} spec"), format!("minReplicas {min} == maxReplicas {max}")));
            problem = Some((hpa_ref.clone(), 0.88, format!("minReplicas equals maxReplicas ({max}): it can never scale")));
        }
        if problem.is_none()
            && event.alertname() == "KubeHpaMaxedOut"
            && let Some(c) = k8s::condition(hpa, "ScalingLimited").filter(|c| s(c, "/status") == "True")
        {
            evidence.push(ev(format!("{hpa_ref} condition ScalingLimited"), format!("{}: {}", s(c, "/reason"), s(c, "/message"))));
            problem = Some((hpa_ref.clone(), 0.6, format!("it runs at maxReplicas {max}: {}", s(c, "/message"))));
        }
        if let Some((resource, confidence, why)) = problem {
            out.push(finding(
                RootCause::HpaMisconfigured,
                resource.clone(),
                confidence,
                format!("HPA {name} cannot scale {target_ref}: {why}"),
                evidence,
                format!("Fix {resource}: every container of the target needs requests for the metrics the HPA uses; metrics-server must serve them; min < max."),
            ));
        }
    }
}

/// A Service whose targetPort matches no port its pods declare.
fn port_mismatch(obs: &Observations<'_>, svc: &Value) -> Option<Finding> {
    let pods = scope::pods_of_service(obs, svc);
    let pod = pods.first()?;
    let spec = pod.get("spec")?;
    let declared = k8s::container_ports(spec);
    if declared.is_empty() {
        return None;
    }
    let ns = s(svc, "/metadata/namespace");
    let svc_ref = resource_ref(Some(ns), "Service", s(svc, "/metadata/name"));
    for p in svc.pointer("/spec/ports").and_then(Value::as_array).into_iter().flatten() {
        let target = p.get("targetPort").cloned().unwrap_or_else(|| p.get("port").cloned().unwrap_or(Value::Null));
        let ok = match &target {
            Value::Number(n) => declared.iter().any(|(num, _, _)| Some(*num) == n.as_i64()),
            Value::String(name) => name.parse::<i64>().map(|n| declared.iter().any(|(num, _, _)| *num == n)).unwrap_or_else(|_| declared.iter().any(|(_, pn, _)| pn == name)),
            _ => true,
        };
        if ok {
            continue;
        }
        let target_txt = match &target {
            Value::String(t) => t.clone(),
            other => other.to_string(),
        };
        let ports_txt: Vec<String> = declared.iter().map(|(n, name, c)| if name.is_empty() { format!("{n} ({c})") } else { format!("{n} ({name}, {c})") }).collect();
        let wref = workload_ref(obs, pod);
        let mut evidence = vec![
            ev(format!("{svc_ref} spec.ports"), format!("port {} {} -> targetPort {target_txt}", s(p, "/name"), p.get("port").map(Value::to_string).unwrap_or_default())),
            ev(format!("pods of {wref}"), format!("declare containerPort {}", ports_txt.join(", "))),
        ];
        evidence.extend(probe_spec_evidence(pod, "readinessProbe"));
        return Some(finding(
            RootCause::ServicePortMismatch,
            svc_ref.clone(),
            0.92,
            format!("{svc_ref} sends traffic to targetPort {target_txt}, but its pods listen on {}.", ports_txt.join(", ")),
            evidence,
            format!("Set targetPort of {svc_ref} to the port the pods serve (prefer the named port), or change the container port back."),
        ));
    }
    None
}

fn service_findings(event: &StandardEvent, obs: &Observations<'_>, svc: &Value, out: &mut Vec<Finding>) {
    let ns = s(svc, "/metadata/namespace");
    let name = s(svc, "/metadata/name");
    let svc_ref = resource_ref(Some(ns), "Service", name);
    let Some(selector) = svc.pointer("/spec/selector").and_then(Value::as_object).filter(|m| !m.is_empty()) else { return };
    if s(svc, "/spec/type") == "ExternalName" {
        return;
    }
    let sel_txt = k8s::selector_string(selector);
    let endpoints = service_endpoints(obs, ns, name);
    let pods = scope::pods_of_service(obs, svc);
    let pods_listed = obs.ran(&aetherius_core::Command::list(&event.cluster_id, Some(ns), "pods", Some(&sel_txt)));
    if pods.is_empty() && (pods_listed || endpoints.is_some_and(|(r, n)| r + n == 0)) {
        let mut evidence = vec![ev(format!("{svc_ref} spec.selector"), format!("{sel_txt} matches no pod"))];
        if let Some((r, n)) = endpoints {
            evidence.push(ev(format!("Endpoints of {svc_ref}"), format!("{r} ready, {n} not ready addresses")));
        }
        // Pods that carry most of the selector are the ones it was meant for.
        let candidates: Vec<(usize, &Value)> = obs
            .all("Pod")
            .filter(|p| s(p, "/metadata/namespace") == ns)
            .map(|p| (selector.iter().filter(|(k, v)| k8s::labels(p).get(*k) == Some(*v)).count(), p))
            .filter(|(n, _)| *n > 0)
            .collect();
        let best = candidates.iter().map(|(n, _)| *n).max().unwrap_or(0);
        let near: Vec<&Value> = candidates.iter().filter(|(n, _)| *n == best).map(|(_, p)| *p).collect();
        if let Some(p) = near.first() {
            let labels = k8s::labels(p);
            let diffs: Vec<String> = selector
                .iter()
                .filter(|(k, v)| labels.get(*k) != Some(*v))
                .map(|(k, v)| match labels.get(k) {
                    Some(have) => format!("selector wants {k}={}, pods have {k}={}", v.as_str().unwrap_or_default(), have.as_str().unwrap_or_default()),
                    None => format!("selector wants {k}={}, pods have no {k} label", v.as_str().unwrap_or_default()),
                })
                .collect();
            evidence.push(ev(format!("pods of {} ({} pods)", workload_ref(obs, p), near.len()), diffs.join("; ")));
            out.push(finding(
                RootCause::ServiceNoEndpoints,
                svc_ref.clone(),
                0.93,
                format!("{svc_ref} has no endpoints: its selector {sel_txt} matches no pod ({}).", diffs.join("; ")),
                evidence,
                format!("Align the selector of {svc_ref} with the pod labels (or relabel the pods), then check its Endpoints fill."),
            ));
            return;
        }
        let backing = workloads_selected(obs, ns, selector);
        if let Some(w) = backing.iter().find(|w| w.pointer("/spec/replicas").and_then(Value::as_i64) == Some(0)) {
            let wref = resource_ref(Some(ns), s(w, "/kind"), s(w, "/metadata/name"));
            evidence.push(ev(wref.clone(), "spec.replicas: 0"));
            out.push(finding(RootCause::ServiceNoEndpoints, wref.clone(), 0.9, format!("{svc_ref} has no endpoints: {wref} is scaled to 0."), evidence, format!("Scale {wref} back up.")));
            return;
        }
        let ns_pods_listed = obs.ran(&aetherius_core::Command::list(&event.cluster_id, Some(ns), "pods", None));
        out.push(finding(
            RootCause::ServiceNoEndpoints,
            svc_ref.clone(),
            if ns_pods_listed { 0.88 } else { 0.75 },
            format!("{svc_ref} has no endpoints: no pod in {ns} carries {sel_txt}."),
            evidence,
            format!("Fix the selector of {svc_ref} or deploy the pods it should select."),
        ));
        return;
    }
    if let Some((0, not_ready)) = endpoints
        && !pods.is_empty()
        && pods.iter().all(|p| !k8s::pod_ready(p))
    {
        out.push(finding(
            RootCause::ServiceNoEndpoints,
            svc_ref.clone(),
            0.55,
            format!("{svc_ref} has no ready endpoint: its {} pods are not ready.", pods.len()),
            vec![ev(format!("Endpoints of {svc_ref}"), format!("0 ready, {not_ready} not ready addresses"))],
            "Find why the pods are not ready (their events and logs).",
        ));
    }
    if let Some(f) = port_mismatch(obs, svc) {
        out.push(f);
    }
}

fn ingress_findings(obs: &Observations<'_>, sc: &Scope<'_>, out: &mut Vec<Finding>) {
    for ing in &sc.ingresses {
        let ns = s(ing, "/metadata/namespace");
        let ing_ref = resource_ref(Some(ns), "Ingress", s(ing, "/metadata/name"));
        let mut base = vec![];
        if let Some(host) = &sc.external_host {
            base.push(ev(format!("{ing_ref} rules"), format!("serves host {host}")));
        }
        let class = s(ing, "/spec/ingressClassName");
        if !class.is_empty() && obs.missing.contains(&("IngressClass".into(), String::new(), class.into())) {
            let mut evidence = base.clone();
            evidence.push(ev(format!("IngressClass/{class}"), "does not exist: no controller serves this Ingress"));
            out.push(finding(RootCause::IngressMisconfigured, ing_ref.clone(), 0.9, format!("{ing_ref} asks for ingressClassName {class}, which does not exist."), evidence, format!("Set ingressClassName of {ing_ref} to an existing IngressClass.")));
        }
        for (svc_name, port) in scope::ingress_backends(ing) {
            let svc_ref = format!("{ns}/Service/{svc_name}");
            if obs.missing.contains(&("Service".into(), ns.into(), svc_name.clone())) {
                let mut evidence = base.clone();
                evidence.push(ev(format!("{ing_ref} backend"), format!("service {svc_name} port {port}")));
                evidence.push(ev(svc_ref.clone(), "does not exist"));
                let others: Vec<&str> = obs.all("Service").filter(|s2| s(s2, "/metadata/namespace") == ns).map(|s2| s(s2, "/metadata/name")).collect();
                if !others.is_empty() {
                    evidence.push(ev(format!("Services in {ns}"), others.join(", ")));
                }
                out.push(finding(
                    RootCause::IngressMisconfigured,
                    ing_ref.clone(),
                    0.93,
                    format!("{ing_ref} routes to Service {svc_name}, which does not exist in {ns}."),
                    evidence,
                    format!("Point the backend of {ing_ref} at the Service that now serves the app, or restore Service {svc_name}."),
                ));
                continue;
            }
            let Some(svc) = obs.get("Service", ns, &svc_name) else { continue };
            let ports: Vec<&Value> = svc.pointer("/spec/ports").and_then(Value::as_array).into_iter().flatten().collect();
            let ok = match &port {
                Value::Number(n) => ports.iter().any(|p| p.get("port").and_then(Value::as_i64) == n.as_i64()),
                Value::String(name) => ports.iter().any(|p| s(p, "/name") == name),
                _ => true,
            };
            if !ok {
                let have: Vec<String> = ports.iter().map(|p| format!("{} ({})", p.get("port").map(Value::to_string).unwrap_or_default(), s(p, "/name"))).collect();
                let mut evidence = base.clone();
                evidence.push(ev(format!("{ing_ref} backend"), format!("service {svc_name} port {port}")));
                evidence.push(ev(format!("{svc_ref} spec.ports"), have.join(", ")));
                out.push(finding(RootCause::IngressMisconfigured, ing_ref.clone(), 0.9, format!("{ing_ref} routes to port {port} of {svc_ref}, which has no such port."), evidence, format!("Use one of the ports of {svc_ref} in {ing_ref}.")));
            }
        }
    }
}

fn cpu_throttling(event: &StandardEvent, obs: &Observations<'_>, sc: &Scope<'_>, out: &mut Vec<Finding>) {
    let alert = event.alertname() == "CPUThrottlingHigh";
    let alert_container = event.labels.get("container").map(String::as_str).unwrap_or("");
    let mut done = std::collections::BTreeSet::new();
    for pod in &sc.pods {
        let workload = workload_ref(obs, pod);
        if done.contains(&workload) {
            continue;
        }
        let pod_ref = workload_hint(pod);
        let events = obs.events_for("Pod", s(pod, "/metadata/namespace"), s(pod, "/metadata/name"));
        let timeouts: Vec<&Value> = events.iter().copied().filter(|e| s(e, "/reason") == "Unhealthy" && PROBE_TIMEOUT.is_match(s(e, "/message"))).collect();
        for c in pod.get("spec").map(k8s::containers).into_iter().flatten() {
            let name = s(c, "/name");
            let Some(limit) = k8s::cpu_millis(s(c, "/resources/limits/cpu")) else { continue };
            let named = alert && (alert_container.is_empty() || alert_container == name);
            let usage = pod_cpu_usage(obs, pod, name);
            let saturated = usage.is_some_and(|u| u >= 0.9 * limit);
            if !saturated && !named {
                continue;
            }
            let mut evidence = vec![ev(format!("{workload} container {name}"), format!("CPU limit {}", s(c, "/resources/limits/cpu")))];
            if let Some(u) = usage {
                evidence.push(ev(format!("top {pod_ref}"), format!("container {name} uses {} of its {} CPU limit ({:.0}%)", k8s::fmt_millis(u), k8s::fmt_millis(limit), 100.0 * u / limit)));
            }
            if named && let Some(d) = event.annotations.get("description").or_else(|| event.annotations.get("summary")) {
                evidence.push(ev("alert", d.clone()));
            }
            for e in timeouts.iter().rev().take(2) {
                evidence.push(ev(format!("events of {pod_ref}"), s(e, "/message")));
            }
            let confidence = match (saturated, named || !timeouts.is_empty()) {
                (true, true) => 0.94,
                (true, false) => 0.8,
                (false, _) if usage.is_none() => 0.8,
                _ => 0.7,
            };
            out.push(finding(
                RootCause::CpuThrottling,
                workload.clone(),
                confidence,
                format!(
                    "Container {name} is throttled by its CPU limit of {}{}.",
                    s(c, "/resources/limits/cpu"),
                    if timeouts.is_empty() { String::new() } else { ": requests and probes time out".into() }
                ),
                evidence,
                format!("Raise or remove the CPU limit of {name} in {workload} (keep a realistic request), or reduce the work per pod."),
            ));
            done.insert(workload.clone());
            break;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
