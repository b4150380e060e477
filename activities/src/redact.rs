//! Secret redaction for anything that leaves an activity (reports, LLM prompts, logs).

use regex::Regex;
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
        // key=value where the key looks secret.
        (
            r#"(?i)\b([A-Z0-9_.-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)[A-Z0-9_.-]*)(\s*[=:]\s*"?)([^\s"',;]+)"#,
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

#[cfg(test)]
mod tests {
    use super::redact;

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
