//! An OpenAI-compatible chat-completions server for tests and demos that answers in the
//! real wire format (`id`, `object`, `created`, `model`, `choices[].message.content`,
//! `finish_reason`, `usage`, OpenAI's error JSON) and fails on request: too slow, 429
//! with `Retry-After`, 500, a body that is not JSON, content that is not JSON, content that
//! violates the schema, an answer proposing a mutating command, or a good answer.
//!
//! Behaviours are queued (`push`) and used one per request, then the default. A good
//! answer is built from the request: the schema named in `response_format` and the
//! context JSON of the user message (first rule finding, else first hypothesis).
//! `aetherius llm test-server --port N --mode good` runs it; `POST /_test/behaviour` (a
//! [`Behaviour`] as JSON) queues one more, `PUT /_test/default` changes the default.

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// How to answer one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Behaviour {
    /// A schema-valid answer built from the request.
    Good,
    /// This JSON as the answer's content.
    Answer {
        /// The content (serialized into `message.content`).
        content: Value,
    },
    /// Wait, then answer well.
    Delay {
        /// Milliseconds.
        ms: u64,
    },
    /// 429 with `Retry-After` and OpenAI's rate-limit error body.
    RateLimited {
        /// `Retry-After`, seconds.
        retry_after_secs: u64,
    },
    /// 500 with OpenAI's server-error body.
    ServerError,
    /// 200 whose body is not JSON.
    NotJsonBody,
    /// A completion whose content is prose, not JSON.
    ContentNotJson,
    /// A completion whose content is JSON that violates the schema.
    SchemaViolation,
    /// A good answer that also proposes `kubectl delete pod x`.
    Mutating,
}

impl std::str::FromStr for Behaviour {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "good" => Behaviour::Good,
            "server-error" => Behaviour::ServerError,
            "not-json-body" => Behaviour::NotJsonBody,
            "content-not-json" => Behaviour::ContentNotJson,
            "schema-violation" => Behaviour::SchemaViolation,
            "mutating" => Behaviour::Mutating,
            "rate-limited" => Behaviour::RateLimited { retry_after_secs: 1 },
            "slow" => Behaviour::Delay { ms: 120_000 },
            other => {
                return Err(format!(
                    "unknown mode {other:?}: good, slow, rate-limited, server-error, not-json-body, content-not-json, schema-violation, mutating"
                ));
            }
        })
    }
}

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// When it arrived.
    pub at: Instant,
    /// Its JSON body.
    pub body: Value,
    /// Its `Authorization` header.
    pub authorization: Option<String>,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Behaviour>,
    default: Option<Behaviour>,
    usage: Option<(u64, u64)>,
    requests: Vec<Recorded>,
}

type Shared = Arc<Mutex<Inner>>;

/// A running test server.
#[derive(Clone)]
pub struct TestServer {
    addr: SocketAddr,
    state: Shared,
}

impl TestServer {
    /// Starts on `addr` (port 0 picks a free one) in the current runtime.
    pub async fn start(addr: SocketAddr, default: Behaviour) -> std::io::Result<TestServer> {
        let state: Shared = Arc::new(Mutex::new(Inner { default: Some(default), ..Default::default() }));
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .route("/v1/models", get(models))
            .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
            .route("/_test/behaviour", post(push_behaviour))
            .route("/_test/default", put(set_default))
            .with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(TestServer { addr, state })
    }

    /// Starts on a free port of 127.0.0.1.
    pub async fn local(default: Behaviour) -> std::io::Result<TestServer> {
        TestServer::start(SocketAddr::from(([127, 0, 0, 1], 0)), default).await
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its API base URL (`http://127.0.0.1:PORT/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues behaviours for the next requests, in order.
    pub fn push(&self, behaviours: impl IntoIterator<Item = Behaviour>) {
        self.lock().queue.extend(behaviours);
    }

    /// The behaviour once the queue is empty.
    pub fn set_default(&self, behaviour: Behaviour) {
        self.lock().default = Some(behaviour);
    }

    /// Report this usage (prompt, completion tokens) in every answer; an estimate from
    /// the sizes otherwise.
    pub fn set_usage(&self, prompt: u64, completion: u64) {
        self.lock().usage = Some((prompt, completion));
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// How many requests were received.
    pub fn request_count(&self) -> usize {
        self.lock().requests.len()
    }
}

async fn models() -> Json<Value> {
    Json(json!({"object": "list", "data": [{"id": "test-model", "object": "model", "created": 0, "owned_by": "aetherius"}]}))
}

async fn push_behaviour(State(state): State<Shared>, Json(b): Json<Behaviour>) -> StatusCode {
    state.lock().unwrap_or_else(|p| p.into_inner()).queue.push_back(b);
    StatusCode::NO_CONTENT
}

async fn set_default(State(state): State<Shared>, Json(b): Json<Behaviour>) -> StatusCode {
    state.lock().unwrap_or_else(|p| p.into_inner()).default = Some(b);
    StatusCode::NO_CONTENT
}

fn openai_error(status: StatusCode, message: &str, kind: &str, code: Option<&str>) -> Response {
    (status, Json(json!({"error": {"message": message, "type": kind, "param": null, "code": code}}))).into_response()
}

async fn completions(State(state): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let Ok(request) = serde_json::from_str::<Value>(&body) else {
        return openai_error(StatusCode::BAD_REQUEST, "We could not parse the JSON body of your request.", "invalid_request_error", None);
    };
    let (behaviour, usage) = {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        s.requests.push(Recorded {
            at: Instant::now(),
            body: request.clone(),
            authorization: headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned),
        });
        let b = s.queue.pop_front().or_else(|| s.default.clone()).unwrap_or(Behaviour::Good);
        (b, s.usage)
    };
    let schema = request.pointer("/response_format/json_schema/name").and_then(Value::as_str).unwrap_or("").to_owned();
    let context: Value = request
        .pointer("/messages")
        .and_then(Value::as_array)
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or(Value::Null);
    let content = match behaviour {
        Behaviour::Good => good_answer(&schema, &context, None).to_string(),
        Behaviour::Answer { content } => content.to_string(),
        Behaviour::Delay { ms } => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            good_answer(&schema, &context, None).to_string()
        }
        Behaviour::Mutating => good_answer(&schema, &context, Some("kubectl delete pod x")).to_string(),
        Behaviour::ContentNotJson => "The pod is probably crashing because of a bad config. I would check the logs.".to_owned(),
        Behaviour::SchemaViolation => json!({"root_cause": "cosmic-rays", "confidence": "very", "summary": 42}).to_string(),
        Behaviour::RateLimited { retry_after_secs } => {
            let mut r = openai_error(
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit reached for requests per min (RPM). Please try again later.",
                "requests",
                Some("rate_limit_exceeded"),
            );
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            return r;
        }
        Behaviour::ServerError => {
            return openai_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
                None,
            );
        }
        Behaviour::NotJsonBody => {
            return (StatusCode::OK, [(header::CONTENT_TYPE, "text/html")], "<html><body>502 Bad Gateway</body></html>").into_response();
        }
    };
    let model = request["model"].as_str().unwrap_or("test-model").to_owned();
    let (prompt, completion) = usage.unwrap_or(((body.len() as u64).div_ceil(4), (content.len() as u64).div_ceil(4)));
    let created = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Json(json!({
        "id": format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_aetherius_test",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    }))
    .into_response()
}

/// A schema-valid answer for `schema`, grounded in the context the request carries.
fn good_answer(schema: &str, context: &Value, extra_command: Option<&str>) -> Value {
    let alert = &context["alert"];
    let namespace = alert["namespace"].as_str();
    let finding = context["rule_findings"].as_array().and_then(|f| f.first());
    let root_cause = finding
        .and_then(|f| f["root_cause"].as_str())
        .or_else(|| context["rule_hypotheses"].as_array().and_then(|h| h.first()).and_then(Value::as_str))
        .unwrap_or("unknown");
    let resource = finding.and_then(|f| f["resource"].as_str()).map(str::to_owned);
    let mut commands: Vec<String> = match namespace {
        Some(ns) => vec![format!("kubectl get pods -n {ns}"), format!("kubectl get events -n {ns}")],
        None => vec!["kubectl get nodes".into()],
    };
    commands.extend(extra_command.map(str::to_owned));
    if schema == "diagnosis_next_steps" {
        return json!({"reason": "list what runs in the namespace and its recent events", "commands": commands});
    }
    json!({
        "root_cause": root_cause,
        "resource": resource,
        "confidence": 0.7,
        "summary": format!("{} points at {root_cause}.", alert["alertname"].as_str().unwrap_or("The alert")),
        "evidence": [{"source": "alert", "detail": format!("alertname {}", alert["alertname"].as_str().unwrap_or("?"))}],
        "next_commands": commands,
    })
}
