//! Operating the API: the request middleware (request id, metrics, authentication, rate
//! limits), `GET /health/live`, `GET /health/ready` and `GET /metrics`.

use crate::{
    ApiError, AppState,
    auth::{self, Access, Caller, Role, SIGNATURE_HEADER},
    error::REQUEST_ID,
};
use axum::{
    Json,
    body::Body,
    extract::{ConnectInfo, MatchedPath, Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};
use temporalio_client::tonic;
use temporalio_common::protos::temporal::api::workflowservice::v1::GetSystemInfoRequest;

/// The API's Prometheus metrics, in a registry of their own (one per `AppState`).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    alerts: IntCounterVec,
    auth_failures: IntCounterVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with the API's metrics.
    pub fn new() -> Self {
        let counter = |name: &str, help: &str, labels: &[&str]| IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
        let requests = counter("aetherius_http_requests_total", "HTTP requests by route, method and status.", &["route", "method", "status"]);
        let latency = HistogramVec::new(
            HistogramOpts::new("aetherius_http_request_duration_seconds", "HTTP request latency by route and method."),
            &["route", "method"],
        )
        .expect("valid metric");
        let alerts = counter(
            "aetherius_alerts_ingested_total",
            "Alerts received by source and outcome (started, duplicate, resolved, rejected, ...).",
            &["source", "outcome"],
        );
        let auth_failures = counter("aetherius_auth_failures_total", "Refused credentials by error code.", &["code"]);
        let registry = Registry::new();
        for c in [&requests, &alerts, &auth_failures] {
            registry.register(Box::new(c.clone())).expect("unique metric");
        }
        registry.register(Box::new(latency.clone())).expect("unique metric");
        Metrics { registry, requests, latency, alerts, auth_failures }
    }

    /// Counts one alert of `source` with `outcome`.
    pub fn alert(&self, source: &str, outcome: &str) {
        self.alerts.with_label_values(&[source, outcome]).inc();
    }

    fn auth_failure(&self, code: &str) {
        self.auth_failures.with_label_values(&[code]).inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = vec![];
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("text encoding");
        String::from_utf8(out).unwrap_or_default()
    }
}

fn request_id_of(req: &Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Outer middleware: a request id (`X-Request-Id`, taken from the request when sane),
/// the request counter and the latency histogram.
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let id = request_id_of(&req);
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_owned();
    // Bounded label values: any other method is `other`.
    let method: &'static str = match req.method().as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let started = Instant::now();
    let mut response = REQUEST_ID.scope(id.clone(), next.run(req)).await;
    let m = &state.metrics;
    m.requests.with_label_values(&[&route, method, response.status().as_str()]).inc();
    m.latency.with_label_values(&[&route, method]).observe(started.elapsed().as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

fn client_key(req: &Request) -> String {
    match req.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) => format!("ip:{}", addr.ip()),
        None => "ip:unknown".into(),
    }
}

/// Inner middleware: the route's [`Access`] from [`auth::ROUTES`] (none: refused), the
/// caller's credential, the rate limit, the role; then [`Caller`] as a request extension.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(path) = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned()) else {
        return next.run(req).await; // no route: the fallback answers 404
    };
    let method = req.method().clone();
    let access = match auth::access(method.as_str(), &path) {
        Ok(a) => a,
        Err(true) => return ApiError::MethodNotAllowed(format!("{path} does not serve {method}")).into_response(),
        Err(false) => return ApiError::Forbidden(format!("{method} {path} has no access rule, so it is refused")).into_response(),
    };
    if access == Access::Open {
        return next.run(req).await;
    }
    let ip = client_key(&req);
    if access == Access::Link {
        if let Err(e) = state.auth.rate_limit(&ip) {
            return e.into_response();
        }
        return next.run(req).await;
    }
    match authenticate(&state, access, req).await {
        Ok((caller, mut req)) => {
            let key = if state.auth.disabled() { ip } else { format!("caller:{}", caller.name) };
            if let Err(e) = state.auth.rate_limit(&key) {
                return e.into_response();
            }
            let needed = match access {
                Access::Role(r) => r,
                _ => Role::Operator,
            };
            if let Err(e) = auth::authorize(&caller, needed) {
                state.metrics.auth_failure("forbidden");
                return e.into_response();
            }
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(e) => {
            state.metrics.auth_failure(e.parts().1);
            // Failed credentials count against the client's address.
            match state.auth.rate_limit(&ip) {
                Err(limited) => limited.into_response(),
                Ok(()) => e.into_response(),
            }
        }
    }
}

async fn authenticate(state: &AppState, access: Access, req: Request) -> Result<(Caller, Request), ApiError> {
    let auth = &state.auth;
    if auth.disabled() {
        return Ok((Caller { name: Caller::ANONYMOUS.into(), role: Role::Admin }, req));
    }
    let authorization = req.headers().get(header::AUTHORIZATION).map(|v| v.to_str().unwrap_or("")).map(str::to_owned);
    let signature = req.headers().get(SIGNATURE_HEADER).map(|v| v.to_str().unwrap_or("").to_owned());
    match (access, authorization, signature) {
        (Access::Webhook, None, Some(signature)) => {
            let limit = state.options.max_payload_bytes;
            let too_long = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
                .is_some_and(|n| n > limit);
            if too_long {
                return Err(ApiError::PayloadTooLarge(limit));
            }
            let (parts, body) = req.into_parts();
            let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| ApiError::PayloadTooLarge(limit))?;
            let caller = auth.verify_signature(&signature, &bytes)?;
            Ok((caller, Request::from_parts(parts, Body::from(bytes))))
        }
        (Access::Webhook, None, None) => Err(ApiError::Unauthorized {
            code: "missing_token",
            message: format!("a webhook needs an Authorization: Bearer <token> or an {SIGNATURE_HEADER} header"),
        }),
        (_, authorization, _) => Ok((auth.bearer(authorization.as_deref())?, req)),
    }
}

/// Answer of `GET /health/live`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Live {
    /// Always `ok`.
    status: &'static str,
}

/// Answer of `GET /health/ready` (200 and 503).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Ready {
    /// `ready` or `not_ready`.
    status: &'static str,
    /// `ok` or `failed` per dependency.
    checks: ReadyChecks,
    /// What failed (503 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<crate::error::ErrorDetail>,
}

/// One verdict per dependency.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ReadyChecks {
    /// Temporal's GetSystemInfo.
    temporal: &'static str,
    /// PostgreSQL's `SELECT 1`.
    postgresql: &'static str,
}

/// `GET /health/live`: the process answers.
#[utoipa::path(get, path = "/health/live", tag = "operations",
    responses((status = 200, description = "The process answers.", body = Live)))]
pub(crate) async fn live() -> Json<Live> {
    Json(Live { status: "ok" })
}

/// `GET /health`: the same as `/health/live` (kept for older probes).
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "The process answers.", body = Live)))]
pub(crate) async fn health() -> Json<Live> {
    live().await
}

/// `GET /health/ready`: Temporal (GetSystemInfo) and PostgreSQL (`SELECT 1`), each within
/// `ready_timeout_ms`; 503 naming what failed (the detail goes to the log).
#[utoipa::path(get, path = "/health/ready", tag = "operations", responses(
    (status = 200, description = "Temporal and PostgreSQL answer.", body = Ready),
    (status = 503, description = "A dependency did not answer in time (`not_ready`).", body = Ready),
))]
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    let limit = Duration::from_millis(state.options.ready_timeout_ms);
    let temporal = async {
        let mut service = state.temporal.connection().workflow_service();
        match tokio::time::timeout(limit, service.get_system_info(tonic::Request::new(GetSystemInfoRequest::default()))).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} ms", limit.as_millis())),
        }
    };
    let postgres = async {
        match tokio::time::timeout(limit, sqlx::query("SELECT 1").execute(&state.pool)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} ms", limit.as_millis())),
        }
    };
    let (temporal, postgres) = tokio::join!(temporal, postgres);
    let mut failed = vec![];
    let mut verdict = |name: &'static str, result: Result<(), String>| match result {
        Ok(()) => "ok",
        Err(detail) => {
            tracing::warn!(request_id = %crate::error::request_id(), dependency = name, error = %detail, "readiness check failed");
            failed.push(name);
            "failed"
        }
    };
    let checks = ReadyChecks { temporal: verdict("temporal", temporal), postgresql: verdict("postgresql", postgres) };
    if failed.is_empty() {
        (StatusCode::OK, Json(Ready { status: "ready", checks, error: None })).into_response()
    } else {
        let message = format!("not ready: {} did not answer", failed.join(" and "));
        let error = crate::error::ErrorDetail { code: "not_ready".into(), message };
        (StatusCode::SERVICE_UNAVAILABLE, Json(Ready { status: "not_ready", checks, error: Some(error) })).into_response()
    }
}

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses(
    (status = 200, description = "Prometheus text exposition (version 0.0.4).", body = String, content_type = "text/plain"),
))]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], state.metrics.render()).into_response()
}
