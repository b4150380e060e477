//! Nodes: NotReady, pressure conditions and the pods the kubelet evicts.

use super::*;
use regex::Regex;
use std::sync::LazyLock;

pub(super) struct Nodes;

impl Rule for Nodes {
    fn name(&self) -> &'static str {
        "nodes"
    }

    fn check(&self, cx: &Ctx<'_, '_>, out: &mut Vec<Finding>) {
        node_findings(cx.obs, cx.scope, out);
        sandbox_findings(cx.obs, cx.scope, out);
    }
}

/// The kubelet could not create a pod's sandbox because the CNI plugin failed to give it a
/// network (an address, mostly): the pods stay ContainerCreating.
pub(crate) fn cni_sandbox_failure(message: &str) -> bool {
    message.contains("failed to setup network for sandbox") || message.contains("failed to assign an IP address") || message.contains("no IP addresses available")
}

static CNI_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(insufficient\w*address|no free (ip|address)|addresses? (are )?exhausted|no (more )?ip addresses available|failed to (allocate|assign) (a |an )?(private )?ip)").expect("regex")
});

fn sandbox_findings(obs: &Observations<'_>, sc: &Scope<'_>, out: &mut Vec<Finding>) {
    let mut seen = vec![];
    for pod in &sc.pods {
        let (ns, name) = (s(pod, "/metadata/namespace"), s(pod, "/metadata/name"));
        let Some(e) = obs.events_for("Pod", ns, name).into_iter().rev().find(|e| s(e, "/reason") == "FailedCreatePodSandBox" && cni_sandbox_failure(s(e, "/message"))) else { continue };
        let workload = workload_ref(obs, pod);
        if seen.contains(&workload) {
            continue;
        }
        seen.push(workload.clone());
        let node = s(pod, "/spec/nodeName");
        let msg = s(e, "/message");
        let mut evidence = vec![ev(format!("FailedCreatePodSandBox on {ns}/Pod/{name} (node {node})"), msg)];
        let Some(ds) = obs.all("DaemonSet").find(|d| is_cni_daemonset(d)) else {
            out.push(finding(RootCause::RolloutStuck, workload.clone(), Consistent, format!("Pods of {workload} stay ContainerCreating: the CNI plugin on {node} cannot set up their network ({msg})."), evidence, "Find the CNI DaemonSet (kube-system) and read its pod's log on that node."));
            continue;
        };
        let (dns, dname) = (s(ds, "/metadata/namespace"), s(ds, "/metadata/name"));
        let ds_ref = resource_ref(Some(dns), "DaemonSet", dname);
        // What the CNI's own pods on that node log about addresses.
        let cni_pods: Vec<&Value> = obs.all("Pod").filter(|p| s(p, "/metadata/namespace") == dns && Observations::controller_of(p).is_some_and(|(k, n)| k == "DaemonSet" && n == dname)).collect();
        let cni_line = cni_pods.iter().filter(|p| s(p, "/spec/nodeName") == node).chain(cni_pods.iter()).find_map(|p| {
            obs.logs.iter().filter(|((lns, lpod, _, _), _)| lns == dns && lpod == s(p, "/metadata/name")).find_map(|((_, lpod, c, _), log)| log.lines().rev().find(|l| CNI_ERROR.is_match(l)).map(|l| (format!("logs {dns}/{lpod}/{c}"), logs::readable_log_line(l))))
        });
        if let Some((src, line)) = &cni_line {
            evidence.push(ev(src.clone(), line.clone()));
        }
        evidence.push(ev(ds_ref.clone(), "CNI DaemonSet (mounts the node's CNI directories)"));
        // The event names the plugin's failure; its own log says why (a subnet out of
        // addresses, an exhausted range): decided once that is read.
        out.push(finding(
            RootCause::RolloutStuck,
            ds_ref.clone(),
            if cni_line.is_some() { Decisive } else { Consistent },
            format!(
                "Pods of {workload} stay ContainerCreating on {node}: the CNI plugin of {ds_ref} cannot set up their network ({msg}){}.",
                cni_line.as_ref().map(|(_, l)| format!("; its log: {l}")).unwrap_or_default()
            ),
            evidence,
            format!("Give {ds_ref} addresses to hand out (a subnet with free IPs, prefix delegation, smaller warm pools), or move the pods to nodes whose subnet has room; the rollout resumes once sandboxes get IPs."),
        ));
    }
}

/// Pods the kubelet evicted.
pub(super) struct Evicted;

impl Rule for Evicted {
    fn name(&self) -> &'static str {
        "evicted"
    }

    fn check(&self, cx: &Ctx<'_, '_>, out: &mut Vec<Finding>) {
        for pod in cx.scope.pods.iter().filter(|p| s(p, "/status/reason") == "Evicted") {
            let node = s(pod, "/spec/nodeName");
            let mut evidence = vec![ev(format!("{} status", workload_hint(pod)), s(pod, "/status/message"))];
            let mut summary = format!("Pod {} was evicted by the kubelet of {node}: {}", s(pod, "/metadata/name"), s(pod, "/status/message"));
            let mut resource = (!node.is_empty()).then(|| format!("Node/{node}"));
            let mut tier = Consistent;
            if let Some(c) = pressure_culprit(cx.obs, node, pressured_resource(s(pod, "/status/message"))) {
                summary = format!("{summary} The pressure comes from {}: {}", c.workload, c.why);
                evidence.extend(c.evidence);
                resource = Some(c.workload);
                tier = c.tier;
            }
            out.push(finding(RootCause::NodePressureEviction, resource, tier, summary, evidence, "Bound the culprit (a memory limit, an emptyDir sizeLimit, ephemeral-storage requests/limits) or give it its own nodes; set requests so the scheduler accounts for real usage."));
        }
    }
}

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
    for name in names {
        let Some(node) = obs.get("Node", "", &name) else { continue };
        if let Some(c) = k8s::condition(node, "Ready").filter(|c| s(c, "/status") != "True") {
            let mut evidence = vec![ev(format!("Node/{name} condition Ready"), format!("{} {} {}", s(c, "/status"), s(c, "/reason"), s(c, "/message")))];
            // Pods of the alert stranded there: the node's state is their cause.
            let stranded: Vec<&&Value> = sc.pods.iter().filter(|p| s(p, "/spec/nodeName") == name && !k8s::pod_ready(p)).collect();
            for p in stranded.iter().take(3) {
                let why = if p.pointer("/metadata/deletionTimestamp").is_some() { format!("terminating since {} but not removed", s(p, "/metadata/deletionTimestamp")) } else { format!("phase {}, not ready", s(p, "/status/phase")) };
                evidence.push(ev(format!("{}/Pod/{} on Node/{name}", s(p, "/metadata/namespace"), s(p, "/metadata/name")), why));
            }
            let mut resource = format!("Node/{name}");
            let mut summary = format!("Node {name} is not Ready ({}): {}", s(c, "/reason"), s(c, "/message"));
            let mut advice = format!("Check the kubelet and container runtime on {name} (journalctl -u kubelet), its network and its cloud instance; drain it if it does not recover.");
            let mut tier = if stranded.is_empty() { Consistent } else { Decisive };
            if network_plugin_not_ready(s(c, "/message"))
                && let Some(cni) = cni_on_node(obs, node)
            {
                evidence.extend(cni.evidence);
                summary = format!("{summary}. {}", cni.why);
                advice = cni.advice;
                resource = cni.resource;
                tier = cni.tier;
            }
            out.push(finding(RootCause::NodeNotReady, resource, tier, summary, evidence, advice));
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
        // The kubelet names inodes in its events ("Attempting to reclaim inodes") and its
        // evictions ("The node was low on resource: inodes").
        let inode_events = node_events.iter().any(|e| s(e, "/message").contains("inodes"));
        let resource_kind = evicted.iter().map(|p| pressured_resource(s(p, "/status/message"))).find(|r| !r.is_empty()).or(inode_events.then_some("inodes")).unwrap_or(match kinds.first().copied() {
            Some("MemoryPressure") => "memory",
            Some("DiskPressure") => "ephemeral-storage",
            _ => "",
        });
        let mut summary = format!("Node {name} is under {} and the kubelet evicts pods ({} evicted).", kinds.join(", "), evicted.len());
        let culprit = pressure_culprit(obs, &name, resource_kind);
        // Until the node's pods are read, the node is only where the pressure shows.
        let pods_read = obs.all("Pod").any(|p| s(p, "/spec/nodeName") == name && s(p, "/status/reason") != "Evicted");
        let (resource, tier) = match culprit {
            Some(c) => {
                summary = format!("{summary} The pressure comes from {}: {}", c.workload, c.why);
                evidence.extend(c.evidence);
                (c.workload, c.tier)
            }
            None => (format!("Node/{name}"), if evictions && pods_read { Decisive } else { Consistent }),
        };
        out.push(finding(
            RootCause::NodePressureEviction,
            resource,
            tier,
            summary,
            evidence,
            format!("Find what fills {name} (`kubectl describe node {name}`, the largest pods' usage, emptyDir, hostPath and log volumes), bound it (limits, emptyDir sizeLimit, ephemeral-storage requests), and free the node."),
        ));
    }
}

/// The resource an eviction message names: `The node was low on resource: memory.`
fn pressured_resource(message: &str) -> &str {
    message.split("low on resource: ").nth(1).and_then(|r| r.split(['.', ' ', ',']).next()).unwrap_or("")
}

/// The pod behind a node's pressure, as the kubelet ranks them (usage above request,
/// then priority), named by its workload.
struct Culprit {
    workload: String,
    tier: Tier,
    why: String,
    evidence: Vec<Evidence>,
}

fn sum_quantity<'v>(values: impl Iterator<Item = &'v Value>) -> f64 {
    values.filter_map(Value::as_str).filter_map(k8s::bytes).sum()
}

/// Whether a pod is the node's own plumbing (a DaemonSet's or a static pod): it runs on
/// every node and is not what fills one.
fn node_agent(pod: &Value) -> bool {
    matches!(Observations::controller_of(pod), Some((k, _)) if k == "DaemonSet" || k == "Node")
}

fn pressure_culprit(obs: &Observations<'_>, node: &str, resource: &str) -> Option<Culprit> {
    if node.is_empty() {
        return None;
    }
    let on_node: Vec<&Value> = obs.all("Pod").filter(|p| s(p, "/spec/nodeName") == node).collect();
    match resource {
        "memory" => {
            // Measured usage above request; the largest one, unless bounded by a limit it
            // cannot exceed, is what the kubelet is reclaiming.
            let mut best: Option<(f64, f64, f64, &Value)> = None;
            for p in on_node.iter().filter(|p| s(p, "/status/reason") != "Evicted" && !node_agent(p)) {
                let Some(m) = obs.get("PodMetrics", s(p, "/metadata/namespace"), s(p, "/metadata/name")) else { continue };
                let usage = sum_quantity(m.get("containers").and_then(Value::as_array).into_iter().flatten().filter_map(|c| c.pointer("/usage/memory")));
                let spec = p.get("spec").cloned().unwrap_or_default();
                let request = sum_quantity(k8s::containers(&spec).filter_map(|c| c.pointer("/resources/requests/memory")));
                if best.is_none_or(|(u, r, _, _)| usage - request > u - r) {
                    best = Some((usage, request, 0.0, p));
                }
            }
            let (usage, request, _, p) = best?;
            if usage <= request * 2.0 {
                return None;
            }
            let spec = p.get("spec").cloned().unwrap_or_default();
            let unlimited: Vec<&str> = k8s::containers(&spec).filter(|c| s(c, "/resources/limits/memory").is_empty()).map(|c| s(c, "/name")).collect();
            let gib = |b: f64| format!("{:.1}Gi", b / 1024f64.powi(3));
            let pod_ref = format!("{}/Pod/{}", s(p, "/metadata/namespace"), s(p, "/metadata/name"));
            let priority = s(p, "/spec/priorityClassName");
            let mut facts = format!("uses {} of memory against a request of {}", gib(usage), gib(request));
            if !unlimited.is_empty() {
                facts.push_str(&format!(", no memory limit on container {}", unlimited.join(", ")));
            }
            if !priority.is_empty() {
                facts.push_str(&format!(", priorityClassName {priority} (the kubelet evicts lower-priority pods first)"));
            }
            Some(Culprit { workload: workload_ref(obs, p), tier: Decisive, why: format!("{pod_ref} {facts}"), evidence: vec![ev(format!("{pod_ref} on Node/{node} (metrics)"), facts)] })
        }
        "ephemeral-storage" => {
            // Local storage without a bound: an emptyDir with no sizeLimit, no
            // ephemeral-storage limit. The kubelet evicts the largest consumer first.
            let unbounded = |p: &Value| -> Vec<String> {
                let spec = p.get("spec").cloned().unwrap_or_default();
                let limited = k8s::containers(&spec).all(|c| !s(c, "/resources/limits/ephemeral-storage").is_empty());
                if limited {
                    return vec![];
                }
                p.pointer("/spec/volumes").and_then(Value::as_array).into_iter().flatten().filter(|v| v.get("emptyDir").is_some_and(|e| s(e, "/medium") != "Memory" && e.get("sizeLimit").is_none())).map(|v| s(v, "/name").to_owned()).collect()
            };
            let evicted: Vec<&&Value> = on_node.iter().filter(|p| s(p, "/status/reason") == "Evicted" && pressured_resource(s(p, "/status/message")) == "ephemeral-storage").collect();
            let (p, tier) = evicted.iter().find(|p| !unbounded(p).is_empty()).map(|p| (**p, Decisive)).or_else(|| {
                let candidates: Vec<&&Value> = on_node.iter().filter(|p| !node_agent(p) && !unbounded(p).is_empty()).collect();
                (candidates.len() == 1).then(|| (*candidates[0], Consistent))
            })?;
            let pod_ref = format!("{}/Pod/{}", s(p, "/metadata/namespace"), s(p, "/metadata/name"));
            let facts = format!("emptyDir volume {} without sizeLimit and no ephemeral-storage limit{}", unbounded(p).join(", "), if s(p, "/status/reason") == "Evicted" { "; the kubelet evicted it first, as the largest consumer of ephemeral-storage" } else { "" });
            Some(Culprit { workload: workload_ref(obs, p), tier, why: format!("{pod_ref} has an {facts}"), evidence: vec![ev(format!("{pod_ref} on Node/{node} spec"), facts)] })
        }
        "inodes" => {
            // Files written to a hostPath count against no pod's ephemeral-storage: a
            // workload that writes many small files there (sessions, caches) exhausts the
            // node's inodes while the kubelet evicts its neighbours.
            let writable = |p: &Value| -> Vec<String> {
                let spec = p.get("spec").cloned().unwrap_or_default();
                let mounts: Vec<&Value> = k8s::containers(&spec).flat_map(|c| c.get("volumeMounts").and_then(Value::as_array).into_iter().flatten()).collect();
                p.pointer("/spec/volumes").and_then(Value::as_array).into_iter().flatten().filter_map(|v| {
                    let path = s(v, "/hostPath/path");
                    let system = path == "/" || ["/proc", "/sys", "/dev", "/run", "/var/run", "/etc", "/var/lib/kubelet", "/var/log", "/lib/modules", "/usr"].iter().any(|sp| path == *sp || path.starts_with(&format!("{sp}/")));
                    if path.is_empty() || system || matches!(s(v, "/hostPath/type"), "Socket" | "CharDevice" | "BlockDevice" | "File") {
                        return None;
                    }
                    let rw = mounts.iter().filter(|m| s(m, "/name") == s(v, "/name")).find(|m| !m.get("readOnly").and_then(Value::as_bool).unwrap_or(false))?;
                    Some(format!("hostPath {path} (volume {}, mounted read-write at {})", s(v, "/name"), s(rw, "/mountPath")))
                }).collect()
            };
            let mut writers: Vec<(&Value, Vec<String>)> = on_node.iter().filter(|p| s(p, "/status/reason") != "Evicted" && !node_agent(p)).map(|p| (*p, writable(p))).filter(|(_, w)| !w.is_empty()).collect();
            writers.dedup_by(|a, b| workload_ref(obs, a.0) == workload_ref(obs, b.0));
            let [(p, paths)] = writers.as_slice() else { return None };
            let pod_ref = format!("{}/Pod/{}", s(p, "/metadata/namespace"), s(p, "/metadata/name"));
            let facts = format!("writes to {} on the node's filesystem, which no ephemeral-storage limit bounds", paths.join(", "));
            Some(Culprit { workload: workload_ref(obs, p), tier: Consistent, why: format!("{pod_ref} {facts}"), evidence: vec![ev(format!("{pod_ref} on Node/{node} spec"), facts)] })
        }
        _ => None,
    }
}

/// The kubelet's Ready message when the CNI plugin has not set the node's network up.
pub(crate) fn network_plugin_not_ready(message: &str) -> bool {
    ["NetworkPluginNotReady", "cni plugin not initialized", "network plugin is not ready", "cni config uninitialized"].iter().any(|m| message.contains(m))
}

/// A DaemonSet that installs a CNI plugin: it mounts the node's CNI config or binaries.
pub(crate) fn is_cni_daemonset(ds: &Value) -> bool {
    ds.pointer("/spec/template/spec/volumes").and_then(Value::as_array).into_iter().flatten().any(|v| ["/etc/cni/net.d", "/opt/cni/bin"].iter().any(|p| s(v, "/hostPath/path").starts_with(p)))
}

struct CniVerdict {
    resource: String,
    tier: Tier,
    why: String,
    advice: String,
    evidence: Vec<Evidence>,
}

/// A DaemonSet's pod template as its controller creates the pods: with the tolerations it
/// adds to every daemon pod.
pub(super) fn daemon_pod_template(ds: &Value) -> Value {
    let mut template = ds.pointer("/spec/template").cloned().unwrap_or_default();
    let mut tolerations = template.pointer("/spec/tolerations").and_then(Value::as_array).cloned().unwrap_or_default();
    tolerations.extend(DAEMON_TOLERATIONS.iter().map(|(k, e)| serde_json::json!({"key": k, "operator": "Exists", "effect": e})));
    template["spec"]["tolerations"] = Value::Array(tolerations);
    template
}

/// Tolerations the DaemonSet controller adds to every daemon pod.
const DAEMON_TOLERATIONS: &[(&str, &str)] = &[
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ("node.kubernetes.io/network-unavailable", "NoSchedule"),
];

/// Why no CNI pod sets up this node's network: the CNI DaemonSet cannot place a pod there
/// (node selection, taints), or it can and its pod there fails.
fn cni_on_node(obs: &Observations<'_>, node: &Value) -> Option<CniVerdict> {
    let name = s(node, "/metadata/name");
    let cnis: Vec<&Value> = obs.all("DaemonSet").filter(|d| is_cni_daemonset(d)).collect();
    let ds = cnis.first()?;
    let ds_ref = resource_ref(Some(s(ds, "/metadata/namespace")), "DaemonSet", s(ds, "/metadata/name"));
    let template = daemon_pod_template(ds);
    let mut misses = k8s::node_selection_misses(&template, node);
    misses.extend(k8s::untolerated_taints(&template, node).into_iter().map(|t| format!("taint {t} not tolerated")));
    if misses.is_empty() {
        return Some(CniVerdict {
            resource: ds_ref.clone(),
            tier: Consistent,
            why: format!("{ds_ref} installs the CNI plugin and may run on {name}: its pod there does not set the network up"),
            advice: format!("Read the {ds_ref} pod on {name} (its events and logs) to see why the plugin does not initialize."),
            evidence: vec![ev(ds_ref, format!("CNI DaemonSet (mounts the node's CNI directories); {name} is eligible for it"))],
        });
    }
    // The node's values for the labels the selection asks about.
    let node_labels = k8s::labels(node);
    let selector_keys = template.pointer("/spec/nodeSelector").and_then(Value::as_object).into_iter().flat_map(|m| m.keys().map(String::as_str));
    let affinity_keys = template
        .pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|t| t.get("matchExpressions").and_then(Value::as_array).into_iter().flatten().map(|e| s(e, "/key")));
    let keys: Vec<&str> = selector_keys.chain(affinity_keys).collect();
    let have: Vec<String> = node_labels.iter().filter(|(k, _)| keys.contains(&k.as_str()) && misses.iter().any(|m| m.contains(k.as_str()))).map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
    let node_txt = if have.is_empty() { String::new() } else { format!("; Node {name} has {}", have.join(", ")) };
    Some(CniVerdict {
        resource: ds_ref.clone(),
        tier: Decisive,
        why: format!("{ds_ref} installs the CNI plugin but cannot run a pod on {name}: {}{node_txt}", misses.join("; ")),
        advice: format!("Let {ds_ref} run on {name} (widen its node affinity / nodeSelector, tolerate the taint), or use a node the CNI supports."),
        evidence: vec![ev(format!("{ds_ref} pod template"), format!("{}{node_txt}", misses.join("; ")))],
    })
}


#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn disk_pressure_with_evictions_blames_the_node() {
        let mut n = node("n1", json!({}), json!([{"key": "node.kubernetes.io/disk-pressure", "effect": "NoSchedule"}]));
        n["status"]["conditions"] = json!([{"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "True", "reason": "KubeletHasDiskPressure", "message": "kubelet has disk pressure"}]);
        let e = event_on("Node", "default", "n1", "Warning", "EvictionThresholdMet", "Attempting to reclaim ephemeral-storage");
        let mut evicted = pod("a", "x-1", json!({}), json!({"nodeName": "n1", "containers": [{"name": "x"}]}), json!({"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 9Gi."}));
        evicted["spec"]["nodeName"] = json!("n1");
        let f = best(&alert(json!({"alertname": "KubeNodePressure", "node": "n1", "condition": "DiskPressure"})), &[read(vec![n, e, evicted])]);
        assert_eq!((f.root_cause, f.resource.as_deref()), (RootCause::NodePressureEviction, Some("Node/n1")));
        assert!(text(&f).contains("DiskPressure") && text(&f).contains("ephemeral-storage"));
    }
    fn not_ready(mut n: Value, reason: &str, message: &str) -> Value {
        n["status"]["conditions"] = json!([{"type": "Ready", "status": "False", "reason": reason, "message": message}]);
        n
    }

    #[test]
    fn a_workload_pod_stranded_on_a_not_ready_node_is_the_nodes_doing() {
        let n = not_ready(node("w2", json!({}), json!([])), "KubeletNotReady", "PLEG is not healthy: pleg was last seen active 27m21s ago; threshold is 3m0s");
        let mut stuck = pod("mq", "rabbit-1", json!({"app": "rabbit"}), json!({"nodeName": "w2", "containers": [{"name": "r"}]}), json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}));
        stuck["metadata"]["deletionTimestamp"] = json!("2026-12-11T03:01:25Z");
        let old_oom = pod("mq", "rabbit-0", json!({"app": "rabbit"}), json!({"nodeName": "w0", "containers": [{"name": "r"}]}), json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [{"name": "r", "ready": true, "restartCount": 1, "state": {"running": {}}, "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}));
        let f = best(&pod_alert("mq", "rabbit-1"), &[read(vec![n, stuck, old_oom])]);
        assert_eq!((f.root_cause, f.resource.as_deref(), f.tier), (RootCause::NodeNotReady, Some("Node/w2"), Tier::Decisive));
        assert!(text(&f).contains("PLEG is not healthy") && text(&f).contains("terminating since"), "{}", text(&f));
    }

    #[test]
    fn a_node_without_cni_names_the_daemonset_that_cannot_run_there() {
        let n = not_ready(node("arm-1", json!({"kubernetes.io/arch": "arm64", "kubernetes.io/os": "linux"}), json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}])), "KubeletNotReady", "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized");
        let cni = json!({"kind": "DaemonSet", "metadata": {"namespace": "kube-system", "name": "calico-node"}, "spec": {"template": {"spec": {
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}]}}},
            "volumes": [{"name": "cni-net-dir", "hostPath": {"path": "/etc/cni/net.d"}}], "containers": [{"name": "calico-node"}]}}}});
        let proxy = json!({"kind": "DaemonSet", "metadata": {"namespace": "kube-system", "name": "kube-proxy"}, "spec": {"template": {"spec": {"volumes": [{"name": "lib-modules", "hostPath": {"path": "/lib/modules"}}], "containers": [{"name": "kube-proxy"}]}}}});
        let f = best(&alert(json!({"alertname": "KubeNodeNotReady", "node": "arm-1"})), &[read(vec![n, cni, proxy])]);
        assert_eq!((f.root_cause, f.resource.as_deref(), f.tier), (RootCause::NodeNotReady, Some("kube-system/DaemonSet/calico-node"), Tier::Decisive));
        let t = text(&f);
        assert!(t.contains("NetworkPluginNotReady") && t.contains("kubernetes.io/arch In [amd64]") && t.contains("kubernetes.io/arch=arm64"), "{t}");
    }

    #[test]
    fn memory_pressure_evictions_name_the_pod_far_above_its_request() {
        let mut n = node("n1", json!({}), json!([]));
        n["status"]["conditions"] = json!([{"type": "Ready", "status": "True"}, {"type": "MemoryPressure", "status": "True", "reason": "KubeletHasInsufficientMemory"}]);
        let victim = pod("a", "dash-1", json!({}), json!({"nodeName": "n1", "containers": [{"name": "d", "resources": {"requests": {"memory": "384Mi"}, "limits": {"memory": "1Gi"}}}]}),
            json!({"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory. Threshold quantity: 100Mi, available: 77460Ki. Container d was using 455880Ki, request is 384Mi, has larger consumption of memory. "}));
        let hog = pod("r", "export-1", json!({}), json!({"nodeName": "n1", "priorityClassName": "critical", "containers": [{"name": "x", "resources": {"requests": {"memory": "1Gi"}}}]}), json!({"phase": "Running"}));
        let cache = pod("a", "cache-0", json!({}), json!({"nodeName": "n1", "containers": [{"name": "c", "resources": {"requests": {"memory": "6Gi"}, "limits": {"memory": "6Gi"}}}]}), json!({"phase": "Running"}));
        let m = |ns: &str, name: &str, mem: &str| json!({"kind": "PodMetrics", "metadata": {"namespace": ns, "name": name}, "containers": [{"name": "x", "usage": {"cpu": "1", "memory": mem}}]});
        let results = [read(vec![n, victim, hog, cache]), read(vec![m("r", "export-1", "19834512Ki"), m("a", "cache-0", "5318224Ki")])];
        let f = best(&alert(json!({"alertname": "KubePodEvicted", "namespace": "a", "pod": "dash-1"})), &results);
        assert_eq!((f.root_cause, f.resource.as_deref(), f.tier), (RootCause::NodePressureEviction, Some("r/Deployment/export"), Tier::Decisive));
        let t = text(&f);
        assert!(t.contains("low on resource: memory") && t.contains("no memory limit") && t.contains("18.9Gi"), "{t}");
    }

    #[test]
    fn disk_pressure_names_the_evicted_pod_with_an_unbounded_empty_dir() {
        let mut n = node("n1", json!({}), json!([]));
        n["status"]["conditions"] = json!([{"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "True", "reason": "KubeletHasDiskPressure"}]);
        let e = event_on("Node", "default", "n1", "Warning", "EvictionThresholdMet", "Attempting to reclaim ephemeral-storage");
        let evicted = pod("m", "transcode-1", json!({}), json!({"nodeName": "n1", "containers": [{"name": "t"}], "volumes": [{"name": "scratch", "emptyDir": {}}]}),
            json!({"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: ephemeral-storage. Threshold quantity: 13300339507, available: 12841388Ki. Container t was using 176Ki, request is 0, has larger consumption of ephemeral-storage. "}));
        let neighbour = pod("m", "thumb-1", json!({}), json!({"nodeName": "n1", "containers": [{"name": "t"}], "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]}), json!({"phase": "Running"}));
        let f = best(&alert(json!({"alertname": "KubeNodePressure", "node": "n1", "condition": "DiskPressure"})), &[read(vec![n, e, evicted, neighbour])]);
        assert_eq!((f.root_cause, f.resource.as_deref(), f.tier), (RootCause::NodePressureEviction, Some("m/Deployment/transcode"), Tier::Decisive));
        assert!(text(&f).contains("emptyDir volume scratch without sizeLimit"), "{}", text(&f));
    }

    #[test]
    fn sandboxes_without_an_address_name_the_cni_daemonset_and_quote_its_log() {
        let p = pod("co", "api-1", json!({"app": "api"}), json!({"nodeName": "n9", "containers": [{"name": "api"}]}), json!({"phase": "Pending", "containerStatuses": [{"name": "api", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}));
        let e = event_on("Pod", "co", "api-1", "Warning", "FailedCreatePodSandBox", r#"Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "35": plugin type="aws-cni" name="aws-cni" failed (add): add cmd: failed to assign an IP address to container"#);
        let ds = json!({"kind": "DaemonSet", "metadata": {"namespace": "kube-system", "name": "aws-node"}, "spec": {"template": {"spec": {"volumes": [{"name": "cni-bin-dir", "hostPath": {"path": "/opt/cni/bin"}}], "containers": [{"name": "aws-node"}]}}}});
        let mut cni_pod = pod("kube-system", "aws-node-x", json!({"k8s-app": "aws-node"}), json!({"nodeName": "n9", "containers": [{"name": "aws-node"}]}), json!({"phase": "Running"}));
        cni_pod["metadata"]["ownerReferences"] = json!([{"kind": "DaemonSet", "name": "aws-node", "controller": true}]);
        let cni_log = r#"{"level":"error","ts":"2026-11-27T16:07:04Z","caller":"ipamd/ipamd.go:1108","msg":"Failed to allocate a private IP addresses on ENI eni-1: InsufficientFreeAddressesInSubnet: The specified subnet does not have enough free addresses to satisfy the request."}"#;
        let event = alert(json!({"alertname": "KubePodNotReady", "namespace": "co", "pod": "api-1"}));
        let f = best(&event, &[read(vec![p.clone(), e.clone(), ds.clone()])]);
        assert_eq!((f.root_cause, f.resource.as_deref(), f.tier), (RootCause::RolloutStuck, Some("kube-system/DaemonSet/aws-node"), Tier::Consistent));
        let f = best(&event, &[read(vec![p, e, ds, cni_pod]), log("kube-system", "aws-node-x", "aws-node", false, cni_log)]);
        assert_eq!((f.resource.as_deref(), f.tier), (Some("kube-system/DaemonSet/aws-node"), Tier::Decisive));
        let t = text(&f);
        assert!(t.contains("failed to assign an IP address") && t.contains("InsufficientFreeAddressesInSubnet"), "{t}");
    }

    #[test]
    fn inode_pressure_names_the_workload_writing_to_a_hostpath() {
        let node = json!({"kind": "Node", "metadata": {"name": "w5"}, "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "True", "reason": "KubeletHasDiskPressure", "message": "kubelet has disk pressure"}]}});
        let ev_node = json!({"kind": "Event", "type": "Warning", "reason": "EvictionThresholdMet", "message": "Attempting to reclaim inodes", "involvedObject": {"kind": "Node", "name": "w5"}});
        let mut portal = pod("web", "portal-1", json!({"app": "portal"}), json!({"nodeName": "w5", "containers": [{"name": "php", "volumeMounts": [{"name": "sessions", "mountPath": "/var/lib/php/sessions"}, {"name": "tz", "mountPath": "/etc/localtime", "readOnly": true}]}],
            "volumes": [{"name": "sessions", "hostPath": {"path": "/srv/portal/sessions", "type": "DirectoryOrCreate"}}, {"name": "tz", "hostPath": {"path": "/usr/share/zoneinfo/UTC"}}]}), json!({"phase": "Running"}));
        portal["metadata"]["ownerReferences"][0]["name"] = json!("portal-6d5");
        let mut exporter = pod("monitoring", "node-exporter-x", json!({"app": "node-exporter"}), json!({"nodeName": "w5", "containers": [{"name": "ne", "volumeMounts": [{"name": "root", "mountPath": "/host/root"}]}], "volumes": [{"name": "root", "hostPath": {"path": "/"}}]}), json!({"phase": "Running"}));
        exporter["metadata"]["ownerReferences"] = json!([{"kind": "DaemonSet", "name": "node-exporter", "controller": true}]);
        let event = alert(json!({"alertname": "NodeFilesystemFilesFillingUp", "node": "w5"}));
        let f = best(&event, &[read(vec![node, portal, exporter, ev_node])]);
        assert_eq!(f.root_cause, RootCause::NodePressureEviction);
        // Its ReplicaSet (the Deployment is not read here), not the node.
        assert_eq!(f.resource.as_deref(), Some("web/ReplicaSet/portal-6d5"));
        assert!(text(&f).contains("/srv/portal/sessions"), "{}", text(&f));
    }
}
