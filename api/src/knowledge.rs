//! The knowledge base over HTTP (the seed's Knowledge Service endpoints):
//! `POST/GET /knowledge`, `GET/PUT/DELETE /knowledge/{id}`, `POST /search`, `POST /feedback`.

use crate::{
    ApiError, AppState,
    ingest::{body_or_error, parse},
};
use aetherius_activities::knowledge::{
    self, Entry, EntryInput, FeedbackInput, FeedbackOutcome, KnowledgeBase, ListFilter, Match, Page, SearchQuery,
};
use axum::{
    Json,
    body::Bytes,
    extract::{Query, State, rejection::BytesRejection, rejection::QueryRejection},
    http::StatusCode,
};
use serde::{Deserialize, Serialize};
use std::{sync::Arc, time::Instant};
use uuid::Uuid;

impl From<knowledge::Error> for ApiError {
    fn from(e: knowledge::Error) -> Self {
        match e {
            knowledge::Error::Invalid { .. } => ApiError::InvalidPayload(e.to_string()),
            knowledge::Error::NotFound(_) => ApiError::NotFound(e.to_string()),
            knowledge::Error::Database(_) => ApiError::postgres(e),
            knowledge::Error::Embedding(_) | knowledge::Error::Runbook { .. } => {
                ApiError::Dependency { name: "the knowledge base", detail: e.to_string() }
            }
        }
    }
}

fn kb(state: &AppState) -> Result<&Arc<KnowledgeBase>, ApiError> {
    state
        .knowledge
        .as_ref()
        .ok_or_else(|| ApiError::NotConfigured("the knowledge base is not configured on this server (see [knowledge])".into()))
}

fn entry_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::InvalidPayload(format!("id: {id:?} is not a UUID")))
}

/// Adds an entry (embedded at once).
#[utoipa::path(post, path = "/knowledge", tag = "knowledge", request_body = EntryInput, responses(
    (status = 201, description = "Stored.", body = Entry), (status = 400, description = "The body is not JSON (`malformed_json`).", body = crate::error::ErrorBody), (status = 422, description = "A field is invalid (`invalid_payload`), naming it.", body = crate::error::ErrorBody), (status = 503, description = "The knowledge base is not configured, or PostgreSQL or the embedding model is unavailable.", body = crate::error::ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Entry>), ApiError> {
    let body = body_or_error(body, state.options.max_payload_bytes)?;
    let input: EntryInput = parse(&body)?;
    Ok((StatusCode::CREATED, Json(kb(&state)?.add(input).await?)))
}

/// Query of `GET /knowledge`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Only this category.
    category: Option<String>,
    /// Comma-separated; entries must carry all of them.
    tags: Option<String>,
    /// Page size, 1-500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// Entries to skip.
    offset: Option<u32>,
}

/// Entries by title, filtered, one page.
#[utoipa::path(get, path = "/knowledge", tag = "knowledge", params(ListParams), responses(
    (status = 200, description = "One page.", body = Page),
    (status = 422, description = "A query parameter is invalid (`invalid_payload`).", body = crate::error::ErrorBody), (status = 503, description = "The knowledge base is not configured, or PostgreSQL or the embedding model is unavailable.", body = crate::error::ErrorBody)))]
pub(crate) async fn list(State(state): State<AppState>, params: Result<Query<ListParams>, QueryRejection>) -> Result<Json<Page>, ApiError> {
    let Query(params) = params.map_err(|r| ApiError::InvalidPayload(r.body_text()))?;
    // PostgreSQL stores no NUL (schemathesis: `?category=%00` answered 503).
    crate::ingest::no_nul("category", params.category.as_deref().unwrap_or_default())?;
    crate::ingest::no_nul("tags", params.tags.as_deref().unwrap_or_default())?;
    let filter = ListFilter {
        category: params.category.filter(|c| !c.is_empty()),
        tags: params.tags.map(|t| t.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect()).unwrap_or_default(),
        limit: params.limit.unwrap_or(0),
        offset: params.offset.unwrap_or(0),
    };
    if params.limit == Some(0) {
        return Err(ApiError::InvalidPayload("limit: must be between 1 and 500".into()));
    }
    Ok(Json(kb(&state)?.list(&filter).await?))
}

/// One entry.
#[utoipa::path(get, path = "/knowledge/{id}", tag = "knowledge", params(("id" = String, Path, description = "Entry id (a UUID).")), responses(
    (status = 200, description = "The entry.", body = Entry), (status = 404, description = "No entry with this id (`not_found`).", body = crate::error::ErrorBody), (status = 422, description = "The id is not a UUID (`invalid_payload`).", body = crate::error::ErrorBody), (status = 503, description = "The knowledge base is not configured, or PostgreSQL or the embedding model is unavailable.", body = crate::error::ErrorBody)))]
pub(crate) async fn get(State(state): State<AppState>, crate::error::PathParam(id): crate::error::PathParam) -> Result<Json<Entry>, ApiError> {
    Ok(Json(kb(&state)?.get(entry_id(&id)?).await?))
}

/// Replaces an entry's text, category, tags (and re-embeds it).
#[utoipa::path(put, path = "/knowledge/{id}", tag = "knowledge", params(("id" = String, Path, description = "Entry id (a UUID).")), request_body = EntryInput, responses(
    (status = 200, description = "The entry as stored now.", body = Entry), (status = 400, description = "The body is not JSON (`malformed_json`).", body = crate::error::ErrorBody), (status = 404, description = "No entry with this id (`not_found`).", body = crate::error::ErrorBody), (status = 422, description = "A field is invalid (`invalid_payload`), naming it.", body = crate::error::ErrorBody), (status = 503, description = "The knowledge base is not configured, or PostgreSQL or the embedding model is unavailable.", body = crate::error::ErrorBody)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    crate::error::PathParam(id): crate::error::PathParam,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Entry>, ApiError> {
    let id = entry_id(&id)?;
    let body = body_or_error(body, state.options.max_payload_bytes)?;
    let input: EntryInput = parse(&body)?;
    Ok(Json(kb(&state)?.update(id, input).await?))
}

/// Deletes an entry.
#[utoipa::path(delete, path = "/knowledge/{id}", tag = "knowledge", params(("id" = String, Path, description = "Entry id (a UUID).")), responses(
    (status = 204, description = "Deleted."), (status = 404, description = "No entry with this id (`not_found`).", body = crate::error::ErrorBody), (status = 422, description = "The id is not a UUID (`invalid_payload`).", body = crate::error::ErrorBody), (status = 503, description = "The knowledge base is not configured, or PostgreSQL or the embedding model is unavailable.", body = crate::error::ErrorBody)))]
pub(crate) async fn delete(State(state): State<AppState>, crate::error::PathParam(id): crate::error::PathParam) -> Result<StatusCode, ApiError> {
    kb(&state)?.delete(entry_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Answer of `POST /search`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SearchAnswer {
    /// Matches, best first.
    matches: Vec<Match>,
    /// Most matches asked for.
    top_k: usize,
    /// Lowest score kept.
    threshold: f64,
    /// Time the search took.
    took_ms: f64,
}

/// Semantic search over the entries.
#[utoipa::path(post, path = "/search", tag = "knowledge", request_body = SearchQuery, responses(
    (status = 200, description = "Matches, best first.", body = SearchAnswer), (status = 400, description = "The body is not JSON (`malformed_json`).", body = crate::error::ErrorBody), (status = 422, description = "A field is invalid (`invalid_payload`), naming it.", body = crate::error::ErrorBody), (status = 503, description = "The knowledge base is not configured, or PostgreSQL or the embedding model is unavailable.", body = crate::error::ErrorBody)))]
pub(crate) async fn search(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Result<Json<SearchAnswer>, ApiError> {
    let body = body_or_error(body, state.options.max_payload_bytes)?;
    let query: SearchQuery = parse(&body)?;
    let kb = kb(&state)?;
    let started = Instant::now();
    let matches = kb.search(&query).await?;
    Ok(Json(SearchAnswer {
        matches,
        top_k: query.top_k.unwrap_or(kb.options().top_k),
        threshold: query.threshold.unwrap_or(kb.options().threshold),
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
    }))
}

/// Whether entries helped a diagnosis; moves their confidence.
#[utoipa::path(post, path = "/feedback", tag = "knowledge", request_body = FeedbackInput, responses(
    (status = 200, description = "What moved.", body = FeedbackOutcome),
    (status = 404, description = "An entry does not exist (`not_found`).", body = crate::error::ErrorBody), (status = 400, description = "The body is not JSON (`malformed_json`).", body = crate::error::ErrorBody), (status = 422, description = "A field is invalid (`invalid_payload`), naming it.", body = crate::error::ErrorBody), (status = 503, description = "The knowledge base is not configured, or PostgreSQL or the embedding model is unavailable.", body = crate::error::ErrorBody)))]
pub(crate) async fn feedback(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<FeedbackOutcome>, ApiError> {
    let body = body_or_error(body, state.options.max_payload_bytes)?;
    let input: FeedbackInput = parse(&body)?;
    Ok(Json(kb(&state)?.feedback(input).await?))
}
