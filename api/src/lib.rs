//! The HTTP API: Alertmanager webhook in, diagnoses out.
//!
//! `fn app(state) -> Router` is the whole surface; it is tested in-process. Every route is
//! listed in [`routes`] and its access in [`auth::ROUTES`].

mod approvals;
pub mod auth;
mod commands;
pub mod custom;
mod dedup;
mod error;
mod history;
mod ingest;
mod knowledge;
mod manual;
mod reports;
pub mod openapi;
pub mod ops;
mod tasks;

pub use auth::{Auth, Caller, Role};
pub use commands::verdict;
pub use dedup::DedupWindow;
pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use ingest::{Ingest, start_options};
pub use ops::Metrics;

use aetherius_core::priority::PriorityWeights;
use axum::{
    Router,
    http::{HeaderName, HeaderValue, Method, header},
    routing::{MethodRouter, delete, get, post, put},
};
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, sync::Arc};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Options of the API (seed defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiOptions {
    /// Listen address.
    pub listen: String,
    /// Largest accepted request body (seed: 10 MB).
    pub max_payload_bytes: usize,
    /// Window in which a repeated alert is answered without touching Temporal (seed: 5 min).
    pub dedup_ttl_secs: u64,
    /// Cluster id for alerts without a `cluster` label.
    pub default_cluster: String,
    /// Most steps one diagnosis may run.
    pub max_steps: u32,
    /// Priority weights.
    #[serde(default)]
    pub priority: PriorityWeights,
    /// Base URL of the Temporal UI, for links in answers.
    pub temporal_ui_url: String,
    /// Temporal namespace, for links.
    pub temporal_namespace: String,
    /// Which diagnosis steps wait for a human (`[api.approval]`).
    #[serde(default)]
    pub approval: aetherius_core::approval::ApprovalConfig,
    /// Authentication, roles, webhook signatures, rate limit (`[api.auth]`).
    #[serde(default)]
    pub auth: auth::AuthOptions,
    /// Origins browsers may call the API from (`*`: any); empty: no CORS headers.
    #[serde(default)]
    pub cors_allowed_origins: Vec<String>,
    /// Time each dependency gets to answer `GET /health/ready`, milliseconds.
    #[serde(default = "default_ready_timeout_ms")]
    pub ready_timeout_ms: u64,
    /// Field mappings of `POST /webhook/custom/{source}`, by source name.
    #[serde(default)]
    pub custom_sources: BTreeMap<String, custom::CustomSource>,
    /// The task queues diagnoses start on (from `[temporal] task_queue_suffix`, set by the caller).
    #[serde(skip)]
    pub queues: aetherius_core::queues::Queues,
}

fn default_ready_timeout_ms() -> u64 {
    2000
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions {
            listen: "127.0.0.1:8080".into(),
            max_payload_bytes: 10 * 1024 * 1024,
            dedup_ttl_secs: 300,
            default_cluster: "default".into(),
            max_steps: aetherius_core::DEFAULT_MAX_STEPS,
            priority: PriorityWeights::default(),
            temporal_ui_url: "http://127.0.0.1:8233".into(),
            temporal_namespace: "default".into(),
            approval: Default::default(),
            auth: auth::AuthOptions::default(),
            cors_allowed_origins: vec![],
            ready_timeout_ms: default_ready_timeout_ms(),
            custom_sources: BTreeMap::new(),
            queues: Default::default(),
        }
    }
}

/// Options that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `[api.auth]`.
    #[error(transparent)]
    Auth(#[from] auth::AuthConfigError),
    /// Anything else of `[api]`.
    #[error("{0}")]
    Invalid(String),
}

/// Shared state of the handlers (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    /// Options.
    pub options: Arc<ApiOptions>,
    /// Temporal client: starts and reads diagnoses.
    pub temporal: temporalio_client::Client,
    /// Reports.
    pub pool: sqlx::PgPool,
    /// Recently seen alerts.
    pub dedup: DedupWindow,
    /// Knowledge base behind `/knowledge`, `/search`, `/feedback` (`None`: they answer 503).
    pub knowledge: Option<Arc<aetherius_activities::knowledge::KnowledgeBase>>,
    /// Clusters and namespace allowlists (safety layer 5), for `POST /commands/validate`.
    pub access: Arc<aetherius_core::safety::ClusterAccess>,
    /// Credentials, webhook replay memory, rate limits (from `options.auth`).
    pub auth: Arc<Auth>,
    /// This API's Prometheus registry.
    pub metrics: Metrics,
    /// Key of approve / reject links (`[api.approval] link_secret_*`); none: links are refused.
    pub link_key: Option<Arc<str>>,
}

impl AppState {
    /// The state over these services, options checked; no knowledge base.
    pub fn new(
        options: ApiOptions,
        temporal: temporalio_client::Client,
        pool: sqlx::PgPool,
        access: Arc<aetherius_core::safety::ClusterAccess>,
    ) -> Result<AppState, ConfigError> {
        for (name, source) in &options.custom_sources {
            source.check(name).map_err(ConfigError::Invalid)?;
        }
        for origin in &options.cors_allowed_origins {
            if origin != "*" && HeaderValue::from_str(origin).is_err() {
                return Err(ConfigError::Invalid(format!("api.cors_allowed_origins: {origin:?} is not a valid origin")));
            }
        }
        let link_key = aetherius_activities::notify::link::secret(&options.approval).map_err(ConfigError::Invalid)?.map(Arc::from);
        Ok(AppState {
            link_key,
            auth: Arc::new(Auth::new(&options.auth)?),
            dedup: DedupWindow::new(std::time::Duration::from_secs(options.dedup_ttl_secs)),
            options: Arc::new(options),
            temporal,
            pool,
            knowledge: None,
            access,
            metrics: Metrics::new(),
        })
    }
}

/// Every route: method, path (as axum matches it), handler. Each needs an entry in
/// [`auth::ROUTES`] (a test checks), else it is refused.
pub fn routes() -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    vec![
        (Method::GET, "/health", get(ops::health)),
        (Method::GET, "/health/live", get(ops::live)),
        (Method::GET, "/health/ready", get(ops::ready)),
        (Method::GET, "/metrics", get(ops::metrics)),
        (Method::GET, "/openapi.json", get(openapi::api_description)),
        (Method::GET, "/docs", get(openapi::docs)),
        (Method::POST, "/webhook/alertmanager", post(ingest::alertmanager)),
        (Method::POST, "/webhook/custom/{source}", post(custom::webhook)),
        (Method::POST, "/tasks", post(manual::create_task)),
        (Method::GET, "/tasks", get(tasks::list_tasks)),
        (Method::GET, "/tasks/{id}", get(tasks::get_task)),
        (Method::PUT, "/tasks/{id}/cancel", put(tasks::cancel)),
        (Method::POST, "/tasks/{id}/retry", post(tasks::retry)),
        (Method::POST, "/tasks/{id}/approve", post(tasks::approve)),
        (Method::POST, "/tasks/{id}/reject", post(tasks::reject)),
        (Method::GET, "/approvals/{token}", get(approvals::page)),
        (Method::POST, "/approvals/{token}", post(approvals::decide)),
        (Method::GET, "/queue/status", get(tasks::queue_status)),
        (Method::GET, "/tools", get(commands::tools)),
        (Method::POST, "/commands/validate", post(commands::validate)),
        (Method::GET, "/reports", get(reports::list)),
        (Method::GET, "/reports/{id}", get(reports::get)),
        (Method::POST, "/reports/{id}/archive", post(reports::archive)),
        (Method::GET, "/audit", get(reports::audit)),
        (Method::POST, "/knowledge", post(knowledge::create)),
        (Method::GET, "/knowledge", get(knowledge::list)),
        (Method::GET, "/knowledge/{id}", get(knowledge::get)),
        (Method::PUT, "/knowledge/{id}", put(knowledge::update)),
        (Method::DELETE, "/knowledge/{id}", delete(knowledge::delete)),
        (Method::POST, "/search", post(knowledge::search)),
        (Method::POST, "/feedback", post(knowledge::feedback)),
    ]
}

fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, HeaderName::from_static("x-request-id")])
            .expose_headers([HeaderName::from_static("x-request-id"), header::RETRY_AFTER]),
    )
}

/// Starts (or finds) the diagnosis of one standardized event exactly as the webhook does
/// (dedup window, Temporal's duplicate check, priority); for sources outside HTTP, such as
/// the Kubernetes Warning event watcher.
pub async fn ingest_event(state: &AppState, event: aetherius_core::StandardEvent) -> Result<Ingest, ApiError> {
    ingest::ingest_one(state, event).await
}


/// The router: [`routes`] behind authentication and rate limits ([`auth::ROUTES`]),
/// request ids and metrics, and CORS when configured.
pub fn app(state: AppState) -> Router {
    let limit = state.options.max_payload_bytes;
    let mut router = Router::new();
    for (_, path, handler) in routes() {
        router = router.route(path, handler);
    }
    let router = router
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), ops::guard))
        .layer(axum::middleware::from_fn_with_state(state.clone(), ops::observe))
        .layer(axum::extract::DefaultBodyLimit::max(limit));
    let router = match cors(&state.options.cors_allowed_origins) {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.with_state(state)
}
