//! Nodes: NotReady, pressure conditions and the pods the kubelet evicts.

use super::*;

pub(super) struct Nodes;

impl Rule for Nodes {
    fn name(&self) -> &'static str {
        "nodes"
    }

    fn check(&self, cx: &Ctx<'_, '_>, out: &mut Vec<Finding>) {
        node_findings(cx.obs, cx.scope, out);
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
            out.push(finding(
                RootCause::NodePressureEviction,
                (!node.is_empty()).then(|| format!("Node/{node}")),
                Consistent,
                format!("Pod {} was evicted by the kubelet of {node}: {}", s(pod, "/metadata/name"), s(pod, "/status/message")),
                vec![ev(format!("{} status", workload_hint(pod)), s(pod, "/status/message"))],
                "Free the node's resource or add capacity; set requests (memory, ephemeral-storage) so the scheduler accounts for real usage.",
            ));
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
            out.push(finding(
                RootCause::NodeNotReady,
                format!("Node/{name}"),
                Consistent,
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
            if evictions { Decisive } else { Consistent },
            format!("Node {name} is under {} and the kubelet evicts pods ({} evicted).", kinds.join(", "), evicted.len()),
            evidence,
            format!("Find what fills {name} (`kubectl describe node {name}`, the largest pods' usage, hostPath and log volumes), free it, and set requests/limits so it cannot recur."),
        ));
    }
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
}
