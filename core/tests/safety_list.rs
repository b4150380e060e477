//! The list of commands that must be refused, each by the right layer, and a
//! property test: no line, however mangled, panics the parser or validator, and no
//! mutating command is ever accepted.

use aetherius_core::{
    kubectl,
    safety::{self, ClusterAccess, Layer, READ_ACTIONS, registry::MUTATING_ACTIONS},
};
use proptest::prelude::*;

fn access() -> ClusterAccess {
    ClusterAccess::default().with("prod", &["shop", "orders"])
}

fn verdict(line: &str) -> Result<(), safety::Rejection> {
    let cmd = kubectl::parse(line, "prod")?;
    safety::check_with_access(&cmd, &access())
}

#[test]
fn the_rejection_list_is_enforced_layer_by_layer() {
    let cases: &[(&str, Layer, &str)] = &[
        ("kubectl delete pod x -n shop", Layer::ReadOnly, "changes the cluster"),
        ("kubectl exec -it x -n shop -- sh", Layer::ReadOnly, "session"),
        ("kubectl get secret db -o yaml -n shop", Layer::ReadOnly, "Secret values"),
        ("kubectl get pods -n shop; rm -rf /", Layer::Arguments, "shell metacharacter"),
        ("kubectl get pods -n kube-system", Layer::ClusterAccess, "kube-system"),
        ("kubectl logs x -n shop --tail=99999999", Layer::Arguments, "--tail"),
        ("kubectl get pods ../etc/passwd -n shop", Layer::Arguments, "DNS-1123"),
        ("kubectl get pods -n shop --kubeconfig=/root/.kube/config", Layer::Arguments, "--kubeconfig is not allowed"),
        ("kubectl get pods -n shop --as=system:admin", Layer::Arguments, "--as is not allowed"),
        ("kubectl logs x -n shop -f", Layer::Arguments, "--follow is not allowed"),
        ("helm list -A", Layer::ToolRegistry, "helm"),
        ("kubectl frobnicate pods", Layer::ToolRegistry, "frobnicate"),
        ("kubectl get widgets -n shop", Layer::ToolRegistry, "widgets"),
        ("kubectl port-forward svc/db 5432 -n shop", Layer::ReadOnly, "tunnel"),
        ("kubectl rollout restart deploy/checkout -n shop", Layer::ReadOnly, "changes the cluster"),
        ("kubectl get pods -A", Layer::ClusterAccess, "allowlist"),
    ];
    for (line, layer, needle) in cases {
        let r = verdict(line).expect_err(line);
        assert_eq!(r.layer, *layer, "{line}: {r}");
        assert!(r.to_string().contains(needle), "{line}: {r} should mention {needle:?}");
    }
}

#[test]
fn ordinary_diagnostic_lines_are_allowed() {
    for line in [
        "kubectl get pods -n shop",
        "kubectl get pod checkout-6f7c9d8b5-x2x9k -n shop -o yaml",
        "kubectl describe deploy/checkout -n shop",
        "kubectl logs deploy/checkout -n shop --previous --tail=200",
        "kubectl logs checkout-1 -c app -n orders --since=30m",
        "kubectl events --for pod/checkout-1 -n shop",
        "kubectl get events -n shop --field-selector involvedObject.name=checkout-1,type=Warning",
        "kubectl top pod -n shop",
        "kubectl top node",
        "kubectl get nodes -o wide",
        "kubectl rollout history deployment/checkout -n shop",
        "kubectl get secrets -n shop",
    ] {
        if let Err(r) = verdict(line) {
            panic!("{line}: {r}");
        }
    }
}

fn token() -> impl Strategy<Value = String> {
    let words: Vec<String> = [
        "kubectl", "get", "describe", "logs", "events", "top", "rollout", "history", "restart", "delete", "exec",
        "apply", "patch", "scale", "cp", "proxy", "port-forward", "debug", "edit", "pods", "pod/x", "deploy/checkout",
        "secret", "secrets", "nodes", "-n", "shop", "kube-system", "-A", "-o", "yaml", "json", "-it", "--", "sh",
        "--previous", "-p", "--tail=10", "--tail", "99999999", "-l", "app=x", "--force", "--grace-period=0", "x",
        "../x", "-c", "app", "--since=1h", "--raw", "/api", "--as=admin", "'", "\"", ";", "|", "$(id)", "--for",
        "=", "-", "--=", "-nshop", "-oyaml", "rm", "-rf", "/",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    prop_oneof![4 => proptest::sample::select(words), 1 => "\\PC{0,12}"]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn no_line_panics_and_nothing_mutating_is_accepted(tokens in proptest::collection::vec(token(), 0..10)) {
        let line = format!("kubectl {}", tokens.join(" "));
        if let Ok(cmd) = kubectl::parse(&line, "prod")
            && safety::check(&cmd).is_ok()
        {
                prop_assert!(READ_ACTIONS.contains(&cmd.action.as_str()), "{line} accepted as {}", cmd.action);
                prop_assert!(!MUTATING_ACTIONS.contains(&cmd.action.as_str()));
                prop_assert!(cmd.tool == "kubectl");
                let secret_dump = cmd.resource().is_some_and(|r| r.plural == "secrets")
                    && cmd.flag("output").is_some_and(|o| o != "name" && o != "wide");
                prop_assert!(!secret_dump, "{line} would print Secret values");
                for forbidden in ["force", "grace-period", "raw", "as", "stdin", "tty", "follow", "kubeconfig"] {
                    prop_assert!(cmd.flag(forbidden).is_none(), "{line} kept --{forbidden}");
                }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(line in "\\PC{0,200}") {
        if let Ok(cmd) = kubectl::parse(&line, "prod") {
            let _verdict = safety::check_with_access(&cmd, &access());
        }
    }
}
