//! The fault suite (issue 11): `aetherius` processes killed with SIGKILL, Temporal and
//! PostgreSQL stopped mid-run, an LLM and a cluster that fail. Every diagnosis must still end
//! with exactly one report. Each test starts its own Temporal dev server (and, for the
//! PostgreSQL case, its own PostgreSQL), so killing them disturbs nobody; `aetherius` runs
//! as child processes. One test at a time (they measure recovery times on a small machine).
//! The thresholds state the requirement: reports within 30 s of a restart.

#[allow(dead_code, reason = "the integration tests' harness, shared; this suite uses part of it")]
#[path = "it/support.rs"]
mod support;

use aetherius_activities::llm::test_server::{Behaviour, TestServer};
use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::Value;
use std::{
    collections::HashMap,
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst},
    },
    time::{Duration, Instant},
};
use support::{call, payload, unique_alert};

const NAMESPACE: &str = "aetherius-test-faults";
/// The requirement: the last report within this of the restart.
const RECOVERY: Duration = Duration::from_secs(30);
/// Diagnoses in flight when a process is killed.
const DIAGNOSES: usize = 20;

static SERIAL: Mutex<()> = Mutex::new(());

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run the fault suite with `cargo xtask test`"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_millis(200)).is_ok()
}

/// Runs one test body on its own runtime, never two at once.
fn serial(body: impl std::future::Future<Output = ()>) {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap().block_on(body);
}

async fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < timeout, "{what}: not within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// SIGKILL, then reap.
fn kill9(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A Temporal dev server of this test: own ports, own SQLite file (kept across restarts).
struct Temporal {
    port: u16,
    ui_port: u16,
    db: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Temporal {
    fn start(dir: &Path) -> Temporal {
        let mut t = Temporal { port: free_port(), ui_port: free_port(), db: dir.join("temporal.db"), log: dir.join("temporal.log"), child: None };
        t.spawn();
        t
    }

    fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let child = Command::new(env("AETHERIUS_TEST_TEMPORAL_CLI"))
            .args(["server", "start-dev", "--ip", "127.0.0.1", "--log-level", "error", "--namespace", NAMESPACE])
            .args(["--port", &self.port.to_string(), "--ui-port", &self.ui_port.to_string()])
            .arg("--db-filename")
            .arg(&self.db)
            .args(aetherius_core::queues::search_attributes::dev_server_args())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("the Temporal CLI starts");
        self.child = Some(child);
        let start = Instant::now();
        loop {
            let described = port_open(self.port)
                && Command::new(env("AETHERIUS_TEST_TEMPORAL_CLI"))
                    .args(["operator", "namespace", "describe", "--address", &format!("127.0.0.1:{}", self.port), "--namespace", NAMESPACE])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
            if described {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "Temporal did not start: see {}", self.log.display());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill9(&mut c);
        }
    }
}

impl Drop for Temporal {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What the fixture cluster does to each request: a delay (so steps are in flight when a
/// process dies) and, for paths containing `fail_path`, an error status or no answer at all.
#[derive(Clone, Default)]
struct Faults {
    delay_ms: Arc<AtomicU64>,
    in_flight: Arc<AtomicUsize>,
    /// Path fragment → status to answer (0: never answer).
    fail: Arc<Mutex<Option<(String, u16)>>>,
    failed: Arc<AtomicUsize>,
    paths: Arc<Mutex<Vec<String>>>,
}

struct InFlight(Arc<AtomicUsize>);
impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

async fn inject(State(f): State<Faults>, req: Request, next: Next) -> Response {
    f.in_flight.fetch_add(1, SeqCst);
    let _guard = InFlight(f.in_flight.clone());
    let path = req.uri().path().to_owned();
    f.paths.lock().unwrap().push(format!("{} {}", req.method(), path));
    tokio::time::sleep(Duration::from_millis(f.delay_ms.load(SeqCst))).await;
    let rule = f.fail.lock().unwrap().clone();
    if let Some((fragment, status)) = rule.filter(|(fragment, _)| path.contains(fragment.as_str())) {
        let _ = fragment;
        f.failed.fetch_add(1, SeqCst);
        if status == 0 {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        let code = axum::http::StatusCode::from_u16(status).unwrap();
        let body = serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": format!("injected {status}"), "code": status});
        return (code, [("retry-after", "1")], axum::Json(body)).into_response();
    }
    next.run(req).await
}

/// Serves the crash-loop scenario through [`Faults`]; returns the cluster id and kubeconfig.
async fn fixture_cluster(dir: &Path, faults: &Faults) -> (String, PathBuf) {
    let scenario = aetherius_scenario::Scenario::load(&support::scenario_dir("crashloop-missing-env")).expect("scenario loads");
    let cluster_id = scenario.cluster_id();
    let app = aetherius_scenario::server::router(scenario.cluster).layer(axum::middleware::from_fn_with_state(faults.clone(), inject));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let path = dir.join(format!("{cluster_id}.kubeconfig"));
    std::fs::write(&path, aetherius_scenario::server::kubeconfig(&cluster_id, addr)).unwrap();
    (cluster_id, path)
}

/// The configuration file every `aetherius` child of a test reads; `extra` is appended.
fn write_config(dir: &Path, temporal: &str, database: &str, cluster: &(String, PathBuf), extra: &str) -> PathBuf {
    let path = dir.join("aetherius.toml");
    let text = format!(
        "log = \"warn\"\n\n[temporal]\naddress = \"{temporal}\"\nnamespace = \"{NAMESPACE}\"\n\n\
         [database]\nurl = \"{database}\"\nmax_connections = 5\n\n\
         [api]\nlisten = \"127.0.0.1:{}\"\ntemporal_namespace = \"{NAMESPACE}\"\n\n[api.auth]\ndisabled = true\nrate_limit_per_minute = 0\n\n\
         [knowledge]\nenabled = false\n\n[execution.clusters.{}]\nkubeconfig = \"{}\"\n{extra}",
        free_port(),
        cluster.0,
        cluster.1.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// An `aetherius` child process (`all`, or `worker --pool X`), logging into the test's dir.
struct Aetherius {
    args: Vec<String>,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Aetherius {
    fn start(config: &Path, args: &[&str]) -> Aetherius {
        let log = config.with_file_name(format!("aetherius-{}.log", args.join("-")));
        let mut a = Aetherius { args: args.iter().map(|s| (*s).to_owned()).collect(), config: config.to_owned(), log, child: None };
        a.spawn();
        a
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        self.child = Some(
            Command::new(env!("CARGO_BIN_EXE_aetherius"))
                .arg("--config")
                .arg(&self.config)
                .args(&self.args)
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("aetherius starts"),
        );
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill9(&mut c);
        }
    }
}

impl Drop for Aetherius {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The webhook of an in-test API over this test's Temporal: starts `n` diagnoses of the
/// crash loop on `cluster`, returns the router and their workflow ids.
async fn start_diagnoses(config: &aetherius_workers::config::Config, cluster: &str, n: usize) -> (axum::Router, Vec<String>) {
    let (app, _state) = support::api(config).await;
    let alerts = (0..n)
        .map(|_| {
            let mut a = unique_alert("crashloop-missing-env");
            a["labels"]["cluster"] = Value::String(cluster.to_owned());
            a
        })
        .collect();
    let (status, answer) = call(&app, "POST", "/webhook/alertmanager", serde_json::to_vec(&payload(alerts)).unwrap()).await;
    assert_eq!(status, 202, "{answer}");
    let ids: Vec<String> = answer["workflows"].as_array().unwrap().iter().map(|w| w["workflow_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), n, "{answer}");
    (app, ids)
}

/// Reports stored per workflow id (only ids with at least one).
async fn report_counts(db: &sqlx::PgPool, ids: &[String]) -> HashMap<String, i64> {
    sqlx::query_as::<_, (String, i64)>("SELECT workflow_id, count(*) FROM reports WHERE workflow_id = ANY($1) GROUP BY workflow_id")
        .bind(ids)
        .fetch_all(db)
        .await
        .map(|rows| rows.into_iter().collect())
        .unwrap_or_default()
}

/// Waits (up to `limit`) until every diagnosis has its report; returns the time from
/// `since` to the last one. Then checks: one report each, every workflow completed.
async fn every_report(app: &axum::Router, db: &sqlx::PgPool, ids: &[String], since: Instant, limit: Duration, what: &str) -> Duration {
    let mut done_at = None;
    while since.elapsed() < limit {
        if report_counts(db, ids).await.len() == ids.len() {
            done_at = Some(since.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let counts = report_counts(db, ids).await;
    let missing: Vec<&String> = ids.iter().filter(|id| !counts.contains_key(*id)).collect();
    let took = done_at.unwrap_or_else(|| panic!("{what}: {} of {} diagnoses without a report after {limit:?}: {missing:?}", missing.len(), ids.len()));
    assert!(counts.values().all(|&c| c == 1), "{what}: more than one report for a diagnosis: {counts:?}");
    for id in ids {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (status, body) = call(app, "GET", &format!("/tasks/{id}"), vec![]).await;
            if status == 200 && body["status"] == "completed" {
                break;
            }
            assert!(Instant::now() < deadline, "{what}: {id} has its report but did not complete: {body}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    println!("FAULT {what}: {} diagnoses, one report each, last report {:.1} s after the restart", ids.len(), took.as_secs_f64());
    took
}

fn in_process_config(path: &Path) -> aetherius_workers::config::Config {
    aetherius_workers::config::Config::load(Some(path)).expect("the test's configuration loads")
}

/// Kills `victim` (an index into `procs`) with SIGKILL once half the diagnoses have a
/// step in flight, restarts it at once, and checks the reports.
async fn kill_mid_diagnosis(what: &str, pools: &[&[&str]], victim: usize, slow_llm: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let temporal = Temporal::start(tmp.path());
    let faults = Faults::default();
    faults.delay_ms.store(if slow_llm { 0 } else { 1500 }, SeqCst);
    let cluster = fixture_cluster(tmp.path(), &faults).await;
    let llm = if slow_llm { Some(TestServer::local(Behaviour::Delay { ms: 3000 }).await.unwrap()) } else { None };
    let extra = llm.as_ref().map(|s| format!("\n[llm]\nbase_url = \"{}\"\nmodel = \"test\"\n", s.base_url())).unwrap_or_default();
    let config_path = write_config(tmp.path(), &temporal.address(), &env("AETHERIUS_TEST_DATABASE_URL"), &cluster, &extra);
    let config = in_process_config(&config_path);
    let mut procs: Vec<Aetherius> = pools.iter().map(|args| Aetherius::start(&config_path, args)).collect();
    let (app, ids) = start_diagnoses(&config, &cluster.0, DIAGNOSES).await;
    let db = aetherius_workers::pools::database(&config).await.unwrap();

    match &llm {
        // Half the diagnoses waiting on the LLM (its answers take 3 s).
        Some(server) => {
            wait_until(&format!("{what}: LLM calls in flight"), Duration::from_secs(90), || {
                server.requests().iter().filter(|r| r.at.elapsed() < Duration::from_millis(2800)).count() >= DIAGNOSES / 2
            })
            .await
        }
        None => wait_until(&format!("{what}: steps in flight"), Duration::from_secs(90), || faults.in_flight.load(SeqCst) >= DIAGNOSES / 2).await,
    }
    procs[victim].kill9();
    let restart = Instant::now();
    procs[victim].spawn();
    let took = every_report(&app, &db, &ids, restart, Duration::from_secs(120), what).await;
    assert!(took <= RECOVERY, "{what}: the last report came {took:?} after the restart (requirement: within {RECOVERY:?})");
    drop(procs);
    drop(temporal);
}

const ALL: &[&[&str]] = &[&["all"]];
/// The three pools as separate processes (the test serves the webhook itself).
const POOLS: &[&[&str]] = &[&["worker", "--pool", "reasoning"], &["worker", "--pool", "execution"], &["worker", "--pool", "report"]];

#[test]
fn kill_9_of_aetherius_all_mid_diagnosis() {
    serial(kill_mid_diagnosis("kill -9 of `aetherius all` during steps", ALL, 0, false));
}

#[test]
fn kill_9_of_the_execution_pool_mid_step() {
    serial(kill_mid_diagnosis("kill -9 of the execution pool during steps", POOLS, 1, false));
}

#[test]
fn kill_9_of_the_reasoning_pool_mid_llm_call() {
    serial(kill_mid_diagnosis("kill -9 of the reasoning pool during LLM calls", POOLS, 0, true));
}
