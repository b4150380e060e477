//! Reports (`GET /reports`, `GET /reports/{id}` by `Accept`, `POST /reports/{id}/archive`)
//! and the audit trail (`GET /audit`, admin only: it names people and every command run).

use crate::{ApiError, AppState};
use aetherius_activities::report::{Format, render};
use aetherius_core::ReportInput;
use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `GET /reports`' WHERE clause ($1-$8), a literal so the queries stay static SQL.
macro_rules! report_filter {
    () => {
        "WHERE ($1::text IS NULL OR cluster_id = $1) AND ($2::text IS NULL OR namespace = $2)
          AND ($3::text IS NULL OR root_cause = $3) AND ($4::text IS NULL OR severity = $4)
          AND ($5::text IS NULL OR alert_name = $5) AND ($6::timestamptz IS NULL OR created_at >= $6)
          AND ($7::timestamptz IS NULL OR created_at < $7) AND ((archived_at IS NOT NULL) = $8)"
    };
}

/// `GET /audit`'s WHERE clause ($1-$6).
macro_rules! audit_filter {
    () => {
        "WHERE ($1::text IS NULL OR workflow_id = $1) AND ($2::text IS NULL OR cluster_id = $2)
          AND ($3::text IS NULL OR namespace = $3) AND ($4::text IS NULL OR kind = $4)
          AND ($5::timestamptz IS NULL OR recorded_at >= $5) AND ($6::timestamptz IS NULL OR recorded_at < $6)"
    };
}

/// The format `accept` asks for first (q-values honoured); JSON when it says nothing.
pub(crate) fn negotiate(accept: Option<&str>) -> Result<Format, ApiError> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else { return Ok(Format::Json) };
    let mut ranges: Vec<(f32, usize, Option<Format>)> = vec![];
    for (i, part) in accept.split(',').enumerate() {
        let mut fields = part.split(';').map(str::trim);
        let media = fields.next().unwrap_or_default().to_ascii_lowercase();
        let q = fields.filter_map(|f| f.strip_prefix("q=")).find_map(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
        if q <= 0.0 {
            continue;
        }
        let format = match media.as_str() {
            "text/markdown" | "text/x-markdown" | "text/*" => Some(Format::Markdown),
            "text/html" => Some(Format::Html),
            "application/json" | "application/*" | "*/*" => Some(Format::Json),
            _ => None,
        };
        ranges.push((q, i, format));
    }
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    ranges.into_iter().find_map(|r| r.2).ok_or_else(|| {
        ApiError::NotAcceptable(format!("Accept: {accept:?} allows none of text/markdown, text/html, application/json"))
    })
}

fn no_nul(name: &str, v: &Option<String>) -> Result<(), ApiError> {
    crate::ingest::no_nul(name, v.as_deref().unwrap_or_default())
}

/// Query of `GET /reports`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReportFilter {
    /// Only this cluster.
    cluster: Option<String>,
    /// Only this namespace.
    namespace: Option<String>,
    /// Only this root cause (taxonomy id).
    root_cause: Option<String>,
    /// Only this severity.
    severity: Option<String>,
    /// Only this alert name.
    alertname: Option<String>,
    /// Stored at or after (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Stored before (RFC 3339).
    until: Option<DateTime<Utc>>,
    /// `true`: archived reports only; `false` (default): the others.
    archived: Option<bool>,
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// Reports to skip.
    offset: Option<u32>,
}

/// One report in a list.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub(crate) struct ReportSummary {
    /// Report id.
    id: uuid::Uuid,
    /// Workflow id of the diagnosis.
    workflow_id: String,
    cluster_id: String,
    namespace: Option<String>,
    alert_name: String,
    severity: String,
    /// Taxonomy id.
    root_cause: String,
    resource: Option<String>,
    summary: String,
    confidence: f64,
    created_at: DateTime<Utc>,
    archived_at: Option<DateTime<Utc>>,
    archived_by: Option<String>,
}

/// One page of reports, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ReportPage {
    reports: Vec<ReportSummary>,
    /// Reports matching the filter, over all pages.
    total: i64,
    limit: u32,
    offset: u32,
}

fn page(limit: Option<u32>, max: u32) -> Result<i64, ApiError> {
    match limit {
        None => Ok(50),
        Some(l) if (1..=max).contains(&l) => Ok(i64::from(l)),
        Some(l) => Err(ApiError::InvalidFilter(format!("limit: {l} is not within 1-{max}"))),
    }
}

/// Stored reports, newest first, filtered, one page.
#[utoipa::path(get, path = "/reports", tag = "reports", params(ReportFilter), responses(
    (status = 200, description = "One page.", body = ReportPage),
    (status = 422, description = "A query parameter is invalid (`invalid_payload`, `invalid_filter`).", body = crate::error::ErrorBody),
    (status = 503, description = "PostgreSQL is unavailable.", body = crate::error::ErrorBody)))]
pub(crate) async fn list(State(state): State<AppState>, q: Result<Query<ReportFilter>, QueryRejection>) -> Result<Json<ReportPage>, ApiError> {
    let Query(f) = q.map_err(|r| ApiError::InvalidPayload(r.body_text()))?;
    for (name, v) in [("cluster", &f.cluster), ("namespace", &f.namespace), ("root_cause", &f.root_cause), ("severity", &f.severity), ("alertname", &f.alertname)] {
        no_nul(name, v)?;
    }
    let limit = page(f.limit, 200)?;
    let offset = i64::from(f.offset.unwrap_or(0));
    let archived = f.archived.unwrap_or(false);
    let total: i64 = sqlx::query_scalar(concat!("SELECT count(*) FROM reports ", report_filter!()))
        .bind(&f.cluster)
        .bind(&f.namespace)
        .bind(&f.root_cause)
        .bind(&f.severity)
        .bind(&f.alertname)
        .bind(f.since)
        .bind(f.until)
        .bind(archived)
        .fetch_one(&state.pool)
        .await
        .map_err(ApiError::postgres)?;
    let reports: Vec<ReportSummary> = sqlx::query_as(concat!(
        "SELECT id, workflow_id, cluster_id, namespace, alert_name, severity, root_cause, resource, summary, confidence,
                created_at, archived_at, archived_by FROM reports ",
        report_filter!(),
        " ORDER BY created_at DESC, id LIMIT $9 OFFSET $10"
    ))
    .bind(&f.cluster)
    .bind(&f.namespace)
    .bind(&f.root_cause)
    .bind(&f.severity)
    .bind(&f.alertname)
    .bind(f.since)
    .bind(f.until)
    .bind(archived)
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.pool)
    .await
    .map_err(ApiError::postgres)?;
    Ok(Json(ReportPage { reports, total, limit: limit as u32, offset: offset as u32 }))
}

type Stored = (uuid::Uuid, String, serde_json::Value, DateTime<Utc>, Option<DateTime<Utc>>, Option<String>);

async fn find(state: &AppState, id: &str) -> Result<Stored, ApiError> {
    crate::ingest::no_nul("id", id)?;
    let uuid = uuid::Uuid::parse_str(id).ok();
    sqlx::query_as(
        "SELECT id, workflow_id, report, created_at, archived_at, archived_by FROM reports WHERE workflow_id = $1 OR id = $2 LIMIT 1",
    )
    .bind(id)
    .bind(uuid)
    .fetch_optional(&state.pool)
    .await
    .map_err(ApiError::postgres)?
    .ok_or_else(|| ApiError::NotFound(format!("no report {id}")))
}

/// One report as Markdown, HTML or JSON, by `Accept`.
#[utoipa::path(get, path = "/reports/{id}", tag = "reports",
    params(("id" = String, Path, description = "Report id (a UUID) or the diagnosis' workflow id.")),
    responses(
        (status = 200, description = "The report: `text/markdown`, `text/html` (one page, no external assets) or `application/json` (the report's view, with `report_id`, `created_at`, `archived_at`).",
            content((String = "text/markdown"), (String = "text/html"), (Object = "application/json"))),
        (status = 404, description = "No such report (`not_found`).", body = crate::error::ErrorBody),
        (status = 406, description = "`Accept` allows none of the three formats (`not_acceptable`).", body = crate::error::ErrorBody),
        (status = 422, description = "The id is not valid (`invalid_payload`).", body = crate::error::ErrorBody),
        (status = 503, description = "PostgreSQL is unavailable.", body = crate::error::ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    crate::error::PathParam(id): crate::error::PathParam,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let format = negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()))?;
    let (report_id, _, report, created_at, archived_at, archived_by) = find(&state, &id).await?;
    let input: ReportInput =
        serde_json::from_value(report).map_err(|e| ApiError::Unavailable(format!("stored report {report_id} does not parse: {e}")))?;
    let body = render(&input, format);
    let body = if format == Format::Json {
        let mut v: serde_json::Value = serde_json::from_str(&body).map_err(|e| ApiError::Unavailable(e.to_string()))?;
        v["report_id"] = serde_json::json!(report_id);
        v["created_at"] = serde_json::json!(created_at);
        v["archived_at"] = serde_json::json!(archived_at);
        v["archived_by"] = serde_json::json!(archived_by);
        v.to_string()
    } else {
        body
    };
    Ok(([(header::CONTENT_TYPE, format.media_type()), (header::VARY, "accept")], body).into_response())
}

/// Answer of `POST /reports/{id}/archive`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Archived {
    id: uuid::Uuid,
    workflow_id: String,
    archived_at: DateTime<Utc>,
    archived_by: Option<String>,
}

/// Archives a report (seed ArchiveReport): hidden from `GET /reports` unless `archived=true`,
/// still served by id. Archiving twice keeps the first time.
#[utoipa::path(post, path = "/reports/{id}/archive", tag = "reports",
    params(("id" = String, Path, description = "Report id (a UUID) or the diagnosis' workflow id.")),
    responses(
        (status = 200, description = "Archived (now or before).", body = Archived),
        (status = 404, description = "No such report (`not_found`).", body = crate::error::ErrorBody),
        (status = 422, description = "The id is not valid (`invalid_payload`).", body = crate::error::ErrorBody),
        (status = 503, description = "PostgreSQL is unavailable.", body = crate::error::ErrorBody)))]
pub(crate) async fn archive(
    State(state): State<AppState>,
    crate::error::PathParam(id): crate::error::PathParam,
    caller: Option<axum::Extension<crate::Caller>>,
) -> Result<Json<Archived>, ApiError> {
    let (report_id, workflow_id, ..) = find(&state, &id).await?;
    let who = caller.filter(|c| !c.0.is_anonymous()).map(|c| c.0.name);
    let (archived_at, archived_by): (DateTime<Utc>, Option<String>) = sqlx::query_as(
        "UPDATE reports SET archived_at = COALESCE(archived_at, now()),
                archived_by = CASE WHEN archived_at IS NULL THEN $2 ELSE archived_by END
         WHERE id = $1 RETURNING archived_at, archived_by",
    )
    .bind(report_id)
    .bind(who)
    .fetch_one(&state.pool)
    .await
    .map_err(ApiError::postgres)?;
    Ok(Json(Archived { id: report_id, workflow_id, archived_at, archived_by }))
}

/// Query of `GET /audit`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditFilter {
    /// Only this diagnosis.
    workflow_id: Option<String>,
    /// Only this cluster.
    cluster: Option<String>,
    /// Only this namespace.
    namespace: Option<String>,
    /// `command`, `decision`, `approval` or `notification`.
    kind: Option<String>,
    /// Recorded at or after (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Recorded before (RFC 3339).
    until: Option<DateTime<Utc>>,
    /// Page size, 1-500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// Rows to skip.
    offset: Option<u32>,
}

/// One audit row.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub(crate) struct AuditRow {
    id: i64,
    recorded_at: DateTime<Utc>,
    workflow_id: String,
    /// `command`, `decision`, `approval` or `notification`.
    kind: String,
    /// Who or what acted.
    actor: String,
    cluster_id: String,
    namespace: Option<String>,
    command: Option<String>,
    /// `allowed`, `rejected`, `not_run`, a verdict, a root cause, ...
    decision: Option<String>,
    /// SHA-256 (hex) of the command's output.
    result_digest: Option<String>,
    approver: Option<String>,
    detail: serde_json::Value,
}

/// One page of audit rows, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AuditPage {
    rows: Vec<AuditRow>,
    /// Rows matching the filter, over all pages.
    total: i64,
    limit: u32,
    offset: u32,
}

/// The audit trail, filtered, one page, in the order it was written.
#[utoipa::path(get, path = "/audit", tag = "reports", params(AuditFilter), responses(
    (status = 200, description = "One page.", body = AuditPage),
    (status = 422, description = "A query parameter is invalid (`invalid_payload`, `invalid_filter`).", body = crate::error::ErrorBody),
    (status = 503, description = "PostgreSQL is unavailable.", body = crate::error::ErrorBody)))]
pub(crate) async fn audit(State(state): State<AppState>, q: Result<Query<AuditFilter>, QueryRejection>) -> Result<Json<AuditPage>, ApiError> {
    let Query(f) = q.map_err(|r| ApiError::InvalidPayload(r.body_text()))?;
    for (name, v) in [("workflow_id", &f.workflow_id), ("cluster", &f.cluster), ("namespace", &f.namespace), ("kind", &f.kind)] {
        no_nul(name, v)?;
    }
    let limit = page(f.limit, 500)?;
    let offset = i64::from(f.offset.unwrap_or(0));
    let total: i64 = sqlx::query_scalar(concat!("SELECT count(*) FROM audit_logs ", audit_filter!()))
        .bind(&f.workflow_id)
        .bind(&f.cluster)
        .bind(&f.namespace)
        .bind(&f.kind)
        .bind(f.since)
        .bind(f.until)
        .fetch_one(&state.pool)
        .await
        .map_err(ApiError::postgres)?;
    let rows: Vec<AuditRow> = sqlx::query_as(concat!(
        "SELECT id, recorded_at, workflow_id, kind, actor, cluster_id, namespace, command, decision, result_digest, approver, detail
         FROM audit_logs ",
        audit_filter!(),
        " ORDER BY id LIMIT $7 OFFSET $8"
    ))
    .bind(&f.workflow_id)
    .bind(&f.cluster)
    .bind(&f.namespace)
    .bind(&f.kind)
    .bind(f.since)
    .bind(f.until)
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.pool)
    .await
    .map_err(ApiError::postgres)?;
    Ok(Json(AuditPage { rows, total, limit: limit as u32, offset: offset as u32 }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        assert_eq!(negotiate(None).unwrap(), Format::Json);
        assert_eq!(negotiate(Some("text/html")).unwrap(), Format::Html);
        assert_eq!(negotiate(Some("text/markdown")).unwrap(), Format::Markdown);
        assert_eq!(negotiate(Some("text/html;q=0.5, text/markdown")).unwrap(), Format::Markdown);
        assert_eq!(negotiate(Some("image/png, */*;q=0.1")).unwrap(), Format::Json);
        assert_eq!(negotiate(Some("text/html;q=0, application/json")).unwrap(), Format::Json);
        let e = negotiate(Some("image/png")).unwrap_err();
        assert_eq!(e.parts().1, "not_acceptable");
        assert_eq!(e.parts().0.as_u16(), 406);
    }
}
