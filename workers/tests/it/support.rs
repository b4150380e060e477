//! Test harness: real services from the environment, a fixture cluster, workers in-process.

use aetherius_api::AppState;
use aetherius_workers::{config::Config, pools};
use axum::{body::Body, http::Request};
use serde_json::Value;
use std::{net::SocketAddr, path::PathBuf, sync::Arc};
use tower::ServiceExt;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: these tests need the real Temporal and PostgreSQL; run them with `cargo xtask test`")
    })
}

pub(crate) fn scenario_dir(id: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(id)
}

/// The task-queue suffix of the calling test: its name (cargo names the test's thread
/// after it) and this test process, so no test, nor a run before this one, takes its tasks.
pub(crate) fn queue_suffix() -> String {
    static RUN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let run = RUN.get_or_init(|| uuid::Uuid::new_v4().simple().to_string()[..8].to_owned());
    let thread = std::thread::current();
    let test = match thread.name() {
        Some(name) if name != "main" => name.replace("::", "."),
        // Not on the test's thread (or one test per process): a suffix of its own.
        _ => uuid::Uuid::new_v4().simple().to_string()[..8].to_owned(),
    };
    format!("{test}.{run}")
}

/// Configuration pointing at the test services and at `clusters` (id → kubeconfig), on
/// the calling test's own task queues ([`queue_suffix`]).
pub(crate) fn config(clusters: &[(&str, PathBuf)]) -> Config {
    let mut c = Config::default();
    c.temporal.task_queue_suffix = queue_suffix();
    c.temporal.address = env("AETHERIUS_TEST_TEMPORAL");
    c.temporal.namespace = env("AETHERIUS_TEST_NAMESPACE");
    c.database.url = env("AETHERIUS_TEST_DATABASE_URL");
    c.api.temporal_namespace = c.temporal.namespace.clone();
    // Suites that test diagnoses, not access: no credentials, no rate limit (auth.rs tests those).
    c.api.auth.disabled = true;
    c.api.auth.rate_limit_per_minute = 0;
    for (id, kubeconfig) in clusters {
        c.execution.clusters.insert(
            (*id).to_owned(),
            aetherius_activities::execution::ClusterOptions { kubeconfig: Some(kubeconfig.clone()), ..Default::default() },
        );
    }
    c
}

/// Serves a scenario folder; returns the kubeconfig path (in `dir`) and the cluster id.
pub(crate) async fn fixture_cluster(id: &str, dir: &std::path::Path) -> (String, PathBuf) {
    let scenario = aetherius_scenario::Scenario::load(&scenario_dir(id)).expect("scenario loads");
    let cluster_id = scenario.cluster_id();
    let (addr, _task) = aetherius_scenario::server::serve(scenario.cluster, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("fixture cluster binds");
    let path = dir.join(format!("{cluster_id}.kubeconfig"));
    std::fs::write(&path, aetherius_scenario::server::kubeconfig(&cluster_id, addr)).unwrap();
    (cluster_id, path)
}

/// The API router over the real Temporal and PostgreSQL.
pub(crate) async fn api(config: &Config) -> (axum::Router, AppState) {
    let pool = pools::database(config).await.expect("PostgreSQL");
    aetherius_activities::MIGRATOR.run(&pool).await.expect("migrations");
    let temporal = pools::temporal_client(config).await.expect("Temporal");
    let access = Arc::new(aetherius_activities::execution::cluster_access(&config.execution));
    // Knowledge tests put their own, isolated knowledge base in `state.knowledge`.
    let mut options = config.api.clone();
    options.queues = config.temporal.queues();
    let state = AppState::new(options, temporal, pool, access).expect("API options");
    (aetherius_api::app(state.clone()), state)
}

/// Sends a request to the router; returns status and JSON body.
pub(crate) async fn call(app: &axum::Router, method: &str, uri: &str, body: Vec<u8>) -> (u16, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A v4 webhook payload around `alerts`.
pub(crate) fn payload(alerts: Vec<Value>) -> Value {
    serde_json::json!({
        "version": "4", "status": "firing", "receiver": "aetherius", "groupKey": "{}:{}",
        "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager.test", "alerts": alerts,
    })
}

/// A scenario's alert, made unique to this test run (own label, no fixed fingerprint) so
/// its workflow id is new.
pub(crate) fn unique_alert(id: &str) -> Value {
    let text = std::fs::read_to_string(scenario_dir(id).join("scenario.yaml")).unwrap();
    let scenario: Value = serde_yaml::from_str(&text).unwrap();
    let mut alert = scenario["alert"].clone();
    alert.as_object_mut().unwrap().remove("fingerprint");
    alert["labels"]["test_run"] = Value::String(uuid::Uuid::new_v4().to_string());
    alert
}

/// Workers of every pool (reasoning, execution, report) over `config`, and the runtime they
/// live in (keep it while they run).
pub(crate) async fn all_pools(config: &Config) -> (temporalio_sdk::Runtime, Vec<temporalio_sdk::Worker>) {
    let runtime = temporalio_sdk::Runtime::from_current_tokio(Default::default()).unwrap();
    let mut workers = vec![];
    for p in [pools::Pool::Reasoning, pools::Pool::Execution, pools::Pool::Report] {
        let client = pools::temporal_client(config).await.unwrap();
        workers.push(pools::worker(&runtime, client, config, p, None).await.unwrap());
    }
    (runtime, workers)
}
