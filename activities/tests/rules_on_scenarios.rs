//! The reasoning and execution activities, run directly (no Temporal) against fixture
//! clusters: the same analyze → strategize → execute/decide loop the workflow drives, over
//! EVERY scenario folder in `scenarios/`. One line per scenario (id, expected, got,
//! pass/fail, steps); the test fails when fewer than 95% pass. The full eval through the
//! real stack is `cargo xtask eval`'s job.
//!
//! Only the scorer below reads a scenario's `expect`; the diagnosing code gets the alert
//! and the fixture cluster, nothing else.
//!
//! The fixture answers lists as a real API server does (items without `kind`/`apiVersion`);
//! `diagnoses_do_not_depend_on_list_item_types` runs every scenario again with the type
//! fields added back and fails on any difference, so no analyzer can lean on a field a
//! real server does not send.
//!
//! `RULES_TRACE=<scenario id>|all` prints steps and decisions; `RULES_ONLY=<part of an id>`
//! runs the matching scenarios; `RULES_SCENARIOS=<folder>` reads scenarios from elsewhere.

use aetherius_activities::{
    execution::{ClusterOptions, ExecutionActivities, ExecutionOptions},
    reasoning::{analyze_alert, decide, strategize_plan},
};
use aetherius_core::{DecideInput, Decision, Diagnosis, StandardEvent, StepStatus, StrategizeInput};
use aetherius_scenario::{Expect, Scenario, server};
use std::{collections::VecDeque, net::SocketAddr, path::PathBuf, time::Instant};

/// Share of scenarios that must pass.
const MIN_ACCURACY: f64 = 0.95;

/// `scenarios/`, or the folder `RULES_SCENARIOS` names (to try rules on scenarios in the making).
fn scenarios_root() -> PathBuf {
    std::env::var_os("RULES_SCENARIOS").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios"))
}

async fn diagnose(scenario: &Scenario, trace: bool, typed_list_items: bool) -> (Diagnosis, usize) {
    let cluster_id = scenario.cluster_id();
    let mut cluster = scenario.cluster.clone();
    cluster.typed_list_items = typed_list_items;
    let (addr, _server) = server::serve(cluster, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
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
            let r = execution.run(step.command).await.unwrap();
            if trace {
                let n = if r.status == StepStatus::Success { format!("{} objects", r.objects.len()) } else { r.error.clone().unwrap_or_default() };
                eprintln!("  [{}] {} -> {:?} {n}", scenario.id, r.command, r.status);
            }
            results.push(r);
        }
        let input = DecideInput {
            event: event.clone(),
            analysis: analysis.clone(),
            // The shape the workflow sends (patch `compact-decide`): compact observations.
            results: vec![],
            observations: results.iter().map(aetherius_core::Observed::from).collect(),
            pending: pending.iter().cloned().collect(),
            steps_left: max_steps - results.len() as u32,
        };
        match decide(&input) {
            Decision::Conclude { diagnosis } => return (diagnosis, results.len()),
            Decision::Continue { add_steps, reason } => {
                if trace {
                    eprintln!("  [{}] continue: {reason}", scenario.id);
                }
                add_steps.into_iter().rev().for_each(|s| pending.push_front(s))
            }
        }
    }
}

/// Why a diagnosis does not meet the expectation, if it does not.
fn score(d: &Diagnosis, expect: &Expect) -> Option<String> {
    let mut why = vec![];
    if d.root_cause.as_str() != expect.root_cause {
        why.push(format!("root cause {}", d.root_cause));
    }
    let got = d.resource.clone().unwrap_or_default();
    if !expect.resource.is_empty() && !expect.resource.contains(&got) {
        why.push(format!("resource {got:?} not in {:?}", expect.resource));
    }
    // The report's root-cause and evidence text as a person reads it (the same text `eval`
    // scores): JSON would escape the quotes an expected string may carry.
    let evidence: Vec<String> = d.evidence.iter().map(|e| format!("{}: {}", e.source, e.detail)).collect();
    let text = format!("{} {}", d.summary, evidence.join(" | ")).to_lowercase();
    let lacking: Vec<&String> = expect.evidence.iter().filter(|e| !text.contains(&e.to_lowercase())).collect();
    if !lacking.is_empty() {
        why.push(format!("evidence lacks {lacking:?}"));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

struct Row {
    id: String,
    expected: String,
    got: String,
    steps: usize,
    failure: Option<String>,
    millis: u128,
}

async fn run_one(dir: PathBuf) -> Row {
    let id = dir.file_name().unwrap().to_string_lossy().into_owned();
    let started = Instant::now();
    let scenario = match Scenario::load(&dir) {
        Ok(s) => s,
        Err(e) => {
            return Row { id, expected: "?".into(), got: "-".into(), steps: 0, failure: Some(format!("cannot load: {e}")), millis: 0 };
        }
    };
    let trace = std::env::var("RULES_TRACE").is_ok_and(|t| t == id || t == "all");
    let (d, steps) = diagnose(&scenario, trace, false).await;
    if trace {
        eprintln!("  [{id}] diagnosis: {d:#?}");
    }
    let Some(expect) = scenario.expect.as_ref() else {
        return Row { id, expected: "(none)".into(), got: d.root_cause.to_string(), steps, failure: Some("scenario has no expect".into()), millis: 0 };
    };
    let mut failure = score(&d, expect);
    if steps > aetherius_core::DEFAULT_MAX_STEPS as usize {
        failure = Some(format!("{steps} steps exceed the budget"));
    }
    let expected = format!("{} @ {}", expect.root_cause, if expect.resource.is_empty() { "*".into() } else { expect.resource.join("|") });
    let got = format!("{} @ {}", d.root_cause, d.resource.as_deref().unwrap_or("-"));
    Row { id, expected, got, steps, failure, millis: started.elapsed().as_millis() }
}

/// Scenario folders, narrowed by `RULES_ONLY`.
fn scenario_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(scenarios_root())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("scenario.yaml").is_file())
        .collect();
    dirs.sort();
    if let Ok(only) = std::env::var("RULES_ONLY") {
        dirs.retain(|d| d.file_name().is_some_and(|n| n.to_string_lossy().contains(&only)));
    }
    dirs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_scenario_is_diagnosed() {
    let dirs = scenario_dirs();
    let handles: Vec<_> = dirs.into_iter().map(|d| tokio::spawn(run_one(d))).collect();
    let mut rows = vec![];
    for h in handles {
        rows.push(h.await.unwrap());
    }
    for r in &rows {
        println!(
            "{:<52} {:<4} steps={:<2} {:>5}ms  expected {:<60} got {}{}",
            r.id,
            if r.failure.is_none() { "PASS" } else { "FAIL" },
            r.steps,
            r.millis,
            r.expected,
            r.got,
            r.failure.as_deref().map(|f| format!("  ({f})")).unwrap_or_default()
        );
    }
    let passed = rows.iter().filter(|r| r.failure.is_none()).count();
    let accuracy = passed as f64 / rows.len().max(1) as f64;
    println!("accuracy: {passed}/{} = {:.1}%", rows.len(), accuracy * 100.0);
    let failures: Vec<String> = rows.iter().filter_map(|r| r.failure.as_ref().map(|f| format!("{}: {f}", r.id))).collect();
    assert!(accuracy >= MIN_ACCURACY, "accuracy {:.1}% below {:.0}%; failures:\n{}", accuracy * 100.0, MIN_ACCURACY * 100.0, failures.join("\n"));
}

/// The same diagnosis, step count and evidence whether or not list items carry
/// `kind`/`apiVersion`: what a real server leaves out must not matter.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn diagnoses_do_not_depend_on_list_item_types() {
    let handles: Vec<_> = scenario_dirs()
        .into_iter()
        .map(|dir| {
            tokio::spawn(async move {
                let scenario = Scenario::load(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
                let real = diagnose(&scenario, false, false).await;
                let typed = diagnose(&scenario, false, true).await;
                let as_json = |(d, steps): &(Diagnosis, usize)| serde_json::json!({"diagnosis": d, "steps": steps});
                (scenario.id, as_json(&real), as_json(&typed))
            })
        })
        .collect();
    let mut drifts = vec![];
    let mut count = 0;
    for h in handles {
        let (id, real, typed) = h.await.unwrap();
        count += 1;
        if real != typed {
            drifts.push(format!("{id}:\n  real server: {real}\n  typed items: {typed}"));
        }
    }
    assert!(count > 0, "no scenarios found under {}", scenarios_root().display());
    println!("{count} scenarios, {} differ when list items carry their type", drifts.len());
    assert!(drifts.is_empty(), "diagnoses depend on list items' kind/apiVersion:\n{}", drifts.join("\n"));
}
