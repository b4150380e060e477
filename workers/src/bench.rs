//! `aetherius bench e2e | ingest | burst`: the performance figures of DESIGN.md, measured against
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
            "  alert accepted -> report stored: p50 {}  p90 {}  max {}  (target: p50 < 250 ms)",
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

/// Ingest: unique alerts started four ways, interleaved in `rounds` rounds (each way
/// first in turn, so a busy neighbour slows all alike): the raw Temporal client (same
/// workflow and input, default options), the raw client with the webhook's start options
/// (search attributes, priority, summary, timeout), the API's ingest path without HTTP
/// (`ingest_event`: dedup, priority, the start with search attributes), and the webhook
/// (HTTP router, parse, validate, then the same path). Then duplicates, answered from the
/// dedup window. Nothing polls the started workflows; they are terminated at the end.
pub async fn ingest(mut config: Config, scenario_dir: &Path, count: usize, concurrency: usize, rounds: usize) -> anyhow::Result<String> {
    open_api(&mut config);
    let rounds = rounds.max(1);
    let scenario = Scenario::load(scenario_dir).with_context(|| format!("loading {}", scenario_dir.display()))?;
    let state = pools::app_state(&config).await?;
    aetherius_activities::MIGRATOR.run(&state.pool).await.context("running migrations")?;
    let app = aetherius_api::app(state.clone());
    let base = (std::process::id() as usize) * 100_000;
    let cluster = format!("ingest{}", std::process::id());
    let per_round = count.div_ceil(rounds);
    let alerts: Vec<Value> = (0..per_round * rounds * WAYS).map(|i| alert_of(&scenario, &cluster, base + i)).collect::<anyhow::Result<_>>()?;
    let mut chunks = alerts.chunks(per_round);

    // The ways: raw, raw with the webhook's start options, ingest path, webhook.
    const WAYS: usize = 4;
    // secs[way][round], latencies[way]
    let mut secs: [Vec<f64>; WAYS] = Default::default();
    let mut latencies: [Vec<Duration>; WAYS] = Default::default();
    let mut started_ids = vec![];
    let mut webhook_alerts = vec![];
    for round in 0..rounds {
        for k in 0..WAYS {
            let phase = (round + k) % WAYS;
            let chunk = chunks.next().context("alerts")?;
            let t = Instant::now();
            let answers: Vec<anyhow::Result<(String, Duration)>> = stream::iter(chunk)
                .map(|alert| {
                    let (state, app) = (&state, &app);
                    async move {
                        let t = Instant::now();
                        let id = match phase {
                            0 => {
                                let alert: AlertmanagerAlert = serde_json::from_value(alert.clone())?;
                                let event = StandardEvent::from_alertmanager(&alert, "default");
                                let id = event.id.clone();
                                let request = DiagnosisRequest { event, max_steps: 1, priority: 0, approval: Default::default(), retry_of: None };
                                let options = WorkflowStartOptions::new(state.options.queues.reasoning.clone(), id.clone()).build();
                                state.temporal.start_workflow(DiagnosisWorkflow::run, request, options).await?;
                                id
                            }
                            1 => {
                                let alert: AlertmanagerAlert = serde_json::from_value(alert.clone())?;
                                let event = StandardEvent::from_alertmanager(&alert, "default");
                                let id = event.id.clone();
                                let request = DiagnosisRequest {
                                    event,
                                    max_steps: state.options.max_steps,
                                    priority: 0,
                                    approval: Default::default(),
                                    retry_of: None,
                                };
                                let options = aetherius_api::start_options(&state.options.queues.reasoning, id.clone(), &request);
                                state.temporal.start_workflow(DiagnosisWorkflow::run, request, options).await?;
                                id
                            }
                            2 => {
                                let alert: AlertmanagerAlert = serde_json::from_value(alert.clone())?;
                                let event = StandardEvent::from_alertmanager(&alert, "default");
                                let ingest = aetherius_api::ingest_event(state, event).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
                                anyhow::ensure!(ingest.status == "started", "ingest_event answered {ingest:?}");
                                ingest.workflow_id
                            }
                            _ => {
                                let (status, body) = post(app, "/webhook/alertmanager", webhook(vec![alert.clone()])).await?;
                                anyhow::ensure!(status == 202 && body["started"] == 1, "webhook answered {status}: {body}");
                                body["workflows"][0]["workflow_id"].as_str().unwrap_or_default().to_owned()
                            }
                        };
                        Ok((id, t.elapsed()))
                    }
                })
                .buffer_unordered(concurrency)
                .collect()
                .await;
            secs[phase].push(t.elapsed().as_secs_f64());
            for a in answers {
                let (id, latency) = a?;
                started_ids.push(id);
                latencies[phase].push(latency);
            }
            if phase == 3 {
                webhook_alerts.extend_from_slice(chunk);
            }
        }
    }

    // The webhook's alerts again: every one answered from the dedup window.
    let (again, dup_secs) = post_all(&app, &webhook_alerts, concurrency).await;
    for a in again {
        let (_, body) = a?;
        anyhow::ensure!(body["workflows"][0]["status"] == "duplicate", "a repeat was not answered as duplicate: {body}");
    }

    // Grouped webhooks, one at a time, as Alertmanager sends a group: a node going down
    // puts 25 alerts in one request.
    const GROUP: usize = 25;
    let groups = 8;
    let mut group_latencies = vec![];
    for g in 0..groups {
        let alerts: Vec<Value> = (0..GROUP).map(|i| alert_of(&scenario, &cluster, base + alerts.len() + g * GROUP + i)).collect::<anyhow::Result<_>>()?;
        let t = Instant::now();
        let (status, body) = post(&app, "/webhook/alertmanager", webhook(alerts)).await?;
        group_latencies.push(t.elapsed());
        anyhow::ensure!(status == 202 && body["started"] == GROUP, "a grouped webhook answered {status}: {body}");
        started_ids.extend(body["workflows"].as_array().into_iter().flatten().filter_map(|w| w["workflow_id"].as_str().map(str::to_owned)));
    }
    group_latencies.sort();

    for id in &started_ids {
        let handle = state.temporal.get_workflow_handle::<DiagnosisWorkflow>(id.clone());
        let _ = handle.terminate(WorkflowTerminateOptions::builder().reason("benchmark workflow").build()).await;
    }
    let total = per_round * rounds;
    let rate = |s: &[f64]| total as f64 / s.iter().sum::<f64>().max(1e-9);
    // Per round: phase's share of the raw rate (raw time / phase time).
    let spread = |phase: usize| {
        let r: Vec<f64> = secs[0].iter().zip(&secs[phase]).map(|(raw, p)| 100.0 * raw / p.max(1e-9)).collect();
        let (lo, hi) = r.iter().fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        format!("rounds {lo:.0}%..{hi:.0}%")
    };
    for l in &mut latencies {
        l.sort();
    }
    let lat = |phase: usize| format!("p50 {}  p99 {}", ms(pct(&latencies[phase], 0.5)), ms(pct(&latencies[phase], 0.99)));
    let mut out = String::new();
    writeln!(out, "ingest ({total} alerts per way, {concurrency} concurrent, {rounds} interleaved rounds)")?;
    writeln!(out, "  raw Temporal client starts:   {:.0}/s  {}", rate(&secs[0]), lat(0))?;
    for (way, name) in [(1, "raw, the webhook's options:"), (2, "ingest path without HTTP:  "), (3, "webhook, unique alerts:    ")] {
        // The ingest path and the webhook against the same start made bare: what Aetherius'
        // own code (parse, validate, dedup, priority, HTTP) costs beyond the start.
        let own = if way > 1 { format!("; {:.0}% of raw with the same options", 100.0 * rate(&secs[way]) / rate(&secs[1])) } else { String::new() };
        writeln!(
            out,
            "  {name}  {:.0}/s  ({:.0}% of raw{own}; {}{})  {}",
            rate(&secs[way]),
            100.0 * rate(&secs[way]) / rate(&secs[0]),
            spread(way),
            if way == 3 { "; target >= 95%" } else { "" },
            lat(way)
        )?;
    }
    writeln!(
        out,
        "  webhook, duplicates:          {:.0}/s  (answered from the dedup window, Temporal untouched)",
        webhook_alerts.len() as f64 / dup_secs.max(1e-9)
    )?;
    writeln!(
        out,
        "  webhook, {groups} groups of {GROUP} alerts, one at a time: answered in p50 {}  max {}  ({:.0} alerts/s)",
        ms(pct(&group_latencies, 0.5)),
        ms(pct(&group_latencies, 1.0)),
        (groups * GROUP) as f64 / group_latencies.iter().sum::<Duration>().as_secs_f64().max(1e-9)
    )?;
    Ok(out)
}

/// What `aetherius bench burst` sends.
#[derive(Debug, Clone)]
pub struct BurstOptions {
    /// Scenario folders, each served as one configured fixture cluster.
    pub scenarios: Vec<std::path::PathBuf>,
    /// Alerts in the burst, re-sends included.
    pub alerts: usize,
    /// Distinct alerts among them (the rest are re-sends, as Alertmanager repeats).
    pub unique: usize,
    /// Namespaces the alerts are spread over.
    pub namespaces: usize,
    /// Requests in flight.
    pub concurrency: usize,
    /// How long the diagnoses may take to finish before the run counts as wrong.
    pub finish_timeout: Duration,
}

/// One webhook answer of the burst.
struct Answer {
    status: Option<u16>,
    latency: Duration,
    started: u64,
}

/// A free TCP port on loopback (bound, then released for the child).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Deterministic shuffle (xorshift): the burst's order is the same in every run.
fn shuffle<T>(items: &mut [T]) {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..items.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        items.swap(i, (x % (i as u64 + 1)) as usize);
    }
}

/// VmHWM (peak resident set) of `pid`, as /proc writes it ("123456 kB").
fn peak_rss(pid: u32) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).map(|v| v.trim().to_owned())
}

/// Burst: `alerts` webhook requests (one alert each, `unique` distinct, the rest re-sends)
/// over several fixture clusters, one cluster no one configured, and many namespaces,
/// through the real HTTP webhook of a separate `aetherius all` child process (`bin`), which
/// runs every diagnosis. Counts every answer, checks the started workflows against Temporal
/// visibility and the stored reports, and reads the child's peak RSS. Fails only on wrong
/// behaviour: a 5xx, a transport error, or a started count other than `unique`.
pub async fn burst(config: Config, bin: &Path, options: &BurstOptions) -> anyhow::Result<String> {
    anyhow::ensure!(options.unique > 0 && options.alerts >= options.unique, "--alerts must be at least --unique (> 0)");
    let pid = std::process::id();
    let tmp = tempfile::tempdir()?;
    let mut servers = vec![];
    let mut scenarios = vec![];
    let mut child_config = String::new();
    let port = free_port()?;
    writeln!(child_config, "[api]\nlisten = \"127.0.0.1:{port}\"\n[api.auth]\ndisabled = true\nrate_limit_per_minute = 0")?;
    for (i, dir) in options.scenarios.iter().enumerate() {
        let scenario = Scenario::load(dir).with_context(|| format!("loading {}", dir.display()))?;
        let cluster = format!("burst{pid}-{i}-{}", scenario.cluster_id());
        let (addr, server) = server::serve(scenario.cluster.clone(), SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let kubeconfig = tmp.path().join(format!("{cluster}.kubeconfig"));
        std::fs::write(&kubeconfig, server::kubeconfig(&cluster, addr))?;
        writeln!(child_config, "[execution.clusters.\"{cluster}\"]\nkubeconfig = {:?}", kubeconfig.display().to_string())?;
        servers.push(server);
        scenarios.push((cluster, scenario));
    }
    anyhow::ensure!(!scenarios.is_empty(), "at least one --scenario");
    // Alerts naming a cluster this deployment does not know: Alertmanager forwards them all.
    let unconfigured = format!("burst{pid}-unconfigured");
    let config_path = tmp.path().join("child.toml");
    std::fs::write(&config_path, &child_config)?;

    // The distinct alerts: every tenth names the unconfigured cluster, the rest go round the
    // configured ones; namespaces go round `namespaces` names (the scenario's own first).
    let mut distinct = vec![];
    let mut clusters = vec![unconfigured.clone()];
    clusters.extend(scenarios.iter().map(|(c, _)| c.clone()));
    let run_base = (pid as usize % 100_000) * 1_000_000;
    for u in 0..options.unique {
        let (cluster, scenario) = &scenarios[u % scenarios.len()];
        let cluster = if u % 10 == 9 { &unconfigured } else { cluster };
        let mut alert = alert_of(scenario, cluster, run_base + u)?;
        let k = u % options.namespaces.max(1);
        if k > 0 {
            alert["labels"]["namespace"] = json!(format!("team-{k}"));
        }
        distinct.push(alert);
    }
    let mut burst: Vec<&Value> = (0..options.alerts).map(|i| &distinct[i % options.unique]).collect();
    shuffle(&mut burst);

    // The child: API and every pool, as deployed; its log kept for a failure's message.
    let log_path = tmp.path().join("child.log");
    let mut child = tokio::process::Command::new(bin)
        .arg("--config")
        .arg(&config_path)
        .arg("all")
        .env("AETHERIUS_API__LISTEN", format!("127.0.0.1:{port}"))
        .env("AETHERIUS_API__AUTH__DISABLED", "true")
        .env("AETHERIUS_API__AUTH__RATE_LIMIT_PER_MINUTE", "0")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log_path)?)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {} all", bin.display()))?;
    let child_pid = child.id().context("child has no pid")?;
    let log_tail = || {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        log.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
    };
    let base_url = format!("http://127.0.0.1:{port}");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder().pool_max_idle_per_host(options.concurrency).build()?;
    let ready_by = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("aetherius all exited ({status}) before it was ready:\n{}", log_tail());
        }
        if http.get(format!("{base_url}/health/ready")).send().await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        anyhow::ensure!(Instant::now() < ready_by, "aetherius all not ready after 120 s:\n{}", log_tail());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let client = pools::temporal_client(&config).await?;
    let pool = pools::database(&config).await?;
    let result = async {
        // Raw client starts, same run: `unique` workflows on a queue no worker polls.
        let raw_queue = format!("bench-raw-{pid}");
        let raw_ids: Vec<String> = (0..options.unique).map(|i| format!("bench-raw-burst{pid}-{i}")).collect();
        let raw_started = Instant::now();
        let raw: Vec<anyhow::Result<()>> = stream::iter(raw_ids.iter().zip(&distinct))
            .map(|(id, alert)| {
                let client = &client;
                let raw_queue = &raw_queue;
                async move {
                    let alert: AlertmanagerAlert = serde_json::from_value(alert.clone())?;
                    let event = StandardEvent::from_alertmanager(&alert, "default");
                    let request = DiagnosisRequest { event, max_steps: 1, priority: 0, approval: Default::default(), retry_of: None };
                    let options = WorkflowStartOptions::new(raw_queue.as_str(), id.clone()).build();
                    client.start_workflow(DiagnosisWorkflow::run, request, options).await?;
                    Ok(())
                }
            })
            .buffer_unordered(options.concurrency)
            .collect()
            .await;
        let raw_secs = raw_started.elapsed().as_secs_f64();
        let raw_result = raw.into_iter().collect::<anyhow::Result<Vec<()>>>();
        for id in &raw_ids {
            let handle = client.get_workflow_handle::<DiagnosisWorkflow>(id.clone());
            let _ = handle.terminate(WorkflowTerminateOptions::builder().reason("benchmark workflow").build()).await;
        }
        raw_result?;

        // The burst.
        let url = format!("{base_url}/webhook/alertmanager");
        let started = Instant::now();
        let answers: Vec<Answer> = stream::iter(&burst)
            .map(|alert| {
                let body = webhook(vec![(*alert).clone()]).to_string();
                let request = http.post(&url).header("content-type", "application/json").body(body);
                async move {
                    let t = Instant::now();
                    match request.send().await {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            let answer: Value = response.json_or_null().await;
                            Answer { status: Some(status), latency: t.elapsed(), started: answer["started"].as_u64().unwrap_or(0) }
                        }
                        Err(_) => Answer { status: None, latency: t.elapsed(), started: 0 },
                    }
                }
            })
            .buffer_unordered(options.concurrency)
            .collect()
            .await;
        let burst_secs = started.elapsed().as_secs_f64();
        let mut statuses = std::collections::BTreeMap::<String, usize>::new();
        for a in &answers {
            *statuses.entry(a.status.map_or_else(|| "transport error".to_owned(), |s| s.to_string())).or_default() += 1;
        }
        let started_count: u64 = answers.iter().map(|a| a.started).sum();
        let mut latencies: Vec<Duration> = answers.iter().map(|a| a.latency).collect();
        latencies.sort();
        let server_errors = answers.iter().filter(|a| a.status.is_none_or(|s| s >= 500)).count();

        // Temporal visibility: workflows of this run's clusters (eventually consistent).
        let list = clusters.iter().map(|c| format!("'{c}'")).collect::<Vec<_>>().join(", ");
        let query = format!("{} IN ({list})", aetherius_core::queues::search_attributes::CLUSTER_ID);
        let mut visible = 0;
        let visible_by = Instant::now() + Duration::from_secs(60);
        while Instant::now() < visible_by {
            visible = client.count_workflows(query.clone(), Default::default()).await?.count();
            if visible >= options.unique {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }

        // Every diagnosis finished: one report each.
        let finish_by = started + options.finish_timeout;
        let (reports, distinct_reports) = loop {
            let (n, d): (i64, i64) = sqlx::query_as("SELECT count(*), count(DISTINCT workflow_id) FROM reports WHERE cluster_id = ANY($1)")
                .bind(&clusters)
                .fetch_one(&pool)
                .await?;
            if n as usize >= options.unique || Instant::now() > finish_by || child.try_wait()?.is_some() {
                break (n as usize, d as usize);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let finished_secs = started.elapsed().as_secs_f64();
        let unconfigured_summary: Option<(String, Option<String>, i64)> = sqlx::query_as(
            "SELECT root_cause, report->'steps'->0->>'error', count(*) OVER () FROM reports WHERE cluster_id = $1 LIMIT 1",
        )
        .bind(&unconfigured)
        .fetch_optional(&pool)
        .await?;
        let peak = peak_rss(child_pid).unwrap_or_else(|| "unknown (the child exited)".to_owned());

        let mut out = String::new();
        writeln!(
            out,
            "burst ({} alerts, {} distinct, {} re-sends; {} configured fixture clusters + 1 unconfigured, {} namespaces; {} in flight; HTTP to a separate `aetherius all`)",
            options.alerts,
            options.unique,
            options.alerts - options.unique,
            scenarios.len(),
            options.namespaces,
            options.concurrency
        )?;
        writeln!(out, "  answers: {}", statuses.iter().map(|(s, n)| format!("{s}: {n}")).collect::<Vec<_>>().join(", "))?;
        writeln!(out, "  workflows started (answers): {started_count}  (distinct alerts: {}); Temporal visibility: {visible}", options.unique)?;
        writeln!(out, "  ingest latency: p50 {}  p99 {}  max {}", ms(pct(&latencies, 0.5)), ms(pct(&latencies, 0.99)), ms(pct(&latencies, 1.0)))?;
        let raw_rate = options.unique as f64 / raw_secs.max(1e-9);
        let unique_rate = started_count as f64 / burst_secs.max(1e-9);
        writeln!(out, "  burst: {:.2} s, {:.0} requests/s; distinct alerts started: {unique_rate:.0}/s", burst_secs, options.alerts as f64 / burst_secs.max(1e-9))?;
        writeln!(out, "  raw Temporal client starts (same run, {} workflows): {raw_rate:.0}/s  (burst's distinct starts: {:.0}% of it)", options.unique, 100.0 * unique_rate / raw_rate.max(1e-9))?;
        writeln!(out, "  every diagnosis finished (reports stored: {reports}, distinct {distinct_reports}): {finished_secs:.1} s after the burst began")?;
        if let Some((root_cause, error, n)) = &unconfigured_summary {
            writeln!(
                out,
                "  alerts of the unconfigured cluster: diagnosed like any other ({n} reports, root cause {root_cause:?}); every step refused: {}",
                error.as_deref().unwrap_or("(no step)")
            )?;
        }
        writeln!(out, "  peak RSS of `aetherius all` (VmHWM): {peak}")?;

        // Wrong behaviour fails the run; time never does.
        let mut wrong = vec![];
        if server_errors > 0 {
            wrong.push(format!("{server_errors} answers were 5xx or transport errors"));
        }
        if started_count as usize != options.unique {
            wrong.push(format!("{started_count} workflows started for {} distinct alerts", options.unique));
        }
        if visible != options.unique {
            wrong.push(format!("Temporal lists {visible} workflows for {} distinct alerts", options.unique));
        }
        if reports != options.unique || distinct_reports != reports {
            wrong.push(format!("{reports} reports ({distinct_reports} distinct) for {} diagnoses after {finished_secs:.0} s", options.unique));
        }
        if !wrong.is_empty() {
            anyhow::bail!("{out}wrong behaviour: {}\nchild log (last lines):\n{}", wrong.join("; "), log_tail());
        }
        Ok::<_, anyhow::Error>(out)
    }
    .await;
    // Nothing of this run keeps running: the child stops; unfinished diagnoses are ended.
    let _ = child.start_kill();
    let _ = child.wait().await;
    if result.is_err() {
        let list = clusters.iter().map(|c| format!("'{c}'")).collect::<Vec<_>>().join(", ");
        let query = format!("{} IN ({list}) AND ExecutionStatus = 'Running'", aetherius_core::queues::search_attributes::CLUSTER_ID);
        let mut running = client.list_workflows(query, Default::default());
        while let Some(Ok(w)) = running.next().await {
            let handle = client.get_workflow_handle::<DiagnosisWorkflow>(w.id().to_owned());
            let _ = handle.terminate(WorkflowTerminateOptions::builder().reason("benchmark run failed").build()).await;
        }
    }
    for s in servers {
        s.abort();
    }
    result
}

/// The body as JSON, or null (an error page is not JSON).
trait JsonOrNull {
    async fn json_or_null(self) -> Value;
}

impl JsonOrNull for reqwest::Response {
    async fn json_or_null(self) -> Value {
        match self.bytes().await {
            Ok(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }
}
