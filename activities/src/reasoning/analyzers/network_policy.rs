//! NetworkPolicy verdicts: whether the policies read admit a connection, and if not, the
//! policy that comes closest and why it does not.

use super::*;

pub(super) enum Verdict {
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
pub(super) struct End<'v> {
    pub(super) ns: &'v str,
    pub(super) labels: &'v Map<String, Value>,
}

/// Whether the NetworkPolicies of `subject.ns` that select `subject` admit traffic from
/// (`Ingress`) or to (`Egress`) `other` on `port` (container port number and name).
pub(super) fn policy_verdict(obs: &Observations<'_>, direction: &str, subject: &End<'_>, other: &End<'_>, port: Option<(Option<i64>, Option<String>)>) -> Verdict {
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
pub(super) fn network_policy_verdict(obs: &Observations<'_>, client: &Value, svc: &Value, server_pods: &[&Value], port: Option<u16>) -> Verdict {
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

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn timeouts_to_a_healthy_service_behind_a_policy_that_misses_the_client_namespace() {
        let client = pod("co", "gw-1", json!({"app": "gw"}), json!({"containers": [{"name": "gw"}]}), json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [{"name": "gw", "ready": true, "restartCount": 0, "state": {"running": {}}}]}));
        let gw_svc = svc("co", "gw", json!({"app": "gw"}), json!(8080));
        let gw_ep = json!({"kind": "Endpoints", "metadata": {"namespace": "co", "name": "gw"}, "subsets": [{"addresses": [{"ip": "1"}]}]});
        let dep = json!({"kind": "Service", "metadata": {"namespace": "risk", "name": "scorer"}, "spec": {"selector": {"app": "scorer"}, "ports": [{"port": 8080, "targetPort": "http"}]}});
        let dep_ep = json!({"kind": "Endpoints", "metadata": {"namespace": "risk", "name": "scorer"}, "subsets": [{"addresses": [{"ip": "2"}]}]});
        let server = pod("risk", "scorer-1", json!({"app": "scorer"}), json!({"containers": [{"name": "s", "ports": [{"name": "http", "containerPort": 8080}]}]}), json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}));
        let deny = json!({"kind": "NetworkPolicy", "metadata": {"namespace": "risk", "name": "default-deny"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}});
        let allow = json!({"kind": "NetworkPolicy", "metadata": {"namespace": "risk", "name": "scorer-allow-co"}, "spec": {"podSelector": {"matchLabels": {"app": "scorer"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"name": "co"}}, "podSelector": {"matchLabels": {"app": "gw"}}}], "ports": [{"port": 8080}]}]}});
        let ns = json!({"kind": "Namespace", "metadata": {"name": "co", "labels": {"kubernetes.io/metadata.name": "co"}}});
        let log_text = "WARN rejecting payment: fraud check unavailable\norg.springframework.web.reactive.function.client.WebClientRequestException: connection timed out after 2000 ms: scorer.risk.svc.cluster.local/10.1.1.1:8080\nWARN rejecting payment p2: fraud check unavailable (connection timed out after 2000 ms) -> 503";
        let results = [
            read(vec![client, gw_svc, gw_ep, dep, dep_ep, server, deny, ns]),
            listed(Command::list("c", Some("risk"), "networkpolicies", None), vec![allow]),
            log("co", "gw-1", "gw", false, log_text),
        ];
        let f = best(&alert(json!({"alertname": "HighHTTPErrorRate", "namespace": "co", "service": "gw"})), &results);
        assert_eq!((f.root_cause, f.resource.as_deref()), (RootCause::NetworkPolicyBlocked, Some("risk/NetworkPolicy/scorer-allow-co")));
        assert!(text(&f).contains("namespaceSelector"), "{}", text(&f));
    }
}
