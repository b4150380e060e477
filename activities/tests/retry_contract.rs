//! The retry contract (ARCHITECTURE.md) against a fixture cluster that answers the way
//! kube-apiserver does when it fails: each class of failure gets its `type_name` and is
//! retried or not; an access review that fails transiently is retried, never cached as a
//! denial.

use aetherius_activities::execution::{ClusterOptions, ExecutionActivities, ExecutionOptions};
use aetherius_core::{Command, StepStatus, failure, kubectl};
use aetherius_scenario::{
    Scenario,
    server::{self, Faults},
};
use std::{net::SocketAddr, path::PathBuf};

const REVIEWS: &str = "selfsubjectaccessreviews";
const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/shop/deployments";

async fn faulty(faults: &Faults, tmp: &std::path::Path) -> ExecutionOptions {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/crashloop-missing-env");
    let scenario = Scenario::load(&dir).unwrap();
    let (addr, _server) =
        server::serve_with_faults(scenario.cluster, SocketAddr::from(([127, 0, 0, 1], 0)), faults.clone()).await.unwrap();
    let kubeconfig = tmp.join("prod.kubeconfig");
    std::fs::write(&kubeconfig, server::kubeconfig("prod", addr)).unwrap();
    let mut options = ExecutionOptions::default();
    options.clusters.insert("prod".into(), ClusterOptions { kubeconfig: Some(kubeconfig), ..Default::default() });
    options
}

fn cmd(line: &str) -> Command {
    kubectl::parse(line, "prod").unwrap_or_else(|r| panic!("{line}: {r}"))
}

/// The failure's type name and retryability, or the result.
async fn outcome(exec: &ExecutionActivities, line: &str) -> Result<aetherius_core::StepResult, (&'static str, bool)> {
    exec.run(cmd(line)).await.map_err(|e| e.failure_type())
}

#[tokio::test]
async fn api_server_429_and_5xx_are_retried_then_the_read_works() {
    let tmp = tempfile::tempdir().unwrap();
    let faults = Faults::default();
    let exec = ExecutionActivities::new(faulty(&faults, tmp.path()).await);
    let line = "kubectl get deployment checkout -n shop";
    for code in [500, 503, 504, 429] {
        faults.push(DEPLOYMENTS, code);
        assert_eq!(outcome(&exec, line).await.unwrap_err(), (failure::CLUSTER_UNAVAILABLE, true), "{code}");
        assert_eq!(faults.pending(), 0, "{code} was answered");
        // The retry (what Temporal runs next) reads it.
        let ok = outcome(&exec, line).await.expect("the retry works");
        assert_eq!(ok.status, StepStatus::Success, "after {code}: {ok:?}");
    }
    // A 4xx is an answer, not a failure: a result, never retried.
    let missing = outcome(&exec, "kubectl get deployment nope -n shop").await.unwrap();
    assert_eq!(missing.status, StepStatus::NotFound, "{missing:?}");
}

#[tokio::test]
async fn an_access_review_that_fails_transiently_is_retried_never_cached_as_a_denial() {
    let tmp = tempfile::tempdir().unwrap();
    let faults = Faults::default();
    let exec = ExecutionActivities::new(faulty(&faults, tmp.path()).await);
    let line = "kubectl get pods -n shop";
    for code in [500, 429] {
        faults.push(REVIEWS, code);
        assert_eq!(outcome(&exec, line).await.unwrap_err(), (failure::CLUSTER_UNAVAILABLE, true), "review answered {code}");
    }
    // Had the failure been cached as a denial, this would be Forbidden for a minute.
    let ok = outcome(&exec, line).await.expect("the review is asked again and allows it");
    assert_eq!(ok.status, StepStatus::Success, "{ok:?}");
}

#[tokio::test]
async fn an_unreachable_api_server_is_a_retried_transport_failure() {
    let tmp = tempfile::tempdir().unwrap();
    // Accepts connections and never answers: the read times out.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut open = vec![];
        while let Ok((conn, _)) = silent.accept().await {
            open.push(conn);
        }
    });
    let kubeconfig = tmp.path().join("silent.kubeconfig");
    std::fs::write(&kubeconfig, server::kubeconfig("prod", addr)).unwrap();
    let mut options = ExecutionOptions { command_timeout_secs: 1, ..ExecutionOptions::default() };
    options.clusters.insert("prod".into(), ClusterOptions { kubeconfig: Some(kubeconfig), ..Default::default() });
    let exec = ExecutionActivities::new(options);
    assert_eq!(outcome(&exec, "kubectl get pods -n shop").await.unwrap_err(), (failure::CLUSTER_TRANSPORT, true));
}

#[tokio::test]
async fn bad_credentials_configuration_and_unknown_clusters_are_permanent() {
    let tmp = tempfile::tempdir().unwrap();
    let faults = Faults::default();
    let mut options = faulty(&faults, tmp.path()).await;
    // Both a kubeconfig and a provider: contradictory.
    options.clusters.insert(
        "broken".into(),
        ClusterOptions {
            kubeconfig: Some(tmp.path().join("prod.kubeconfig")),
            credentials: Some(aetherius_activities::execution::credentials::CredentialsOptions::InCluster),
            ..Default::default()
        },
    );
    // A kubeconfig that does not exist.
    options.clusters.insert(
        "missing".into(),
        ClusterOptions { kubeconfig: Some(tmp.path().join("no-such.kubeconfig")), ..Default::default() },
    );
    let exec = ExecutionActivities::new(options.clone());
    for cluster in ["broken", "missing"] {
        let c = kubectl::parse("kubectl get pods -n shop", cluster).unwrap();
        let e = exec.run(c).await.expect_err(cluster);
        assert_eq!(e.failure_type(), (failure::CREDENTIALS_CONFIG, false), "{cluster}: {e}");
    }
    // A cluster this worker has no configuration for (the API's view may differ from an
    // agent's): layer 5 refuses it when it knows the clusters; the client lookup is the
    // backstop, and permanent.
    let clusters = aetherius_activities::execution::Clusters::new(options);
    let Err(err) = clusters.client("elsewhere").await else { panic!("no such cluster") };
    assert!(matches!(err, aetherius_activities::execution::ClientError::UnknownCluster(_)), "{err}");
    let unknown = exec.run(kubectl::parse("kubectl get pods -n shop", "elsewhere").unwrap()).await;
    match unknown {
        Ok(r) => assert_eq!(r.status, StepStatus::Rejected, "{r:?}"),
        Err(e) => assert_eq!(e.failure_type(), (failure::UNKNOWN_CLUSTER, false), "{e}"),
    }
}
