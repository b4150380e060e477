//! Who may call what: bearer tokens (configured by their SHA-256) and JWTs carry a role;
//! [`ROUTES`] gives each route the role it needs; webhooks also accept an HMAC-SHA256
//! signature (`X-Aetherius-Signature: t=<unix>,v1=<hex>` over `"{t}.{body}"`), each
//! signature accepted once. Every authenticated client is rate limited by its name.

use crate::ApiError;
use governor::{DefaultKeyedRateLimiter, Quota, clock::Clock};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::{
    collections::HashMap,
    num::NonZeroU32,
    path::PathBuf,
    sync::Mutex,
    time::{SystemTime, UNIX_EPOCH},
};
use subtle::ConstantTimeEq;

/// Roles, each including the ones before it: admin ⊇ approver ⊇ operator ⊇ viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads tasks, queues, knowledge, tools; validates commands; searches.
    Viewer,
    /// Triggers, cancels and retries diagnoses; sends webhooks.
    Operator,
    /// Approves and rejects waiting steps.
    Approver,
    /// Writes the knowledge base and feedback.
    Admin,
}

impl Role {
    /// The role's name as configured.
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "approver" => Some(Role::Approver),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Who sent the request (a request extension on every authenticated route).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Token name, JWT subject, `webhook:<secret name>`, or `anonymous` with auth disabled.
    pub name: String,
    /// The caller's role.
    pub role: Role,
}

impl Caller {
    /// The caller of every request while authentication is disabled.
    pub const ANONYMOUS: &'static str = "anonymous";

    /// Whether authentication is off (so the request says nothing about who sent it).
    pub fn is_anonymous(&self) -> bool {
        self.name == Self::ANONYMOUS
    }
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, unmetered (probes, metrics, API description).
    Open,
    /// A bearer token or JWT of at least this role.
    Role(Role),
    /// A bearer token of at least operator, or a valid webhook signature.
    Webhook,
    /// No credential but the signed link in the path (approve / reject links); rate-limited
    /// per client address.
    Link,
}

/// Every route: method, axum path, access. A route missing here is refused.
pub const ROUTES: &[(&str, &str, Access)] = &[
    ("GET", "/health", Access::Open),
    ("GET", "/health/live", Access::Open),
    ("GET", "/health/ready", Access::Open),
    ("GET", "/metrics", Access::Open),
    ("GET", "/openapi.json", Access::Open),
    ("GET", "/docs", Access::Open),
    ("POST", "/webhook/alertmanager", Access::Webhook),
    ("POST", "/webhook/custom/{source}", Access::Webhook),
    ("GET", "/tasks", Access::Role(Role::Viewer)),
    ("GET", "/tasks/{id}", Access::Role(Role::Viewer)),
    ("GET", "/queue/status", Access::Role(Role::Viewer)),
    ("POST", "/tasks", Access::Role(Role::Operator)),
    ("PUT", "/tasks/{id}/cancel", Access::Role(Role::Operator)),
    ("POST", "/tasks/{id}/retry", Access::Role(Role::Operator)),
    ("POST", "/tasks/{id}/approve", Access::Role(Role::Approver)),
    ("POST", "/tasks/{id}/reject", Access::Role(Role::Approver)),
    // The signed token in the path is the credential (links in Slack).
    ("GET", "/approvals/{token}", Access::Link),
    ("POST", "/approvals/{token}", Access::Link),
    ("GET", "/reports", Access::Role(Role::Viewer)),
    ("GET", "/reports/{id}", Access::Role(Role::Viewer)),
    ("POST", "/reports/{id}/archive", Access::Role(Role::Operator)),
    // The audit trail names people and every command run: admin only.
    ("GET", "/audit", Access::Role(Role::Admin)),
    ("GET", "/tools", Access::Role(Role::Viewer)),
    ("POST", "/commands/validate", Access::Role(Role::Viewer)),
    ("GET", "/knowledge", Access::Role(Role::Viewer)),
    ("GET", "/knowledge/{id}", Access::Role(Role::Viewer)),
    ("POST", "/search", Access::Role(Role::Viewer)),
    ("POST", "/knowledge", Access::Role(Role::Admin)),
    ("PUT", "/knowledge/{id}", Access::Role(Role::Admin)),
    ("DELETE", "/knowledge/{id}", Access::Role(Role::Admin)),
    ("POST", "/feedback", Access::Role(Role::Admin)),
];

/// The access of `method path` (`HEAD` as `GET`): `Err(true)` when the path has rules for
/// other methods only, `Err(false)` when it has none.
pub fn access(method: &str, path: &str) -> Result<Access, bool> {
    let method = if method == "HEAD" { "GET" } else { method };
    ROUTES
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .map(|(_, _, a)| *a)
        .ok_or_else(|| ROUTES.iter().any(|(_, p, _)| *p == path))
}

/// `[api.auth]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthOptions {
    /// No authentication at all (every caller is `anonymous`, admin). Only accepted when
    /// nothing below is configured; for dev stacks, demos and tests.
    pub disabled: bool,
    /// Static bearer tokens.
    pub tokens: Vec<TokenOptions>,
    /// JWT bearer tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt: Option<JwtOptions>,
    /// Secrets that sign webhooks (several: rotation).
    pub webhook_secrets: Vec<WebhookSecret>,
    /// Largest age (and clock skew) of a signed webhook, seconds (default 300).
    pub webhook_tolerance_secs: u64,
    /// Most signatures remembered against replays; when full, new signed webhooks get 429.
    pub webhook_replay_capacity: usize,
    /// Requests per minute per client (caller name, or client IP when unauthenticated);
    /// 0: unlimited. Seed default 1000.
    pub rate_limit_per_minute: u32,
}

impl Default for AuthOptions {
    fn default() -> Self {
        AuthOptions {
            disabled: false,
            tokens: vec![],
            jwt: None,
            webhook_secrets: vec![],
            webhook_tolerance_secs: 300,
            webhook_replay_capacity: 100_000,
            rate_limit_per_minute: 1000,
        }
    }
}

/// One static bearer token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenOptions {
    /// Who holds it (the caller's name).
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Hex SHA-256 of the token (`printf %s "$TOKEN" | sha256sum`); never the token.
    pub sha256: String,
    /// After this instant the token answers `expired_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<chrono::DateTime<chrono::Utc>>,
}

impl TokenOptions {
    /// A new random bearer token for `name` with `role`: the token (shown once, never stored)
    /// and the entry that goes in `[[api.auth.tokens]]`. 256 bits from the operating
    /// system's random source (uuid v4 draws from getrandom).
    pub fn generate(name: &str, role: Role) -> (String, TokenOptions) {
        let token = format!("aeth_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let sha256 = hex::encode(Sha256::digest(token.as_bytes()));
        (token, TokenOptions { name: name.to_owned(), role, sha256, expires: None })
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::parse(s).ok_or_else(|| format!("unknown role {s:?}: expected viewer, operator, approver or admin"))
    }
}

/// JWT verification: HS256 with a secret from the environment, or RS256 with a public key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtOptions {
    /// Environment variable holding the HS256 secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hs256_secret_env: Option<String>,
    /// PEM file of the RS256 public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rs256_public_key_file: Option<PathBuf>,
    /// Required `iss`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Required `aud`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Claim carrying the role: a string, or a list (the highest known role counts).
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
    /// Claim naming the caller.
    #[serde(default = "default_name_claim")]
    pub name_claim: String,
    /// Clock skew allowed on `exp`/`nbf`, seconds.
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
}

fn default_role_claim() -> String {
    "role".into()
}
fn default_name_claim() -> String {
    "sub".into()
}
fn default_leeway() -> u64 {
    60
}

/// A webhook signing secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSecret {
    /// Its name (the caller is `webhook:<name>`).
    pub name: String,
    /// Environment variable holding the secret (at least 16 bytes).
    pub secret_env: String,
}

/// The signature header of webhooks.
pub const SIGNATURE_HEADER: &str = "x-aetherius-signature";

/// `[api.auth]` that cannot work.
#[derive(Debug, thiserror::Error)]
#[error("api.auth: {0}")]
pub struct AuthConfigError(String);

struct Jwt {
    key: DecodingKey,
    validation: Validation,
    role_claim: String,
    name_claim: String,
}

/// Authentication, webhook replay memory and rate limits, built once from [`AuthOptions`].
pub struct Auth {
    disabled: bool,
    tokens: Vec<(TokenOptions, [u8; 32])>,
    jwt: Option<Jwt>,
    secrets: Vec<(String, Vec<u8>)>,
    tolerance: u64,
    replay_capacity: usize,
    /// Signature → unix second after which it is too old anyway.
    replays: Mutex<HashMap<String, u64>>,
    limiter: Option<DefaultKeyedRateLimiter<String>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("disabled", &self.disabled)
            .field("tokens", &self.tokens.len())
            .field("jwt", &self.jwt.is_some())
            .field("webhook_secrets", &self.secrets.len())
            .finish()
    }
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

fn unauthorized(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::Unauthorized { code, message: message.into() }
}

impl Auth {
    /// Checks and loads the options (secrets from the environment, keys from files).
    pub fn new(options: &AuthOptions) -> Result<Auth, AuthConfigError> {
        Self::with_env(options, |name| std::env::var(name).ok())
    }

    /// As [`Auth::new`], reading the environment through `env`.
    pub fn with_env(options: &AuthOptions, env: impl Fn(&str) -> Option<String>) -> Result<Auth, AuthConfigError> {
        let err = |m: String| AuthConfigError(m);
        let configured = !options.tokens.is_empty() || options.jwt.is_some() || !options.webhook_secrets.is_empty();
        if options.disabled && configured {
            return Err(err("disabled = true, yet tokens, jwt or webhook_secrets are configured: remove one or the other".into()));
        }
        let mut tokens = vec![];
        for t in &options.tokens {
            let mut hash = [0u8; 32];
            hex::decode_to_slice(t.sha256.trim(), &mut hash)
                .map_err(|_| err(format!("tokens: {:?}: sha256 must be 64 hex digits (the token's SHA-256, not the token)", t.name)))?;
            if t.name.is_empty() {
                return Err(err("tokens: a token has an empty name".into()));
            }
            if let Some((other, _)) = tokens.iter().find(|(_, h): &&(TokenOptions, [u8; 32])| *h == hash) {
                return Err(err(format!("tokens: {:?} and {:?} have the same sha256: one token, one name", other.name, t.name)));
            }
            tokens.push((t.clone(), hash));
        }
        let jwt = options.jwt.as_ref().map(|j| jwt_verifier(j, &env)).transpose()?;
        let mut secrets = vec![];
        for s in &options.webhook_secrets {
            let value = env(&s.secret_env)
                .ok_or_else(|| err(format!("webhook_secrets: {:?}: environment variable {} is not set", s.name, s.secret_env)))?;
            if value.len() < 16 {
                return Err(err(format!("webhook_secrets: {:?}: the secret in {} is shorter than 16 bytes", s.name, s.secret_env)));
            }
            secrets.push((s.name.clone(), value.into_bytes()));
        }
        if !options.disabled && !configured {
            tracing::warn!("api.auth configures no token, JWT or webhook secret: every route but health, metrics and docs answers 401");
        }
        let limiter = NonZeroU32::new(options.rate_limit_per_minute).map(|n| DefaultKeyedRateLimiter::keyed(Quota::per_minute(n)));
        Ok(Auth {
            disabled: options.disabled,
            tokens,
            jwt,
            secrets,
            tolerance: options.webhook_tolerance_secs,
            replay_capacity: options.webhook_replay_capacity.max(1),
            replays: Mutex::default(),
            limiter,
        })
    }

    /// Whether authentication is off.
    pub fn disabled(&self) -> bool {
        self.disabled
    }

    /// The caller a bearer token stands for.
    pub fn authenticate(&self, token: &str) -> Result<Caller, ApiError> {
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Every configured hash is compared, in constant time.
        let mut found = None;
        for (t, h) in &self.tokens {
            if bool::from(h.ct_eq(&hash)) {
                found = Some(t);
            }
        }
        if let Some(t) = found {
            if t.expires.is_some_and(|e| e <= chrono::Utc::now()) {
                return Err(unauthorized("expired_token", format!("the token {:?} has expired", t.name)));
            }
            return Ok(Caller { name: t.name.clone(), role: t.role });
        }
        match &self.jwt {
            Some(jwt) if token.split('.').count() == 3 => jwt.verify(token),
            _ => Err(unauthorized("invalid_token", "the bearer token is not known to this server")),
        }
    }

    /// The caller behind an `Authorization` header value.
    pub fn bearer(&self, header: Option<&str>) -> Result<Caller, ApiError> {
        let header = header.ok_or_else(|| unauthorized("missing_token", "an Authorization: Bearer <token> header is required"))?;
        let token = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthorized("invalid_token", "the Authorization header must be `Bearer <token>`"))?;
        self.authenticate(token)
    }

    /// The caller behind a webhook signature header over `body`; each signature is
    /// accepted once within the tolerance window.
    pub fn verify_signature(&self, header: &str, body: &[u8]) -> Result<Caller, ApiError> {
        self.verify_signature_at(header, body, now_unix())
    }

    fn verify_signature_at(&self, header: &str, body: &[u8], now: u64) -> Result<Caller, ApiError> {
        let bad = |m: &str| unauthorized("bad_signature", m.to_owned());
        let mut timestamp = None;
        let mut signatures = vec![];
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", t)) => timestamp = t.parse::<u64>().ok(),
                Some(("v1", v)) => signatures.push(v.to_ascii_lowercase()),
                _ => {}
            }
        }
        let t = timestamp.ok_or_else(|| bad("the signature header needs t=<unix seconds>"))?;
        if signatures.is_empty() {
            return Err(bad("the signature header needs v1=<hex HMAC-SHA256>"));
        }
        if now.abs_diff(t) > self.tolerance {
            return Err(unauthorized(
                "stale_timestamp",
                format!("the signature's timestamp {t} is more than {} s away from the server's clock ({now})", self.tolerance),
            ));
        }
        let mut matched = None;
        for v1 in &signatures {
            let Ok(bytes) = hex::decode(v1) else { continue };
            for (name, secret) in &self.secrets {
                let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { continue };
                mac.update(format!("{t}.").as_bytes());
                mac.update(body);
                if mac.verify_slice(&bytes).is_ok() {
                    matched = Some((name.clone(), v1.clone()));
                }
            }
        }
        let (name, v1) = matched.ok_or_else(|| bad("no configured webhook secret produces this signature of \"{t}.{body}\""))?;
        let mut seen = self.replays.lock().unwrap_or_else(|p| p.into_inner());
        if seen.contains_key(&v1) {
            return Err(ApiError::Replayed(format!("this signed webhook (t={t}) was already received; sign each delivery anew")));
        }
        if seen.len() >= self.replay_capacity {
            seen.retain(|_, until| *until >= now);
            if seen.len() >= self.replay_capacity {
                let oldest = seen.values().min().copied().unwrap_or(now);
                return Err(ApiError::RateLimited { retry_after_secs: oldest.saturating_sub(now).max(1) });
            }
        }
        seen.insert(v1, t + self.tolerance);
        Ok(Caller { name: format!("webhook:{name}"), role: Role::Operator })
    }

    /// Counts one request of `key`; `RateLimited` when over the per-minute quota.
    pub fn rate_limit(&self, key: &str) -> Result<(), ApiError> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        if limiter.len() > 100_000 {
            limiter.retain_recent();
        }
        limiter.check_key(&key.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(limiter.clock().now());
            ApiError::RateLimited { retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0) }
        })
    }
}

fn jwt_verifier(o: &JwtOptions, env: &dyn Fn(&str) -> Option<String>) -> Result<Jwt, AuthConfigError> {
    let err = |m: String| AuthConfigError(format!("jwt: {m}"));
    let (key, alg) = match (&o.hs256_secret_env, &o.rs256_public_key_file) {
        (Some(name), None) => {
            let secret = env(name).ok_or_else(|| err(format!("environment variable {name} is not set")))?;
            if secret.len() < 32 {
                return Err(err(format!("the HS256 secret in {name} is shorter than 32 bytes")));
            }
            (DecodingKey::from_secret(secret.as_bytes()), Algorithm::HS256)
        }
        (None, Some(path)) => {
            let pem = std::fs::read(path).map_err(|e| err(format!("reading {}: {e}", path.display())))?;
            let key = DecodingKey::from_rsa_pem(&pem).map_err(|e| err(format!("{} is not an RSA public key in PEM: {e}", path.display())))?;
            (key, Algorithm::RS256)
        }
        _ => return Err(err("set exactly one of hs256_secret_env and rs256_public_key_file".into())),
    };
    let mut validation = Validation::new(alg);
    validation.leeway = o.leeway_secs;
    match &o.audience {
        Some(aud) => validation.set_audience(&[aud]),
        None => validation.validate_aud = false,
    }
    if let Some(iss) = &o.issuer {
        validation.set_issuer(&[iss]);
    }
    Ok(Jwt { key, validation, role_claim: o.role_claim.clone(), name_claim: o.name_claim.clone() })
}

impl Jwt {
    fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, &self.key, &self.validation).map_err(|e| {
            match e.kind() {
                ErrorKind::ExpiredSignature => unauthorized("expired_token", "the JWT has expired"),
                ErrorKind::InvalidIssuer => unauthorized("invalid_token", "the JWT's issuer is not the configured one"),
                ErrorKind::InvalidAudience => unauthorized("invalid_token", "the JWT's audience is not the configured one"),
                ErrorKind::ImmatureSignature => unauthorized("invalid_token", "the JWT is not valid yet (nbf)"),
                ErrorKind::MissingRequiredClaim(c) => unauthorized("invalid_token", format!("the JWT lacks the {c} claim")),
                _ => unauthorized("invalid_token", "the JWT's signature or shape is not valid"),
            }
        })?;
        let claims = data.claims;
        let name = claims.get(&self.name_claim).and_then(|v| v.as_str()).filter(|s| !s.is_empty()).ok_or_else(|| {
            unauthorized("invalid_token", format!("the JWT has no {} claim naming the caller", self.name_claim))
        })?;
        let role = match claims.get(&self.role_claim) {
            Some(serde_json::Value::String(s)) => Role::parse(s),
            Some(serde_json::Value::Array(a)) => a.iter().filter_map(|v| v.as_str()).filter_map(Role::parse).max(),
            _ => None,
        }
        .ok_or_else(|| {
            ApiError::Forbidden(format!(
                "the JWT's {} claim names no role (viewer, operator, approver, admin); role held: none",
                self.role_claim
            ))
        })?;
        Ok(Caller { name: name.to_owned(), role })
    }
}

/// `Forbidden` unless `caller` holds `needed`.
pub fn authorize(caller: &Caller, needed: Role) -> Result<(), ApiError> {
    if caller.role >= needed {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "this route needs the role {} or above; {} holds {}",
            needed.name(),
            caller.name,
            caller.role.name()
        )))
    }
}

/// The hex SHA-256 of a token: what `[[api.auth.tokens]] sha256` holds.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The `X-Aetherius-Signature` value for `body` at `t` (what a sender computes).
pub fn sign(secret: &[u8], t: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    const HS_SECRET: &str = "0123456789abcdef0123456789abcdef-test";

    fn code(e: ApiError) -> (u16, &'static str, String) {
        let (status, code) = e.parts();
        (status.as_u16(), code, e.to_string())
    }

    fn token(name: &str, role: Role, token: &str) -> TokenOptions {
        TokenOptions { name: name.into(), role, sha256: token_sha256(token), expires: None }
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "JWT_SECRET" => Some(HS_SECRET.into()),
            "HOOK_SECRET" => Some("grafana-webhook-secret-0001".into()),
            "OLD_HOOK_SECRET" => Some("grafana-webhook-secret-0000".into()),
            _ => None,
        }
    }

    fn auth(options: AuthOptions) -> Auth {
        Auth::with_env(&options, env).unwrap()
    }

    #[test]
    fn every_registered_route_has_an_access_rule() {
        for (method, path, _) in crate::routes() {
            assert!(access(method.as_str(), path).is_ok(), "{method} {path} has no entry in auth::ROUTES");
        }
        // and the table has no duplicate that would make the first one win silently
        for (i, (m, p, _)) in ROUTES.iter().enumerate() {
            assert!(!ROUTES[i + 1..].iter().any(|(m2, p2, _)| m == m2 && p == p2), "{m} {p} twice");
        }
        assert_eq!(access("HEAD", "/tasks/{id}"), Ok(Access::Role(Role::Viewer)));
        assert_eq!(access("PATCH", "/tasks/{id}"), Err(true));
        assert_eq!(access("GET", "/secret"), Err(false));
    }

    #[test]
    fn the_route_table_gives_each_action_its_role() {
        let role = |m, p| match access(m, p) {
            Ok(Access::Role(r)) => Some(r),
            _ => None,
        };
        assert_eq!(role("GET", "/tasks"), Some(Role::Viewer));
        assert_eq!(role("PUT", "/tasks/{id}/cancel"), Some(Role::Operator));
        assert_eq!(role("POST", "/tasks/{id}/approve"), Some(Role::Approver));
        assert_eq!(role("PUT", "/knowledge/{id}"), Some(Role::Admin));
        assert_eq!(role("POST", "/feedback"), Some(Role::Admin));
        assert_eq!(role("POST", "/search"), Some(Role::Viewer));
        assert_eq!(access("GET", "/metrics"), Ok(Access::Open));
        assert_eq!(access("POST", "/webhook/custom/{source}"), Ok(Access::Webhook));
    }

    #[test]
    fn each_role_includes_the_ones_before_it_and_a_refusal_names_both_roles() {
        let caller = Caller { name: "ci".into(), role: Role::Approver };
        assert!(authorize(&caller, Role::Viewer).is_ok() && authorize(&caller, Role::Operator).is_ok());
        assert!(authorize(&caller, Role::Approver).is_ok());
        let (status, code, message) = super::tests::code(authorize(&caller, Role::Admin).unwrap_err());
        assert_eq!((status, code), (403, "forbidden"));
        assert!(message.contains("admin") && message.contains("approver") && message.contains("ci"), "{message}");
    }

    #[test]
    fn static_tokens_are_matched_by_their_hash() {
        let mut expired = token("old", Role::Admin, "old-token");
        expired.expires = Some(chrono::Utc::now() - chrono::Duration::minutes(1));
        let a = auth(AuthOptions { tokens: vec![token("am", Role::Operator, "s3cret-op"), expired], ..Default::default() });
        assert_eq!(a.bearer(Some("Bearer s3cret-op")).unwrap(), Caller { name: "am".into(), role: Role::Operator });
        assert_eq!(a.bearer(Some("bearer  s3cret-op")).unwrap().name, "am");
        assert_eq!(code(a.bearer(None).unwrap_err()).1, "missing_token");
        assert_eq!(code(a.bearer(Some("Basic YTpi")).unwrap_err()).1, "invalid_token");
        assert_eq!(code(a.bearer(Some("Bearer s3cret-oq")).unwrap_err()).1, "invalid_token");
        assert_eq!(code(a.bearer(Some("Bearer old-token")).unwrap_err()).1, "expired_token");
    }

    #[test]
    fn options_that_cannot_work_are_refused_naming_the_problem() {
        let err = |o: AuthOptions| Auth::with_env(&o, env).unwrap_err().to_string();
        let both = AuthOptions { disabled: true, tokens: vec![token("a", Role::Viewer, "t")], ..Default::default() };
        assert!(err(both).contains("disabled = true"));
        let mut plain = token("a", Role::Viewer, "t");
        plain.sha256 = "my-token".into();
        assert!(err(AuthOptions { tokens: vec![plain], ..Default::default() }).contains("64 hex digits"));
        let twice = vec![token("a", Role::Viewer, "same"), token("b", Role::Admin, "same")];
        assert!(err(AuthOptions { tokens: twice, ..Default::default() }).contains("same sha256"));
        let hook = WebhookSecret { name: "g".into(), secret_env: "NOT_SET_ANYWHERE".into() };
        assert!(err(AuthOptions { webhook_secrets: vec![hook], ..Default::default() }).contains("NOT_SET_ANYWHERE"));
        let jwt = JwtOptions {
            hs256_secret_env: Some("JWT_SECRET".into()),
            rs256_public_key_file: Some("/k.pem".into()),
            issuer: None,
            audience: None,
            role_claim: "role".into(),
            name_claim: "sub".into(),
            leeway_secs: 0,
        };
        assert!(err(AuthOptions { jwt: Some(jwt), ..Default::default() }).contains("exactly one"));
        assert!(Auth::with_env(&AuthOptions { disabled: true, ..Default::default() }, env).unwrap().disabled());
    }

    fn jwt_options() -> JwtOptions {
        JwtOptions {
            hs256_secret_env: Some("JWT_SECRET".into()),
            rs256_public_key_file: None,
            issuer: Some("https://sso.example.com/".into()),
            audience: Some("aetherius".into()),
            role_claim: "aetherius_role".into(),
            name_claim: "sub".into(),
            leeway_secs: 0,
        }
    }

    fn hs256(claims: serde_json::Value) -> String {
        encode(&Header::default(), &claims, &EncodingKey::from_secret(HS_SECRET.as_bytes())).unwrap()
    }

    #[test]
    fn hs256_jwts_carry_subject_and_role_and_are_checked() {
        let a = auth(AuthOptions { jwt: Some(jwt_options()), ..Default::default() });
        let exp = jsonwebtoken::get_current_timestamp() + 600;
        let base = json!({"sub": "alice", "iss": "https://sso.example.com/", "aud": "aetherius", "exp": exp, "aetherius_role": "approver"});
        assert_eq!(a.authenticate(&hs256(base.clone())).unwrap(), Caller { name: "alice".into(), role: Role::Approver });
        let mut list = base.clone();
        list["aetherius_role"] = json!(["viewer", "admin", "unknown"]);
        assert_eq!(a.authenticate(&hs256(list)).unwrap().role, Role::Admin);
        let mut expired = base.clone();
        expired["exp"] = json!(exp - 1200);
        assert_eq!(code(a.authenticate(&hs256(expired)).unwrap_err()).1, "expired_token");
        let mut issuer = base.clone();
        issuer["iss"] = json!("https://evil.example.com/");
        let (_, c, m) = code(a.authenticate(&hs256(issuer)).unwrap_err());
        assert_eq!(c, "invalid_token");
        assert!(m.contains("issuer"), "{m}");
        let mut audience = base.clone();
        audience["aud"] = json!("grafana");
        assert_eq!(code(a.authenticate(&hs256(audience)).unwrap_err()).1, "invalid_token");
        let mut no_role = base.clone();
        no_role.as_object_mut().unwrap().remove("aetherius_role");
        let (status, c, m) = code(a.authenticate(&hs256(no_role)).unwrap_err());
        assert_eq!((status, c), (403, "forbidden"));
        assert!(m.contains("aetherius_role"), "{m}");
        let forged = encode(&Header::default(), &base, &EncodingKey::from_secret(b"another-secret-another-secret-xx")).unwrap();
        assert_eq!(code(a.authenticate(&forged).unwrap_err()).1, "invalid_token");
    }

    #[test]
    fn rs256_jwts_verify_against_the_public_key_file() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
        let mut o = jwt_options();
        o.hs256_secret_env = None;
        o.rs256_public_key_file = Some(dir.join("jwt-test-only-public.pem"));
        let a = auth(AuthOptions { jwt: Some(o), ..Default::default() });
        let private = std::fs::read(dir.join("jwt-test-only-private.pem")).unwrap();
        let claims = json!({"sub": "ci-bot", "iss": "https://sso.example.com/", "aud": "aetherius",
                            "exp": jsonwebtoken::get_current_timestamp() + 60, "aetherius_role": "operator"});
        let jwt = encode(&Header::new(Algorithm::RS256), &claims, &EncodingKey::from_rsa_pem(&private).unwrap()).unwrap();
        assert_eq!(a.authenticate(&jwt).unwrap(), Caller { name: "ci-bot".into(), role: Role::Operator });
        // An HS256 token must not pass as RS256 (algorithm confusion).
        assert_eq!(code(a.authenticate(&hs256(claims)).unwrap_err()).1, "invalid_token");
    }

    fn signing() -> Auth {
        auth(AuthOptions {
            webhook_secrets: vec![
                WebhookSecret { name: "grafana".into(), secret_env: "HOOK_SECRET".into() },
                WebhookSecret { name: "grafana-old".into(), secret_env: "OLD_HOOK_SECRET".into() },
            ],
            webhook_replay_capacity: 3,
            ..Default::default()
        })
    }

    #[test]
    fn signed_webhooks_are_accepted_once_within_the_window() {
        let a = signing();
        let now = 1_733_479_200;
        let body = br#"{"alerts":[]}"#;
        let header = sign(b"grafana-webhook-secret-0001", now, body);
        let caller = a.verify_signature_at(&header, body, now + 10).unwrap();
        assert_eq!(caller, Caller { name: "webhook:grafana".into(), role: Role::Operator });
        let (status, c, _) = code(a.verify_signature_at(&header, body, now + 11).unwrap_err());
        assert_eq!((status, c), (409, "replayed_webhook"));
        // The previous secret still signs during a rotation.
        let old = sign(b"grafana-webhook-secret-0000", now, body);
        assert_eq!(a.verify_signature_at(&old, body, now).unwrap().name, "webhook:grafana-old");

        let fresh = sign(b"grafana-webhook-secret-0001", now + 1, body);
        assert_eq!(code(a.verify_signature_at(&fresh, b"{\"alerts\":[1]}", now).unwrap_err()).1, "bad_signature");
        assert_eq!(code(a.verify_signature_at(&fresh, body, now + 302).unwrap_err()).1, "stale_timestamp");
        assert_eq!(code(a.verify_signature_at(&fresh, body, now - 300).unwrap_err()).1, "stale_timestamp");
        assert_eq!(code(a.verify_signature_at("t=1733479200", body, now).unwrap_err()).1, "bad_signature");
        assert_eq!(code(a.verify_signature_at("v1=00", body, now).unwrap_err()).1, "bad_signature");
        let wrong = sign(b"not-the-secret-at-all", now, body);
        assert_eq!(code(a.verify_signature_at(&wrong, body, now).unwrap_err()).1, "bad_signature");
    }

    #[test]
    fn the_signature_is_the_documented_openssl_one() {
        // { printf '%s.' 1700000000; printf '{"a":1}\n'; } | openssl dgst -sha256 -hmac abcdefghijklmnopqrstuvwxyz
        assert_eq!(
            sign(b"abcdefghijklmnopqrstuvwxyz", 1_700_000_000, b"{\"a\":1}\n"),
            "t=1700000000,v1=6ddf801237a1871058b0696a775a9e1dcf01b95fb75277b5660fb211f2cfe7c3"
        );
    }

    #[test]
    fn a_full_replay_memory_refuses_new_signatures_until_old_ones_expire() {
        let a = signing(); // capacity 3
        let now = 1_733_479_200;
        for i in 0..3 {
            let body = format!("{{\"n\":{i}}}");
            a.verify_signature_at(&sign(b"grafana-webhook-secret-0001", now, body.as_bytes()), body.as_bytes(), now).unwrap();
        }
        let body = b"{\"n\":3}";
        let header = sign(b"grafana-webhook-secret-0001", now + 1, body);
        let (status, c, _) = code(a.verify_signature_at(&header, body, now + 1).unwrap_err());
        assert_eq!((status, c), (429, "rate_limited"));
        // Once the first three are older than the window they are forgotten.
        let later = now + 301;
        let header = sign(b"grafana-webhook-secret-0001", later, body);
        assert!(a.verify_signature_at(&header, body, later).is_ok());
    }

    #[test]
    fn each_client_has_its_own_per_minute_quota() {
        let a = auth(AuthOptions { disabled: true, rate_limit_per_minute: 2, ..Default::default() });
        assert!(a.rate_limit("caller:a").is_ok() && a.rate_limit("caller:a").is_ok());
        match a.rate_limit("caller:a") {
            Err(ApiError::RateLimited { retry_after_secs }) => assert!((1..=30).contains(&retry_after_secs), "{retry_after_secs}"),
            other => panic!("expected 429, got {other:?}"),
        }
        assert!(a.rate_limit("caller:b").is_ok());
        let unlimited = auth(AuthOptions { disabled: true, rate_limit_per_minute: 0, ..Default::default() });
        assert!((0..5000).all(|_| unlimited.rate_limit("x").is_ok()));
    }
}
