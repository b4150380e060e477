//! Approve / reject links: a token names one diagnosis, one waiting step and one verdict,
//! expires when the step does, and is signed with HMAC-SHA256 under `[api.approval]
//! link_secret_*`. The token is the credential of `GET/POST /approvals/{token}`.
//!
//! Format: `base64url(JSON payload) "." base64url(HMAC-SHA256(key, first part))`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};

type HmacSha256 = Hmac<sha2::Sha256>;

/// What a token grants: deciding `step_id` of `workflow_id` with `verdict` until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    /// Workflow id of the diagnosis.
    #[serde(rename = "w")]
    pub workflow_id: String,
    /// The waiting step.
    #[serde(rename = "s")]
    pub step_id: String,
    /// `approve` or `reject`.
    #[serde(rename = "v")]
    pub verdict: LinkVerdict,
    /// Unix seconds after which the link is refused (the step's `expires_at`).
    #[serde(rename = "e")]
    pub expires_at: i64,
}

/// The decision a link makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkVerdict {
    /// Run the step.
    Approve,
    /// Skip the step.
    Reject,
}

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a token this key signed (malformed, tampered, or another key).
    #[error("the link is not valid")]
    Forged,
    /// Signed, but the step's wait is over.
    #[error("the link expired at {0}")]
    Expired(DateTime<Utc>),
}

fn mac(key: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// The signed token of `claims`.
pub fn sign(key: &[u8], claims: &LinkClaims) -> String {
    let payload = B64.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let mut m = mac(key);
    m.update(payload.as_bytes());
    format!("{payload}.{}", B64.encode(m.finalize().into_bytes()))
}

/// The claims of `token` if `key` signed it (constant-time check) and it has not expired at `now`.
pub fn verify(key: &[u8], token: &str, now: DateTime<Utc>) -> Result<LinkClaims, LinkError> {
    let (payload, signature) = token.split_once('.').ok_or(LinkError::Forged)?;
    let signature = B64.decode(signature).map_err(|_| LinkError::Forged)?;
    let mut m = mac(key);
    m.update(payload.as_bytes());
    m.verify_slice(&signature).map_err(|_| LinkError::Forged)?;
    let claims: LinkClaims = B64
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(LinkError::Forged)?;
    let expires = DateTime::<Utc>::from_timestamp(claims.expires_at, 0).ok_or(LinkError::Forged)?;
    if now >= expires {
        return Err(LinkError::Expired(expires));
    }
    Ok(claims)
}

/// Reads the link key from `[api.approval] link_secret_env` / `link_secret_file`; `Ok(None)`
/// when neither is set. Errors name the variable or file, never the key.
pub fn secret(config: &aetherius_core::approval::ApprovalConfig) -> Result<Option<String>, String> {
    if config.link_secret_env.is_some() && config.link_secret_file.is_some() {
        return Err("api.approval: set one of link_secret_env and link_secret_file".into());
    }
    super::secret(&config.link_secret_env, &config.link_secret_file).map_err(|e| format!("api.approval: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(verdict: LinkVerdict, expires_at: i64) -> LinkClaims {
        LinkClaims { workflow_id: "diag-1".into(), step_id: "step-2".into(), verdict, expires_at }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let now = Utc::now();
        let c = claims(LinkVerdict::Approve, now.timestamp() + 60);
        let token = sign(b"key", &c);
        assert_eq!(verify(b"key", &token, now), Ok(c.clone()));
        let later = now + chrono::Duration::seconds(61);
        assert!(matches!(verify(b"key", &token, later), Err(LinkError::Expired(_))));
        // URL-safe: it goes into a path segment as is.
        assert!(token.chars().all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch)), "{token}");
    }

    #[test]
    fn tampered_or_foreign_tokens_are_forged() {
        let now = Utc::now();
        let token = sign(b"key", &claims(LinkVerdict::Reject, now.timestamp() + 60));
        assert_eq!(verify(b"other key", &token, now), Err(LinkError::Forged));
        // The payload changed to approve, signature kept.
        let (_, sig) = token.split_once('.').unwrap();
        let approve = B64.encode(serde_json::to_vec(&claims(LinkVerdict::Approve, now.timestamp() + 60)).unwrap());
        assert_eq!(verify(b"key", &format!("{approve}.{sig}"), now), Err(LinkError::Forged));
        // A later expiry, signature kept.
        let longer = B64.encode(serde_json::to_vec(&claims(LinkVerdict::Reject, now.timestamp() + 86_400)).unwrap());
        assert_eq!(verify(b"key", &format!("{longer}.{sig}"), now), Err(LinkError::Forged));
        for bad in ["", ".", "abc", "abc.def", "%%%.###", &token[..token.len() - 2]] {
            assert_eq!(verify(b"key", bad, now), Err(LinkError::Forged), "{bad:?}");
        }
    }

    #[test]
    fn the_secret_comes_from_one_place() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("link-key");
        std::fs::write(&file, "k3y\n").unwrap();
        let mut c = aetherius_core::approval::ApprovalConfig::default();
        assert_eq!(secret(&c), Ok(None));
        c.link_secret_file = Some(file);
        assert_eq!(secret(&c), Ok(Some("k3y".into())));
        c.link_secret_env = Some("AETHERIUS_TEST_NO_SUCH_VAR".into());
        assert!(secret(&c).unwrap_err().contains("one of"));
        c.link_secret_file = None;
        let err = secret(&c).unwrap_err();
        assert!(err.contains("AETHERIUS_TEST_NO_SUCH_VAR"), "{err}");
    }
}
