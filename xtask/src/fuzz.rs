//! `cargo xtask fuzz [--secs N] [TARGET...]`: every cargo-fuzz target of fuzz/ (or those
//! named) for N seconds each (default 20), starting from the committed corpus; fails on
//! the first crash and says how to replay it.
//!
//! Runs on the stable toolchain: `--sanitizer none` leaves cargo-fuzz only stable rustc
//! flags (sancov passes through `-C llvm-args`), so no nightly and no RUSTC_BOOTSTRAP.
//! `--dev` (opt-level 1, set in fuzz/Cargo.toml) keeps debug assertions and builds in a
//! fraction of the release build's time. New inputs a run finds go to a scratch folder,
//! never into fuzz/corpus.

use crate::setup::{cargo, sh, tools_dir, tools_target_dir};
use anyhow::{Context, Result, bail};
use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

/// The cargo-fuzz release installed when none of this version is found.
const CARGO_FUZZ_VERSION: &str = "0.13.1";

/// Seconds per target when `--secs` is not given.
const DEFAULT_SECS: u64 = 20;

pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut secs = DEFAULT_SECS;
    let mut only = vec![];
    let mut args = args.iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--secs" => {
                let v = args.next().context("--secs needs a number of seconds")?;
                secs = v.parse().with_context(|| format!("--secs {v:?}: not a number of seconds"))?;
            }
            other if other.starts_with('-') => bail!("unknown option {other:?} (usage: cargo xtask fuzz [--secs N] [TARGET...])"),
            target => only.push(target.to_owned()),
        }
    }
    let targets = targets(root)?;
    for t in &only {
        if !targets.contains(t) {
            bail!("no fuzz target {t:?} (targets: {})", targets.join(", "));
        }
    }
    let targets = if only.is_empty() { targets } else { only };

    let started = Instant::now();
    let cargo_fuzz = cargo_fuzz(root)?;
    let target_dir = target_dir(root);
    let common = |cmd: &mut Command| {
        cmd.current_dir(root).args(["--dev", "--sanitizer", "none", "--target-dir"]).arg(&target_dir);
    };
    println!("==> building the fuzz targets ({}; a cold build takes 2-5 min on 2 cores)", target_dir.display());
    let build = Instant::now();
    let mut cmd = command(&cargo_fuzz);
    cmd.args(["fuzz", "build"]);
    common(&mut cmd);
    sh(&mut cmd).context("building the fuzz targets")?;
    println!("    built in {:.0?}", build.elapsed());

    for target in &targets {
        let scratch = target_dir.join("fuzz-corpus").join(target);
        let _ = std::fs::remove_dir_all(&scratch);
        std::fs::create_dir_all(&scratch)?;
        let log = target_dir.join(format!("fuzz-{target}.log"));
        let out = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        println!("==> fuzzing {target} for {secs} s (libFuzzer output: {})", log.display());
        let mut cmd = command(&cargo_fuzz);
        cmd.args(["fuzz", "run"]);
        common(&mut cmd);
        cmd.arg(target)
            .arg(&scratch)
            .arg(root.join("fuzz/corpus").join(target))
            .args(["--", &format!("-max_total_time={secs}"), "-timeout=10", "-rss_limit_mb=2048"])
            .stdout(out.try_clone()?)
            .stderr(out);
        let status = cmd.status().with_context(|| format!("starting cargo fuzz run {target}"))?;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if !status.success() {
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            for line in tail.into_iter().rev() {
                eprintln!("    {line}");
            }
            let artifact = text.lines().find_map(|l| l.split_once("Test unit written to ").map(|(_, p)| p.trim().to_owned()));
            match artifact {
                Some(a) => bail!(
                    "fuzz target {target} failed ({status}); replay: cargo fuzz run --dev --sanitizer none {target} {a}"
                ),
                None => bail!("fuzz target {target} failed ({status}); see {}", log.display()),
            }
        }
        let done = text.lines().rev().find(|l| l.starts_with("Done ")).unwrap_or("done");
        println!("    {target}: {done}");
    }
    println!("==> fuzzing passed: {} targets, {:.0?} in all", targets.len(), started.elapsed());
    Ok(())
}

/// `program`, without the variables `cargo run` set for xtask itself (cargo-fuzz runs cargo).
fn command(program: &Path) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || matches!(key.as_ref(), "CARGO_MANIFEST_DIR" | "CARGO_MANIFEST_PATH" | "CARGO_PRIMARY_PACKAGE" | "CARGO_CRATE_NAME" | "CARGO_BIN_NAME")
        {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd
}

/// The `[[bin]]` names of fuzz/Cargo.toml.
fn targets(root: &Path) -> Result<Vec<String>> {
    let manifest = root.join("fuzz/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).with_context(|| format!("reading {}", manifest.display()))?;
    let mut out = vec![];
    let mut in_bin = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(name) = line.strip_prefix("name").map(str::trim).and_then(|r| r.strip_prefix('=')) {
            out.push(name.trim().trim_matches('"').to_owned());
        }
    }
    if out.is_empty() {
        bail!("{}: no [[bin]] fuzz targets", manifest.display());
    }
    Ok(out)
}

/// cargo-fuzz at [`CARGO_FUZZ_VERSION`]: .aetherius/tools/bin's, else the one on PATH,
/// else installed into .aetherius/tools with `cargo install --locked`.
fn cargo_fuzz(root: &Path) -> Result<PathBuf> {
    let installed = tools_dir(root).join("bin/cargo-fuzz");
    for candidate in [installed.clone(), PathBuf::from("cargo-fuzz")] {
        let version = Command::new(&candidate).arg("--version").output();
        if version.is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).split_whitespace().nth(1) == Some(CARGO_FUZZ_VERSION)) {
            return Ok(candidate);
        }
    }
    let target = tools_target_dir();
    println!(
        "==> installing cargo-fuzz {CARGO_FUZZ_VERSION} into {} (about 1 min cold; build folder {})",
        tools_dir(root).display(),
        target.display()
    );
    let started = Instant::now();
    sh(cargo(root)
        .args(["install", "cargo-fuzz", "--version", CARGO_FUZZ_VERSION, "--locked", "--root"])
        .arg(tools_dir(root))
        .env("CARGO_TARGET_DIR", &target))
    .context("cargo install cargo-fuzz (needs access to crates.io)")?;
    println!("    cargo-fuzz installed in {:.0?}", started.elapsed());
    Ok(installed)
}

/// Build folder of the fuzz targets (never fuzz/target): $AETHERIUS_FUZZ_TARGET_DIR, else
/// fuzz/ under $CARGO_TARGET_DIR, else target/fuzz. Built with their own flags, they never
/// replace the workspace's artifacts.
fn target_dir(root: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("AETHERIUS_FUZZ_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target")).join("fuzz")
}
