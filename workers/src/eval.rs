//! `aetherius eval DIR`: every scenario of a folder through the real stack (Temporal,
//! the worker pools, a fixture cluster per scenario, PostgreSQL), scored as SCENARIOS.md
//! says. The diagnosing code sees only the alert and the fixture cluster, never `expect`.

use crate::{
    config::Config,
    pools::{self, Pool},
};
use aetherius_activities::execution::ClusterOptions;
use aetherius_core::{DiagnosisOutcome, DiagnosisRequest, StandardEvent};
use aetherius_scenario::{Scenario, server};
use aetherius_workflows::DiagnosisWorkflow;
use anyhow::Context;
use serde::Serialize;
use std::{
    net::SocketAddr,
    path::Path,
    time::{Duration, Instant},
};
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_sdk::Runtime;

/// One scored scenario (the `--json` row).
#[derive(Debug, Serialize)]
pub struct Row {
    /// Scenario id.
    pub id: String,
    /// Root-cause id the diagnosis chose.
    pub root_cause: String,
    /// Resource it named.
    pub resource: String,
    /// Evidence and root-cause text, as one string.
    pub evidence: String,
    /// Scored as SCENARIOS.md says.
    pub passed: bool,
    /// Steps executed.
    pub steps: u32,
    /// Wall time of the diagnosis.
    pub seconds: f64,
    /// Expected root cause (for the printed table).
    #[serde(skip)]
    expected: String,
}

fn score(scenario: &Scenario, outcome: &DiagnosisOutcome) -> (bool, String) {
    let d = &outcome.diagnosis;
    let evidence = format!(
        "{} {}",
        d.summary,
        d.evidence.iter().map(|e| format!("{}: {}", e.source, e.detail)).collect::<Vec<_>>().join(" | ")
    );
    let Some(expect) = &scenario.expect else { return (false, evidence) };
    let resource = d.resource.clone().unwrap_or_default();
    let lower = evidence.to_lowercase();
    let passed = d.root_cause.as_str() == expect.root_cause
        && (expect.resource.is_empty() || expect.resource.contains(&resource))
        && expect.evidence.iter().all(|e| lower.contains(&e.to_lowercase()));
    (passed, evidence)
}

/// Runs every scenario under `dir`; prints one row each and the accuracy line.
pub async fn run(mut config: Config, dir: &Path, json: Option<&Path>) -> anyhow::Result<Vec<Row>> {
    let scenarios = Scenario::load_all(dir).with_context(|| format!("loading scenarios from {}", dir.display()))?;
    anyhow::ensure!(!scenarios.is_empty(), "no scenario folders (with scenario.yaml) under {}", dir.display());
    let run_id = std::process::id();
    let tmp = std::env::temp_dir().join(format!("aetherius-eval-{run_id}"));
    std::fs::create_dir_all(&tmp)?;

    // One fixture cluster per scenario. Each gets its own cluster id so the execution pool
    // routes every step to the right one; the id is harness plumbing, not a hint.
    let mut servers = vec![];
    let mut events = vec![];
    for (i, s) in scenarios.iter().enumerate() {
        let cluster_id = format!("eval{i}-{}", s.cluster_id());
        let (addr, task) = server::serve(s.cluster.clone(), SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        servers.push(task);
        let kubeconfig = tmp.join(format!("{cluster_id}.kubeconfig"));
        std::fs::write(&kubeconfig, server::kubeconfig(&cluster_id, addr))?;
        config.execution.clusters.insert(cluster_id.clone(), ClusterOptions { kubeconfig: Some(kubeconfig), ..Default::default() });
        let mut alert = s.alert.clone();
        alert.labels.insert("cluster".into(), cluster_id.clone());
        let mut event = StandardEvent::from_alertmanager(&alert, &cluster_id);
        event.id = format!("eval-{run_id}-{i}-{}", s.id);
        events.push(event);
    }

    let runtime = Runtime::from_current_tokio(Default::default())?;
    let client = pools::temporal_client(&config).await?;
    let pool = pools::database(&config).await?;
    aetherius_activities::MIGRATOR.run(&pool).await?;
    let mut workers = vec![];
    for p in [Pool::Reasoning, Pool::Execution, Pool::Report] {
        workers.push(pools::worker(&runtime, client.clone(), &config, p, None).await?);
    }

    let diagnose_all = async {
        let runs = events.into_iter().map(|event| {
            let client = client.clone();
            let max_steps = config.api.max_steps;
            let queue = config.temporal.queues().reasoning;
            async move {
                let started = Instant::now();
                let opts = WorkflowStartOptions::new(queue, event.id.clone())
                    .execution_timeout(Duration::from_secs(300))
                    .build();
                let handle = client.start_workflow(DiagnosisWorkflow::run, DiagnosisRequest { event, max_steps, priority: 0, approval: Default::default(), retry_of: None }, opts).await?;
                let outcome = handle.get_result(WorkflowGetResultOptions::default()).await?;
                anyhow::Ok((outcome, started.elapsed()))
            }
        });
        futures::future::join_all(runs).await
    };
    let results = tokio::select! {
        r = pools::run_workers(workers) => anyhow::bail!("workers stopped during the eval: {r:?}"),
        results = diagnose_all => results,
    };

    let mut rows = vec![];
    println!("{:<40} {:<34} {:<34} {:<6} {:>5} {:>7}", "scenario", "expected", "got", "result", "steps", "seconds");
    for (scenario, result) in scenarios.iter().zip(results) {
        let expected = scenario.expect.as_ref().map(|e| e.root_cause.clone()).unwrap_or_else(|| "(no expect)".into());
        let row = match result {
            Ok((outcome, took)) => {
                let (passed, evidence) = score(scenario, &outcome);
                Row {
                    id: scenario.id.clone(),
                    root_cause: outcome.diagnosis.root_cause.as_str().to_owned(),
                    resource: outcome.diagnosis.resource.clone().unwrap_or_default(),
                    evidence,
                    passed,
                    steps: outcome.steps_executed,
                    seconds: took.as_secs_f64(),
                    expected,
                }
            }
            Err(e) => Row {
                id: scenario.id.clone(),
                root_cause: "error".into(),
                resource: String::new(),
                evidence: e.to_string(),
                passed: false,
                steps: 0,
                seconds: 0.0,
                expected,
            },
        };
        println!(
            "{:<40} {:<34} {:<34} {:<6} {:>5} {:>7.2}",
            row.id,
            row.expected,
            row.root_cause,
            if row.passed { "pass" } else { "FAIL" },
            row.steps,
            row.seconds
        );
        rows.push(row);
    }
    let passed = rows.iter().filter(|r| r.passed).count();
    println!("accuracy: {passed}/{}", rows.len());
    if let Some(path) = json {
        std::fs::write(path, serde_json::to_vec_pretty(&rows)?).with_context(|| format!("writing {}", path.display()))?;
    }
    for s in servers {
        s.abort();
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(rows)
}
