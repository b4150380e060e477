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
        // (On one line, and a token never starts with `-`: `Bearer --db-password x` is the flag rule's.)
        (r"(?i)\b(bearer|basic)[ \t]+[A-Za-z0-9][A-Za-z0-9._~+/=-]{7,}", "$1 [REDACTED]"),
        // user:password@ in URLs.
        (r"(?i)([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@", "${1}[REDACTED]@"),
        // AWS access key ids.
        (r"\b(AKIA|ASIA)[A-Z0-9]{16}\b", MASK),
        // GitHub, Slack, Google API and Stripe-style keys.
        (r"\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|[sr]k_live_[0-9A-Za-z]{16,})\b", MASK),
        // Azure storage connection strings.
        (r#"(?i)(AccountKey|SharedAccessSignature|SharedAccessKey)=([^;\s"]+)"#, "$1=[REDACTED]"),
    ]
    .into_iter()
    .map(|(p, r)| (Regex::new(p).expect("redaction pattern compiles"), r))
    .collect()
});

/// `name=value`, `name: value`, `"name": "value"`: masked when `name` looks secret.
static KEY_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?P<name>[A-Za-z][A-Za-z0-9_.-]{0,100})(?P<sep>"?\s*[=:]\s*"?)(?P<value>[^\s"',;}]+)"#).expect("regex")
});

/// `--name value` / `--name=value` command-line flags: masked when `name` looks secret.
static FLAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:^|\s)--(?P<name>[A-Za-z][A-Za-z0-9_.-]{0,100})(?:=|\s+)(?P<value>[^\s"',;-][^\s"',;]*)"#).expect("regex")
});

/// Masks tokens, keys and passwords in `text`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_owned();
    for (re, replacement) in PATTERNS.iter() {
        if re.is_match(&out) {
            out = re.replace_all(&out, *replacement).into_owned();
        }
    }
    for re in [&*FLAG, &*KEY_VALUE] {
        out = mask_pairs(re, &out);
    }
    out
}

/// Masks the values of `re`'s name/value matches whose names look secret. The value of a
/// plain name is searched too, so `env: DB_PASSWORD=x` loses `x` (it is one match).
fn mask_pairs(re: &Regex, text: &str) -> String {
    if !re.is_match(text) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    while let Some(c) = re.captures_at(text, pos) {
        let (Some(m), Some(value)) = (c.get(0), c.name("value")) else { break };
        out.push_str(&text[pos..value.start()]);
        if value.as_str() == MASK || value.as_str().starts_with("[REDACTED") {
            out.push_str(value.as_str());
            pos = m.end();
        } else if secret_name(&c["name"]) && !secret_pair_at(text, value.start()) {
            out.push_str(MASK);
            pos = m.end();
        } else {
            // Search the plain value itself (it starts after the name, so this ends).
            pos = value.start();
        }
    }
    out.push_str(&text[pos..]);
    out
}

/// Whether a secret-named pair starts at `at` (`token: AWS_SECRET_ACCESS_KEY: x`: the
/// "value" of `token` is a name, and masking it would leave `x`).
fn secret_pair_at(text: &str, at: usize) -> bool {
    [&*FLAG, &*KEY_VALUE].into_iter().any(|re| {
        re.captures_at(text, at).is_some_and(|c| c.get(0).is_some_and(|m| m.start() == at) && secret_name(&c["name"]))
    })
}

/// Words that make a name secret wherever they appear in it (`DBPASSWORD`, `apiToken`).
const SECRET_SUBSTRINGS: &[&str] = &[
    "password", "passwd", "passphrase", "secret", "token", "apikey", "accesskey", "privatekey", "credential", "connectionstring",
];

/// Words that make a name secret only as a whole word of it (`DB_PASS`, `MYSQL_PWD`,
/// `REDIS_AUTH`, `JWT_SIGNING_KEY`), so `author`, `keyspace`, `monkey` or `passenger` do not.
const SECRET_WORDS: &[&str] = &["pass", "pwd", "auth", "key", "cred", "creds", "private", "dsn", "sig", "signature", "salt", "hmac"];

/// Last words that say a name holds something about a secret, not the secret itself
/// (`KEY_PREFIX`, `TOKEN_TTL`, `passwordFile`, `secretName`, `AUTH_URL`).
const DESCRIPTORS: &[&str] = &[
    "file", "path", "dir", "name", "names", "ref", "id", "ids", "prefix", "suffix", "length", "len", "size", "ttl", "timeout",
    "expiry", "expiration", "seconds", "secs", "minutes", "hours", "days", "url", "uri", "endpoint", "host", "port", "enabled",
    "enable", "disabled", "mode", "type", "method", "provider", "alg", "algorithm", "format", "header", "field", "version",
    "count", "policy", "issuer", "audience", "realm", "scope", "scopes", "server", "service", "user", "username", "location",
    "region", "mount", "source", "namespace", "selector", "required", "strategy", "rotation", "interval", "store",
];

/// The words of a name: split on `_ - . space` and camelCase humps, lowercased.
fn words(name: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in name.chars() {
        if !ch.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if ch.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
        cur.push(ch.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Whether a variable, key or flag name looks like it holds a secret: a secret word in it
/// (whole words for the short, ambiguous ones) and no last word that only describes one.
pub fn secret_name(name: &str) -> bool {
    let words = words(name);
    let Some(last) = words.last() else { return false };
    let joined: String = words.concat();
    let secret = SECRET_SUBSTRINGS.iter().any(|s| joined.contains(s)) || words.iter().any(|w| SECRET_WORDS.contains(&w.as_str()));
    secret && !DESCRIPTORS.contains(&last.as_str())
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
        Value::Array(items) => {
            // An argument list: `--db-password`, `hunter2` are two items.
            let mut value_of_secret_flag = false;
            for item in items.iter_mut() {
                let secret_flag =
                    item.as_str().and_then(|s| s.strip_prefix("--")).is_some_and(|f| !f.contains('=') && secret_name(f));
                if value_of_secret_flag && item.as_str().is_some_and(|s| !s.starts_with('-') && !s.is_empty()) {
                    *item = Value::String(MASK.to_owned());
                } else {
                    redact_in(item, false);
                }
                value_of_secret_flag = secret_flag;
            }
        }
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
    fn env_and_data_names_by_whole_words() {
        for secret in ["DB_PASS", "MYSQL_PWD", "JWT_SIGNING_KEY", "ENCRYPTION_KEY", "REDIS_AUTH", "BASIC_AUTH", "dbPassword",
            "apiKey", "AWS_SECRET_ACCESS_KEY", "SECRET_KEY_BASE", "PRIVATE_KEY", "GIT_CREDS", "SENTRY_DSN", "auth", "key",
            "HMAC_KEY", "DBPASSWORD", "spring.datasource.password", "webhook-signing-secret", "STRIPE_SIGNATURE"] {
            assert!(super::secret_name(secret), "{secret} should be masked");
        }
        for plain in ["author", "AUTHOR_EMAIL", "keyspace", "CASSANDRA_KEYSPACE", "monkey", "passenger_count", "KEY_PREFIX",
            "CACHE_KEY_PREFIX", "ENCRYPTION_KEY_ID", "TOKEN_TTL", "tokenExpirationSeconds", "secretName", "passwordFile",
            "DB_PASSWORD_FILE", "PRIVATE_KEY_PATH", "AUTH_URL", "AUTH_ENABLED", "OAUTH_CLIENT_ID", "LOG_LEVEL", "DATABASE_URL",
            "KEYCLOAK_URL", "primary", "bypass"] {
            assert!(!super::secret_name(plain), "{plain} should stay readable");
        }
    }

    #[test]
    fn issue_eight_shapes_are_masked() {
        let mut pod = json!({"spec": {"containers": [{"name": "app",
            "env": [{"name": "DB_PASS", "value": "hunter2"}, {"name": "MYSQL_PWD", "value": "pw-one"},
                    {"name": "JWT_SIGNING_KEY", "value": "jwt-sign-1"}, {"name": "ENCRYPTION_KEY", "value": "enc-key-1"},
                    {"name": "REDIS_AUTH", "value": "redis-pw"}, {"name": "KEY_PREFIX", "value": "cart:"},
                    {"name": "CASSANDRA_KEYSPACE", "value": "orders"}],
            "args": ["--db-password", "flagpw1", "--hmac-key=flagkey2", "--key-file=/etc/tls/key.pem", "--port=8080"]}]},
            "data": {"redis.conf": "bind 0.0.0.0\nauth: admin:hunter3\n", "REDIS_AUTH": "redis-pw2", "author": "jane"}});
        redact_value(&mut pod);
        let text = pod.to_string();
        for secret in ["hunter2", "pw-one", "jwt-sign-1", "enc-key-1", "redis-pw", "flagpw1", "flagkey2", "hunter3", "redis-pw2"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        for kept in ["cart:", "orders", "/etc/tls/key.pem", "--port=8080", "jane", "bind 0.0.0.0", "--db-password", "DB_PASS"] {
            assert!(text.contains(kept), "{kept} lost: {text}");
        }
        assert_eq!(redact("--db-password s3cr3t --verbose"), "--db-password [REDACTED] --verbose");
        assert_eq!(redact("auth: admin:hunter2"), "auth: [REDACTED]");
        // Found by the fuzz target: a secret pair inside a plain pair's value.
        assert_eq!(redact("env: DB_PASSWORD=hunter2"), "env: DB_PASSWORD=[REDACTED]");
        assert_eq!(redact(r#""pid":  DB_PASSWORD=hunter2 1"#), r#""pid":  DB_PASSWORD=[REDACTED] 1"#);
        assert_eq!(redact("token: AWS_SECRET_ACCESS_KEY: hunter2"), "token: AWS_SECRET_ACCESS_KEY: [REDACTED]");
        assert_eq!(redact("password: abc: def"), "password: [REDACTED] def");
        assert_eq!(redact("--client-secret\nAWS_SECRET_ACCESS_KEY: hunter2"), "--client-secret\nAWS_SECRET_ACCESS_KEY: [REDACTED]");
    }

    #[test]
    fn leaves_ordinary_diagnostics_alone() {
        let line = "FATAL: environment variable DATABASE_URL is not set";
        assert_eq!(redact(line), line);
        assert_eq!(redact("Back-off restarting failed container"), "Back-off restarting failed container");
    }
}
