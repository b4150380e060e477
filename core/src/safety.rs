//! The pure part of the five safety layers (1 registry, 2 read-only, 3 arguments). Layers
//! 4 (RBAC) and 5 (cluster access) need a cluster and configuration, so they live in the
//! execution activities; each layer rejects with its own name and reason.

use crate::command::{Command, ResourceKind};
use serde::{Deserialize, Serialize};

/// A safety layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layer {
    /// 1: only registered tools and actions exist.
    ToolRegistry,
    /// 2: nothing that changes the cluster or opens a session into it.
    ReadOnly,
    /// 3: names, flags and bounds.
    Arguments,
    /// 4: SelfSubjectAccessReview for the exact verb/resource/namespace.
    Rbac,
    /// 5: the cluster's namespace allowlist.
    ClusterAccess,
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("rejected by {layer:?}: {reason}")]
pub struct Rejection {
    /// The layer that refused.
    pub layer: Layer,
    /// What was wrong.
    pub reason: String,
}

/// Registered read operations of the `kubectl` tool.
pub const READ_ACTIONS: &[&str] = &["get", "describe", "logs", "events", "top", "rollout-history"];

/// Verbs that change a cluster or open a session into a container.
const MUTATING_ACTIONS: &[&str] = &[
    "apply", "create", "delete", "edit", "patch", "replace", "scale", "autoscale", "label",
    "annotate", "set", "rollout", "drain", "cordon", "uncordon", "taint", "exec", "attach",
    "port-forward", "proxy", "cp", "run", "expose", "debug", "certificate",
];

/// Flags each action accepts.
fn allowed_flags(action: &str) -> &'static [&'static str] {
    match action {
        "get" | "describe" => &["selector", "field-selector", "all-namespaces", "limit"],
        "logs" => &["container", "previous", "tail", "since", "timestamps"],
        "events" => &["for", "field-selector", "limit"],
        "top" => &["selector", "containers"],
        "rollout-history" => &[],
        _ => &[],
    }
}

/// Most log lines a step may ask for.
pub const MAX_TAIL_LINES: u64 = 5000;
/// Most objects a list may ask for.
pub const MAX_LIST_LIMIT: u64 = 1000;

/// Runs layers 1-3 over a command.
pub fn check(cmd: &Command) -> Result<(), Rejection> {
    registry(cmd)?;
    read_only(cmd)?;
    arguments(cmd)
}

fn reject(layer: Layer, reason: impl Into<String>) -> Result<(), Rejection> {
    Err(Rejection { layer, reason: reason.into() })
}

fn registry(cmd: &Command) -> Result<(), Rejection> {
    if cmd.tool != "kubectl" {
        return reject(Layer::ToolRegistry, format!("tool {:?} is not registered", cmd.tool));
    }
    if MUTATING_ACTIONS.contains(&cmd.action.as_str()) {
        return read_only(cmd);
    }
    if !READ_ACTIONS.contains(&cmd.action.as_str()) {
        return reject(Layer::ToolRegistry, format!("action {:?} is not registered", cmd.action));
    }
    if matches!(cmd.action.as_str(), "get" | "describe" | "top" | "rollout-history") {
        match cmd.args.first() {
            None => return reject(Layer::ToolRegistry, "a resource type is required"),
            Some(r) if ResourceKind::lookup(r).is_none() => {
                return reject(Layer::ToolRegistry, format!("resource type {r:?} is not registered"));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn read_only(cmd: &Command) -> Result<(), Rejection> {
    if MUTATING_ACTIONS.contains(&cmd.action.as_str()) {
        return reject(Layer::ReadOnly, format!("{:?} changes the cluster or opens a session into it", cmd.action));
    }
    if (cmd.flags.contains_key("output") || cmd.flags.contains_key("o"))
        && cmd.resource().is_some_and(|r| r.plural == "secrets")
    {
        return reject(Layer::ReadOnly, "Secret values are never read");
    }
    Ok(())
}

fn arguments(cmd: &Command) -> Result<(), Rejection> {
    let allowed = allowed_flags(&cmd.action);
    for (flag, value) in &cmd.flags {
        if !allowed.contains(&flag.as_str()) {
            return reject(Layer::Arguments, format!("flag --{flag} is not allowed for {}", cmd.action));
        }
        if has_shell_metacharacters(value) {
            return reject(Layer::Arguments, format!("flag --{flag} contains shell metacharacters"));
        }
    }
    if let Some(ns) = &cmd.namespace
        && !is_dns1123_label(ns)
    {
        return reject(Layer::Arguments, format!("namespace {ns:?} is not a DNS-1123 label"));
    }
    let names: &[String] = match cmd.action.as_str() {
        "logs" => &cmd.args[..cmd.args.len().min(1)],
        _ => cmd.args.get(1..).unwrap_or_default(),
    };
    if cmd.args.len() > 2 {
        return reject(Layer::Arguments, "at most a resource and one name");
    }
    for name in names {
        if !is_dns1123_subdomain(name) {
            return reject(Layer::Arguments, format!("name {name:?} is not a DNS-1123 name"));
        }
    }
    if cmd.action == "logs" && names.is_empty() {
        return reject(Layer::Arguments, "logs needs a pod name");
    }
    bounded(cmd, "tail", MAX_TAIL_LINES)?;
    bounded(cmd, "limit", MAX_LIST_LIMIT)?;
    Ok(())
}

fn bounded(cmd: &Command, flag: &str, max: u64) -> Result<(), Rejection> {
    if let Some(v) = cmd.flag(flag) {
        match v.parse::<u64>() {
            Ok(n) if n >= 1 && n <= max => {}
            _ => return reject(Layer::Arguments, format!("--{flag}={v} must be a number from 1 to {max}")),
        }
    }
    Ok(())
}

/// Characters a shell would interpret.
pub fn has_shell_metacharacters(s: &str) -> bool {
    s.chars().any(|c| matches!(c, ';' | '|' | '&' | '$' | '`' | '>' | '<' | '\n' | '\r' | '\\' | '(' | ')' | '{' | '}' | '\''| '"' | '*' | '?'))
}

/// DNS-1123 label: lowercase alphanumerics and '-', alphanumeric at both ends, at most 63.
pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// DNS-1123 subdomain: dot-separated labels, at most 253 characters.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(cmd: &Command) -> Option<Layer> {
        check(cmd).err().map(|r| r.layer)
    }

    #[test]
    fn ordinary_reads_pass() {
        assert_eq!(layer(&Command::get("c", Some("shop"), "pods", "checkout-1")), None);
        assert_eq!(layer(&Command::logs("c", "shop", "p", "app", true, 200)), None);
        assert_eq!(layer(&Command::events_for("c", Some("shop"), "Pod", "p")), None);
    }

    #[test]
    fn mutating_and_session_verbs_are_refused_by_read_only() {
        for action in ["delete", "exec", "port-forward", "scale", "patch"] {
            let mut c = Command::get("c", Some("shop"), "pods", "x");
            c.action = action.into();
            assert_eq!(layer(&c), Some(Layer::ReadOnly), "{action}");
        }
    }

    #[test]
    fn unknown_tools_actions_and_resources_are_refused_by_the_registry() {
        let mut c = Command::get("c", Some("shop"), "pods", "x");
        c.tool = "helm".into();
        assert_eq!(layer(&c), Some(Layer::ToolRegistry));
        assert_eq!(layer(&Command::get("c", Some("shop"), "widgets", "x")), Some(Layer::ToolRegistry));
    }

    #[test]
    fn bad_names_flags_and_bounds_are_refused_by_arguments() {
        assert_eq!(layer(&Command::get("c", Some("shop"), "pods", "../etc")), Some(Layer::Arguments));
        assert_eq!(layer(&Command::logs("c", "shop", "p", "app", false, 99_999_999)), Some(Layer::Arguments));
        let mut c = Command::list("c", Some("shop"), "pods", None);
        c.flags.insert("selector".into(), "app=x; rm -rf /".into());
        assert_eq!(layer(&c), Some(Layer::Arguments));
        c.flags.clear();
        c.flags.insert("kubeconfig".into(), "/etc/x".into());
        assert_eq!(layer(&c), Some(Layer::Arguments));
        assert_eq!(layer(&Command::get("c", Some("Shop"), "pods", "x")), Some(Layer::Arguments));
    }

    #[test]
    fn dns_names() {
        assert!(is_dns1123_subdomain("checkout-6f7c9d8b5-x2x9k"));
        assert!(is_dns1123_subdomain("ip-10-0-1-5.ec2.internal"));
        assert!(!is_dns1123_subdomain("-a"));
        assert!(!is_dns1123_label(&"a".repeat(64)));
    }
}
