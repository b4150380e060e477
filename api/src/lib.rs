//! The HTTP API: Alertmanager webhook in, diagnoses out.
//!
//! `fn app(state) -> Router` is the whole surface; it is tested in-process.

mod commands;
mod dedup;
mod error;
mod history;
mod ingest;
mod knowledge;
mod manual;
mod tasks;

pub use commands::verdict;
pub use dedup::DedupWindow;
pub use error::ApiError;
pub use ingest::Ingest;

use aetherius_core::priority::PriorityWeights;
use axum::{
    Router,
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

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
        }
    }
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
}

/// Starts (or finds) the diagnosis of one standardized event exactly as the webhook does
/// (dedup window, Temporal's duplicate check, priority); for sources outside HTTP, such as
/// the Kubernetes Warning event watcher.
pub async fn ingest_event(state: &AppState, event: aetherius_core::StandardEvent) -> Result<Ingest, ApiError> {
    ingest::ingest_one(state, event).await
}

/// The router.
pub fn app(state: AppState) -> Router {
    let limit = state.options.max_payload_bytes;
    Router::new()
        .route("/health", get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }))
        .route("/webhook/alertmanager", post(ingest::alertmanager))
        .route("/tasks", post(manual::create_task))
        .route("/tasks/{id}", get(tasks::get_task))
        .route("/tools", get(commands::tools))
        .route("/commands/validate", post(commands::validate))
        .route("/knowledge", post(knowledge::create).get(knowledge::list))
        .route("/knowledge/{id}", get(knowledge::get).put(knowledge::update).delete(knowledge::delete))
        .route("/search", post(knowledge::search))
        .route("/feedback", post(knowledge::feedback))
        .fallback(error::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .with_state(state)
}
