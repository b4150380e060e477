//! Layer 2, read-only: no verb that changes the cluster or opens a session into a
//! container, and Secret values never leave the cluster: the execution pool reads Secrets
//! as metadata only (`PartialObjectMetadata`) for get, describe and list alike, whatever
//! the selectors, and this layer refuses the output formats that exist to print values.

use super::{Layer, Rejection, registry::MUTATING_ACTIONS, reject};
use crate::command::Command;

/// Output formats that print nothing beyond names and summary columns.
const SAFE_SECRET_OUTPUTS: &[&str] = &["name", "wide"];

/// Layer 2.
pub fn check(cmd: &Command) -> Result<(), Rejection> {
    if MUTATING_ACTIONS.contains(&cmd.action.as_str()) {
        let what = match cmd.action.as_str() {
            "exec" | "attach" | "debug" | "cp" => "opens a session into a container",
            "port-forward" | "proxy" => "opens a tunnel into the cluster",
            _ => "changes the cluster",
        };
        return reject(Layer::ReadOnly, format!("{:?} {what}; Aetherius only reads", cmd.action.replace('-', " ")));
    }
    let secrets = cmd.resource().is_some_and(|r| r.plural == "secrets");
    if secrets
        && let Some(output) = cmd.flag("output")
        && !SAFE_SECRET_OUTPUTS.contains(&output)
    {
        return reject(Layer::ReadOnly, format!("-o {output} would print Secret values, which are never read"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(action: &str) -> Command {
        Command { action: action.into(), ..Command::get("c", Some("shop"), "pods", "x") }
    }

    #[test]
    fn mutating_and_session_verbs_are_refused() {
        for action in ["delete", "exec", "port-forward", "scale", "patch", "rollout-restart", "cp", "drain"] {
            let r = check(&with(action)).unwrap_err();
            assert_eq!(r.layer, Layer::ReadOnly, "{action}");
        }
        assert!(check(&with("exec")).unwrap_err().reason.contains("session"));
    }

    #[test]
    fn secret_values_are_never_printed() {
        let mut c = Command::get("c", Some("shop"), "secret", "db");
        assert!(check(&c).is_ok(), "a Secret's metadata may be read; its values are never fetched");
        for o in ["yaml", "json", "jsonpath={.data.password}", "go-template={{.data}}"] {
            c.flags.insert("output".into(), o.into());
            assert_eq!(check(&c).unwrap_err().layer, Layer::ReadOnly, "{o}");
        }
        c.flags.insert("output".into(), "name".into());
        assert!(check(&c).is_ok());
        let mut cm = Command::get("c", Some("shop"), "configmaps", "app");
        cm.flags.insert("output".into(), "yaml".into());
        assert!(check(&cm).is_ok());
    }
}
