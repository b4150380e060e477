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
    extract::{Path, Query, State, rejection::BytesRejection, rejection::QueryRejection},
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

pub(crate) async fn create(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Entry>), ApiError> {
    let body = body_or_error(body, state.options.max_payload_bytes)?;
    let input: EntryInput = parse(&body)?;
    Ok((StatusCode::CREATED, Json(kb(&state)?.add(input).await?)))
}

/// Query of `GET /knowledge`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListParams {
    category: Option<String>,
    /// Comma-separated; entries must carry all of them.
    tags: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

pub(crate) async fn list(State(state): State<AppState>, params: Result<Query<ListParams>, QueryRejection>) -> Result<Json<Page>, ApiError> {
    let Query(params) = params.map_err(|r| ApiError::InvalidPayload(r.body_text()))?;
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

pub(crate) async fn get(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Entry>, ApiError> {
    Ok(Json(kb(&state)?.get(entry_id(&id)?).await?))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Entry>, ApiError> {
    let id = entry_id(&id)?;
    let body = body_or_error(body, state.options.max_payload_bytes)?;
    let input: EntryInput = parse(&body)?;
    Ok(Json(kb(&state)?.update(id, input).await?))
}

pub(crate) async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    kb(&state)?.delete(entry_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Answer of `POST /search`.
#[derive(Debug, Serialize)]
pub(crate) struct SearchAnswer {
    matches: Vec<Match>,
    top_k: usize,
    threshold: f64,
    took_ms: f64,
}

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

pub(crate) async fn feedback(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<FeedbackOutcome>, ApiError> {
    let body = body_or_error(body, state.options.max_payload_bytes)?;
    let input: FeedbackInput = parse(&body)?;
    Ok(Json(kb(&state)?.feedback(input).await?))
}
