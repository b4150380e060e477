//! Parses kubectl-style lines (`kubectl logs deploy/checkout -n shop --previous --tail=200`)
//! into a [`Command`], so commands proposed by an LLM or typed by a human take exactly the
//! same path as the rules' own. Parsing only shapes the command; whether it may run is the
//! safety layers' job ([`crate::safety`]), except for lines that cannot be read without a
//! shell (metacharacters, unbalanced quotes), which are refused here by layer 3.

use crate::{
    command::{Command, DEFAULT_TIMEOUT_SECS, ResourceKind},
    safety::{Layer, Rejection, is_shell_metacharacter},
};
use std::collections::BTreeMap;

/// Longest line accepted.
pub const MAX_LINE_BYTES: usize = 4096;

/// Flags that never take a value.
const BOOLEAN_FLAGS: &[&str] = &[
    "previous", "all-namespaces", "timestamps", "containers", "follow", "watch", "stdin", "tty",
    "force", "all", "ignore-not-found", "show-labels", "no-headers", "recursive", "quiet",
];

/// Short flags and their long names.
fn long_name(short: char) -> Option<&'static str> {
    Some(match short {
        'n' => "namespace",
        'A' => "all-namespaces",
        'l' => "selector",
        'c' => "container",
        'p' => "previous",
        'o' => "output",
        'f' => "follow",
        'w' => "watch",
        'i' => "stdin",
        't' => "tty",
        'L' => "label-columns",
        'R' => "recursive",
        'k' => "kustomize",
        _ => return None,
    })
}

fn takes_value(long: &str) -> bool {
    !BOOLEAN_FLAGS.contains(&long)
}

fn refuse(reason: impl Into<String>) -> Rejection {
    Rejection::new(Layer::Arguments, reason)
}

/// Parses one kubectl line for `cluster`. Namespaced reads without `-n` use `default`, as
/// kubectl does with a context that names no namespace.
pub fn parse(line: &str, cluster: &str) -> Result<Command, Rejection> {
    let line = line.trim();
    if line.is_empty() {
        return Err(refuse("the command is empty"));
    }
    if line.len() > MAX_LINE_BYTES {
        return Err(refuse(format!("the command is longer than {MAX_LINE_BYTES} bytes")));
    }
    if let Some(c) = line.chars().find(|c| is_shell_metacharacter(*c)) {
        return Err(refuse(format!("shell metacharacter {c:?}: commands never run in a shell, one read per command")));
    }
    let tokens = shlex::split(line).ok_or_else(|| refuse("unbalanced quotes"))?;
    let (tool, rest) = tokens.split_first().ok_or_else(|| refuse("the command is empty"))?;
    if tool != "kubectl" {
        return Err(Rejection::new(Layer::ToolRegistry, format!("tool {tool:?} is not registered (registered: kubectl)")));
    }

    let mut positional: Vec<String> = vec![];
    let mut flags: BTreeMap<String, String> = BTreeMap::new();
    let mut namespace: Option<String> = None;
    let mut set = |name: &str, value: String, namespace: &mut Option<String>| -> Result<(), Rejection> {
        let name = match name {
            "label-selector" | "l" => "selector",
            "all-namespace" => "all-namespaces",
            other => other,
        };
        if name == "namespace" {
            if namespace.as_ref().is_some_and(|ns| *ns != value) {
                return Err(refuse("two different namespaces given"));
            }
            *namespace = Some(value);
            return Ok(());
        }
        if flags.insert(name.to_owned(), value).is_some() {
            return Err(refuse(format!("flag --{name} given twice")));
        }
        Ok(())
    };

    let mut iter = rest.iter().peekable();
    while let Some(tok) = iter.next() {
        if tok == "--" {
            // Everything after `--` is a command for a container (`exec ... -- sh`).
            positional.extend(iter.by_ref().cloned());
            break;
        }
        if let Some(long) = tok.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            if name.is_empty() {
                return Err(refuse(format!("malformed flag {tok:?}")));
            }
            let value = match inline {
                Some(v) => v,
                None if takes_value(name) => match iter.peek() {
                    Some(next) if !next.starts_with('-') => iter.next().cloned().unwrap_or_default(),
                    _ => return Err(refuse(format!("flag --{name} needs a value"))),
                },
                None => "true".to_owned(),
            };
            set(name, value, &mut namespace)?;
        } else if let Some(shorts) = tok.strip_prefix('-').filter(|s| !s.is_empty()) {
            for (i, c) in shorts.char_indices() {
                let Some(name) = long_name(c) else {
                    return Err(refuse(format!("flag -{c} is not allowed")));
                };
                if takes_value(name) {
                    let attached = shorts[i + c.len_utf8()..].trim_start_matches('=');
                    let value = if !attached.is_empty() {
                        attached.to_owned()
                    } else {
                        match iter.peek() {
                            Some(next) if !next.starts_with('-') => iter.next().cloned().unwrap_or_default(),
                            _ => return Err(refuse(format!("flag -{c} needs a value"))),
                        }
                    };
                    set(name, value, &mut namespace)?;
                    break;
                }
                set(name, "true".into(), &mut namespace)?;
            }
        } else {
            positional.push(tok.clone());
        }
    }

    let mut positional = positional.into_iter();
    let verb = positional.next().ok_or_else(|| refuse("no action after kubectl"))?;
    let action = match verb.as_str() {
        "rollout" => match positional.next() {
            Some(sub) => format!("rollout-{sub}"),
            None => "rollout".to_owned(),
        },
        _ => verb,
    };
    let mut args: Vec<String> = vec![];
    for p in positional {
        match p.split_once('/') {
            // TYPE/NAME, as kubectl writes it.
            Some((kind, name)) if args.is_empty() && ResourceKind::lookup(kind).is_some() => {
                args.push(kind.to_owned());
                args.push(name.to_owned());
            }
            _ => args.push(p),
        }
    }
    // Canonical resource names, so the same read is recognized however it was spelled.
    let takes_resource = matches!(action.as_str(), "get" | "describe" | "top" | "rollout-history");
    if (takes_resource || (action == "logs" && args.len() == 2))
        && let Some(first) = args.first_mut()
        && let Some(kind) = ResourceKind::lookup(first)
    {
        *first = kind.plural.to_owned();
    }
    if action == "logs" && args.len() == 2 && args[0] == "pods" {
        args.remove(0);
    }

    let all = flags.get("all-namespaces").is_some_and(|v| v == "true");
    let namespaced = if takes_resource {
        args.first().and_then(|r| ResourceKind::lookup(r)).is_none_or(|r| r.namespaced)
    } else {
        true
    };
    if all && namespace.is_some() {
        return Err(refuse("-n and --all-namespaces together"));
    }
    let namespace = match (namespace, all, namespaced) {
        (Some(ns), _, _) => Some(ns),
        (None, false, true) => Some("default".to_owned()),
        _ => None,
    };
    Ok(Command {
        id: String::new(),
        tool: tool.clone(),
        action,
        args,
        flags,
        cluster_id: cluster.to_owned(),
        namespace,
        timeout_secs: DEFAULT_TIMEOUT_SECS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety;

    fn parsed(line: &str) -> Command {
        parse(line, "demo").unwrap_or_else(|r| panic!("{line}: {r}"))
    }

    #[test]
    fn the_issue_example_parses_to_the_structured_command() {
        let c = parsed("kubectl logs deploy/checkout -n shop --previous --tail=200");
        assert_eq!(c.action, "logs");
        assert_eq!(c.args, vec!["deployments", "checkout"]);
        assert_eq!(c.namespace.as_deref(), Some("shop"));
        assert_eq!(c.flag("previous"), Some("true"));
        assert_eq!(c.flag("tail"), Some("200"));
        assert!(safety::check(&c).is_ok());
    }

    #[test]
    fn kubectl_spellings_normalise() {
        let a = parsed("kubectl get po checkout-1 -n shop");
        let b = parsed("kubectl get pod/checkout-1 --namespace=shop");
        let c = parsed("kubectl get pods checkout-1 --namespace shop");
        assert_eq!(a.key(), b.key());
        assert_eq!(b.key(), c.key());
        let l = parsed("kubectl logs checkout-1 -c app -p -n shop --tail 50");
        assert_eq!((l.flag("container"), l.flag("previous"), l.flag("tail")), (Some("app"), Some("true"), Some("50")));
        assert_eq!(parsed("kubectl logs pod/checkout-1 -n shop").args, vec!["checkout-1"]);
        let sel = parsed("kubectl get pods -l 'app=checkout,tier in (web)' -oyaml");
        assert_eq!(sel.flag("selector"), Some("app=checkout,tier in (web)"));
        assert_eq!(sel.flag("output"), Some("yaml"));
        let all = parsed("kubectl get pods -A");
        assert_eq!((all.namespace.as_deref(), all.flag("all-namespaces")), (None, Some("true")));
        assert_eq!(parsed("kubectl get nodes").namespace, None);
        assert_eq!(parsed("kubectl get pods").namespace.as_deref(), Some("default"));
        let h = parsed("kubectl rollout history deployment/checkout -n shop");
        assert_eq!((h.action.as_str(), h.args.as_slice()), ("rollout-history", &["deployments".to_owned(), "checkout".to_owned()][..]));
        assert_eq!(parsed("kubectl top pod -n shop --containers").args, vec!["pods"]);
        assert_eq!(parsed("kubectl events --for pod/x -n shop").flag("for"), Some("pod/x"));
    }

    #[test]
    fn display_round_trips() {
        for line in [
            "kubectl logs deployments/checkout -n shop --previous --tail=200",
            "kubectl get pods -n shop --selector=app=checkout",
            "kubectl rollout history deployments checkout -n shop",
            // Found by the fuzz target: values with spaces or quotes are printed quoted.
            "kubectl get pods -l 'app=checkout,tier in (web)' -oyaml",
            "kubectl get pods -n shop -l \"team=it's\"",
        ] {
            let c = parsed(line);
            assert_eq!(parsed(&c.to_string()), c, "{line}");
        }
    }

    #[test]
    fn lines_written_for_a_shell_are_refused() {
        for line in ["kubectl get pods; rm -rf /", "kubectl get pods | grep x", "kubectl get pods $(id)", "kubectl logs `x`", "kubectl get pods > /tmp/x", "kubectl get pods 'x"] {
            let r = parse(line, "demo").unwrap_err();
            assert_eq!(r.layer, Layer::Arguments, "{line}");
        }
        assert_eq!(parse("helm list", "demo").unwrap_err().layer, Layer::ToolRegistry);
        assert_eq!(parse("", "demo").unwrap_err().layer, Layer::Arguments);
        assert!(parse("kubectl get pods -n a -n b", "demo").is_err());
        assert!(parse("kubectl logs x --tail", "demo").is_err());
    }
}
