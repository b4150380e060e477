//! Access over HTTP: tokens and roles, signed webhooks and replays, rate limits, CORS,
//! readiness, metrics, generic 5xx and the custom webhook mappings. API only: the few
//! diagnoses started are terminated at once (no workers here).

use crate::support::{api, config, payload, unique_alert};
use aetherius_api::{
    AppState, Auth, Role,
    auth::{self, AuthOptions, TokenOptions, WebhookSecret},
};
use aetherius_workers::config::Config;
use axum::{
    body::Body,
    http::{HeaderMap, Request},
};
use serde_json::{Value, json};
use std::{path::Path, sync::Arc};
use temporalio_client::{WorkflowDescribeOptions, WorkflowTerminateOptions, errors::WorkflowInteractionError};
use tower::ServiceExt;

const SECRET: &str = "integration-webhook-secret-0001";

fn token(name: &str, role: Role) -> TokenOptions {
    TokenOptions { name: name.into(), role, sha256: auth::token_sha256(&format!("tok-{name}")), expires: None }
}

/// Options with one token per role (`tok-<role>`) and a webhook secret.
fn secured(rate_limit_per_minute: u32) -> AuthOptions {
    AuthOptions {
        tokens: vec![
            token("viewer", Role::Viewer),
            token("operator", Role::Operator),
            token("approver", Role::Approver),
            token("admin", Role::Admin),
        ],
        webhook_secrets: vec![WebhookSecret { name: "grafana".into(), secret_env: "AETHERIUS_IT_WEBHOOK_SECRET".into() }],
        rate_limit_per_minute,
        ..Default::default()
    }
}

/// The router with [`secured`] access (its secret from a fake environment) and the
/// example configuration's custom sources.
async fn secured_api(rate_limit_per_minute: u32) -> (axum::Router, AppState) {
    let mut c = config(&[]);
    let example = Config::load(Some(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/aetherius.example.toml"))).unwrap();
    c.api.custom_sources = example.api.custom_sources;
    let options = secured(rate_limit_per_minute);
    let (_, mut state) = api(&c).await;
    let env = |name: &str| (name == "AETHERIUS_IT_WEBHOOK_SECRET").then(|| SECRET.to_owned());
    state.auth = Arc::new(Auth::with_env(&options, env).unwrap());
    (aetherius_api::app(state.clone()), state)
}

/// Sends a request; returns status, headers and body (JSON, or the text as a string).
async fn send(app: &axum::Router, method: &str, uri: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, HeaderMap, Value) {
    let mut req = Request::builder().method(method).uri(uri).header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, headers, body)
}

fn bearer(role: &str) -> String {
    format!("Bearer tok-{role}")
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

async fn exists(state: &AppState, id: &str) -> bool {
    let handle = state.temporal.get_workflow_handle::<aetherius_workflows::DiagnosisWorkflow>(id.to_owned());
    match handle.describe(WorkflowDescribeOptions::default()).await {
        Ok(_) => true,
        Err(WorkflowInteractionError::NotFound(_)) => false,
        Err(e) => panic!("describe {id}: {e}"),
    }
}

async fn terminate(state: &AppState, id: &str) {
    let handle = state.temporal.get_workflow_handle::<aetherius_workflows::DiagnosisWorkflow>(id.to_owned());
    handle.terminate(WorkflowTerminateOptions::builder().reason("auth test: API only").build()).await.unwrap();
}

/// The value of the first sample of `metric` whose labels include all of `labels`.
fn sample(text: &str, metric: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")))
        .find(|l| labels.iter().all(|want| l.contains(want)))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_route_answers_only_the_roles_the_table_gives_it() {
    let (app, _) = secured_api(1000).await;
    // Open: probes and metrics.
    for uri in ["/health", "/health/live", "/health/ready", "/metrics"] {
        let (status, _, body) = send(&app, "GET", uri, &[], vec![]).await;
        assert_eq!(status, 200, "{uri}: {body}");
    }
    let (status, _, body) = send(&app, "GET", "/tools", &[], vec![]).await;
    assert_eq!((status, code(&body)), (401, "missing_token"), "{body}");
    let (status, _, body) = send(&app, "GET", "/tools", &[("authorization", "Basic dXNlcjpwdw==")], vec![]).await;
    assert_eq!((status, code(&body)), (401, "invalid_token"), "{body}");
    let (status, _, body) = send(&app, "GET", "/tools", &[("authorization", "Bearer tok-nobody")], vec![]).await;
    assert_eq!((status, code(&body)), (401, "invalid_token"), "{body}");
    let (status, _, body) = send(&app, "GET", "/tools", &[("authorization", &bearer("viewer"))], vec![]).await;
    assert_eq!(status, 200, "{body}");
    let validate = serde_json::to_vec(&json!({"command": "kubectl get pods -n shop"})).unwrap();
    let (status, _, body) = send(&app, "POST", "/commands/validate", &[("authorization", &bearer("viewer"))], validate).await;
    assert_eq!(status, 200, "{body}");

    // POST /tasks: operator and above. A bad body shows the role passed without starting anything.
    let manual = serde_json::to_vec(&json!({"kind": "Bogus", "name": "x"})).unwrap();
    let (status, _, body) = send(&app, "POST", "/tasks", &[("authorization", &bearer("viewer"))], manual.clone()).await;
    assert_eq!((status, code(&body)), (403, "forbidden"), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("operator") && message.contains("viewer"), "{message}");
    for role in ["operator", "approver", "admin"] {
        let (status, _, body) = send(&app, "POST", "/tasks", &[("authorization", &bearer(role))], manual.clone()).await;
        assert_eq!((status, code(&body)), (422, "invalid_payload"), "{role}: {body}");
    }

    // Knowledge writes: admin only (this server has no knowledge base: 503 once through).
    let entry = serde_json::to_vec(&json!({"title": "t", "content": "c", "category": "lesson"})).unwrap();
    for role in ["viewer", "operator", "approver"] {
        let (status, _, body) = send(&app, "POST", "/knowledge", &[("authorization", &bearer(role))], entry.clone()).await;
        assert_eq!((status, code(&body)), (403, "forbidden"), "{role}: {body}");
    }
    let (status, _, body) = send(&app, "POST", "/knowledge", &[("authorization", &bearer("admin"))], entry).await;
    assert_eq!((status, code(&body)), (503, "unavailable"), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("not configured"), "{body}");
    let (status, _, body) = send(&app, "GET", "/knowledge", &[("authorization", &bearer("viewer"))], vec![]).await;
    assert_eq!((status, code(&body)), (503, "unavailable"), "{body}");

    // A known path with another method, and an unknown path.
    let (status, _, body) = send(&app, "DELETE", "/tools", &[("authorization", &bearer("admin"))], vec![]).await;
    assert_eq!((status, code(&body)), (405, "method_not_allowed"), "{body}");
    let (status, _, body) = send(&app, "GET", "/nowhere", &[], vec![]).await;
    assert_eq!((status, code(&body)), (404, "not_found"), "{body}");

    // Each registered route is served with the method it is listed under, and the table
    // lets an admin through (empty bodies: refused by the handler, nothing started).
    for (method, path, _) in aetherius_api::routes() {
        let uri = path.replace("{id}", "00000000-0000-0000-0000-000000000000").replace("{source}", "grafana");
        let (status, _, body) = send(&app, method.as_str(), &uri, &[("authorization", &bearer("admin"))], vec![]).await;
        assert!(![401, 403, 405].contains(&status), "{method} {path}: {status} {body}");
    }

    // Every failure was counted, by code.
    let (_, headers, text) = send(&app, "GET", "/metrics", &[], vec![]).await;
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = text.as_str().unwrap();
    assert_eq!(sample(text, "aetherius_auth_failures_total", &["code=\"missing_token\""]), 1.0, "{text}");
    assert_eq!(sample(text, "aetherius_auth_failures_total", &["code=\"invalid_token\""]), 2.0);
    assert_eq!(sample(text, "aetherius_auth_failures_total", &["code=\"forbidden\""]), 4.0);
    assert_eq!(sample(text, "aetherius_http_requests_total", &["route=\"/tools\"", "status=\"200\"", "method=\"GET\""]), 2.0);
    assert_eq!(sample(text, "aetherius_http_requests_total", &["route=\"/tasks\"", "status=\"422\""]), 3.0);
    assert!(sample(text, "aetherius_http_request_duration_seconds_count", &["route=\"/tools\"", "method=\"GET\""]) >= 3.0, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_caller_reaches_handlers_as_a_request_extension() {
    let (_, state) = secured_api(1000).await;
    // The real guard in front of a handler that reads `Caller`, on a route of the table.
    let echo = |axum::Extension(caller): axum::Extension<aetherius_api::Caller>| async move {
        axum::Json(json!({"name": caller.name, "role": caller.role.name()}))
    };
    let app = axum::Router::new()
        .route("/tasks/{id}/approve", axum::routing::post(echo))
        .layer(axum::middleware::from_fn_with_state(state.clone(), aetherius_api::ops::guard))
        .with_state(state);
    let (status, _, body) = send(&app, "POST", "/tasks/x/approve", &[("authorization", &bearer("approver"))], vec![]).await;
    assert_eq!((status, body), (200, json!({"name": "approver", "role": "approver"})));
    let (status, _, body) = send(&app, "POST", "/tasks/x/approve", &[("authorization", &bearer("operator"))], vec![]).await;
    assert_eq!((status, code(&body)), (403, "forbidden"), "{body}");
    // A route the table does not know is refused, whatever the role.
    let app = axum::Router::new()
        .route("/debug/dump", axum::routing::get(|| async { "secrets" }))
        .layer(axum::middleware::from_fn_with_state(secured_api(1000).await.1, aetherius_api::ops::guard));
    let (status, _, body) = send(&app, "GET", "/debug/dump", &[("authorization", &bearer("admin"))], vec![]).await;
    assert_eq!((status, code(&body)), (403, "forbidden"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_take_an_operator_token_or_one_fresh_signature() {
    let (app, state) = secured_api(1000).await;
    let mut resolved = unique_alert("crashloop-missing-env");
    resolved["status"] = json!("resolved");
    let body = serde_json::to_vec(&payload(vec![resolved])).unwrap();

    let (status, _, b) = send(&app, "POST", "/webhook/alertmanager", &[], body.clone()).await;
    assert_eq!((status, code(&b)), (401, "missing_token"), "{b}");
    let (status, _, b) = send(&app, "POST", "/webhook/alertmanager", &[("authorization", &bearer("viewer"))], body.clone()).await;
    assert_eq!((status, code(&b)), (403, "forbidden"), "{b}");
    let (status, _, b) = send(&app, "POST", "/webhook/alertmanager", &[("authorization", &bearer("operator"))], body.clone()).await;
    assert_eq!((status, b["accepted"].as_u64()), (202, Some(1)), "{b}");

    let t = now();
    let signature = auth::sign(SECRET.as_bytes(), t, &body);
    let signed = [("x-aetherius-signature", signature.as_str())];
    let (status, _, b) = send(&app, "POST", "/webhook/alertmanager", &signed, body.clone()).await;
    assert_eq!((status, b["accepted"].as_u64()), (202, Some(1)), "{b}");
    let (status, _, b) = send(&app, "POST", "/webhook/alertmanager", &signed, body.clone()).await;
    assert_eq!((status, code(&b)), (409, "replayed_webhook"), "{b}");
    let stale = auth::sign(SECRET.as_bytes(), t - 301, &body);
    let (status, _, b) = send(&app, "POST", "/webhook/alertmanager", &[("x-aetherius-signature", &stale)], body.clone()).await;
    assert_eq!((status, code(&b)), (401, "stale_timestamp"), "{b}");
    let other = auth::sign(b"someone-elses-secret-0000000000", t, &body);
    let (status, _, b) = send(&app, "POST", "/webhook/alertmanager", &[("x-aetherius-signature", &other)], body.clone()).await;
    assert_eq!((status, code(&b)), (401, "bad_signature"), "{b}");
    let mut tampered = body.clone();
    tampered.push(b' ');
    let fresh = auth::sign(SECRET.as_bytes(), t + 1, &body);
    let (status, _, b) = send(&app, "POST", "/webhook/alertmanager", &[("x-aetherius-signature", &fresh)], tampered).await;
    assert_eq!((status, code(&b)), (401, "bad_signature"), "{b}");
    // A signature is no bearer token for other routes.
    let (status, _, b) = send(&app, "GET", "/tools", &[("x-aetherius-signature", &fresh)], vec![]).await;
    assert_eq!((status, code(&b)), (401, "missing_token"), "{b}");

    // Signed and refused payloads are counted by source and outcome.
    let bad = serde_json::to_vec(&payload(vec![])).unwrap();
    let bad_signature = auth::sign(SECRET.as_bytes(), t + 2, &bad);
    let (status, _, b) = send(&app, "POST", "/webhook/alertmanager", &[("x-aetherius-signature", &bad_signature)], bad).await;
    assert_eq!((status, code(&b)), (422, "invalid_payload"), "{b}");
    let text = state.metrics.render();
    assert_eq!(sample(&text, "aetherius_alerts_ingested_total", &["source=\"alertmanager\"", "outcome=\"rejected\""]), 1.0, "{text}");
    assert_eq!(sample(&text, "aetherius_auth_failures_total", &["code=\"replayed_webhook\""]), 1.0, "{text}");
    assert_eq!(sample(&text, "aetherius_auth_failures_total", &["code=\"bad_signature\""]), 2.0, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_client_is_rate_limited_on_its_own_with_retry_after() {
    let (app, _) = secured_api(3).await;
    for _ in 0..3 {
        let (status, _, b) = send(&app, "GET", "/tools", &[("authorization", &bearer("viewer"))], vec![]).await;
        assert_eq!(status, 200, "{b}");
    }
    let (status, headers, b) = send(&app, "GET", "/tools", &[("authorization", &bearer("viewer"))], vec![]).await;
    assert_eq!((status, code(&b)), (429, "rate_limited"), "{b}");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    let (status, _, b) = send(&app, "GET", "/tools", &[("authorization", &bearer("operator"))], vec![]).await;
    assert_eq!(status, 200, "another caller has its own quota: {b}");
    // Bad credentials count against the client's address: guessing is limited too.
    for _ in 0..3 {
        let (status, _, _) = send(&app, "GET", "/tools", &[("authorization", "Bearer guess")], vec![]).await;
        assert_eq!(status, 401);
    }
    let (status, _, b) = send(&app, "GET", "/tools", &[("authorization", "Bearer guess")], vec![]).await;
    assert_eq!((status, code(&b)), (429, "rate_limited"), "{b}");
    // Probes are never limited.
    let (status, _, _) = send(&app, "GET", "/health/live", &[], vec![]).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_only_the_configured_origins() {
    let mut c = config(&[]);
    c.api.cors_allowed_origins = vec!["https://console.example.com".into()];
    let (_, state) = api(&c).await;
    let app = aetherius_api::app(state);
    let preflight = |origin: &'static str| {
        let app = app.clone();
        async move {
            let headers = [("origin", origin), ("access-control-request-method", "POST"), ("access-control-request-headers", "authorization")];
            send(&app, "OPTIONS", "/tasks", &headers, vec![]).await
        }
    };
    let (status, headers, _) = preflight("https://console.example.com").await;
    assert_eq!(status, 200);
    assert_eq!(headers["access-control-allow-origin"], "https://console.example.com");
    let (_, headers, _) = preflight("https://evil.example.com").await;
    assert!(headers.get("access-control-allow-origin").is_none(), "{headers:?}");
    // None configured: no CORS headers at all.
    let (_, state) = api(&config(&[])).await;
    let (_, headers, _) = send(&aetherius_api::app(state), "GET", "/health", &[("origin", "https://console.example.com")], vec![]).await;
    assert!(headers.get("access-control-allow-origin").is_none(), "{headers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_names_the_dependency_that_failed_and_5xx_never_echo_internals() {
    let (app, mut state) = api(&config(&[])).await;
    let (status, _, body) = send(&app, "GET", "/health/ready", &[], vec![]).await;
    assert_eq!((status, &body["checks"]), (200, &json!({"temporal": "ok", "postgresql": "ok"})), "{body}");

    state.pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect_lazy("postgres://nobody:hunter2@127.0.0.1:1/none")
        .unwrap();
    let app = aetherius_api::app(state);
    let started = std::time::Instant::now();
    let (status, _, body) = send(&app, "GET", "/health/ready", &[], vec![]).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!((status, code(&body)), (503, "not_ready"), "{body}");
    assert_eq!(body["checks"], json!({"temporal": "ok", "postgresql": "failed"}));
    assert!(!body.to_string().contains("hunter2") && !body.to_string().contains("127.0.0.1:1"), "{body}");

    // Temporal refuses the start (no such namespace): 503 naming no internals, with the request id.
    let mut c = config(&[]);
    c.temporal.namespace = format!("aetherius-no-such-namespace-{}", uuid::Uuid::new_v4().simple());
    let (app, _) = api(&c).await;
    let body = serde_json::to_vec(&payload(vec![unique_alert("crashloop-missing-env")])).unwrap();
    let (status, headers, b) = send(&app, "POST", "/webhook/alertmanager", &[("x-request-id", "it-req-42")], body).await;
    assert_eq!((status, code(&b)), (503, "unavailable"), "{b}");
    let message = b["error"]["message"].as_str().unwrap();
    assert!(message.contains("it-req-42") && !message.contains(&c.temporal.namespace) && !message.to_lowercase().contains("namespace"), "{message}");
    assert_eq!(headers["x-request-id"], "it-req-42");
}

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../api/testdata/custom").join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_webhooks_map_grafana_datadog_and_pagerduty_bodies_and_start_nothing_on_error() {
    let (app, state) = secured_api(1000).await;
    let op = [("authorization", "Bearer tok-operator")];
    let run = uuid::Uuid::new_v4().simple().to_string();

    let (status, _, b) = send(&app, "POST", "/webhook/custom/zabbix", &op, b"{}".to_vec()).await;
    assert_eq!((status, code(&b)), (404, "unknown_source"), "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("grafana"), "{b}");

    // Grafana: one firing, one resolved; unique to this run through the cluster label.
    let mut grafana = fixture("grafana");
    for alert in grafana["alerts"].as_array_mut().unwrap() {
        alert["labels"]["cluster"] = json!(format!("it-{run}"));
    }
    // A second alert the mapping cannot read: 422 naming it, and the first is not started.
    let mut broken = grafana.clone();
    broken["alerts"][1]["labels"].as_object_mut().unwrap().remove("alertname");
    let (status, _, b) = send(&app, "POST", "/webhook/custom/grafana", &op, serde_json::to_vec(&broken).unwrap()).await;
    assert_eq!((status, code(&b)), (422, "invalid_payload"), "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("/alerts/1/labels/alertname"), "{b}");
    let expected_id = format!("diag-it-{run}-c6eadffa33fcdf37-{}", chrono::DateTime::parse_from_rfc3339("2024-10-12T09:51:03+02:00").unwrap().timestamp());
    assert!(!exists(&state, &expected_id).await, "nothing is started when any alert is refused");

    let (status, _, b) = send(&app, "POST", "/webhook/custom/grafana", &op, serde_json::to_vec(&grafana).unwrap()).await;
    assert_eq!((status, b["accepted"].as_u64(), b["started"].as_u64()), (202, Some(2), Some(1)), "{b}");
    assert_eq!(b["workflows"][0]["workflow_id"], json!(expected_id));
    assert!(exists(&state, &expected_id).await);
    terminate(&state, &expected_id).await;

    // Datadog recovery and PagerDuty resolution: mapped and accepted, nothing to start.
    let mut datadog = fixture("datadog");
    datadog["alert_transition"] = json!("Recovered");
    datadog["aggreg_key"] = json!(run.clone());
    let (status, _, b) = send(&app, "POST", "/webhook/custom/datadog", &op, serde_json::to_vec(&datadog).unwrap()).await;
    assert_eq!((status, b["accepted"].as_u64(), b["started"].as_u64()), (202, Some(1), Some(0)), "{b}");
    assert!(b["workflows"][0]["workflow_id"].as_str().unwrap().starts_with("diag-prod-eu-"), "{b}");
    let mut pagerduty = fixture("pagerduty");
    pagerduty["event"]["data"]["status"] = json!("resolved");
    pagerduty["event"]["data"]["id"] = json!(format!("Q{run}"));
    let signed = auth::sign(SECRET.as_bytes(), now(), &serde_json::to_vec(&pagerduty).unwrap());
    let (status, _, b) =
        send(&app, "POST", "/webhook/custom/pagerduty", &[("x-aetherius-signature", &signed)], serde_json::to_vec(&pagerduty).unwrap()).await;
    assert_eq!((status, b["accepted"].as_u64(), b["started"].as_u64()), (202, Some(1), Some(0)), "{b}");
    pagerduty["event"]["data"]["status"] = json!("snoozed");
    let (status, _, b) = send(&app, "POST", "/webhook/custom/pagerduty", &op, serde_json::to_vec(&pagerduty).unwrap()).await;
    assert_eq!((status, code(&b)), (422, "invalid_payload"), "{b}");

    let text = state.metrics.render();
    assert_eq!(sample(&text, "aetherius_alerts_ingested_total", &["source=\"grafana\"", "outcome=\"started\""]), 1.0, "{text}");
    assert_eq!(sample(&text, "aetherius_alerts_ingested_total", &["source=\"grafana\"", "outcome=\"rejected\""]), 1.0, "{text}");
    assert_eq!(sample(&text, "aetherius_alerts_ingested_total", &["source=\"pagerduty\"", "outcome=\"rejected\""]), 1.0, "{text}");
}
