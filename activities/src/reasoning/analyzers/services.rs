//! Services: a selector that matches no pod, a targetPort no container declares.

use super::*;

pub(super) struct Services;

impl Rule for Services {
    fn name(&self) -> &'static str {
        "services"
    }

    fn check(&self, cx: &Ctx<'_, '_>, out: &mut Vec<Finding>) {
        for svc in &cx.scope.services {
            service_findings(cx.event, cx.obs, svc, out);
        }
    }
}

/// A Service whose targetPort matches no port its pods declare.
pub(super) fn port_mismatch(obs: &Observations<'_>, svc: &Value) -> Option<Finding> {
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
            Decisive,
            format!("{svc_ref} sends traffic to targetPort {target_txt}, but its pods listen on {}.", ports_txt.join(", ")),
            evidence,
            format!("Set targetPort of {svc_ref} to the port the pods serve (prefer the named port), or change the container port back."),
        ));
    }
    None
}

/// How `labels` fall short of `selector`, one phrase per unmatched key (a value the pods
/// carry under another key is quoted: app=x against a chart's app.kubernetes.io/name=x).
pub(super) fn selector_diffs(selector: &Map<String, Value>, labels: &Map<String, Value>) -> Vec<String> {
    selector
        .iter()
        .filter(|(k, v)| labels.get(*k) != Some(*v))
        .map(|(k, v)| match labels.get(k) {
            Some(have) => format!("selector wants {k}={}, pods have {k}={}", v.as_str().unwrap_or_default(), have.as_str().unwrap_or_default()),
            None => {
                let same_value: Vec<String> = labels.iter().filter(|(_, have)| *have == v).map(|(lk, lv)| format!("{lk}={}", lv.as_str().unwrap_or_default())).collect();
                if same_value.is_empty() {
                    format!("selector wants {k}={}, pods have no {k} label", v.as_str().unwrap_or_default())
                } else {
                    format!("selector wants {k}={}, pods have no {k} label but carry {}", v.as_str().unwrap_or_default(), same_value.join(", "))
                }
            }
        })
        .collect()
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
        // Pods that carry most of the selector are the ones it was meant for: a selector
        // label they carry scores 2, its value under another key (app=x against a chart's
        // app.kubernetes.io/name=x) 1.
        let carries = |p: &Value| -> usize {
            let labels = k8s::labels(p);
            selector.iter().map(|(k, v)| if labels.get(k) == Some(v) { 2 } else if labels.values().any(|have| have == v) { 1 } else { 0 }).sum()
        };
        let candidates: Vec<(usize, &Value)> = obs.all("Pod").filter(|p| s(p, "/metadata/namespace") == ns).map(|p| (carries(p), p)).filter(|(n, _)| *n > 0).collect();
        let best = candidates.iter().map(|(n, _)| *n).max().unwrap_or(0);
        let near: Vec<&Value> = candidates.iter().filter(|(n, _)| *n == best).map(|(_, p)| *p).collect();
        if let Some(p) = near.first() {
            let labels = k8s::labels(p);
            let diffs = selector_diffs(selector, labels);
            let pod_labels: Vec<String> = labels.iter().filter(|(k, _)| !matches!(k.as_str(), "pod-template-hash" | "controller-revision-hash" | "pod-template-generation")).map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
            evidence.push(ev(format!("{}/Pod/{} labels", ns, s(p, "/metadata/name")), pod_labels.join(", ")));
            evidence.push(ev(format!("pods of {} ({} pods)", workload_ref(obs, p), near.len()), diffs.join("; ")));
            out.push(finding(
                RootCause::ServiceNoEndpoints,
                svc_ref.clone(),
                Decisive,
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
            out.push(finding(RootCause::ServiceNoEndpoints, wref.clone(), Decisive, format!("{svc_ref} has no endpoints: {wref} is scaled to 0."), evidence, format!("Scale {wref} back up.")));
            return;
        }
        let ns_pods_listed = obs.ran(&aetherius_core::Command::list(&event.cluster_id, Some(ns), "pods", None));
        out.push(finding(
            RootCause::ServiceNoEndpoints,
            svc_ref.clone(),
            // Every pod of the namespace read and none carries the labels: that is the fact.
            if ns_pods_listed { Decisive } else { Consistent },
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
            Weak,
            format!("{svc_ref} has no ready endpoint: its {} pods are not ready.", pods.len()),
            vec![ev(format!("Endpoints of {svc_ref}"), format!("0 ready, {not_ready} not ready addresses"))],
            "Find why the pods are not ready (their events and logs).",
        ));
    }
    if let Some(f) = port_mismatch(obs, svc) {
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn a_service_selecting_no_pod_names_the_label_that_differs() {
        let s1 = svc("w", "inv", json!({"app": "inv", "component": "api"}), json!("http"));
        let ep = json!({"kind": "Endpoints", "metadata": {"namespace": "w", "name": "inv"}});
        let p = pod("w", "inv-1", json!({"app": "inv", "component": "stock"}), json!({"containers": [{"name": "inv"}]}), json!({"phase": "Running"}));
        let ev = alert(json!({"alertname": "TargetDown", "namespace": "w", "service": "inv"}));
        let results = [read(vec![s1, ep]), listed(Command::list("c", Some("w"), "pods", Some("app=inv,component=api")), vec![]), listed(Command::list("c", Some("w"), "pods", None), vec![p])];
        let f = best(&ev, &results);
        assert_eq!((f.root_cause, f.resource.as_deref()), (RootCause::ServiceNoEndpoints, Some("w/Service/inv")));
        assert!(text(&f).contains("component=api, pods have component=stock"), "{}", text(&f));
    }

    #[test]
    fn a_target_port_no_container_declares_is_a_port_mismatch() {
        let s1 = svc("m", "geo", json!({"app": "geo"}), json!(8080));
        let ep = json!({"kind": "Endpoints", "metadata": {"namespace": "m", "name": "geo"}, "subsets": [{"addresses": [{"ip": "10.0.0.1"}]}]});
        let p = pod("m", "geo-1", json!({"app": "geo"}), json!({"containers": [{"name": "geo", "ports": [{"name": "http", "containerPort": 3000}]}]}), json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}));
        let f = best(&alert(json!({"alertname": "TargetDown", "namespace": "m", "service": "geo"})), &[read(vec![s1, ep, p])]);
        assert_eq!((f.root_cause, f.resource.as_deref()), (RootCause::ServicePortMismatch, Some("m/Service/geo")));
        assert!(text(&f).contains("8080") && text(&f).contains("3000"));
    }
    #[test]
    fn a_selector_whose_value_pods_carry_under_a_chart_key_quotes_both() {
        let s1 = svc("p", "api", json!({"app": "api"}), json!(8080));
        let ep = json!({"kind": "Endpoints", "metadata": {"namespace": "p", "name": "api"}});
        let p = pod("p", "api-1", json!({"app.kubernetes.io/name": "api", "app.kubernetes.io/instance": "api"}), json!({"containers": [{"name": "api"}]}), json!({"phase": "Running"}));
        let other = pod("p", "hooks-1", json!({"app": "hooks"}), json!({"containers": [{"name": "h"}]}), json!({"phase": "Running"}));
        let results = [read(vec![s1, ep]), listed(Command::list("c", Some("p"), "pods", Some("app=api")), vec![]), listed(Command::list("c", Some("p"), "pods", None), vec![p, other])];
        let f = best(&alert(json!({"alertname": "TargetDown", "namespace": "p", "service": "api"})), &results);
        assert_eq!((f.root_cause, f.resource.as_deref(), f.tier), (RootCause::ServiceNoEndpoints, Some("p/Service/api"), Tier::Decisive));
        let t = text(&f);
        assert!(t.contains("pods have no app label but carry app.kubernetes.io/instance=api, app.kubernetes.io/name=api"), "{t}");
        assert!(!t.contains("hooks"), "{t}");
    }
}
