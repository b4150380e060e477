//! Rule analyzers: each reads the observations the way an SRE would and returns findings
//! that cite their evidence. They know Kubernetes, not our scenarios: every rule keys on
//! what the API server, kubelet, scheduler and controllers really write.

use super::observations::{Observations, s};
use aetherius_core::{Evidence, RootCause, StandardEvent, target::resource_ref};
use regex::Regex;
use serde_json::Value;
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

/// Every finding the observations support, most confident first.
pub fn analyze(event: &StandardEvent, obs: &Observations<'_>) -> Vec<Finding> {
    let mut findings = vec![];
    informational(event, &mut findings);
    for pod in obs.all("Pod") {
        pod_findings(obs, pod, &mut findings);
    }
    for node in obs.all("Node") {
        node_not_ready(node, &mut findings);
    }
    for job in obs.all("Job") {
        job_failed(job, &mut findings);
    }
    for deploy in obs.all("Deployment") {
        rollout_stuck(deploy, &mut findings);
    }
    create_failures(obs, &mut findings);
    findings.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    findings
}

fn ev(source: impl Into<String>, detail: impl Into<String>) -> Evidence {
    Evidence { source: source.into(), detail: detail.into() }
}

fn informational(event: &StandardEvent, out: &mut Vec<Finding>) {
    let name = event.alertname();
    let (summary, detail) = match name {
        "Watchdog" => ("Watchdog is the always-firing heartbeat of the alerting pipeline; it firing means alerting works.", "alertname=Watchdog"),
        "InfoInhibitor" => ("InfoInhibitor only inhibits info alerts; it is not a problem on its own.", "alertname=InfoInhibitor"),
        _ if event.status == aetherius_core::AlertStatus::Resolved => ("The alert is already resolved.", "status=resolved"),
        _ => return,
    };
    out.push(Finding {
        root_cause: RootCause::NotAnIssue,
        resource: None,
        confidence: 0.97,
        summary: summary.into(),
        evidence: vec![ev("alert", detail)],
        recommendations: vec!["No action needed.".into()],
    });
}

fn pod_findings(obs: &Observations<'_>, pod: &Value, out: &mut Vec<Finding>) {
    let ns = s(pod, "/metadata/namespace");
    let pod_name = s(pod, "/metadata/name");
    let (wk, wns, wname) = obs.workload_of(pod);
    let workload = resource_ref(Some(&wns), &wk, &wname);
    let pod_ref = format!("{ns}/Pod/{pod_name}");
    let events = obs.events_for("Pod", ns, pod_name);

    if s(pod, "/status/phase") == "Failed" && s(pod, "/status/reason") == "Evicted" {
        let node = s(pod, "/spec/nodeName");
        out.push(Finding {
            root_cause: RootCause::NodePressureEviction,
            resource: (!node.is_empty()).then(|| format!("Node/{node}")),
            confidence: 0.9,
            summary: format!("Pod {pod_name} was evicted by the kubelet: {}", s(pod, "/status/message")),
            evidence: vec![ev(format!("{pod_ref} status"), s(pod, "/status/message"))],
            recommendations: vec!["Free the node's resource or add capacity; set requests so the scheduler accounts for real usage.".into()],
        });
    }

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
            out.push(Finding {
                root_cause: RootCause::OomKilled,
                resource: Some(workload.clone()),
                confidence: 0.95,
                summary: format!("Container {container} is killed for exceeding its memory limit{}.", if limit.is_empty() { String::new() } else { format!(" of {limit}") }),
                evidence: vec![ev(format!("{src} lastState"), format!("terminated: OOMKilled, exit code {}, restarts {restarts}", last_code.unwrap_or(137)))],
                recommendations: vec![format!("Raise the memory limit of {container} in {workload} (now {}) or fix the memory growth; check the usage trend first.", if limit.is_empty() { "unset" } else { limit })],
            });
            continue;
        }
        match waiting_reason {
            "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" => {
                image_pull(pod, &workload, container, cs, &events, out);
                continue;
            }
            "CreateContainerConfigError" => {
                let mut evidence = vec![ev(format!("{src} state"), format!("waiting: CreateContainerConfigError: {waiting_message}"))];
                evidence.extend(events.iter().filter(|e| s(e, "/reason") == "Failed").take(1).map(|e| ev(format!("event on {pod_ref}"), s(e, "/message"))));
                out.push(Finding {
                    root_cause: RootCause::ContainerConfigMissingRef,
                    resource: Some(workload.clone()),
                    confidence: 0.93,
                    summary: format!("Container {container} cannot be created: {waiting_message}"),
                    evidence,
                    recommendations: vec![format!("Create the missing object or key, or fix the reference in {workload}.")],
                });
                continue;
            }
            _ => {}
        }
        let crashing = waiting_reason == "CrashLoopBackOff" || (restarts > 0 && last_code.is_some_and(|c| c != 0));
        if crashing {
            crashloop(obs, pod, &workload, container, cs, spec, &events, out);
        }
    }

    probe_failures(pod, &workload, &events, out);
    if s(pod, "/status/phase") == "Pending" {
        unschedulable(obs, pod, &workload, &events, out);
    }
}

fn container_statuses(pod: &Value) -> impl Iterator<Item = &Value> {
    ["/status/initContainerStatuses", "/status/containerStatuses"]
        .into_iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
}

fn container_spec<'v>(pod: &'v Value, name: &str) -> Option<&'v Value> {
    ["/spec/initContainers", "/spec/containers"]
        .into_iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
        .find(|c| s(c, "/name") == name)
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
    out.push(Finding {
        root_cause,
        resource: Some(workload.to_owned()),
        confidence,
        summary: format!("Image {image} of container {container} cannot be pulled."),
        evidence: vec![
            ev(format!("{pod_ref} container {container}"), format!("waiting: {} for image {image}", s(cs, "/state/waiting/reason"))),
            ev(format!("events of {pod_ref}"), detail),
        ],
        recommendations: vec![advice],
    });
}

// The variable is matched case-sensitively (env vars are upper snake case); the phrase is not.
static MISSING_VAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{3,})\b[^\n]{0,40}?\b(?i:is not set|not set|is required|required|must be set|is missing|missing|is undefined|undefined|is empty|not defined|not provided)").expect("regex")
});
static MISSING_VAR_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i:missing|required|undefined|unset|no)\s+(?i:required\s+)?(?i:environment variable|env var|env|config(?:uration)? (?:key|value|option)|setting|variable|key)s?\s*[:=]?\s*['`]?([A-Z][A-Z0-9_]*[A-Z0-9])").expect("regex")
});
static BAD_CONFIG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)((open|read|load|loading|parse|parsing)[^\n]{0,80}(config|\.ya?ml|\.json|\.toml|\.conf|\.ini|\.properties)[^\n]{0,80}(no such file or directory|not found|cannot find|invalid|error)|flag provided but not defined|unknown (flag|option|shorthand flag)|unrecognized (option|argument)|executable file not found|exec format error|invalid (configuration|config)|no such file or directory)"#).expect("regex")
});
static DNS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(no such host|name or service not known|temporary failure in name resolution|getaddrinfo (ENOTFOUND|EAI_AGAIN)|could not resolve host|nxdomain|unknown host|UnknownHostException)").expect("regex")
});
static DEPENDENCY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(connection refused|ECONNREFUSED|could not connect to|can't connect to|cannot connect to|failed to connect to|unable to connect to|connection timed out|i/o timeout|no route to host|connect: connection|ETIMEDOUT|EHOSTUNREACH|server closed the connection unexpectedly|is the server running)").expect("regex")
});
static APP_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(panic:|traceback \(most recent call last\)|exception|unhandled|fatal|segmentation fault|uncaught|error)").expect("regex")
});

/// Structured (JSON) log lines shown as a human reads them: level, message and error
/// fields, without the stack trace; other lines unchanged.
fn readable_log_line(line: &str) -> String {
    let trimmed = line.trim();
    let Some(obj) = trimmed.starts_with('{').then(|| serde_json::from_str::<serde_json::Map<String, Value>>(trimmed).ok()).flatten() else {
        return trimmed.to_owned();
    };
    let field = |names: &[&str]| names.iter().find_map(|n| obj.get(*n).and_then(Value::as_str)).unwrap_or("");
    let parts: Vec<&str> = [
        field(&["level", "lvl", "severity"]),
        field(&["msg", "message", "event"]),
        field(&["error", "err", "exception", "reason"]),
    ]
    .into_iter()
    .filter(|p| !p.is_empty())
    .collect();
    if parts.is_empty() { trimmed.to_owned() } else { parts.join(": ") }
}

#[allow(clippy::too_many_arguments)]
fn crashloop(obs: &Observations<'_>, pod: &Value, workload: &str, container: &str, cs: &Value, spec: Option<&Value>, events: &[&Value], out: &mut Vec<Finding>) {
    let ns = s(pod, "/metadata/namespace");
    let pod_name = s(pod, "/metadata/name");
    let log_src = format!("logs {ns}/{pod_name}/{container} (previous)");
    let log = obs
        .logs
        .get(&(ns.to_owned(), pod_name.to_owned(), container.to_owned(), true))
        .or_else(|| obs.logs.get(&(ns.to_owned(), pod_name.to_owned(), container.to_owned(), false)))
        .copied()
        .unwrap_or("");
    let last = format!(
        "terminated: {} exit code {}, restarts {}",
        s(cs, "/lastState/terminated/reason"),
        cs.pointer("/lastState/terminated/exitCode").and_then(Value::as_i64).unwrap_or(0),
        cs.get("restartCount").and_then(Value::as_u64).unwrap_or(0)
    );
    let state_ev = ev(format!("{ns}/Pod/{pod_name} container {container}"), last);
    let lines: Vec<String> = log.lines().map(readable_log_line).collect();
    let find = |re: &Regex| lines.iter().rev().find(|l| re.is_match(l)).map(String::as_str);

    // A liveness probe kill is not a crash of the app: leave it to the probe analyzer.
    if events.iter().any(|e| s(e, "/message").contains("failed liveness probe")) {
        return;
    }
    let declared_env: Vec<&str> = spec
        .and_then(|c| c.get("env"))
        .and_then(Value::as_array)
        .map(|env| env.iter().map(|e| s(e, "/name")).collect())
        .unwrap_or_default();

    if let Some(line) = find(&MISSING_VAR).or_else(|| find(&MISSING_VAR_PREFIX)) {
        let var = MISSING_VAR
            .captures(line)
            .and_then(|c| c.get(1))
            .or_else(|| MISSING_VAR_PREFIX.captures(line).and_then(|c| c.get(1)))
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default();
        let absent = !var.is_empty() && !declared_env.contains(&var.as_str());
        let mut evidence = vec![ev(log_src.clone(), line.trim()), state_ev];
        if absent {
            evidence.push(ev(format!("{workload} container {container} env"), format!("{var} is not among the declared env vars ({})", declared_env.join(", "))));
        }
        out.push(Finding {
            root_cause: RootCause::CrashloopMissingConfig,
            resource: Some(workload.to_owned()),
            confidence: if absent { 0.95 } else { 0.85 },
            summary: format!("Container {container} exits at start: {var} is missing or invalid."),
            evidence,
            recommendations: vec![format!("Set {var} in {workload} (env or envFrom of container {container}), then let the rollout replace the pods.")],
        });
        return;
    }
    let classified: [(&Regex, RootCause, f64, &str); 4] = [
        (&DNS, RootCause::DnsFailure, 0.85, "A name it needs does not resolve: check the host name it uses and CoreDNS."),
        (&DEPENDENCY, RootCause::CrashloopDependencyUnavailable, 0.88, "A dependency it connects to at start is unreachable: check that service, its endpoints and the address configured."),
        (&BAD_CONFIG, RootCause::CrashloopMissingConfig, 0.85, "Fix the command, flags or config file the container starts with."),
        (&APP_ERROR, RootCause::CrashloopAppError, 0.75, "The application fails on its own: read the stack trace, fix the code or roll back to the last good version."),
    ];
    for (re, root_cause, confidence, advice) in classified {
        if let Some(line) = find(re) {
            out.push(Finding {
                root_cause,
                resource: Some(workload.to_owned()),
                confidence,
                summary: format!("Container {container} keeps crashing: {}", line.trim()),
                evidence: vec![ev(log_src, line.trim()), state_ev],
                recommendations: vec![advice.to_owned()],
            });
            return;
        }
    }
    out.push(Finding {
        root_cause: RootCause::CrashloopAppError,
        resource: Some(workload.to_owned()),
        confidence: if log.is_empty() { 0.4 } else { 0.55 },
        summary: format!("Container {container} keeps exiting with an error."),
        evidence: vec![state_ev],
        recommendations: vec!["Read the previous container's logs and the exit code.".into()],
    });
}

fn probe_failures(pod: &Value, workload: &str, events: &[&Value], out: &mut Vec<Finding>) {
    let pod_ref = format!("{}/Pod/{}", s(pod, "/metadata/namespace"), s(pod, "/metadata/name"));
    let unhealthy = |kind: &str| events.iter().find(|e| s(e, "/reason") == "Unhealthy" && s(e, "/message").starts_with(kind)).copied();
    if let Some(e) = unhealthy("Liveness probe failed") {
        let killed = events.iter().any(|e| s(e, "/message").contains("failed liveness probe, will be restarted"));
        out.push(Finding {
            root_cause: RootCause::LivenessProbeFailing,
            resource: Some(workload.to_owned()),
            confidence: if killed { 0.9 } else { 0.75 },
            summary: "The kubelet restarts the container because its liveness probe fails.".into(),
            evidence: vec![ev(format!("events of {pod_ref}"), s(e, "/message"))],
            recommendations: vec![format!("Check the probe's path, port and timeouts in {workload} against what the app serves, and its startup time (initialDelaySeconds / startupProbe).")],
        });
    }
    let ready = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| s(c, "/type") == "Ready" && s(c, "/status") == "True");
    if let (Some(e), false) = (unhealthy("Readiness probe failed"), ready) {
        out.push(Finding {
            root_cause: RootCause::ReadinessProbeFailing,
            resource: Some(workload.to_owned()),
            confidence: 0.85,
            summary: "Containers run but never become Ready: the readiness probe fails.".into(),
            evidence: vec![ev(format!("events of {pod_ref}"), s(e, "/message"))],
            recommendations: vec![format!("Compare the readiness probe of {workload} with the port and path the app serves; check what the app needs before it is ready.")],
        });
    }
}

static SCHED_REASON: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(\d+) (node\(s\) [^,.]+|Insufficient [a-zA-Z0-9./-]+|Too many pods)").expect("regex"));

fn unschedulable(obs: &Observations<'_>, pod: &Value, workload: &str, events: &[&Value], out: &mut Vec<Finding>) {
    let pod_ref = format!("{}/Pod/{}", s(pod, "/metadata/namespace"), s(pod, "/metadata/name"));
    let condition = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| s(c, "/type") == "PodScheduled" && s(c, "/status") == "False")
        .map(|c| s(c, "/message"));
    let event = events.iter().rev().find(|e| s(e, "/reason") == "FailedScheduling").map(|e| s(e, "/message"));
    let Some(message) = event.or(condition).filter(|m| !m.is_empty()) else { return };
    // Only the part before "preemption:" describes the nodes.
    let nodes_part = message.split("preemption:").next().unwrap_or(message);
    let mut best: Option<(u64, RootCause, String)> = None;
    for cap in SCHED_REASON.captures_iter(nodes_part) {
        let count: u64 = cap[1].parse().unwrap_or(0);
        let reason = cap[2].to_owned();
        let lower = reason.to_ascii_lowercase();
        let rc = if lower.starts_with("insufficient") || lower.starts_with("too many pods") {
            RootCause::PendingInsufficientResources
        } else if lower.contains("taint") {
            // Control-plane nodes are tainted by design; they never explain a workload pod.
            if lower.contains("control-plane") || lower.contains("master") {
                continue;
            }
            RootCause::PendingTaint
        } else if lower.contains("affinity") || lower.contains("selector") {
            RootCause::PendingNodeSelectorAffinity
        } else if lower.contains("persistentvolumeclaim") || lower.contains("volume node affinity") {
            RootCause::PendingPvcUnbound
        } else {
            continue;
        };
        if best.as_ref().is_none_or(|(c, _, _)| count > *c) {
            best = Some((count, rc, reason));
        }
    }
    let rc = match best {
        Some((_, rc, _)) => rc,
        None if message.contains("unbound immediate PersistentVolumeClaims") || message.contains("has unbound") => RootCause::PendingPvcUnbound,
        None => return,
    };
    let advice = match rc {
        RootCause::PendingInsufficientResources => format!("Lower the requests of {workload} to what it needs, or add node capacity (cluster autoscaler / node pool)."),
        RootCause::PendingTaint => format!("Add the matching toleration to {workload}, or schedule it on nodes without that taint."),
        RootCause::PendingNodeSelectorAffinity => format!("Fix the nodeSelector / affinity of {workload} to match labels that nodes really carry."),
        _ => "Make the PersistentVolumeClaim bindable: a StorageClass that exists and provisions, or a matching PV.".into(),
    };
    let mut evidence = vec![ev(format!("FailedScheduling on {pod_ref}"), message)];
    let mut confidence = 0.9;
    if rc == RootCause::PendingPvcUnbound {
        // The claim says why it stays unbound; without it the finding is not conclusive.
        let claims = claim_evidence(obs, pod);
        confidence = if claims.is_empty() { 0.8 } else { 0.92 };
        evidence.extend(claims);
    }
    out.push(Finding {
        root_cause: rc,
        resource: Some(workload.to_owned()),
        confidence,
        summary: format!("The pod cannot be scheduled: {}", nodes_part.trim().trim_end_matches('.')),
        evidence,
        recommendations: vec![advice],
    });
}

/// For each PersistentVolumeClaim the pod mounts that is not Bound: its phase, class, the
/// provisioner's events, and whether the StorageClass exists.
fn claim_evidence(obs: &Observations<'_>, pod: &Value) -> Vec<Evidence> {
    let ns = s(pod, "/metadata/namespace");
    let mut out = vec![];
    let claims = pod
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.pointer("/persistentVolumeClaim/claimName").and_then(Value::as_str));
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

fn node_not_ready(node: &Value, out: &mut Vec<Finding>) {
    let name = s(node, "/metadata/name");
    let ready = node
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| s(c, "/type") == "Ready");
    if let Some(c) = ready.filter(|c| s(c, "/status") != "True") {
        out.push(Finding {
            root_cause: RootCause::NodeNotReady,
            resource: Some(format!("Node/{name}")),
            confidence: 0.8,
            summary: format!("Node {name} is not Ready ({}): {}", s(c, "/reason"), s(c, "/message")),
            evidence: vec![ev(format!("Node/{name} condition Ready"), format!("{} {} {}", s(c, "/status"), s(c, "/reason"), s(c, "/message")))],
            recommendations: vec![format!("Check the kubelet and container runtime on {name} (journalctl -u kubelet), its network and its cloud instance; drain it if it does not recover.")],
        });
    }
}

fn job_failed(job: &Value, out: &mut Vec<Finding>) {
    let failed = job
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| s(c, "/type") == "Failed" && s(c, "/status") == "True");
    if let Some(c) = failed {
        let r = resource_ref(Some(s(job, "/metadata/namespace")), "Job", s(job, "/metadata/name"));
        out.push(Finding {
            root_cause: RootCause::JobFailed,
            resource: Some(r.clone()),
            confidence: 0.7,
            summary: format!("Job failed: {} ({})", s(c, "/reason"), s(c, "/message")),
            evidence: vec![ev(format!("{r} condition Failed"), format!("{}: {}", s(c, "/reason"), s(c, "/message")))],
            recommendations: vec!["Read the logs of the Job's last failed pod; raise backoffLimit / activeDeadlineSeconds only if the work legitimately needs it.".into()],
        });
    }
}

fn rollout_stuck(deploy: &Value, out: &mut Vec<Finding>) {
    let stuck = deploy
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| s(c, "/type") == "Progressing" && s(c, "/reason") == "ProgressDeadlineExceeded");
    if let Some(c) = stuck {
        let r = resource_ref(Some(s(deploy, "/metadata/namespace")), "Deployment", s(deploy, "/metadata/name"));
        out.push(Finding {
            root_cause: RootCause::RolloutStuck,
            resource: Some(r.clone()),
            confidence: 0.5,
            summary: format!("Rollout exceeded its progress deadline: {}", s(c, "/message")),
            evidence: vec![ev(format!("{r} condition Progressing"), s(c, "/message"))],
            recommendations: vec!["Look at the new ReplicaSet's pods for why they do not become available; roll back if the release is bad.".into()],
        });
    }
}

static QUOTA: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"exceeded quota: ([a-z0-9.-]+)|maximum [a-z ]+ usage per [A-Za-z]+ is|minimum [a-z ]+ usage per [A-Za-z]+ is|must specify limits|must specify requests").expect("regex"));
static ADMISSION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"admission webhook "[^"]+" denied the request|violates PodSecurity|denied by [A-Za-z]+|validation error:"#).expect("regex"));

/// FailedCreate on ReplicaSets, Jobs, StatefulSets, DaemonSets: quota, LimitRange, admission.
fn create_failures(obs: &Observations<'_>, out: &mut Vec<Finding>) {
    for e in obs.events.iter().filter(|e| s(e, "/reason") == "FailedCreate") {
        let message = s(e, "/message");
        let ns = s(e, "/involvedObject/namespace");
        let (kind, name) = (s(e, "/involvedObject/kind"), s(e, "/involvedObject/name"));
        let owner = obs
            .get(kind, ns, name)
            .and_then(Observations::controller_of)
            .map(|(k, n)| resource_ref(Some(ns), &k, &n))
            .unwrap_or_else(|| resource_ref(Some(ns), kind, name));
        let src = format!("FailedCreate on {}", resource_ref(Some(ns), kind, name));
        if let Some(cap) = QUOTA.captures(message) {
            let resource = cap.get(1).map(|q| format!("{ns}/ResourceQuota/{}", q.as_str())).unwrap_or_else(|| owner.clone());
            out.push(Finding {
                root_cause: RootCause::QuotaExceeded,
                resource: Some(resource),
                confidence: 0.9,
                summary: format!("Pods cannot be created: {message}"),
                evidence: vec![ev(src, message)],
                recommendations: vec![format!("Raise the quota or lower the requests of {owner}, or free usage in namespace {ns}.")],
            });
        } else if ADMISSION.is_match(message) {
            out.push(Finding {
                root_cause: RootCause::AdmissionDenied,
                resource: Some(owner.clone()),
                confidence: 0.9,
                summary: format!("An admission policy rejects the pods: {message}"),
                evidence: vec![ev(src, message)],
                recommendations: vec![format!("Change {owner}'s pod template to satisfy the policy, or get an exception from the policy's owners.")],
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::readable_log_line;

    #[test]
    fn json_log_lines_read_as_level_message_error() {
        let line = r#"{"level":"fatal","ts":"2026-11-20T10:03:35Z","msg":"invalid configuration","error":"required key DATABASE_URL missing value","stacktrace":"main.main"}"#;
        assert_eq!(readable_log_line(line), "fatal: invalid configuration: required key DATABASE_URL missing value");
        assert_eq!(readable_log_line("  plain text  "), "plain text");
        assert_eq!(readable_log_line("{not json"), "{not json");
    }
}
