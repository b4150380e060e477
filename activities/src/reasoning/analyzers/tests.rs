//! Each rule on small synthetic objects, with messages as Kubernetes prints them.

use super::*;
use aetherius_core::{AlertmanagerAlert, Command, StepResult, StepStatus};
use serde_json::json;

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

fn result(command: Command, status: StepStatus, objects: Vec<Value>, output: &str) -> StepResult {
    StepResult { command, status, output: output.into(), objects, error: None, truncated: false, duration_ms: 0 }
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

fn findings(event: &StandardEvent, results: &[StepResult]) -> Vec<Finding> {
    analyze(event, &Observations::new(results))
}

fn best(event: &StandardEvent, results: &[StepResult]) -> Finding {
    findings(event, results).into_iter().next().expect("a finding")
}

fn text(f: &Finding) -> String {
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

fn event_on(kind: &str, ns: &str, name: &str, kind_type: &str, reason: &str, message: &str) -> Value {
    json!({"kind": "Event", "metadata": {"namespace": ns, "name": format!("{name}.{reason}")},
        "involvedObject": {"kind": kind, "namespace": ns, "name": name}, "type": kind_type, "reason": reason, "message": message})
}

fn pod_alert(ns: &str, name: &str) -> StandardEvent {
    alert(json!({"alertname": "KubePodCrashLooping", "namespace": ns, "pod": name, "container": "kube-rbac-proxy-main", "job": "kube-state-metrics"}))
}

#[test]
fn a_java_root_cause_is_cited_not_a_stack_frame() {
    let p = pod("shop", "router-1", json!({"app": "router"}), json!({"containers": [{"name": "app"}]}), crashing("app", 1));
    let log_text = "ERROR o.s.boot.SpringApplication : Application run failed\njava.lang.IllegalStateException: Failed to execute CommandLineRunner\n\tat org.springframework.boot.SpringApplication.callRunner(SpringApplication.java:798)\nCaused by: java.lang.IllegalStateException: Duplicate key K1 (attempted merging values A and B)\n\tat java.base/java.util.stream.Collectors.duplicateKeyException(Collectors.java:135)";
    let f = best(&pod_alert("shop", "router-1"), &[read(vec![p]), log("shop", "router-1", "app", true, log_text)]);
    assert_eq!(f.root_cause, RootCause::CrashloopAppError);
    assert_eq!(f.resource.as_deref(), Some("shop/Deployment/router"));
    assert!(text(&f).contains("Duplicate key K1"), "{f:?}");
}

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
fn a_403_names_the_role_that_lacks_the_verb() {
    let p = pod("ci", "scaler-1", json!({"app": "scaler"}), json!({"serviceAccountName": "scaler", "containers": [{"name": "m"}]}), crashing("m", 1));
    let log_text = r#"W1208 14:16:09.529033       1 reflector.go:561] failed to list *v1.Pod: pods is forbidden: User "system:serviceaccount:ci:scaler" cannot list resource "pods" in API group "" in the namespace "ci""#;
    let rb = json!({"kind": "RoleBinding", "metadata": {"namespace": "ci", "name": "scaler"}, "roleRef": {"kind": "Role", "name": "scaler"}, "subjects": [{"kind": "ServiceAccount", "name": "scaler", "namespace": "ci"}]});
    let role = json!({"kind": "Role", "metadata": {"namespace": "ci", "name": "scaler"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "delete"]}]});
    let f = best(&pod_alert("ci", "scaler-1"), &[read(vec![p, rb, role]), log("ci", "scaler-1", "m", true, log_text)]);
    assert_eq!(f.root_cause, RootCause::RbacForbidden);
    assert_eq!(f.resource.as_deref(), Some("ci/Role/scaler"));
    assert!(f.confidence >= 0.9 && text(&f).contains("cannot list resource"));
}

#[test]
fn a_missing_secret_volume_is_volume_mount_failed() {
    let p = pod(
        "id",
        "tok-1",
        json!({"app": "tok"}),
        json!({"containers": [{"name": "tok"}], "volumes": [{"name": "keys", "secret": {"secretName": "jwks"}}]}),
        json!({"phase": "Pending", "containerStatuses": [{"name": "tok", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
    );
    let e = event_on("Pod", "id", "tok-1", "Warning", "FailedMount", r#"MountVolume.SetUp failed for volume "keys" : secret "jwks" not found"#);
    let f = best(&alert(json!({"alertname": "KubePodNotReady", "namespace": "id", "pod": "tok-1"})), &[read(vec![p, e])]);
    assert_eq!(f.root_cause, RootCause::VolumeMountFailed);
    assert_eq!(f.resource.as_deref(), Some("id/Deployment/tok"));
    assert!(text(&f).contains("jwks"));
}

fn pending(spec: Value, message: &str) -> (Value, Value) {
    let p = pod("m", "web-1", json!({"app": "web"}), spec, json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}]}));
    let e = event_on("Pod", "m", "web-1", "Warning", "FailedScheduling", message);
    (p, e)
}

fn node(name: &str, labels: Value, taints: Value) -> Value {
    json!({"kind": "Node", "metadata": {"name": name, "labels": labels}, "spec": {"taints": taints}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
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

fn deployment(ns: &str, name: &str, labels: Value) -> Value {
    json!({"kind": "Deployment", "metadata": {"namespace": ns, "name": name}, "spec": {"replicas": 3, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}}}, "status": {"replicas": 2, "readyReplicas": 2}})
}

#[test]
fn admission_denials_name_the_policy() {
    let d = deployment("cat", "web", json!({"app": "web"}));
    let kyverno = "Error creating: admission webhook \"validate.kyverno.svc-fail\" denied the request: \n\nresource Pod/cat/web-5b6775655-jm5xx was blocked due to the following policies \n\nrequire-limits:\n  validate: 'validation error: limits are required'\n";
    let e = event_on("ReplicaSet", "cat", "web-5b6775655", "Warning", "FailedCreate", kyverno);
    let ev = alert(json!({"alertname": "KubeDeploymentReplicasMismatch", "namespace": "cat", "deployment": "web"}));
    let f = best(&ev, &[read(vec![d.clone(), e])]);
    assert_eq!((f.root_cause, f.resource.as_deref()), (RootCause::AdmissionDenied, Some("cat/Deployment/web")));
    assert!(text(&f).contains("require-limits"));
    let psa = "Error creating: pods \"web-5b6775655-x\" is forbidden: violates PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false";
    let f = best(&ev, &[read(vec![d, event_on("ReplicaSet", "cat", "web-5b6775655", "Warning", "FailedCreate", psa)])]);
    assert_eq!(f.root_cause, RootCause::AdmissionDenied);
    assert!(text(&f).contains("restricted:latest"));
}

#[test]
fn a_readiness_probe_answered_404_cites_path_and_code() {
    let spec = json!({"containers": [{"name": "app", "ports": [{"name": "http", "containerPort": 8080}], "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}}}]});
    let p = pod("p", "eng-1", json!({"app": "eng"}), spec, json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0, "state": {"running": {}}}]}));
    let e = event_on("Pod", "p", "eng-1", "Warning", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 404");
    let f = best(&alert(json!({"alertname": "KubePodNotReady", "namespace": "p", "pod": "eng-1"})), &[read(vec![p, e])]);
    assert_eq!(f.root_cause, RootCause::ReadinessProbeFailing);
    let t = text(&f);
    assert!(t.contains("/readyz") && t.contains("404") && t.contains("http (8080)"), "{t}");
}

#[test]
fn a_liveness_kill_is_not_an_app_crash() {
    let spec = json!({"containers": [{"name": "app", "livenessProbe": {"httpGet": {"path": "/health", "port": 8081}}}]});
    let p = pod("c", "n-1", json!({"app": "n"}), spec, crashing("app", 137));
    let e1 = event_on("Pod", "c", "n-1", "Warning", "Unhealthy", "Liveness probe failed: Get \"http://10.0.0.1:8081/health\": dial tcp 10.0.0.1:8081: connect: connection refused");
    let e2 = event_on("Pod", "c", "n-1", "Normal", "Killing", "Container app failed liveness probe, will be restarted");
    let f = best(&pod_alert("c", "n-1"), &[read(vec![p, e1, e2])]);
    assert_eq!(f.root_cause, RootCause::LivenessProbeFailing);
    assert!(f.confidence >= 0.9 && text(&f).contains("8081"));
}

fn svc(ns: &str, name: &str, selector: Value, target_port: Value) -> Value {
    json!({"kind": "Service", "metadata": {"namespace": ns, "name": name}, "spec": {"selector": selector, "ports": [{"name": "http", "port": 80, "targetPort": target_port}]}})
}

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
fn an_ingress_routing_to_a_missing_service_is_misconfigured() {
    let ing = json!({"kind": "Ingress", "metadata": {"namespace": "sf", "name": "shop"}, "spec": {"ingressClassName": "nginx", "rules": [{"host": "shop.example.com", "http": {"paths": [{"backend": {"service": {"name": "web-old", "port": {"number": 80}}}}]}}]}});
    let ev = alert(json!({"alertname": "BlackboxProbeFailed", "instance": "https://shop.example.com/"}));
    let f = best(&ev, &[read(vec![ing]), not_found(Some("sf"), "services", "web-old")]);
    assert_eq!((f.root_cause, f.resource.as_deref()), (RootCause::IngressMisconfigured, Some("sf/Ingress/shop")));
    assert!(text(&f).contains("web-old"));
    let ing2 = json!({"kind": "Ingress", "metadata": {"namespace": "sf", "name": "shop"}, "spec": {"ingressClassName": "traefik", "rules": [{"host": "shop.example.com"}]}});
    let f = best(&ev, &[read(vec![ing2]), not_found(None, "ingressclasses", "traefik")]);
    assert_eq!(f.root_cause, RootCause::IngressMisconfigured);
}

#[test]
fn probe_timeouts_at_the_cpu_limit_are_throttling_not_liveness() {
    let spec = json!({"containers": [{"name": "q", "resources": {"limits": {"cpu": "300m"}}, "livenessProbe": {"httpGet": {"path": "/live", "port": 8080}}}]});
    let mut status = crashing("q", 143);
    status["containerStatuses"][0]["state"] = json!({"running": {}});
    let p = pod("pr", "q-1", json!({"app": "q"}), spec, status);
    let e = event_on("Pod", "pr", "q-1", "Warning", "Unhealthy", "Liveness probe failed: Get \"http://10.0.0.1:8080/live\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)");
    let m = json!({"kind": "PodMetrics", "metadata": {"namespace": "pr", "name": "q-1"}, "containers": [{"name": "q", "usage": {"cpu": "298781355n", "memory": "1Gi"}}]});
    let f = best(&pod_alert("pr", "q-1"), &[read(vec![p, e, m])]);
    assert_eq!((f.root_cause, f.resource.as_deref()), (RootCause::CpuThrottling, Some("pr/Deployment/q")));
    assert!(text(&f).contains("300m") && text(&f).contains("throttl"));
}

#[test]
fn a_silent_exit_is_only_a_weak_lead() {
    let p = pod("r", "rr-1", json!({"app": "rr"}), json!({"containers": [{"name": "init"}]}), crashing("init", 1));
    let f = best(&pod_alert("r", "rr-1"), &[read(vec![p]), log("r", "rr-1", "init", true, "")]);
    assert!(f.confidence < 0.5, "{f:?}");
}

#[test]
fn unrelated_pods_listed_for_context_do_not_become_suspects() {
    // The namespace listing brings an old OOM of another app: not the Service's problem.
    let s1 = svc("w", "inv", json!({"app": "inv"}), json!(8080));
    let other = pod("w", "dock-1", json!({"app": "dock"}), json!({"containers": [{"name": "d"}]}), json!({"phase": "Running", "containerStatuses": [{"name": "d", "ready": true, "restartCount": 1, "state": {"running": {}}, "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}));
    let fs = findings(&alert(json!({"alertname": "TargetDown", "namespace": "w", "service": "inv"})), &[read(vec![s1, other])]);
    assert!(fs.iter().all(|f| f.root_cause != RootCause::OomKilled), "{fs:?}");
}
