//! Reading container logs the way an SRE skims them: drop stack frames, find the line that
//! explains the exit, and classify it (missing config, DNS, an unreachable dependency, an
//! RBAC denial, an application error), naming the host or permission it is about.

use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

/// Why a dependency could not be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectFailure {
    /// Nothing listens (no endpoints, process down): TCP RST.
    Refused,
    /// Packets dropped (network policy, firewall, overloaded peer).
    Timeout,
    /// The dependency answered that it cannot serve (HTTP 503, Vault sealed, a database
    /// starting up or in recovery): reachable, but down on its own account.
    Unavailable,
    /// Anything else (reset, unreachable, unspecified).
    Other,
}

/// A host a log line names: a Service (name, namespace if the name says) or a raw host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Service name or host.
    pub name: String,
    /// Namespace from `<svc>.<ns>.svc...`; `None` for a bare name (the pod's namespace).
    pub namespace: Option<String>,
    /// Port, when the line gives one.
    pub port: Option<u16>,
    /// The address it resolved to, when the line gives one (`smtp.example.com (203.0.113.7)`).
    pub ip: Option<std::net::IpAddr>,
}

/// What a log says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Symptom {
    /// A ServiceAccount is denied an API call.
    Rbac { line: String, sa_namespace: String, sa_name: String, verb: String, resource: String, group: String, namespace: Option<String> },
    /// Name resolution fails.
    Dns { line: String, host: Option<Host> },
    /// A required setting is absent.
    MissingVar { line: String, var: String },
    /// A dependency is unreachable.
    Dependency { line: String, host: Option<Host>, failure: ConnectFailure },
    /// Bad flags, command, config file.
    BadConfig { line: String },
    /// The application's own error (exception, panic, error-level line).
    AppError { line: String },
}

impl Symptom {
    /// The log line it rests on.
    pub fn line(&self) -> &str {
        match self {
            Symptom::Rbac { line, .. }
            | Symptom::Dns { line, .. }
            | Symptom::MissingVar { line, .. }
            | Symptom::Dependency { line, .. }
            | Symptom::BadConfig { line }
            | Symptom::AppError { line } => line,
        }
    }
}

/// Structured (JSON) log lines shown as a human reads them: level, message and error
/// fields, without the stack trace; other lines unchanged.
pub fn readable_log_line(line: &str) -> String {
    let trimmed = line.trim();
    let Some(obj) = trimmed.starts_with('{').then(|| serde_json::from_str::<serde_json::Map<String, Value>>(trimmed).ok()).flatten() else {
        return trimmed.to_owned();
    };
    let field = |names: &[&str]| names.iter().find_map(|n| obj.get(*n).and_then(Value::as_str)).unwrap_or("");
    // pino / bunyan serialise an Error as an object: `"err": {"type": ..., "message": ...}`,
    // with what caused it under `cause` (Node's fetch: `TypeError: fetch failed` caused by
    // `ConnectTimeoutError` / `ECONNREFUSED`, where the address is).
    let error_object = ["err", "error", "exception"].iter().find_map(|n| obj.get(*n).and_then(Value::as_object)).map(|e| {
        let describe = |e: &serde_json::Map<String, Value>| {
            let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("");
            // A system error object (`{"code": "ECONNREFUSED", "address": ..., "port": ...}`)
            // may carry no message: its code and address say it.
            let message = match (text("message"), text("code")) {
                ("", "") => String::new(),
                ("", code) => {
                    let port = e.get("port").map(|p| format!(":{}", p.as_str().map(str::to_owned).unwrap_or_else(|| p.to_string()))).unwrap_or_default();
                    format!("connect {code} {}{port}", text("address")).trim_end().to_owned()
                }
                (m, _) => m.to_owned(),
            };
            [text("type").max(text("name")).to_owned(), message].into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>().join(": ")
        };
        let mut out = describe(e);
        let mut cause = e.get("cause");
        for _ in 0..3 {
            let Some(c) = cause else { break };
            let said = match c {
                Value::Object(c) => describe(c),
                Value::String(t) => t.clone(),
                _ => String::new(),
            };
            if !said.is_empty() {
                out.push_str(" (caused by ");
                out.push_str(&said);
                out.push(')');
            }
            cause = c.get("cause");
        }
        out
    });
    let parts: Vec<&str> = [
        field(&["level", "lvl", "severity"]),
        field(&["msg", "message", "event"]),
        error_object.as_deref().filter(|e| !e.is_empty()).unwrap_or_else(|| field(&["error", "err", "exception", "reason"])),
    ]
    .into_iter()
    .filter(|p| !p.is_empty())
    .collect();
    if parts.is_empty() { trimmed.to_owned() } else { parts.join(": ") }
}

/// The first `max` error-level lines of a log that are not a stack trace, readable: what a
/// batch program logged about the item that failed before it gave up (a rejected
/// document, a bad record), which the final exception often only counts.
pub fn error_lines(log: &str, max: usize) -> Vec<String> {
    log.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && ERROR_LEVEL.is_match(l) && !FRAME.is_match(l) && !EXCEPTION.is_match(l) && !l.to_lowercase().starts_with("traceback"))
        .take(max)
        .map(readable_log_line)
        .collect()
}

static FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^(\s+at |\s*\.\.\. \d+ (more|common frames omitted)|\s+File "|\s+/\S+\.go:\d+|goroutine \d+ \[|\s+\S+\(0x[0-9a-f]|\t)"#).expect("regex")
});

/// Log lines without stack frames, as readable lines.
fn lines(log: &str) -> Vec<String> {
    log.lines().filter(|l| !l.trim().is_empty() && !FRAME.is_match(l)).map(readable_log_line).collect()
}

static RBAC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"User \\?"system:serviceaccount:([a-z0-9.-]+):([a-z0-9.-]+)\\?" cannot ([a-z]+) resource \\?"([a-z0-9./-]+)\\?"(?: in API group \\?"([a-z0-9.-]*)\\?")?(?: in the namespace \\?"([a-z0-9-]+)\\?")?"#).expect("regex")
});
static DNS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(no such host|name or service not known|temporary failure in name resolution|getaddrinfo (ENOTFOUND|EAI_AGAIN)|could not resolve host|nxdomain|unknown host|UnknownHostException|lookup \S+ on \S+:53\b|server misbehaving|failed to resolve (host|address|name|hostname)|name resolution)").expect("regex")
});
// The variable is matched case-sensitively (env vars are upper snake case); the phrase is not.
static MISSING_VAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b[^\n]{0,40}?\b(?i:is not set|not set|is required|required|must be set|is missing|missing|is undefined|undefined|is empty|not defined|not provided)").expect("regex")
});
// Python's os.environ["X"], Spring's unresolved ${placeholder}.
static MISSING_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"KeyError: ['"]([A-Z][A-Z0-9_]*)['"]|[Cc]ould not resolve placeholder '([^']+)'"#).expect("regex")
});
// Credentials the dependency rejects: the configured secret is wrong, not the dependency.
static AUTH_FAILED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(password authentication failed|access denied for user|authentication failed|invalid credentials|invalid password|NOAUTH|WRONGPASS|SASL authentication failed)").expect("regex")
});
static MISSING_VAR_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i:missing|required|undefined|unset|no)\s+(?i:required\s+)?(?i:environment variable|env var|env|config(?:uration)? (?:key|value|option)|setting|variable|key)s?\s*[:=]?\s*['`]?([A-Z][A-Z0-9_]*[A-Z0-9])").expect("regex")
});
static BAD_CONFIG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)((open|read|load|loading|parse|parsing)[^\n]{0,80}(config|\.ya?ml|\.json|\.toml|\.conf|\.ini|\.properties)[^\n]{0,80}(no such file or directory|not found|cannot find|invalid|error)|flag provided but not defined|unknown (flag|option|shorthand flag|directive)|unrecognized (option|argument)|executable file not found|exec format error|invalid (configuration|config)|error during parsing|no such file or directory|cannot find module|could not find or load main class|unable to access jarfile)"#).expect("regex")
});
// A config file the program cannot parse, as the common parsers word it (PyYAML, SnakeYAML,
// go-yaml, encoding/json, Python json, Jackson, TOML parsers, JSON.parse).
static CONFIG_PARSE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(\byaml\.(scanner|parser|composer|constructor)\.\w+Error\b|snakeyaml\.\w+\.\w+Exception|\byaml: (line \d+|unmarshal errors|did not find expected|found character that cannot start)|mapping values are not allowed (here|in this context)|error converting YAML to JSON|JSONDecodeError|invalid character '[^']*' (looking for beginning|after object key|after array element)|json: cannot unmarshal|JsonParseException|TOMLDecodeError|TomlDecodeError|\btoml: line \d+|Unexpected token .{0,20} in JSON at position|is not valid JSON)").expect("regex")
});
static DEPENDENCY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(connection refused|connection to \S+ (?:refused|failed|timed out)|ECONNREFUSED|could not connect to|can't connect to|cannot connect to|failed to connect to|unable to connect to|error \S+ connecting to|connection timed out|connect timed out|^TimeoutError: timed out$|^socket\.timeout: timed out$|connect timeout|i/o timeout|no route to host|ETIMEDOUT|EHOSTUNREACH|server closed the connection unexpectedly|is the server running|connection reset by peer)").expect("regex")
});
// The dependency answers, but says it cannot serve: the fix is on its side, not the client's.
static UNAVAILABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(\b503 Service Unavailable|\b(status|code|HTTP/[0-9.]+|returned|response)[: =]*\(?503\b|Vault is sealed|the database system is (starting up|shutting down|in recovery mode)|LOADING Redis is loading the dataset|MASTERDOWN Link with MASTER is down|etcdserver: no leader)").expect("regex")
});
static TIMEOUT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)(timed out|timeout|ETIMEDOUT|deadline exceeded)").expect("regex"));
static REFUSED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)(connection refused|connection to \S+ refused|ECONNREFUSED|is the server running)").expect("regex"));
static EXCEPTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^(Caused by: )?([A-Za-z_$][\w$]*\.)*[A-Z][\w$]*(Exception|Error)\b(: |$)|^Exception in thread "[^"]*" |^panic: |^fatal error: |^thread '.*' panicked at|^Unhandled exception|^Uncaught "#).expect("regex")
});
static ERROR_LEVEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(^|[\s\[:])(error|fatal|critical|crit|panic|emerg)([\s\]:]|$)|^E\d{4} |^F\d{4} |segmentation fault|uncaught|unhandled|traceback \(most recent call last\)").expect("regex")
});

static SVC_HOST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)\.([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)\.svc(?:\.[a-z0-9-]+)*(?:\.)?(?::(\d{1,5}))?").expect("regex")
});
static URL_HOST: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\b[a-z][a-z0-9+.-]*://(?:[^@/\s]+@)?([a-z0-9.-]+)(?::(\d{1,5}))?").expect("regex"));
static HOST_PORT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"(?:^|[\s"'(=@,\[])([a-z][-a-z0-9]*[a-z0-9]):(\d{2,5})\b"#).expect("regex"));
static QUOTED_HOST: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"(?i)\bhost[= ]+["']?([a-z][-a-z0-9]*[a-z0-9])["']?"#).expect("regex"));
/// A host outside cluster DNS that a line says it connects to, with its port:
/// `connecting to smtp.example.com (203.0.113.7) port 587`, `connect to api.example.com:443`.
static EXTERNAL_CONNECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bconnect(?:ing|ion)?(?: to)? ([a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,})(?: \(([0-9a-f.:]+)\))?,?(?: port |:)(\d{2,5})\b").expect("regex")
});
static IP_PORT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b((?:\d{1,3}\.){3}\d{1,3}):(\d{2,5})\b").expect("regex"));
static LOOKUP: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"lookup ([a-z0-9][-a-z0-9.]*[a-z0-9])(?: on |:)").expect("regex"));

const NOT_HOSTS: &[&str] = &["localhost", "java", "kt", "scala", "py", "go", "rs", "js", "ts", "rb", "tcp", "udp", "http", "https", "unix", "dial", "read", "write", "port"];

/// The in-cluster host a log line talks about, if any.
pub fn host_in(line: &str) -> Option<Host> {
    if let Some(c) = SVC_HOST.captures(line) {
        return Some(Host { name: c[1].to_owned(), namespace: Some(c[2].to_owned()), port: c.get(3).and_then(|p| p.as_str().parse().ok()), ip: None });
    }
    let candidates = LOOKUP
        .captures(line)
        .map(|c| (c[1].to_owned(), None))
        .into_iter()
        .chain(URL_HOST.captures_iter(line).map(|c| (c[1].to_lowercase(), c.get(2).and_then(|p| p.as_str().parse().ok()))))
        .chain(HOST_PORT.captures_iter(line).map(|c| (c[1].to_owned(), c[2].parse().ok())))
        .chain(QUOTED_HOST.captures_iter(line).map(|c| (c[1].to_lowercase(), None)));
    for (name, port) in candidates {
        // A dotted name outside cluster DNS (example.com) or an IP is not a Service.
        if name.contains('.') || name.parse::<std::net::IpAddr>().is_ok() || NOT_HOSTS.contains(&name.as_str()) {
            continue;
        }
        return Some(Host { name, namespace: None, port, ip: None });
    }
    None
}

fn last_match<'l>(lines: &'l [String], re: &Regex) -> Option<&'l String> {
    lines.iter().rev().find(|l| re.is_match(l))
}

/// Every symptom a log shows, most specific first (RBAC, DNS, missing setting, dependency,
/// bad config, application error). Each cites the last line that shows it.
pub fn symptoms(log: &str) -> Vec<Symptom> {
    let lines = lines(log);
    let mut out = vec![];
    if let Some(line) = last_match(&lines, &RBAC)
        && let Some(c) = RBAC.captures(line)
    {
        out.push(Symptom::Rbac {
            line: line.clone(),
            sa_namespace: c[1].to_owned(),
            sa_name: c[2].to_owned(),
            verb: c[3].to_owned(),
            resource: c[4].to_owned(),
            group: c.get(5).map(|g| g.as_str().to_owned()).unwrap_or_default(),
            namespace: c.get(6).map(|n| n.as_str().to_owned()),
        });
    }
    if let Some(line) = last_match(&lines, &DNS) {
        out.push(Symptom::Dns { line: line.clone(), host: LOOKUP.captures(line).map(|c| c[1].to_owned()).and_then(|h| host_in(&h)).or_else(|| host_in(line)) });
    }
    if let Some(line) = last_match(&lines, &MISSING_VAR).or_else(|| last_match(&lines, &MISSING_VAR_PREFIX)).or_else(|| last_match(&lines, &MISSING_KEY)) {
        let var = MISSING_VAR
            .captures(line)
            .and_then(|c| c.get(1))
            .or_else(|| MISSING_VAR_PREFIX.captures(line).and_then(|c| c.get(1)))
            .or_else(|| MISSING_KEY.captures(line).and_then(|c| c.get(1).or_else(|| c.get(2))))
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default();
        out.push(Symptom::MissingVar { line: line.clone(), var });
    }
    if let Some(line) = last_match(&lines, &AUTH_FAILED) {
        out.push(Symptom::BadConfig { line: line.clone() });
    }
    if let Some(line) = last_match(&lines, &DEPENDENCY).or_else(|| last_match(&lines, &UNAVAILABLE)) {
        // A generic last word ("failed to connect to MongoDB, exiting") after the specific one
        // ("connect ECONNREFUSED 10.43.87.14:27017"): the specific line says how it failed.
        let specific = |l: &String| REFUSED.is_match(l) || TIMEOUT.is_match(l) || UNAVAILABLE.is_match(l);
        let line = if specific(line) { line } else { lines.iter().rev().filter(|l| DEPENDENCY.is_match(l) || UNAVAILABLE.is_match(l)).find(|l| specific(l)).unwrap_or(line) };
        // The host is often on another line of the same failure; take the nearest one.
        let host = host_in(line).or_else(|| lines.iter().rev().filter(|l| DEPENDENCY.is_match(l) || UNAVAILABLE.is_match(l)).find_map(|l| host_in(l)));
        let failure = if REFUSED.is_match(line) {
            ConnectFailure::Refused
        } else if TIMEOUT.is_match(line) {
            ConnectFailure::Timeout
        } else if UNAVAILABLE.is_match(line) {
            ConnectFailure::Unavailable
        } else {
            ConnectFailure::Other
        };
        // A timeout with no Service named: the host outside the cluster it was connecting to
        // (egress policies may drop it), from the nearest line that says so.
        let host = host.or_else(|| {
            (failure == ConnectFailure::Timeout)
                .then(|| {
                    lines.iter().rev().find_map(|l| {
                        let c = EXTERNAL_CONNECT.captures(l)?;
                        let name = c[1].to_lowercase();
                        (name.parse::<std::net::IpAddr>().is_err() && !SVC_HOST.is_match(l)).then(|| Host {
                            name,
                            namespace: None,
                            port: c[3].parse().ok(),
                            ip: c.get(2).and_then(|ip| ip.as_str().parse().ok()),
                        })
                    })
                })
                .flatten()
        });
        // Nothing named but an address the client dialled (`connect ECONNREFUSED
        // 10.43.87.14:27017`): a Service's ClusterIP, resolved once the Services are read.
        let host = host.or_else(|| {
            matches!(failure, ConnectFailure::Refused | ConnectFailure::Timeout)
                .then(|| {
                    let dialled = |l: &String| {
                        IP_PORT.captures(l).and_then(|c| {
                            let ip: std::net::IpAddr = c[1].parse().ok()?;
                            (!ip.is_loopback() && !ip.is_unspecified()).then(|| Host { name: c[1].to_owned(), namespace: None, port: c[2].parse().ok(), ip: Some(ip) })
                        })
                    };
                    dialled(line).or_else(|| lines.iter().rev().filter(|l| DEPENDENCY.is_match(l)).find_map(dialled))
                })
                .flatten()
        });
        out.push(Symptom::Dependency { line: line.clone(), host, failure });
    }
    if let Some(line) = last_match(&lines, &CONFIG_PARSE).or_else(|| last_match(&lines, &BAD_CONFIG)) {
        out.push(Symptom::BadConfig { line: line.clone() });
    }
    // The root exception ("Caused by" last), else the last exception header, else the last
    // error-level line.
    let cause = lines.iter().rev().find(|l| l.starts_with("Caused by: ")).or_else(|| last_match(&lines, &EXCEPTION)).or_else(|| last_match(&lines, &ERROR_LEVEL));
    if let Some(line) = cause {
        out.push(Symptom::AppError { line: line.clone() });
    }
    out
}

static HEALTH_FAILED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(health ?check (failed|error)|HealthIndicator|health indicator|readiness (check )?failed|not ready|status[^\n]{0,12}\bDOWN\b|\bis DOWN\b)").expect("regex")
});
static WARN_OR_WORSE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)(^|[\s\[:])(warn|warning|error|fatal|crit|critical)([\s\]:]|$)").expect("regex"));

/// Why a running app says it is not ready, from its log: the last warning about a failing
/// health check (with the exception that follows it), else the last unreachable
/// dependency, else the last application error.
pub fn unready_reason(log: &str) -> Option<String> {
    let lines = lines(log);
    if let Some(i) = lines.iter().rposition(|l| HEALTH_FAILED.is_match(l) && WARN_OR_WORSE.is_match(l)) {
        let mut line = lines[i].clone();
        if let Some(next) = lines.get(i + 1).filter(|n| EXCEPTION.is_match(n) || DEPENDENCY.is_match(n)) {
            line = format!("{line} -- {next}");
        }
        return Some(line);
    }
    symptoms(log).into_iter().find_map(|sy| match sy {
        Symptom::Dependency { line, .. } | Symptom::AppError { line } => Some(line),
        _ => None,
    })
}

/// The symptom that explains a crash: the most specific one.
pub fn crash_cause(log: &str) -> Option<Symptom> {
    symptoms(log).into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_log_lines_read_as_level_message_error() {
        let line = r#"{"level":"fatal","ts":"2026-11-20T10:03:35Z","msg":"invalid configuration","error":"required key DATABASE_URL missing value","stacktrace":"main.main"}"#;
        assert_eq!(readable_log_line(line), "fatal: invalid configuration: required key DATABASE_URL missing value");
        assert_eq!(readable_log_line("  plain text  "), "plain text");
        assert_eq!(readable_log_line("{not json"), "{not json");
    }

    #[test]
    fn client_go_forbidden_names_the_service_account_and_permission() {
        let log = r#"W1208 14:16:09.529033       1 reflector.go:561] k8s.io/client-go/tools/cache/reflector.go:243: failed to list *v1.Pod: pods is forbidden: User "system:serviceaccount:ci:scaler" cannot list resource "pods" in API group "" in the namespace "ci""#;
        match crash_cause(log).unwrap() {
            Symptom::Rbac { sa_namespace, sa_name, verb, resource, namespace, .. } => {
                assert_eq!((sa_namespace.as_str(), sa_name.as_str(), verb.as_str(), resource.as_str()), ("ci", "scaler", "list", "pods"));
                assert_eq!(namespace.as_deref(), Some("ci"));
            }
            other => panic!("{other:?}"),
        }
        let cluster = r#"E0101 reflector.go] nodes is forbidden: User \"system:serviceaccount:ops:agent\" cannot watch resource \"nodes\" in API group \"\" at the cluster scope"#;
        assert!(matches!(crash_cause(cluster), Some(Symptom::Rbac { namespace: None, .. })));
    }

    #[test]
    fn a_python_connect_timeout_names_the_outside_host_it_was_connecting_to() {
        let log = "INFO notify.transport [w-1] connecting to smtp.example.com (203.0.113.7) port 587\n  File \"/usr/local/lib/python3.12/socket.py\", line 850, in create_connection\n    sock.connect(sa)\nTimeoutError: timed out";
        match crash_cause(log).unwrap() {
            Symptom::Dependency { host: Some(h), failure, .. } => {
                assert_eq!((h.name.as_str(), h.port, failure), ("smtp.example.com", Some(587), ConnectFailure::Timeout));
                assert_eq!(h.ip, "203.0.113.7".parse().ok());
            }
            other => panic!("{other:?}"),
        }
        // Refused, an outside host is not followed (no egress policy question there).
        assert!(matches!(crash_cause("connecting to smtp.example.com port 587\nConnectionRefusedError: [Errno 111] Connection refused"), Some(Symptom::Dependency { host: None, .. })));
    }

    #[test]
    fn an_address_dialled_is_kept_for_its_service_to_be_found() {
        let log = r#"{"level":50,"msg":"server selection failed","err":{"type":"MongoServerSelectionError","message":"connect ECONNREFUSED 10.43.87.14:27017"}}
{"level":60,"msg":"failed to connect to MongoDB, exiting"}"#;
        match crash_cause(log).unwrap() {
            Symptom::Dependency { host: Some(h), failure, .. } => {
                assert_eq!((h.name.as_str(), h.port, failure), ("10.43.87.14", Some(27017), ConnectFailure::Refused));
                assert!(h.ip.is_some());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pgjdbc_names_the_refusing_host_on_its_own_line() {
        // PostgreSQL's JDBC driver, then the application's shorter summary of it.
        let log = "ERROR: Failed to obtain JDBC connection\nERROR: Connection to orders-db-rw:5432 refused. Check that the hostname and port are correct and that the postmaster is accepting TCP/IP connections.\nERROR: Connection refused";
        match crash_cause(log).unwrap() {
            Symptom::Dependency { host: Some(h), failure, .. } => {
                assert_eq!((h.name.as_str(), h.port, failure), ("orders-db-rw", Some(5432), ConnectFailure::Refused));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_node_fetch_failure_is_followed_to_its_cause() {
        // pino's JSON of undici's error: the address is only in err.cause.
        let line = r#"{"level": "error", "time": "2026-12-05T15:20:21.739Z", "msg": "catalog request failed", "url": "http://catalog-api.shop.svc.cluster.local:8080/v3/categories", "err": {"type": "TypeError", "message": "fetch failed", "cause": {"name": "ConnectTimeoutError", "code": "UND_ERR_CONNECT_TIMEOUT", "message": "Connect Timeout Error (attempted address: catalog-api.shop.svc.cluster.local:8080, timeout: 10000ms)"}}}"#;
        assert_eq!(
            readable_log_line(line),
            "error: catalog request failed: TypeError: fetch failed (caused by ConnectTimeoutError: Connect Timeout Error (attempted address: catalog-api.shop.svc.cluster.local:8080, timeout: 10000ms))"
        );
        let found = symptoms(&format!("{line}\n{line}"));
        assert!(
            found.iter().any(|sy| matches!(sy, Symptom::Dependency { failure: ConnectFailure::Timeout, host: Some(Host { name, namespace: Some(ns), port: Some(8080), .. }), .. } if name == "catalog-api" && ns == "shop")),
            "{found:?}"
        );
        let refused = r#"{"level":50,"msg":"upstream failed","err":{"type":"TypeError","message":"fetch failed","cause":{"errno":-111,"code":"ECONNREFUSED","syscall":"connect","address":"10.43.12.7","port":8080}}}"#;
        assert_eq!(readable_log_line(refused), "upstream failed: TypeError: fetch failed (caused by connect ECONNREFUSED 10.43.12.7:8080)");
        assert!(matches!(crash_cause(&readable_log_line(refused)), Some(Symptom::Dependency { failure: ConnectFailure::Refused, .. })));
    }

    #[test]
    fn dns_failures_win_over_the_connection_error_they_cause() {
        let log = r#"{"level":"ERROR","msg":"startup failed","error":"redis: dial tcp: lookup cache-master.data.svc.cluster.local on 10.96.0.10:53: read udp 10.0.0.5:5775->10.96.0.10:53: read: connection refused"}"#;
        match crash_cause(log).unwrap() {
            Symptom::Dns { host: Some(h), .. } => assert_eq!((h.name.as_str(), h.namespace.as_deref()), ("cache-master", Some("data"))),
            other => panic!("{other:?}"),
        }
        let py = "socket.gaierror: [Errno -3] Temporary failure in name resolution";
        assert!(matches!(crash_cause(py), Some(Symptom::Dns { .. })));
    }

    #[test]
    fn dependency_lines_name_the_service_and_the_failure_kind() {
        let pgx = "{\"level\":\"ERROR\",\"msg\":\"fatal: startup failed\",\"error\":\"failed to connect to `user=app database=app`: 172.20.1.2:5432 (db.shop.svc.cluster.local): dial error: dial tcp 172.20.1.2:5432: connect: connection refused\"}";
        match crash_cause(pgx).unwrap() {
            Symptom::Dependency { host: Some(h), failure, .. } => {
                assert_eq!((h.name.as_str(), h.namespace.as_deref(), failure), ("db", Some("shop"), ConnectFailure::Refused));
            }
            other => panic!("{other:?}"),
        }
        let netty = "io.netty.channel.ConnectTimeoutException: connection timed out after 2000 ms: scorer.risk.svc.cluster.local/172.20.141.37:8080";
        assert!(matches!(crash_cause(netty), Some(Symptom::Dependency { failure: ConnectFailure::Timeout, host: Some(Host { port: None, .. }), .. })));
        let bare = "Error: connect ECONNREFUSED redis:6379";
        match crash_cause(bare).unwrap() {
            Symptom::Dependency { host: Some(h), .. } => assert_eq!((h.name.as_str(), h.namespace, h.port), ("redis", None, Some(6379))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_dependency_that_answers_it_cannot_serve_is_unavailable() {
        // hashicorp/vault api client error, as a Go service logs it.
        let vault = r#"{"level":"ERROR","msg":"startup aborted","error":"vault login: Error making API request.\n\nURL: PUT https://vault.vault.svc:8200/v1/auth/kubernetes/login\nCode: 503. Errors:\n\n* Vault is sealed"}"#;
        match crash_cause(vault).unwrap() {
            Symptom::Dependency { host: Some(h), failure, line } => {
                assert_eq!((h.name.as_str(), h.namespace.as_deref(), failure), ("vault", Some("vault"), ConnectFailure::Unavailable));
                assert!(line.contains("Vault is sealed"), "{line}");
            }
            other => panic!("{other:?}"),
        }
        let pg = "psql: error: connection to server at \"orders-db\" (10.0.0.7), port 5432 failed: FATAL:  the database system is starting up";
        assert!(matches!(crash_cause(pg), Some(Symptom::Dependency { failure: ConnectFailure::Unavailable, .. })));
        // A refused connection stays refused even when a 503 is logged too.
        let both = "GET http://api:8080/ready: status 503\nError: connect ECONNREFUSED api:8080";
        assert!(matches!(crash_cause(both), Some(Symptom::Dependency { failure: ConnectFailure::Refused, .. })));
        assert!(!UNAVAILABLE.is_match("served in 503ms"));
    }

    #[test]
    fn missing_settings_are_named() {
        assert!(matches!(crash_cause("FATAL: DATABASE_URL is not set"), Some(Symptom::MissingVar { var, .. }) if var == "DATABASE_URL"));
        assert!(matches!(crash_cause("error: missing required environment variable: API_TOKEN"), Some(Symptom::MissingVar { var, .. }) if var == "API_TOKEN"));
    }

    #[test]
    fn java_root_cause_is_the_last_caused_by_not_a_stack_frame() {
        let log = "2026-12-03T08:26:12.760Z ERROR 1 --- [main] o.s.boot.SpringApplication : Application run failed\n\
java.lang.IllegalStateException: Failed to execute CommandLineRunner\n\
\tat org.springframework.boot.SpringApplication.callRunner(SpringApplication.java:798)\n\
Caused by: java.lang.IllegalStateException: Duplicate key K1 (attempted merging values A and B)\n\
\tat java.base/java.util.stream.Collectors.duplicateKeyException(Collectors.java:135)\n\
\t... 24 common frames omitted\n\
2026-12-03T08:26:12.830Z  INFO 1 --- [main] com.zaxxer.hikari.HikariDataSource : HikariPool-1 - Shutdown initiated...";
        match crash_cause(log).unwrap() {
            Symptom::AppError { line } => assert!(line.starts_with("Caused by: java.lang.IllegalStateException: Duplicate key K1"), "{line}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(crash_cause("panic: runtime error: invalid memory address or nil pointer dereference"), Some(Symptom::AppError { .. })));
    }

    #[test]
    fn unresolved_settings_and_rejected_credentials_are_config() {
        assert!(matches!(crash_cause("KeyError: 'REDIS_URL'"), Some(Symptom::MissingVar { var, .. }) if var == "REDIS_URL"));
        assert!(matches!(crash_cause("java.lang.IllegalArgumentException: Could not resolve placeholder 'db.url' in value \"${db.url}\""), Some(Symptom::MissingVar { var, .. }) if var == "db.url"));
        let pg = "failed to connect to `host=db user=app`: server error (FATAL: password authentication failed for user \"app\" (SQLSTATE 28P01))";
        assert!(matches!(crash_cause(pg), Some(Symptom::BadConfig { .. })));
        assert!(matches!(crash_cause("Error: Cannot find module '/app/server.js'"), Some(Symptom::BadConfig { .. })));
    }

    #[test]
    fn config_file_errors_are_config() {
        let coredns = "/etc/coredns/Corefile:7 - Error during parsing: Unknown directive 'bogus'";
        assert!(matches!(crash_cause(coredns), Some(Symptom::BadConfig { .. })));
        assert!(matches!(crash_cause("flag provided but not defined: -listen"), Some(Symptom::BadConfig { .. })));
    }

    #[test]
    fn config_files_that_do_not_parse_are_config() {
        let pyyaml = "  File \"/usr/local/lib/python3.11/site-packages/yaml/scanner.py\", line 577, in fetch_value\n    raise ScannerError(None, None,\nyaml.scanner.ScannerError: mapping values are not allowed here\n  in \"/etc/app/settings.yaml\", line 21, column 12";
        assert!(matches!(crash_cause(pyyaml), Some(Symptom::BadConfig { line }) if line.contains("mapping values are not allowed here")));
        let go = r#"{"level":"fatal","msg":"load config","error":"yaml: line 7: did not find expected key"}"#;
        assert!(matches!(crash_cause(go), Some(Symptom::BadConfig { .. })));
        let json = "json.decoder.JSONDecodeError: Expecting ',' delimiter: line 4 column 3 (char 51)";
        assert!(matches!(crash_cause(json), Some(Symptom::BadConfig { .. })));
        assert!(matches!(crash_cause("panic: invalid character '}' looking for beginning of object key string"), Some(Symptom::BadConfig { .. })));
    }

    #[test]
    fn an_unready_app_says_which_health_check_fails() {
        let spring = "2026-11-18T14:15:26.090Z  INFO 1 --- [main] c.a.Application : Started Application in 26.4 seconds\n\
2026-11-18T14:15:31.014Z  WARN 1 --- [nio-8080-exec-1] o.s.b.a.data.redis.RedisHealthIndicator  : Redis health check failed\n\n\
org.springframework.data.redis.RedisConnectionFailureException: Unable to connect to Redis\n\
\tat org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory.getConnection(LettuceConnectionFactory.java:1847)";
        let r = unready_reason(spring).unwrap();
        assert!(r.contains("Redis health check failed") && r.contains("RedisConnectionFailureException"), "{r}");
        assert_eq!(unready_reason("INFO started\nINFO GET /ready 200"), None);
    }

    #[test]
    fn hosts_outside_cluster_dns_are_not_services() {
        assert_eq!(host_in("GET https://api.example.com/v1 failed: i/o timeout"), None);
        assert_eq!(host_in("dial tcp 10.0.0.1:443: i/o timeout"), None);
        assert_eq!(host_in("at com.acme.Main(Main.java:12)"), None);
        assert_eq!(host_in("upstream http://payments:8080/charge").map(|h| h.name), Some("payments".into()));
    }
}
