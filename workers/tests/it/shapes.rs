//! Diagnoses of the shapes `tests/replay/histories` keeps, through the real pools: the step
//! budget spent, and steps an LLM proposed (the local OpenAI-compatible test server). Each
//! prints its workflow id; `temporal workflow show --output json` records its history.

use crate::support::{all_pools, api, call, config, fixture_cluster, payload, unique_alert};
use crate::webhook::wait_for_report;
use aetherius_core::{Command, Decision, DiagnosticStep, DiagnosticStrategy, StepOrigin, queues::activity};
use aetherius_workers::pools;
use serde::de::DeserializeOwned;
use serde_json::Value;
use temporalio_client::WorkflowFetchHistoryOptions;
use temporalio_common::protos::temporal::api::{common::v1::Payloads, history::v1::history_event::Attributes};

/// Fires `scenario`'s alert through the webhook; returns the workflow id.
async fn fire(app: &axum::Router, scenario: &str) -> String {
    let (status, answer) = call(app, "POST", "/webhook/alertmanager", serde_json::to_vec(&payload(vec![unique_alert(scenario)])).unwrap()).await;
    assert_eq!(status, 202, "{answer}");
    answer["workflows"][0]["workflow_id"].as_str().expect("a workflow started").to_owned()
}

fn first<T: DeserializeOwned>(payloads: &Option<Payloads>) -> T {
    let data = &payloads.as_ref().expect("payloads").payloads[0].data;
    serde_json::from_slice(data).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(data)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_step_budget_ends_a_diagnosis_with_what_it_read() {
    let tmp = tempfile::tempdir().unwrap();
    let (cluster, kubeconfig) = fixture_cluster("crashloop-missing-env", tmp.path()).await;
    let mut config = config(&[(cluster.as_str(), kubeconfig)]);
    config.api.max_steps = 1;
    let (app, _state) = api(&config).await;
    let (_runtime, workers) = all_pools(&config).await;
    let body = async {
        let id = fire(&app, "crashloop-missing-env").await;
        let task = wait_for_report(&app, &id).await;
        println!("budget-exhausted diagnosis: {id}");
        let steps = task["report"]["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 1, "one step, the budget: {steps:?}");
        assert!(task["report"]["diagnosis"]["summary"].as_str().is_some_and(|s| !s.is_empty()), "{task}");
    };
    tokio::select! {
        r = pools::run_workers(workers) => panic!("workers stopped: {r:?}"),
        () = body => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn steps_an_llm_proposes_run_and_reach_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = "payment-gateway-timeouts-to-fraud-scorer";
    let (cluster, kubeconfig) = fixture_cluster(scenario, tmp.path()).await;
    let server = aetherius_activities::llm::test_server::TestServer::local(aetherius_activities::llm::test_server::Behaviour::Good)
        .await
        .unwrap();
    let mut config = config(&[(cluster.as_str(), kubeconfig)]);
    config.llm = Some(aetherius_activities::llm::LlmOptions {
        base_url: server.base_url(),
        model: "test-small".into(),
        timeout_secs: 5.0,
        deadline_secs: 20.0,
        retries: 0,
        requests_per_minute: 6000,
        burst: 100,
        prices: aetherius_activities::llm::Prices(
            [("test-small".to_owned(), aetherius_activities::llm::ModelPrice { input_per_million: 0.15, output_per_million: 0.6 })].into(),
        ),
        ..Default::default()
    });
    let (app, state) = api(&config).await;
    let (_runtime, workers) = all_pools(&config).await;
    let body = async {
        // About a Service the fixture does not have: the rules find nothing sure, so the
        // LLM is consulted after each step and its reads run.
        let mut alert = unique_alert(scenario);
        alert["labels"]["service"] = Value::from("ledger-reconciler");
        let (status, answer) = call(&app, "POST", "/webhook/alertmanager", serde_json::to_vec(&payload(vec![alert])).unwrap()).await;
        assert_eq!(status, 202, "{answer}");
        let id = answer["workflows"][0]["workflow_id"].as_str().expect("a workflow started").to_owned();
        let task = wait_for_report(&app, &id).await;
        println!("LLM-proposed-steps diagnosis: {id}");
        let handle = state.temporal.get_workflow_handle::<aetherius_workflows::DiagnosisWorkflow>(id.clone());
        let events = handle.fetch_history(WorkflowFetchHistoryOptions::default()).into_events().await.unwrap();
        // What each scheduled activity was, by its scheduled event id.
        let mut kinds = std::collections::HashMap::new();
        let (mut proposed, mut ran): (Vec<DiagnosticStep>, Vec<Command>) = (vec![], vec![]);
        for e in &events {
            match &e.attributes {
                Some(Attributes::ActivityTaskScheduledEventAttributes(a)) => {
                    let kind = a.activity_type.as_ref().map(|t| t.name.clone()).unwrap_or_default();
                    if kind == activity::EXECUTE_STEP {
                        ran.push(first(&a.input));
                    }
                    kinds.insert(e.event_id, kind);
                }
                Some(Attributes::ActivityTaskCompletedEventAttributes(a)) => match kinds.get(&a.scheduled_event_id).map(String::as_str) {
                    Some(activity::STRATEGIZE) => proposed.extend(first::<DiagnosticStrategy>(&a.result).steps),
                    Some(activity::DECIDE_NEXT) => {
                        if let Decision::Continue { add_steps, .. } = first::<Decision>(&a.result) {
                            proposed.extend(add_steps);
                        }
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        let by_llm: Vec<&DiagnosticStep> = proposed.iter().filter(|s| s.origin == StepOrigin::Llm).collect();
        assert!(!by_llm.is_empty(), "the LLM proposed no step: {proposed:?}");
        let ran_by_llm: Vec<String> = by_llm.iter().filter(|s| ran.contains(&s.command)).map(|s| s.command.to_string()).collect();
        assert!(!ran_by_llm.is_empty(), "no step the LLM proposed ran; ran: {ran:?}");
        let report_steps: Vec<&str> = task["report"]["steps"].as_array().unwrap().iter().filter_map(|s| s["command"].as_str()).collect();
        for line in &ran_by_llm {
            assert!(report_steps.contains(&line.as_str()), "{line} ran but is not in the report: {report_steps:?}");
        }
        let first_analysis = task["report"]["analysis"]["tokens_used"].as_u64().unwrap_or(0);
        assert!(first_analysis > 0, "the LLM was asked: {}", task["report"]["analysis"]);
        // The report counts every call, the decide_next consultations too, and prices them.
        let usage = &task["report"]["llm_usage"][0];
        assert_eq!(usage["model"], "test-small", "{}", task["report"]["llm_usage"]);
        assert!(usage["requests"].as_u64().is_some_and(|n| n >= 2), "analyze and decide_next were asked: {usage}");
        assert!(usage["total_tokens"].as_u64().is_some_and(|t| t > first_analysis), "{usage} against {first_analysis}");
        assert!(usage["cost_usd"].as_f64().is_some_and(|c| c > 0.0), "{usage}");
    };
    tokio::select! {
        r = pools::run_workers(workers) => panic!("workers stopped: {r:?}"),
        () = body => {}
    }
}
