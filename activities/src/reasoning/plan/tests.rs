//! The plan follows what the cluster shows: the same alert leads to different steps.

use super::*;
use crate::reasoning::analyzers::tests::{alert, crashing, listed, log, pod, read};
use aetherius_core::StepResult;
use serde_json::json;

fn lines(steps: &[DiagnosticStep]) -> Vec<String> {
    steps.iter().map(|s| s.command.to_string()).collect()
}

fn next(event: &StandardEvent, results: &[StepResult]) -> Vec<String> {
    let obs = Observations::new(results);
    lines(&follow_ups(event, &obs, &scope::scope(event, &obs), &[]))
}

fn has(steps: &[String], want: &str) -> bool {
    steps.iter().any(|s| s.contains(want))
}

#[test]
fn a_probe_of_a_public_url_starts_from_the_ingresses() {
    let e = alert(json!({"alertname": "BlackboxProbeFailed", "instance": "https://shop.example.com/"}));
    let t = scope::alert_target(&e);
    assert_eq!(
        lines(&initial_steps(&e, t.as_ref())),
        vec!["kubectl get ingresses --all-namespaces", "kubectl get routes --all-namespaces", "kubectl get ingressroutes --all-namespaces"]
    );
    let ing = json!({"kind": "Ingress", "metadata": {"namespace": "sf", "name": "shop"}, "spec": {"ingressClassName": "nginx", "rules": [{"host": "shop.example.com", "http": {"paths": [{"backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}});
    let steps = next(&e, &[read(vec![ing])]);
    assert!(has(&steps, "get services web -n sf") && has(&steps, "get ingressclasses nginx"), "{steps:?}");
}

#[test]
fn a_probe_of_a_cluster_url_reads_the_service_and_its_endpoints() {
    let e = alert(json!({"alertname": "BlackboxProbeFailed", "instance": "http://inv.w.svc.cluster.local:8080/healthz"}));
    let t = scope::alert_target(&e);
    assert_eq!(lines(&initial_steps(&e, t.as_ref())), vec!["kubectl get services inv -n w", "kubectl get endpoints inv -n w"]);
}

#[test]
fn a_service_that_selects_nothing_leads_to_the_pods_that_nearly_match() {
    let e = alert(json!({"alertname": "TargetDown", "namespace": "w", "service": "inv"}));
    let svc = json!({"kind": "Service", "metadata": {"namespace": "w", "name": "inv"}, "spec": {"selector": {"app": "inv"}}});
    let ep = json!({"kind": "Endpoints", "metadata": {"namespace": "w", "name": "inv"}});
    let steps = next(&e, &[read(vec![svc.clone(), ep.clone()])]);
    assert!(has(&steps, "get pods -n w --selector=app=inv"), "{steps:?}");
    let steps = next(&e, &[read(vec![svc, ep]), listed(Command::list("c", Some("w"), "pods", Some("app=inv")), vec![])]);
    assert!(steps.first().is_some_and(|s| s == "kubectl get pods -n w"), "{steps:?}");
    assert!(has(&steps, "get statefulsets -n w"));
}

fn crash_alert() -> StandardEvent {
    alert(json!({"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": "api-1", "container": "kube-rbac-proxy-main"}))
}

fn crashed_pod() -> Value {
    pod("shop", "api-1", json!({"app": "api"}), json!({"containers": [{"name": "api"}]}), crashing("api", 1))
}

#[test]
fn a_crash_reads_the_previous_log_first() {
    let steps = next(&crash_alert(), &[read(vec![crashed_pod()])]);
    assert!(has(&steps, "logs api-1 -n shop --container=api --previous"), "{steps:?}");
}

#[test]
fn the_same_crash_alert_follows_what_the_log_says() {
    let base = || read(vec![crashed_pod()]);
    // Connection refused to a Service: that Service and its endpoints.
    let refused = next(&crash_alert(), &[base(), log("shop", "api-1", "api", true, "Error: connect ECONNREFUSED db.data.svc.cluster.local:5432")]);
    assert!(has(&refused, "get services db -n data") && has(&refused, "get endpoints db -n data"), "{refused:?}");
    // Name resolution: CoreDNS.
    let dns = next(&crash_alert(), &[base(), log("shop", "api-1", "api", true, "dial tcp: lookup db.data.svc.cluster.local on 10.96.0.10:53: no such host")]);
    assert!(has(&dns, "get services kube-dns -n kube-system"), "{dns:?}");
    assert!(!has(&dns, "get services db"));
    // A 403: the ServiceAccount's RoleBindings.
    let rbac = next(&crash_alert(), &[base(), log("shop", "api-1", "api", true, r#"pods is forbidden: User "system:serviceaccount:shop:api" cannot list resource "pods" in API group "" in the namespace "shop""#)]);
    assert!(has(&rbac, "get rolebindings -n shop"), "{rbac:?}");
}

#[test]
fn rbac_bindings_lead_to_the_bound_role() {
    let rb = json!({"kind": "RoleBinding", "metadata": {"namespace": "shop", "name": "api"}, "roleRef": {"kind": "Role", "name": "api-role"}, "subjects": [{"kind": "ServiceAccount", "name": "api", "namespace": "shop"}]});
    let other = json!({"kind": "RoleBinding", "metadata": {"namespace": "shop", "name": "x"}, "roleRef": {"kind": "ClusterRole", "name": "view"}, "subjects": [{"kind": "Group", "name": "devs"}]});
    let text = r#"pods is forbidden: User "system:serviceaccount:shop:api" cannot list resource "pods" in API group "" in the namespace "shop""#;
    let steps = next(&crash_alert(), &[read(vec![crashed_pod()]), log("shop", "api-1", "api", true, text), listed(Command::list("c", Some("shop"), "rolebindings", None), vec![rb, other])]);
    assert!(has(&steps, "get roles api-role -n shop") && !has(&steps, "clusterroles view"), "{steps:?}");
}

#[test]
fn timeouts_to_a_healthy_dependency_lead_to_its_network_policies() {
    let dep = json!({"kind": "Service", "metadata": {"namespace": "risk", "name": "scorer"}, "spec": {"selector": {"app": "scorer"}}});
    let ep = json!({"kind": "Endpoints", "metadata": {"namespace": "risk", "name": "scorer"}, "subsets": [{"addresses": [{"ip": "1"}]}]});
    let steps = next(&crash_alert(), &[read(vec![crashed_pod(), dep, ep]), log("shop", "api-1", "api", true, "ConnectTimeoutException: connection timed out: scorer.risk.svc.cluster.local/10.0.0.1:8080")]);
    assert!(has(&steps, "get networkpolicies -n risk") && has(&steps, "get namespaces shop"), "{steps:?}");
}

#[test]
fn probe_timeouts_on_a_cpu_limited_pod_read_its_cpu_usage() {
    let spec = json!({"containers": [{"name": "q", "resources": {"limits": {"cpu": "300m"}}}]});
    let p = pod("pr", "q-1", json!({"app": "q"}), spec, json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [{"name": "q", "ready": false, "restartCount": 0, "state": {"running": {}}}]}));
    let e = json!({"kind": "Event", "metadata": {"namespace": "pr", "name": "e1"}, "involvedObject": {"kind": "Pod", "namespace": "pr", "name": "q-1"}, "type": "Warning", "reason": "Unhealthy", "message": "Readiness probe failed: Get \"http://10.0.0.1:8080/ready\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"});
    let ev = alert(json!({"alertname": "KubePodNotReady", "namespace": "pr", "pod": "q-1"}));
    let steps = next(&ev, &[read(vec![p, e])]);
    assert!(has(&steps, "kubectl top pods q-1 -n pr --containers"), "{steps:?}");
}

#[test]
fn a_workload_alert_reads_warnings_then_its_pods() {
    let ev = alert(json!({"alertname": "KubeDeploymentRolloutStuck", "namespace": "m", "deployment": "web", "container": "kube-rbac-proxy-main", "job": "kube-state-metrics"}));
    let t = scope::alert_target(&ev);
    assert_eq!(lines(&initial_steps(&ev, t.as_ref())), vec!["kubectl get deployments web -n m", "kubectl events -n m --field-selector=type=Warning"]);
    let d = json!({"kind": "Deployment", "metadata": {"namespace": "m", "name": "web"}, "spec": {"selector": {"matchLabels": {"app": "web"}}}});
    let steps = next(&ev, &[read(vec![d])]);
    assert_eq!(steps.first().map(String::as_str), Some("kubectl get pods -n m --selector=app=web"));
}

#[test]
fn cpu_throttling_alerts_read_usage_at_once() {
    let ev = alert(json!({"alertname": "CPUThrottlingHigh", "namespace": "pr", "pod": "q-1", "container": "q"}));
    let t = scope::alert_target(&ev);
    assert!(has(&lines(&initial_steps(&ev, t.as_ref())), "kubectl top pods q-1 -n pr --containers"));
}

#[test]
fn a_kube_state_metrics_job_alert_reads_the_job_not_the_scraper() {
    let e = alert(json!({"alertname": "KubeJobFailed", "namespace": "finance", "job_name": "ledger-29924790", "condition": "true",
        "container": "kube-state-metrics", "instance": "10.244.1.23:8080", "job": "kube-state-metrics", "endpoint": "http",
        "pod": "kube-prometheus-stack-kube-state-metrics-6d8f7b9c5-q2x7l", "service": "kube-prometheus-stack-kube-state-metrics"}));
    let t = scope::alert_target(&e);
    assert_eq!(t.as_ref().map(Target::resource_ref).as_deref(), Some("finance/Job/ledger-29924790"));
    assert!(lines(&initial_steps(&e, t.as_ref())).iter().all(|l| !l.contains("kube-state-metrics")));
}

#[test]
fn an_alert_naming_only_a_namespace_sweeps_it_within_bounds() {
    let e = alert(json!({"alertname": "CheckoutLatencySLOBurn", "namespace": "checkout"}));
    let t = scope::alert_target(&e);
    assert!(t.is_none());
    assert_eq!(
        lines(&initial_steps(&e, None)),
        vec![
            "kubectl get pods -n checkout --limit=100",
            "kubectl get deployments -n checkout --limit=100",
            "kubectl get statefulsets -n checkout --limit=100",
            "kubectl events -n checkout --field-selector=type=Warning --limit=100",
            "kubectl get horizontalpodautoscalers -n checkout --limit=100",
        ]
    );
}

#[test]
fn a_node_exporter_address_is_matched_to_its_node() {
    let e = alert(json!({"alertname": "NodeFilesystemAlmostOutOfSpace", "instance": "10.0.1.12:9100", "job": "node-exporter", "mountpoint": "/",
        "namespace": "monitoring", "pod": "kube-prometheus-stack-prometheus-node-exporter-7xk2p", "container": "node-exporter"}));
    assert!(scope::alert_target(&e).is_none());
    let first = lines(&initial_steps(&e, None));
    assert_eq!(first, vec!["kubectl get nodes --limit=100", "kubectl get pods kube-prometheus-stack-prometheus-node-exporter-7xk2p -n monitoring"]);
    let node = |name: &str, ip: &str| json!({"kind": "Node", "metadata": {"name": name}, "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]}});
    let results = [listed(Command::list("c", None, "nodes", None), vec![node("n-a", "10.0.1.11"), node("n-b", "10.0.1.12")])];
    let obs = Observations::new(&results);
    assert_eq!(scope::effective_target(&e, &obs).map(|t| t.resource_ref()).as_deref(), Some("Node/n-b"));
    let steps = next(&e, &results);
    assert!(has(&steps, "events --for=Node/n-b") && has(&steps, "spec.nodeName=n-b"), "{steps:?}");
}

#[test]
fn a_ready_node_does_not_clear_a_disk_alert() {
    let e = alert(json!({"alertname": "NodeFilesystemAlmostOutOfSpace", "instance": "n-b:9100", "job": "node-exporter", "mountpoint": "/"}));
    let node = json!({"kind": "Node", "metadata": {"name": "n-b"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    let input = aetherius_core::DecideInput {
        analysis: crate::reasoning::analyze_alert(&e),
        event: e,
        results: vec![read(vec![node])],
        observations: vec![],
        pending: vec![],
        steps_left: 0,
    };
    let aetherius_core::Decision::Conclude { diagnosis } = crate::reasoning::decide(&input) else { panic!("no steps left: must conclude") };
    assert_eq!(diagnosis.root_cause, aetherius_core::RootCause::Unknown, "{}", diagnosis.summary);
    assert_eq!(diagnosis.resource.as_deref(), Some("Node/n-b"));
}

#[test]
fn the_sweep_follows_the_trouble_nearest_the_alert_not_an_old_restart() {
    // startsAt 2026-01-01T00:00:00Z (analyzers::tests::alert).
    let e = alert(json!({"alertname": "CheckoutErrorBudgetBurn", "namespace": "shop"}));
    let crashed = |name: &str, finished: &str| {
        json!({"kind": "Pod", "metadata": {"namespace": "shop", "name": name, "ownerReferences": [{"kind": "ReplicaSet", "name": format!("{name}-rs"), "controller": true}]},
            "spec": {"containers": [{"name": "app"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": finished}],
                "containerStatuses": [{"name": "app", "ready": false, "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": finished}}}]}})
    };
    let results = [listed(
        limited(Command::list("c", Some("shop"), "pods", None)),
        vec![crashed("old-batch", "2025-12-29T04:00:00Z"), crashed("cart", "2025-12-31T23:58:00Z"), crashed("search", "2025-12-30T12:00:00Z")],
    )];
    let obs = Observations::new(&results);
    let sc = scope::scope(&e, &obs);
    let ranked: Vec<&str> = sc.suspects.iter().map(|x| x.resource.as_str()).collect();
    assert_eq!(ranked, ["shop/Pod/cart", "shop/Pod/search", "shop/Pod/old-batch"]);
    let steps = next(&e, &results);
    assert!(has(&steps, "logs cart -n shop --container=app --previous"), "{steps:?}");
    assert!(!has(&steps, "logs old-batch"), "only the nearest two owners are followed: {steps:?}");
}

#[test]
fn a_quota_alert_reads_the_namespace_whose_pods_it_blocks() {
    let e = alert(json!({"alertname": "KubeQuotaExceeded", "namespace": "analytics", "resource": "requests.cpu", "resourcequota": "team-quota",
        "container": "kube-state-metrics", "endpoint": "http", "pod": "kube-prometheus-stack-kube-state-metrics-6d8f7b9c5-q2x7l", "service": "kube-prometheus-stack-kube-state-metrics"}));
    let t = scope::alert_target(&e);
    let first = lines(&initial_steps(&e, t.as_ref()));
    assert!(has(&first, "get resourcequotas team-quota -n analytics") && has(&first, "get deployments -n analytics --limit=100"), "{first:?}");
    let deploy = json!({"kind": "Deployment", "metadata": {"namespace": "analytics", "name": "report-builder"}, "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "rb"}}},
        "status": {"replicas": 0, "conditions": [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate"}]}});
    let failed = json!({"kind": "Event", "metadata": {"namespace": "analytics", "name": "rb.1"}, "type": "Warning", "reason": "FailedCreate",
        "involvedObject": {"kind": "ReplicaSet", "namespace": "analytics", "name": "report-builder-6f9c"},
        "message": "Error creating: pods \"report-builder-6f9c-x\" is forbidden: exceeded quota: team-quota, requested: requests.cpu=2, used: requests.cpu=8, limited: requests.cpu=8"});
    let results = [read(vec![deploy, failed])];
    let obs = Observations::new(&results);
    let findings = crate::reasoning::analyzers::analyze(&e, &obs, &scope::scope(&e, &obs));
    let best = findings.first().expect("a finding");
    assert_eq!(best.root_cause, aetherius_core::RootCause::QuotaExceeded);
    assert_eq!(best.resource.as_deref(), Some("analytics/ResourceQuota/team-quota"));
}

#[test]
fn a_filling_claim_scopes_to_the_pods_that_mount_it() {
    let e = alert(json!({"alertname": "KubePersistentVolumeFillingUp", "namespace": "metrics", "persistentvolumeclaim": "data-tsdb-0",
        "job": "kubelet", "metrics_path": "/metrics", "node": "n-b", "instance": "10.0.1.12:10250", "service": "kube-prometheus-stack-kubelet"}));
    let t = scope::alert_target(&e);
    assert_eq!(t.as_ref().map(Target::resource_ref).as_deref(), Some("metrics/PersistentVolumeClaim/data-tsdb-0"));
    assert!(has(&lines(&initial_steps(&e, t.as_ref())), "get pods -n metrics --limit=100"));
    let mounting = json!({"kind": "Pod", "metadata": {"namespace": "metrics", "name": "tsdb-0"}, "spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-tsdb-0"}}]}});
    let other = json!({"kind": "Pod", "metadata": {"namespace": "metrics", "name": "web-1"}, "spec": {"volumes": []}});
    let results = [read(vec![mounting, other])];
    let obs = Observations::new(&results);
    let names: Vec<&str> = scope::scope(&e, &obs).pods.iter().map(|p| s(p, "/metadata/name")).collect();
    assert_eq!(names, ["tsdb-0"]);
}

#[test]
fn a_warning_event_alert_reads_the_events_object() {
    let e = alert(json!({"alertname": "KubernetesWarningEvent", "involved_object_kind": "Ingress", "involved_object_name": "booking", "namespace": "travel", "reason": "Translate"}));
    let t = scope::alert_target(&e);
    assert_eq!(t.as_ref().map(Target::resource_ref).as_deref(), Some("travel/Ingress/booking"));
    assert!(has(&lines(&initial_steps(&e, t.as_ref())), "get ingresses booking -n travel"));
}

#[test]
fn a_probe_of_a_host_an_openshift_route_serves_reads_the_routes_service() {
    let e = alert(json!({"alertname": "ProbeFailed", "instance": "https://docs.apps.example.com/healthz", "job": "blackbox"}));
    let route = json!({"kind": "Route", "metadata": {"namespace": "docs", "name": "portal"}, "spec": {"host": "docs.apps.example.com", "to": {"kind": "Service", "name": "portal", "weight": 100}, "port": {"targetPort": "http"}}});
    let steps = next(&e, &[read(vec![route])]);
    assert!(has(&steps, "get services portal -n docs"), "{steps:?}");
}

#[test]
fn a_scheduler_absence_alert_reads_the_schedulers_work() {
    let e = alert(json!({"alertname": "KubeSchedulerDown", "severity": "critical"}));
    let steps = lines(&initial_steps(&e, None));
    assert!(has(&steps, "get pods -n kube-system --selector=component=kube-scheduler"), "{steps:?}");
    assert!(has(&steps, "events --all-namespaces --field-selector=reason=Scheduled") || has(&steps, "reason=Scheduled"), "{steps:?}");
    assert!(has(&steps, "status.phase=Pending"), "{steps:?}");
}

#[test]
fn an_application_known_by_name_only_is_looked_up_in_every_namespace() {
    let e = alert(json!({"alertname": "SearchHighErrorRate", "sloth_service": "search-gateway", "sloth_slo": "availability"}));
    let steps = lines(&initial_steps(&e, None));
    assert!(has(&steps, "get deployments --all-namespaces --field-selector=metadata.name=search-gateway"), "{steps:?}");
}

#[test]
fn a_scraped_targets_logs_are_those_of_the_container_serving_the_port() {
    let e = alert(json!({"alertname": "TargetDown", "namespace": "op", "service": "op-metrics", "job": "op-metrics"}));
    let svc = json!({"kind": "Service", "metadata": {"namespace": "op", "name": "op-metrics"}, "spec": {"selector": {"app": "op"}, "ports": [{"name": "https", "port": 8443, "targetPort": "https"}]}});
    let ep = json!({"kind": "Endpoints", "metadata": {"namespace": "op", "name": "op-metrics"}, "subsets": [{"addresses": [{"ip": "10.0.0.5"}], "ports": [{"name": "https", "port": 8443}]}]});
    let spec = json!({"containers": [{"name": "manager", "ports": [{"name": "probes", "containerPort": 8081}]}, {"name": "kube-rbac-proxy", "ports": [{"name": "https", "containerPort": 8443}]}]});
    let p = pod("op", "op-1", json!({"app": "op"}), spec, json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [{"name": "manager", "ready": true, "restartCount": 0, "state": {"running": {}}}, {"name": "kube-rbac-proxy", "ready": true, "restartCount": 0, "state": {"running": {}}}]}));
    let steps = next(&e, &[read(vec![svc, ep, p])]);
    assert!(has(&steps, "logs op-1 -n op --container=kube-rbac-proxy"), "{steps:?}");
    assert!(!has(&steps, "--container=manager"), "{steps:?}");
}

#[test]
fn a_cluster_scope_denial_reads_the_namespaces_rolebindings_and_a_clusterrole_they_bind_first() {
    let e = alert(json!({"alertname": "TargetDown", "namespace": "op", "service": "op-metrics"}));
    let svc = json!({"kind": "Service", "metadata": {"namespace": "op", "name": "op-metrics"}, "spec": {"selector": {"app": "op"}}});
    let p = pod("op", "op-1", json!({"app": "op"}), json!({"containers": [{"name": "proxy"}]}), json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [{"name": "proxy", "ready": true, "restartCount": 0, "state": {"running": {}}}]}));
    let text = r#"E1216 09:03:08.741285 1 webhook.go:154] Failed to make webhook authenticator request: tokenreviews.authentication.k8s.io is forbidden: User "system:serviceaccount:op:op" cannot create resource "tokenreviews" in API group "authentication.k8s.io" at the cluster scope"#;
    let results = vec![read(vec![svc, p]), log("op", "op-1", "proxy", false, text)];
    let steps = next(&e, &results);
    assert!(has(&steps, "get rolebindings -n op") && has(&steps, "get clusterrolebindings"), "{steps:?}");
    let rb = json!({"kind": "RoleBinding", "metadata": {"namespace": "op", "name": "proxy"}, "roleRef": {"kind": "ClusterRole", "name": "proxy-role"}, "subjects": [{"kind": "ServiceAccount", "name": "op", "namespace": "op"}]});
    let le = json!({"kind": "RoleBinding", "metadata": {"namespace": "op", "name": "leader"}, "roleRef": {"kind": "Role", "name": "leader"}, "subjects": [{"kind": "ServiceAccount", "name": "op", "namespace": "op"}]});
    let mut results = results;
    results.push(read(vec![rb, le]));
    let steps = next(&e, &results);
    let cr = steps.iter().position(|s| s.contains("get clusterroles proxy-role")).expect("the ClusterRole is read");
    let role = steps.iter().position(|s| s.contains("get roles leader")).expect("the Role is read");
    assert!(cr < role, "{steps:?}");
}

#[test]
fn an_hpa_blind_to_resource_metrics_leads_to_the_metrics_apiservice_and_its_pods() {
    let e = alert(json!({"alertname": "HTTPLatencyHigh", "namespace": "pay", "service": "ledger"}));
    let hpa = json!({"kind": "HorizontalPodAutoscaler", "metadata": {"namespace": "pay", "name": "ledger"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "ledger"}},
        "status": {"conditions": [{"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
            "message": "the HPA was unable to compute the replica count: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server is currently unable to handle the request (get pods.metrics.k8s.io)"}]}});
    let steps = next(&e, &[read(vec![hpa.clone()])]);
    assert!(has(&steps, "get apiservices v1beta1.metrics.k8s.io"), "{steps:?}");
    let api = json!({"kind": "APIService", "metadata": {"name": "v1beta1.metrics.k8s.io"}, "spec": {"service": {"namespace": "kube-system", "name": "metrics-server"}}});
    let svc = json!({"kind": "Service", "metadata": {"namespace": "kube-system", "name": "metrics-server"}, "spec": {"selector": {"k8s-app": "metrics-server"}}});
    let ms = pod("kube-system", "metrics-server-1", json!({"k8s-app": "metrics-server"}), json!({"containers": [{"name": "metrics-server"}]}),
        json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [{"name": "metrics-server", "ready": false, "restartCount": 0, "state": {"running": {}}}]}));
    let steps = next(&e, &[read(vec![hpa, api, svc, ms])]);
    assert!(has(&steps, "logs metrics-server-1 -n kube-system --container=metrics-server"), "{steps:?}");
}

#[test]
fn a_custom_alert_on_a_healthy_looking_application_reads_its_logs_usage_and_hpas() {
    let e = alert(json!({"alertname": "NoLeader", "namespace": "net", "job": "sync"}));
    let deploy = json!({"kind": "Deployment", "metadata": {"namespace": "net", "name": "sync"}, "spec": {"selector": {"matchLabels": {"app": "sync"}}}});
    let p = pod("net", "sync-1", json!({"app": "sync"}), json!({"containers": [{"name": "sync", "resources": {"limits": {"cpu": "100m"}}}]}),
        json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [{"name": "sync", "ready": true, "restartCount": 0, "state": {"running": {}}}]}));
    let steps = next(&e, &[read(vec![deploy, p])]);
    for want in ["logs sync-1 -n net --container=sync", "top pods sync-1 -n net", "get horizontalpodautoscalers -n net"] {
        assert!(has(&steps, want), "{want}: {steps:?}");
    }
}

#[test]
fn a_node_at_its_pod_capacity_reads_the_pods_waiting_for_it() {
    let e = alert(json!({"alertname": "KubeletTooManyPods", "node": "n1", "instance": "10.0.0.1:10250"}));
    let steps = lines(&initial_steps(&e, scope::alert_target(&e).as_ref()));
    assert!(has(&steps, "get pods --all-namespaces --field-selector=status.phase=Pending"), "{steps:?}");
    assert!(has(&steps, "--field-selector=reason=FailedScheduling"), "{steps:?}");
    // The DaemonSet controller pins each pod to its node by a metadata.name affinity.
    let pinned = json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}}}}, "status": {"phase": "Pending"}});
    assert!(scope::wants_node(&pinned, "n1") && !scope::wants_node(&pinned, "n2"));
}

#[test]
fn a_cronjob_alert_reads_the_namespaces_jobs() {
    let e = alert(json!({"alertname": "[batch] job failed", "kube_namespace": "b", "kube_job": "nightly", "kube_cronjob": "nightly"}));
    let steps = lines(&initial_steps(&e, scope::alert_target(&e).as_ref()));
    assert!(has(&steps, "get cronjobs nightly -n b") && has(&steps, "get jobs -n b"), "{steps:?}");
}

#[test]
fn an_hpa_that_cannot_read_external_metrics_leads_to_the_external_metrics_api() {
    // The HPA controller's message when nothing serves external.metrics.k8s.io.
    let msg = "the HPA was unable to compute the replica count: unable to get external metric q/queue_ready/&LabelSelector{}: unable to fetch metrics from external metrics API: the server could not find the requested resource (get queue_ready.external.metrics.k8s.io)";
    assert_eq!(metrics_api_of(msg), Some("v1beta1.external.metrics.k8s.io"));
    assert_eq!(metrics_api_of("unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered"), Some("v1beta1.custom.metrics.k8s.io"));
    assert_eq!(metrics_api_of("failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)"), Some("v1beta1.metrics.k8s.io"));
    let e = alert(json!({"alertname": "Queue backlog", "namespace": "q"}));
    let hpa = json!({"kind": "HorizontalPodAutoscaler", "metadata": {"namespace": "q", "name": "w"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "w"}},
        "status": {"conditions": [{"type": "ScalingActive", "status": "False", "reason": "FailedGetExternalMetric", "message": msg}]}});
    let steps = next(&e, &[read(vec![hpa])]);
    assert!(has(&steps, "get apiservices v1beta1.external.metrics.k8s.io"), "{steps:?}");
    let steps = lines(&initial_steps(&e, None));
    assert!(has(&steps, "get horizontalpodautoscalers -n q"), "{steps:?}");
}

#[test]
fn egress_to_an_outside_host_that_times_out_reads_the_clients_and_the_cnis_policies() {
    let e = alert(json!({"alertname": "MailDeliveryFailing", "namespace": "mail", "pod": "mailer-7d9f8c6b5-x2x9z"}));
    let p = pod("mail", "mailer-7d9f8c6b5-x2x9z", json!({"app": "mailer"}), json!({"containers": [{"name": "mailer"}]}),
        json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [{"name": "mailer", "ready": true, "restartCount": 0, "state": {"running": {}}}]}));
    let text = "2026-01-01T00:00:00Z error smtp send failed: dial tcp 34.111.201.40:587: i/o timeout";
    let steps = next(&e, &[read(vec![p]), log("mail", "mailer-7d9f8c6b5-x2x9z", "mailer", false, text)]);
    for want in ["get networkpolicies -n mail", "get ciliumnetworkpolicies -n mail", "get ciliumclusterwidenetworkpolicies", "get globalnetworkpolicies", "get adminnetworkpolicies"] {
        assert!(has(&steps, want), "{want} missing from {steps:?}");
    }
    // Read-only kinds the command model and the safety layers accept.
    for r in ["ciliumclusterwidenetworkpolicies", "ccnp", "gnp", "anp", "banp"] {
        assert!(aetherius_core::safety::check(&Command::list("c", None, r, None)).is_ok(), "{r}");
    }
}

#[test]
fn a_service_without_endpoints_owned_by_an_operator_resource_reads_that_resource() {
    let e = alert(json!({"alertname": "KubePodCrashLooping", "namespace": "iam", "pod": "kc-1"}));
    // CloudNativePG owns the -rw Service of a Cluster; hibernated, it has no instance pods.
    let svc = json!({"kind": "Service", "metadata": {"namespace": "iam", "name": "db-rw",
        "ownerReferences": [{"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "name": "db", "controller": true}]},
        "spec": {"selector": {"cnpg.io/cluster": "db", "cnpg.io/instanceRole": "primary"}}});
    let ep = json!({"kind": "Endpoints", "metadata": {"namespace": "iam", "name": "db-rw"}});
    let steps = next(&e, &[read(vec![svc, ep])]);
    assert!(has(&steps, "get clusters db -n iam"), "{steps:?}");
    // An owner of a kind the command model does not register is not read.
    let other = json!({"kind": "Pod", "metadata": {"namespace": "a", "name": "w-0", "ownerReferences": [{"apiVersion": "example.com/v1", "kind": "Widget", "name": "w", "controller": true}]}});
    assert!(operator_owner(&other).is_none());
    let rs_owned = crashed_pod();
    assert!(operator_owner(&rs_owned).is_none());
}

#[test]
fn pods_on_a_node_are_listed_namespace_by_namespace_when_the_cluster_wide_list_is_forbidden() {
    let e = alert(json!({"alertname": "KubeNodeEviction", "node": "w5"}));
    let node = json!({"kind": "Node", "metadata": {"name": "w5"}, "status": {"conditions": [{"type": "DiskPressure", "status": "True"}]}});
    let mut across = all_namespaces(Command::list("c", None, "pods", None));
    across.flags.insert("field-selector".into(), "spec.nodeName=w5".into());
    let denied = aetherius_core::StepResult { command: across, status: aetherius_core::StepStatus::Forbidden, output: String::new(), objects: vec![], error: Some("forbidden".into()), truncated: false, duration_ms: 0, output_ref: None };
    let evicted = json!({"kind": "Event", "metadata": {"namespace": "web", "name": "a.1"}, "involvedObject": {"kind": "Pod", "namespace": "web", "name": "a"},
        "type": "Warning", "reason": "Evicted", "message": "The node was low on resource: inodes.", "source": {"component": "kubelet", "host": "w5"}});
    let steps = next(&e, &[read(vec![node.clone()]), denied.clone()]);
    assert!(has(&steps, "kubectl events --all-namespaces") && has(&steps, "reason=Evicted"), "{steps:?}");
    let steps = next(&e, &[read(vec![node, evicted]), denied]);
    assert!(has(&steps, "kubectl get pods -n web --field-selector=spec.nodeName=w5"), "{steps:?}");
}
