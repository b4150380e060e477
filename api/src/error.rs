//! One error type for every handler: a stable code, a message naming the problem.
//!
//! A 5xx never carries an internal error: the detail is logged with the request id and
//! the client gets a generic message naming the dependency at most, and that id.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

/// The body of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A stable code and a message naming the problem.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable code (`invalid_payload`, `not_found`, `missing_token`, `unavailable`, ...).
    pub code: String,
    /// What is wrong; a 5xx names the dependency at most, and the request id.
    pub message: String,
}

tokio::task_local! {
    /// Id of the request being served (set by the API's outer middleware).
    pub(crate) static REQUEST_ID: String;
}

/// The current request's id, `-` outside a request.
pub(crate) fn request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_else(|_| "-".into())
}

/// A client-visible error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Body is not JSON.
    #[error("{0}")]
    MalformedJson(String),
    /// JSON of the wrong shape, or values that fail validation.
    #[error("{0}")]
    InvalidPayload(String),
    /// Body over the size limit.
    #[error("request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// No such task.
    #[error("{0}")]
    NotFound(String),
    /// A filter of a list is invalid.
    #[error("{0}")]
    InvalidFilter(String),
    /// The request conflicts with the task's state (not running, nothing waiting, decided).
    #[error("{message}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// What conflicts.
        message: String,
    },
    /// No custom webhook source of that name is configured.
    #[error("{0}")]
    UnknownSource(String),
    /// The path exists, not with this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// No or a bad credential; `code` is `missing_token`, `invalid_token`, `expired_token`,
    /// `bad_signature` or `stale_timestamp`.
    #[error("{message}")]
    Unauthorized {
        /// Stable code.
        code: &'static str,
        /// What is wrong with the credential.
        message: String,
    },
    /// The caller's role is below the route's.
    #[error("{0}")]
    Forbidden(String),
    /// A signed webhook seen before, inside the tolerance window.
    #[error("{0}")]
    Replayed(String),
    /// Too many requests from this client.
    #[error("rate limit exceeded; retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until the next request is allowed.
        retry_after_secs: u64,
    },
    /// A dependency failed; `name` is answered, `detail` only logged.
    #[error("{name} is unavailable; retry later")]
    Dependency {
        /// `Temporal`, `PostgreSQL`, `the knowledge base`.
        name: &'static str,
        /// The internal error, for the log.
        detail: String,
    },
    /// Something failed; the text is logged, never answered. Prefer [`ApiError::temporal`]
    /// and [`ApiError::postgres`], which name the dependency.
    #[error("a dependency is unavailable; retry later")]
    Unavailable(String),
    /// A feature this server has not been configured for (the message is for the client).
    #[error("{0}")]
    NotConfigured(String),
    /// No representation the `Accept` header allows.
    #[error("{0}")]
    NotAcceptable(String),
    /// A credential that was valid and is no more (an expired approval link).
    #[error("{0}")]
    Gone(String),
}

impl ApiError {
    /// Temporal failed (the detail is logged only).
    pub fn temporal(detail: impl std::fmt::Display) -> Self {
        ApiError::Dependency { name: "Temporal", detail: detail.to_string() }
    }

    /// PostgreSQL failed (the detail is logged only).
    pub fn postgres(detail: impl std::fmt::Display) -> Self {
        ApiError::Dependency { name: "PostgreSQL", detail: detail.to_string() }
    }

    /// HTTP status and stable code.
    pub fn parts(&self) -> (StatusCode, &'static str) {
        match *self {
            ApiError::MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            ApiError::InvalidPayload(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::NotAcceptable(_) => (StatusCode::NOT_ACCEPTABLE, "not_acceptable"),
            ApiError::Gone(_) => (StatusCode::GONE, "link_expired"),
            ApiError::InvalidFilter(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_filter"),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            ApiError::UnknownSource(_) => (StatusCode::NOT_FOUND, "unknown_source"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Unauthorized { code, .. } => (StatusCode::UNAUTHORIZED, code),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::Replayed(_) => (StatusCode::CONFLICT, "replayed_webhook"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Dependency { .. } | ApiError::Unavailable(_) | ApiError::NotConfigured(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let mut message = self.to_string();
        if status.is_server_error() {
            let id = request_id();
            match &self {
                ApiError::Dependency { name, detail } => tracing::error!(request_id = %id, dependency = name, error = %detail, "request failed"),
                ApiError::Unavailable(detail) => tracing::error!(request_id = %id, error = %detail, "request failed"),
                _ => tracing::warn!(request_id = %id, error = %message, "request refused"),
            }
            message = format!("{message} (request id {id})");
        }
        let body = ErrorBody { error: ErrorDetail { code: code.to_owned(), message } };
        let mut response = (status, Json(body)).into_response();
        if let ApiError::RateLimited { retry_after_secs } = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The one path parameter of a route, as a string; a path that does not decode (invalid
/// percent-encoding, not UTF-8) is a JSON `invalid_payload`, not axum's plain-text 400.
#[derive(Debug)]
pub(crate) struct PathParam(pub(crate) String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(p)) => Ok(PathParam(p)),
            Err(rejection) => Err(ApiError::InvalidPayload(format!("path: {}", rejection.body_text()))),
        }
    }
}

pub(crate) async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(e: ApiError) -> (u16, serde_json::Value) {
        let r = REQUEST_ID.scope("req-1".into(), async { e.into_response() }).await;
        let status = r.status().as_u16();
        let bytes = axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn server_errors_name_the_dependency_and_the_request_never_the_detail() {
        let (status, b) = body(ApiError::temporal("tonic: connection refused at 10.0.0.7:7233")).await;
        assert_eq!(status, 503);
        assert_eq!(b["error"]["code"], "unavailable");
        assert_eq!(b["error"]["message"], "Temporal is unavailable; retry later (request id req-1)");
        let (_, b) = body(ApiError::Unavailable("password authentication failed for user aetherius".into())).await;
        let message = b["error"]["message"].as_str().unwrap();
        assert!(!message.contains("password") && message.contains("req-1"), "{message}");
    }

    #[tokio::test]
    async fn a_path_parameter_that_does_not_decode_is_a_json_invalid_payload() {
        use tower::ServiceExt;
        // `%C0` decodes to no UTF-8: axum's own rejection would be a text/plain 400.
        let app = axum::Router::new().route("/tasks/{id}", axum::routing::get(|PathParam(id): PathParam| async move { id }));
        let request = axum::http::Request::get("/tasks/%C0").body(axum::body::Body::empty()).unwrap();
        let r = app.oneshot(request).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        let bytes = axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap();
        let b: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(b["error"]["code"], "invalid_payload");
        assert!(b["error"]["message"].as_str().unwrap().starts_with("path: "), "{b}");
    }

    #[tokio::test]
    async fn rate_limited_answers_retry_after() {
        let r = ApiError::RateLimited { retry_after_secs: 7 }.into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "7");
    }
}
