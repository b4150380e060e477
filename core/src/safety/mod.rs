//! The five safety layers of DESIGN.md. Every command, whether a rule, an LLM or a human
//! proposed it, passes all five before it touches a cluster; each layer is its own module
//! and rejects with its own name and reason.
//!
//! 1. [`registry`]: only registered tools, actions and resource types exist.
//! 2. [`read_only`]: nothing that changes the cluster or opens a session into it, and
//!    Secret values are never read.
//! 3. [`arguments`]: DNS-1123 names, a per-action flag allowlist, bounded tail / limit /
//!    since, no shell.
//! 4. RBAC: a SelfSubjectAccessReview for the exact verb / resource / namespace before the
//!    call. It needs the cluster, so it runs in the execution activity; [`rbac_attributes`]
//!    is the pure part (what to ask the API server).
//! 5. [`cluster_access`]: the cluster is configured and the namespace is on its allowlist.

pub mod arguments;
pub mod cluster_access;
pub mod read_only;
pub mod registry;

use crate::command::Command;
use serde::{Deserialize, Serialize};

pub use arguments::{MAX_LIST_LIMIT, MAX_SINCE_SECS, MAX_TAIL_LINES};
pub use cluster_access::ClusterAccess;
pub use registry::{READ_ACTIONS, TOOLS, ToolSpec};

/// A safety layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
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

impl Layer {
    /// The layer's number in DESIGN.md.
    pub fn number(self) -> u8 {
        match self {
            Layer::ToolRegistry => 1,
            Layer::ReadOnly => 2,
            Layer::Arguments => 3,
            Layer::Rbac => 4,
            Layer::ClusterAccess => 5,
        }
    }

    /// Stable kebab-case name (as serialized).
    pub fn name(self) -> &'static str {
        match self {
            Layer::ToolRegistry => "tool-registry",
            Layer::ReadOnly => "read-only",
            Layer::Arguments => "arguments",
            Layer::Rbac => "rbac",
            Layer::ClusterAccess => "cluster-access",
        }
    }
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("rejected by layer {} ({}): {reason}", layer.number(), layer.name())]
pub struct Rejection {
    /// The layer that refused.
    pub layer: Layer,
    /// What was wrong.
    pub reason: String,
}

impl Rejection {
    /// A rejection by `layer`.
    pub fn new(layer: Layer, reason: impl Into<String>) -> Self {
        Rejection { layer, reason: reason.into() }
    }
}

pub(crate) fn reject(layer: Layer, reason: impl Into<String>) -> Result<(), Rejection> {
    Err(Rejection::new(layer, reason))
}

/// Runs the pure layers 1-3 over a command.
pub fn check(cmd: &Command) -> Result<(), Rejection> {
    registry::check(cmd)?;
    read_only::check(cmd)?;
    arguments::check(cmd)
}

/// Runs layers 1-3 and 5 (everything but the RBAC question, which needs the cluster).
pub fn check_with_access(cmd: &Command, access: &ClusterAccess) -> Result<(), Rejection> {
    check(cmd)?;
    cluster_access::check(cmd, access)
}

/// What layer 4 asks the API server for a command: a SelfSubjectAccessReview's
/// `resourceAttributes`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RbacAttributes {
    /// `get`, `list`.
    pub verb: String,
    /// API group ("" for core).
    pub group: String,
    /// Plural resource.
    pub resource: String,
    /// Subresource (`log`), if any.
    pub subresource: Option<String>,
    /// Namespace; `None` for cluster-scoped reads or all namespaces.
    pub namespace: Option<String>,
    /// Object name for a `get`.
    pub name: Option<String>,
}

/// The access reviews a command needs (layer 4), in order. A command passing layers 1-3
/// always yields at least one.
pub fn rbac_attributes(cmd: &Command) -> Vec<RbacAttributes> {
    let resource = cmd.resource();
    let all = cmd.flag("all-namespaces") == Some("true");
    let ns = |namespaced: bool| if namespaced && !all { cmd.namespace.clone() } else { None };
    let attr = |verb: &str, group: &str, res: &str, sub: Option<&str>, namespaced: bool, name: Option<&str>| RbacAttributes {
        verb: verb.into(),
        group: group.into(),
        resource: res.into(),
        subresource: sub.map(str::to_owned),
        namespace: ns(namespaced),
        name: name.map(str::to_owned),
    };
    let events = attr("list", "", "events", None, true, None);
    match cmd.action.as_str() {
        "get" | "describe" => {
            let Some(r) = resource else { return vec![] };
            let main = match cmd.name() {
                Some(n) => attr("get", r.group, r.plural, None, r.namespaced, Some(n)),
                None => attr("list", r.group, r.plural, None, r.namespaced, None),
            };
            if cmd.action == "describe" { vec![main, events] } else { vec![main] }
        }
        "events" => vec![events],
        "logs" => {
            let Some(target) = cmd.log_target() else { return vec![] };
            let mut v = vec![];
            if target.0.plural != "pods" {
                v.push(attr("get", target.0.group, target.0.plural, None, true, Some(target.1)));
                v.push(attr("list", "", "pods", None, true, None));
            }
            let pod = if target.0.plural == "pods" { Some(target.1) } else { None };
            v.push(attr("get", "", "pods", Some("log"), true, pod));
            v
        }
        "top" => {
            let Some(r) = resource else { return vec![] };
            let verb = if cmd.name().is_some() { "get" } else { "list" };
            vec![attr(verb, "metrics.k8s.io", r.plural, None, r.namespaced, cmd.name())]
        }
        "rollout-history" => vec![
            attr("get", "apps", "deployments", None, true, cmd.name()),
            attr("list", "apps", "replicasets", None, true, None),
        ],
        _ => vec![],
    }
}

/// A character a shell would interpret. Commands never reach a shell, but a line holding
/// one was written for one, so it is refused rather than guessed at.
pub fn is_shell_metacharacter(c: char) -> bool {
    matches!(c, ';' | '|' | '&' | '$' | '`' | '>' | '<' | '\n' | '\r' | '\\' | '\0')
}

/// Whether `s` holds any [`is_shell_metacharacter`].
pub fn has_shell_metacharacters(s: &str) -> bool {
    s.chars().any(is_shell_metacharacter)
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

    #[test]
    fn dns_names() {
        assert!(is_dns1123_subdomain("checkout-6f7c9d8b5-x2x9k"));
        assert!(is_dns1123_subdomain("ip-10-0-1-5.ec2.internal"));
        assert!(!is_dns1123_subdomain("-a"));
        assert!(!is_dns1123_subdomain("a..b"));
        assert!(!is_dns1123_label(&"a".repeat(64)));
    }

    #[test]
    fn rejections_name_their_layer() {
        let r = Rejection::new(Layer::ReadOnly, "\"delete\" changes the cluster");
        assert_eq!(r.to_string(), "rejected by layer 2 (read-only): \"delete\" changes the cluster");
    }

    #[test]
    fn rbac_asks_for_the_exact_verb_resource_and_namespace() {
        let get = Command::get("c", Some("shop"), "deploy", "checkout");
        assert_eq!(
            rbac_attributes(&get),
            vec![RbacAttributes {
                verb: "get".into(),
                group: "apps".into(),
                resource: "deployments".into(),
                subresource: None,
                namespace: Some("shop".into()),
                name: Some("checkout".into()),
            }]
        );
        let logs = Command::logs("c", "shop", "checkout-1", "app", true, 10);
        let a = rbac_attributes(&logs);
        assert_eq!((a[0].verb.as_str(), a[0].subresource.as_deref()), ("get", Some("log")));
        let nodes = Command::list("c", None, "nodes", None);
        assert_eq!(rbac_attributes(&nodes)[0].namespace, None);
        let describe = Command { action: "describe".into(), ..Command::get("c", Some("shop"), "pods", "p") };
        assert_eq!(rbac_attributes(&describe)[1].resource, "events");
    }
}
