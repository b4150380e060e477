//! Agent mode: a cluster whose own execution worker polls `aetherius-execution-<id>` gets
//! every step of its diagnoses; a cluster without one uses the shared pool.

use crate::support::{api, call, config, scenario_dir};
use aetherius_core::queues;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn steps_run_on_the_clusters_own_agent_while_it_polls() {
    // A cluster id of its own, so no poller of an earlier run is still listed for it.
    let cluster = format!("agent-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let scenario = aetherius_scenario::Scenario::load(&scenario_dir("crashloop-missing-env")).unwrap();
    let (addr, _server) = aetherius_scenario::server::serve(scenario.cluster, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = tmp.path().join("agent.kubeconfig");
    std::fs::write(&kubeconfig, aetherius_scenario::server::kubeconfig(&cluster, addr)).unwrap();

    // The agent knows the cluster; the reasoning and report pools do not need to.
    let agent_config = config(&[(cluster.as_str(), kubeconfig)]);
    let central_config = config(&[]);
    let (app, state) = api(&central_config).await;
    let runtime = Runtime::from_current_tokio(Default::default()).unwrap();
    let client = pools::temporal_client(&central_config).await.unwrap();
    let q = central_config.temporal.queues();
    assert_eq!(q, agent_config.temporal.queues(), "one test, one set of queues");
    let routing = RoutingActivities::new(client.clone(), q.clone());
    assert_eq!(routing.queue_for(&cluster).await.unwrap(), q.execution, "no agent yet: shared pool");

    let workers = vec![
        pools::worker(&runtime, client.clone(), &central_config, Pool::Reasoning, None).await.unwrap(),
        pools::worker(&runtime, client.clone(), &central_config, Pool::Report, None).await.unwrap(),
        pools::worker(&runtime, client.clone(), &agent_config, Pool::Execution, Some(&cluster)).await.unwrap(),
    ];
    let agent_queue = q.execution_for_cluster(&cluster);

    let body = async {
        let deadline = Instant::now() + Duration::from_secs(30);
        while routing.queue_for(&cluster).await.unwrap() != agent_queue {
            assert!(Instant::now() < deadline, "the agent never showed up as a poller of {agent_queue}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        let request = json!({"cluster": cluster, "namespace": "shop", "kind": "deployment", "name": "checkout"});
        let (status, started) = call(&app, "POST", "/tasks", serde_json::to_vec(&request).unwrap()).await;
        assert_eq!(status, 202, "{started}");
        let id = started["workflow_id"].as_str().unwrap().to_owned();
        let deadline = Instant::now() + Duration::from_secs(90);
        let task = loop {
            let (_, task) = call(&app, "GET", &format!("/tasks/{id}"), vec![]).await;
            if task.get("report").is_some() {
                break task;
            }
            assert!(Instant::now() < deadline, "no report after 90 s: {task}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(task["report"]["diagnosis"]["root_cause"], "crashloop-missing-config", "{task}");

        let handle = state.temporal.get_workflow_handle::<aetherius_workflows::DiagnosisWorkflow>(id.clone());
        let events = handle.fetch_history(WorkflowFetchHistoryOptions::default()).into_events().await.unwrap();
        let step_queues: Vec<String> = events
            .iter()
            .filter_map(|e| match &e.attributes {
                Some(Attributes::ActivityTaskScheduledEventAttributes(a))
                    if a.activity_type.as_ref().is_some_and(|t| t.name == queues::activity::EXECUTE_STEP) =>
                {
                    a.task_queue.as_ref().map(|q| q.name.clone())
                }
                _ => None,
            })
            .collect();
        assert!(!step_queues.is_empty(), "no steps were scheduled");
        assert!(step_queues.iter().all(|q| *q == agent_queue), "every step must go to {agent_queue}: {step_queues:?}");
    };
    tokio::select! {
        r = pools::run_workers(workers) => panic!("workers stopped: {r:?}"),
        () = body => {}
    }
}
