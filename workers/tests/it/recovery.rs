//! Recovery in seconds: the worker process running a step is killed (`kill -9`); the step
//! is retried on a second worker as soon as its heartbeat timeout passes, not after its
//! start-to-close timeout.

use crate::support::{api, call, config, scenario_dir};
use aetherius_core::budget;
use aetherius_workers::{
    pools::{self, Pool},
    routing::RoutingActivities,
};
use serde_json::json;
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};
use temporalio_client::WorkflowFetchHistoryOptions;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_sdk::Runtime;

/// Kills the child on drop, so a failing test leaves no worker behind.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_step_lost_with_its_worker_process_is_retried_on_another_within_fifteen_seconds() {
    // A cluster id of its own: its agent queue has no other poller, so the step goes to the
    // process this test starts, then to the worker that replaces it.
    let cluster = format!("crash-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let tmp = tempfile::tempdir().unwrap();

    // What the first worker sees: a cluster that accepts the connection and never answers,
    // so its step is running (and heartbeating) when the process dies.
    let (connected_tx, mut connected) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut open = vec![];
        while let Ok((conn, _)) = silent.accept().await {
            let _ = connected_tx.send(Instant::now());
            open.push(conn);
        }
    });
    let silent_kubeconfig = tmp.path().join("silent.kubeconfig");
    std::fs::write(&silent_kubeconfig, aetherius_scenario::server::kubeconfig(&cluster, silent_addr)).unwrap();
    // What the second worker sees: the scenario's cluster, answering.
    let scenario = aetherius_scenario::Scenario::load(&scenario_dir("crashloop-missing-env")).unwrap();
    let (addr, _server) = aetherius_scenario::server::serve(scenario.cluster, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let kubeconfig = tmp.path().join("fixture.kubeconfig");
    std::fs::write(&kubeconfig, aetherius_scenario::server::kubeconfig(&cluster, addr)).unwrap();

    let central = config(&[]);
    let (app, state) = api(&central).await;
    let file = tmp.path().join("agent.toml");
    std::fs::write(
        &file,
        format!(
            "[temporal]\naddress = {:?}\nnamespace = {:?}\ntask_queue_suffix = {:?}\n[execution.clusters.{cluster}]\nkubeconfig = {:?}\n",
            central.temporal.address, central.temporal.namespace, central.temporal.task_queue_suffix, silent_kubeconfig
        ),
    )
    .unwrap();
    let first = std::process::Command::new(env!("CARGO_BIN_EXE_aetherius"))
        .args(["worker", "--pool", "execution", "--cluster", &cluster, "--config"])
        .arg(&file)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("aetherius worker starts");
    let first_identity = format!("aetherius-{}@", first.id());
    let mut first = Child(first);

    let runtime = Runtime::from_current_tokio(Default::default()).unwrap();
    let client = pools::temporal_client(&central).await.unwrap();
    let routing = RoutingActivities::new(client.clone(), central.temporal.queues());
    let workers = vec![
        pools::worker(&runtime, client.clone(), &central, Pool::Reasoning, None).await.unwrap(),
        pools::worker(&runtime, client.clone(), &central, Pool::Report, None).await.unwrap(),
    ];
    let agent_queue = central.temporal.queues().execution_for_cluster(&cluster);

    let body = async {
        let deadline = Instant::now() + Duration::from_secs(60);
        while routing.queue_for(&cluster).await.unwrap() != agent_queue {
            assert!(Instant::now() < deadline, "the first worker never polled {agent_queue}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let request = json!({"cluster": cluster, "namespace": "shop", "kind": "deployment", "name": "checkout"});
        let (status, started) = call(&app, "POST", "/tasks", serde_json::to_vec(&request).unwrap()).await;
        assert_eq!(status, 202, "{started}");
        let id = started["workflow_id"].as_str().unwrap().to_owned();

        // The first step reached the silent cluster: it is running on the first worker.
        tokio::time::timeout(Duration::from_secs(60), connected.recv()).await.expect("no step reached the cluster").unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        first.0.kill().expect("kill -9 the first worker");
        first.0.wait().unwrap();
        let killed_at = Instant::now();

        // A second worker for the same cluster, which answers.
        let second_config = config(&[(cluster.as_str(), kubeconfig.clone())]);
        let second = pools::worker(&runtime, client.clone(), &second_config, Pool::Execution, Some(&cluster)).await.unwrap();
        let second_runs = pools::run_workers(vec![second]);
        let watch = async {
            let handle = state.temporal.get_workflow_handle::<aetherius_workflows::DiagnosisWorkflow>(id.clone());
            let deadline = killed_at + Duration::from_secs(60);
            loop {
                let events = handle.fetch_history(WorkflowFetchHistoryOptions::default()).into_events().await.unwrap();
                // A retried activity's started event is written when it closes, with its attempt.
                let retried = events.iter().find_map(|e| match &e.attributes {
                    Some(Attributes::ActivityTaskStartedEventAttributes(a)) if a.attempt > 1 => Some(a.identity.clone()),
                    _ => None,
                });
                if let Some(identity) = retried {
                    break (killed_at.elapsed(), identity);
                }
                assert!(Instant::now() < deadline, "the lost step was not retried within 60 s of the kill");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        let recovered = async {
            let (recovered_in, identity) = watch.await;
            eprintln!("step retried on {identity} {:.1} s after the kill", recovered_in.as_secs_f64());
            assert!(!identity.starts_with(&first_identity), "the retry ran on the killed worker? {identity}");
            assert!(
                recovered_in < Duration::from_secs(15),
                "the lost step was retried {recovered_in:?} after the kill (heartbeat timeout {} s)",
                budget::HEARTBEAT_TIMEOUT_SECS
            );
            // The diagnosis then finishes on the second worker, with its report.
            loop {
                let (_, task) = call(&app, "GET", &format!("/tasks/{id}"), vec![]).await;
                // The report is stored before the notifications: wait for the run's end too.
                if task.get("report").is_some() && task["status"] != "running" {
                    eprintln!("report stored {:.1} s after the kill", killed_at.elapsed().as_secs_f64());
                    break task;
                }
                assert!(killed_at.elapsed() < Duration::from_secs(90), "no report 90 s after the kill: {task}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        tokio::select! {
            r = second_runs => panic!("the second worker stopped: {r:?}"),
            t = recovered => t,
        }
    };
    let task = tokio::select! {
        r = pools::run_workers(workers) => panic!("workers stopped: {r:?}"),
        t = body => t,
    };
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(task["report"]["diagnosis"]["root_cause"], "crashloop-missing-config", "{task}");
}
