//! NetworkPolicy verdicts: whether the policies read admit a connection, and if not, the
//! policy that comes closest and why it does not.

use super::*;
use ipnet::IpNet;
use std::net::IpAddr;

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
    /// Pod IPs, when known (an ipBlock is judged against them).
    pub(super) ips: Vec<IpAddr>,
}

/// `status.podIPs` (or `status.podIP`) of a pod (a hostNetwork pod's are its node's).
pub(super) fn pod_ips(pod: &Value) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = pod.pointer("/status/podIPs").and_then(Value::as_array).into_iter().flatten().filter_map(|p| s(p, "/ip").parse().ok()).collect();
    if ips.is_empty()
        && let Ok(ip) = s(pod, "/status/podIP").parse()
    {
        ips.push(ip);
    }
    ips
}

/// Whether an `ipBlock` admits the peer: its `cidr` holds one of the peer's IPs and no
/// `except` range does. `None` when the peer's IPs are unknown.
fn ip_block_admits(block: &Value, ips: &[IpAddr]) -> Option<bool> {
    if ips.is_empty() {
        return None;
    }
    let net = |c: &str| c.parse::<IpNet>().ok();
    let cidr = net(s(block, "/cidr"))?;
    let except: Vec<IpNet> = block.get("except").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).filter_map(net).collect();
    Some(ips.iter().any(|ip| cidr.contains(ip) && !except.iter().any(|e| e.contains(ip))))
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
    // (pod part matches, namespace part matches) for one peer; an ipBlock is judged against
    // the peer's pod IPs, and given the benefit of the doubt when they are unknown.
    let peer_match = |peer: &Value| -> (bool, bool) {
        if let Some(block) = peer.get("ipBlock") {
            let admits = ip_block_admits(block, &other.ips).unwrap_or(true);
            return (admits, admits);
        }
        let pod_ok = peer.get("podSelector").is_none_or(|sel| k8s::label_selector_matches(sel, other.labels));
        let ns_ok = match peer.get("namespaceSelector") {
            Some(sel) => k8s::label_selector_matches(sel, &other_ns_labels),
            None => ns == other.ns,
        };
        (pod_ok, ns_ok)
    };
    // The policy to blame when none admits the peer: a rule written for this peer (an
    // explicit selector that matches it) that fails on one point; else the policy that
    // isolates the pods and allows nothing in this direction (a default deny); else the
    // closest rule. Scores: rules 2..=12 (even), a default deny 5.
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
                let score = 2 * (1 + 2 * explicit_pod as u8 + 2 * explicit_ns as u8 + port_ok(rule) as u8 + specific);
                let why = if let Some(block) = peer.get("ipBlock") {
                    format!("its ipBlock {} does not hold the peer's address ({})", s(block, "/cidr"), other.ips.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
                } else if !ns_ok {
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
            if peers.is_empty() && near.as_ref().is_none_or(|(best, _, _)| *best < 2 * (1 + specific)) {
                near = Some((2 * (1 + specific), pname.clone(), format!("its {} rule does not include the port", direction.to_lowercase())));
            }
        }
        if rules.is_empty() && near.as_ref().is_none_or(|(best, _, _)| *best < 5) {
            let types: Vec<&str> = p.pointer("/spec/policyTypes").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
            near = Some((
                5,
                pname.clone(),
                format!(
                    "it selects these pods (podSelector {}, policyTypes [{}]) and allows no {} traffic: a default deny, and no other policy admits this peer",
                    p.pointer("/spec/podSelector").map(Value::to_string).unwrap_or_default(),
                    types.join(", "),
                    direction.to_lowercase()
                ),
            ));
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
    let server = End { ns: s(svc, "/metadata/namespace"), labels: &server_labels, ips: server_pods.iter().flat_map(|p| pod_ips(p)).collect() };
    let client_end = End { ns: s(client, "/metadata/namespace"), labels: k8s::labels(client), ips: pod_ips(client) };
    match policy_verdict(obs, "Ingress", &server, &client_end, target.clone()) {
        Verdict::Allowed => policy_verdict(obs, "Egress", &client_end, &server, target),
        other => other,
    }
}

/// A Cilium `egressDeny` rule (CiliumNetworkPolicy in the pod's namespace, or
/// CiliumClusterwideNetworkPolicy) that selects `pod` and denies egress on `port` to
/// outside the cluster. Cilium applies deny rules before any allow, so a Kubernetes
/// NetworkPolicy that allows the port does not help. Returns the policy and why.
/// Whether an egressDeny rule's destination covers a host outside the cluster: `toEntities`
/// world/all; `toCIDR`/`toCIDRSet` only when the address is known and inside (outside any
/// `except`); `toFQDNs` by `matchName` or `matchPattern` (`*` for one or more labels' worth).
fn cilium_rule_covers(rule: &Value, host: &str, ip: Option<std::net::IpAddr>) -> bool {
    let strs = |k: &str| -> Vec<&str> { rule.get(k).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect() };
    let in_cidr = |cidr: &str| ip.is_some_and(|ip| cidr.parse::<IpNet>().is_ok_and(|n| n.contains(&ip)));
    let entities = strs("toEntities").iter().any(|e| matches!(*e, "world" | "all"));
    let cidr = strs("toCIDR").iter().any(|c| in_cidr(c));
    let cidr_set = rule.get("toCIDRSet").and_then(Value::as_array).into_iter().flatten().any(|c| {
        in_cidr(s(c, "/cidr")) && !c.get("except").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).any(&in_cidr)
    });
    let fqdn = rule.get("toFQDNs").and_then(Value::as_array).into_iter().flatten().any(|f| {
        let name = s(f, "/matchName").trim_end_matches('.');
        let pattern = s(f, "/matchPattern").trim_end_matches('.');
        (!name.is_empty() && name.eq_ignore_ascii_case(host)) || (!pattern.is_empty() && glob_matches(&pattern.to_ascii_lowercase(), &host.to_ascii_lowercase()))
    });
    entities || cidr || cidr_set || fqdn
}

/// `*` matches any run of characters (Cilium's matchPattern).
fn glob_matches(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => text.strip_prefix(head).is_some_and(|t| (0..=t.len()).any(|i| t.is_char_boundary(i) && glob_matches(rest, &t[i..]))),
    }
}

/// A Cilium (clusterwide) policy whose egressDeny drops the pod's traffic to `host` (an
/// address outside the cluster, `ip` when known) on `port`: the policy and why.
pub(super) fn cilium_egress_denied(obs: &Observations<'_>, pod: &Value, host: &str, ip: Option<std::net::IpAddr>, port: u16) -> Option<(String, String)> {
    let ns = s(pod, "/metadata/namespace");
    // Cilium's view of the pod's labels: its own, plus the namespace pseudo-label.
    let mut labels = k8s::labels(pod).clone();
    labels.insert("io.kubernetes.pod.namespace".into(), Value::String(ns.to_owned()));
    let strip = |sel: &Value| -> Value {
        let key = |k: &str| k.trim_start_matches("k8s:").trim_start_matches("any:").to_owned();
        let mut out = serde_json::json!({});
        if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
            out["matchLabels"] = Value::Object(m.iter().map(|(k, v)| (key(k), v.clone())).collect());
        }
        if let Some(e) = sel.get("matchExpressions").and_then(Value::as_array) {
            out["matchExpressions"] = Value::Array(e.iter().map(|x| { let mut x = x.clone(); x["key"] = Value::String(key(s(&x, "/key"))); x }).collect());
        }
        out
    };
    let policies = obs.all("CiliumClusterwideNetworkPolicy").chain(obs.all("CiliumNetworkPolicy").filter(|p| s(p, "/metadata/namespace") == ns));
    for p in policies {
        let specs: Vec<&Value> = match p.get("specs").and_then(Value::as_array) {
            Some(v) => v.iter().collect(),
            None => p.get("spec").into_iter().collect(),
        };
        for spec in specs {
            let Some(sel) = spec.get("endpointSelector") else { continue };
            if !k8s::label_selector_matches(&strip(sel), &labels) {
                continue;
            }
            for rule in spec.get("egressDeny").and_then(Value::as_array).into_iter().flatten() {
                let entities: Vec<&str> = rule.get("toEntities").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
                if !cilium_rule_covers(rule, host, ip) {
                    continue;
                }
                let ports: Vec<&Value> = rule.get("toPorts").and_then(Value::as_array).into_iter().flatten().flat_map(|tp| tp.get("ports").and_then(Value::as_array).into_iter().flatten()).collect();
                let hit = ports.is_empty() || ports.iter().any(|pp| {
                    let from: Option<u16> = match pp.get("port") { Some(Value::String(x)) => x.parse().ok(), Some(Value::Number(n)) => n.as_u64().map(|n| n as u16), _ => None };
                    let end = pp.get("endPort").and_then(Value::as_u64).map(|n| n as u16);
                    from.is_none_or(|f| f == 0 || f == port || end.is_some_and(|e| (f..=e).contains(&port)))
                });
                if !hit {
                    continue;
                }
                let pref = resource_ref(Some(s(p, "/metadata/namespace")).filter(|n| !n.is_empty()), s(p, "/kind"), s(p, "/metadata/name"));
                let port_list: Vec<String> = ports.iter().map(|pp| match pp.get("port") { Some(Value::String(x)) => x.clone(), Some(v) => v.to_string(), None => "*".into() }).collect();
                let to = if entities.is_empty() { "external addresses".to_owned() } else { format!("toEntities [{}]", entities.join(", ")) };
                return Some((pref, format!("its egressDeny rule denies {to} on ports [{}], which holds port {port}, for pods its endpointSelector matches ({} in namespace {ns}); Cilium enforces deny rules before any allow", port_list.join(", "), s(pod, "/metadata/name"))));
            }
        }
    }
    None
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
    #[test]
    fn an_ip_block_admits_only_the_addresses_it_holds() {
        let client = pod("shop", "web-1", json!({"app.kubernetes.io/name": "web"}), json!({"containers": [{"name": "web"}]}), json!({"phase": "Running", "podIP": "10.60.2.16", "conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [{"name": "web", "ready": false, "restartCount": 0, "state": {"running": {}}}]}));
        let api = json!({"kind": "Service", "metadata": {"namespace": "shop", "name": "catalog"}, "spec": {"selector": {"app": "catalog"}, "ports": [{"port": 8080}]}});
        let ep = json!({"kind": "Endpoints", "metadata": {"namespace": "shop", "name": "catalog"}, "subsets": [{"addresses": [{"ip": "10.60.1.5"}]}]});
        let server = pod("shop", "catalog-1", json!({"app": "catalog"}), json!({"containers": [{"name": "c", "ports": [{"containerPort": 8080}]}]}), json!({"phase": "Running", "podIP": "10.60.1.5", "conditions": [{"type": "Ready", "status": "True"}]}));
        let deny = json!({"kind": "NetworkPolicy", "metadata": {"namespace": "shop", "name": "default-deny-ingress"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}});
        let lb = json!({"kind": "NetworkPolicy", "metadata": {"namespace": "shop", "name": "allow-from-lb"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": "130.211.0.0/22"}}, {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.60.0.0/16"]}}]}]}});
        let allow = json!({"kind": "NetworkPolicy", "metadata": {"namespace": "shop", "name": "catalog-allow-frontend"}, "spec": {"podSelector": {"matchLabels": {"app": "catalog"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web-frontend"}}}], "ports": [{"port": 8080}]}]}});
        let log_text = "{\"level\":\"error\",\"msg\":\"catalog request failed\"}\n  [cause]: [ConnectTimeoutError: Connect Timeout Error (attempted address: catalog.shop.svc.cluster.local:8080, timeout: 10000ms)]";
        let results = [read(vec![client, api, ep, server]), listed(Command::list("c", Some("shop"), "networkpolicies", None), vec![deny, lb, allow]), log("shop", "web-1", "web", false, log_text)];
        let f = best(&alert(json!({"alertname": "KubePodNotReady", "namespace": "shop", "pod": "web-1"})), &results);
        assert_eq!((f.root_cause, f.resource.as_deref()), (RootCause::NetworkPolicyBlocked, Some("shop/NetworkPolicy/catalog-allow-frontend")));
        assert!(text(&f).contains("web-frontend"), "{}", text(&f));
        assert_eq!(ip_block_admits(&json!({"cidr": "10.0.0.0/8", "except": ["10.60.0.0/16"]}), &["10.60.2.16".parse().unwrap()]), Some(false));
        assert_eq!(ip_block_admits(&json!({"cidr": "10.0.0.0/8"}), &["10.60.2.16".parse().unwrap()]), Some(true));
        assert_eq!(ip_block_admits(&json!({"cidr": "10.0.0.0/8"}), &[]), None);
    }

    #[test]
    fn egress_to_dns_denied_by_default_names_the_default_deny_not_an_unrelated_allow() {
        let p = pod("rep", "api-1", json!({"app": "api"}), json!({"containers": [{"name": "api"}]}), crashing("api", 3));
        let log_text = "psycopg2.OperationalError: could not translate host name \"pg.db.example.internal\" to address: Temporary failure in name resolution";
        let deny = json!({"kind": "NetworkPolicy", "metadata": {"namespace": "rep", "name": "default-deny-all"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}});
        let pg = json!({"kind": "NetworkPolicy", "metadata": {"namespace": "rep", "name": "allow-egress-postgres"}, "spec": {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.30.12.0/24"}}], "ports": [{"port": 5432, "protocol": "TCP"}]}]}});
        let results = [read(vec![p]), log("rep", "api-1", "api", true, log_text), listed(Command::list("c", Some("rep"), "networkpolicies", None), vec![deny, pg])];
        let f = best(&pod_alert("rep", "api-1"), &results);
        assert_eq!((f.root_cause, f.resource.as_deref(), f.tier), (RootCause::NetworkPolicyBlocked, Some("rep/NetworkPolicy/default-deny-all"), Tier::Decisive));
        assert!(text(&f).contains("name resolution") && text(&f).contains("Egress"), "{}", text(&f));
    }

    #[test]
    fn a_clusterwide_cilium_egress_deny_on_the_smtp_port_is_found_for_the_pod() {
        let p = pod("notify", "mailer-1", json!({"app": "mailer"}), json!({"containers": [{"name": "mailer"}]}), json!({"phase": "Running"}));
        let ccnp = json!({"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy", "metadata": {"name": "deny-smtp"}, "spec": {
            "endpointSelector": {"matchExpressions": [{"key": "k8s:io.kubernetes.pod.namespace", "operator": "NotIn", "values": ["mail-relay"]}]},
            "egressDeny": [{"toEntities": ["world"], "toPorts": [{"ports": [{"port": "25", "protocol": "TCP"}, {"port": "587", "protocol": "TCP"}]}]}]}});
        let results = [read(vec![p.clone(), ccnp])];
        let obs = Observations::new(&results);
        let ip = "203.0.113.7".parse().ok();
        let (policy, why) = cilium_egress_denied(&obs, &p, "smtp.example.com", ip, 587).expect("denied");
        assert_eq!(policy, "CiliumClusterwideNetworkPolicy/deny-smtp");
        assert!(why.contains("587") && why.contains("world"), "{why}");
        assert!(cilium_egress_denied(&obs, &p, "smtp.example.com", ip, 443).is_none());
        let mut relay = p.clone();
        relay["metadata"]["namespace"] = json!("mail-relay");
        assert!(cilium_egress_denied(&obs, &relay, "smtp.example.com", ip, 587).is_none());
    }

    #[test]
    fn a_cilium_deny_by_cidr_or_fqdn_covers_only_its_destinations() {
        let p = pod("notify", "mailer-1", json!({"app": "mailer"}), json!({"containers": [{"name": "mailer"}]}), json!({"phase": "Running"}));
        // The cloud metadata deny has no port: it must not claim every external connection.
        let metadata = json!({"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy", "metadata": {"name": "deny-metadata"}, "spec": {
            "endpointSelector": {}, "egressDeny": [{"toCIDR": ["169.254.169.254/32"]}]}});
        let fqdn = json!({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy", "metadata": {"namespace": "notify", "name": "no-paste-sites"}, "spec": {
            "endpointSelector": {}, "egressDeny": [{"toFQDNs": [{"matchPattern": "*.pastebin.com"}]}]}});
        let results = [read(vec![p.clone(), metadata, fqdn])];
        let obs = Observations::new(&results);
        assert!(cilium_egress_denied(&obs, &p, "smtp.example.com", "203.0.113.7".parse().ok(), 587).is_none());
        assert_eq!(cilium_egress_denied(&obs, &p, "metadata.internal", "169.254.169.254".parse().ok(), 80).map(|d| d.0).as_deref(), Some("CiliumClusterwideNetworkPolicy/deny-metadata"));
        assert!(cilium_egress_denied(&obs, &p, "metadata.internal", None, 80).is_none(), "no address, no CIDR verdict");
        assert_eq!(cilium_egress_denied(&obs, &p, "api.pastebin.com", None, 443).map(|d| d.0).as_deref(), Some("notify/CiliumNetworkPolicy/no-paste-sites"));
    }
}
