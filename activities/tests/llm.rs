//! The LLM path against the OpenAI-compatible test server (`llm::test_server`): every
//! failure mode gives a typed error and the rules' analysis stands; a good answer is used
//! and its tokens counted; budgets per task and per day (the day in the real PostgreSQL at
//! AETHERIUS_TEST_DATABASE_URL, set by `cargo xtask test`), the circuit breaker and the
//! rate limiter (on a manual clock), and the safety layers over proposed commands.

use aetherius_activities::{
    llm::{
        BreakerState, BudgetScope, Llm, LlmError, LlmOptions, ManualClock, Proposal, UsageStore, assist,
        prompt::Context,
        test_server::{Behaviour, TestServer},
    },
    reasoning::{analyze_alert, decide, strategize_plan},
};
use aetherius_core::{
    AlertStatus, DecideInput, Decision, EventType, Method, RootCause, StandardEvent, StrategizeInput, safety::ClusterAccess,
};
use chrono::{DateTime, TimeZone, Utc};
use std::{collections::BTreeMap, sync::Arc, time::Duration};

const CLUSTER: &str = "test";

fn event(alertname: &str) -> StandardEvent {
    StandardEvent {
        id: format!("test/{}", uuid::Uuid::new_v4()),
        event_type: EventType::Alert,
        source: "test".into(),
        timestamp: Utc::now(),
        cluster_id: CLUSTER.into(),
        namespace: Some("shop".into()),
        severity: "warning".into(),
        labels: BTreeMap::from([
            ("alertname".into(), alertname.into()),
            ("namespace".into(), "shop".into()),
            ("pod".into(), "checkout-1".into()),
        ]),
        annotations: BTreeMap::from([("description".into(), "Pod shop/checkout-1 is restarting 3 times / 10 minutes.".into())]),
        fingerprint: "f".into(),
        status: AlertStatus::Firing,
    }
}

fn options(base_url: &str) -> LlmOptions {
    LlmOptions {
        base_url: base_url.into(),
        model: "test-small".into(),
        complex_model: Some("test-large".into()),
        timeout_secs: 0.5,
        deadline_secs: 5.0,
        retries: 0,
        backoff_initial_secs: 0.05,
        requests_per_minute: 6000,
        burst: 100,
        breaker: aetherius_activities::llm::BreakerOptions { failure_threshold: 100, cooldown_secs: 30.0 },
        ..Default::default()
    }
}

fn access() -> ClusterAccess {
    ClusterAccess::default().with(CLUSTER, &["shop"])
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap()
}

fn llm(options: LlmOptions, store: UsageStore) -> (Llm, Arc<ManualClock>) {
    let clock = ManualClock::new(start());
    (Llm::with_clock(options, store, access(), clock.clone()).unwrap(), clock)
}

fn task() -> String {
    format!("task-{}", uuid::Uuid::new_v4())
}

async fn ask(llm: &Llm, task: &str, event: &StandardEvent) -> Result<aetherius_activities::llm::LlmAnalysis, LlmError> {
    let rules = analyze_alert(event);
    let ctx = Context { event, hypotheses: &rules.possible_causes, findings: &[], results: &[], pending: &[] };
    llm.analyze(task, &ctx).await
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_good_answer_is_used_with_its_tokens_and_model() {
    let server = TestServer::local(Behaviour::Good).await.unwrap();
    server.set_usage(300, 50);
    let (llm, _) = llm(options(&server.base_url()), UsageStore::memory());
    let e = event("KubePodCrashLooping");
    let rules = analyze_alert(&e);
    let t = task();
    let analysis = assist::analyze(&llm, &t, &e, rules.clone()).await;
    assert_eq!(analysis.method, Method::AiGenerated);
    assert_eq!(analysis.tokens_used, 350);
    assert_eq!(analysis.model.as_deref(), Some("test-small"));
    assert_eq!(analysis.possible_causes[0], rules.possible_causes[0], "the test server picks the first hypothesis");
    assert!(analysis.suggested_steps.contains(&"kubectl get pods -n shop".to_owned()), "{:?}", analysis.suggested_steps);
    assert!(analysis.summary.contains("Evidence:"), "{}", analysis.summary);
    assert_eq!(llm.usage_store().spent(&t, start().date_naive()).await.unwrap().task, 350);

    // The request as sent on the wire.
    let body = &server.requests()[0].body;
    assert_eq!(body["model"], "test-small");
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["response_format"]["json_schema"]["name"], "diagnosis_analysis");
    assert_eq!(body["response_format"]["json_schema"]["strict"], true);
    let ids = body["response_format"]["json_schema"]["schema"]["properties"]["root_cause"]["enum"].as_array().unwrap();
    assert_eq!(ids.len(), RootCause::ALL.len());
    assert!((body["temperature"].as_f64().unwrap() - 0.1).abs() < 1e-6);
    assert_eq!(body["max_tokens"], 4000);
    assert_eq!(body["messages"][0]["role"], "system");
    let context: serde_json::Value = serde_json::from_str(body["messages"][1]["content"].as_str().unwrap()).unwrap();
    assert_eq!(context["alert"]["alertname"], "KubePodCrashLooping");

    // strategize adds the accepted commands of the AI-generated analysis to the rules' plan.
    let input = StrategizeInput { event: e.clone(), analysis };
    let plan = assist::extend_plan(&llm, &input, strategize_plan(&input));
    let lines: Vec<String> = plan.steps.iter().map(|s| s.command.to_string()).collect();
    assert!(lines.contains(&"kubectl get pods -n shop".to_owned()), "{lines:?}");
    assert_eq!(plan.method, Method::AiGenerated);
}

#[tokio::test]
async fn an_unsupported_root_cause_keeps_the_rules_analysis() {
    let server = TestServer::local(Behaviour::Answer {
        content: serde_json::json!({
            "root_cause": "dns-failure", "resource": null, "confidence": 0.99, "summary": "DNS", "evidence": [], "next_commands": []
        }),
    })
    .await
    .unwrap();
    let (llm, _) = llm(options(&server.base_url()), UsageStore::memory());
    let e = event("KubePodCrashLooping");
    let rules = analyze_alert(&e);
    let analysis = assist::analyze(&llm, &task(), &e, rules.clone()).await;
    assert_eq!(analysis.method, Method::RuleBased);
    assert_eq!((analysis.summary, analysis.possible_causes, analysis.confidence), (rules.summary, rules.possible_causes, rules.confidence));
    assert!(analysis.tokens_used > 0, "the tokens spent are still reported");
}

/// One failure mode: the typed error, and the rules' analysis unchanged.
async fn fails_over(behaviour: Behaviour, tune: impl Fn(&mut LlmOptions), expect: impl Fn(&LlmError) -> bool) -> TestServer {
    let server = TestServer::local(behaviour.clone()).await.unwrap();
    let mut o = options(&server.base_url());
    tune(&mut o);
    let (llm, _) = llm(o, UsageStore::memory());
    let e = event("KubePodCrashLooping");
    let err = ask(&llm, &task(), &e).await.expect_err("a failure");
    assert!(expect(&err), "{behaviour:?} gave {err:?}");
    let rules = analyze_alert(&e);
    assert_eq!(assist::analyze(&llm, &task(), &e, rules.clone()).await, rules, "{behaviour:?}: the rules' analysis stands");
    server
}

#[tokio::test]
async fn a_slow_server_times_out() {
    fails_over(Behaviour::Delay { ms: 5_000 }, |o| o.timeout_secs = 0.3, |e| matches!(e, LlmError::Timeout(d) if *d <= Duration::from_millis(300))).await;
}

#[tokio::test]
async fn a_429_asking_for_too_long_a_wait_ends_the_call_at_once() {
    let server = fails_over(
        Behaviour::RateLimited { retry_after_secs: 60 },
        |o| o.retries = 3,
        |e| matches!(e, LlmError::RateLimited { retry_after: Some(d), message } if *d == Duration::from_secs(60) && message.contains("Rate limit reached")),
    )
    .await;
    assert_eq!(server.request_count(), 2, "one request per call: no retry sooner than Retry-After");
}

#[tokio::test]
async fn a_500_is_a_server_error() {
    fails_over(Behaviour::ServerError, |_| {}, |e| matches!(e, LlmError::Server { status: 500, message } if message.contains("server_error"))).await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_malformed() {
    fails_over(Behaviour::NotJsonBody, |_| {}, |e| matches!(e, LlmError::MalformedResponse(m) if m.contains("Bad Gateway"))).await;
}

#[tokio::test]
async fn content_that_is_not_json_is_invalid_and_still_counted() {
    fails_over(Behaviour::ContentNotJson, |_| {}, |e| matches!(e, LlmError::InvalidJson { usage, .. } if usage.total_tokens > 0)).await;
}

#[tokio::test]
async fn content_that_violates_the_schema_is_refused() {
    fails_over(Behaviour::SchemaViolation, |_| {}, |e| matches!(e, LlmError::SchemaViolation { errors, .. } if !errors.is_empty())).await;
}

#[tokio::test]
async fn a_refused_connection_is_a_connection_error() {
    let e = event("KubePodCrashLooping");
    let (llm, _) = llm(options(&format!("http://127.0.0.1:{}/v1", closed_port())), UsageStore::memory());
    let err = ask(&llm, &task(), &e).await.unwrap_err();
    assert!(matches!(err, LlmError::Connection(_)), "{err:?}");
    let rules = analyze_alert(&e);
    assert_eq!(assist::analyze(&llm, &task(), &e, rules.clone()).await, rules);
}

#[tokio::test]
async fn retries_honour_retry_after_and_back_off_on_5xx() {
    let server = TestServer::local(Behaviour::Good).await.unwrap();
    server.push([Behaviour::RateLimited { retry_after_secs: 1 }, Behaviour::ServerError]);
    let mut o = options(&server.base_url());
    o.retries = 2;
    let (llm, _) = llm(o, UsageStore::memory());
    let answered = ask(&llm, &task(), &event("KubePodCrashLooping")).await.unwrap();
    assert_eq!(answered.answer.root_cause, RootCause::CrashloopAppError);
    let r = server.requests();
    assert_eq!(r.len(), 3);
    assert!(r[1].at.duration_since(r[0].at) >= Duration::from_secs(1), "the retry waited for Retry-After");
}

#[tokio::test]
async fn the_retries_run_out_with_the_last_error() {
    let server = TestServer::local(Behaviour::ServerError).await.unwrap();
    let mut o = options(&server.base_url());
    o.retries = 2;
    let (llm, _) = llm(o, UsageStore::memory());
    assert!(matches!(ask(&llm, &task(), &event("KubePodCrashLooping")).await, Err(LlmError::Server { status: 500, .. })));
    assert_eq!(server.request_count(), 3);
}

#[tokio::test]
async fn a_proposed_mutating_command_is_rejected_recorded_and_never_planned() {
    let server = TestServer::local(Behaviour::Mutating).await.unwrap();
    let (llm, _) = llm(options(&server.base_url()), UsageStore::memory());
    let e = event("KubePodCrashLooping");
    let answered = ask(&llm, &task(), &e).await.unwrap();
    let rejected: Vec<_> = answered.proposals.iter().filter(|p| matches!(p, Proposal::Rejected { .. })).collect();
    match rejected.as_slice() {
        [Proposal::Rejected { line, rejection }] => {
            assert_eq!(line, "kubectl delete pod x");
            assert!(rejection.layer.number() <= 2, "{rejection}");
        }
        other => panic!("expected the delete to be rejected: {other:?}"),
    }
    assert_eq!(answered.proposals.iter().filter_map(Proposal::command).count(), 2);

    let analysis = assist::analyze(&llm, &task(), &e, analyze_alert(&e)).await;
    assert!(analysis.suggested_steps.iter().any(|s| s.starts_with("not run, rejected by layer") && s.ends_with("kubectl delete pod x")), "{:?}", analysis.suggested_steps);
    let input = StrategizeInput { event: e.clone(), analysis };
    let plan = assist::extend_plan(&llm, &input, strategize_plan(&input));
    assert!(plan.steps.iter().all(|s| s.command.action != "delete"), "{:?}", plan.steps);

    // decide_next: the rules have nothing to read and no finding; the LLM's reads are added,
    // its delete is named as rejected, and never becomes a step.
    let input = DecideInput { event: e.clone(), analysis: analyze_alert(&e), results: vec![], observations: vec![], pending: vec![], steps_left: 5 };
    let rules = decide(&input);
    assert!(matches!(rules, Decision::Conclude { .. }), "{rules:?}");
    match assist::decide(&llm, &task(), &input, rules).await {
        Decision::Continue { add_steps, reason } => {
            assert!(!add_steps.is_empty() && add_steps.iter().all(|s| s.command.action == "get"), "{add_steps:?}");
            assert!(reason.contains("kubectl delete pod x"), "{reason}");
        }
        other => panic!("expected the LLM's reads: {other:?}"),
    }
}

#[tokio::test]
async fn a_command_outside_the_namespace_allowlist_is_rejected_by_layer_5() {
    let server = TestServer::local(Behaviour::Good).await.unwrap();
    let (llm, _) = llm(options(&server.base_url()), UsageStore::memory());
    match llm.check_command("kubectl get pods -n kube-system", CLUSTER) {
        Proposal::Rejected { rejection, .. } => assert_eq!(rejection.layer.number(), 5),
        other => panic!("{other:?}"),
    }
    assert!(llm.check_command("kubectl logs pod/checkout-1 -n shop --tail=100", CLUSTER).command().is_some());
}

#[tokio::test]
async fn the_breaker_opens_after_n_failures_and_half_opens_after_the_cooldown() {
    let server = TestServer::local(Behaviour::ServerError).await.unwrap();
    let mut o = options(&server.base_url());
    o.breaker.failure_threshold = 3;
    let (llm, clock) = llm(o, UsageStore::memory());
    let e = event("KubePodCrashLooping");
    for _ in 0..3 {
        assert!(matches!(ask(&llm, &task(), &e).await, Err(LlmError::Server { .. })));
    }
    assert!(matches!(llm.breaker_state(), BreakerState::Open { .. }));
    let err = ask(&llm, &task(), &e).await.unwrap_err();
    assert!(matches!(err, LlmError::CircuitOpen { retry_in } if retry_in == Duration::from_secs(30)), "{err:?}");
    assert_eq!(server.request_count(), 3, "an open breaker sends nothing");
    let rules = analyze_alert(&e);
    assert_eq!(assist::analyze(&llm, &task(), &e, rules.clone()).await, rules);

    // After the cooldown one probe goes; it fails: open again, for a full cooldown.
    clock.advance(Duration::from_secs(30));
    assert_eq!(llm.breaker_state(), BreakerState::HalfOpen { probing: false });
    assert!(matches!(ask(&llm, &task(), &e).await, Err(LlmError::Server { .. })));
    assert_eq!(server.request_count(), 4);
    assert!(matches!(ask(&llm, &task(), &e).await, Err(LlmError::CircuitOpen { .. })));

    // The next probe succeeds: closed.
    clock.advance(Duration::from_secs(30));
    server.set_default(Behaviour::Good);
    assert!(ask(&llm, &task(), &e).await.is_ok());
    assert_eq!(llm.breaker_state(), BreakerState::Closed { failures: 0 });
}

#[tokio::test]
async fn the_rate_limiter_refuses_beyond_the_rate_until_time_passes() {
    let server = TestServer::local(Behaviour::Good).await.unwrap();
    let mut o = options(&server.base_url());
    o.requests_per_minute = 2;
    o.burst = 2;
    let (llm, clock) = llm(o, UsageStore::memory());
    let e = event("KubePodCrashLooping");
    assert!(ask(&llm, &task(), &e).await.is_ok());
    assert!(ask(&llm, &task(), &e).await.is_ok());
    let err = ask(&llm, &task(), &e).await.unwrap_err();
    assert!(matches!(err, LlmError::LocalRateLimit { wait } if wait == Duration::from_secs(30)), "{err:?}");
    assert_eq!(server.request_count(), 2);
    let rules = analyze_alert(&e);
    assert_eq!(assist::analyze(&llm, &task(), &e, rules.clone()).await, rules);
    clock.advance(Duration::from_secs(30));
    assert!(ask(&llm, &task(), &e).await.is_ok());
    assert_eq!(server.request_count(), 3);
}

#[tokio::test]
async fn the_complex_model_answers_complex_tasks() {
    let server = TestServer::local(Behaviour::Good).await.unwrap();
    let (llm, _) = llm(options(&server.base_url()), UsageStore::memory());
    let mut e = event("KubePodCrashLooping");
    e.severity = "critical".into();
    let findings = vec![
        finding(RootCause::OomKilled),
        finding(RootCause::CrashloopAppError),
        finding(RootCause::LivenessProbeFailing),
    ];
    let ctx = Context { event: &e, hypotheses: &[], findings: &findings, results: &[], pending: &[] };
    let a = llm.analyze(&task(), &ctx).await.unwrap();
    assert_eq!(a.model, "test-large");
    assert_eq!(a.answer.root_cause, RootCause::OomKilled, "the first finding, from the context sent");
}

fn finding(root_cause: RootCause) -> aetherius_activities::reasoning::analyzers::Finding {
    aetherius_activities::reasoning::analyzers::Finding {
        root_cause,
        resource: Some("shop/Pod/checkout-1".into()),
        tier: aetherius_activities::reasoning::analyzers::Tier::Weak,
        confidence: 0.5,
        summary: root_cause.meaning().into(),
        evidence: vec![],
        recommendations: vec![],
    }
}

#[tokio::test]
async fn the_api_key_comes_from_the_named_environment_variable() {
    let server = TestServer::local(Behaviour::Good).await.unwrap();
    let mut o = options(&server.base_url());
    o.api_key_env = Some("AETHERIUS_TEST_SURELY_UNSET_LLM_KEY".into());
    let err = Llm::new(o.clone(), UsageStore::memory(), access()).unwrap_err();
    assert!(matches!(&err, LlmError::Config(m) if m.contains("AETHERIUS_TEST_SURELY_UNSET_LLM_KEY")), "{err:?}");
    // Any variable that is set will do to see it sent as the bearer token.
    let (var, value) = std::env::vars().find(|(k, v)| k == "PATH" && !v.is_empty()).expect("PATH is set");
    o.api_key_env = Some(var);
    let (llm, _) = llm(o, UsageStore::memory());
    ask(&llm, &task(), &event("KubePodCrashLooping")).await.unwrap();
    assert_eq!(server.requests()[0].authorization.as_deref(), Some(format!("Bearer {value}").as_str()));
}

// --- Budgets, on the real PostgreSQL -------------------------------------------------------

async fn database() -> sqlx::PgPool {
    let url = std::env::var("AETHERIUS_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!("AETHERIUS_TEST_DATABASE_URL is not set: the LLM budget tests need the real PostgreSQL; run them with `cargo xtask test`")
    });
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&url).await.expect("connecting to AETHERIUS_TEST_DATABASE_URL");
    aetherius_activities::MIGRATOR.run(&pool).await.expect("migrations");
    pool
}

/// A day of its own (far in the future) so parallel runs never share a daily total.
fn own_day() -> DateTime<Utc> {
    let n = (uuid::Uuid::new_v4().as_u128() % 300_000) as i64;
    Utc.with_ymd_and_hms(2200, 1, 1, 12, 0, 0).unwrap() + chrono::Duration::days(n)
}

async fn cleanup(pool: &sqlx::PgPool, day: DateTime<Utc>, prefix: &str) {
    sqlx::query("DELETE FROM llm_usage_daily WHERE day >= $1 AND day <= $2")
        .bind(day.date_naive())
        .bind((day + chrono::Duration::days(1)).date_naive())
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM llm_usage_task WHERE task_id LIKE $1").bind(format!("{prefix}%")).execute(pool).await.unwrap();
}

#[tokio::test]
async fn the_task_budget_stops_a_diagnosis_not_the_others() {
    let pool = database().await;
    let server = TestServer::local(Behaviour::Good).await.unwrap();
    server.set_usage(1500, 500);
    let mut o = options(&server.base_url());
    o.task_token_budget = 2500;
    let day = own_day();
    let clock = ManualClock::new(day);
    let llm = Llm::with_clock(o, UsageStore::Postgres(pool.clone()), access(), clock).unwrap();
    let prefix = format!("budget-task-{}", uuid::Uuid::new_v4());
    let (a, b) = (format!("{prefix}-a"), format!("{prefix}-b"));
    let e = event("KubePodCrashLooping");

    assert!(ask(&llm, &a, &e).await.is_ok());
    let sent = server.requests()[0].body["max_tokens"].as_u64().unwrap();
    assert!(sent < 2500, "max_tokens lowered to what the task budget leaves: {sent}");
    let err = ask(&llm, &a, &e).await.unwrap_err();
    assert_eq!(err, LlmError::BudgetExhausted { scope: BudgetScope::Task, used: 2000, limit: 2500 });
    assert_eq!(server.request_count(), 1, "an exhausted budget sends nothing");
    let rules = analyze_alert(&e);
    assert_eq!(assist::analyze(&llm, &a, &e, rules.clone()).await, rules);
    assert!(ask(&llm, &b, &e).await.is_ok(), "another diagnosis has its own budget");

    let (task_total, requests): (i64, i64) =
        sqlx::query_as("SELECT total_tokens, requests FROM llm_usage_task WHERE task_id = $1").bind(&a).fetch_one(&pool).await.unwrap();
    assert_eq!((task_total, requests), (2000, 1));
    cleanup(&pool, day, &prefix).await;
}

#[tokio::test]
async fn the_daily_budget_is_shared_kept_across_restarts_and_renewed_the_next_day() {
    let pool = database().await;
    let server = TestServer::local(Behaviour::Good).await.unwrap();
    server.set_usage(1500, 500);
    let mut o = options(&server.base_url());
    o.daily_token_budget = 5000;
    let day = own_day();
    let prefix = format!("budget-day-{}", uuid::Uuid::new_v4());
    let e = event("KubePodCrashLooping");

    let clock = ManualClock::new(day);
    let first = Llm::with_clock(o.clone(), UsageStore::Postgres(pool.clone()), access(), clock.clone()).unwrap();
    assert!(ask(&first, &format!("{prefix}-1"), &e).await.is_ok());
    assert!(ask(&first, &format!("{prefix}-2"), &e).await.is_ok());
    let err = ask(&first, &format!("{prefix}-3"), &e).await.unwrap_err();
    assert_eq!(err, LlmError::BudgetExhausted { scope: BudgetScope::Day, used: 4000, limit: 5000 });

    // A restarted (or another) replica: a new pool, a new Llm, the same day.
    drop(first);
    let pool2 = database().await;
    let second = Llm::with_clock(o.clone(), UsageStore::Postgres(pool2), access(), clock.clone()).unwrap();
    let err = ask(&second, &format!("{prefix}-4"), &e).await.unwrap_err();
    assert!(matches!(err, LlmError::BudgetExhausted { scope: BudgetScope::Day, .. }), "{err:?}");
    let rules = analyze_alert(&e);
    assert_eq!(assist::analyze(&second, &format!("{prefix}-5"), &e, rules.clone()).await, rules);
    assert_eq!(server.request_count(), 2);

    let day_total: i64 = sqlx::query_scalar("SELECT SUM(total_tokens)::BIGINT FROM llm_usage_daily WHERE day = $1")
        .bind(day.date_naive())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(day_total, 4000);

    // The next UTC day starts afresh.
    clock.advance(Duration::from_secs(24 * 3600));
    assert!(ask(&second, &format!("{prefix}-6"), &e).await.is_ok());
    cleanup(&pool, day, &prefix).await;
}

#[tokio::test]
async fn the_next_step_proposal_uses_its_own_schema_and_the_same_validator() {
    let server = TestServer::local(Behaviour::Mutating).await.unwrap();
    let (llm, _) = llm(options(&server.base_url()), UsageStore::memory());
    let e = event("KubePodCrashLooping");
    let rules = analyze_alert(&e);
    let ctx = Context { event: &e, hypotheses: &rules.possible_causes, findings: &[], results: &[], pending: &[] };
    let next = llm.propose_next(&task(), &ctx).await.unwrap();
    assert_eq!(server.requests()[0].body["response_format"]["json_schema"]["name"], "diagnosis_next_steps");
    assert!(!next.answer.reason.is_empty());
    let verdicts: Vec<(String, bool)> = next
        .proposals
        .iter()
        .map(|p| match p {
            Proposal::Accepted { line, .. } => (line.clone(), true),
            Proposal::Rejected { line, .. } => (line.clone(), false),
        })
        .collect();
    assert_eq!(
        verdicts,
        vec![
            ("kubectl get pods -n shop".to_owned(), true),
            ("kubectl get events -n shop".to_owned(), true),
            ("kubectl delete pod x".to_owned(), false)
        ]
    );

    // A schema-violating proposal is an error like any other.
    server.push([Behaviour::Answer { content: serde_json::json!({"commands": "kubectl get pods"}) }]);
    assert!(matches!(llm.propose_next(&task(), &ctx).await, Err(LlmError::SchemaViolation { .. })));
}

/// A whole diagnosis (analyze → strategize → execute/decide) over a fixture cluster with the
/// test server as the LLM: its reads run through the execution activity like the rules'
/// own, and the conclusion is still the scenario's root cause.
#[tokio::test]
async fn a_diagnosis_with_the_llm_completes_over_a_fixture_cluster() {
    use aetherius_activities::execution::{ClusterOptions, ExecutionActivities, ExecutionOptions};
    use aetherius_scenario::{Scenario, server};
    use std::collections::VecDeque;

    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/crashloop-missing-env");
    let scenario = Scenario::load(&dir).unwrap();
    let cluster_id = scenario.cluster_id();
    let (addr, _fixture) = server::serve(scenario.cluster.clone(), std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = tmp.path().join("kubeconfig");
    std::fs::write(&kubeconfig, server::kubeconfig(&cluster_id, addr)).unwrap();
    let mut exec_options = ExecutionOptions::default();
    exec_options.clusters.insert(cluster_id.clone(), ClusterOptions { kubeconfig: Some(kubeconfig), ..Default::default() });
    let execution = ExecutionActivities::new(exec_options);

    let llm_server = TestServer::local(Behaviour::Mutating).await.unwrap();
    let llm = Llm::with_clock(options(&llm_server.base_url()), UsageStore::memory(), ClusterAccess::default().with(&cluster_id, &[]), ManualClock::new(start())).unwrap();
    let t = task();

    let event = StandardEvent::from_alertmanager(&scenario.alert, "default");
    let analysis = assist::analyze(&llm, &t, &event, analyze_alert(&event)).await;
    assert_eq!(analysis.method, Method::AiGenerated);
    let input = StrategizeInput { event: event.clone(), analysis: analysis.clone() };
    let rule_steps = strategize_plan(&input).steps.len();
    let strategy = assist::extend_plan(&llm, &input, strategize_plan(&input));
    let planned: Vec<String> = strategy.steps.iter().map(|s| s.command.to_string()).collect();
    assert!(strategy.steps.len() > rule_steps, "the LLM's reads are queued after the rules' first steps: {planned:?}");
    assert!(strategy.steps[rule_steps..].iter().all(|s| s.purpose == "Proposed by test-small" && s.command.action == "get"), "{planned:?}");
    let mut pending: VecDeque<_> = strategy.steps.into();
    let mut results = vec![];
    let max_steps = aetherius_core::DEFAULT_MAX_STEPS;
    let diagnosis = loop {
        if let Some(step) = pending.pop_front().filter(|_| results.len() < max_steps as usize) {
            results.push(execution.run(step.command).await.unwrap());
        }
        let input = DecideInput {
            event: event.clone(),
            analysis: analysis.clone(),
            results: vec![],
            observations: results.iter().map(aetherius_core::Observed::from).collect(),
            pending: pending.iter().cloned().collect(),
            steps_left: max_steps - results.len() as u32,
        };
        match assist::decide(&llm, &t, &input, decide(&input)).await {
            Decision::Conclude { diagnosis } => break diagnosis,
            Decision::Continue { add_steps, .. } => add_steps.into_iter().rev().for_each(|s| pending.push_front(s)),
        }
    };
    assert_eq!(diagnosis.root_cause.as_str(), scenario.expect.as_ref().expect("the scenario has an expectation").root_cause);
    // A conclusive rule finding ends the diagnosis before the LLM's reads come up: fine.
    assert!(results.iter().all(|r| r.command.action != "delete"));
    assert!(llm.usage_store().spent(&t, start().date_naive()).await.unwrap().task > 0);
}
