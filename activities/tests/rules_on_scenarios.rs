//! The reasoning and execution activities, run directly (no Temporal) against fixture
//! clusters: the same analyze → strategize → execute/decide loop the workflow drives, on
//! the scenarios the foundation ships. The full eval over every scenario, through the real
//! stack, is `cargo xtask eval`'s job.

use aetherius_activities::{
    execution::{ClusterOptions, ExecutionActivities, ExecutionOptions},
    reasoning::{analyze_alert, decide, strategize_plan},
};
use aetherius_core::{DecideInput, Decision, Diagnosis, StandardEvent, StrategizeInput};
use aetherius_scenario::{Scenario, server};
use std::{collections::VecDeque, net::SocketAddr, path::PathBuf};

async fn diagnose(id: &str) -> (Diagnosis, Scenario, usize) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(id);
    let scenario = Scenario::load(&dir).unwrap();
    let cluster_id = scenario.cluster_id();
    let (addr, _server) = server::serve(scenario.cluster.clone(), SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = tmp.path().join("kubeconfig");
    std::fs::write(&kubeconfig, server::kubeconfig(&cluster_id, addr)).unwrap();
    let mut options = ExecutionOptions::default();
    options.clusters.insert(cluster_id.clone(), ClusterOptions { kubeconfig: Some(kubeconfig), ..Default::default() });
    let execution = ExecutionActivities::new(options);

    let event = StandardEvent::from_alertmanager(&scenario.alert, "default");
    let analysis = analyze_alert(&event);
    let strategy = strategize_plan(&StrategizeInput { event: event.clone(), analysis: analysis.clone() });
    let mut pending: VecDeque<_> = strategy.steps.into();
    let mut results = vec![];
    let max_steps = aetherius_core::DEFAULT_MAX_STEPS;
    loop {
        if let Some(step) = pending.pop_front().filter(|_| results.len() < max_steps as usize) {
            results.push(execution.run(step.command).await.unwrap());
        }
        let input = DecideInput {
            event: event.clone(),
            analysis: analysis.clone(),
            results: results.clone(),
            pending: pending.iter().cloned().collect(),
            steps_left: max_steps - results.len() as u32,
        };
        match decide(&input) {
            Decision::Conclude { diagnosis } => return (diagnosis, scenario, results.len()),
            Decision::Continue { add_steps, .. } => add_steps.into_iter().rev().for_each(|s| pending.push_front(s)),
        }
    }
}

async fn assert_expected(id: &str) {
    let (d, scenario, steps) = diagnose(id).await;
    let expect = scenario.expect.expect("scenario has expect");
    assert_eq!(d.root_cause.as_str(), expect.root_cause, "{id}: {d:#?}");
    if !expect.resource.is_empty() {
        let got = d.resource.clone().unwrap_or_default();
        assert!(expect.resource.contains(&got), "{id}: resource {got:?}, expected one of {:?}", expect.resource);
    }
    let text = format!("{} {}", d.summary, serde_json::to_string(&d.evidence).unwrap()).to_lowercase();
    for e in &expect.evidence {
        assert!(text.contains(&e.to_lowercase()), "{id}: evidence lacks {e:?}: {text}");
    }
    assert!(steps <= aetherius_core::DEFAULT_MAX_STEPS as usize);
}

#[tokio::test]
async fn crash_loop_on_a_missing_env_var_is_traced_to_the_deployment() {
    assert_expected("crashloop-missing-env").await;
}

#[tokio::test]
async fn oom_kill_is_recognised_from_the_last_state() {
    assert_expected("oom-killed-worker").await;
}

#[tokio::test]
async fn a_nonexistent_image_tag_is_named() {
    assert_expected("image-tag-typo").await;
}

#[tokio::test]
async fn a_missing_configmap_reference_is_named() {
    assert_expected("missing-configmap-ref").await;
}

#[tokio::test]
async fn an_unschedulable_pod_for_lack_of_cpu_is_named() {
    assert_expected("pending-insufficient-cpu").await;
}

#[tokio::test]
async fn the_watchdog_is_not_an_issue() {
    assert_expected("watchdog-healthy").await;
}
