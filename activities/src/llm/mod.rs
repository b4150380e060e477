//! The LLM path: an OpenAI-compatible chat-completions endpoint through async-openai, asked
//! for structured outputs (`response_format: json_schema`, strict) that are validated with
//! `jsonschema` before use. The rules always run first; the LLM refines them when it is
//! configured, within budget and healthy, and every failure is a typed [`LlmError`] after
//! which the caller keeps the rules' answer ([`assist`]).
//!
//! Around each call, in order: the token budget of the task and of the UTC day
//! ([`budget`], PostgreSQL), the circuit breaker ([`breaker`]), the rate limiter
//! (governor), then the request with a per-attempt timeout, retries with exponential
//! backoff (backon) on timeouts, connection errors, 429 (never sooner than `Retry-After`)
//! and 5xx, all inside one deadline. Token usage is read from the answer's `usage` and
//! recorded even when the content turns out unusable.
//!
//! Commands the LLM proposes are parsed with [`aetherius_core::kubectl::parse`] and checked
//! by the safety layers (1-3 and 5) like any other; rejected ones are returned with their
//! rejection and never run.

pub mod assist;
pub mod breaker;
pub mod budget;
pub mod clock;
pub mod config;
pub mod prompt;
pub mod schema;
#[cfg(feature = "test-server")]
pub mod test_server;
mod transport;

pub use breaker::BreakerState;
pub use budget::{BudgetScope, TokenUsage, UsageStore};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{BreakerOptions, Complexity, LlmOptions, ModelPrice, Prices};
pub use prompt::Context;
pub use schema::{AnalysisAnswer, NextStepsAnswer};

use aetherius_core::{
    Command, Evidence, RootCause,
    kubectl,
    safety::{self, ClusterAccess, Rejection},
};
use async_openai::{
    Client,
    config::OpenAIConfig,
    types::chat::{
        ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
        CreateChatCompletionRequest, CreateChatCompletionResponse, ResponseFormat, ResponseFormatJsonSchema,
    },
};
use backon::{ExponentialBuilder, Retryable};
use breaker::Breaker;
use clock::RateClock;
use governor::{Quota, RateLimiter, clock::Clock as _, middleware::NoOpMiddleware, state::InMemoryState, state::NotKeyed};
use schema::{AnswerError, AnswerSchema};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::{
    num::NonZeroU32,
    sync::Arc,
    time::{Duration, Instant},
};

/// Fewest completion tokens worth asking for: with less budget left, no call is made.
pub const MIN_COMPLETION_TOKENS: u64 = 64;

/// Why the LLM gave no usable answer. The caller falls back to the rules on every one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// `[llm]` cannot be used (a missing API key variable, a bad value).
    #[error("LLM configuration: {0}")]
    Config(String),
    /// An attempt or the whole call ran out of time.
    #[error("LLM timed out after {0:?}")]
    Timeout(Duration),
    /// The server answered 429.
    #[error("LLM rate limited (429){}: {message}", retry_after.map(|d| format!(", retry after {d:?}")).unwrap_or_default())]
    RateLimited {
        /// `Retry-After`, when sent.
        retry_after: Option<Duration>,
        /// The server's message.
        message: String,
    },
    /// The server answered 5xx.
    #[error("LLM server error {status}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// Another non-2xx answer (400, 401, 404, ...): not retried.
    #[error("LLM request refused (HTTP {status}): {message}")]
    Http {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// No connection (refused, DNS, TLS).
    #[error("LLM connection failed: {0}")]
    Connection(String),
    /// A 2xx body that is not a chat completion, or one without content.
    #[error("LLM response malformed: {0}")]
    MalformedResponse(String),
    /// The answer's content is not JSON.
    #[error("LLM answer is not JSON: {error}")]
    InvalidJson {
        /// Parser error.
        error: String,
        /// Tokens it cost.
        usage: TokenUsage,
    },
    /// The answer's JSON does not follow the schema.
    #[error("LLM answer violates the schema: {}", errors.join("; "))]
    SchemaViolation {
        /// Validation errors.
        errors: Vec<String>,
        /// Tokens it cost.
        usage: TokenUsage,
    },
    /// A token budget has too little left for a call.
    #[error("LLM {scope} token budget exhausted: {used} of {limit} used")]
    BudgetExhausted {
        /// Which budget.
        scope: BudgetScope,
        /// Spent so far.
        used: u64,
        /// The budget.
        limit: u64,
    },
    /// This process' rate limit is reached.
    #[error("LLM local rate limit reached; next request in {wait:?}")]
    LocalRateLimit {
        /// Until a request is allowed.
        wait: Duration,
    },
    /// The circuit breaker is open.
    #[error("LLM circuit breaker open; next probe in {retry_in:?}")]
    CircuitOpen {
        /// Until a probe is let through.
        retry_in: Duration,
    },
    /// The usage store (PostgreSQL) failed: no call without accounting.
    #[error("LLM usage store: {0}")]
    Usage(String),
}

impl LlmError {
    /// Stable snake_case name, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            LlmError::Config(_) => "config",
            LlmError::Timeout(_) => "timeout",
            LlmError::RateLimited { .. } => "rate_limited",
            LlmError::Server { .. } => "server_error",
            LlmError::Http { .. } => "http_error",
            LlmError::Connection(_) => "connection",
            LlmError::MalformedResponse(_) => "malformed_response",
            LlmError::InvalidJson { .. } => "invalid_json",
            LlmError::SchemaViolation { .. } => "schema_violation",
            LlmError::BudgetExhausted { .. } => "budget_exhausted",
            LlmError::LocalRateLimit { .. } => "local_rate_limit",
            LlmError::CircuitOpen { .. } => "circuit_open",
            LlmError::Usage(_) => "usage_store",
        }
    }

    /// Worth another attempt (after a backoff).
    pub fn retryable(&self) -> bool {
        matches!(self, LlmError::Timeout(_) | LlmError::RateLimited { .. } | LlmError::Server { .. } | LlmError::Connection(_))
    }

    /// Tokens spent on the failed answer, when one came back.
    pub fn usage(&self) -> Option<TokenUsage> {
        match self {
            LlmError::InvalidJson { usage, .. } | LlmError::SchemaViolation { usage, .. } => Some(*usage),
            _ => None,
        }
    }
}

/// A command the LLM proposed, after the safety layers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Proposal {
    /// Passed layers 1-3 and 5 (layer 4 asks the cluster before the call).
    Accepted {
        /// As proposed.
        line: String,
        /// Parsed.
        command: Command,
    },
    /// Refused: recorded, never run.
    Rejected {
        /// As proposed.
        line: String,
        /// Why.
        rejection: Rejection,
    },
}

impl Proposal {
    /// The accepted command, if any.
    pub fn command(&self) -> Option<&Command> {
        match self {
            Proposal::Accepted { command, .. } => Some(command),
            Proposal::Rejected { .. } => None,
        }
    }
}

/// What one successful call returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Answered<T> {
    /// The validated answer.
    pub answer: T,
    /// Its commands, checked.
    pub proposals: Vec<Proposal>,
    /// Tokens (from the response's `usage`).
    pub usage: TokenUsage,
    /// Model that answered (as the response names it).
    pub model: String,
    /// Wall time of the call, retries included.
    pub latency: Duration,
}

/// Root cause, summary and evidence from the analysis call.
pub type LlmAnalysis = Answered<AnalysisAnswer>;
/// Commands from the next-step call.
pub type LlmNextSteps = Answered<NextStepsAnswer>;

type Limiter = RateLimiter<NotKeyed, InMemoryState, RateClock, NoOpMiddleware<Duration>>;

/// A configured LLM.
pub struct Llm {
    options: LlmOptions,
    client: Client<OpenAIConfig>,
    clock: Arc<dyn Clock>,
    limiter: Limiter,
    breaker: Breaker,
    usage: UsageStore,
    access: ClusterAccess,
}

impl std::fmt::Debug for Llm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Llm").field("base_url", &self.options.base_url).field("model", &self.options.model).finish_non_exhaustive()
    }
}

/// Raw answer of one call, before the content is parsed.
struct RawAnswer {
    content: Result<String, LlmError>,
    usage: TokenUsage,
    model: String,
}

impl Llm {
    /// An LLM on the real clock. `access` is the cluster allowlist (safety layer 5) its
    /// proposed commands are checked against; `usage` keeps the token accounting.
    pub fn new(options: LlmOptions, usage: UsageStore, access: ClusterAccess) -> Result<Llm, LlmError> {
        Llm::with_clock(options, usage, access, Arc::new(SystemClock::default()))
    }

    /// The same, on `clock` (tests move a [`ManualClock`]).
    pub fn with_clock(options: LlmOptions, usage: UsageStore, access: ClusterAccess, clock: Arc<dyn Clock>) -> Result<Llm, LlmError> {
        let mut config = OpenAIConfig::new().with_api_base(options.base_url.trim_end_matches('/'));
        if let Some(var) = options.api_key_env.as_deref().filter(|v| !v.is_empty()) {
            let key = std::env::var(var)
                .map_err(|_| LlmError::Config(format!("llm.api_key_env names {var}, which is not set in the environment")))?;
            config = config.with_api_key(key);
        }
        for (name, v) in [("timeout_secs", options.timeout_secs), ("deadline_secs", options.deadline_secs), ("backoff_initial_secs", options.backoff_initial_secs), ("max_retry_after_secs", options.max_retry_after_secs), ("breaker.cooldown_secs", options.breaker.cooldown_secs)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(LlmError::Config(format!("llm.{name} must be a non-negative number of seconds, not {v}")));
            }
        }
        // reqwest is built without a bundled crypto provider; ring is the one kube uses.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs_f64(options.timeout_secs.min(10.0)))
            .build()
            .map_err(|e| LlmError::Config(format!("HTTP client: {e}")))?;
        let client = Client::with_config(config).with_http_service(transport::Transport::new(http));
        let per_minute = NonZeroU32::new(options.requests_per_minute).ok_or_else(|| LlmError::Config("llm.requests_per_minute must be at least 1".into()))?;
        let burst = NonZeroU32::new(options.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let limiter = RateLimiter::direct_with_clock(Quota::per_minute(per_minute).allow_burst(burst), RateClock(clock.clone()));
        let breaker = Breaker::new(options.breaker.failure_threshold, Duration::from_secs_f64(options.breaker.cooldown_secs), clock.clone());
        Ok(Llm { options, client, clock, limiter, breaker, usage, access })
    }

    /// The configuration.
    pub fn options(&self) -> &LlmOptions {
        &self.options
    }

    /// The circuit breaker's state.
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// The usage store.
    pub fn usage_store(&self) -> &UsageStore {
        &self.usage
    }

    /// Parses and checks one proposed line for `cluster` (layers 1-3 and 5).
    pub fn check_command(&self, line: &str, cluster: &str) -> Proposal {
        let checked = kubectl::parse(line, cluster).and_then(|cmd| safety::check_with_access(&cmd, &self.access).map(|()| cmd));
        match checked {
            Ok(command) => Proposal::Accepted { line: line.to_owned(), command },
            Err(rejection) => {
                tracing::warn!(command = line, layer = rejection.layer.name(), reason = %rejection.reason, "LLM-proposed command rejected");
                Proposal::Rejected { line: line.to_owned(), rejection }
            }
        }
    }

    fn complexity(ctx: &Context<'_>) -> Complexity {
        let mut causes: Vec<RootCause> = ctx.findings.iter().map(|f| f.root_cause).collect();
        causes.sort();
        causes.dedup();
        Complexity {
            severity: Complexity::severity_weight(&ctx.event.severity),
            findings: ctx.findings.len(),
            distinct_causes: causes.len(),
            steps: ctx.results.len(),
        }
    }

    /// The analysis call: root cause (taxonomy id), resource, confidence, summary, evidence
    /// and next commands, for `task` (the workflow id: its budget).
    pub async fn analyze(&self, task: &str, ctx: &Context<'_>) -> Result<LlmAnalysis, LlmError> {
        let user = prompt::user(
            ctx,
            "Diagnose the alert: pick the root cause the context supports (unknown when none), the object to change, \
             evidence quoted from the context, and up to 5 read-only kubectl commands that would confirm it.",
            self.options.max_prompt_bytes,
        );
        let mut answered: LlmAnalysis = self.call(task, &Self::complexity(ctx), &schema::ANALYSIS, user, |a: &AnalysisAnswer| a.next_commands.clone(), &ctx.event.cluster_id).await?;
        let a = &mut answered.answer;
        a.confidence = a.confidence.clamp(0.0, 1.0);
        a.summary = transport::cut(a.summary.trim(), 2000);
        a.evidence.truncate(schema::MAX_EVIDENCE);
        for e in &mut a.evidence {
            *e = Evidence { source: transport::cut(&e.source, 300), detail: transport::cut(&e.detail, 1000) };
        }
        Ok(answered)
    }

    /// The next-step call: read-only commands worth running next.
    pub async fn propose_next(&self, task: &str, ctx: &Context<'_>) -> Result<LlmNextSteps, LlmError> {
        let user = prompt::user(
            ctx,
            "The rules are not confident yet. Propose up to 5 read-only kubectl commands, not already run or pending, \
             that would tell the possible root causes apart.",
            self.options.max_prompt_bytes,
        );
        self.call(task, &Self::complexity(ctx), &schema::NEXT_STEPS, user, |a: &NextStepsAnswer| a.commands.clone(), &ctx.event.cluster_id).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        task: &str,
        complexity: &Complexity,
        schema: &AnswerSchema,
        user: String,
        commands: impl Fn(&T) -> Vec<String>,
        cluster: &str,
    ) -> Result<Answered<T>, LlmError> {
        if !self.options.is_enabled() {
            return Err(LlmError::Config("llm is disabled".into()));
        }
        let started = Instant::now();
        let system = prompt::system(schema.name);
        let prompt_estimate = budget::estimate_tokens(&system) + budget::estimate_tokens(&user);

        // 1. Budgets.
        let day = self.clock.now_utc().date_naive();
        let spent = self.usage.spent(task, day).await.map_err(|e| LlmError::Usage(e.to_string()))?;
        let task_left = self.options.task_token_budget.saturating_sub(spent.task);
        let day_left = self.options.daily_token_budget.saturating_sub(spent.day);
        let (left, scope, used, limit) = if task_left <= day_left {
            (task_left, BudgetScope::Task, spent.task, self.options.task_token_budget)
        } else {
            (day_left, BudgetScope::Day, spent.day, self.options.daily_token_budget)
        };
        if left < prompt_estimate + MIN_COMPLETION_TOKENS {
            return Err(LlmError::BudgetExhausted { scope, used, limit });
        }
        let max_tokens = u64::from(self.options.max_tokens).min(left - prompt_estimate) as u32;

        // 2. Breaker, 3. rate limit.
        let permit = self.breaker.acquire().map_err(|retry_in| LlmError::CircuitOpen { retry_in })?;
        if let Err(not_until) = self.limiter.check() {
            return Err(LlmError::LocalRateLimit { wait: not_until.wait_time_from(RateClock(self.clock.clone()).now()) });
        }

        // 4. The request.
        let model = self.options.model_for(complexity).to_owned();
        // `max_tokens` is deprecated by OpenAI but is what every compatible server reads.
        #[allow(deprecated)]
        let request = CreateChatCompletionRequest {
            model: model.clone(),
            messages: vec![
                ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage::from(system)),
                ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage::from(user)),
            ],
            temperature: Some(self.options.temperature),
            max_tokens: (!self.options.max_completion_tokens_field).then_some(max_tokens),
            max_completion_tokens: self.options.max_completion_tokens_field.then_some(max_tokens),
            response_format: Some(ResponseFormat::JsonSchema {
                json_schema: ResponseFormatJsonSchema {
                    description: Some(schema.description.into()),
                    name: schema.name.into(),
                    schema: schema.schema.clone(),
                    strict: Some(true),
                },
            }),
            ..Default::default()
        };
        let raw = match self.send(request, &model).await {
            Ok(r) => r,
            Err(e) => {
                permit.failure();
                tracing::warn!(error = %e, kind = e.kind(), task, "LLM call failed");
                return Err(e);
            }
        };

        // 5. Accounting, even for unusable content: the tokens are spent.
        if let Err(e) = self.usage.record(task, day, &raw.model, &raw.usage).await {
            tracing::error!(error = %e, task, tokens = raw.usage.total_tokens, "recording LLM token usage failed");
        }

        // 6. The content.
        let parsed = raw.content.and_then(|content| {
            schema.parse::<T>(&content).map_err(|e| match e {
                AnswerError::NotJson(error) => LlmError::InvalidJson { error, usage: raw.usage },
                AnswerError::Schema(errors) => LlmError::SchemaViolation { errors, usage: raw.usage },
            })
        });
        match parsed {
            Ok(answer) => {
                permit.success();
                let proposals = commands(&answer).iter().take(schema::MAX_COMMANDS).map(|l| self.check_command(l, cluster)).collect();
                tracing::info!(task, model = raw.model, tokens = raw.usage.total_tokens, latency_ms = started.elapsed().as_millis() as u64, schema = schema.name, "LLM answered");
                Ok(Answered { answer, proposals, usage: raw.usage, model: raw.model, latency: started.elapsed() })
            }
            Err(e) => {
                permit.failure();
                tracing::warn!(error = %e, kind = e.kind(), task, "LLM answer unusable");
                Err(e)
            }
        }
    }

    /// Sends with retries inside the deadline.
    async fn send(&self, request: CreateChatCompletionRequest, model: &str) -> Result<RawAnswer, LlmError> {
        let deadline = Duration::from_secs_f64(self.options.deadline_secs);
        let per_attempt = Duration::from_secs_f64(self.options.timeout_secs);
        let max_retry_after = Duration::from_secs_f64(self.options.max_retry_after_secs);
        let started = tokio::time::Instant::now();
        let attempt = || async {
            let timeout = per_attempt.min(deadline.saturating_sub(started.elapsed()));
            match tokio::time::timeout(timeout, self.client.chat().create(request.clone())).await {
                Err(_) => Err(LlmError::Timeout(timeout)),
                Ok(result) => result.map_err(|e| transport::classify(e, timeout)),
            }
        };
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_secs_f64(self.options.backoff_initial_secs))
            .with_max_delay(Duration::from_secs(8))
            .with_max_times(self.options.retries)
            .with_jitter();
        let retried = attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(LlmError::retryable)
            .adjust(|error, delay| {
                let delay = delay?;
                let wait = match error {
                    // Never sooner than the server asked; give up when it asks too much.
                    LlmError::RateLimited { retry_after: Some(after), .. } if *after > max_retry_after => return None,
                    LlmError::RateLimited { retry_after: Some(after), .. } => delay.max(*after),
                    _ => delay,
                };
                (started.elapsed() + wait < deadline).then_some(wait)
            })
            .notify(|error, wait| tracing::info!(error = %error, wait_ms = wait.as_millis() as u64, "retrying the LLM call"));
        let response: CreateChatCompletionResponse = match tokio::time::timeout(deadline, retried).await {
            Err(_) => return Err(LlmError::Timeout(deadline)),
            Ok(r) => r?,
        };
        let usage = match &response.usage {
            Some(u) => TokenUsage {
                prompt_tokens: u64::from(u.prompt_tokens),
                completion_tokens: u64::from(u.completion_tokens),
                total_tokens: u64::from(u.total_tokens).max(u64::from(u.prompt_tokens) + u64::from(u.completion_tokens)),
            },
            // No usage reported: count an estimate, so budgets hold anyway.
            None => {
                let prompt: u64 = request_text_len(&request).div_ceil(4);
                let completion = response.choices.first().and_then(|c| c.message.content.as_deref()).map_or(0, budget::estimate_tokens);
                TokenUsage { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }
            }
        };
        // The exact model that answered (OpenAI names the dated version); llama.cpp names
        // the file it loaded, which says less than the configured name.
        let model = if response.model.is_empty() || response.model.starts_with('/') || response.model.ends_with(".gguf") {
            model.to_owned()
        } else {
            response.model.clone()
        };
        let content = match response.choices.into_iter().next() {
            None => Err(LlmError::MalformedResponse("the completion has no choices".into())),
            Some(choice) => match (choice.message.content, choice.message.refusal) {
                (Some(c), _) if !c.trim().is_empty() => Ok(c),
                (_, Some(refusal)) => Err(LlmError::MalformedResponse(format!("the model refused: {}", transport::cut(&refusal, 200)))),
                _ => Err(LlmError::MalformedResponse(format!("empty content (finish_reason {:?})", choice.finish_reason))),
            },
        };
        Ok(RawAnswer { content, usage, model })
    }
}

fn request_text_len(request: &CreateChatCompletionRequest) -> u64 {
    serde_json::to_string(&request.messages).map_or(0, |s| s.len() as u64)
}
