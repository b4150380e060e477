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
    let in_scope = |h: &Value| {
        let ns = s(h, "/metadata/namespace");
        sc.target.as_ref().is_some_and(|t| t.kind == "HorizontalPodAutoscaler" && t.name == s(h, "/metadata/name") && t.namespace.as_deref() == Some(ns))
            || sc.workloads.iter().any(|w| s(w, "/metadata/namespace") == ns && s(w, "/kind") == s(h, "/spec/scaleTargetRef/kind") && s(w, "/metadata/name") == s(h, "/spec/scaleTargetRef/name"))
    };
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
}
