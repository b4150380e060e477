//! `aetherius command validate`: exit 0 for an allowed line, 1 with the layer and reason
//! for a rejected one.

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
