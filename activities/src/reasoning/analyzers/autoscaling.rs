//! Autoscaling: HPAs that cannot scale (missing requests, metrics, min == max).

use super::*;

pub(super) struct Autoscaling;

impl Rule for Autoscaling {
    fn name(&self) -> &'static str {
        "autoscaling"
    }

    fn check(&self, cx: &Ctx<'_, '_>, out: &mut Vec<Finding>) {
        hpa_findings(cx.event, cx.obs, cx.scope, out);
    }
}

fn hpa_findings(event: &StandardEvent, obs: &Observations<'_>, sc: &Scope<'_>, out: &mut Vec<Finding>) {
    // The workloads of the alert's pods too (a Service's, say): an HPA scales those.
    let pod_workloads: Vec<String> = sc.pods.iter().map(|p| workload_ref(obs, p)).collect();
    let in_scope = |h: &Value| {
        let ns = s(h, "/metadata/namespace");
        let (kind, name) = (s(h, "/spec/scaleTargetRef/kind"), s(h, "/spec/scaleTargetRef/name"));
        sc.target.as_ref().is_some_and(|t| t.kind == "HorizontalPodAutoscaler" && t.name == s(h, "/metadata/name") && t.namespace.as_deref() == Some(ns))
            || sc.workloads.iter().any(|w| s(w, "/metadata/namespace") == ns && s(w, "/kind") == kind && s(w, "/metadata/name") == name)
            || pod_workloads.contains(&resource_ref(Some(ns), kind, name))
    };
    orphaned_hpas(obs, sc, &pod_workloads, &in_scope, out);
    for hpa in obs.all("HorizontalPodAutoscaler").filter(|h| in_scope(h)) {
        let ns = s(hpa, "/metadata/namespace");
        let name = s(hpa, "/metadata/name");
        let hpa_ref = resource_ref(Some(ns), "HorizontalPodAutoscaler", name);
        let target_ref = resource_ref(Some(ns), s(hpa, "/spec/scaleTargetRef/kind"), s(hpa, "/spec/scaleTargetRef/name"));
        let mut evidence = vec![];
        let mut problem: Option<(String, Tier, String)> = None;
        for t in ["AbleToScale", "ScalingActive"] {
            if let Some(c) = k8s::condition(hpa, t).filter(|c| s(c, "/status") == "False") {
                let msg = s(c, "/message");
                evidence.push(ev(format!("{hpa_ref} condition {t}"), format!("False ({}): {msg}", s(c, "/reason"))));
                if problem.is_none() {
                    let resource = if msg.contains("missing request for") { target_ref.clone() } else { hpa_ref.clone() };
                    problem = Some((resource, Decisive, format!("{t}=False ({}): {msg}", s(c, "/reason"))));
                }
            }
        }
        for e in obs.events_for("HorizontalPodAutoscaler", ns, name).iter().rev().filter(|e| s(e, "/type") == "Warning").take(2) {
            evidence.push(ev(format!("{} on {hpa_ref}", s(e, "/reason")), s(e, "/message")));
            if problem.is_none() {
                let resource = if s(e, "/message").contains("missing request for") { target_ref.clone() } else { hpa_ref.clone() };
                problem = Some((resource, Consistent, s(e, "/message").to_owned()));
            }
        }
        let (min, max) = (hpa.pointer("/spec/minReplicas").and_then(Value::as_i64).unwrap_or(1), hpa.pointer("/spec/maxReplicas").and_then(Value::as_i64).unwrap_or(0));
        if problem.is_none() && min == max {
            evidence.push(ev(format!("{hpa_ref} spec"), format!("minReplicas {min} == maxReplicas {max}")));
            problem = Some((hpa_ref.clone(), Consistent, format!("minReplicas equals maxReplicas ({max}): it can never scale")));
        }
        if problem.is_none()
            && event.alertname() == "KubeHpaMaxedOut"
            && let Some(c) = k8s::condition(hpa, "ScalingLimited").filter(|c| s(c, "/status") == "True")
        {
            evidence.push(ev(format!("{hpa_ref} condition ScalingLimited"), format!("{}: {}", s(c, "/reason"), s(c, "/message"))));
            problem = Some((hpa_ref.clone(), Consistent, format!("it runs at maxReplicas {max}: {}", s(c, "/message"))));
        }
        // The metrics API the HPA reads is down: its provider is what to fix.
        if let Some((resource, tier, why)) = &problem
            && metrics_api_group(why).is_some()
        {
            problem = Some(match metrics_provider(obs, why) {
                Some(provider) => {
                    evidence.extend(provider.evidence);
                    (provider.workload, provider.tier, format!("{why}; {}", provider.why))
                }
                // Not the HPA's own fault until its metrics provider is seen healthy.
                None => (resource.clone(), (*tier).min(Consistent), why.clone()),
            });
        }
        if let Some((resource, tier, why)) = problem {
            out.push(finding(
                RootCause::HpaMisconfigured,
                resource.clone(),
                tier,
                format!("HPA {name} cannot scale {target_ref}: {why}"),
                evidence,
                format!("Fix {resource}: every container of the target needs requests for the metrics the HPA uses; metrics-server must serve them; min < max."),
            ));
        }
    }
}

/// An HPA whose scale target is gone (`FailedGetScale ... not found`, a workload renamed by
/// its chart), next to a workload of the alert that no HPA scales: that workload lost its
/// autoscaling, and the HPA is what to point at it.
fn orphaned_hpas(obs: &Observations<'_>, sc: &Scope<'_>, pod_workloads: &[String], in_scope: &dyn Fn(&Value) -> bool, out: &mut Vec<Finding>) {
    let mut workloads: Vec<String> = sc.workloads.iter().map(|w| resource_ref(Some(s(w, "/metadata/namespace")), s(w, "/kind"), s(w, "/metadata/name"))).collect();
    workloads.extend(pod_workloads.iter().cloned());
    workloads.sort();
    workloads.dedup();
    let hpas: Vec<&Value> = obs.all("HorizontalPodAutoscaler").collect();
    let target_of = |h: &Value| resource_ref(Some(s(h, "/metadata/namespace")), s(h, "/spec/scaleTargetRef/kind"), s(h, "/spec/scaleTargetRef/name"));
    let unscaled: Vec<&String> = workloads.iter().filter(|w| !hpas.iter().any(|h| target_of(h) == **w)).collect();
    for hpa in hpas.iter().filter(|h| !in_scope(h)) {
        let Some(c) = k8s::condition(hpa, "AbleToScale").filter(|c| s(c, "/status") == "False" && s(c, "/reason") == "FailedGetScale" && s(c, "/message").contains("not found")) else { continue };
        let ns = s(hpa, "/metadata/namespace");
        let kind = s(hpa, "/spec/scaleTargetRef/kind");
        let Some(w) = unscaled.iter().find(|w| w.starts_with(&format!("{ns}/{kind}/"))) else { continue };
        let hpa_ref = resource_ref(Some(ns), "HorizontalPodAutoscaler", s(hpa, "/metadata/name"));
        let target = target_of(hpa);
        let evidence = vec![
            ev(format!("{hpa_ref} condition AbleToScale"), format!("False (FailedGetScale): {}", s(c, "/message"))),
            ev(w.to_string(), format!("no HorizontalPodAutoscaler targets it; {hpa_ref} still targets {target}, which does not exist")),
        ];
        out.push(finding(
            RootCause::HpaMisconfigured,
            hpa_ref.clone(),
            Consistent,
            format!("Nothing autoscales {w}: {hpa_ref} still targets {target}, which does not exist (FailedGetScale), so {w} stays at its replica count."),
            evidence,
            format!("Point scaleTargetRef of {hpa_ref} at {w} (or recreate the HPA with the workload's new name)."),
        ));
    }
}

/// The namespace and name metrics-server, the provider of the resource metrics API
/// (`metrics.k8s.io`), is installed under by its chart and manifests.
pub(crate) const METRICS_SERVER: (&str, &str) = ("kube-system", "metrics-server");

/// The APIService that serves a metrics API group (`v1beta1.metrics.k8s.io`).
pub(crate) fn metrics_api_group(message: &str) -> Option<&'static str> {
    ["custom.metrics.k8s.io", "external.metrics.k8s.io", "metrics.k8s.io"].into_iter().find(|g| message.contains(&format!("{g})")) || message.contains(&format!(".{g}")) || (*g == "metrics.k8s.io" && message.contains("resource metrics API")))
}

struct Provider {
    workload: String,
    tier: Tier,
    why: String,
    evidence: Vec<Evidence>,
}

/// The workload behind the metrics API an HPA cannot read, when it is visibly unwell:
/// the APIService's backing Service (metrics-server for the resource metrics API), its
/// workload's readiness and its pods' last error.
fn metrics_provider(obs: &Observations<'_>, message: &str) -> Option<Provider> {
    let group = metrics_api_group(message)?;
    let mut evidence = vec![];
    let api = obs.all("APIService").find(|a| s(a, "/spec/group") == group);
    let unavailable = api.and_then(|a| k8s::condition(a, "Available")).filter(|c| s(c, "/status") != "True");
    if let (Some(a), Some(c)) = (api, unavailable) {
        evidence.push(ev(format!("APIService/{}", s(a, "/metadata/name")), format!("Available=False ({}): {}", s(c, "/reason"), s(c, "/message"))));
    }
    let api_name = format!("v1beta1.{group}");
    if api.is_none() && obs.missing.contains(&("APIService".into(), String::new(), api_name.clone())) {
        // The API server answers 404 for the group: no adapter (prometheus-adapter, KEDA, a
        // cloud provider's) is registered to serve it.
        let api_ref = format!("APIService/{api_name}");
        evidence.push(ev(api_ref.clone(), format!("not found: no adapter is registered to serve {group}")));
        return Some(Provider { workload: api_ref, tier: Decisive, why: format!("APIService {api_name} does not exist, so nothing serves {group}"), evidence });
    }
    let (ns, name) = match api {
        Some(a) => (s(a, "/spec/service/namespace"), s(a, "/spec/service/name")),
        None if group == "metrics.k8s.io" => METRICS_SERVER,
        None => return None,
    };
    let svc_selector = obs.get("Service", ns, name).and_then(|svc| svc.pointer("/spec/selector")).and_then(Value::as_object).cloned();
    let workload = match &svc_selector {
        Some(sel) => workloads_selected(obs, ns, sel).into_iter().next(),
        None => None,
    }
    .or_else(|| obs.get("Deployment", ns, name))?;
    let wref = resource_ref(Some(ns), s(workload, "/kind"), s(workload, "/metadata/name"));
    let (want, ready) = (workload.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1), workload.pointer("/status/readyReplicas").and_then(Value::as_i64).unwrap_or(0));
    let pods = scope::pods_of_workload(obs, workload);
    let unready: Vec<&Value> = pods.iter().copied().filter(|p| !k8s::pod_ready(p)).collect();
    if ready >= want && unready.is_empty() && unavailable.is_none() {
        return None;
    }
    evidence.push(ev(wref.clone(), format!("{ready}/{want} replicas ready")));
    let mut last_error = None;
    for p in &unready {
        for cs in container_statuses(p) {
            let (pns, pname, cname) = (s(p, "/metadata/namespace"), s(p, "/metadata/name"), s(cs, "/name"));
            if let Some((log, prev)) = obs.log(pns, pname, cname)
                && let Some(line) = logs::symptoms(log).into_iter().find_map(|sy| matches!(sy, Symptom::AppError { .. } | Symptom::Dependency { .. } | Symptom::BadConfig { .. }).then(|| sy.line().to_owned()))
            {
                evidence.push(ev(format!("logs {pns}/{pname}/{cname}{}", if prev { " (previous)" } else { "" }), line.clone()));
                last_error.get_or_insert(line);
            }
        }
    }
    // Decided once its pods say why they are not ready.
    let tier = if last_error.is_some() { Decisive } else { Consistent };
    let why = format!("{wref}, which serves {group}, has {ready}/{want} ready replicas{}", last_error.map(|l| format!(": {l}")).unwrap_or_default());
    Some(Provider { workload: wref, tier, why, evidence })
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn an_hpa_without_cpu_requests_points_at_its_target() {
        let hpa = json!({"kind": "HorizontalPodAutoscaler", "metadata": {"namespace": "m", "name": "thumb"},
            "spec": {"minReplicas": 2, "maxReplicas": 10, "scaleTargetRef": {"kind": "Deployment", "name": "thumb"}},
            "status": {"conditions": [{"type": "AbleToScale", "status": "True"}, {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
                "message": "the HPA was unable to compute the replica count: failed to get cpu utilization: missing request for cpu in container sidecar of Pod thumb-1"}]}});
        let f = best(&alert(json!({"alertname": "KubeHpaReplicasMismatch", "namespace": "m", "horizontalpodautoscaler": "thumb"})), &[read(vec![hpa])]);
        assert_eq!((f.root_cause, f.resource.as_deref()), (RootCause::HpaMisconfigured, Some("m/Deployment/thumb")));
        assert!(text(&f).contains("missing request for cpu in container sidecar"));
        let flat = json!({"kind": "HorizontalPodAutoscaler", "metadata": {"namespace": "m", "name": "h"}, "spec": {"minReplicas": 4, "maxReplicas": 4, "scaleTargetRef": {"kind": "Deployment", "name": "d"}}, "status": {}});
        let f = best(&alert(json!({"alertname": "KubeHpaMaxedOut", "namespace": "m", "horizontalpodautoscaler": "h"})), &[read(vec![flat])]);
        assert_eq!((f.root_cause, f.resource.as_deref()), (RootCause::HpaMisconfigured, Some("m/HorizontalPodAutoscaler/h")));
    }
    #[test]
    fn an_hpa_blind_to_the_resource_metrics_api_names_metrics_server_and_its_error() {
        let hpa = json!({"kind": "HorizontalPodAutoscaler", "metadata": {"namespace": "pay", "name": "ledger"},
            "spec": {"minReplicas": 3, "maxReplicas": 12, "scaleTargetRef": {"kind": "Deployment", "name": "ledger"}},
            "status": {"conditions": [{"type": "AbleToScale", "status": "True"}, {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
                "message": "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server is currently unable to handle the request (get pods.metrics.k8s.io)"}]}});
        let ms = json!({"kind": "Deployment", "metadata": {"namespace": "kube-system", "name": "metrics-server"}, "spec": {"replicas": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "metrics-server"}}, "template": {"metadata": {"labels": {"app.kubernetes.io/name": "metrics-server"}}}}, "status": {"replicas": 1, "unavailableReplicas": 1}});
        let mut ms_pod = pod("kube-system", "metrics-server-1", json!({"app.kubernetes.io/name": "metrics-server"}), json!({"containers": [{"name": "metrics-server"}]}), json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [{"name": "metrics-server", "ready": false, "restartCount": 0, "state": {"running": {}}}]}));
        ms_pod["metadata"]["ownerReferences"][0]["name"] = json!("metrics-server-5d8f7c9b4");
        let ms_log = "E1214 11:25:36.058812       1 scraper.go:149] \"Failed to scrape node\" err=\"Get \\\"https://10.40.12.21:10250/metrics/resource\\\": tls: failed to verify certificate: x509: cannot validate certificate for 10.40.12.21 because it doesn't contain any IP SANs\" node=\"w1\"\nI1214 11:25:36.600000       1 server.go:191] \"Failed probe\" probe=\"metric-storage-ready\" err=\"no metrics to serve\"";
        let event = alert(json!({"alertname": "KubeHpaReplicasMismatch", "namespace": "pay", "horizontalpodautoscaler": "ledger"}));
        let f = best(&event, &[read(vec![hpa.clone()])]);
        assert_eq!(f.resource.as_deref(), Some("pay/HorizontalPodAutoscaler/ledger"));
        let f = best(&event, &[read(vec![hpa, ms, ms_pod]), log("kube-system", "metrics-server-1", "metrics-server", false, ms_log)]);
        assert_eq!((f.root_cause, f.resource.as_deref(), f.tier), (RootCause::HpaMisconfigured, Some("kube-system/Deployment/metrics-server"), Tier::Decisive));
        let t = text(&f);
        assert!(t.contains("pods.metrics.k8s.io") && t.contains("x509") && t.contains("0/1 replicas ready"), "{t}");
    }
    #[test]
    fn an_hpa_left_on_a_renamed_deployment_is_named_for_the_unscaled_one() {
        let hpa = json!({"kind": "HorizontalPodAutoscaler", "metadata": {"namespace": "cat", "name": "search"},
            "spec": {"minReplicas": 2, "maxReplicas": 10, "scaleTargetRef": {"kind": "Deployment", "name": "search"}},
            "status": {"conditions": [{"type": "AbleToScale", "status": "False", "reason": "FailedGetScale", "message": "the HPA controller was unable to get the target's current scale: deployments/scale.apps \"search\" not found"}]}});
        let gw = pod("cat", "gateway-1", json!({"app": "gateway"}), json!({"containers": [{"name": "g"}]}), json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}));
        let f = best(&alert(json!({"alertname": "GatewayErrors", "namespace": "cat", "pod": "gateway-1"})), &[read(vec![hpa, gw])]);
        assert_eq!((f.root_cause, f.resource.as_deref()), (RootCause::HpaMisconfigured, Some("cat/HorizontalPodAutoscaler/search")));
        assert!(text(&f).contains("FailedGetScale") && text(&f).contains("cat/Deployment/gateway"), "{}", text(&f));
    }

    #[test]
    fn an_hpa_on_an_external_metric_nobody_serves_names_the_missing_apiservice() {
        let msg = "unable to get external metric q/queue_depth/&LabelSelector{MatchLabels:map[string]string{queue: jobs,},MatchExpressions:[]LabelSelectorRequirement{},}: unable to fetch metrics from external metrics API: the server could not find the requested resource (get queue_depth.external.metrics.k8s.io)";
        let hpa = json!({"kind": "HorizontalPodAutoscaler", "metadata": {"namespace": "q", "name": "worker"},
            "spec": {"minReplicas": 2, "maxReplicas": 10, "scaleTargetRef": {"kind": "Deployment", "name": "worker"}},
            "status": {"conditions": [{"type": "AbleToScale", "status": "True"}, {"type": "ScalingActive", "status": "False", "reason": "FailedGetExternalMetric", "message": format!("the HPA was unable to compute the replica count: {msg}")}]}});
        let event = alert(json!({"alertname": "KubeHpaReplicasMismatch", "namespace": "q", "horizontalpodautoscaler": "worker"}));
        let f = best(&event, &[read(vec![hpa.clone()])]);
        assert_eq!((f.resource.as_deref(), f.tier), (Some("q/HorizontalPodAutoscaler/worker"), Tier::Consistent));
        let gone = result(Command::get("c", None, "apiservices", "v1beta1.external.metrics.k8s.io"), StepStatus::NotFound, vec![], "");
        let f = best(&event, &[read(vec![hpa]), gone]);
        assert_eq!((f.root_cause, f.resource.as_deref(), f.tier), (RootCause::HpaMisconfigured, Some("APIService/v1beta1.external.metrics.k8s.io"), Tier::Decisive));
        assert!(text(&f).contains("queue_depth") && text(&f).contains("external.metrics.k8s.io"), "{}", text(&f));
    }
}
