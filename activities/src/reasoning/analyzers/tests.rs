//! Fixtures the rule tests share (objects and messages as Kubernetes prints them), and
//! tests across families.

use super::*;
pub(crate) use aetherius_core::{AlertmanagerAlert, Command, StepResult, StepStatus};
pub(crate) use serde_json::json;

pub(crate) fn alert(labels: Value) -> StandardEvent {
    alert_with(labels, json!({}))
}

pub(crate) fn alert_with(labels: Value, annotations: Value) -> StandardEvent {
    let a: AlertmanagerAlert = serde_json::from_value(json!({
        "status": "firing", "labels": labels, "annotations": annotations, "startsAt": "2026-01-01T00:00:00Z"
    }))
    .unwrap();
    StandardEvent::from_alertmanager(&a, "c")
}

pub(crate) fn result(command: Command, status: StepStatus, objects: Vec<Value>, output: &str) -> StepResult {
    StepResult { command, status, output: output.into(), objects, error: None, truncated: false, duration_ms: 0, output_ref: None }
}

/// Objects as one successful read.
pub(crate) fn read(objects: Vec<Value>) -> StepResult {
    result(Command::list("c", None, "pods", None), StepStatus::Success, objects, "")
}

/// A successful list (what it found is in `objects`).
pub(crate) fn listed(cmd: Command, objects: Vec<Value>) -> StepResult {
    result(cmd, StepStatus::Success, objects, "")
}

pub(crate) fn log(ns: &str, pod: &str, container: &str, previous: bool, text: &str) -> StepResult {
    result(Command::logs("c", ns, pod, container, previous, 200), StepStatus::Success, vec![], text)
}

pub(crate) fn not_found(ns: Option<&str>, resource: &str, name: &str) -> StepResult {
    result(Command::get("c", ns, resource, name), StepStatus::NotFound, vec![], "")
}

pub(crate) fn findings(event: &StandardEvent, results: &[StepResult]) -> Vec<Finding> {
    let obs = Observations::new(results);
    analyze(event, &obs, &crate::reasoning::scope::scope(event, &obs))
}

pub(crate) fn best(event: &StandardEvent, results: &[StepResult]) -> Finding {
    findings(event, results).into_iter().next().expect("a finding")
}

pub(crate) fn text(f: &Finding) -> String {
    format!("{} {}", f.summary, serde_json::to_string(&f.evidence).unwrap())
}

pub(crate) fn pod(ns: &str, name: &str, mut labels: Value, spec: Value, status: Value) -> Value {
    labels["pod-template-hash"] = json!("5d8f7c9b4");
    json!({"kind": "Pod", "apiVersion": "v1",
        "metadata": {"namespace": ns, "name": name, "labels": labels,
            "ownerReferences": [{"kind": "ReplicaSet", "name": format!("{}-5d8f7c9b4", name.split('-').next().unwrap()), "controller": true}]},
        "spec": spec, "status": status})
}

pub(crate) fn crashing(container: &str, code: i64) -> Value {
    json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [{
        "name": container, "ready": false, "restartCount": 6,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}},
        "lastState": {"terminated": {"reason": "Error", "exitCode": code}}
    }]})
}

pub(crate) fn event_on(kind: &str, ns: &str, name: &str, kind_type: &str, reason: &str, message: &str) -> Value {
    json!({"kind": "Event", "metadata": {"namespace": ns, "name": format!("{name}.{reason}")},
        "involvedObject": {"kind": kind, "namespace": ns, "name": name}, "type": kind_type, "reason": reason, "message": message})
}

pub(crate) fn pod_alert(ns: &str, name: &str) -> StandardEvent {
    alert(json!({"alertname": "KubePodCrashLooping", "namespace": ns, "pod": name, "container": "kube-rbac-proxy-main", "job": "kube-state-metrics"}))
}

pub(crate) fn node(name: &str, labels: Value, taints: Value) -> Value {
    json!({"kind": "Node", "metadata": {"name": name, "labels": labels}, "spec": {"taints": taints}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
}

pub(crate) fn svc(ns: &str, name: &str, selector: Value, target_port: Value) -> Value {
    json!({"kind": "Service", "metadata": {"namespace": ns, "name": name}, "spec": {"selector": selector, "ports": [{"name": "http", "port": 80, "targetPort": target_port}]}})
}

#[test]
fn unrelated_pods_listed_for_context_do_not_become_suspects() {
    // The namespace listing brings an old OOM of another app: not the Service's problem.
    let s1 = svc("w", "inv", json!({"app": "inv"}), json!(8080));
    let other = pod("w", "dock-1", json!({"app": "dock"}), json!({"containers": [{"name": "d"}]}), json!({"phase": "Running", "containerStatuses": [{"name": "d", "ready": true, "restartCount": 1, "state": {"running": {}}, "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}));
    let fs = findings(&alert(json!({"alertname": "TargetDown", "namespace": "w", "service": "inv"})), &[read(vec![s1, other])]);
    assert!(fs.iter().all(|f| f.root_cause != RootCause::OomKilled), "{fs:?}");
}

#[test]
fn within_a_tier_the_alerts_own_object_ranks_first() {
    let f = |resource: &str, tier: Tier| finding(RootCause::CrashloopAppError, resource.to_owned(), tier, "s", vec![], "a");
    let mut fs = vec![f("w/Deployment/other", Tier::Decisive), f("w/Deployment/own", Tier::Consistent), f("w/Deployment/own", Tier::Decisive), f("w/Deployment/third", Tier::Decisive)];
    rank(&["w/Deployment/own".to_owned()], &mut fs);
    let order: Vec<(&str, Tier)> = fs.iter().map(|f| (f.resource.as_deref().unwrap(), f.tier)).collect();
    // Tier first, then the alert's own object, then the order the rules gave (stable).
    assert_eq!(
        order,
        [("w/Deployment/own", Tier::Decisive), ("w/Deployment/other", Tier::Decisive), ("w/Deployment/third", Tier::Decisive), ("w/Deployment/own", Tier::Consistent)]
    );
    assert_eq!(fs[0].confidence, Tier::Decisive.confidence());
}

#[test]
fn every_family_is_registered_once() {
    let names: Vec<&str> = RULES.iter().map(|r| r.name()).collect();
    let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "{names:?}");
    for family in ["crash", "image", "probes", "volumes", "scheduling", "dns", "dependency", "rbac", "nodes", "workloads", "services", "ingress", "autoscaling", "admission"] {
        assert!(unique.contains(family), "{family} is not in RULES: {names:?}");
    }
}
