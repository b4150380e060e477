//! DNS: a lookup failure in a container's log followed to CoreDNS, its config, its
//! workload, a NetworkPolicy that blocks port 53, or a wrong name.

use super::*;
use super::network_policy::{End, Verdict, pod_ips, policy_verdict};

pub(super) struct Dns;

impl Rule for Dns {
    fn name(&self) -> &'static str {
        "dns"
    }

    fn check(&self, cx: &Ctx<'_, '_>, out: &mut Vec<Finding>) {
        for pod in &cx.scope.pods {
            for (c, symptom) in outward_symptoms(cx.obs, pod) {
                if let Symptom::Dns { line, host } = &symptom {
                    out.push(dns_finding(cx.event, &c, line, host.as_ref()));
                }
            }
        }
    }
}

/// The cluster DNS Service (kube-dns: the name kubeadm, EKS, GKE and AKS give CoreDNS).
pub const DNS_NAMESPACE: &str = "kube-system";
/// Name of the cluster DNS Service.
pub const DNS_SERVICE: &str = "kube-dns";

/// Whether a command ran and was answered (a 403 tells nothing about what it lists).
fn answered(obs: &Observations<'_>, cmd: &aetherius_core::Command) -> bool {
    obs.ran(cmd) && !obs.denied.contains(&cmd.to_string())
}

fn dns_finding(event: &StandardEvent, c: &Client<'_>, line: &str, host: Option<&Host>) -> Finding {
    let obs = c.obs;
    let client_ns = s(c.pod, "/metadata/namespace");
    let pod_name = s(c.pod, "/metadata/name");
    let mut evidence = vec![ev(&c.log_src, line.trim()), c.state.clone()];
    let host_txt = host.map(|h| format!("{}{}", h.name, h.namespace.as_ref().map(|n| format!(".{n}")).unwrap_or_default())).unwrap_or_else(|| "a host".into());
    let advice_dns = "Fix CoreDNS (kube-system): its pods must run and its Corefile must parse; check `kubectl -n kube-system logs -l k8s-app=kube-dns`.";
    let rc = RootCause::DnsFailure;

    // What the pod itself decides, before blaming the cluster DNS: its dnsPolicy ...
    let dns_policy = s(c.pod, "/spec/dnsPolicy");
    let host_network = c.pod.pointer("/spec/hostNetwork").and_then(Value::as_bool).unwrap_or(false);
    let cluster_name = host.is_some_and(|h| h.namespace.is_some() || obs.get("Service", client_ns, &h.name).is_some());
    if host_network && matches!(dns_policy, "" | "ClusterFirst") {
        // The kubelet gives a hostNetwork pod with ClusterFirst the node's resolv.conf: only
        // ClusterFirstWithHostNet sends it to the cluster DNS.
        evidence.push(ev(format!("{client_ns}/Pod/{pod_name} spec"), format!("hostNetwork: true with dnsPolicy {}: the pod uses the node's resolver, which does not know cluster names (ClusterFirstWithHostNet is needed)", if dns_policy.is_empty() { "ClusterFirst (default)" } else { dns_policy })));
        return finding(
            rc,
            c.workload.to_owned(),
            if cluster_name { Decisive } else { Consistent },
            format!("{} cannot resolve {host_txt}: the pod runs with hostNetwork: true and dnsPolicy ClusterFirst, so it asks the node's resolver, not the cluster DNS.", c.container),
            evidence,
            format!("Set dnsPolicy: ClusterFirstWithHostNet in the pod template of {}.", c.workload),
        );
    }
    if matches!(dns_policy, "Default" | "None") {
        evidence.push(ev(format!("{client_ns}/Pod/{pod_name} spec"), format!("dnsPolicy {dns_policy}: cluster names are not resolvable")));
        return finding(rc, c.workload.to_owned(), if cluster_name { Decisive } else { Consistent }, format!("{} cannot resolve {host_txt}: its dnsPolicy {dns_policy} bypasses cluster DNS.", c.container), evidence, format!("Set dnsPolicy ClusterFirst in {}.", c.workload));
    }
    // A StatefulSet's peer names (<pod>.<headless svc>) exist only for the pods the headless
    // Service selects: a selector that misses them makes every such lookup NXDOMAIN while
    // CoreDNS is fine.
    if let Some(h) = host
        && let Some(f) = headless_selects_no_peer(obs, h.namespace.as_deref().unwrap_or(client_ns), &h.name, &host_txt, &c.container, &evidence)
    {
        return f;
    }
    if let Some(ip) = link_local_resolver(line)
        && let Some(f) = node_local_dns_missing(obs, c, &ip, &host_txt, &evidence)
    {
        return f;
    }
    let dns_svc = obs.get("Service", DNS_NAMESPACE, DNS_SERVICE);
    let dns_selector = dns_svc.and_then(|d| d.pointer("/spec/selector")).and_then(Value::as_object).cloned().unwrap_or_default();
    let dns_pods = dns_svc.map(|d| scope::pods_of_service(obs, d)).unwrap_or_default();
    // ... and the egress policies of its own namespace, which may drop port 53.
    let dns_labels: Map<String, Value> = match dns_pods.first() {
        Some(p) => k8s::labels(p).clone(),
        None if !dns_selector.is_empty() => dns_selector.clone(),
        None => [("k8s-app".to_owned(), Value::String(DNS_SERVICE.to_owned()))].into_iter().collect(),
    };
    let client_end = End { ns: client_ns, labels: k8s::labels(c.pod), ips: pod_ips(c.pod) };
    let dns_end = End { ns: DNS_NAMESPACE, labels: &dns_labels, ips: dns_pods.iter().flat_map(|p| pod_ips(p)).collect() };
    if let Verdict::Blocked { policy, why } = policy_verdict(obs, "Egress", &client_end, &dns_end, Some((Some(53), Some("dns".into())))) {
        evidence.push(ev(policy.clone(), why.clone()));
        return finding(RootCause::NetworkPolicyBlocked, policy.clone(), Decisive, format!("{} cannot resolve {host_txt}: NetworkPolicy {policy} blocks its DNS traffic (UDP/TCP 53) to the cluster DNS in {DNS_NAMESPACE} ({why}).", c.container), evidence, format!("Allow egress to the kube-dns pods in {DNS_NAMESPACE} on UDP and TCP 53 for these pods (in {policy} or an allow-dns policy)."));
    }

    let Some(_) = dns_svc else {
        if obs.missing.contains(&("Service".into(), DNS_NAMESPACE.into(), DNS_SERVICE.into())) {
            evidence.push(ev(format!("{DNS_NAMESPACE}/Service/{DNS_SERVICE}"), "the cluster DNS Service does not exist"));
            return finding(rc, format!("{DNS_NAMESPACE}/Service/{DNS_SERVICE}"), Consistent, format!("Name resolution of {host_txt} fails and the cluster DNS Service is missing."), evidence, advice_dns);
        }
        return finding(rc, c.workload.to_owned(), Consistent, format!("Container {} cannot resolve {host_txt}; the cluster DNS is not checked yet.", c.container), evidence, advice_dns);
    };
    let unhealthy: Vec<&Value> = dns_pods.iter().copied().filter(|p| !k8s::pod_ready(p)).collect();
    if !dns_pods.is_empty() && !unhealthy.is_empty() {
        let mut resource = workload_ref(obs, unhealthy[0]);
        let mut tier = Consistent;
        let mut cause_txt = format!("{} of {} CoreDNS pods are not ready", unhealthy.len(), dns_pods.len());
        for p in &unhealthy {
            let (pns, pname) = (s(p, "/metadata/namespace"), s(p, "/metadata/name"));
            for cs in container_statuses(p) {
                let cname = s(cs, "/name");
                evidence.push(ev(format!("{pns}/Pod/{pname} container {cname}"), format!("ready={}, waiting: {}, restarts {}", cs.get("ready").and_then(Value::as_bool).unwrap_or(false), s(cs, "/state/waiting/reason"), cs.get("restartCount").and_then(Value::as_u64).unwrap_or(0))));
                let Some((log, prev)) = obs.log(pns, pname, cname) else { continue };
                let Some(sym) = logs::crash_cause(log) else { continue };
                evidence.push(ev(format!("logs {pns}/{pname}/{cname}{}", if prev { " (previous)" } else { "" }), sym.line().trim()));
                tier = Decisive;
                cause_txt = format!("CoreDNS crashes: {}", sym.line().trim());
                if matches!(sym, Symptom::BadConfig { .. })
                    && let Some(cm) = p.pointer("/spec/volumes").and_then(Value::as_array).into_iter().flatten().find_map(|v| v.pointer("/configMap/name").and_then(Value::as_str))
                {
                    resource = format!("{pns}/ConfigMap/{cm}");
                }
                break;
            }
            if tier == Decisive {
                break;
            }
        }
        return finding(rc, resource.clone(), tier, format!("{} cannot resolve {host_txt} because the cluster DNS is down: {cause_txt}.", c.container), evidence, format!("Fix {resource}; every pod's name resolution depends on it."));
    }
    // The workload behind kube-dns, and what its status says (its pods may be unreadable).
    let backing = workloads_selected(obs, DNS_NAMESPACE, &dns_selector);
    let backing_ready = backing.iter().any(|w| w.pointer("/status/readyReplicas").and_then(Value::as_i64).unwrap_or(0) > 0);
    let dns_pods_listed = !dns_selector.is_empty() && answered(obs, &aetherius_core::Command::list(&event.cluster_id, Some(DNS_NAMESPACE), "pods", Some(&k8s::selector_string(&dns_selector))));
    if dns_pods.is_empty() && dns_pods_listed && !backing_ready {
        // No DNS pod at all: the workload behind kube-dns is scaled down or gone.
        evidence.push(ev(format!("{DNS_NAMESPACE}/Service/{DNS_SERVICE}"), format!("selector {} matches no pod", k8s::selector_string(&dns_selector))));
        let (resource, conf) = match backing.first() {
            Some(w) => {
                let wref = resource_ref(Some(DNS_NAMESPACE), s(w, "/kind"), s(w, "/metadata/name"));
                evidence.push(ev(wref.clone(), format!("spec.replicas: {}", w.pointer("/spec/replicas").map(Value::to_string).unwrap_or_default())));
                (wref, Decisive)
            }
            None => (format!("{DNS_NAMESPACE}/Service/{DNS_SERVICE}"), Consistent),
        };
        return finding(rc, resource.clone(), conf, format!("{} cannot resolve {host_txt}: no CoreDNS pod runs.", c.container), evidence, format!("Bring {resource} back (scale it up); every pod's name resolution depends on it."));
    }
    let dns_healthy = !dns_pods.is_empty() || backing_ready || obs.get("Endpoints", DNS_NAMESPACE, DNS_SERVICE).is_some_and(|e| k8s::endpoint_addresses(e).0 > 0);
    if dns_healthy {
        let ready_txt = match (dns_pods.len(), backing.first()) {
            (0, Some(w)) => format!("{} reports {} ready replicas", resource_ref(Some(DNS_NAMESPACE), s(w, "/kind"), s(w, "/metadata/name")), w.pointer("/status/readyReplicas").and_then(Value::as_i64).unwrap_or(0)),
            (n, _) => format!("{n} CoreDNS pods ready"),
        };
        evidence.push(ev(format!("{DNS_NAMESPACE}/Service/{DNS_SERVICE}"), ready_txt));
        if let Some(h) = host {
            let hns = h.namespace.as_deref().unwrap_or(client_ns);
            if c.obs.missing.contains(&("Service".into(), hns.into(), h.name.clone())) {
                evidence.push(ev(format!("{hns}/Service/{}", h.name), "does not exist"));
                return finding(rc, c.workload.to_owned(), Consistent, format!("{} resolves {host_txt}, which names no Service: CoreDNS is healthy, the name is wrong.", c.container), evidence, format!("Fix the host name {} uses (the Service may have been renamed).", c.workload));
            }
        }
        return finding(rc, c.workload.to_owned(), Consistent, format!("{} cannot resolve {host_txt} although CoreDNS is ready.", c.container), evidence, "Check the name, the pod's dnsConfig, and network policies that may block UDP/TCP 53.");
    }
    finding(rc, c.workload.to_owned(), Consistent, format!("{} cannot resolve {host_txt}; CoreDNS pods are not read yet.", c.container), evidence, advice_dns)
}

static RESOLVER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bon \[?(169\.254\.\d{1,3}\.\d{1,3})\]?:53\b").unwrap());

/// The link-local resolver a lookup went to (`lookup x on 169.254.20.10:53`): the
/// NodeLocal DNSCache address the kubelet's clusterDNS points at, served by a hostNetwork
/// DaemonSet on each node.
pub(crate) fn link_local_resolver(line: &str) -> Option<String> {
    RESOLVER.captures(line).map(|c| c[1].to_owned())
}

/// The node-local DNS cache DaemonSet (the one listening on `ip`, or labelled
/// k8s-app=node-local-dns) with no pod on the client's node because it does not tolerate
/// the node's taints: the kubelet still sends every lookup to `ip`, and nothing answers.
fn node_local_dns_missing(obs: &Observations<'_>, c: &Client<'_>, ip: &str, host_txt: &str, evidence: &[Evidence]) -> Option<Finding> {
    let listens = |ds: &Value| {
        let containers = ds.pointer("/spec/template/spec/containers").and_then(Value::as_array).into_iter().flatten();
        containers.flat_map(|c| ["args", "command"].map(|f| c.get(f).and_then(Value::as_array).cloned().unwrap_or_default())).flatten().any(|a| a.as_str().is_some_and(|a| a.split(',').any(|x| x.trim() == ip)))
    };
    let ds = obs.all("DaemonSet").find(|d| listens(d)).or_else(|| obs.all("DaemonSet").find(|d| s(d, "/metadata/labels/k8s-app") == "node-local-dns"))?;
    let ds_ref = resource_ref(Some(s(ds, "/metadata/namespace")), "DaemonSet", s(ds, "/metadata/name"));
    let mut evidence = evidence.to_vec();
    evidence.push(ev(ds_ref.clone(), format!("serves the node-local DNS cache on {ip}")));
    let node_name = s(c.pod, "/spec/nodeName");
    let template = ds.pointer("/spec/template").unwrap_or(&Value::Null);
    let tol_txt: Vec<String> = template.pointer("/spec/tolerations").and_then(Value::as_array).into_iter().flatten().map(|t| {
        let (k, op, v, e) = (s(t, "/key"), s(t, "/operator"), s(t, "/value"), s(t, "/effect"));
        format!("{}{}{}", if k.is_empty() { "*".to_owned() } else { k.to_owned() }, if op == "Exists" { " Exists".to_owned() } else { format!("={v}") }, if e.is_empty() { String::new() } else { format!(":{e}") })
    }).collect();
    // Judged as the controller places daemon pods (with the tolerations it adds to them).
    let untolerated = obs.get("Node", "", node_name).map(|n| k8s::untolerated_taints(&super::nodes::daemon_pod_template(ds), n));
    let (tier, why) = match untolerated {
        Some(t) if !t.is_empty() => {
            evidence.push(ev(format!("Node/{node_name} spec.taints"), format!("{} not tolerated by {ds_ref} (tolerations: {})", t.join(", "), if tol_txt.is_empty() { "none".into() } else { tol_txt.join(", ") })));
            (Decisive, format!("{ds_ref} does not tolerate taint {} of node {node_name}, so no cache runs there", t.join(", ")))
        }
        Some(_) => return None,
        None => (Consistent, format!("{ds_ref} may have no ready pod on node {node_name} (the node is not read yet)")),
    };
    Some(finding(
        RootCause::DnsFailure,
        ds_ref.clone(),
        tier,
        format!("{} cannot resolve {host_txt}: its lookups go to the node-local DNS cache {ip}, and {why}.", c.container),
        evidence,
        format!("Add a toleration for the node's taint to {ds_ref} (node-local DNS must run on every node whose kubelet points at {ip})."),
    ))
}

/// A headless Service (the StatefulSet's `serviceName`) whose selector matches none of the
/// StatefulSet's pods that were read: its per-pod DNS records do not exist.
fn headless_selects_no_peer(obs: &Observations<'_>, ns: &str, svc_name: &str, host_txt: &str, container: &str, evidence: &[Evidence]) -> Option<Finding> {
    let svc = obs.get("Service", ns, svc_name)?;
    if s(svc, "/spec/clusterIP") != "None" {
        return None;
    }
    let selector = svc.pointer("/spec/selector").and_then(Value::as_object).filter(|m| !m.is_empty())?;
    if !scope::pods_of_service(obs, svc).is_empty() {
        return None;
    }
    let sts = obs.all("StatefulSet").find(|w| s(w, "/metadata/namespace") == ns && s(w, "/spec/serviceName") == svc_name)?;
    let sts_sel = sts.pointer("/spec/selector/matchLabels").and_then(Value::as_object)?;
    let peer = obs.all("Pod").find(|p| s(p, "/metadata/namespace") == ns && k8s::map_selects(sts_sel, k8s::labels(p)))?;
    let svc_ref = resource_ref(Some(ns), "Service", svc_name);
    let sts_ref = resource_ref(Some(ns), "StatefulSet", s(sts, "/metadata/name"));
    let sel_txt = k8s::selector_string(selector);
    let diffs = super::services::selector_diffs(selector, k8s::labels(peer));
    let mut evidence = evidence.to_vec();
    evidence.push(ev(format!("{svc_ref} spec.selector"), format!("{sel_txt} matches no pod of {sts_ref} (its spec.serviceName)")));
    let pod_labels: Vec<String> = k8s::labels(peer).iter().filter(|(k, _)| !matches!(k.as_str(), "controller-revision-hash" | "statefulset.kubernetes.io/pod-name" | "apps.kubernetes.io/pod-index")).map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
    evidence.push(ev(format!("{ns}/Pod/{} labels", s(peer, "/metadata/name")), pod_labels.join(", ")));
    evidence.push(ev(format!("pods of {sts_ref}"), diffs.join("; ")));
    Some(finding(
        RootCause::ServiceNoEndpoints,
        svc_ref.clone(),
        Decisive,
        format!("{container} cannot resolve {host_txt}: headless {svc_ref} selects none of {sts_ref}'s pods ({}), so their per-pod DNS records do not exist.", diffs.join("; ")),
        evidence,
        format!("Align the selector of {svc_ref} with the labels of {sts_ref}'s pods; the peer names resolve once its Endpoints list them."),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn a_dns_failure_is_traced_to_the_corefile_coredns_cannot_parse() {
        let p = pod("shop", "cart-1", json!({"app": "cart"}), json!({"containers": [{"name": "cart"}]}), crashing("cart", 1));
        let client_log = r#"{"level":"ERROR","msg":"startup failed","error":"dial tcp: lookup redis.cache.svc.cluster.local on 10.96.0.10:53: read udp 10.0.0.5:5775->10.96.0.10:53: read: connection refused"}"#;
        let dns_svc = json!({"kind": "Service", "metadata": {"namespace": "kube-system", "name": "kube-dns"}, "spec": {"selector": {"k8s-app": "kube-dns"}}});
        let mut coredns = pod("kube-system", "coredns-abc", json!({"k8s-app": "kube-dns"}), json!({"containers": [{"name": "coredns"}], "volumes": [{"name": "config-volume", "configMap": {"name": "coredns"}}]}), crashing("coredns", 1));
        coredns["metadata"]["ownerReferences"][0]["name"] = json!("coredns-7d8b9");
        let results = [
            read(vec![p, dns_svc, coredns]),
            log("shop", "cart-1", "cart", true, client_log),
            log("kube-system", "coredns-abc", "coredns", true, "/etc/coredns/Corefile:7 - Error during parsing: Unknown directive 'bogus'"),
        ];
        let f = best(&pod_alert("shop", "cart-1"), &results);
        assert_eq!(f.root_cause, RootCause::DnsFailure);
        assert_eq!(f.resource.as_deref(), Some("kube-system/ConfigMap/coredns"));
        assert!(text(&f).contains("Unknown directive 'bogus'"));
    }
    #[test]
    fn a_host_network_pod_with_cluster_first_uses_the_nodes_resolver() {
        let spec = json!({"hostNetwork": true, "dnsPolicy": "ClusterFirst", "containers": [{"name": "vector"}]});
        let mut p = pod("logs", "edge-1", json!({"app": "edge"}), spec, json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [{"name": "vector", "ready": true, "restartCount": 0, "state": {"running": {}}}]}));
        p["metadata"]["ownerReferences"] = json!([{"kind": "DaemonSet", "name": "edge", "controller": true}]);
        let log_text = r#"2026-12-02T11:03:51Z  WARN sink{component_id=to_aggregator}: vector::sinks::util::retries: Retrying after error. error=Request failed: status: Unavailable, message: "error trying to connect: dns error: failed to lookup address information: Name or service not known""#;
        let f = best(&alert(json!({"alertname": "VectorSinkErrors", "namespace": "logs", "pod": "edge-1"})), &[read(vec![p.clone()]), log("logs", "edge-1", "vector", false, log_text)]);
        assert_eq!((f.root_cause, f.resource.as_deref()), (RootCause::DnsFailure, Some("logs/DaemonSet/edge")));
        assert!(text(&f).contains("hostNetwork: true") && text(&f).contains("ClusterFirstWithHostNet"), "{}", text(&f));
        // With ClusterFirstWithHostNet the pod asks CoreDNS: the node's resolver is not the suspect.
        p["spec"]["dnsPolicy"] = json!("ClusterFirstWithHostNet");
        let f = best(&alert(json!({"alertname": "VectorSinkErrors", "namespace": "logs", "pod": "edge-1"})), &[read(vec![p]), log("logs", "edge-1", "vector", false, log_text)]);
        assert!(!text(&f).contains("node's resolver"), "{}", text(&f));
    }

    #[test]
    fn peer_names_of_a_statefulset_fail_when_its_headless_service_selects_none_of_its_pods() {
        let labels = json!({"app.kubernetes.io/name": "zk", "app.kubernetes.io/component": "coordination"});
        let mut p = pod("data", "zk-0", labels.clone(), json!({"containers": [{"name": "zk"}]}), crashing("zk", 3));
        p["metadata"]["ownerReferences"] = json!([{"kind": "StatefulSet", "name": "zk", "controller": true}]);
        let sts = json!({"kind": "StatefulSet", "metadata": {"namespace": "data", "name": "zk"}, "spec": {"serviceName": "zk-headless", "selector": {"matchLabels": labels}}});
        let headless = json!({"kind": "Service", "metadata": {"namespace": "data", "name": "zk-headless"}, "spec": {"clusterIP": "None", "selector": {"app.kubernetes.io/name": "zk", "app.kubernetes.io/component": "zookeeper"}}});
        let log_text = "2026-12-03 10:51:53 ERROR QuorumCnxManager: Cannot open channel to 1 at election address zk-1.zk-headless.data.svc.cluster.local:3888: java.net.UnknownHostException: zk-1.zk-headless.data.svc.cluster.local";
        let f = best(&pod_alert("data", "zk-0"), &[read(vec![p, sts, headless]), log("data", "zk-0", "zk", true, log_text)]);
        assert_eq!((f.root_cause, f.resource.as_deref(), f.tier), (RootCause::ServiceNoEndpoints, Some("data/Service/zk-headless"), Tier::Decisive));
        let t = text(&f);
        assert!(t.contains("selector wants app.kubernetes.io/component=zookeeper, pods have app.kubernetes.io/component=coordination"), "{t}");
    }

    #[test]
    fn lookups_timing_out_on_the_node_local_cache_name_the_daemonset_that_skips_the_tainted_node() {
        let mut p = pod("rep", "worker-1", json!({"app": "worker"}), json!({"nodeName": "spot-1", "containers": [{"name": "worker"}], "tolerations": [{"key": "workload", "value": "batch", "effect": "NoSchedule"}]}), crashing("worker", 4));
        p["metadata"]["ownerReferences"][0]["name"] = json!("worker-5d9");
        let log_text = "hostname resolving error: lookup db.rep.svc.cluster.local on 169.254.20.10:53: read udp 10.0.1.5:33542->169.254.20.10:53: i/o timeout";
        let ds = json!({"kind": "DaemonSet", "metadata": {"namespace": "kube-system", "name": "node-local-dns", "labels": {"k8s-app": "node-local-dns"}}, "spec": {"template": {"spec": {"hostNetwork": true, "containers": [{"name": "node-cache", "args": ["-localip", "169.254.20.10,10.96.0.10"]}], "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}]}}}});
        let node = json!({"kind": "Node", "metadata": {"name": "spot-1"}, "spec": {"taints": [{"key": "workload", "value": "batch", "effect": "NoSchedule"}]}});
        let f = best(&pod_alert("rep", "worker-1"), &[read(vec![p.clone(), ds.clone()]), log("rep", "worker-1", "worker", true, log_text)]);
        assert_eq!((f.resource.as_deref(), f.tier), (Some("kube-system/DaemonSet/node-local-dns"), Tier::Consistent));
        let f = best(&pod_alert("rep", "worker-1"), &[read(vec![p, ds, node]), log("rep", "worker-1", "worker", true, log_text)]);
        assert_eq!((f.root_cause, f.resource.as_deref(), f.tier), (RootCause::DnsFailure, Some("kube-system/DaemonSet/node-local-dns"), Tier::Decisive));
        let t = text(&f);
        assert!(t.contains("workload=batch:NoSchedule") && t.contains("CriticalAddonsOnly Exists") && t.contains("169.254.20.10"), "{t}");
    }
}
