//! Dependencies: a refused or timed-out connection in a container's log followed to the
//! Service it calls, its endpoints, the workload behind them or a NetworkPolicy.

use super::*;
use super::{
    network_policy::{Verdict, network_policy_verdict},
    services::port_mismatch,
};

pub(super) struct Dependency;

impl Rule for Dependency {
    fn name(&self) -> &'static str {
        "dependency"
    }

    fn check(&self, cx: &Ctx<'_, '_>, out: &mut Vec<Finding>) {
        for pod in &cx.scope.pods {
            for (c, symptom) in outward_symptoms(cx.obs, pod) {
                let Symptom::Dependency { line, host, failure } = &symptom else { continue };
                let Some(mut f) = dependency_finding(cx.event, &c, line, host.as_ref(), *failure) else { continue };
                // The container still runs: what it cannot reach hurts its requests, not its life.
                if !c.crashed && f.root_cause == RootCause::CrashloopDependencyUnavailable {
                    f.set_tier(f.tier.min(Consistent));
                }
                out.push(f);
            }
        }
    }
}

fn dependency_finding(event: &StandardEvent, c: &Client<'_>, line: &str, host: Option<&Host>, failure: ConnectFailure) -> Option<Finding> {
    let obs = c.obs;
    let client_ns = s(c.pod, "/metadata/namespace");
    let mut evidence = vec![ev(&c.log_src, line.trim()), c.state.clone()];
    let rc = RootCause::CrashloopDependencyUnavailable;
    let verb = if c.crashed { "crashes because" } else { "fails requests because" };
    let Some(h) = host else {
        return Some(finding(rc, c.workload.to_owned(), if c.crashed { Consistent } else { Weak }, format!("{} {verb} a dependency is unreachable: {}", c.container, line.trim()), evidence, "Check the service it connects to, its endpoints and the address configured."));
    };
    // An address dialled: the Service whose ClusterIP it is, once the Services are read.
    let resolved;
    let h = match h.ip.filter(|ip| ip.to_string() == h.name) {
        Some(ip) => match obs.service_by_cluster_ip(&ip.to_string()) {
            Some(svc) => {
                evidence.push(ev(resource_ref(Some(s(svc, "/metadata/namespace")), "Service", s(svc, "/metadata/name")), format!("has ClusterIP {ip}")));
                resolved = Host { name: s(svc, "/metadata/name").to_owned(), namespace: Some(s(svc, "/metadata/namespace").to_owned()), port: h.port, ip: h.ip };
                &resolved
            }
            None => return Some(finding(rc, c.workload.to_owned(), if c.crashed { Consistent } else { Weak }, format!("{} {verb} {} is unreachable: {}", c.container, h.name, line.trim()), evidence, "Find the Service with that ClusterIP and check its endpoints.")),
        },
        None => h,
    };
    let ns = h.namespace.as_deref().unwrap_or(client_ns);
    let svc_ref = format!("{ns}/Service/{}", h.name);
    // Not a Service of the cluster: an egress deny of the CNI may drop it (timeouts).
    if obs.get("Service", ns, &h.name).is_none()
        && failure != ConnectFailure::Unavailable
        && let Some(port) = h.port
        && let Some((policy, why)) = super::network_policy::cilium_egress_denied(obs, c.pod, &h.name, h.ip, port)
    {
        evidence.push(ev(policy.clone(), why.clone()));
        return Some(finding(
            RootCause::NetworkPolicyBlocked,
            policy.clone(),
            Decisive,
            format!("{} {verb} its connections to {} port {port} are dropped: {policy} denies them ({why}).", c.container, h.name),
            evidence,
            format!("Exempt {} from {policy} (or send the traffic through the path the policy allows); a namespace NetworkPolicy allow does not override a Cilium deny.", c.workload),
        ));
    }
    if obs.missing.contains(&("Service".into(), ns.into(), h.name.clone())) {
        evidence.push(ev(svc_ref.clone(), "does not exist"));
        return Some(finding(rc, c.workload.to_owned(), Consistent, format!("{} {verb} it connects to {}, which is not a Service in {ns}.", c.container, h.name), evidence, format!("Point {} at the right Service, or deploy the dependency.", c.workload)));
    }
    let Some(svc) = obs.get("Service", ns, &h.name) else {
        return Some(finding(rc, c.workload.to_owned(), if c.crashed { Consistent } else { Weak }, format!("{} {verb} {} is unreachable; the Service is not read yet.", c.container, h.name), evidence, format!("Check Service {svc_ref} and its endpoints.")));
    };
    let Some((ready, not_ready)) = service_endpoints(obs, ns, &h.name) else {
        return Some(finding(rc, c.workload.to_owned(), if c.crashed { Consistent } else { Weak }, format!("{} {verb} {} is unreachable; its endpoints are not read yet.", c.container, h.name), evidence, format!("Check the endpoints of {svc_ref}.")));
    };
    evidence.push(ev(format!("Endpoints of {svc_ref}"), format!("{ready} ready, {not_ready} not ready addresses")));
    if ready == 0 {
        let selector = svc.pointer("/spec/selector").and_then(Value::as_object).cloned().unwrap_or_default();
        let pods = scope::pods_of_service(obs, svc);
        let backing = workloads_selected(obs, ns, &selector);
        let (resource, conf, why) = if let Some((cr_ref, tier, why)) = custom_owner_down(obs, svc, &pods, &mut evidence) {
            (cr_ref, tier, why)
        } else if let Some(w) = backing.iter().find(|w| w.pointer("/spec/replicas").and_then(Value::as_i64) == Some(0)) {
            let wref = resource_ref(Some(ns), s(w, "/kind"), s(w, "/metadata/name"));
            evidence.push(ev(wref.clone(), "spec.replicas: 0 (scaled to zero)"));
            (wref.clone(), Decisive, format!("{wref}, which backs {svc_ref}, is scaled to 0"))
        } else if let Some(p) = pods.first() {
            let wref = workload_ref(obs, p);
            evidence.push(ev(format!("{ns}/Pod/{}", s(p, "/metadata/name")), format!("phase {}, not ready", s(p, "/status/phase"))));
            // Why the dependency itself is down: its crashed container's own log.
            for cs in container_statuses(p).filter(|cs| cs.get("restartCount").and_then(Value::as_u64).unwrap_or(0) > 0) {
                let (pname, cname) = (s(p, "/metadata/name"), s(cs, "/name"));
                if let Some((log, true)) = obs.log(ns, pname, cname)
                    && let Some(sy) = logs::crash_cause(log)
                {
                    evidence.push(ev(format!("logs {ns}/{pname}/{cname} (previous)"), sy.line().trim()));
                }
            }
            (wref.clone(), Consistent, format!("the pods of {wref} behind {svc_ref} are not ready"))
        } else if let Some(w) = backing.first() {
            let wref = resource_ref(Some(ns), s(w, "/kind"), s(w, "/metadata/name"));
            (wref.clone(), Consistent, format!("{wref} backs {svc_ref} but has no running pod"))
        } else if !selector.is_empty() && obs.ran(&aetherius_core::Command::list(&event.cluster_id, Some(ns), "pods", Some(&k8s::selector_string(&selector)))) {
            evidence.push(ev(svc_ref.clone(), format!("selector {} matches no pod", k8s::selector_string(&selector))));
            (svc_ref.clone(), Consistent, format!("{svc_ref} selects no pod"))
        } else {
            (svc_ref.clone(), Consistent, format!("{svc_ref} has no ready endpoint"))
        };
        return Some(finding(rc, resource.clone(), conf, format!("{} {verb} {} refuses connections: {why}.", c.container, h.name), evidence, format!("Restore {resource} (scale it up / fix its pods); {} recovers once {svc_ref} has ready endpoints.", c.workload)));
    }
    // The dependency has ready endpoints.
    if failure == ConnectFailure::Unavailable {
        // It answered that it cannot serve (sealed, starting up, 503): the fix is on its side.
        let selector = svc.pointer("/spec/selector").and_then(Value::as_object).cloned().unwrap_or_default();
        let backing = workloads_selected(obs, ns, &selector);
        let resource = backing.first().map_or_else(|| svc_ref.clone(), |w| resource_ref(Some(ns), s(w, "/kind"), s(w, "/metadata/name")));
        if resource != svc_ref {
            evidence.push(ev(resource.clone(), format!("backs {svc_ref}")));
        }
        // Decisive once the workload behind it is known; the Service alone is still a lead.
        let tier = if c.crashed && resource != svc_ref { Decisive } else { Consistent };
        return Some(finding(
            rc,
            resource.clone(),
            tier,
            format!("{} {verb} {} answers that it cannot serve: {}", c.container, h.name, line.trim()),
            evidence,
            format!("Bring {resource} back into service (unseal it, let it finish recovery, fix what keeps it unavailable); {} recovers on its next restart.", c.workload),
        ));
    }
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
                    Decisive,
                    format!("{} times out calling {} although {svc_ref} has {ready} ready endpoints: NetworkPolicy {policy} does not admit it ({why}).", c.container, h.name),
                    evidence,
                    format!("Fix {policy} so its ingress rule admits pods of {} from namespace {client_ns}.", c.workload),
                ));
            }
            Verdict::Allowed => evidence.push(ev(format!("NetworkPolicies of {ns}"), format!("admit {client_ns}/{}", s(c.pod, "/metadata/name")))),
            Verdict::NotRead => return Some(finding(rc, c.workload.to_owned(), if c.crashed { Consistent } else { Weak }, format!("{} {verb} {} times out although {svc_ref} has ready endpoints; network policies are not read yet.", c.container, h.name), evidence, format!("Check NetworkPolicies in {ns} and the health of {svc_ref}'s pods."))),
        }
    }
    Some(finding(rc, c.workload.to_owned(), if c.crashed { Consistent } else { Weak }, format!("{} {verb} {} is unreachable although {svc_ref} has {ready} ready endpoints.", c.container, h.name), evidence, format!("Check the pods behind {svc_ref} (overload, slow start) and the address {} uses.", c.workload)))
}

/// Kinds Kubernetes itself controls; any other controller owner is an operator's resource.
const BUILTIN_OWNERS: &[&str] = &["ReplicaSet", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicationController", "Node", "Service", "Endpoints", "EndpointSlice"];

/// The custom resource an operator runs the dependency from (the controller owner of its
/// Service or pods: a CloudNativePG Cluster, a Strimzi Kafka), and what it says about why
/// it serves nothing: annotations that pause it (hibernation, suspend), 0 instances, a
/// condition that is not healthy.
fn custom_owner_down(obs: &Observations<'_>, svc: &Value, pods: &[&Value], evidence: &mut Vec<Evidence>) -> Option<(String, Tier, String)> {
    let ns = s(svc, "/metadata/namespace");
    let owner = std::iter::once(svc).chain(pods.iter().copied()).find_map(|o| {
        o.pointer("/metadata/ownerReferences").and_then(Value::as_array).into_iter().flatten().find(|r| r.get("controller").and_then(Value::as_bool).unwrap_or(false) && !BUILTIN_OWNERS.contains(&s(r, "/kind")))
    })?;
    let (kind, name) = (s(owner, "/kind"), s(owner, "/name"));
    let cr_ref = resource_ref(Some(ns), kind, name);
    let svc_ref = resource_ref(Some(ns), "Service", s(svc, "/metadata/name"));
    evidence.push(ev(svc_ref.clone(), format!("owned by {kind} {name} ({})", s(owner, "/apiVersion"))));
    let Some(cr) = obs.get(kind, ns, name) else {
        return Some((cr_ref.clone(), Consistent, format!("{svc_ref} is run by {cr_ref} (not read yet), and has no ready endpoint")));
    };
    let mut reasons = vec![];
    for (k, v) in cr.pointer("/metadata/annotations").and_then(Value::as_object).into_iter().flatten() {
        let key = k.to_ascii_lowercase();
        let on = v.as_str().is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "on" | "true" | "yes" | "1"));
        if on && ["hibernat", "suspend", "pause", "stop"].iter().any(|w| key.contains(w)) {
            reasons.push(format!("annotation {k}: {}", v.as_str().unwrap_or_default()));
        }
    }
    for field in ["/spec/instances", "/spec/replicas", "/status/instances"] {
        if cr.pointer(field).and_then(Value::as_i64) == Some(0) {
            reasons.push(format!("{}: 0", field.trim_start_matches('/').replace('/', ".")));
        }
    }
    for c in cr.pointer("/status/conditions").and_then(Value::as_array).into_iter().flatten() {
        let (ty, st) = (s(c, "/type"), s(c, "/status"));
        let paused = ["hibernat", "suspend", "pause"].iter().any(|w| ty.to_ascii_lowercase().contains(w)) && st == "True";
        if paused || (ty == "Ready" && st == "False") {
            reasons.push(format!("condition {ty}={st} ({}): {}", s(c, "/reason"), s(c, "/message")));
        }
    }
    if reasons.is_empty() {
        return Some((cr_ref.clone(), Consistent, format!("{svc_ref} is run by {cr_ref}, and has no ready endpoint")));
    }
    evidence.push(ev(cr_ref.clone(), reasons.join("; ")));
    Some((cr_ref.clone(), Decisive, format!("{cr_ref}, which runs {svc_ref}, serves nothing: {}", reasons.join("; "))))
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn connection_refused_leads_to_the_dependency_scaled_to_zero() {
        let p = pod("shop", "api-1", json!({"app": "api"}), json!({"containers": [{"name": "api"}]}), crashing("api", 1));
        let log_text = r#"{"level":"ERROR","msg":"fatal: startup failed","error":"failed to connect to `user=app`: 10.0.0.9:5432 (db.shop.svc.cluster.local): dial error: dial tcp 10.0.0.9:5432: connect: connection refused"}"#;
        let svc = json!({"kind": "Service", "metadata": {"namespace": "shop", "name": "db"}, "spec": {"selector": {"app": "db"}, "ports": [{"port": 5432}]}});
        let ep = json!({"kind": "Endpoints", "metadata": {"namespace": "shop", "name": "db"}});
        let sts = json!({"kind": "StatefulSet", "metadata": {"namespace": "shop", "name": "db"}, "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "db"}}, "template": {"metadata": {"labels": {"app": "db"}}}}});
        let results = [
            read(vec![p]),
            log("shop", "api-1", "api", true, log_text),
            read(vec![svc, ep]),
            listed(Command::list("c", Some("shop"), "pods", Some("app=db")), vec![]),
            listed(Command::list("c", Some("shop"), "statefulsets", None), vec![sts]),
        ];
        let f = best(&pod_alert("shop", "api-1"), &results);
        assert_eq!(f.root_cause, RootCause::CrashloopDependencyUnavailable);
        assert_eq!(f.resource.as_deref(), Some("shop/StatefulSet/db"));
        assert!(f.confidence >= 0.9 && text(&f).contains("connection refused"));
    }

    #[test]
    fn connection_refused_by_an_operator_run_database_names_its_hibernated_custom_resource() {
        let p = pod("iam", "kc-0", json!({"app": "kc"}), json!({"containers": [{"name": "kc"}]}), crashing("kc", 5));
        let log_text = r#"{"level":"ERROR","msg":"fatal: startup failed","error":"failed to connect to `user=app`: 10.0.0.9:5432 (pg-rw.iam.svc.cluster.local): dial error: dial tcp 10.0.0.9:5432: connect: connection refused"}"#;
        let owner = json!([{"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "name": "pg", "controller": true}]);
        let svc = json!({"kind": "Service", "metadata": {"namespace": "iam", "name": "pg-rw", "labels": {"cnpg.io/cluster": "pg"}, "ownerReferences": owner}, "spec": {"selector": {"cnpg.io/cluster": "pg", "role": "primary"}, "ports": [{"port": 5432}]}});
        let ep = json!({"kind": "Endpoints", "metadata": {"namespace": "iam", "name": "pg-rw"}});
        let cluster = json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"namespace": "iam", "name": "pg", "annotations": {"cnpg.io/hibernation": "on"}}, "spec": {"instances": 2},
            "status": {"instances": 0, "conditions": [{"type": "cnpg.io/hibernation", "status": "True", "reason": "Hibernated", "message": "Cluster has been hibernated"}]}});
        let event = pod_alert("iam", "kc-0");
        let base = [read(vec![p]), log("iam", "kc-0", "kc", true, log_text), read(vec![svc, ep]), listed(Command::list("c", Some("iam"), "pods", Some("cnpg.io/cluster=pg,role=primary")), vec![])];
        let f = best(&event, &base);
        assert_eq!((f.resource.as_deref(), f.tier), (Some("iam/Cluster/pg"), Tier::Consistent));
        let mut all = base.to_vec();
        all.push(read(vec![cluster]));
        let f = best(&event, &all);
        assert_eq!((f.root_cause, f.resource.as_deref(), f.tier), (RootCause::CrashloopDependencyUnavailable, Some("iam/Cluster/pg"), Tier::Decisive));
        let t = text(&f);
        assert!(t.contains("cnpg.io/hibernation: on") && t.contains("pg-rw"), "{t}");
    }
}
