//! Redaction of what leaves an activity. The input is split into a shape selector, a
//! secret (8-40 characters of `[A-Za-z0-9]`) and arbitrary surrounding text; the secret
//! is planted, at the start of a line, in one of the shapes redaction promises to mask,
//! inside that text.
//! Properties: the output never contains the planted secret, and redacting again
//! changes nothing (for text and for object trees).
#![no_main]

use aetherius_core::redact::{redact, redact_value};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fuzz_target!(|data: &[u8]| {
    let [shape, len, rest @ ..] = data else { return };
    let len = 8 + usize::from(*len) % 33;
    if rest.len() < len {
        return;
    }
    let (secret, context) = rest.split_at(len);
    let secret: String = secret.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect();
    let context = String::from_utf8_lossy(context);
    let mid = (0..=context.len() / 2).rev().find(|i| context.is_char_boundary(*i)).unwrap_or(0);
    let (before, after) = context.split_at(mid);

    // Redaction of anything is idempotent.
    let once = redact(&context);
    assert_eq!(redact(&once), once, "redacting twice changed {context:?}");

    if context.contains(&secret) {
        return;
    }
    let text = match shape % 9 {
        0 => format!("{before}\nDB_PASSWORD={secret} {after}"),
        1 => format!("{before}\n{{\"api_token\": \"{secret}\"}} {after}"),
        2 => format!("{before}\n--db-password {secret} {after}"),
        3 => format!("{before}\nAuthorization: Bearer {secret} {after}"),
        4 => format!("{before}\npostgres://app:{secret}@db:5432/app {after}"),
        5 => format!("{before}\nAWS_SECRET_ACCESS_KEY: {secret} {after}"),
        s => {
            let mut v = match s {
                6 => json!({"env": [{"name": "DB_PASSWORD", "value": secret}, {"name": "NOTE", "value": context}]}),
                7 => json!({"args": [before, "--db-password", secret, after]}),
                _ => json!({"data": {"REDIS_AUTH": secret, "note": context}}),
            };
            redact_value(&mut v);
            let out = v.to_string();
            assert!(!out.contains(&secret), "secret {secret:?} leaked: {out}");
            let mut again: Value = v.clone();
            redact_value(&mut again);
            assert_eq!(again, v, "redacting the object twice changed it");
            return;
        }
    };
    let out = redact(&text);
    assert!(!out.contains(&secret), "secret {secret:?} leaked from {text:?}: {out:?}");
    assert!(out.contains("[REDACTED]"), "nothing masked in {text:?}");
    assert_eq!(redact(&out), out, "redacting twice changed {text:?}");
});
