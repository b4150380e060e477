//! Approve / reject links (sent to Slack when a step waits): `GET /approvals/{token}` shows
//! the step and a form, and changes nothing (Slack unfurls and prefetches links);
//! `POST /approvals/{token}` with the form decides, through the same `approve` / `reject`
//! update as `POST /tasks/{id}/approve|reject`. The signed token is the credential.

use crate::{AppState, error::ApiError, tasks};
use aetherius_activities::notify::link::{self, LinkClaims, LinkError, LinkVerdict};
use aetherius_core::approval::{ApprovalAck, PendingApproval};
use axum::{
    extract::State,
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use serde::Deserialize;

/// The claims of `token`: 403 when forged, 410 when expired, 404 when this server has no
/// link key (links are off: there is nothing a token could name, and a client is not at fault
/// for a server's choice, so not a 5xx).
fn claims(state: &AppState, token: &str) -> Result<LinkClaims, ApiError> {
    let key = state.link_key.as_ref().ok_or_else(|| {
        ApiError::NotFound("approval links are not enabled on this server ([api.approval] link_secret_env or link_secret_file)".into())
    })?;
    if token.len() > 4096 {
        return Err(ApiError::Forbidden("the approval link is not valid".into()));
    }
    link::verify(key.as_bytes(), token, chrono::Utc::now()).map_err(|e| match e {
        LinkError::Forged => ApiError::Forbidden("the approval link is not valid".into()),
        LinkError::Expired(at) => ApiError::Gone(format!("the approval link expired at {at}: the step no longer waits")),
    })
}

/// The step the token names, if it still waits; 409 `not_waiting` otherwise.
async fn still_waiting(state: &AppState, c: &LinkClaims) -> Result<PendingApproval, ApiError> {
    let waiting = tasks::waiting_step(state, &c.workflow_id).await?;
    waiting.filter(|p| p.step_id == c.step_id).ok_or_else(|| ApiError::Conflict {
        code: "not_waiting",
        message: format!("step {} of diagnosis {} is not waiting for approval (any more)", c.step_id, c.workflow_id),
    })
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:1rem auto;padding:0 1rem;line-height:1.4}\
code{display:block;background:#f3f3f3;padding:.5rem;overflow-wrap:anywhere;white-space:pre-wrap}\
label{display:block;margin-top:.8rem}input,textarea{width:100%;box-sizing:border-box;font-size:1rem;padding:.4rem}\
button{margin-top:1rem;font-size:1.1rem;padding:.6rem 1.2rem}.approve{background:#1a7f37;color:#fff}.reject{background:#cf222e;color:#fff}";

fn page_html(c: &LinkClaims, p: &PendingApproval) -> String {
    let (verb, class) = match c.verdict {
        LinkVerdict::Approve => ("Approve", "approve"),
        LinkVerdict::Reject => ("Reject", "reject"),
    };
    let redacted = |s: &str| escape(&aetherius_activities::redact::redact(s));
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta name=\"robots\" content=\"noindex\"><title>{verb} step {step}</title><style>{STYLE}</style></head><body>\
<h1>{verb} step {step}?</h1><p>Diagnosis <b>{wf}</b> waits for a person before it runs:</p><code>{command}</code>\
<p><b>Why it waits:</b> {reason}</p><p><b>Purpose:</b> {purpose}</p><p><b>Expires:</b> {expires} (skipped if nobody decides)</p>\
<form method=\"post\"><label for=\"by\">Your name (required)</label><input id=\"by\" name=\"by\" required maxlength=\"200\" autocomplete=\"name\">\
<label for=\"comment\">Comment (optional)</label><textarea id=\"comment\" name=\"comment\" rows=\"3\" maxlength=\"2000\"></textarea>\
<button type=\"submit\" class=\"{class}\">{verb}</button></form></body></html>",
        step = escape(&c.step_id),
        wf = escape(&c.workflow_id),
        command = redacted(&p.command),
        reason = redacted(&p.reason),
        purpose = redacted(&p.purpose),
        expires = p.expires_at.format("%Y-%m-%d %H:%M:%S UTC"),
    )
}

/// The page of an approve or reject link: the waiting step and a form asking who decides.
/// Changes nothing.
#[utoipa::path(get, path = "/approvals/{token}", tag = "approvals",
    params(("token" = String, Path, description = "The signed link token (from the Slack message).")),
    responses(
        (status = 200, description = "A self-contained HTML page with the step and a form that POSTs the decision.", body = String, content_type = "text/html"),
        (status = 403, description = "The token is not valid (`forbidden`).", body = crate::error::ErrorBody),
        (status = 404, description = "No such diagnosis, or approval links are not enabled on this server (`not_found`).", body = crate::error::ErrorBody),
        (status = 409, description = "The step no longer waits (`not_waiting`) or the diagnosis ended (`not_running`).", body = crate::error::ErrorBody),
        (status = 410, description = "The link expired with the step's wait (`link_expired`).", body = crate::error::ErrorBody),
        (status = 422, description = "The path does not decode (`invalid_payload`).", body = crate::error::ErrorBody),
        (status = 503, description = "Temporal is unavailable (`unavailable`).", body = crate::error::ErrorBody)))]
pub(crate) async fn page(State(state): State<AppState>, crate::error::PathParam(token): crate::error::PathParam) -> Result<Response, ApiError> {
    let c = claims(&state, &token)?;
    let pending = still_waiting(&state, &c).await?;
    let mut response = Html(page_html(&c, &pending)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, "no-store".parse().expect("header"));
    headers.insert("referrer-policy", "no-referrer".parse().expect("header"));
    headers.insert(header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'".parse().expect("header"));
    Ok(response)
}

/// The form of the approval page.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct DecisionForm {
    /// Who decides (recorded as `<by> (slack link)`).
    by: String,
    /// Why.
    #[serde(default)]
    comment: String,
}

/// Decides the step a link names: the `approve` or `reject` update, `by` = `<name> (slack link)`.
#[utoipa::path(post, path = "/approvals/{token}", tag = "approvals",
    params(("token" = String, Path, description = "The signed link token (from the Slack message).")),
    request_body(content = DecisionForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Decided: a page saying so (`text/html`), or the update's answer when `Accept` asks for JSON.", body = ApprovalAck),
        (status = 403, description = "The token is not valid (`forbidden`).", body = crate::error::ErrorBody),
        (status = 404, description = "No such diagnosis, or approval links are not enabled on this server (`not_found`).", body = crate::error::ErrorBody),
        (status = 409, description = "The step no longer waits (`not_waiting`), was decided (`already_decided`), or the diagnosis ended (`not_running`).", body = crate::error::ErrorBody),
        (status = 410, description = "The link expired with the step's wait (`link_expired`).", body = crate::error::ErrorBody),
        (status = 422, description = "The form is not valid or names nobody (`invalid_payload`).", body = crate::error::ErrorBody),
        (status = 503, description = "Temporal is unavailable (`unavailable`).", body = crate::error::ErrorBody)))]
pub(crate) async fn decide(
    State(state): State<AppState>,
    crate::error::PathParam(token): crate::error::PathParam,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let c = claims(&state, &token)?;
    let form: DecisionForm =
        serde_urlencoded::from_bytes(&body).map_err(|e| ApiError::InvalidPayload(format!("the form is not valid: {e}")))?;
    let name = form.by.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::InvalidPayload("by: say who decides (a name of at most 200 characters)".into()));
    }
    if form.comment.chars().count() > 2000 {
        return Err(ApiError::InvalidPayload("comment: at most 2000 characters".into()));
    }
    let by = format!("{name} (slack link)");
    let approve = c.verdict == LinkVerdict::Approve;
    let ack = tasks::decide_step(&state, &c.workflow_id, Some(c.step_id.clone()), by, form.comment, approve).await?;
    let wants_json = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("application/json"));
    if wants_json {
        return Ok(axum::Json(ack).into_response());
    }
    let done = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>Decided</title><style>{STYLE}</style></head><body><h1>Step {step} {verdict}</h1><p>Recorded as decided by <b>{by}</b> in diagnosis <b>{wf}</b>.</p></body></html>",
        step = escape(&ack.step_id),
        verdict = if approve { "approved" } else { "rejected" },
        by = escape(&ack.by),
        wf = escape(&c.workflow_id),
    );
    Ok((StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], Html(done)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_escapes_and_carries_no_external_assets() {
        let c = LinkClaims { workflow_id: "w<1>".into(), step_id: "step-1".into(), verdict: LinkVerdict::Reject, expires_at: 0 };
        let p = PendingApproval {
            step_id: "step-1".into(),
            command: "kubectl logs <script>alert(1)</script> -n shop".into(),
            purpose: "read \"it\"".into(),
            reason: "sensitive & personal".into(),
            since: chrono::Utc::now(),
            expires_at: chrono::Utc::now(),
        };
        let html = page_html(&c, &p);
        assert!(!html.contains("<script>") && html.contains("&lt;script&gt;") && html.contains("w&lt;1&gt;"), "{html}");
        assert!(html.contains("method=\"post\"") && html.contains("name=\"by\" required") && html.contains(">Reject</button>"));
        assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("src="), "{html}");
    }
}
