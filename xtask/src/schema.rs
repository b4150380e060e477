//! schemathesis against the running API (`cargo xtask test` after `cargo test`, or alone as
//! `cargo xtask schema`): the debug `aetherius api` on a free port, authentication on with
//! a fresh admin token, a fresh `aetherius_schema` database (knowledge base included) and
//! the `aetherius-schema` Temporal namespace; every response is checked against
//! `/openapi.json`. Afterwards the API stops and the diagnoses it started are terminated.

use crate::{
    setup::{self, sh, venv},
    stack,
};
use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::{
    fs,
    io::Read,
    net::TcpListener,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The Temporal namespace of the run (no worker polls it: diagnoses only queue).
pub(crate) const NAMESPACE: &str = "aetherius-schema";
/// Its database, dropped and created again on every run.
pub(crate) const DATABASE: &str = "aetherius_schema";
/// The checks every response goes through.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,response_headers_conformance";

/// Kills the API when the run ends, however it ends.
struct Api(Child);

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn run(root: &Path, extra: &[String]) -> Result<()> {
    if !venv(root).join("bin/schemathesis").exists() {
        bail!("schemathesis is not installed (the demo does not need it): run `cargo xtask setup`");
    }
    stack::register_search_attributes(root)?;
    stack::recreate_database(root, DATABASE)?;
    stack::build_aetherius(root)?;
    let dir = std::env::temp_dir().join(format!("aetherius-schema-{}", std::process::id()));
    fs::create_dir_all(&dir)?;
    let token = random_hex(32)?;
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let config = dir.join("aetherius.toml");
    fs::write(&config, config_text(port, &hex::encode(Sha256::digest(token.as_bytes()))))?;
    let bin = stack::aetherius_bin(root);
    sh(Command::new(&bin)
        .current_dir(root)
        .env("RUST_LOG", "warn")
        .arg("--config")
        .arg(&config)
        .arg("migrate"))?;
    let log = dir.join("api.log");
    println!("==> aetherius api on :{port} (namespace {NAMESPACE}, database {DATABASE}, log {})", log.display());
    let file = fs::File::create(&log)?;
    let mut api = Api(Command::new(&bin)
        .current_dir(root)
        .env("RUST_LOG", "info")
        .arg("--config")
        .arg(&config)
        .arg("api")
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .context("starting aetherius api")?);
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        if let Some(status) = api.0.try_wait()? {
            bail!("aetherius api exited ({status}); see {}", log.display());
        }
        if ureq::get(&format!("{base}/health/ready")).call().is_ok() {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!("aetherius api not ready after 120 s; see {}", log.display());
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    println!("==> schemathesis run {base}/openapi.json ({CHECKS})");
    let began = Instant::now();
    let status = Command::new(venv(root).join("bin/schemathesis"))
        .current_dir(&dir)
        .args(["run", &format!("{base}/openapi.json")])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", CHECKS])
        // Bounded for two cores: a few minutes at most.
        .args(["--max-examples", "30", "--workers", "2", "--max-time", "240", "--seed", "9"])
        .args(["--request-timeout", "30", "--no-color"])
        .args(extra)
        .status()
        .context("running schemathesis (`cargo xtask setup` installs it)")?;
    println!("==> schemathesis took {:.0} s", began.elapsed().as_secs_f64());
    drop(api);
    terminate_workflows(root)?;
    if status.success() {
        let _ = fs::remove_dir_all(&dir);
    } else {
        bail!("schemathesis found failures (the API's log: {})", log.display());
    }
    Ok(())
}

fn config_text(port: u16, token_sha256: &str) -> String {
    format!(
        "# Written by `cargo xtask schema`.\n\
         log = \"info\"\n\n\
         [temporal]\naddress = \"http://127.0.0.1:{temporal}\"\nnamespace = \"{NAMESPACE}\"\n\n\
         [database]\nurl = \"postgres://aetherius@127.0.0.1:{pg}/{DATABASE}\"\nmax_connections = 10\n\n\
         [api]\nlisten = \"127.0.0.1:{port}\"\ntemporal_namespace = \"{NAMESPACE}\"\n\n\
         [api.auth]\nrate_limit_per_minute = 0\n\n\
         [[api.auth.tokens]]\nname = \"schemathesis\"\nrole = \"admin\"\nsha256 = \"{token_sha256}\"\n\n\
         # One custom source, so its route is exercised past the unknown-source answer.\n\
         [api.custom_sources.grafana]\nalerts = \"/alerts\"\nalertname = \"/labels/alertname\"\n\
         severity = \"/labels/severity\"\nlabels_object = \"/labels\"\n",
        temporal = stack::TEMPORAL_PORT,
        pg = stack::PG_PORT,
    )
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(hex::encode(buf))
}

/// Terminates every diagnosis still running in the run's namespace.
fn terminate_workflows(root: &Path) -> Result<()> {
    let temporal = venv(root).join("bin/temporal");
    let address = format!("127.0.0.1:{}", stack::TEMPORAL_PORT);
    let running = Command::new(&temporal)
        .args(["workflow", "count", "--address", &address, "--namespace", NAMESPACE])
        .args(["--query", "ExecutionStatus = 'Running'"])
        .output()?;
    let count = String::from_utf8_lossy(&running.stdout);
    println!("==> terminating the diagnoses the run started in {NAMESPACE} ({})", count.trim());
    if count.trim().ends_with(": 0") {
        return Ok(());
    }
    setup::sh(Command::new(&temporal)
        .args(["workflow", "terminate", "--address", &address, "--namespace", NAMESPACE])
        .args(["--query", "ExecutionStatus = 'Running'", "--reason", "schemathesis run ended", "--yes"]))
}
