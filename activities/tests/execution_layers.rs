//! The execution activity against a fixture cluster: all five layers in their places,
//! layer 4 answered by the cluster's own SelfSubjectAccessReview, and the toolset's reads
//! (workload logs, describe with events) working through kube-rs.

use aetherius_activities::execution::{ClusterOptions, ExecutionActivities, ExecutionOptions};
use aetherius_core::{Command, StepStatus, kubectl};
use aetherius_scenario::{Scenario, server};
use std::{net::SocketAddr, path::PathBuf};

async fn activities(namespaces: &[&str]) -> (ExecutionActivities, tempfile::TempDir) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/crashloop-missing-env");
    let mut scenario = Scenario::load(&dir).unwrap();
    // The reader identity may not read Secrets anywhere, nor pods in kube-system.
    scenario.cluster.forbidden = vec!["secrets".into(), "kube-system/pods".into()];
    let (addr, _server) = server::serve(scenario.cluster, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
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
    (ExecutionActivities::new(options), tmp)
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
