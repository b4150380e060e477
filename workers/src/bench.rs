//! `aetherius bench e2e | ingest`: the performance figures of DESIGN.md, measured against
//! the real dev stack (Temporal, PostgreSQL, a fixture cluster). Benchmarks report; they
//! never pass or fail on time. `cargo xtask bench` runs them all.

use crate::{
    config::Config,
    pools::{self, Pool},
};
use aetherius_activities::execution::ClusterOptions;
use aetherius_core::{AlertmanagerAlert, DiagnosisRequest, StandardEvent};
use aetherius_scenario::{Scenario, server};
use aetherius_workflows::DiagnosisWorkflow;
use anyhow::Context;
use axum::{body::Body, http::Request};
use futures::{StreamExt, stream};
use serde_json::{Value, json};
use std::{
    fmt::Write,
    net::SocketAddr,
    path::Path,
    time::{Duration, Instant},
};
use temporalio_client::{WorkflowStartOptions, WorkflowTerminateOptions};
use temporalio_sdk::Runtime;
use tower::ServiceExt;

/// Percentile of sorted durations.
fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn post(app: &axum::Router, uri: &str, body: Value) -> anyhow::Result<(u16, Value)> {
    let request = Request::post(uri).header("content-type", "application/json").body(Body::from(body.to_string()))?;
    let response = app.clone().oneshot(request).await?;
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 16 << 20).await?;
    Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
}

/// Posts each alert in its own webhook request, `concurrency` at a time; the answers and
/// the wall time in seconds.
async fn post_all(app: &axum::Router, alerts: &[Value], concurrency: usize) -> (Vec<anyhow::Result<(u16, Value)>>, f64) {
    let started = Instant::now();
    let answers = stream::iter(alerts)
        .map(|a| post(app, "/webhook/alertmanager", webhook(vec![a.clone()])))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    (answers, started.elapsed().as_secs_f64())
}

fn alert_of(scenario: &Scenario, cluster: &str, n: usize) -> anyhow::Result<Value> {
    let mut alert = serde_json::to_value(&scenario.alert)?;
    alert["labels"]["cluster"] = json!(cluster);
    // A distinct firing episode per run: a new startsAt is a new diagnosis.
    let starts = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")? + chrono::Duration::seconds(n as i64);
    alert["startsAt"] = json!(starts.to_rfc3339());
    if let Some(labels) = alert["labels"].as_object_mut() {
        labels.remove("fingerprint");
    }
    if let Some(a) = alert.as_object_mut() {
        a.remove("fingerprint");
    }
    Ok(alert)
}

fn webhook(alerts: Vec<Value>) -> Value {
    json!({"version": "4", "groupKey": "{}:{alertname=\"bench\"}", "status": "firing", "receiver": "aetherius",
           "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
           "alerts": alerts})
}

/// The benchmarks drive the router in-process and measure diagnoses, not access control:
/// no authentication, no rate limit.
fn open_api(config: &mut Config) {
    config.api.auth = aetherius_api::auth::AuthOptions { disabled: true, rate_limit_per_minute: 0, ..Default::default() };
}

/// End to end, no LLM: webhook accepted → report stored in PostgreSQL, one diagnosis at a
/// time, against the fixture cluster of `scenario_dir`, with every pool in this process.
pub async fn e2e(mut config: Config, scenario_dir: &Path, runs: usize) -> anyhow::Result<String> {
    open_api(&mut config);
    let scenario = Scenario::load(scenario_dir).with_context(|| format!("loading {}", scenario_dir.display()))?;
    let cluster = format!("bench{}-{}", std::process::id(), scenario.cluster_id());
    let (addr, _server) = server::serve(scenario.cluster.clone(), SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let tmp = tempfile::tempdir()?;
    let kubeconfig = tmp.path().join("bench.kubeconfig");
    std::fs::write(&kubeconfig, server::kubeconfig(&cluster, addr))?;
    config.execution.clusters.insert(cluster.clone(), ClusterOptions { kubeconfig: Some(kubeconfig), ..Default::default() });
    let state = pools::app_state(&config).await?;
    aetherius_activities::MIGRATOR.run(&state.pool).await.context("running migrations")?;
    let app = aetherius_api::app(state.clone());
    let runtime = Runtime::from_current_tokio(Default::default())?;
    let mut workers = vec![];
    for p in [Pool::Reasoning, Pool::Execution, Pool::Report] {
        workers.push(pools::worker(&runtime, pools::temporal_client(&config).await?, &config, p, None).await?);
    }
    let warmup = 2;
    let body = async {
        let mut times = vec![];
        let mut steps = 0;
        let run_base = (std::process::id() as usize) * 10_000;
        for i in 0..runs + warmup {
            let alert = alert_of(&scenario, &cluster, run_base + i)?;
            let started = Instant::now();
            let (status, answer) = post(&app, "/webhook/alertmanager", webhook(vec![alert])).await?;
            anyhow::ensure!(status == 202 && answer["started"] == 1, "webhook answered {status}: {answer}");
            let id = answer["workflows"][0]["workflow_id"].as_str().unwrap_or_default().to_owned();
            let deadline = started + Duration::from_secs(120);
            loop {
                let row: Option<(i32,)> =
                    sqlx::query_as("SELECT COALESCE(jsonb_array_length(report->'steps'), 0)::int4 FROM reports WHERE workflow_id = $1").bind(&id).fetch_optional(&state.pool).await?;
                if let Some((s,)) = row {
                    if i >= warmup {
                        times.push(started.elapsed());
                        steps = s;
                    }
                    break;
                }
                anyhow::ensure!(Instant::now() < deadline, "no report for {id} after 120 s");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        times.sort();
        let mut out = String::new();
        writeln!(out, "e2e ({} runs after {warmup} warm-up, scenario {}, {steps} steps each, no LLM)", times.len(), scenario.id)?;
        writeln!(
            out,
            "  alert accepted -> report stored: p50 {}  p90 {}  max {}  (target: p50 < 1 s)",
            ms(pct(&times, 0.5)),
            ms(pct(&times, 0.9)),
            ms(pct(&times, 1.0))
        )?;
        Ok::<_, anyhow::Error>(out)
    };
    tokio::select! {
        r = pools::run_workers(workers) => anyhow::bail!("workers stopped: {r:?}"),
        out = body => out,
    }
}

/// Ingest: unique alerts through the webhook vs the raw Temporal client start rate, and
/// duplicates answered from the dedup window. Nothing polls the started workflows; they
/// are terminated at the end.
pub async fn ingest(mut config: Config, scenario_dir: &Path, count: usize, concurrency: usize) -> anyhow::Result<String> {
    open_api(&mut config);
    let scenario = Scenario::load(scenario_dir).with_context(|| format!("loading {}", scenario_dir.display()))?;
    let state = pools::app_state(&config).await?;
    aetherius_activities::MIGRATOR.run(&state.pool).await.context("running migrations")?;
    let app = aetherius_api::app(state.clone());
    let base = (std::process::id() as usize) * 100_000;
    let cluster = format!("ingest{}", std::process::id());

    // Raw client: the same workflow, ids and input, straight to Temporal.
    let raw_ids: Vec<String> = (0..count).map(|i| format!("bench-raw-{cluster}-{i}")).collect();
    let started = Instant::now();
    let raw: Vec<anyhow::Result<()>> = stream::iter(raw_ids.iter().enumerate())
        .map(|(i, id)| {
            let state = state.clone();
            let scenario = &scenario;
            let cluster = &cluster;
            async move {
                let alert: AlertmanagerAlert = serde_json::from_value(alert_of(scenario, cluster, base + count + i)?)?;
                let event = StandardEvent::from_alertmanager(&alert, "default");
                let request = DiagnosisRequest { event, max_steps: 1, priority: 0, approval: Default::default(), retry_of: None };
                let options = WorkflowStartOptions::new(state.options.queues.reasoning.clone(), id.clone()).build();
                state.temporal.start_workflow(DiagnosisWorkflow::run, request, options).await?;
                Ok(())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let raw_secs = started.elapsed().as_secs_f64();
    raw.into_iter().collect::<anyhow::Result<Vec<()>>>()?;

    // Through the webhook: parse, validate, standardize, dedup check, start.
    let alerts: Vec<Value> = (0..count).map(|i| alert_of(&scenario, &cluster, base + i)).collect::<anyhow::Result<_>>()?;
    let (answers, api_secs) = post_all(&app, &alerts, concurrency).await;
    let mut api_ids = vec![];
    for a in answers {
        let (status, body) = a?;
        anyhow::ensure!(status == 202 && body["started"] == 1, "webhook answered {status}: {body}");
        api_ids.push(body["workflows"][0]["workflow_id"].as_str().unwrap_or_default().to_owned());
    }

    // The same alerts again: every one answered from the dedup window.
    let (again, dup_secs) = post_all(&app, &alerts, concurrency).await;
    for a in again {
        let (_, body) = a?;
        anyhow::ensure!(body["workflows"][0]["status"] == "duplicate", "a repeat was not answered as duplicate: {body}");
    }

    for id in raw_ids.iter().chain(&api_ids) {
        let handle = state.temporal.get_workflow_handle::<DiagnosisWorkflow>(id.clone());
        let _ = handle.terminate(WorkflowTerminateOptions::builder().reason("benchmark workflow").build()).await;
    }
    let rate = |secs: f64| count as f64 / secs.max(1e-9);
    let mut out = String::new();
    writeln!(out, "ingest ({count} alerts, {concurrency} concurrent)")?;
    writeln!(out, "  raw Temporal client starts: {:.0}/s", rate(raw_secs))?;
    writeln!(
        out,
        "  webhook, unique alerts:     {:.0}/s  ({:.0}% of raw; target >= 90%)",
        rate(api_secs),
        100.0 * raw_secs / api_secs.max(1e-9)
    )?;
    writeln!(out, "  webhook, duplicates:        {:.0}/s  (answered from the dedup window, Temporal untouched)", rate(dup_secs))?;
    Ok(out)
}
