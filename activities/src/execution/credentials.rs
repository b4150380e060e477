//! Cluster credentials: one provider per cluster, cached until shortly before they expire.
//!
//! Providers ([`CredentialsOptions`], the `credentials` table of a cluster):
//! - `kubeconfig`: a kubeconfig file and context (also what the older top-level
//!   `kubeconfig` / `context` fields of a cluster mean);
//! - `in_cluster`: the pod's service account;
//! - `infer`: in-cluster, else the default kubeconfig (what a cluster without any
//!   credentials configuration gets);
//! - `vault_kv`: a kubeconfig, or a bearer token (+ server + CA), stored in a Vault KV secret
//!   (KV version 1 or 2);
//! - `vault_kubernetes`: a short-lived service-account token from Vault's Kubernetes secrets
//!   engine (`POST <mount>/creds/<role>`), with the server and CA from the configuration.
//!
//! Vault is reached through `vaultrs`, authenticated by a token or AppRole whose secret parts
//! come from environment variables named in the configuration, never from the file itself.
//!
//! Secrets never leave this module as text: tokens and kubeconfigs are wrapped in [`Secret`]
//! (whose `Debug` prints `[redacted]`), errors name variables, mounts, paths and fields but
//! carry no secret material, and what is cached is the `kube::Client`, inside the worker
//! process. Nothing here is serialized into an activity's input or output.

use base64::Engine as _;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::{
    collections::HashMap,
    fmt,
    future::Future,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use vaultrs::client::{Client as _, VaultClient, VaultClientSettingsBuilder};

// ---------------------------------------------------------------------------------------
// Secret text
// ---------------------------------------------------------------------------------------

/// Secret text (a token, a kubeconfig): no `Display`, no `Serialize`, and `Debug` prints
/// `[redacted]`, so it cannot end up in a log line, an error or a workflow payload by accident.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Secret(text.into())
    }

    /// The secret itself, for the one place that must hand it on.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

/// How a worker gets the credentials of one cluster (`[execution.clusters.<id>.credentials]`,
/// selected by `provider = "..."`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum CredentialsOptions {
    /// A kubeconfig file (absent: `$KUBECONFIG` or `~/.kube/config`) and context (absent: its
    /// current context).
    Kubeconfig {
        /// The file.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<PathBuf>,
        /// The context.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<String>,
    },
    /// The pod's service account (token and CA mounted under
    /// /var/run/secrets/kubernetes.io/serviceaccount).
    InCluster,
    /// In-cluster if that works, else the default kubeconfig (kube's `Config::infer`).
    Infer,
    /// A kubeconfig or a token stored in a Vault KV secret.
    VaultKv(VaultKvOptions),
    /// A short-lived token from Vault's Kubernetes secrets engine.
    VaultKubernetes(VaultKubernetesOptions),
}

impl CredentialsOptions {
    /// The provider's name, as in the configuration.
    pub fn name(&self) -> &'static str {
        match self {
            CredentialsOptions::Kubeconfig { .. } => "kubeconfig",
            CredentialsOptions::InCluster => "in_cluster",
            CredentialsOptions::Infer => "infer",
            CredentialsOptions::VaultKv(_) => "vault_kv",
            CredentialsOptions::VaultKubernetes(_) => "vault_kubernetes",
        }
    }
}

/// Where Vault is and how to log in (`[execution.vault]` for every cluster, or a cluster's
/// own `vault` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultOptions {
    /// Vault's address, e.g. `https://vault.example.com:8200`.
    pub address: String,
    /// How to log in.
    #[serde(default)]
    pub auth: VaultAuth,
    /// PEM file of the CA that signed Vault's certificate (absent: the system's roots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Vault Enterprise namespace (`X-Vault-Namespace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Upper bound of one request to Vault.
    #[serde(default = "default_vault_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_vault_timeout_secs() -> u64 {
    10
}

/// How to log in to Vault. Only the names of environment variables are configured: the
/// token, role id and secret id themselves come from the environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum VaultAuth {
    /// A Vault token from the environment variable `token_env`.
    Token {
        /// Name of the variable holding the token.
        #[serde(default = "default_token_env")]
        token_env: String,
    },
    /// AppRole login (`POST auth/<mount>/login`) with a role id and secret id from the
    /// environment.
    Approle {
        /// Mount of the AppRole auth method.
        #[serde(default = "default_approle_mount")]
        mount: String,
        /// Name of the variable holding the role id.
        #[serde(default = "default_role_id_env")]
        role_id_env: String,
        /// Name of the variable holding the secret id.
        #[serde(default = "default_secret_id_env")]
        secret_id_env: String,
        /// File holding the role id (e.g. a mounted Kubernetes Secret); read instead of
        /// `role_id_env` when set, on every login, so a rotated file is picked up.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role_id_file: Option<PathBuf>,
        /// File holding the secret id; read instead of `secret_id_env` when set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret_id_file: Option<PathBuf>,
    },
}

impl Default for VaultAuth {
    fn default() -> Self {
        VaultAuth::Token {
            token_env: default_token_env(),
        }
    }
}

fn default_token_env() -> String {
    "VAULT_TOKEN".into()
}
fn default_approle_mount() -> String {
    "approle".into()
}
fn default_role_id_env() -> String {
    "VAULT_ROLE_ID".into()
}
fn default_secret_id_env() -> String {
    "VAULT_SECRET_ID".into()
}

/// A kubeconfig, or a token + server + CA, in a Vault KV secret. The secret holds either
/// `kubeconfig_field` (kubeconfig YAML) or `token_field` (a bearer token, with the API
/// server in `server_field` and the CA, PEM or base64 of PEM, in `ca_field`, each falling
/// back to `server` / `ca_file` here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultKvOptions {
    /// This cluster's Vault (absent: `[execution.vault]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<VaultOptions>,
    /// Mount of the KV engine.
    #[serde(default = "default_kv_mount")]
    pub mount: String,
    /// Path of the secret inside the mount (without `data/` for KV v2).
    pub path: String,
    /// KV engine version: 1 or 2.
    #[serde(default = "default_kv_version")]
    pub kv_version: u8,
    /// Field holding a kubeconfig.
    #[serde(default = "default_kubeconfig_field")]
    pub kubeconfig_field: String,
    /// Context in that kubeconfig (absent: its current context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Field holding a bearer token.
    #[serde(default = "default_token_field")]
    pub token_field: String,
    /// Field holding the API server URL (for a token).
    #[serde(default = "default_server_field")]
    pub server_field: String,
    /// Field holding the API server's CA (for a token).
    #[serde(default = "default_ca_field")]
    pub ca_field: String,
    /// API server URL when the secret has no `server_field`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// API server CA file when the secret has no `ca_field`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// How long a secret read is used before it is read again (KV has no lease).
    #[serde(default = "default_kv_refresh_secs")]
    pub refresh_secs: u64,
}

fn default_kv_mount() -> String {
    "secret".into()
}
fn default_kv_version() -> u8 {
    2
}
fn default_kubeconfig_field() -> String {
    "kubeconfig".into()
}
fn default_token_field() -> String {
    "token".into()
}
fn default_server_field() -> String {
    "server".into()
}
fn default_ca_field() -> String {
    "ca.crt".into()
}
fn default_kv_refresh_secs() -> u64 {
    300
}

/// A short-lived service-account token from Vault's Kubernetes secrets engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultKubernetesOptions {
    /// This cluster's Vault (absent: `[execution.vault]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<VaultOptions>,
    /// Mount of the Kubernetes secrets engine.
    #[serde(default = "default_kubernetes_mount")]
    pub mount: String,
    /// Vault role.
    pub role: String,
    /// Namespace the token is generated in (`kubernetes_namespace`).
    pub kubernetes_namespace: String,
    /// Requested token lifetime (absent: the role's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
    /// The cluster's API server URL.
    pub server: String,
    /// The API server's CA file (absent: the system's roots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

fn default_kubernetes_mount() -> String {
    "kubernetes".into()
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// Why no credentials came. Messages name clusters, variables, mounts, paths and fields,
/// never a secret.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CredentialsError {
    /// The configuration is incomplete or contradictory.
    #[error("credentials configuration: {0}")]
    Config(String),
    /// An environment variable the configuration names is missing.
    #[error("environment variable {0} is not set (or empty)")]
    MissingEnv(String),
    /// Vault refused or failed.
    #[error("vault: {0}")]
    Vault(String),
    /// Vault could not answer now (transport error, 429, 5xx): worth retrying.
    #[error("vault unavailable: {0}")]
    VaultUnavailable(String),
    /// The credentials do not make a usable kube configuration.
    #[error("kube config: {0}")]
    Kube(String),
}

fn vault_error(what: &str, e: vaultrs::error::ClientError) -> CredentialsError {
    use rustify::errors::ClientError as R;
    use vaultrs::error::ClientError as E;
    // Never a response body: only status codes, Vault's own error strings ("permission
    // denied") and transport causes.
    let busy = |code: u16| code == 429 || code >= 500;
    let transient = match &e {
        E::APIError { code, .. } | E::RestClientError { source: R::ServerResponseError { code, .. } } => busy(*code),
        E::RestClientError { source: R::ResponseParseError { .. } } => false,
        E::RestClientError { .. } => true,
        _ => false,
    };
    let detail = match &e {
        E::APIError { code, errors } if errors.is_empty() => format!("status {code}"),
        E::APIError { code, errors } => {
            format!("status {code}: {}", tidy(errors.iter().map(String::as_str)))
        }
        E::RestClientError {
            source: R::ServerResponseError { code, content },
        } => {
            // Vault answers {"errors": [...]}, rvault {"error": "..."}.
            let said = content
                .as_deref()
                .and_then(|c| serde_json::from_str::<Value>(c).ok())
                .and_then(|v| match (v.get("errors"), v.get("error")) {
                    (Some(Value::Array(list)), _) => {
                        Some(tidy(list.iter().filter_map(Value::as_str)))
                    }
                    (_, Some(Value::String(one))) => Some(tidy([one.as_str()])),
                    _ => None,
                })
                .filter(|s| !s.is_empty());
            match said {
                Some(said) => format!("status {code}: {said}"),
                None => format!("status {code}"),
            }
        }
        E::RestClientError {
            source: R::ResponseParseError { source, .. },
        } => {
            // serde's "missing field `x`" helps; "invalid type: string \"...\"" could quote a value.
            let msg = source.to_string();
            if msg.starts_with("missing field") || msg.starts_with("unknown field") {
                format!("unexpected response: {msg}")
            } else {
                "unexpected response body".to_owned()
            }
        }
        other => error_chain(other),
    };
    if transient {
        CredentialsError::VaultUnavailable(format!("{what}: {detail}"))
    } else {
        CredentialsError::Vault(format!("{what}: {detail}"))
    }
}

/// Vault's error strings on one line: "1 error occurred:\n\t* permission denied\n\n" →
/// "permission denied".
fn tidy<'a>(errors: impl IntoIterator<Item = &'a str>) -> String {
    errors
        .into_iter()
        .flat_map(str::lines)
        .map(|l| l.trim().trim_start_matches("* ").trim())
        .filter(|l| !(l.is_empty() || l.ends_with("occurred:") && l.contains("error")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `e: cause: cause...` (transport errors: the URL, "connection refused", timeouts).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// Whether Vault refused the token (so a cached login is dropped and done again).
fn is_forbidden(e: &CredentialsError) -> bool {
    matches!(e, CredentialsError::Vault(msg) if msg.contains("status 403"))
}

// ---------------------------------------------------------------------------------------
// Fetching
// ---------------------------------------------------------------------------------------

/// How long fetched credentials may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// Until the process ends (kube refreshes file/in-cluster tokens itself).
    Unbounded,
    /// A Vault lease of this length, from the moment the request was sent.
    Lease(Duration),
    /// No lease (KV): read again after this long.
    Refresh(Duration),
}

/// Margin before a lease's end at which it is renewed: 10% of the lease, at least 60 s, at
/// most half of it (so a very short lease is still used for a while).
pub fn lease_margin(lease: Duration) -> Duration {
    (lease / 10).max(Duration::from_secs(60)).min(lease / 2)
}

impl Validity {
    /// How long after fetching the credentials are refreshed (`None`: never).
    pub fn refresh_after(self) -> Option<Duration> {
        match self {
            Validity::Unbounded => None,
            Validity::Refresh(every) => Some(every),
            Validity::Lease(lease) => Some(lease - lease_margin(lease)),
        }
    }

    /// How long after fetching they stop working (`None`: unknown or never).
    pub fn expires_after(self) -> Option<Duration> {
        match self {
            Validity::Lease(lease) => Some(lease),
            Validity::Unbounded | Validity::Refresh(_) => None,
        }
    }
}

/// What a provider gave: a kube configuration (holding the secret) and how long it is good.
pub struct Credentials {
    /// The configuration, token included.
    pub config: kube::Config,
    /// Its lifetime.
    pub validity: Validity,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("cluster_url", &self.config.cluster_url.to_string())
            .field("validity", &self.validity)
            .finish_non_exhaustive()
    }
}

/// Fetches credentials from providers, keeping Vault logins (AppRole tokens) for their
/// lease rather than logging in for every refresh.
pub struct Providers {
    logins: CredentialCache<Arc<VaultClient>>,
}

impl Providers {
    /// Providers whose Vault logins are timed on `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Providers {
            logins: CredentialCache::new(clock),
        }
    }

    /// Fetches fresh credentials from `provider`; `default_vault` is `[execution.vault]`.
    pub async fn fetch(
        &self,
        provider: &CredentialsOptions,
        default_vault: Option<&VaultOptions>,
    ) -> Result<Credentials, CredentialsError> {
        match provider {
            CredentialsOptions::Kubeconfig { path, context } => {
                let kubeconfig = match path {
                    Some(path) => Kubeconfig::read_from(path).map_err(|e| {
                        CredentialsError::Kube(format!(
                            "reading kubeconfig {}: {e}",
                            path.display()
                        ))
                    })?,
                    None => Kubeconfig::read().map_err(|e| {
                        CredentialsError::Kube(format!("reading the default kubeconfig: {e}"))
                    })?,
                };
                let kco = KubeConfigOptions {
                    context: context.clone(),
                    ..Default::default()
                };
                let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kco)
                    .await
                    .map_err(|e| {
                        CredentialsError::Kube(format!("kubeconfig {}: {e}", path_or_default(path)))
                    })?;
                Ok(Credentials {
                    config,
                    validity: Validity::Unbounded,
                })
            }
            CredentialsOptions::InCluster => {
                let config = kube::Config::incluster().map_err(|e| {
                    CredentialsError::Kube(format!("in-cluster service account: {e}"))
                })?;
                Ok(Credentials {
                    config,
                    validity: Validity::Unbounded,
                })
            }
            CredentialsOptions::Infer => {
                let config = kube::Config::infer()
                    .await
                    .map_err(|e| CredentialsError::Kube(e.to_string()))?;
                Ok(Credentials {
                    config,
                    validity: Validity::Unbounded,
                })
            }
            CredentialsOptions::VaultKv(kv) => {
                let vault = vault_options(kv.vault.as_ref(), default_vault)?;
                self.with_vault(
                    vault,
                    move |client| async move { from_kv(&client, kv).await },
                )
                .await
            }
            CredentialsOptions::VaultKubernetes(k8s) => {
                let vault = vault_options(k8s.vault.as_ref(), default_vault)?;
                self.with_vault(vault, move |client| async move {
                    from_kubernetes_engine(&client, k8s).await
                })
                .await
            }
        }
    }

    /// Runs `read` with a logged-in client; a 403 drops the cached login (revoked or expired
    /// token) and tries once more with a fresh one.
    async fn with_vault<F, Fut>(
        &self,
        opts: &VaultOptions,
        read: F,
    ) -> Result<Credentials, CredentialsError>
    where
        F: Fn(Arc<VaultClient>) -> Fut,
        Fut: Future<Output = Result<Credentials, CredentialsError>>,
    {
        // The options hold no secret, so they can key the cache.
        let key = serde_json::to_string(opts).unwrap_or_else(|_| opts.address.clone());
        let login = move || async move {
            login_with_validity(opts)
                .await
                .map(|(client, validity)| (Arc::new(client), validity))
        };
        let client = self.logins.get(&key, login).await?;
        match read(client).await {
            Err(e) if is_forbidden(&e) => {
                self.logins.invalidate(&key);
                let client = self.logins.get(&key, login).await?;
                read(client).await
            }
            other => other,
        }
    }
}

fn path_or_default(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map_or_else(|| "(default)".to_owned(), |p| p.display().to_string())
}

fn vault_options<'a>(
    own: Option<&'a VaultOptions>,
    default: Option<&'a VaultOptions>,
) -> Result<&'a VaultOptions, CredentialsError> {
    own.or(default).ok_or_else(|| {
        CredentialsError::Config(
            "a Vault provider needs a `vault` table (the cluster's own or [execution.vault])"
                .into(),
        )
    })
}

/// A secret from `file` when given, else from the environment variable `env`. Errors name
/// the file or variable, never the content.
fn file_or_env_secret(file: Option<&std::path::Path>, env: &str) -> Result<Secret, CredentialsError> {
    let Some(path) = file else { return env_secret(env) };
    match std::fs::read_to_string(path) {
        Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
        Ok(_) => Err(CredentialsError::Config(format!("{} is empty", path.display()))),
        Err(e) => Err(CredentialsError::Config(format!("reading {}: {}", path.display(), e.kind()))),
    }
}

fn env_secret(name: &str) -> Result<Secret, CredentialsError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
        _ => Err(CredentialsError::MissingEnv(name.to_owned())),
    }
}

/// reqwest (under vaultrs) is built without a bundled crypto provider: use ring, which kube
/// already brings. Installing twice is harmless (the first one stays).
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// One Vault HTTP API call through vaultrs' client (address, `/v1` prefix, token and
/// namespace headers, TLS, timeout). vaultrs' own response types require fields that
/// Vault-compatible servers (rvault, for one) omit, such as `request_id` or AppRole's
/// `accessor`; these requests read only the fields they need.
struct VaultRequest<R> {
    method: rustify::enums::RequestMethod,
    path: String,
    body: Option<Vec<u8>>,
    response: std::marker::PhantomData<fn() -> R>,
}

impl<R> VaultRequest<R> {
    fn get(path: String) -> Self {
        VaultRequest {
            method: rustify::enums::RequestMethod::GET,
            path,
            body: None,
            response: std::marker::PhantomData,
        }
    }

    fn post(path: String, body: &Value) -> Self {
        VaultRequest {
            method: rustify::enums::RequestMethod::POST,
            path,
            body: Some(body.to_string().into_bytes()),
            response: std::marker::PhantomData,
        }
    }
}

impl<R: serde::de::DeserializeOwned + Send + Sync> rustify::Endpoint for VaultRequest<R> {
    type Response = R;
    const REQUEST_BODY_TYPE: rustify::enums::RequestType = rustify::enums::RequestType::JSON;
    const RESPONSE_BODY_TYPE: rustify::enums::ResponseType = rustify::enums::ResponseType::JSON;

    fn path(&self) -> String {
        self.path.clone()
    }

    fn method(&self) -> rustify::enums::RequestMethod {
        self.method.clone()
    }

    fn body(&self) -> Result<Option<Vec<u8>>, rustify::errors::ClientError> {
        Ok(self.body.clone())
    }
}

/// `auth/<mount>/login`'s answer (no `Debug`: it holds the token).
#[derive(Deserialize)]
struct LoginResponse {
    auth: LoginAuth,
}

#[derive(Deserialize)]
struct LoginAuth {
    client_token: String,
    #[serde(default)]
    lease_duration: u64,
}

/// A Vault client, logged in.
pub async fn login(opts: &VaultOptions) -> Result<VaultClient, CredentialsError> {
    login_with_validity(opts).await.map(|(client, _)| client)
}

async fn login_with_validity(
    opts: &VaultOptions,
) -> Result<(VaultClient, Validity), CredentialsError> {
    let address = url::Url::parse(&opts.address)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            CredentialsError::Config(format!(
                "vault address {:?} is not an http(s) URL",
                opts.address
            ))
        })?;
    let token = match &opts.auth {
        VaultAuth::Token { token_env } => env_secret(token_env)?,
        VaultAuth::Approle { .. } => Secret::new(""),
    };
    install_crypto_provider();
    let mut settings = VaultClientSettingsBuilder::default();
    settings
        .address(address.as_str())
        .token(token.expose())
        .timeout(Some(Duration::from_secs(opts.timeout_secs)))
        .verify(true)
        .ca_certs(
            opts.ca_file
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        );
    if let Some(ns) = &opts.namespace {
        settings.set_namespace(ns.clone());
    }
    let settings = settings
        .build()
        .map_err(|e| CredentialsError::Config(format!("vault client settings: {e}")))?;
    let mut client =
        VaultClient::new(settings).map_err(|e| vault_error("building the client", e))?;
    let validity = match &opts.auth {
        // The token's lifetime is the operator's business (renewed outside, in the env).
        VaultAuth::Token { .. } => Validity::Unbounded,
        VaultAuth::Approle {
            mount,
            role_id_env,
            secret_id_env,
            role_id_file,
            secret_id_file,
        } => {
            let role_id = file_or_env_secret(role_id_file.as_deref(), role_id_env)?;
            let secret_id = file_or_env_secret(secret_id_file.as_deref(), secret_id_env)?;
            let body = json!({ "role_id": role_id.expose(), "secret_id": secret_id.expose() });
            let request = VaultRequest::<LoginResponse>::post(format!("auth/{mount}/login"), &body);
            let response = vaultrs::api::exec_with_no_result(&client, request)
                .await
                .map_err(|e| vault_error(&format!("AppRole login at auth/{mount}"), e))?;
            let token = Secret::new(response.auth.client_token);
            if token.expose().is_empty() {
                return Err(CredentialsError::Vault(format!(
                    "AppRole login at auth/{mount}: no client_token in the answer"
                )));
            }
            client.set_token(token.expose());
            match response.auth.lease_duration {
                0 => Validity::Unbounded,
                secs => Validity::Lease(Duration::from_secs(secs)),
            }
        }
    };
    Ok((client, validity))
}

/// KV v1's answer: `{"data": {<fields>}}`.
#[derive(Deserialize)]
struct Kv1Response {
    data: Option<Map<String, Value>>,
}

/// KV v2's answer: `{"data": {"data": {<fields>}, "metadata": {...}}}`.
#[derive(Deserialize)]
struct Kv2Response {
    data: Kv2Data,
}

#[derive(Deserialize)]
struct Kv2Data {
    data: Option<Map<String, Value>>,
}

/// Reads the fields of a KV secret (v1: `GET <mount>/<path>`, v2: `GET <mount>/data/<path>`).
async fn read_kv(
    vault: &VaultClient,
    kv: &VaultKvOptions,
) -> Result<Map<String, Value>, CredentialsError> {
    let what = format!(
        "reading KV v{} secret {}/{}",
        kv.kv_version, kv.mount, kv.path
    );
    let path = kv.path.trim_matches('/');
    let mount = kv.mount.trim_matches('/');
    let data = match kv.kv_version {
        1 => {
            vaultrs::api::exec_with_no_result(
                vault,
                VaultRequest::<Kv1Response>::get(format!("{mount}/{path}")),
            )
            .await
            .map_err(|e| vault_error(&what, e))?
            .data
        }
        2 => {
            vaultrs::api::exec_with_no_result(
                vault,
                VaultRequest::<Kv2Response>::get(format!("{mount}/data/{path}")),
            )
            .await
            .map_err(|e| vault_error(&what, e))?
            .data
            .data
        }
        other => {
            return Err(CredentialsError::Config(format!(
                "kv_version must be 1 or 2, not {other}"
            )));
        }
    };
    data.ok_or_else(|| {
        CredentialsError::Vault(format!("{what}: the secret has no data (deleted?)"))
    })
}

fn string_field(
    map: &mut Map<String, Value>,
    field: &str,
    secret: &str,
) -> Result<Option<Secret>, CredentialsError> {
    match map.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(Secret::new(s))),
        Some(_) => Err(CredentialsError::Vault(format!(
            "field {field:?} of secret {secret} is not a string"
        ))),
    }
}

async fn from_kv(
    vault: &VaultClient,
    kv: &VaultKvOptions,
) -> Result<Credentials, CredentialsError> {
    let secret = format!("{}/{}", kv.mount, kv.path);
    let mut fields = read_kv(vault, kv).await?;
    let validity = Validity::Refresh(Duration::from_secs(kv.refresh_secs.max(1)));
    if let Some(text) = string_field(&mut fields, &kv.kubeconfig_field, &secret)? {
        let what = format!("field {:?} of Vault secret {secret}", kv.kubeconfig_field);
        let config = config_from_kubeconfig_text(&text, kv.context.clone(), &what).await?;
        return Ok(Credentials { config, validity });
    }
    let Some(token) = string_field(&mut fields, &kv.token_field, &secret)? else {
        return Err(CredentialsError::Vault(format!(
            "secret {secret} has neither field {:?} (kubeconfig) nor {:?} (token)",
            kv.kubeconfig_field, kv.token_field
        )));
    };
    let server = match string_field(&mut fields, &kv.server_field, &secret)? {
        Some(s) => s.expose().to_owned(),
        None => kv.server.clone().ok_or_else(|| {
            CredentialsError::Config(format!(
                "secret {secret} has no field {:?} and no `server` is configured",
                kv.server_field
            ))
        })?,
    };
    let ca = match string_field(&mut fields, &kv.ca_field, &secret)? {
        Some(ca) => Ca::Data(ca),
        None => kv.ca_file.clone().map_or(Ca::System, Ca::File),
    };
    let what = format!("token from Vault secret {secret}");
    let config = config_from_token(&server, &token, &ca, &what).await?;
    Ok(Credentials { config, validity })
}

/// The engine's answer (no `Debug`: it holds the token).
#[derive(Deserialize)]
struct KubernetesCredsResponse {
    #[serde(default)]
    lease_duration: u64,
    data: KubernetesCredsData,
}

#[derive(Deserialize)]
struct KubernetesCredsData {
    service_account_token: String,
    #[serde(default)]
    service_account_name: Option<String>,
}

async fn from_kubernetes_engine(
    vault: &VaultClient,
    k8s: &VaultKubernetesOptions,
) -> Result<Credentials, CredentialsError> {
    let mut body = json!({ "kubernetes_namespace": k8s.kubernetes_namespace });
    if let Some(ttl) = k8s.ttl_secs {
        body["ttl"] = json!(format!("{ttl}s"));
    }
    let mount = k8s.mount.trim_matches('/');
    let request =
        VaultRequest::<KubernetesCredsResponse>::post(format!("{mount}/creds/{}", k8s.role), &body);
    let what = format!("generating a token at {}/creds/{}", k8s.mount, k8s.role);
    let response = vaultrs::api::exec_with_no_result(vault, request)
        .await
        .map_err(|e| vault_error(&what, e))?;
    let token = Secret::new(response.data.service_account_token);
    if token.expose().is_empty() {
        return Err(CredentialsError::Vault(format!(
            "{what}: the response has no service_account_token"
        )));
    }
    tracing::debug!(
        service_account = response.data.service_account_name.as_deref().unwrap_or("?"),
        lease_secs = response.lease_duration,
        "vault issued a kubernetes token"
    );
    let validity = match response.lease_duration {
        0 => Validity::Refresh(Duration::from_secs(default_kv_refresh_secs())),
        secs => Validity::Lease(Duration::from_secs(secs)),
    };
    let ca = k8s.ca_file.clone().map_or(Ca::System, Ca::File);
    let config = config_from_token(&k8s.server, &token, &ca, &what).await?;
    Ok(Credentials { config, validity })
}

/// The API server's CA.
enum Ca {
    /// The system's roots.
    System,
    /// A PEM file.
    File(PathBuf),
    /// PEM text, or base64 of PEM (kubeconfig's `certificate-authority-data`).
    Data(Secret),
}

/// A kubeconfig (as JSON) for a bearer token against `server`.
fn token_kubeconfig(server: &str, token: &Secret, ca: &Ca) -> Value {
    let mut cluster = json!({ "server": server });
    match ca {
        Ca::System => {}
        Ca::File(path) => cluster["certificate-authority"] = json!(path),
        Ca::Data(data) => {
            let text = data.expose().trim();
            let b64 = if text.starts_with("-----BEGIN") {
                base64::engine::general_purpose::STANDARD.encode(text)
            } else {
                text.chars().filter(|c| !c.is_whitespace()).collect()
            };
            cluster["certificate-authority-data"] = json!(b64);
        }
    }
    json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": "cluster", "cluster": cluster }],
        "users": [{ "name": "user", "user": { "token": token.expose() } }],
        "contexts": [{ "name": "context", "context": { "cluster": "cluster", "user": "user" } }],
        "current-context": "context",
    })
}

async fn config_from_token(
    server: &str,
    token: &Secret,
    ca: &Ca,
    what: &str,
) -> Result<kube::Config, CredentialsError> {
    let kubeconfig = token_kubeconfig(server, token, ca);
    let kubeconfig: Kubeconfig = serde_json::from_value(kubeconfig)
        .map_err(|_| CredentialsError::Kube(format!("{what}: could not build a kubeconfig")))?;
    kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| CredentialsError::Kube(format!("{what} (server {server}): {e}")))
}

async fn config_from_kubeconfig_text(
    text: &Secret,
    context: Option<String>,
    what: &str,
) -> Result<kube::Config, CredentialsError> {
    // The parser's message may quote the text: say where, not what.
    let kubeconfig = Kubeconfig::from_yaml(text.expose())
        .map_err(|_| CredentialsError::Kube(format!("{what} is not a valid kubeconfig (YAML)")))?;
    // A kubeconfig from a secret store must carry its credentials, not run programs here.
    for user in &kubeconfig.auth_infos {
        if let Some(auth) = &user.auth_info
            && (auth.exec.is_some() || auth.auth_provider.is_some())
        {
            return Err(CredentialsError::Kube(format!(
                "{what}: user {:?} uses an exec or auth-provider plugin, which is not run for credentials from Vault",
                user.name
            )));
        }
    }
    let kco = KubeConfigOptions {
        context,
        ..Default::default()
    };
    kube::Config::from_custom_kubeconfig(kubeconfig, &kco)
        .await
        .map_err(|e| CredentialsError::Kube(format!("{what}: {e}")))
}

// ---------------------------------------------------------------------------------------
// Cache
// ---------------------------------------------------------------------------------------

/// A monotonic clock, injectable so expiry is testable without sleeping.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Instant;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to (tests).
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    elapsed: std::sync::Mutex<Duration>,
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock {
            start: Instant::now(),
            elapsed: std::sync::Mutex::new(Duration::ZERO),
        }
    }
}

impl ManualClock {
    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.elapsed.lock().unwrap_or_else(|p| p.into_inner()) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + *self.elapsed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// After a failed refresh, how long the previous, still valid, credentials are used before
/// the next attempt.
pub const RETRY_AFTER_FAILED_REFRESH: Duration = Duration::from_secs(10);

struct Entry<T> {
    value: T,
    /// When to fetch again (`None`: never).
    refresh_at: Option<Instant>,
    /// When the value stops working (`None`: unknown).
    expires_at: Option<Instant>,
}

struct Slot<T> {
    /// Bumped by every completed fetch, so that callers who waited for one share its outcome.
    generation: AtomicU64,
    state: tokio::sync::Mutex<Option<Result<Entry<T>, CredentialsError>>>,
}

/// Values (kube clients) per key (cluster), fetched on first use, refreshed from their
/// [`Validity`]; callers who arrive while a fetch runs wait for it and share its outcome.
/// When a refresh fails while the previous value is still within its lifetime, that value is
/// kept and the refresh retried after [`RETRY_AFTER_FAILED_REFRESH`].
pub struct CredentialCache<T> {
    clock: Arc<dyn Clock>,
    slots: std::sync::Mutex<HashMap<String, Arc<Slot<T>>>>,
}

impl<T: Clone> CredentialCache<T> {
    /// An empty cache on `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        CredentialCache {
            clock,
            slots: std::sync::Mutex::default(),
        }
    }

    fn slot(&self, key: &str) -> Arc<Slot<T>> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots
            .entry(key.to_owned())
            .or_insert_with(|| {
                Arc::new(Slot {
                    generation: AtomicU64::new(0),
                    state: tokio::sync::Mutex::new(None),
                })
            })
            .clone()
    }

    /// Forgets `key`'s value (e.g. after the API server rejected its token): the next `get`
    /// fetches.
    pub fn invalidate(&self, key: &str) {
        self.slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    /// `key`'s value, from the cache while fresh, else from `fetch`.
    pub async fn get<F, Fut>(&self, key: &str, fetch: F) -> Result<T, CredentialsError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(T, Validity), CredentialsError>>,
    {
        let slot = self.slot(key);
        let seen = slot.generation.load(Ordering::Acquire);
        let mut state = slot.state.lock().await;
        let now = self.clock.now();
        match &*state {
            Some(Ok(entry)) if entry.refresh_at.is_none_or(|at| now < at) => {
                return Ok(entry.value.clone());
            }
            // A fetch finished (and failed) while this caller waited: share its outcome.
            Some(Err(e)) if slot.generation.load(Ordering::Acquire) != seen => {
                return Err(e.clone());
            }
            _ => {}
        }
        // Lifetimes count from before the request: the lease started after it was sent.
        let started = now;
        let outcome = fetch().await;
        let now = self.clock.now();
        let result = match outcome {
            Ok((value, validity)) => {
                let entry = Entry {
                    value: value.clone(),
                    refresh_at: validity.refresh_after().map(|d| started + d),
                    expires_at: validity.expires_after().map(|d| started + d),
                };
                *state = Some(Ok(entry));
                Ok(value)
            }
            Err(e) => match state.as_mut() {
                Some(Ok(previous)) if previous.expires_at.is_none_or(|at| now < at) => {
                    tracing::warn!(cluster = key, error = %e, "refreshing credentials failed; using the previous ones while they last");
                    let retry = now + RETRY_AFTER_FAILED_REFRESH;
                    previous.refresh_at =
                        Some(previous.expires_at.map_or(retry, |at| retry.min(at)));
                    Ok(previous.value.clone())
                }
                _ => {
                    *state = Some(Err(e.clone()));
                    Err(e)
                }
            },
        };
        slot.generation.fetch_add(1, Ordering::Release);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn cache() -> (Arc<ManualClock>, CredentialCache<u32>) {
        let clock = Arc::new(ManualClock::default());
        (clock.clone(), CredentialCache::new(clock))
    }

    /// A fetch that counts its calls and returns the call number.
    async fn counting(
        calls: &AtomicUsize,
        validity: Validity,
    ) -> Result<(u32, Validity), CredentialsError> {
        Ok((calls.fetch_add(1, Ordering::SeqCst) as u32 + 1, validity))
    }

    #[test]
    fn lease_margin_is_ten_percent_at_least_a_minute_at_most_half() {
        assert_eq!(
            lease_margin(Duration::from_secs(3600)),
            Duration::from_secs(360)
        );
        assert_eq!(
            lease_margin(Duration::from_secs(600)),
            Duration::from_secs(60)
        );
        assert_eq!(
            lease_margin(Duration::from_secs(300)),
            Duration::from_secs(60)
        );
        assert_eq!(
            lease_margin(Duration::from_secs(60)),
            Duration::from_secs(30)
        );
        assert_eq!(
            Validity::Lease(Duration::from_secs(600)).refresh_after(),
            Some(Duration::from_secs(540))
        );
        assert_eq!(
            Validity::Refresh(Duration::from_secs(300)).refresh_after(),
            Some(Duration::from_secs(300))
        );
        assert_eq!(Validity::Unbounded.refresh_after(), None);
    }

    #[tokio::test]
    async fn a_lease_is_used_until_its_margin_then_refetched() {
        let (clock, cache) = cache();
        let calls = AtomicUsize::new(0);
        let lease = Validity::Lease(Duration::from_secs(600));
        assert_eq!(cache.get("c", || counting(&calls, lease)).await, Ok(1));
        clock.advance(Duration::from_secs(539));
        assert_eq!(
            cache.get("c", || counting(&calls, lease)).await,
            Ok(1),
            "still 61 s before expiry"
        );
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            cache.get("c", || counting(&calls, lease)).await,
            Ok(2),
            "60 s before expiry: refreshed"
        );
        assert_eq!(cache.get("c", || counting(&calls, lease)).await, Ok(2));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn kv_credentials_follow_the_refresh_interval_and_files_never_expire() {
        let (clock, cache) = cache();
        let calls = AtomicUsize::new(0);
        let kv = Validity::Refresh(Duration::from_secs(300));
        assert_eq!(cache.get("kv", || counting(&calls, kv)).await, Ok(1));
        clock.advance(Duration::from_secs(299));
        assert_eq!(cache.get("kv", || counting(&calls, kv)).await, Ok(1));
        clock.advance(Duration::from_secs(1));
        assert_eq!(cache.get("kv", || counting(&calls, kv)).await, Ok(2));

        let file_calls = AtomicUsize::new(0);
        assert_eq!(
            cache
                .get("file", || counting(&file_calls, Validity::Unbounded))
                .await,
            Ok(1)
        );
        clock.advance(Duration::from_secs(365 * 24 * 3600));
        assert_eq!(
            cache
                .get("file", || counting(&file_calls, Validity::Unbounded))
                .await,
            Ok(1)
        );
    }

    #[tokio::test]
    async fn clusters_are_cached_separately_and_invalidate_forces_a_fetch() {
        let (_clock, cache) = cache();
        let calls = AtomicUsize::new(0);
        assert_eq!(
            cache
                .get("a", || counting(&calls, Validity::Unbounded))
                .await,
            Ok(1)
        );
        assert_eq!(
            cache
                .get("b", || counting(&calls, Validity::Unbounded))
                .await,
            Ok(2)
        );
        assert_eq!(
            cache
                .get("a", || counting(&calls, Validity::Unbounded))
                .await,
            Ok(1)
        );
        cache.invalidate("a");
        assert_eq!(
            cache
                .get("a", || counting(&calls, Validity::Unbounded))
                .await,
            Ok(3)
        );
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_the_unexpired_lease_and_retries_later() {
        let (clock, cache) = cache();
        let lease = Validity::Lease(Duration::from_secs(600));
        let down = || async { Err(CredentialsError::Vault("down".into())) };
        assert_eq!(cache.get("c", || async { Ok((1, lease)) }).await, Ok(1));
        clock.advance(Duration::from_secs(550));
        assert_eq!(
            cache.get("c", down).await,
            Ok(1),
            "refresh failed, lease still valid"
        );
        // Within the retry delay no fetch is attempted.
        clock.advance(RETRY_AFTER_FAILED_REFRESH - Duration::from_secs(1));
        let attempts = &AtomicUsize::new(0);
        let counted = move || async move {
            attempts.fetch_add(1, Ordering::SeqCst);
            Err(CredentialsError::Vault("down".into()))
        };
        assert_eq!(cache.get("c", counted).await, Ok(1));
        assert_eq!(
            attempts.load(Ordering::SeqCst),
            0,
            "no fetch during the retry delay"
        );
        clock.advance(Duration::from_secs(1));
        assert_eq!(cache.get("c", down).await, Ok(1));
        // Past the lease's end, a failure is an error.
        clock.advance(Duration::from_secs(60));
        assert_eq!(
            cache.get("c", down).await,
            Err(CredentialsError::Vault("down".into()))
        );
        assert_eq!(
            cache.get("c", || async { Ok((2, lease)) }).await,
            Ok(2),
            "a later fetch recovers"
        );
    }

    #[tokio::test]
    async fn a_failure_is_not_cached_for_later_callers() {
        let (_clock, cache) = cache();
        let down = || async { Err(CredentialsError::Vault("down".into())) };
        assert!(cache.get("c", down).await.is_err());
        assert_eq!(
            cache
                .get("c", || async { Ok((7, Validity::Unbounded)) })
                .await,
            Ok(7)
        );
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let (_clock, cache) = cache();
        let calls = &AtomicUsize::new(0);
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        let wait = &std::sync::Mutex::new(Some(wait));
        let fetch = move || async move {
            calls.fetch_add(1, Ordering::SeqCst);
            let rx = wait.lock().unwrap().take();
            if let Some(rx) = rx {
                rx.await.unwrap();
            }
            Ok((42, Validity::Lease(Duration::from_secs(600))))
        };
        let callers = futures::future::join_all((0..8).map(|_| cache.get("c", fetch)));
        let released = async {
            tokio::task::yield_now().await;
            release.send(()).unwrap();
        };
        let (results, ()) = tokio::join!(callers, released);
        assert!(results.iter().all(|r| r == &Ok(42)), "{results:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn callers_waiting_on_a_failing_fetch_share_its_error() {
        let (_clock, cache) = cache();
        let calls = &AtomicUsize::new(0);
        let fetch = move || async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Err::<(u32, Validity), _>(CredentialsError::Vault("sealed".into()))
        };
        let results = futures::future::join_all((0..4).map(|_| cache.get("c", fetch))).await;
        assert!(
            results
                .iter()
                .all(|r| r == &Err(CredentialsError::Vault("sealed".into())))
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn vault_error_strings_are_put_on_one_line() {
        assert_eq!(
            tidy(["1 error occurred:\n\t* permission denied\n\n"]),
            "permission denied"
        );
        assert_eq!(
            tidy(["2 errors occurred:\n\t* a\n\t* b\n\n", "c"]),
            "a; b; c"
        );
        assert_eq!(tidy(["Permission denied."]), "Permission denied.");
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("s.hunter2");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&s)), "Some([redacted])");
    }

    #[test]
    fn provider_config_shapes() {
        let kv: CredentialsOptions = serde_json::from_value(json!({
            "provider": "vault_kv",
            "vault": { "address": "http://127.0.0.1:8200", "auth": { "method": "approle", "role_id_env": "R", "secret_id_env": "S" } },
            "mount": "kv", "path": "clusters/prod", "kv_version": 1,
        }))
        .unwrap();
        let CredentialsOptions::VaultKv(kv) = kv else {
            panic!()
        };
        assert_eq!(kv.kubeconfig_field, "kubeconfig");
        assert_eq!(kv.refresh_secs, 300);
        assert_eq!(
            kv.vault.unwrap().auth,
            VaultAuth::Approle {
                mount: "approle".into(),
                role_id_env: "R".into(),
                secret_id_env: "S".into(),
                role_id_file: None,
                secret_id_file: None,
            }
        );
        let k8s: CredentialsOptions = serde_json::from_value(json!({
            "provider": "vault_kubernetes", "role": "reader", "kubernetes_namespace": "shop",
            "server": "https://10.0.0.1:6443", "ttl_secs": 600,
        }))
        .unwrap();
        assert_eq!(k8s.name(), "vault_kubernetes");
        let ic: CredentialsOptions =
            serde_json::from_value(json!({ "provider": "in_cluster" })).unwrap();
        assert_eq!(ic, CredentialsOptions::InCluster);
    }

    #[test]
    fn a_token_written_into_the_config_is_rejected_not_ignored() {
        let with_token = serde_json::from_value::<VaultOptions>(json!({
            "address": "http://127.0.0.1:8200", "auth": { "method": "token", "token": "s.abc" },
        }));
        assert!(
            with_token
                .unwrap_err()
                .to_string()
                .contains("unknown field `token`")
        );
        let at_top = serde_json::from_value::<VaultOptions>(
            json!({ "address": "http://v", "token": "s.abc" }),
        );
        assert!(at_top.is_err());
    }

    #[tokio::test]
    async fn a_missing_token_variable_is_named_and_nothing_else() {
        let opts = VaultOptions {
            address: "http://127.0.0.1:1".into(),
            auth: VaultAuth::Token {
                token_env: "AETHERIUS_TEST_SURELY_UNSET_VAULT_TOKEN".into(),
            },
            ca_file: None,
            namespace: None,
            timeout_secs: 1,
        };
        let err = login(&opts).await.err().expect("no Vault token variable");
        assert_eq!(
            err,
            CredentialsError::MissingEnv("AETHERIUS_TEST_SURELY_UNSET_VAULT_TOKEN".into())
        );
    }

    #[tokio::test]
    async fn a_kubeconfig_with_an_exec_plugin_from_vault_is_refused_and_not_quoted() {
        let text = Secret::new(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://k\n\
             contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/sh\n      args: [\"-c\", \"echo SECRET-ARG\"]\n",
        );
        let err = config_from_kubeconfig_text(&text, None, "field")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("exec"), "{err}");
        assert!(!err.contains("SECRET-ARG"), "{err}");
        let broken = Secret::new("users: [token: s.SECRET-VALUE");
        let err = config_from_kubeconfig_text(&broken, None, "field")
            .await
            .unwrap_err()
            .to_string();
        assert!(!err.contains("SECRET-VALUE"), "{err}");
    }

    #[tokio::test]
    async fn token_server_and_ca_make_a_config() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        let token = Secret::new("eyJhbGciOiJSUzI1NiJ9.payload.sig");
        let k = token_kubeconfig("https://10.0.0.1:6443", &token, &Ca::Data(Secret::new(pem)));
        let data = k["clusters"][0]["cluster"]["certificate-authority-data"]
            .as_str()
            .unwrap();
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap(),
            pem.as_bytes()
        );
        let k = token_kubeconfig("https://k", &token, &Ca::Data(Secret::new(" TFMw\nLS0= ")));
        assert_eq!(
            k["clusters"][0]["cluster"]["certificate-authority-data"], "TFMwLS0=",
            "base64 kept as is"
        );
        let k = token_kubeconfig("https://k", &token, &Ca::File("/etc/k8s/ca.crt".into()));
        assert_eq!(
            k["clusters"][0]["cluster"]["certificate-authority"],
            "/etc/k8s/ca.crt"
        );

        let config = config_from_token("https://10.0.0.1:6443", &token, &Ca::System, "t")
            .await
            .unwrap();
        assert_eq!(config.cluster_url.to_string(), "https://10.0.0.1:6443/");
        assert!(config.auth_info.token.is_some());
        let err = config_from_token(
            "https://10.0.0.1:6443",
            &token,
            &Ca::Data(Secret::new("not base64!")),
            "t",
        )
        .await
        .unwrap_err();
        assert!(!err.to_string().contains("eyJ"), "{err}");
    }
}
