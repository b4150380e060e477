//! Diagnoses as tasks: list, read, cancel, retry, approve and reject, and the queues'
//! backlog. Everything goes through Temporal; PostgreSQL holds reports and retry links.

use crate::{ApiError, AppState, ingest::ui_url};
use aetherius_core::{
    DiagnosisRequest, RootCause,
    approval::{AlertResolved, ApprovalAck, ApprovalRequest, PendingApproval},
    queues::{self, search_attributes as sa},
};
use aetherius_workflows::DiagnosisWorkflow;
use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
    http::StatusCode,
};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use temporalio_client::{
    WorkflowCancelOptions, WorkflowDescribeOptions, WorkflowExecuteUpdateOptions, WorkflowExecutionStatus,
    WorkflowFetchHistoryOptions, WorkflowQueryOptions, WorkflowSignalOptions,
    errors::{WorkflowInteractionError, WorkflowQueryError, WorkflowUpdateError},
    tonic,
};
use temporalio_common::protos::temporal::api::{
    common::v1::Payload,
    enums::v1::TaskQueueType,
    history::v1::history_event::Attributes,
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{DescribeTaskQueueRequest, ListWorkflowExecutionsRequest},
};

/// Rejects ids no diagnosis can have before asking Temporal.
fn check_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > 512 || id.chars().any(char::is_control) {
        return Err(ApiError::InvalidPayload("task id is not a valid workflow id".into()));
    }
    Ok(())
}

type Handle = temporalio_client::WorkflowHandle<temporalio_client::Client, DiagnosisWorkflow>;

/// The handle and current status of a diagnosis; 404 when Temporal does not know it.
async fn describe(state: &AppState, id: &str) -> Result<(Handle, WorkflowExecutionStatus), ApiError> {
    check_id(id)?;
    let handle = state.temporal.get_workflow_handle::<DiagnosisWorkflow>(id.to_owned());
    let description = handle.describe(WorkflowDescribeOptions::default()).await.map_err(|e| match e {
        WorkflowInteractionError::NotFound(_) => ApiError::NotFound(format!("no diagnosis with id {id:?}")),
        other => ApiError::temporal(format!("{other}")),
    })?;
    Ok((handle, description.status()))
}

fn must_be_running(id: &str, status: WorkflowExecutionStatus, what: &str) -> Result<(), ApiError> {
    if status == WorkflowExecutionStatus::Running {
        return Ok(());
    }
    Err(ApiError::Conflict {
        code: "not_running",
        message: format!("cannot {what} diagnosis {id:?}: it is already {}", status_name(status)),
    })
}

/// Answer of `GET /tasks/{id}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TaskDetail {
    /// Workflow id.
    id: String,
    /// `running`, `completed`, `failed`, `cancelled`, `terminated`, `timeout`, ...
    status: &'static str,
    /// Where the Temporal UI shows it.
    ui_url: String,
    /// The step waiting for a human, if any (running diagnoses that answered the query).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<PendingApproval>)]
    pending_approval: Option<Option<PendingApproval>>,
    /// The workflow's `status` query: plan, steps done, findings (running diagnoses).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    progress: Option<Value>,
    /// The report (finished diagnoses).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    report: Option<Value>,
    /// The report in Markdown (finished diagnoses).
    #[serde(skip_serializing_if = "Option::is_none")]
    markdown: Option<String>,
    /// Notification deliveries of the report: one per channel (`pending`, `retrying`,
    /// `sent`, `failed`, `suppressed` by the repeat window).
    deliveries: Vec<Delivery>,
    /// The diagnosis this one retries.
    retry_of: Option<String>,
    /// Retries of this diagnosis, oldest first.
    retries: Vec<String>,
}

/// One channel's delivery of a report (the `notifications` table).
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub(crate) struct Delivery {
    /// The channel's name in `[notifications.channels]`.
    channel: String,
    /// slack, webhook or email.
    kind: String,
    #[sqlx(try_from = "String")]
    status: DeliveryState,
    /// Attempts made so far.
    attempts: i32,
    /// Why the last attempt failed, or why it was suppressed.
    last_error: Option<String>,
    updated_at: chrono::DateTime<chrono::Utc>,
    sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Where a delivery stands (`aetherius_core::notify::DeliveryStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DeliveryState {
    /// Planned, not attempted yet.
    Pending,
    /// An attempt failed; another follows.
    Retrying,
    /// Delivered.
    Sent,
    /// Every attempt failed, or the endpoint refused it for good.
    Failed,
    /// Not sent: the alert's fingerprint was notified on this channel inside the repeat window.
    Suppressed,
}

impl TryFrom<String> for DeliveryState {
    type Error = serde_json::Error;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        serde_json::from_value(Value::String(s))
    }
}

/// Status, plan, steps done, findings, pending approval, report, retry links.
#[utoipa::path(get, path = "/tasks/{id}", tag = "tasks", params(("id" = String, Path, description = "The diagnosis's workflow id.")), responses(
    (status = 200, description = "The diagnosis.", body = TaskDetail),
    (status = 404, description = "No such diagnosis (`not_found`).", body = crate::error::ErrorBody),
    (status = 422, description = "Not a valid workflow id (`invalid_payload`).", body = crate::error::ErrorBody),
    (status = 503, description = "Temporal or PostgreSQL is unavailable.", body = crate::error::ErrorBody),
))]
pub(crate) async fn get_task(State(state): State<AppState>, crate::error::PathParam(id): crate::error::PathParam) -> Result<Json<TaskDetail>, ApiError> {
    let (handle, status) = describe(&state, &id).await?;
    let mut body = TaskDetail {
        ui_url: ui_url(&state, &id),
        id: id.clone(),
        status: status_name(status),
        pending_approval: None,
        progress: None,
        report: None,
        markdown: None,
        deliveries: vec![],
        retry_of: None,
        retries: vec![],
    };
    if status == WorkflowExecutionStatus::Running {
        match handle.query(DiagnosisWorkflow::status, (), WorkflowQueryOptions::default()).await {
            Ok(progress) => {
                body.pending_approval = Some(progress.pending_approval.clone());
                body.progress = Some(json!(progress));
            }
            Err(WorkflowQueryError::NotFound(_)) => {}
            Err(e) => tracing::warn!(error = %e, "status query failed"),
        }
    }
    let row: Option<(Value, String)> = sqlx::query_as("SELECT report, markdown FROM reports WHERE workflow_id = $1")
        .bind(&id)
        .fetch_optional(&state.pool)
        .await
        .map_err(|e| ApiError::postgres(format!("{e}")))?;
    if let Some((report, markdown)) = row {
        body.report = Some(report);
        body.markdown = Some(markdown);
        body.deliveries = sqlx::query_as(
            "SELECT channel, kind, status, attempts, last_error, updated_at, sent_at FROM notifications WHERE workflow_id = $1 ORDER BY channel",
        )
        .bind(&id)
        .fetch_all(&state.pool)
        .await
        .map_err(|e| ApiError::postgres(format!("{e}")))?;
    }
    (body.retry_of, body.retries) = links(&state, &id).await?;
    Ok(Json(body))
}

/// The diagnosis `id` retries, and the retries of `id`, oldest first.
async fn links(state: &AppState, id: &str) -> Result<(Option<String>, Vec<String>), ApiError> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT original_id, retry_id FROM task_retries WHERE original_id = $1 OR retry_id = $1 ORDER BY created_at")
            .bind(id)
            .fetch_all(&state.pool)
            .await
            .map_err(|e| ApiError::postgres(format!("{e}")))?;
    let retry_of = rows.iter().find(|(_, r)| r == id).map(|(o, _)| o.clone());
    let retries = rows.into_iter().filter(|(o, _)| o == id).map(|(_, r)| r).collect();
    Ok((retry_of, retries))
}

/// Body of `PUT /tasks/{id}/cancel` (optional).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CancelBody {
    /// Why (goes into the report).
    #[serde(default)]
    reason: String,
}

/// Answer of `PUT /tasks/{id}/cancel`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CancelAnswer {
    /// Workflow id.
    id: String,
    /// Always `cancelling`: the diagnosis writes its report, then ends.
    status: &'static str,
    /// The reason recorded (with who cancelled when authenticated).
    reason: String,
}

/// Answer of `POST /tasks/{id}/retry`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct RetryAnswer {
    /// The new diagnosis.
    workflow_id: String,
    /// The diagnosis retried.
    retry_of: String,
    /// The first diagnosis of the chain of retries.
    first_of_chain: String,
    /// Always `started`.
    status: &'static str,
    /// Where the Temporal UI shows the new one.
    ui_url: String,
}

/// Cancels a running diagnosis: it stops its step and writes a report that says so.
#[utoipa::path(put, path = "/tasks/{id}/cancel", tag = "tasks", params(("id" = String, Path, description = "The diagnosis's workflow id.")),
    request_body(content = Option<CancelBody>, description = "Optional; an empty body is no reason."),
    responses(
        (status = 202, description = "Cancellation requested.", body = CancelAnswer),
        (status = 400, description = "The body is not JSON (`malformed_json`).", body = crate::error::ErrorBody),
        (status = 404, description = "No such diagnosis (`not_found`).", body = crate::error::ErrorBody),
        (status = 409, description = "The diagnosis is not running (`not_running`).", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid body or id (`invalid_payload`).", body = crate::error::ErrorBody),
        (status = 503, description = "Temporal is unavailable.", body = crate::error::ErrorBody),
    ))]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    crate::error::PathParam(id): crate::error::PathParam,
    caller: Option<axum::Extension<crate::Caller>>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<CancelAnswer>), ApiError> {
    let body: CancelBody = if body.iter().all(u8::is_ascii_whitespace) { CancelBody::default() } else { crate::ingest::parse(&body)? };
    let (handle, status) = describe(&state, &id).await?;
    must_be_running(&id, status, "cancel")?;
    let who = caller.filter(|c| !c.0.is_anonymous()).map(|c| c.0.name);
    let reason = match (who.as_deref(), body.reason.trim()) {
        (Some(w), "") => format!("cancelled by {w}"),
        (Some(w), r) => format!("cancelled by {w}: {r}"),
        (None, r) => r.to_owned(),
    };
    handle
        .cancel(WorkflowCancelOptions::builder().reason(reason.clone()).build())
        .await
        .map_err(|e| ApiError::temporal(format!("{e}")))?;
    Ok((StatusCode::ACCEPTED, Json(CancelAnswer { id, status: "cancelling", reason })))
}

/// A new diagnosis with the same input, linked to the old one (its report says which it
/// retries; both tasks list the link).
#[utoipa::path(post, path = "/tasks/{id}/retry", tag = "tasks", params(("id" = String, Path, description = "The diagnosis's workflow id.")), responses(
    (status = 202, description = "The retry started.", body = RetryAnswer),
    (status = 404, description = "No such diagnosis (`not_found`).", body = crate::error::ErrorBody),
    (status = 422, description = "Not a valid workflow id (`invalid_payload`).", body = crate::error::ErrorBody),
    (status = 503, description = "Temporal or PostgreSQL is unavailable.", body = crate::error::ErrorBody),
))]
pub(crate) async fn retry(
    State(state): State<AppState>,
    crate::error::PathParam(id): crate::error::PathParam,
    caller: Option<axum::Extension<crate::Caller>>,
) -> Result<(StatusCode, Json<RetryAnswer>), ApiError> {
    let (handle, _) = describe(&state, &id).await?;
    let mut request = original_request(&handle, &id).await?;
    request.retry_of = Some(id.clone());
    // Retries of retries keep the first diagnosis's id as their stem.
    let first = id.split("-retry-").next().unwrap_or(&id).to_owned();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let new_id = format!("{first}-retry-{}", &suffix[..8]);
    crate::ingest::start_request(&state, new_id.clone(), request).await.map_err(|e| {
        ApiError::temporal(format!("could not start the retry of {id}: {e}"))
    })?;
    sqlx::query("INSERT INTO task_retries (retry_id, original_id, requested_by) VALUES ($1, $2, $3)")
        .bind(&new_id)
        .bind(&id)
        .bind(caller.filter(|c| !c.0.is_anonymous()).map(|c| c.0.name))
        .execute(&state.pool)
        .await
        .map_err(|e| ApiError::postgres(format!("{e}")))?;
    let ui = ui_url(&state, &new_id);
    Ok((StatusCode::ACCEPTED, Json(RetryAnswer { workflow_id: new_id, retry_of: id, first_of_chain: first, status: "started", ui_url: ui })))
}

/// The input the diagnosis was started with, from its history's first event.
async fn original_request(handle: &Handle, id: &str) -> Result<DiagnosisRequest, ApiError> {
    let events = handle
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .into_events()
        .await
        .map_err(|e| ApiError::temporal(format!("history of {id}: {e}")))?;
    let input = events
        .into_iter()
        .find_map(|e| match e.attributes {
            Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => a.input,
            _ => None,
        })
        .and_then(|p| p.payloads.into_iter().next())
        .ok_or_else(|| ApiError::Unavailable(format!("the history of {id} has no input")))?;
    serde_json::from_slice(&input.data).map_err(|e| ApiError::Unavailable(format!("the input of {id} does not decode: {e}")))
}

/// Body of `POST /tasks/{id}/approve` and `/reject`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecisionBody {
    /// The waiting step; the one waiting now when absent.
    step_id: Option<String>,
    /// Why.
    #[serde(default)]
    comment: String,
    /// Who decides, only when authentication is off (otherwise the caller's identity).
    by: Option<String>,
}

/// Approves the waiting step (the `approve` update): it runs.
#[utoipa::path(post, path = "/tasks/{id}/approve", tag = "tasks", params(("id" = String, Path, description = "The diagnosis's workflow id.")),
    request_body(content = Option<DecisionBody>, description = "Optional with authentication on (the caller decides, the waiting step is meant)."),
    responses(
        (status = 200, description = "Decided: the workflow's update answered.", body = ApprovalAck),
        (status = 400, description = "The body is not JSON (`malformed_json`).", body = crate::error::ErrorBody),
        (status = 404, description = "No such diagnosis (`not_found`).", body = crate::error::ErrorBody),
        (status = 409, description = "Not running (`not_running`), nothing waits (`not_waiting`), already decided (`already_decided`), or refused by the workflow (`update_rejected`).", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid body, id or decision (`invalid_payload`); `by` missing with authentication off.", body = crate::error::ErrorBody),
        (status = 503, description = "Temporal is unavailable.", body = crate::error::ErrorBody),
    ))]
pub(crate) async fn approve(
    state: State<AppState>,
    id: crate::error::PathParam,
    caller: Option<axum::Extension<crate::Caller>>,
    body: axum::body::Bytes,
) -> Result<Json<ApprovalAck>, ApiError> {
    decide(state, id, caller, body, true).await
}

/// Rejects the waiting step (the `reject` update): it is skipped.
#[utoipa::path(post, path = "/tasks/{id}/reject", tag = "tasks", params(("id" = String, Path, description = "The diagnosis's workflow id.")),
    request_body(content = Option<DecisionBody>, description = "Optional with authentication on (the caller decides, the waiting step is meant)."),
    responses(
        (status = 200, description = "Decided: the workflow's update answered.", body = ApprovalAck),
        (status = 400, description = "The body is not JSON (`malformed_json`).", body = crate::error::ErrorBody),
        (status = 404, description = "No such diagnosis (`not_found`).", body = crate::error::ErrorBody),
        (status = 409, description = "Not running (`not_running`), nothing waits (`not_waiting`), already decided (`already_decided`), or refused by the workflow (`update_rejected`).", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid body, id or decision (`invalid_payload`); `by` missing with authentication off.", body = crate::error::ErrorBody),
        (status = 503, description = "Temporal is unavailable.", body = crate::error::ErrorBody),
    ))]
pub(crate) async fn reject(
    state: State<AppState>,
    id: crate::error::PathParam,
    caller: Option<axum::Extension<crate::Caller>>,
    body: axum::body::Bytes,
) -> Result<Json<ApprovalAck>, ApiError> {
    decide(state, id, caller, body, false).await
}

async fn decide(
    State(state): State<AppState>,
    crate::error::PathParam(id): crate::error::PathParam,
    caller: Option<axum::Extension<crate::Caller>>,
    body: axum::body::Bytes,
    approve: bool,
) -> Result<Json<ApprovalAck>, ApiError> {
    let body: DecisionBody = if body.iter().all(u8::is_ascii_whitespace) { DecisionBody::default() } else { crate::ingest::parse(&body)? };
    // Authenticated: the caller decides. Authentication off: the body must say who.
    let by = match (caller.filter(|c| !c.0.is_anonymous()), body.by) {
        (Some(c), _) => c.0.name,
        (None, Some(by)) if !by.trim().is_empty() => by,
        (None, _) => return Err(ApiError::InvalidPayload("by: say who decides (authentication is off, so the API cannot tell)".into())),
    };
    decide_step(&state, &id, body.step_id, by, body.comment, approve).await.map(Json)
}

/// The step of diagnosis `id` waiting for approval now; 409 `not_running` when it ended.
pub(crate) async fn waiting_step(state: &AppState, id: &str) -> Result<Option<aetherius_core::approval::PendingApproval>, ApiError> {
    let (handle, status) = describe(state, id).await?;
    must_be_running(id, status, "decide a step of")?;
    handle
        .query(DiagnosisWorkflow::pending_approval, (), WorkflowQueryOptions::default())
        .await
        .map_err(|e| ApiError::temporal(format!("pending_approval query: {e}")))
}

/// Sends the `approve` (or `reject`) update for `step_id` of diagnosis `id` (the step waiting
/// now when `None`), decided by `by`. The workflow's validator's refusals map to 409/422.
pub(crate) async fn decide_step(
    state: &AppState,
    id: &str,
    step_id: Option<String>,
    by: String,
    comment: String,
    approve: bool,
) -> Result<ApprovalAck, ApiError> {
    let (handle, status) = describe(state, id).await?;
    must_be_running(id, status, if approve { "approve a step of" } else { "reject a step of" })?;
    let step_id = match step_id {
        Some(s) => s,
        None => {
            let waiting = handle
                .query(DiagnosisWorkflow::pending_approval, (), WorkflowQueryOptions::default())
                .await
                .map_err(|e| ApiError::temporal(format!("pending_approval query: {e}")))?;
            waiting
                .map(|p| p.step_id)
                .ok_or_else(|| ApiError::Conflict { code: "not_waiting", message: format!("diagnosis {id:?} has no step waiting for approval") })?
        }
    };
    let request = ApprovalRequest { step_id, by, comment };
    let sent = if approve {
        handle.execute_update(DiagnosisWorkflow::approve, request, WorkflowExecuteUpdateOptions::default()).await
    } else {
        handle.execute_update(DiagnosisWorkflow::reject, request, WorkflowExecuteUpdateOptions::default()).await
    };
    sent.map_err(|e| match e {
        WorkflowUpdateError::Failed(failure) => {
            // The workflow's validator answers "<code>: <message>".
            let message = failure.message.clone();
            match message.split_once(": ") {
                Some(("invalid_decision", m)) => ApiError::InvalidPayload(m.to_owned()),
                Some((code @ ("not_waiting" | "already_decided"), m)) => ApiError::Conflict {
                    code: if code == "not_waiting" { "not_waiting" } else { "already_decided" },
                    message: m.to_owned(),
                },
                _ => ApiError::Conflict { code: "update_rejected", message },
            }
        }
        WorkflowUpdateError::NotFound(_) => ApiError::NotFound(format!("no diagnosis with id {id:?}")),
        other => ApiError::temporal(format!("{other}")),
    })
}

/// Tells the running diagnosis `id` that its alert resolved. `Ok(false)`: nothing runs.
pub(crate) async fn signal_resolved(state: &AppState, id: &str, notice: AlertResolved) -> Result<bool, ApiError> {
    let handle = state.temporal.get_workflow_handle::<DiagnosisWorkflow>(id.to_owned());
    match handle.signal(DiagnosisWorkflow::alert_resolved, notice, WorkflowSignalOptions::default()).await {
        Ok(()) => Ok(true),
        // Temporal answers NotFound for an id it does not know and for a closed run alike.
        Err(WorkflowInteractionError::NotFound(_)) => Ok(false),
        Err(e) => Err(ApiError::temporal(format!("signalling {id}: {e}"))),
    }
}

/// Filters of `GET /tasks`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// `running`, `completed`, `failed`, `cancelled`, `terminated` or `timeout`.
    status: Option<String>,
    /// Cluster id (letters, digits and `-_.:/@`).
    cluster: Option<String>,
    /// Namespace.
    namespace: Option<String>,
    /// Severity.
    severity: Option<String>,
    /// Alert name.
    alertname: Option<String>,
    /// Root-cause taxonomy id (`oom-killed`, ...).
    root_cause: Option<String>,
    /// RFC 3339; diagnoses started at or after.
    since: Option<String>,
    /// RFC 3339; diagnoses started before.
    until: Option<String>,
    /// 1-100, default 20.
    #[param(minimum = 1, maximum = 100)]
    page_size: Option<u32>,
    /// `next_page_token` of the previous page.
    page_token: Option<String>,
}

fn invalid_filter(message: String) -> ApiError {
    ApiError::InvalidFilter(message)
}

/// A value safe to put in a visibility query: no quotes, no operators.
fn filter_value(name: &str, v: &str) -> Result<String, ApiError> {
    let ok = !v.is_empty() && v.len() <= 253 && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:/@".contains(c));
    if !ok {
        return Err(invalid_filter(format!("{name}: {v:?} is not a valid value (letters, digits and - _ . : / @, at most 253)")));
    }
    Ok(format!("'{v}'"))
}

fn timestamp(name: &str, v: &str) -> Result<String, ApiError> {
    let t = chrono::DateTime::parse_from_rfc3339(v)
        .map_err(|e| invalid_filter(format!("{name}: {v:?} is not an RFC 3339 time ({e})")))?;
    Ok(format!("'{}'", t.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
}

/// The visibility query of a filter set.
pub(crate) fn visibility_query(p: &ListParams) -> Result<String, ApiError> {
    let mut clauses = vec![format!("WorkflowType = '{}'", queues::DIAGNOSIS_WORKFLOW)];
    if let Some(s) = &p.status {
        let temporal = match s.as_str() {
            "running" => "Running",
            "completed" => "Completed",
            "failed" => "Failed",
            "cancelled" | "canceled" => "Canceled",
            "terminated" => "Terminated",
            "timeout" | "timed_out" => "TimedOut",
            other => {
                return Err(invalid_filter(format!(
                    "status: {other:?} is not one of running, completed, failed, cancelled, terminated, timeout"
                )));
            }
        };
        clauses.push(format!("ExecutionStatus = '{temporal}'"));
    }
    for (name, attr, value) in [
        ("cluster", sa::CLUSTER_ID, &p.cluster),
        ("namespace", sa::NAMESPACE, &p.namespace),
        ("severity", sa::SEVERITY, &p.severity),
        ("alertname", sa::ALERT_NAME, &p.alertname),
    ] {
        if let Some(v) = value {
            clauses.push(format!("{attr} = {}", filter_value(name, v)?));
        }
    }
    if let Some(rc) = &p.root_cause {
        let parsed: RootCause = serde_json::from_value(Value::String(rc.clone()))
            .map_err(|_| invalid_filter(format!("root_cause: {rc:?} is not a taxonomy id (see SCENARIOS.md)")))?;
        clauses.push(format!("{} = '{}'", sa::ROOT_CAUSE, parsed.as_str()));
    }
    if let Some(t) = &p.since {
        clauses.push(format!("StartTime >= {}", timestamp("since", t)?));
    }
    if let Some(t) = &p.until {
        clauses.push(format!("StartTime < {}", timestamp("until", t)?));
    }
    Ok(clauses.join(" AND "))
}

fn decode(p: &Payload) -> Value {
    serde_json::from_slice(&p.data).unwrap_or(Value::Null)
}

/// Answer of `GET /tasks`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TaskList {
    /// Diagnoses, newest first.
    tasks: Vec<TaskSummary>,
    /// Pass as `page_token` for the next page; null on the last.
    next_page_token: Option<String>,
}

/// One diagnosis of a list, from its search attributes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TaskSummary {
    /// Workflow id.
    id: String,
    /// Status, as in `GET /tasks/{id}`.
    status: &'static str,
    /// Cluster id.
    #[schema(value_type = Option<String>)]
    cluster: Option<Value>,
    /// Namespace.
    #[schema(value_type = Option<String>)]
    namespace: Option<Value>,
    /// Severity.
    #[schema(value_type = Option<String>)]
    severity: Option<Value>,
    /// Alert name.
    #[schema(value_type = Option<String>)]
    alertname: Option<Value>,
    /// Root cause, once concluded.
    #[schema(value_type = Option<String>)]
    root_cause: Option<Value>,
    /// Priority score.
    #[schema(value_type = Option<i64>)]
    priority: Option<Value>,
    /// RFC 3339.
    started_at: Option<String>,
    /// RFC 3339, once closed.
    closed_at: Option<String>,
    /// Where the Temporal UI shows it.
    ui_url: String,
}

/// Diagnoses from Temporal's visibility store, newest first, one page.
#[utoipa::path(get, path = "/tasks", tag = "tasks", params(ListParams), responses(
    (status = 200, description = "One page.", body = TaskList),
    (status = 422, description = "A filter is invalid (`invalid_filter`), naming it.", body = crate::error::ErrorBody),
    (status = 503, description = "Temporal is unavailable.", body = crate::error::ErrorBody),
))]
pub(crate) async fn list_tasks(
    State(state): State<AppState>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<TaskList>, ApiError> {
    let Query(params) = params.map_err(|e| invalid_filter(e.body_text()))?;
    let page_size = params.page_size.unwrap_or(20);
    if !(1..=100).contains(&page_size) {
        return Err(invalid_filter(format!("page_size: {page_size} is not between 1 and 100")));
    }
    let token = match &params.page_token {
        Some(t) => open_token(t).ok_or_else(|| invalid_filter("page_token: not a token this API returned".into()))?,
        None => vec![],
    };
    let query = visibility_query(&params)?;
    let request = ListWorkflowExecutionsRequest {
        namespace: state.options.temporal_namespace.clone(),
        page_size: page_size as i32,
        next_page_token: token,
        query,
    };
    let mut service = state.temporal.connection().workflow_service();
    let answer = service.list_workflow_executions(tonic::Request::new(request)).await.map_err(|e| match e.code() {
        tonic::Code::InvalidArgument => invalid_filter("page_token: not a token this API returned, or it expired".into()),
        _ => ApiError::temporal(format!("listing workflows: {e}")),
    })?;
    let answer = answer.into_inner();
    let tasks: Vec<TaskSummary> = answer
        .executions
        .iter()
        .map(|w| {
            let id = w.execution.as_ref().map(|e| e.workflow_id.clone()).unwrap_or_default();
            let attrs: BTreeMap<&str, Value> = w
                .search_attributes
                .as_ref()
                .map(|s| s.indexed_fields.iter().map(|(k, v)| (k.as_str(), decode(v))).collect())
                .unwrap_or_default();
            let time = |t: Option<(i64, i32)>| {
                t.and_then(|(s, n)| chrono::DateTime::from_timestamp(s, n.max(0) as u32)).map(|t| t.to_rfc3339())
            };
            let status = WorkflowExecutionStatus::from(w.status());
            let attr = |name: &str| attrs.get(name).cloned();
            TaskSummary {
                ui_url: ui_url(&state, &id),
                id,
                status: status_name(status),
                cluster: attr(sa::CLUSTER_ID),
                namespace: attr(sa::NAMESPACE),
                severity: attr(sa::SEVERITY),
                alertname: attr(sa::ALERT_NAME),
                root_cause: attr(sa::ROOT_CAUSE),
                priority: attr(sa::PRIORITY),
                started_at: time(w.start_time.as_ref().map(|t| (t.seconds, t.nanos))),
                closed_at: time(w.close_time.as_ref().map(|t| (t.seconds, t.nanos))),
            }
        })
        .collect();
    let next = (!answer.next_page_token.is_empty()).then(|| seal_token(&answer.next_page_token));
    Ok(Json(TaskList { tasks, next_page_token: next }))
}

/// Temporal's page token with the first 8 bytes of its SHA-256 in front, base64url: a
/// garbled or made-up token is refused here (schemathesis found that Temporal answers
/// some with an internal error, a 503). Not a signature: a deliberately forged token
/// still reaches Temporal.
fn seal_token(token: &[u8]) -> String {
    use sha2::Digest;
    let mut sealed = sha2::Sha256::digest(token)[..8].to_vec();
    sealed.extend_from_slice(token);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)
}

/// The Temporal token inside a [`seal_token`] string, if its checksum holds.
fn open_token(t: &str) -> Option<Vec<u8>> {
    use sha2::Digest;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t).ok()?;
    let (sum, token) = bytes.split_at_checked(8)?;
    (!token.is_empty() && sha2::Sha256::digest(token)[..8] == *sum).then(|| token.to_vec())
}

/// Answer of `GET /queue/status`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct QueueStatus {
    /// One entry per task queue and type.
    queues: Vec<QueueInfo>,
}

/// Backlog and pollers of one task queue.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct QueueInfo {
    /// Task queue name.
    queue: String,
    /// `workflow` or `activity`.
    #[serde(rename = "type")]
    kind: &'static str,
    /// Approximate tasks waiting.
    backlog: i64,
    /// Age of the oldest waiting task, seconds.
    backlog_age_secs: f64,
    /// Tasks added per second.
    tasks_add_rate: f32,
    /// Tasks dispatched per second.
    tasks_dispatch_rate: f32,
    /// Identities of the workers polling.
    pollers: Vec<String>,
}

/// Backlog and pollers of every task queue, from DescribeTaskQueue.
#[utoipa::path(get, path = "/queue/status", tag = "tasks", responses(
    (status = 200, description = "Every task queue.", body = QueueStatus),
    (status = 503, description = "Temporal is unavailable.", body = crate::error::ErrorBody),
))]
pub(crate) async fn queue_status(State(state): State<AppState>) -> Result<Json<QueueStatus>, ApiError> {
    let mut out = vec![];
    let q = &state.options.queues;
    for (queue, kind) in [
        (&q.reasoning, TaskQueueType::Workflow),
        (&q.reasoning, TaskQueueType::Activity),
        (&q.execution, TaskQueueType::Activity),
        (&q.report, TaskQueueType::Activity),
    ] {
        let request = DescribeTaskQueueRequest {
            namespace: state.options.temporal_namespace.clone(),
            task_queue: Some(TaskQueue { name: queue.to_owned(), kind: 1, ..Default::default() }),
            task_queue_type: kind as i32,
            report_stats: true,
            ..Default::default()
        };
        let mut service = state.temporal.connection().workflow_service();
        let answer = service
            .describe_task_queue(tonic::Request::new(request))
            .await
            .map_err(|e| ApiError::temporal(format!("describing {queue}: {e}")))?
            .into_inner();
        let stats = answer.stats.unwrap_or_default();
        out.push(QueueInfo {
            queue: queue.clone(),
            kind: if kind == TaskQueueType::Workflow { "workflow" } else { "activity" },
            backlog: stats.approximate_backlog_count,
            backlog_age_secs: stats.approximate_backlog_age.map(|d| d.seconds as f64 + f64::from(d.nanos) / 1e9).unwrap_or(0.0),
            tasks_add_rate: stats.tasks_add_rate,
            tasks_dispatch_rate: stats.tasks_dispatch_rate,
            pollers: answer.pollers.iter().map(|p| p.identity.clone()).collect(),
        });
    }
    Ok(Json(QueueStatus { queues: out }))
}

pub(crate) fn status_name(s: WorkflowExecutionStatus) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_made_up_ones_are_refused_before_temporal() {
        let token = b"\x0a\x10temporal-page-state";
        assert_eq!(open_token(&seal_token(token)).unwrap(), token);
        // schemathesis: a base64 string Temporal never issued made ListWorkflowExecutions
        // fail with an internal error (503); now it never leaves the API.
        for made_up in ["W0ZpbHRlcmVkXQ", "AAAAAAAAAAAA", "", "not base64!"] {
            assert_eq!(open_token(made_up), None, "{made_up}");
        }
        let mut tampered = seal_token(token).into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(open_token(std::str::from_utf8(&tampered).unwrap()), None);
    }

    #[test]
    fn filters_become_a_visibility_query_and_bad_ones_are_refused() {
        let p = ListParams {
            status: Some("running".into()),
            cluster: Some("prod-eu".into()),
            root_cause: Some("oom-killed".into()),
            since: Some("2026-12-07T10:00:00+01:00".into()),
            ..Default::default()
        };
        assert_eq!(
            visibility_query(&p).unwrap(),
            "WorkflowType = 'DiagnosisWorkflow' AND ExecutionStatus = 'Running' AND ClusterId = 'prod-eu' AND RootCause = 'oom-killed' AND StartTime >= '2026-12-07T09:00:00Z'"
        );
        for bad in [
            ListParams { cluster: Some("x' OR 1=1".into()), ..Default::default() },
            ListParams { status: Some("sleeping".into()), ..Default::default() },
            ListParams { root_cause: Some("cosmic-rays".into()), ..Default::default() },
            ListParams { until: Some("yesterday".into()), ..Default::default() },
        ] {
            let err = visibility_query(&bad).unwrap_err();
            assert!(matches!(err, ApiError::InvalidFilter(_)), "{err:?}");
        }
    }
}
