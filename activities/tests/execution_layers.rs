//! The execution activity against a fixture cluster: all five layers in their places,
//! layer 4 answered by the cluster's own SelfSubjectAccessReview, and the toolset's reads
//! (workload logs, describe with events) working through kube-rs.

use aetherius_activities::execution::{ClusterOptions, ExecutionActivities, ExecutionOptions};
use aetherius_core::{Command, StepStatus, kubectl};
use aetherius_scenario::{
    Scenario,
    server::{self, RequestLog},
};
use std::{net::SocketAddr, path::PathBuf};

async fn activities(namespaces: &[&str]) -> (ExecutionActivities, tempfile::TempDir) {
    // The reader identity may not read Secrets anywhere, nor pods in kube-system.
    let (exec, tmp, _) = recorded(namespaces, &["secrets", "kube-system/pods"]).await;
    (exec, tmp)
}

/// The execution activities against crashloop-missing-env's cluster (with `forbidden`
/// reads), and the log of every request that cluster receives.
async fn recorded(namespaces: &[&str], forbidden: &[&str]) -> (ExecutionActivities, tempfile::TempDir, RequestLog) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/crashloop-missing-env");
    let mut scenario = Scenario::load(&dir).unwrap();
    scenario.cluster.forbidden = forbidden.iter().map(|s| s.to_string()).collect();
    let (addr, _server, log) = server::serve_recorded(scenario.cluster, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = tmp.path().join("kubeconfig");
    std::fs::write(&kubeconfig, server::kubeconfig("prod", addr)).unwrap();
    let mut options = ExecutionOptions::default();
    options.clusters.insert(
        "prod".into(),
        ClusterOptions {
            kubeconfig: Some(kubeconfig),
            namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        },
    );
    (ExecutionActivities::new(options), tmp, log)
}

async fn run(exec: &ExecutionActivities, line: &str) -> aetherius_core::StepResult {
    let cmd: Command = kubectl::parse(line, "prod").unwrap_or_else(|r| panic!("{line}: {r}"));
    exec.run(cmd).await.unwrap_or_else(|e| panic!("{line}: {e}"))
}

#[tokio::test]
async fn each_layer_refuses_in_its_place_and_reads_work() {
    let (exec, _tmp) = activities(&[]).await;

    let secrets = run(&exec, "kubectl get secrets -n shop").await;
    assert_eq!(secrets.status, StepStatus::Forbidden, "{secrets:?}");
    let why = secrets.error.unwrap();
    assert!(why.contains("layer 4 (rbac)") && why.contains("secrets"), "{why}");

    let kube_system = run(&exec, "kubectl get pods -n kube-system").await;
    assert_eq!(kube_system.status, StepStatus::Forbidden, "{kube_system:?}");

    let delete = run(&exec, "kubectl delete pod x -n shop").await;
    assert_eq!(delete.status, StepStatus::Rejected);
    assert!(delete.error.unwrap().contains("layer 2 (read-only)"));

    let logs = run(&exec, "kubectl logs deploy/checkout -n shop --previous --tail=50").await;
    assert_eq!(logs.status, StepStatus::Success, "{logs:?}");
    assert!(logs.output.contains("DATABASE_URL"), "the workload's pod's previous log: {}", logs.output);

    let pods = run(&exec, "kubectl get pods -n shop -l app.kubernetes.io/name=checkout").await;
    assert_eq!(pods.status, StepStatus::Success);
    let pod = pods.objects[0]["metadata"]["name"].as_str().unwrap().to_owned();
    let described = run(&exec, &format!("kubectl describe pod {pod} -n shop")).await;
    assert_eq!(described.status, StepStatus::Success, "{described:?}");
    assert_eq!(described.objects[0]["kind"], "Pod");
    assert!(described.objects[1..].iter().all(|e| e["kind"] == "Event" && e["involvedObject"]["name"] == pod.as_str()));
    assert!(described.objects.len() > 1, "describe brings the pod's events");

    let missing = run(&exec, "kubectl get deploy nope -n shop").await;
    assert_eq!(missing.status, StepStatus::NotFound);
}

#[tokio::test]
async fn the_namespace_allowlist_is_layer_five() {
    let (exec, _tmp) = activities(&["shop"]).await;
    let outside = run(&exec, "kubectl get pods -n default").await;
    assert_eq!(outside.status, StepStatus::Rejected);
    assert!(outside.error.unwrap().contains("layer 5 (cluster-access)"));
    let other_cluster = exec.run(Command::get("staging", Some("shop"), "pods", "x")).await.unwrap();
    assert_eq!(other_cluster.status, StepStatus::Rejected);
    assert_eq!(run(&exec, "kubectl get pods -n shop").await.status, StepStatus::Success);
}

/// Base64 of the values in crashloop-missing-env's Secret `shop/checkout-db`.
const SECRET_VALUES: &[&str] = &["cG9zdGdyZXM6Ly9jaGVja291dDpacjhtSzJwUXg3dkx3M25U", "cG9zdGdyZXM6Ly9jaGVja291dF9ybzpiNEhxOXNXYzJMbUU2eVBk"];

#[tokio::test]
async fn secrets_are_read_as_metadata_only_so_no_value_leaves_the_api_server() {
    let (exec, _tmp, log) = recorded(&[], &[]).await;
    for line in [
        "kubectl get secrets -n shop",
        "kubectl get secret checkout-db -n shop",
        "kubectl describe secret checkout-db -n shop",
        "kubectl describe secrets -n shop",
        "kubectl get secrets -n shop --field-selector metadata.name=checkout-db",
        "kubectl get secrets -n shop -l app.kubernetes.io/name=checkout",
        "kubectl get secrets -A",
        "kubectl get secrets -n shop -o name",
    ] {
        let r = run(&exec, line).await;
        assert_eq!(r.status, StepStatus::Success, "{line}: {r:?}");
        assert!(r.objects.iter().any(|o| o["metadata"]["name"] == "checkout-db"), "{line}: {r:?}");
        assert!(r.objects.iter().filter(|o| o["metadata"]["name"] == "checkout-db").all(|o| o["kind"] == "Secret"), "{line}: {r:?}");
        let text = serde_json::to_string(&r).unwrap();
        for value in SECRET_VALUES {
            assert!(!text.contains(value), "{line} returned a Secret value: {text}");
        }
    }
    let requests = log.requests();
    let secret_reads: Vec<_> = requests.iter().filter(|r| r.method == "GET" && r.path.contains("/secrets")).collect();
    assert!(secret_reads.len() >= 8, "{requests:#?}");
    for r in &secret_reads {
        assert!(r.accept.starts_with("application/json;as=PartialObjectMetadata"), "a full Secret read reached the API server: {r:?}");
    }
}

#[tokio::test]
async fn describing_a_node_reads_events_only_from_allowed_namespaces() {
    let (exec, _tmp, log) = recorded(&["shop"], &[]).await;
    let node = run(&exec, "kubectl describe node ip-10-0-1-23.eu-west-1.compute.internal").await;
    assert_eq!(node.status, StepStatus::Success, "{node:?}");
    assert_eq!(node.objects[0]["kind"], "Node");
    let events: Vec<_> = log.requests().into_iter().filter(|r| r.path.ends_with("/events")).collect();
    assert!(!events.is_empty());
    assert!(events.iter().all(|r| r.path == "/api/v1/namespaces/shop/events"), "{events:#?}");

    // Without an allowlist, a node's events are wherever they were recorded.
    let (exec, _tmp, log) = recorded(&[], &[]).await;
    run(&exec, "kubectl describe node ip-10-0-1-23.eu-west-1.compute.internal").await;
    assert!(log.requests().iter().any(|r| r.path == "/api/v1/events"));
}

#[tokio::test]
async fn lists_are_paged_and_bounded_and_logs_have_a_default_tail() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/crashloop-missing-env");
    let scenario = Scenario::load(&dir).unwrap();
    let (addr, _server, log) = server::serve_recorded(scenario.cluster, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = tmp.path().join("kubeconfig");
    std::fs::write(&kubeconfig, server::kubeconfig("prod", addr)).unwrap();
    let mut options = ExecutionOptions { list_page_size: 2, max_list_items: 3, default_log_tail_lines: 1, ..Default::default() };
    options.clusters.insert("prod".into(), ClusterOptions { kubeconfig: Some(kubeconfig), ..Default::default() });
    let exec = ExecutionActivities::new(options);

    let all = run(&exec, "kubectl get events -n shop").await;
    assert_eq!(all.objects.len(), 3, "bounded at max_list_items");
    assert!(all.truncated && all.output.contains("more exist"), "{}", all.output);
    let pages: Vec<_> = log.requests().into_iter().filter(|r| r.path == "/api/v1/namespaces/shop/events").collect();
    assert_eq!(pages.len(), 2, "{pages:#?}");
    assert!(pages[0].query.contains("limit=2") && pages[1].query.contains("continue=") && pages[1].query.contains("limit=1"), "{pages:#?}");

    let logs = run(&exec, "kubectl logs deploy/checkout -n shop --previous").await;
    assert_eq!(logs.status, StepStatus::Success, "{logs:?}");
    let read = log.requests().into_iter().rfind(|r| r.path.ends_with("/log")).unwrap();
    assert!(read.query.contains("tailLines=1") && read.query.contains("limitBytes="), "{read:?}");
    assert_eq!(logs.output.trim_end().lines().count(), 1, "{}", logs.output);
}
