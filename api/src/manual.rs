//! `POST /tasks`: a person asks for a diagnosis of one object, without an alert.

use crate::{
    ApiError, AppState,
    ingest::{Ingest, body_or_error, ingest_one, parse},
};
use aetherius_core::{
    AlertStatus, EventType, StandardEvent, Target, command::ResourceKind, fingerprint,
    safety::{is_dns1123_label, is_dns1123_subdomain},
};
use axum::{
    Json,
    body::Bytes,
    extract::{State, rejection::BytesRejection},
    http::StatusCode,
};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Body of `POST /tasks`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ManualRequest {
    /// Cluster id; the configured default when absent.
    cluster: Option<String>,
    /// Namespace, for namespaced kinds.
    namespace: Option<String>,
    /// Kind of the object (`Deployment`, `pod`, `sts`, ...).
    kind: String,
    /// Object name.
    name: String,
    /// What the person saw, in words.
    #[serde(default)]
    reason: String,
    /// Severity; `warning` when absent.
    severity: Option<String>,
}

fn invalid(msg: String) -> ApiError {
    ApiError::InvalidPayload(msg)
}

impl ManualRequest {
    fn into_event(self, default_cluster: &str) -> Result<StandardEvent, ApiError> {
        let kind = ResourceKind::lookup(&self.kind).ok_or_else(|| invalid(format!("kind: unknown kind {:?}", self.kind)))?;
        let label = Target::label_for_kind(kind.kind)
            .ok_or_else(|| invalid(format!("kind: a {} cannot be the subject of a diagnosis yet", kind.kind)))?;
        if !is_dns1123_subdomain(&self.name) {
            return Err(invalid(format!("name: {:?} is not a valid Kubernetes object name", self.name)));
        }
        let namespace = match (kind.namespaced, self.namespace) {
            (true, None) => return Err(invalid(format!("namespace: required for a {}", kind.kind))),
            (true, Some(ns)) if !is_dns1123_label(&ns) => return Err(invalid(format!("namespace: {ns:?} is not a valid namespace"))),
            (true, Some(ns)) => Some(ns),
            (false, _) => None,
        };
        let cluster = self.cluster.unwrap_or_else(|| default_cluster.to_owned());
        if cluster.is_empty() || cluster.len() > 128 || cluster.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(invalid(format!("cluster: {cluster:?} is not a valid cluster id")));
        }
        let severity = self.severity.unwrap_or_else(|| "warning".into()).to_ascii_lowercase();
        let mut labels = BTreeMap::from([
            ("alertname".to_owned(), "ManualDiagnosis".to_owned()),
            ("severity".to_owned(), severity.clone()),
            (label.to_owned(), self.name.clone()),
            ("cluster".to_owned(), cluster.clone()),
        ]);
        if let Some(ns) = &namespace {
            labels.insert("namespace".into(), ns.clone());
        }
        let now = chrono::Utc::now();
        let fingerprint = fingerprint::of_labels(&labels);
        Ok(StandardEvent {
            id: fingerprint::workflow_id(&cluster, &fingerprint, now),
            event_type: EventType::Manual,
            source: "rest".into(),
            timestamp: now,
            cluster_id: cluster,
            namespace,
            severity,
            annotations: BTreeMap::from([(
                "description".to_owned(),
                if self.reason.is_empty() { format!("Manual diagnosis of {} {}", kind.kind, self.name) } else { self.reason },
            )]),
            labels,
            fingerprint,
            status: AlertStatus::Firing,
        })
    }
}

/// A diagnosis of one object, without an alert.
#[utoipa::path(post, path = "/tasks", tag = "tasks",
    request_body = ManualRequest,
    responses(
        (status = 202, description = "Started (or already running).", body = Ingest),
        (status = 400, description = "The body is not JSON (`malformed_json`).", body = crate::error::ErrorBody),
        (status = 422, description = "A field is invalid (`invalid_payload`), naming it.", body = crate::error::ErrorBody),
        (status = 503, description = "Temporal is unavailable.", body = crate::error::ErrorBody),
    ))]
pub(crate) async fn create_task(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Ingest>), ApiError> {
    let body = body_or_error(body, state.options.max_payload_bytes)?;
    let request: ManualRequest = parse(&body)?;
    let event = request.into_event(&state.options.default_cluster)?;
    Ok((StatusCode::ACCEPTED, Json(ingest_one(&state, event).await?)))
}
