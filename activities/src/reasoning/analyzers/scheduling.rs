//! Scheduling: a pending pod's FailedScheduling message, replayed against the nodes read
//! (selector, affinity, taints) to name the filter that blocks it.

use super::*;
use super::volumes::{claim_evidence, unbound_claim};
use k8s_openapi::api::core::v1::{Container, PodSpec, Toleration};

pub(super) struct Scheduling;

impl Rule for Scheduling {
    fn name(&self) -> &'static str {
        "scheduling"
    }

    fn check(&self, cx: &Ctx<'_, '_>, out: &mut Vec<Finding>) {
        for pod in &cx.scope.pods {
            if s(pod, "/status/phase") == "Pending" && pod.pointer("/spec/nodeName").is_none() {
                let events = cx.obs.events_for("Pod", s(pod, "/metadata/namespace"), s(pod, "/metadata/name"));
                unschedulable(cx.obs, pod, &workload_ref(cx.obs, pod), &events, out);
            }
        }
        if let Some(node) = cx.scope.target.as_ref().filter(|t| t.kind == "Node").and_then(|t| cx.obs.get("Node", "", &t.name)) {
            node_full_of_pods(cx.obs, node, out);
        }
    }
}

/// Pods on a node that count against its `allocatable.pods` (all but finished ones), and
/// that limit; None when the node's pods were not listed or it states no limit.
fn node_pod_capacity(obs: &Observations<'_>, node: &Value) -> Option<(usize, usize)> {
    let name = s(node, "/metadata/name");
    let max: usize = s(node, "/status/allocatable/pods").parse().ok()?;
    let listed = obs.executed.iter().any(|k| k.contains("pods") && k.contains(&format!("spec.nodeName={name}")));
    if !listed {
        return None;
    }
    let running = obs.all("Pod").filter(|p| s(p, "/spec/nodeName") == name && !matches!(s(p, "/status/phase"), "Succeeded" | "Failed")).count();
    Some((running, max))
}

/// A node that holds as many pods as its `allocatable.pods` (the kubelet's max-pods; on EKS
/// the ENI/IP limit of the instance type): the scheduler refuses it any more pod with
/// `Too many pods`, which strands the pods that must run there (a DaemonSet's).
fn node_full_of_pods(obs: &Observations<'_>, node: &Value, out: &mut Vec<Finding>) {
    let Some((running, max)) = node_pod_capacity(obs, node) else { return };
    if running < max {
        return;
    }
    let name = s(node, "/metadata/name");
    let node_ref = format!("Node/{name}");
    let mut evidence = vec![ev(node_ref.clone(), format!("{running} pods on the node; allocatable pods {max}"))];
    let refused: Vec<&Value> = obs.events.iter().copied().filter(|e| s(e, "/reason") == "FailedScheduling" && s(e, "/message").contains("Too many pods") && s(e, "/involvedObject/kind") == "Pod").collect();
    // A pod refused for Too many pods that could only go to this node (a DaemonSet's pod,
    // pinned by name) or whose other nodes all refused it for something else.
    let mut stranded = vec![];
    for e in &refused {
        let (ns, pod) = (s(e, "/involvedObject/namespace"), s(e, "/involvedObject/name"));
        let pinned = obs.get("Pod", ns, pod).is_none_or(|p| scope::wants_node(p, name));
        if pinned && !stranded.iter().any(|(n, p, _): &(&str, &str, &str)| (*n, *p) == (ns, pod)) {
            stranded.push((ns, pod, s(e, "/message")));
        }
    }
    for (ns, pod, message) in stranded.iter().take(3) {
        evidence.push(ev(format!("FailedScheduling on {ns}/Pod/{pod}"), *message));
    }
    let (tier, summary) = match stranded.first() {
        Some((ns, pod, _)) => (Decisive, format!("Node {name} is at its pod limit ({running}/{max} pods): the scheduler refuses {ns}/{pod} with Too many pods.")),
        None => (Consistent, format!("Node {name} is at its pod limit ({running}/{max} pods): no more pods can be scheduled on it.")),
    };
    out.push(finding(
        RootCause::PendingInsufficientResources,
        node_ref,
        tier,
        summary,
        evidence,
        format!("Raise the node's max-pods (on EKS: VPC CNI prefix delegation or a larger instance type) or move pods off {name}; pods pinned to it (DaemonSets) stay Pending until then."),
    ));
}

/// Karpenter's FailedScheduling when a NodePool's `spec.limits` leave no room: v1 says
/// `incompatible with nodepool "X", ..., all available instance types exceed limits for
/// nodepool`; some versions put the name after it (`exceed limits for nodepool: "X"`).
static NODEPOOL_AT_LIMIT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"incompatible with nodepool "([^"]+)"[^;]*?exceed limits for nodepool|exceed limits for nodepool:? "([^"]+)""#).expect("regex"));

/// An event Karpenter wrote (its component, or its message's form).
fn from_karpenter(e: &Value) -> bool {
    s(e, "/source/component") == "karpenter" || s(e, "/reportingComponent") == "karpenter" || s(e, "/message").starts_with("Failed to schedule pod, ")
}

static SCHED_REASON: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(\d+) (node\(s\) (?:[^,.{]|\{[^}]*\})+|Insufficient [a-zA-Z0-9./-]+|Too many pods)").expect("regex"));

/// A pod's request of `resource` as the scheduler counts it: the sum over its containers
/// (a container with only a limit is requested at its limit), or the largest init
/// container's when that is more.
fn pod_request(pod: &Value, resource: &str) -> Option<f64> {
    let spec: PodSpec = serde_json::from_value(pod.get("spec")?.clone()).ok()?;
    let of = |c: &Container| {
        let r = c.resources.as_ref()?;
        let q = r.requests.as_ref().and_then(|m| m.get(resource)).or_else(|| r.limits.as_ref().and_then(|m| m.get(resource)))?;
        quantity(resource, &q.0)
    };
    let main: Vec<f64> = spec.containers.iter().filter_map(of).collect();
    let init: Vec<f64> = spec.init_containers.iter().flatten().filter_map(of).collect();
    if main.is_empty() && init.is_empty() {
        return None;
    }
    Some(main.iter().sum::<f64>().max(init.iter().copied().fold(0.0, f64::max)))
}

/// A quantity in the unit kubectl reasons in: millicores for cpu, bytes for memory and
/// storage, a count for the rest (pods, GPUs).
fn quantity(resource: &str, q: &str) -> Option<f64> {
    match resource {
        "cpu" => k8s::cpu_millis(q),
        "memory" | "ephemeral-storage" => k8s::bytes(q),
        r if r.starts_with("hugepages-") => k8s::bytes(q),
        _ => q.trim().parse().ok(),
    }
}

fn fmt_quantity(resource: &str, v: f64) -> String {
    const GI: f64 = 1024.0 * 1024.0 * 1024.0;
    const MI: f64 = 1024.0 * 1024.0;
    let trim = |x: f64| format!("{x:.1}").trim_end_matches(".0").to_owned();
    match resource {
        "cpu" if v >= 1000.0 && (v / 1000.0).fract() == 0.0 => format!("{}", v / 1000.0),
        "cpu" => k8s::fmt_millis(v),
        "memory" | "ephemeral-storage" if v >= GI => format!("{}Gi", trim(v / GI)),
        "memory" | "ephemeral-storage" => format!("{}Mi", trim(v / MI)),
        _ => trim(v),
    }
}

/// For each resource the scheduler finds insufficient: the pod's request against the
/// largest allocatable among the nodes read (`requests memory 24Gi; largest allocatable
/// 14.4Gi (Node/w2)`), and whether any node could ever fit it.
fn requests_against_allocatable(pod: &Value, nodes: &[&Value], insufficient: &[&str]) -> Vec<Evidence> {
    let pod_ref = workload_hint(pod);
    let mut out = vec![];
    for resource in insufficient {
        let Some(req) = pod_request(pod, resource) else { continue };
        let largest = nodes
            .iter()
            .filter_map(|n| n.pointer(&format!("/status/allocatable/{}", resource.replace('/', "~1"))).and_then(Value::as_str).and_then(|q| quantity(resource, q)).map(|a| (a, s(n, "/metadata/name"))))
            .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)));
        let detail = match largest {
            Some((alloc, node)) => format!(
                "requests {resource} {}; largest allocatable {} (Node/{node}){}",
                fmt_quantity(resource, req),
                fmt_quantity(resource, alloc),
                if req > alloc { ": no node can ever fit it" } else { ": it fits an empty node, the nodes are full" }
            ),
            None => format!("requests {resource} {}", fmt_quantity(resource, req)),
        };
        out.push(ev(format!("{pod_ref} requests"), detail));
    }
    out
}

/// The pod's tolerations as `key=value:Effect`, or that it has none.
fn describe_tolerations(pod: &Value) -> String {
    let tolerations: Vec<Toleration> = pod.pointer("/spec/tolerations").cloned().and_then(|t| serde_json::from_value(t).ok()).unwrap_or_default();
    let described: Vec<String> = tolerations
        .iter()
        .map(|t| {
            let key = t.key.as_deref().filter(|k| !k.is_empty()).unwrap_or("*");
            let value = match (t.operator.as_deref(), &t.value) {
                (Some("Exists"), _) | (_, None) => String::new(),
                (_, Some(v)) => format!("={v}"),
            };
            format!("{key}{value}:{}", t.effect.as_deref().filter(|e| !e.is_empty()).unwrap_or("(any effect)"))
        })
        .collect();
    if described.is_empty() { "the pod tolerates no taint".into() } else { format!("the pod tolerates only {}", described.join(", ")) }
}

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
    // Karpenter reports on the same pods under the same reason; the scheduler's own event is
    // the one that describes the nodes.
    let event = events.iter().rev().find(|e| s(e, "/reason") == "FailedScheduling" && !from_karpenter(e)).map(|e| s(e, "/message"));
    let pool_at_limit = events.iter().rev().filter(|e| s(e, "/reason") == "FailedScheduling" && from_karpenter(e)).find_map(|e| {
        let m = s(e, "/message");
        NODEPOOL_AT_LIMIT.captures(m).and_then(|c| c.get(1).or_else(|| c.get(2))).map(|p| (p.as_str().to_owned(), m))
    });
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
    // Full nodes and tainted ones: if some tainted nodes are not labelled for what their
    // taint dedicates them to (a pool that got another pool's taint), the taint is the blocker.
    let mut misplaced = vec![];
    let stage = if stage == Stage::Resources && simulated.is_none() && reasons.iter().any(|(_, _, st)| *st == Stage::Taint) {
        misplaced = mistainted(pod, &nodes);
        if misplaced.is_empty() { stage } else { Stage::Taint }
    } else {
        stage
    };
    for (node, detail) in misplaced.iter().take(3) {
        evidence.push(ev(format!("Node/{node}"), detail.clone()));
    }
    let owner_kind = obs.workload_of(pod).0;
    let (rc, advice, mut tier) = match stage {
        Stage::Resources => {
            let insufficient: Vec<&str> = reasons.iter().filter_map(|(_, r, _)| r.strip_prefix("Insufficient ")).map(|r| r.trim_end_matches('.')).collect();
            evidence.extend(requests_against_allocatable(pod, &nodes, &insufficient));
            // The request against the nodes' allocatable is what a human changes: wait for the
            // nodes (unless they cannot be read) before calling it decided.
            let nodes_tried = !nodes.is_empty() || obs.executed.iter().any(|k| k.contains("||get|nodes|"));
            let tier = if nodes_tried || insufficient.is_empty() { Decisive } else { Consistent };
            match &pool_at_limit {
                // Karpenter would add a node but its NodePool's limits forbid it: the limit is
                // what a human changes.
                Some((pool, said)) => {
                    evidence.push(ev(format!("Karpenter on {pod_ref}"), *said));
                    (RootCause::PendingInsufficientResources, format!("Raise spec.limits of NodePool {pool} (Karpenter launches no node past them), or lower the requests of {workload}."), Decisive)
                }
                None => (RootCause::PendingInsufficientResources, format!("Lower the requests of {workload} to what it needs, or add node capacity (cluster autoscaler / node pool)."), tier),
            }
        }
        Stage::Taint if !misplaced.is_empty() => {
            evidence.push(ev(format!("{pod_ref} spec.tolerations"), describe_tolerations(pod)));
            let names: Vec<&str> = misplaced.iter().map(|(n, _)| n.as_str()).collect();
            (RootCause::PendingTaint, format!("Remove the taint from the nodes it does not belong on ({}; fix their node pool's config), or add the matching toleration to {workload}.", names.join(", ")), Consistent)
        }
        Stage::Taint => {
            evidence.push(ev(format!("{pod_ref} spec.tolerations"), describe_tolerations(pod)));
            (RootCause::PendingTaint, format!("Add the matching toleration to {workload}, or schedule it on nodes without that taint."), Decisive)
        }
        Stage::NodeAffinity => (RootCause::PendingNodeSelectorAffinity, format!("Fix the nodeSelector / affinity of {workload} to match labels that nodes really carry."), if simulated.is_some() { Decisive } else { Consistent }),
        Stage::PodAffinity => {
            let rules = pod.pointer("/spec/affinity/podAntiAffinity").or_else(|| pod.pointer("/spec/affinity/podAffinity"));
            if let Some(r) = rules {
                evidence.push(ev(format!("{pod_ref} spec affinity"), r.to_string()));
            }
            (RootCause::PendingNodeSelectorAffinity, format!("Relax the pod (anti-)affinity of {workload} (preferred instead of required, or a wider topologyKey), or add nodes."), Consistent)
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
                (RootCause::RolloutStuck, format!("The surge pod needs a node whose host ports are free: set maxSurge 0 / maxUnavailable 1 in {workload}, drop hostPort, or add a node."), Consistent)
            } else {
                (RootCause::PendingInsufficientResources, format!("Free the host ports {workload} asks for, or add nodes."), Consistent)
            }
        }
        Stage::Volume => (RootCause::PendingPvcUnbound, "Make the PersistentVolumeClaim bindable: a StorageClass that exists and provisions, or a matching PV.".into(), Decisive),
    };
    let mut resource = workload.to_owned();
    if let (Stage::Resources, Some((pool, _))) = (stage, &pool_at_limit) {
        resource = format!("NodePool/{pool}");
    }
    if rc == RootCause::PendingPvcUnbound {
        // The claim says why it stays unbound; without it the finding is not conclusive.
        // Certain once the claim says why it stays unbound (its warning, a class that does not
        // exist), not on its phase alone.
        let claims = claim_evidence(obs, pod);
        tier = if claims.len() > 1 { Decisive } else { Consistent };
        evidence.extend(claims);
        // What is fixed is the claim (or what it asks for), not the pod's owner.
        if let Some(claim) = unbound_claim(obs, pod) {
            resource = claim;
        }
    }
    out.push(finding(rc, resource, tier, format!("The pod cannot be scheduled: {}", nodes_part.trim().trim_end_matches('.')), evidence, advice));
}

/// Nodes whose untolerated taint `key=value` the pod could otherwise use (they have the
/// allocatable for its requests) but whose labels do not carry `value`, while other nodes
/// with the same taint do (the dedicated-nodes pattern pairs the taint with a label): the
/// taint was copied onto the wrong nodes. With the detail: the taint and the node's labels.
fn mistainted(pod: &Value, nodes: &[&Value]) -> Vec<(String, String)> {
    let taints_of = |n: &Value| -> Vec<(String, String, String)> {
        let untolerated = k8s::untolerated_taints(pod, n);
        n.pointer("/spec/taints")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|t| untolerated.contains(&k8s::describe_taint(t)) && !s(t, "/value").is_empty())
            .filter(|t| !s(t, "/key").starts_with("node.kubernetes.io/") && !s(t, "/key").starts_with("node-role.kubernetes.io/"))
            .map(|t| (s(t, "/key").to_owned(), s(t, "/value").to_owned(), k8s::describe_taint(t)))
            .collect()
    };
    let labelled_for = |n: &Value, value: &str| k8s::labels(n).values().any(|v| v.as_str() == Some(value));
    let fits = |n: &Value| {
        ["cpu", "memory"].iter().all(|r| match (pod_request(pod, r), n.pointer(&format!("/status/allocatable/{r}")).and_then(Value::as_str).and_then(|q| quantity(r, q))) {
            (Some(req), Some(alloc)) => req <= alloc,
            _ => true,
        })
    };
    let mut out = vec![];
    for n in nodes {
        for (key, value, taint) in taints_of(n) {
            let same: Vec<&&Value> = nodes.iter().filter(|m| taints_of(m).iter().any(|(k, v, _)| *k == key && *v == value)).collect();
            if labelled_for(n, &value) || !fits(n) || !same.iter().any(|m| labelled_for(m, &value)) {
                continue;
            }
            let labels: Vec<String> = k8s::labels(n)
                .iter()
                .filter(|(k, _)| same.iter().any(|m| labelled_for(m, &value) && k8s::labels(m).get(k.as_str()).and_then(Value::as_str) == Some(value.as_str())))
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect();
            let detail = format!(
                "carries taint {taint} but is labelled {} (the other nodes with that taint are labelled for {value}); it has room for the pod",
                if labels.is_empty() { "for nothing of the kind".to_owned() } else { labels.join(", ") }
            );
            out.push((s(n, "/metadata/name").to_owned(), detail));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn a_node_at_its_pod_limit_is_named_with_the_pods_it_refuses() {
        let mut n = node("w-7", json!({}), json!([]));
        n["status"]["allocatable"] = json!({"pods": "3", "cpu": "2", "memory": "4Gi"});
        let on_node: Vec<Value> = (0..3).map(|i| json!({"kind": "Pod", "metadata": {"namespace": "a", "name": format!("p-{i}")}, "spec": {"nodeName": "w-7"}, "status": {"phase": "Running"}})).collect();
        let mut list = Command::list("c", None, "pods", None);
        list.flags.insert("all-namespaces".into(), "true".into());
        list.flags.insert("field-selector".into(), "spec.nodeName=w-7".into());
        let msg = "0/6 nodes are available: 1 Too many pods, 5 node(s) didn't match Pod's node affinity/selector. preemption: 0/6 nodes are available: 1 No preemption victims found for incoming pod, 5 Preemption is not helpful for scheduling.";
        let refused = event_on("Pod", "obs", "agent-x7", "Warning", "FailedScheduling", msg);
        let ev = alert(json!({"alertname": "KubeletTooManyPods", "node": "w-7"}));
        let f = best(&ev, &[read(vec![n]), listed(list, on_node), read(vec![refused])]);
        assert_eq!((f.root_cause, f.tier, f.resource.as_deref()), (RootCause::PendingInsufficientResources, Tier::Decisive, Some("Node/w-7")));
        let t = text(&f);
        assert!(t.contains("3 pods on the node; allocatable pods 3") && t.contains("Too many pods") && t.contains("obs/Pod/agent-x7"), "{t}");
    }

    fn pending(spec: Value, message: &str) -> (Value, Value) {
        let p = pod("m", "web-1", json!({"app": "web"}), spec, json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}]}));
        let e = event_on("Pod", "m", "web-1", "Warning", "FailedScheduling", message);
        (p, e)
    }

    #[test]
    fn a_node_affinity_typo_is_cited_with_the_label_nodes_really_carry() {
        let spec = json!({"containers": [{"name": "web"}], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "acme.io/disktype", "operator": "In", "values": ["nvme"]}]}]}}}});
        let (p, e) = pending(spec, "0/4 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.");
        let nodes = vec![
            node("cp", json!({}), json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])),
            node("w1", json!({"acme.io/disk-type": "nvme"}), json!([])),
            node("w2", json!({"acme.io/disk-type": "sata"}), json!([])),
        ];
        let mut objs = vec![p, e];
        objs.extend(nodes);
        let f = best(&alert(json!({"alertname": "KubePodNotReady", "namespace": "m", "pod": "web-1"})), &[read(objs)]);
        assert_eq!(f.root_cause, RootCause::PendingNodeSelectorAffinity);
        let t = text(&f);
        assert!(t.contains("acme.io/disktype In [nvme]") && t.contains("acme.io/disk-type=nvme"), "{t}");
    }

    #[test]
    fn selected_nodes_that_are_all_tainted_make_it_a_taint_problem() {
        let (p, e) = pending(json!({"containers": [{"name": "web"}], "nodeSelector": {"pool": "ml"}}), "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 node(s) had untolerated taint {dedicated: ml}. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.");
        let mut objs = vec![p, e];
        objs.push(node("cp", json!({}), json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])));
        for n in ["ml1", "ml2"] {
            objs.push(node(n, json!({"pool": "ml"}), json!([{"key": "dedicated", "value": "ml", "effect": "NoSchedule"}])));
        }
        let f = best(&alert(json!({"alertname": "KubePodNotReady", "namespace": "m", "pod": "web-1"})), &[read(objs)]);
        assert_eq!(f.root_cause, RootCause::PendingTaint);
        assert!(text(&f).contains("dedicated=ml:NoSchedule"));
    }

    #[test]
    fn full_nodes_and_a_taint_copied_onto_a_general_pool_make_it_a_taint_problem() {
        let msg = "0/4 nodes are available: 1 Insufficient cpu, 3 node(s) had untolerated taint {dedicated: batch}. preemption: 0/4 nodes are available: 1 No preemption victims found for incoming pod, 3 Preemption is not helpful for scheduling.";
        let spec = json!({"containers": [{"name": "web", "resources": {"requests": {"cpu": "1", "memory": "2Gi"}}}]});
        let with_alloc = |mut n: Value| {
            n["status"]["allocatable"] = json!({"cpu": "7910m", "memory": "28Gi"});
            n
        };
        let batch = json!([{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}]);
        let nodes = |general_tainted: bool| {
            vec![
                with_alloc(node("default-1", json!({"pool": "default"}), json!([]))),
                with_alloc(node("batch-1", json!({"pool": "batch-pool", "workload-class": "batch"}), batch.clone())),
                with_alloc(node("batch-2", json!({"pool": "batch-pool", "workload-class": "batch"}), batch.clone())),
                with_alloc(if general_tainted { node("apps-1", json!({"pool": "apps", "workload-class": "general"}), batch.clone()) } else { node("batch-3", json!({"pool": "batch-pool", "workload-class": "batch"}), batch.clone()) }),
            ]
        };
        let ev = alert(json!({"alertname": "KubePodNotReady", "namespace": "m", "pod": "web-1"}));
        let (p, e) = pending(spec.clone(), msg);
        let mut objs = vec![p, e];
        objs.extend(nodes(true));
        let f = best(&ev, &[read(objs)]);
        assert_eq!(f.root_cause, RootCause::PendingTaint);
        let t = text(&f);
        assert!(t.contains("Node/apps-1") && t.contains("workload-class=general"), "{t}");
        // Every tainted node is labelled for batch: a dedicated pool by design, the rest is full.
        let (p, e) = pending(spec, msg);
        let mut objs = vec![p, e];
        objs.extend(nodes(false));
        assert_eq!(best(&ev, &[read(objs)]).root_cause, RootCause::PendingInsufficientResources);
    }

    #[test]
    fn the_nodes_that_passed_the_earlier_filters_name_the_blocker() {
        // Without nodes: resources on the intended nodes, not the selector on the others.
        let (p, e) = pending(json!({"containers": [{"name": "web"}]}), "0/5 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 2 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling.");
        let f = best(&alert(json!({"alertname": "KubePodNotReady", "namespace": "m", "pod": "web-1"})), &[read(vec![p, e])]);
        assert_eq!(f.root_cause, RootCause::PendingInsufficientResources);
        // Host ports held by the old replicas block a surge pod of a Deployment.
        let (p, e) = pending(json!({"containers": [{"name": "web", "ports": [{"containerPort": 80, "hostPort": 80}]}]}), "0/4 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 3 node(s) didn't have free ports for the requested pod ports. preemption: 0/4 nodes are available: 4 No preemption victims found for incoming pod.");
        let f = best(&alert(json!({"alertname": "KubePodNotReady", "namespace": "m", "pod": "web-1"})), &[read(vec![p, e])]);
        assert_eq!(f.root_cause, RootCause::RolloutStuck);
        assert!(text(&f).contains("free ports") && text(&f).contains("hostPort 80"));
    }

    #[test]
    fn a_karpenter_nodepool_at_its_limits_is_what_to_change() {
        let spec = json!({"containers": [{"name": "web", "resources": {"requests": {"cpu": "2"}}}]});
        let (p, scheduler) = pending(spec, "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.");
        let karpenter = |message: &str| {
            let mut e = event_on("Pod", "m", "web-1", "Warning", "FailedScheduling", message);
            e["source"] = json!({"component": "karpenter"});
            e["metadata"]["name"] = json!("web-1.18a2f0c3d9e4b1a7");
            e
        };
        let ev = alert(json!({"alertname": "KubePodNotReady", "namespace": "m", "pod": "web-1"}));
        for said in [
            r#"Failed to schedule pod, incompatible with nodepool "general-purpose", daemonset overhead={"cpu":"330m","memory":"448Mi","pods":"5"}, all available instance types exceed limits for nodepool"#,
            r#"Failed to schedule pod, all available instance types exceed limits for nodepool: "general-purpose""#,
        ] {
            // Karpenter's event last: the scheduler's still describes the nodes.
            let f = best(&ev, &[read(vec![p.clone(), scheduler.clone(), karpenter(said)])]);
            assert_eq!((f.root_cause, f.resource.as_deref(), f.tier), (RootCause::PendingInsufficientResources, Some("NodePool/general-purpose"), Tier::Decisive), "{said}");
            let t = text(&f);
            assert!(t.contains("Insufficient cpu") && t.contains("exceed limits"), "{t}");
        }
        // Without Karpenter at its limit, the workload's requests are what to change.
        let f = best(&ev, &[read(vec![p, scheduler])]);
        assert_eq!(f.root_cause, RootCause::PendingInsufficientResources);
        assert!(f.resource.as_deref().is_some_and(|r| r.starts_with("m/")), "{:?}", f.resource);
    }

    #[test]
    fn insufficient_memory_names_the_request_against_the_largest_allocatable() {
        let spec = json!({"containers": [{"name": "ch", "resources": {"requests": {"memory": "16Gi", "cpu": "2"}}}, {"name": "exporter", "resources": {"requests": {"memory": "8Gi"}}}]});
        let (p, e) = pending(spec, "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.");
        let mut objs = vec![p, e];
        for (n, mem) in [("w1", "15098496Ki"), ("w2", "7901200Ki"), ("w3", "15098496Ki")] {
            let mut node = node(n, json!({}), json!([]));
            node["status"]["allocatable"] = json!({"cpu": "3920m", "memory": mem, "pods": "110"});
            objs.push(node);
        }
        let f = best(&alert(json!({"alertname": "KubePodNotReady", "namespace": "m", "pod": "web-1"})), &[read(objs)]);
        assert_eq!((f.root_cause, f.tier), (RootCause::PendingInsufficientResources, Tier::Decisive));
        let t = text(&f);
        assert!(t.contains("requests memory 24Gi; largest allocatable 14.4Gi (Node/w1): no node can ever fit it"), "{t}");
    }

    #[test]
    fn a_toleration_with_the_wrong_effect_is_quoted_against_the_taint() {
        let spec = json!({"containers": [{"name": "web"}], "nodeSelector": {"pool": "gpu"}, "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoExecute"}]});
        let (p, e) = pending(spec, "0/2 nodes are available: 2 node(s) had untolerated taint {nvidia.com/gpu: present}. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.");
        let mut objs = vec![p, e];
        for n in ["g1", "g2"] {
            objs.push(node(n, json!({"pool": "gpu"}), json!([{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}])));
        }
        let f = best(&alert(json!({"alertname": "KubePodNotReady", "namespace": "m", "pod": "web-1"})), &[read(objs)]);
        assert_eq!(f.root_cause, RootCause::PendingTaint);
        let t = text(&f);
        assert!(t.contains("nvidia.com/gpu=present:NoSchedule") && t.contains("tolerates only nvidia.com/gpu:NoExecute"), "{t}");
    }

    #[test]
    fn a_pod_waiting_for_its_claim_names_the_claim_to_fix() {
        let msg = "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.";
        let (p, e) = pending(json!({"containers": [{"name": "web"}], "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}}]}), msg);
        let pvc = json!({"kind": "PersistentVolumeClaim", "metadata": {"namespace": "m", "name": "web-data"}, "spec": {"storageClassName": "fast-rdb"}, "status": {"phase": "Pending"}});
        let claim_event = event_on("PersistentVolumeClaim", "m", "web-data", "Warning", "ProvisioningFailed", "storageclass.storage.k8s.io \"fast-rdb\" not found");
        let f = best(&alert(json!({"alertname": "KubePodNotReady", "namespace": "m", "pod": "web-1"})), &[read(vec![p, e, pvc.clone(), claim_event])]);
        assert_eq!(f.root_cause, RootCause::PendingPvcUnbound);
        assert_eq!(f.resource.as_deref(), Some("m/PersistentVolumeClaim/web-data"));
        assert!(text(&f).contains("fast-rdb"), "{}", text(&f));
        // Bound, it is no longer the object to fix.
        let mut bound = pvc;
        bound["status"]["phase"] = json!("Bound");
        assert_eq!(unbound_claim(&Observations::new(&[read(vec![bound])]), &pending(json!({"volumes": [{"persistentVolumeClaim": {"claimName": "web-data"}}]}), msg).0), None);
    }

}
