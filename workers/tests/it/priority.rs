//! Priority under a backlog: 20 low-severity diagnoses wait on the reasoning queue with no
//! worker polling, then a critical one is started; a reasoning worker with a single workflow
//! task slot must run the critical diagnosis' first workflow task before any of the
//! backlog's. Runs in its own Temporal namespace (`AETHERIUS_TEST_PRIORITY_NAMESPACE`,
//! default `aetherius-priority`) so no other test's worker drains the backlog.

use crate::support::{api, config};
use aetherius_core::{AlertmanagerAlert, StandardEvent};
use aetherius_workers::pools;
use aetherius_workflows::DiagnosisWorkflow;
use std::time::{Duration, Instant};
use temporalio_client::{WorkflowFetchHistoryOptions, WorkflowTerminateOptions};
use temporalio_common::protos::temporal::api::{enums::v1::EventType, history::v1::HistoryEvent};
use temporalio_sdk::{
    Runtime, Worker, WorkerOptions,
    runtime::worker_tuner::{FixedSizeSlotSupplier, TunerHolder},
};

fn event(run: &str, i: usize, severity: &str) -> StandardEvent {
    let alert: AlertmanagerAlert = serde_json::from_value(serde_json::json!({
        "status": "firing", "startsAt": chrono::Utc::now(),
        "labels": {"alertname": "PriorityBacklog", "severity": severity, "cluster": format!("prio-{run}"),
                   "namespace": "shop", "pod": format!("checkout-{i}"), "test_run": run},
    }))
    .unwrap();
    StandardEvent::from_alertmanager(&alert, "default")
}

/// When the workflow's first workflow task started (seconds, nanos), once it has.
fn first_task_started(events: &[HistoryEvent]) -> Option<(i64, i32)> {
    events.iter().find(|e| e.event_type == EventType::WorkflowTaskStarted as i32).and_then(|e| e.event_time.map(|t| (t.seconds, t.nanos)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_critical_diagnosis_runs_before_a_backlog_of_low_severity_ones() {
    let mut config = config(&[]);
    let namespace = std::env::var("AETHERIUS_TEST_PRIORITY_NAMESPACE").unwrap_or_else(|_| "aetherius-priority".into());
    config.temporal.namespace = namespace.clone();
    config.api.temporal_namespace = namespace;
    // Its own namespace, and one stable queue in it. With a new queue per run the critical
    // diagnosis ran second once in two full runs (2026-12-07); on the stable queue it ran
    // first in every run so far.
    config.temporal.task_queue_suffix = "priority".into();
    let (_app, state) = api(&config).await;
    let run = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();

    // The backlog, then the critical one, while nothing polls the reasoning queue.
    let mut ids = vec![];
    for i in 0..20 {
        let ingested = aetherius_api::ingest_event(&state, event(&run, i, "info")).await.unwrap();
        assert_eq!(ingested.status, "started");
        ids.push(ingested.workflow_id);
    }
    let critical = aetherius_api::ingest_event(&state, event(&run, 99, "critical")).await.unwrap().workflow_id;

    // A reasoning worker (workflows only) that holds one workflow task at a time.
    let tuner = TunerHolder::builder()
        .workflow_task_slot_supplier(FixedSizeSlotSupplier::new(1))
        .activity_task_slot_supplier(FixedSizeSlotSupplier::new(1))
        .local_activity_task_slot_supplier(FixedSizeSlotSupplier::new(1))
        .nexus_task_slot_supplier(FixedSizeSlotSupplier::new(1))
        .build();
    let options = WorkerOptions::new(config.temporal.queues().reasoning).register_workflow::<DiagnosisWorkflow>().unwrap().tuner(tuner).build();
    let runtime = Runtime::from_current_tokio(Default::default()).unwrap();
    let mut worker = Worker::new(&runtime, pools::temporal_client(&config).await.unwrap(), options).unwrap();
    let stop = worker.shutdown_handle();

    let body = async {
        let all: Vec<String> = ids.iter().chain([&critical]).cloned().collect();
        let deadline = Instant::now() + Duration::from_secs(120);
        let started = loop {
            let mut started = vec![];
            for id in &all {
                let handle = state.temporal.get_workflow_handle::<DiagnosisWorkflow>(id.clone());
                let events = handle.fetch_history(WorkflowFetchHistoryOptions::default()).into_events().await.unwrap();
                started.push(first_task_started(&events));
            }
            if started.iter().all(Option::is_some) {
                break started.into_iter().map(Option::unwrap).collect::<Vec<_>>();
            }
            assert!(Instant::now() < deadline, "not every first workflow task ran within 120 s: {started:?}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let (backlog, critical_at) = (&started[..20], started[20]);
        let earliest_backlog = backlog.iter().min().unwrap();
        let rank = started.iter().filter(|t| **t < critical_at).count();
        println!("critical diagnosis' first workflow task: {critical_at:?}, earliest of the backlog: {earliest_backlog:?}, rank {rank} of 21");
        assert!(critical_at < *earliest_backlog, "the critical diagnosis ran after {rank} of the backlog's first workflow tasks");
        for id in &all {
            let handle = state.temporal.get_workflow_handle::<DiagnosisWorkflow>(id.clone());
            handle.terminate(WorkflowTerminateOptions::builder().reason("priority test done".to_owned()).build()).await.unwrap();
        }
        stop();
    };
    let (ran, ()) = tokio::join!(worker.run(), body);
    ran.unwrap();
}
