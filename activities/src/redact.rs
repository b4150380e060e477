//! Secret redaction for anything that leaves an activity (reports, LLM prompts, logs):
//! [`redact`] for text, [`redact_value`] for the objects a step returns (every string
//! inside, plus env vars and map entries whose names look secret).

use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

const MASK: &str = "[REDACTED]";

static PATTERNS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        // PEM blocks (private keys, certificates with keys).
        (r"-----BEGIN [A-Z ]+-----[\s\S]*?-----END [A-Z ]+-----", MASK),
        // JWTs.
        (r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", MASK),
        // Authorization headers.
        (r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}", "$1 [REDACTED]"),
        // user:password@ in URLs.
        (r"(?i)([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@", "${1}[REDACTED]@"),
        // AWS access key ids.
        (r"\b(AKIA|ASIA)[A-Z0-9]{16}\b", MASK),
        // GitHub, Slack, Google API and Stripe-style keys.
        (r"\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|[sr]k_live_[0-9A-Za-z]{16,})\b", MASK),
        // Azure storage connection strings.
        (r#"(?i)(AccountKey|SharedAccessSignature|SharedAccessKey)=([^;\s"]+)"#, "$1=[REDACTED]"),
        // key=value / "key": "value" where the key looks secret.
        (
            r#"(?i)\b([A-Z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)[A-Z0-9_.-]*)("?\s*[=:]\s*"?)([^\s"',;}]+)"#,
            "$1$2[REDACTED]",
        ),
    ]
    .into_iter()
    .map(|(p, r)| (Regex::new(p).expect("redaction pattern compiles"), r))
    .collect()
});

/// Masks tokens, keys and passwords in `text`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_owned();
    for (re, replacement) in PATTERNS.iter() {
        if re.is_match(&out) {
            out = re.replace_all(&out, *replacement).into_owned();
        }
    }
    out
}

/// Whether a variable or key name looks like it holds a secret.
pub fn secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["password", "passwd", "secret", "token", "apikey", "api_key", "api-key", "access_key", "accesskey", "private_key",
     "privatekey", "credential", "client_secret", "dsn", "connection_string"]
        .iter()
        .any(|s| n.contains(s))
        && !n.ends_with("_file")
        && !n.ends_with("_path")
}

/// Redacts every string in an object tree: the text patterns everywhere, whole values of
/// env vars (`{"name": "DB_PASSWORD", "value": ...}`), and entries of ConfigMap-style
/// `data` maps whose keys look secret. Names stay, so a diagnosis can still say which
/// variable is missing; structural fields (`secretName`, `tokenExpirationSeconds`) are
/// left alone.
pub fn redact_value(v: &mut Value) {
    redact_in(v, false);
}

fn redact_in(v: &mut Value, data_map: bool) {
    match v {
        Value::String(s) => {
            let r = redact(s);
            if r != *s {
                *s = r;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| redact_in(i, false)),
        Value::Object(map) => {
            let env_secret = map.get("name").and_then(Value::as_str).is_some_and(secret_name) && map.contains_key("value");
            for (key, value) in map.iter_mut() {
                let masked = (env_secret && key == "value") || (data_map && secret_name(key));
                if masked && value.as_str().is_some_and(|s| !s.is_empty()) {
                    *value = Value::String(MASK.to_owned());
                } else {
                    redact_in(value, matches!(key.as_str(), "data" | "stringData"));
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::{redact, redact_value};
    use serde_json::json;

    #[test]
    fn objects_lose_secret_values_but_keep_names() {
        let mut pod = json!({"spec": {"containers": [{"name": "app", "env": [
            {"name": "DB_PASSWORD", "value": "hunter2"},
            {"name": "DATABASE_URL", "value": "postgres://app:s3cret@db:5432/app"},
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}}
        ], "args": ["--auth-token=abcdef123456"]}]},
        "volumes": [{"name": "keys", "secret": {"secretName": "token-exchange-jwks"}}],
        "data": {"api_token": "abc123", "app.properties": "spring.datasource.password=topsecret\nport=8080"}});
        redact_value(&mut pod);
        let text = pod.to_string();
        for secret in ["hunter2", "s3cret", "abcdef123456", "abc123", "topsecret"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        for kept in ["DB_PASSWORD", "DATABASE_URL", "info", "secretKeyRef", "port=8080", "api_token", "token-exchange-jwks"] {
            assert!(text.contains(kept), "{kept} lost: {text}");
        }
    }

    #[test]
    fn more_key_shapes() {
        assert!(!redact(r#"{"api_key": "sk-abcdef"}"#).contains("sk-abcdef"));
        assert!(!redact("DefaultEndpointsProtocol=https;AccountName=x;AccountKey=abc+def==;EndpointSuffix=core").contains("abc+def"));
        assert!(!redact("token ghp_abcdefghijklmnopqrstuvwxyz0123456789").contains("ghp_abcdefghijklmnopqrstuvwxyz0123456789"));
        assert!(!redact("xoxb-1234567890-abcdefghij").contains("xoxb-1234567890"));
    }

    #[test]
    fn masks_common_secret_shapes() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        let out = redact(&format!("token {jwt} ok"));
        assert!(!out.contains(jwt), "{out}");
        assert!(redact("Authorization: Bearer abcdefghijklmnop").contains("Bearer [REDACTED]"));
        assert_eq!(redact("postgres://app:hunter2@db:5432/x"), "postgres://app:[REDACTED]@db:5432/x");
        assert_eq!(redact("DB_PASSWORD=hunter2 next"), "DB_PASSWORD=[REDACTED] next");
        assert!(!redact("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----").contains("MIIE"));
        assert!(!redact("key AKIAIOSFODNN7EXAMPLE").contains("AKIAIOSFODNN7EXAMPLE"));
    }

    #[test]
    fn leaves_ordinary_diagnostics_alone() {
        let line = "FATAL: environment variable DATABASE_URL is not set";
        assert_eq!(redact(line), line);
        assert_eq!(redact("Back-off restarting failed container"), "Back-off restarting failed container");
    }
}
