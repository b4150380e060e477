//! `cargo xtask bench [--debug]`: the performance figures of DESIGN.md against the real dev
//! stack, from a release build (`--debug` reuses the debug binary; its figures say so).
//! Benchmarks report figures; they never fail on time.

use crate::{setup, stack};
use anyhow::{Context, Result};
use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

fn release_bin(root: &Path) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    target.join("release/aetherius")
}

pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    let debug = args.iter().any(|a| a == "--debug");
    stack::up(root, stack::Components::services())?;
    let bin = if debug {
        stack::build_aetherius(root)?;
        stack::aetherius_bin(root)
    } else {
        println!("==> building aetherius (release)");
        setup::sh(setup::cargo(root).args([
            "build",
            "--release",
            "-p",
            "aetherius-workers",
            "--bin",
            "aetherius",
        ]))?;
        release_bin(root)
    };
    let profile = if debug {
        "debug build"
    } else {
        "release build"
    };
    println!(
        "==> benchmarks ({profile}, {} CPUs)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let aetherius = |args: &[&str]| -> Result<()> {
        let mut cmd = Command::new(&bin);
        cmd.current_dir(root).args(args).env("RUST_LOG", "warn");
        for (k, v) in stack::eval_env() {
            cmd.env(k, v);
        }
        setup::sh(&mut cmd)
    };
    aetherius(&["bench", "e2e"])?;
    aetherius(&["bench", "ingest"])?;
    aetherius(&["bench", "burst"])?;
    aetherius(&["bench", "knowledge"])?;
    idle_rss(root, &bin)?;
    Ok(())
}

/// RSS of an idle all-in-one process (API + every pool), 10 s after start.
fn idle_rss(root: &Path, bin: &Path) -> Result<()> {
    let mut cmd = Command::new(bin);
    cmd.current_dir(root)
        .arg("all")
        .env("RUST_LOG", "warn")
        .env("AETHERIUS_API__LISTEN", "127.0.0.1:18099");
    for (k, v) in stack::eval_env() {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting aetherius all")?;
    std::thread::sleep(Duration::from_secs(10));
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .map(|l| l.trim_start_matches("VmRSS:").trim().to_owned());
    match rss {
        Some(rss) => println!(
            "idle RSS of `aetherius all` (API + every pool, 10 s after start): {rss}  (target: < 100 MB)"
        ),
        None => {
            println!("idle RSS of `aetherius all`: the process exited before it could be measured")
        }
    }
    Ok(())
}
