//! Sending: HTTP (Slack, webhooks) and SMTP, with failures sorted into "retry" (timeouts,
//! refused connections, 5xx, 429 with its Retry-After) and "give up" (other answers).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

/// Longest Retry-After honoured; a longer one is cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Worth another attempt, after `after` when the endpoint said so.
    Retry { reason: String, after: Option<Duration> },
    /// Another attempt would fail the same way (a 4xx, a bad configuration).
    Permanent(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Retry { reason, after: Some(a) } => write!(f, "{reason} (retry after {} s)", a.as_secs()),
            SendError::Retry { reason, after: None } => f.write_str(reason),
            SendError::Permanent(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for SendError {}

/// The `X-Aetherius-Signature` value: `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, the
/// scheme the API accepts on its own webhooks.
pub fn signature(secret: &[u8], t: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Retry-After as seconds or an HTTP date, relative to `now`; capped at [`MAX_RETRY_AFTER`].
pub fn retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    let d = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        (at.with_timezone(&chrono::Utc) - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(d.min(MAX_RETRY_AFTER))
}

/// POSTs `body` as JSON; `headers` are added. Any 2xx is success.
pub async fn post_json(client: &reqwest::Client, url: &str, body: Vec<u8>, headers: &[(&str, String)]) -> Result<(), SendError> {
    let mut req = client.post(url).header("content-type", "application/json").body(body);
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    let resp = req.send().await.map_err(|e| {
        // Without the URL: a Slack webhook URL is a secret.
        let e = e.without_url();
        let what = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "connection failed"
        } else {
            "request failed"
        };
        SendError::Retry { reason: format!("{what}: {e}"), after: None }
    })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| retry_after(v, chrono::Utc::now()));
    let text: String = resp.text().await.unwrap_or_default().chars().take(200).collect();
    let reason = format!("HTTP {status}: {}", crate::redact::redact(text.trim()));
    if status.as_u16() == 429 || status.is_server_error() || status.as_u16() == 408 {
        Err(SendError::Retry { reason, after })
    } else {
        Err(SendError::Permanent(reason))
    }
}

/// [`post_json`] bounded by `timeout` (a request that hangs counts as a timeout).
pub async fn post_json_within(client: &reqwest::Client, url: &str, body: Vec<u8>, headers: &[(&str, String)], timeout: Duration) -> Result<(), SendError> {
    tokio::time::timeout(timeout, post_json(client, url, body, headers))
        .await
        .unwrap_or_else(|_| Err(SendError::Retry { reason: format!("timed out after {} s", timeout.as_secs()), after: None }))
}

/// How to reach an SMTP server.
#[derive(Debug, Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: super::SmtpTls,
    pub credentials: Option<(String, String)>,
    pub timeout: Duration,
}

/// Sends one plain-text email.
/// Sends `text` and, when given, `html` as its alternative (multipart/alternative: mail
/// clients show the HTML report, others the text).
pub async fn email(smtp: &Smtp, from: &str, to: &[String], subject: &str, text: String, html: Option<String>) -> Result<(), SendError> {
    use lettre::{
        AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
        message::{MultiPart, header::ContentType},
        transport::smtp::authentication::Credentials,
    };
    let bad = |what: &str, e: &dyn std::fmt::Display| SendError::Permanent(format!("{what}: {e}"));
    let mut msg = Message::builder().from(from.parse().map_err(|e| bad("from address", &e))?).subject(subject);
    for addr in to {
        msg = msg.to(addr.parse().map_err(|e| bad("to address", &e))?);
    }
    let msg = match html {
        Some(html) => msg.multipart(MultiPart::alternative_plain_html(text, html)),
        None => msg.header(ContentType::TEXT_PLAIN).body(text),
    }
    .map_err(|e| bad("message", &e))?;
    let builder = match smtp.tls {
        super::SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
        super::SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host).map_err(|e| bad("SMTP TLS", &e))?,
        super::SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(|e| bad("SMTP TLS", &e))?,
    };
    let mut builder = builder.port(smtp.port).timeout(Some(smtp.timeout));
    if let Some((user, password)) = &smtp.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    match builder.build().send(msg).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_permanent() => Err(SendError::Permanent(format!("SMTP: {e}"))),
        Err(e) => Err(SendError::Retry { reason: format!("SMTP: {e}"), after: None }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates_and_is_capped() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(retry_after("Wed, 31 Dec 2025 23:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(retry_after("86400", now), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn signature_is_the_inbound_scheme() {
        // HMAC-SHA256("key", "1700000000.{}") computed independently (Python hmac).
        assert_eq!(signature(b"key", 1_700_000_000, b"{}"), format!("t=1700000000,v1={}", "9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"));
    }
}
