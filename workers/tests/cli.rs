//! `aetherius command validate`: exit 0 for an allowed line, 1 with the layer and reason
//! for a rejected one.

use sha2::Digest;
use std::process::Command;

fn validate(config: &std::path::Path, line: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_aetherius"))
        .args(["--config", config.to_str().unwrap(), "command", "validate", "--cluster", "prod", line])
        .env("RUST_LOG", "off")
        .output()
        .expect("aetherius runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn command_validate_exit_codes_and_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("aetherius.toml");
    std::fs::write(&config, "[execution.clusters.prod]\nnamespaces = [\"shop\"]\n").unwrap();

    let (code, out) = validate(&config, "kubectl logs deploy/checkout -n shop --previous --tail=200");
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("allowed: kubectl logs deployments/checkout -n shop"), "{out}");

    for (line, expected) in [
        ("kubectl delete pod x -n shop", "layer 2 (read-only)"),
        ("kubectl get pods -n shop; rm -rf /", "layer 3 (arguments)"),
        ("kubectl get pods -n kube-system", "layer 5 (cluster-access)"),
        ("terraform destroy", "layer 1 (tool-registry)"),
    ] {
        let (code, out) = validate(&config, line);
        assert_eq!(code, 1, "{line}: {out}");
        assert!(out.contains(expected), "{line}: {out}");
    }
}

#[test]
fn token_new_prints_a_token_once_and_a_config_entry_holding_only_its_hash() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_aetherius")).args(args).env("RUST_LOG", "off").output().expect("aetherius runs");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, out, err) = run(&["token", "new", "--name", "ci-bot", "--role", "operator"]);
    assert!(ok, "{err}");
    let token = out.lines().nth(1).expect("the token on the second line").trim().to_owned();
    assert!(token.starts_with("aeth_") && token.len() == 69, "{out}");
    let entry = &out[out.find("[[api.auth.tokens]]").expect("a config entry")..];
    assert!(!entry.contains(&token), "the entry must not hold the token: {out}");
    let sha = sha2::Sha256::digest(token.as_bytes());
    assert!(entry.contains(&format!("sha256 = \"{}\"", hex::encode(sha))), "{out}");

    // The entry is a working configuration.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("aetherius.toml");
    std::fs::write(&config, entry).unwrap();
    let loaded = aetherius_workers::config::Config::load(Some(&config)).expect("the printed entry parses");
    assert_eq!(loaded.api.auth.tokens.len(), 1);
    assert_eq!(loaded.api.auth.tokens[0].name, "ci-bot");
    aetherius_api::Auth::new(&loaded.api.auth).expect("the printed entry is accepted");
    // A second token differs.
    let (_, again, _) = run(&["token", "new", "--name", "ci-bot", "--role", "operator"]);
    assert_ne!(again.lines().nth(1), out.lines().nth(1));

    let (ok, _, err) = run(&["token", "new", "--name", "x", "--role", "root"]);
    assert!(!ok && err.contains("unknown role"), "{err}");
}
