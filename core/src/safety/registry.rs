//! Layer 1, the tool registry: only registered tools, actions and resource types exist.
//! It is also what `GET /tools` lists.

use super::{Layer, reject, Rejection};
use crate::command::{Command, ResourceKind};
use serde::Serialize;

/// One registered action of a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ToolSpec {
    /// Tool (`kubectl`).
    pub tool: &'static str,
    /// Action (`get`, `logs`, ...).
    pub action: &'static str,
    /// What it reads.
    pub description: &'static str,
    /// Positional arguments, as kubectl's usage line writes them.
    pub usage: &'static str,
    /// Flags it accepts (long names, without dashes).
    pub flags: &'static [&'static str],
    /// Whether the first argument is a resource type from [`crate::command::RESOURCE_KINDS`].
    pub takes_resource: bool,
}

/// Every registered operation. Nothing else can run.
pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        tool: "kubectl",
        action: "get",
        description: "one object or a list, with label / field selectors",
        usage: "kubectl get TYPE[/NAME] [NAME] [-n NS | -A] [-l SEL] [--field-selector SEL] [-o yaml|json|wide|name] [--limit N]",
        flags: &["selector", "field-selector", "all-namespaces", "limit", "output"],
        takes_resource: true,
    },
    ToolSpec {
        tool: "kubectl",
        action: "describe",
        description: "the facts of one object (or a selection) and its events",
        usage: "kubectl describe TYPE[/NAME] [NAME] [-n NS | -A] [-l SEL]",
        flags: &["selector", "all-namespaces"],
        takes_resource: true,
    },
    ToolSpec {
        tool: "kubectl",
        action: "logs",
        description: "a container's log, current or previous instance (of a pod, or of a workload's first pod)",
        usage: "kubectl logs POD|TYPE/NAME [-c CONTAINER] [-n NS] [-p] [--tail N] [--since 1h] [--timestamps]",
        flags: &["container", "previous", "tail", "since", "timestamps"],
        takes_resource: false,
    },
    ToolSpec {
        tool: "kubectl",
        action: "events",
        description: "events, of one object or a namespace, oldest first",
        usage: "kubectl events [--for TYPE/NAME] [-n NS | -A] [--field-selector SEL] [--limit N]",
        flags: &["for", "field-selector", "all-namespaces", "limit"],
        takes_resource: false,
    },
    ToolSpec {
        tool: "kubectl",
        action: "top",
        description: "CPU and memory usage from metrics.k8s.io",
        usage: "kubectl top pod|node [NAME] [-n NS | -A] [-l SEL] [--containers]",
        flags: &["selector", "containers", "all-namespaces"],
        takes_resource: true,
    },
    ToolSpec {
        tool: "kubectl",
        action: "rollout-history",
        description: "a Deployment's revisions (its ReplicaSets)",
        usage: "kubectl rollout history deployment/NAME [-n NS]",
        flags: &[],
        takes_resource: true,
    },
];

/// Registered read actions of the `kubectl` tool.
pub const READ_ACTIONS: &[&str] = &["get", "describe", "logs", "events", "top", "rollout-history"];

/// kubectl verbs that change a cluster or open a session into it. They are known, so
/// that layer 2 can name why they are refused, but never registered.
pub const MUTATING_ACTIONS: &[&str] = &[
    "apply", "create", "delete", "edit", "patch", "replace", "scale", "autoscale", "label",
    "annotate", "set", "rollout", "rollout-restart", "rollout-undo", "rollout-pause",
    "rollout-resume", "drain", "cordon", "uncordon", "taint", "exec", "attach",
    "port-forward", "proxy", "cp", "run", "expose", "debug", "certificate", "wait", "kustomize",
];

/// The registered spec of `tool action`.
pub fn spec(tool: &str, action: &str) -> Option<&'static ToolSpec> {
    TOOLS.iter().find(|t| t.tool == tool && t.action == action)
}

/// Layer 1. Known mutating verbs pass through to layer 2, which says why they are refused.
pub fn check(cmd: &Command) -> Result<(), Rejection> {
    if !TOOLS.iter().any(|t| t.tool == cmd.tool) {
        return reject(Layer::ToolRegistry, format!("tool {:?} is not registered (registered: kubectl)", cmd.tool));
    }
    if MUTATING_ACTIONS.contains(&cmd.action.as_str()) {
        return Ok(());
    }
    let Some(spec) = spec(&cmd.tool, &cmd.action) else {
        return reject(
            Layer::ToolRegistry,
            format!("action {:?} is not registered (registered: {})", cmd.action, READ_ACTIONS.join(", ")),
        );
    };
    if spec.takes_resource {
        match cmd.args.first() {
            None => return reject(Layer::ToolRegistry, format!("{} needs a resource type", cmd.action)),
            Some(r) => match ResourceKind::lookup(r) {
                None => return reject(Layer::ToolRegistry, format!("resource type {r:?} is not registered")),
                Some(k) if cmd.action == "top" && !matches!(k.plural, "pods" | "nodes") => {
                    return reject(Layer::ToolRegistry, format!("top reads pods or nodes, not {}", k.plural));
                }
                Some(k) if cmd.action == "rollout-history" && k.plural != "deployments" => {
                    return reject(Layer::ToolRegistry, format!("rollout history reads deployments, not {}", k.plural));
                }
                Some(_) => {}
            },
        }
    }
    if cmd.action == "logs"
        && let Some(r) = cmd.args.first().filter(|_| cmd.args.len() == 2)
        && !ResourceKind::lookup(r).is_some_and(|k| LOG_OWNERS.contains(&k.plural))
    {
        return reject(Layer::ToolRegistry, format!("logs reads pods or a workload's pod, not {r:?}"));
    }
    Ok(())
}

/// Resources `kubectl logs TYPE/NAME` accepts.
pub const LOG_OWNERS: &[&str] = &["pods", "deployments", "replicasets", "statefulsets", "daemonsets", "jobs"];

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(cmd: &Command) -> Option<Layer> {
        check(cmd).err().map(|r| r.layer)
    }

    #[test]
    fn reads_are_registered() {
        assert_eq!(layer(&Command::get("c", Some("shop"), "pods", "x")), None);
        assert_eq!(layer(&Command::events_for("c", Some("shop"), "Pod", "x")), None);
    }

    #[test]
    fn unknown_tools_actions_and_resources_are_refused() {
        let helm = Command { tool: "helm".into(), ..Command::get("c", Some("shop"), "pods", "x") };
        assert_eq!(layer(&helm), Some(Layer::ToolRegistry));
        let api = Command { action: "api-versions".into(), ..Command::get("c", None, "pods", "x") };
        assert_eq!(layer(&api), Some(Layer::ToolRegistry));
        assert_eq!(layer(&Command::get("c", Some("shop"), "widgets", "x")), Some(Layer::ToolRegistry));
        let top = Command { action: "top".into(), ..Command::list("c", Some("shop"), "services", None) };
        assert_eq!(layer(&top), Some(Layer::ToolRegistry));
    }

    #[test]
    fn mutating_verbs_are_left_to_the_read_only_layer() {
        let delete = Command { action: "delete".into(), ..Command::get("c", Some("shop"), "pods", "x") };
        assert_eq!(layer(&delete), None);
    }

    #[test]
    fn every_spec_is_a_read_action() {
        for t in TOOLS {
            assert!(READ_ACTIONS.contains(&t.action), "{}", t.action);
            assert!(!MUTATING_ACTIONS.contains(&t.action));
        }
        assert_eq!(TOOLS.len(), READ_ACTIONS.len());
    }
}
