//! `GET /tasks/:id`: where a diagnosis stands and, when done, its report.

use crate::{ApiError, AppState, ingest::ui_url};
use aetherius_workflows::DiagnosisWorkflow;
use axum::{
    Json,
    extract::{Path, State},
};
use serde_json::{Value, json};
use temporalio_client::{
    WorkflowDescribeOptions, WorkflowExecutionStatus, WorkflowQueryOptions,
    errors::{WorkflowInteractionError, WorkflowQueryError},
};

pub(crate) async fn get_task(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    if id.len() > 512 || id.chars().any(char::is_control) {
        return Err(ApiError::InvalidPayload("task id is not a valid workflow id".into()));
    }
    let handle = state.temporal.get_workflow_handle::<DiagnosisWorkflow>(id.clone());
    let description = handle.describe(WorkflowDescribeOptions::default()).await.map_err(|e| match e {
        WorkflowInteractionError::NotFound(_) => ApiError::NotFound(format!("no diagnosis with id {id:?}")),
        other => ApiError::Unavailable(format!("Temporal: {other}")),
    })?;
    let status = status_name(description.status());
    let mut body = json!({"id": id, "status": status, "ui_url": ui_url(&state, &id)});
    if description.status() == WorkflowExecutionStatus::Running {
        match handle.query(DiagnosisWorkflow::status, (), WorkflowQueryOptions::default()).await {
            Ok(progress) => body["progress"] = json!(progress),
            Err(WorkflowQueryError::NotFound(_)) => {}
            Err(e) => tracing::warn!(error = %e, "status query failed"),
        }
    }
    let row: Option<(Value, String)> = sqlx::query_as("SELECT report, markdown FROM reports WHERE workflow_id = $1")
        .bind(&id)
        .fetch_optional(&state.pool)
        .await
        .map_err(|e| ApiError::Unavailable(format!("PostgreSQL: {e}")))?;
    if let Some((report, markdown)) = row {
        body["report"] = report;
        body["markdown"] = Value::String(markdown);
    }
    Ok(Json(body))
}

fn status_name(s: WorkflowExecutionStatus) -> &'static str {
    match s {
        WorkflowExecutionStatus::Running => "running",
        WorkflowExecutionStatus::Completed => "completed",
        WorkflowExecutionStatus::Failed => "failed",
        WorkflowExecutionStatus::Canceled => "cancelled",
        WorkflowExecutionStatus::Terminated => "terminated",
        WorkflowExecutionStatus::TimedOut => "timeout",
        WorkflowExecutionStatus::ContinuedAsNew => "continued_as_new",
        WorkflowExecutionStatus::Paused => "paused",
        _ => "unknown",
    }
}
