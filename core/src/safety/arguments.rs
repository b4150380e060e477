//! Layer 3, arguments: DNS-1123 names and namespaces, a per-action flag allowlist with
//! checked values, bounded tail / limit / since, and nothing a shell would interpret.

use super::{Layer, Rejection, has_shell_metacharacters, is_dns1123_label, is_dns1123_subdomain, registry, reject};
use crate::command::{Command, ResourceKind};

/// Most log lines a step may ask for.
pub const MAX_TAIL_LINES: u64 = 5000;
/// Most objects a list may ask for.
pub const MAX_LIST_LIMIT: u64 = 1000;
/// Longest `--since` window: 7 days.
pub const MAX_SINCE_SECS: u64 = 7 * 24 * 3600;

/// Output formats `get` may render.
const OUTPUTS: &[&str] = &["yaml", "json", "wide", "name"];

/// Layer 3.
pub fn check(cmd: &Command) -> Result<(), Rejection> {
    let allowed = registry::spec(&cmd.tool, &cmd.action).map(|s| s.flags).unwrap_or_default();
    for (flag, value) in &cmd.flags {
        if !allowed.contains(&flag.as_str()) {
            let hint = if allowed.is_empty() { "none".to_owned() } else { allowed.join(", ") };
            return reject(Layer::Arguments, format!("flag --{flag} is not allowed for {} (allowed: {hint})", cmd.action));
        }
        if has_shell_metacharacters(value) {
            return reject(Layer::Arguments, format!("--{flag} holds shell metacharacters: {value:?}"));
        }
        flag_value(flag, value)?;
    }
    if let Some(ns) = &cmd.namespace
        && !is_dns1123_label(ns)
    {
        return reject(Layer::Arguments, format!("namespace {ns:?} is not a DNS-1123 label"));
    }
    if cmd.args.len() > 2 {
        return reject(Layer::Arguments, format!("at most a resource type and one name, got {:?}", cmd.args));
    }
    for arg in &cmd.args {
        if has_shell_metacharacters(arg) {
            return reject(Layer::Arguments, format!("argument {arg:?} holds shell metacharacters"));
        }
    }
    let names: &[String] = match cmd.action.as_str() {
        "logs" => cmd.args.last().map(std::slice::from_ref).unwrap_or_default(),
        "events" => &cmd.args[..],
        _ => cmd.args.get(1..).unwrap_or_default(),
    };
    for name in names {
        if !is_dns1123_subdomain(name) {
            return reject(Layer::Arguments, format!("name {name:?} is not a DNS-1123 name"));
        }
    }
    if cmd.action == "logs" && names.is_empty() {
        return reject(Layer::Arguments, "logs needs a pod (or TYPE/NAME of a workload)");
    }
    if cmd.action == "rollout-history" && names.is_empty() {
        return reject(Layer::Arguments, "rollout history needs a deployment name");
    }
    if cmd.timeout_secs == 0 {
        return reject(Layer::Arguments, "timeout must be at least one second");
    }
    Ok(())
}

fn flag_value(flag: &str, value: &str) -> Result<(), Rejection> {
    match flag {
        "tail" => bounded(flag, value, MAX_TAIL_LINES),
        "limit" => bounded(flag, value, MAX_LIST_LIMIT),
        "since" => match parse_duration_secs(value) {
            Some(s) if (1..=MAX_SINCE_SECS).contains(&s) => Ok(()),
            _ => reject(Layer::Arguments, format!("--since={value} must be a duration from 1s to 168h (e.g. 30m, 2h)")),
        },
        "previous" | "timestamps" | "containers" | "all-namespaces" => match value {
            "true" | "false" => Ok(()),
            _ => reject(Layer::Arguments, format!("--{flag} takes no value, got {value:?}")),
        },
        "container" if !is_dns1123_label(value) => {
            reject(Layer::Arguments, format!("container {value:?} is not a DNS-1123 label"))
        }
        "output" if !OUTPUTS.contains(&value) => {
            reject(Layer::Arguments, format!("-o {value} is not allowed (allowed: {})", OUTPUTS.join(", ")))
        }
        "selector" | "field-selector" if !is_selector(value) => {
            reject(Layer::Arguments, format!("--{flag}={value:?} is not a valid selector"))
        }
        "for" => {
            let ok = value.split_once('/').is_some_and(|(kind, name)| {
                ResourceKind::lookup(kind).is_some() && is_dns1123_subdomain(name)
            });
            if ok { Ok(()) } else { reject(Layer::Arguments, format!("--for={value:?} must be TYPE/NAME")) }
        }
        _ => Ok(()),
    }
}

fn bounded(flag: &str, value: &str, max: u64) -> Result<(), Rejection> {
    match value.parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(()),
        _ => reject(Layer::Arguments, format!("--{flag}={value} must be a number from 1 to {max}")),
    }
}

/// Label / field selector syntax: keys, values, `=`, `==`, `!=`, `!key`, `in (a,b)`.
fn is_selector(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 1024
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '=' | '!' | ',' | ' ' | '(' | ')'))
}

/// A Go-style duration (`90s`, `30m`, `2h`, `1h30m`) in seconds.
pub fn parse_duration_secs(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    if !num.is_empty() {
        return None;
    }
    Some(total)
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
        let mut sel = Command::list("c", Some("shop"), "pods", Some("app=checkout,tier!=db"));
        assert_eq!(layer(&sel), None);
        sel.flags.insert("selector".into(), "env in (prod,qa)".into());
        assert_eq!(layer(&sel), None);
    }

    #[test]
    fn bad_names_flags_and_bounds_are_refused() {
        assert_eq!(layer(&Command::get("c", Some("shop"), "pods", "../etc")), Some(Layer::Arguments));
        assert_eq!(layer(&Command::logs("c", "shop", "p", "app", false, 99_999_999)), Some(Layer::Arguments));
        assert_eq!(layer(&Command::logs("c", "shop", "p", "app", false, 0)), Some(Layer::Arguments));
        let mut c = Command::list("c", Some("shop"), "pods", None);
        c.flags.insert("selector".into(), "app=x; rm -rf /".into());
        assert_eq!(layer(&c), Some(Layer::Arguments));
        c.flags.clear();
        c.flags.insert("kubeconfig".into(), "/etc/x".into());
        let r = check(&c).unwrap_err();
        assert!(r.reason.contains("--kubeconfig is not allowed"), "{r}");
        assert_eq!(layer(&Command::get("c", Some("Shop"), "pods", "x")), Some(Layer::Arguments));
        let mut since = Command::logs("c", "shop", "p", "app", false, 10);
        since.flags.insert("since".into(), "9999h".into());
        assert_eq!(layer(&since), Some(Layer::Arguments));
        since.flags.insert("since".into(), "1h30m".into());
        assert_eq!(layer(&since), None);
        let mut out = Command::get("c", Some("shop"), "pods", "x");
        out.flags.insert("output".into(), "go-template={{.}}".into());
        assert_eq!(layer(&out), Some(Layer::Arguments));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_secs("90s"), Some(90));
        assert_eq!(parse_duration_secs("1h30m"), Some(5400));
        assert_eq!(parse_duration_secs("2d"), None);
        assert_eq!(parse_duration_secs("10"), None);
        assert_eq!(parse_duration_secs("99999999999999999999h"), None);
    }
}
