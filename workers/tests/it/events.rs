//! Kubernetes Warning events as a source: kube-rs' watcher against the fixture cluster of a
//! crash loop (two pods, each with a BackOff event repeated 100+ times), then the diagnoses
//! those events start, through the API's ingest path, Temporal and PostgreSQL.

use crate::support::{all_pools, api, call, config, scenario_dir};
use aetherius_workers::{
    events::{self, Clock, EventsOptions, Seen},
    pools,
};
use std::{
    collections::BTreeSet,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

/// Serves crashloop-missing-env under a cluster id of its own (so this run's workflow ids
/// are new); returns the id, the kubeconfig, the request log and the scenario's `now`.
async fn crash_loop_cluster(dir: &std::path::Path) -> (String, std::path::PathBuf, aetherius_scenario::server::RequestLog, Clock) {
    let scenario = aetherius_scenario::Scenario::load(&scenario_dir("crashloop-missing-env")).unwrap();
    let now = scenario.cluster.now;
    let (addr, _task, log) = aetherius_scenario::server::serve_recorded(scenario.cluster, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let id = format!("events-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let path = dir.join(format!("{id}.kubeconfig"));
    std::fs::write(&path, aetherius_scenario::server::kubeconfig(&id, addr)).unwrap();
    (id, path, log, Arc::new(move || now))
}

/// What one watch run sends within `for_`.
async fn watch_for(cluster: &str, client: kube::Client, clock: &Clock, seen: &mut Seen, for_: Duration) -> Vec<aetherius_core::StandardEvent> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let options = EventsOptions { enabled: true, ..Default::default() };
    let run = events::watch(cluster, client, &options, &[], clock, seen, &tx);
    assert!(tokio::time::timeout(for_, run).await.is_err(), "the watch keeps running");
    let mut out = vec![];
    while let Ok(e) = rx.try_recv() {
        out.push(e);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loop_s_backoff_events_become_one_event_per_pod_and_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let (cluster, kubeconfig, log, clock) = crash_loop_cluster(tmp.path()).await;
    let clusters = aetherius_activities::execution::Clusters::new(config(&[(cluster.as_str(), kubeconfig)]).execution);
    let client = clusters.client(&cluster).await.unwrap();

    let mut seen = Seen::default();
    let first = watch_for(&cluster, client.clone(), &clock, &mut seen, Duration::from_secs(3)).await;
    let pods: BTreeSet<&str> = first.iter().map(|e| e.labels["pod"].as_str()).collect();
    assert_eq!(first.len(), 2, "{first:#?}");
    assert_eq!(pods, BTreeSet::from(["checkout-gfnqwqmwzm-gkltk", "checkout-gfnqwqmwzm-nvr7f"]));
    assert!(first.iter().all(|e| e.labels["reason"] == "BackOff" && e.labels["container"] == "checkout" && e.namespace.as_deref() == Some("shop")));
    assert!(first.iter().all(|e| e.annotations["description"].starts_with("Back-off restarting failed container checkout in pod")));

    // kube-rs listed Warning events, then watched from the list's version, as against a real server.
    let requests = log.requests();
    let events: Vec<_> = requests.iter().filter(|r| r.path == "/api/v1/events").collect();
    assert!(events.iter().any(|r| !r.query.contains("watch=") && r.query.contains("fieldSelector=type%3DWarning")), "{events:?}");
    assert!(events.iter().any(|r| r.query.contains("watch=true") && r.query.contains("resourceVersion=74034133")), "{events:?}");

    // The watch restarts (credentials renewed, process restarted with the same memory): the
    // same events inside the window start nothing new.
    let again = watch_for(&cluster, client.clone(), &clock, &mut seen, Duration::from_secs(2)).await;
    assert!(again.is_empty(), "{again:#?}");
    // A process that forgot them sends them again, under the same workflow ids (Temporal
    // answers duplicate).
    let fresh = watch_for(&cluster, client, &clock, &mut Seen::default(), Duration::from_secs(2)).await;
    let ids = |v: &[aetherius_core::StandardEvent]| v.iter().map(|e| e.id.clone()).collect::<BTreeSet<_>>();
    assert_eq!(ids(&fresh), ids(&first));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn warning_events_start_diagnoses_that_find_the_crash_loop_s_cause() {
    let tmp = tempfile::tempdir().unwrap();
    let (cluster, kubeconfig, _log, clock) = crash_loop_cluster(tmp.path()).await;
    let config = config(&[(cluster.as_str(), kubeconfig)]);
    let (app, state) = api(&config).await;
    let (_runtime, workers) = all_pools(&config).await;
    // The ids the watcher will start, computed from the same events.
    let clusters = aetherius_activities::execution::Clusters::new(config.execution.clone());
    let expected = watch_for(&cluster, clusters.client(&cluster).await.unwrap(), &clock, &mut Seen::default(), Duration::from_secs(2)).await;
    assert_eq!(expected.len(), 2);

    let body = async {
        let options = EventsOptions { enabled: true, ..Default::default() };
        let watchers = events::spawn_with_clock(options, clusters, state.clone(), clock.clone());
        assert_eq!(watchers.len(), 1, "one watcher per configured cluster");
        for e in &expected {
            let deadline = Instant::now() + Duration::from_secs(90);
            let task = loop {
                let (status, body) = call(&app, "GET", &format!("/tasks/{}", e.id), vec![]).await;
                if status == 200 && body["status"] == "completed" && body.get("report").is_some() {
                    break body;
                }
                assert!(Instant::now() < deadline, "no report for {} after 90 s: {status} {body}", e.id);
                tokio::time::sleep(Duration::from_millis(200)).await;
            };
            let d = &task["report"]["diagnosis"];
            assert_eq!(d["root_cause"], "crashloop-missing-config", "{d}");
            assert_eq!(d["resource"], "shop/Deployment/checkout", "{d}");
            assert!(d["evidence"].to_string().contains("DATABASE_URL"), "{d}");
        }
        // Stored with the event's alert name, searchable like any alert's.
        let (alertname, n): (String, i64) = sqlx::query_as(
            "SELECT min(alert_name), count(*) FROM reports WHERE workflow_id = ANY($1)",
        )
        .bind(expected.iter().map(|e| e.id.clone()).collect::<Vec<_>>())
        .fetch_one(&state.pool)
        .await
        .unwrap();
        assert_eq!((alertname.as_str(), n), (events::ALERT_NAME, 2));
        watchers.iter().for_each(tokio::task::JoinHandle::abort);
    };
    tokio::select! {
        r = pools::run_workers(workers) => panic!("workers stopped: {r:?}"),
        () = body => {}
    }
}
