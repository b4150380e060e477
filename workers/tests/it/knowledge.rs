//! The knowledge base against the real PostgreSQL + pgvector and the real MiniLM model.
//! Each test works in a schema of its own (`kbtest_<uuid>`), dropped at the end, so tests
//! running at the same time, and the real `knowledge_entries`, never see each other.

use crate::support::{api, call, config};
use aetherius_activities::knowledge::{
    self, EntryInput, FeedbackInput, KnowledgeBase, KnowledgeOptions, ListFilter, MiniLm, SearchQuery, feedback::Stats, runbooks,
};
use serde_json::{Value, json};
use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{Arc, OnceLock},
};

fn database_url() -> String {
    std::env::var("AETHERIUS_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!("AETHERIUS_TEST_DATABASE_URL is not set: these tests need the real PostgreSQL with pgvector; run them with `cargo xtask test`")
    })
}

/// One model for the whole test binary; it loads on first use.
fn model() -> Arc<MiniLm> {
    static MODEL: OnceLock<Arc<MiniLm>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            Arc::new(MiniLm::from_config(None).expect("all-MiniLM-L6-v2 from the dev stack's venv (`cargo xtask setup`)"))
        })
        .clone()
}

fn runbooks_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../knowledge/runbooks")
}

/// A knowledge base in a fresh schema; drop it with [`drop_schema`].
async fn isolated() -> (Arc<KnowledgeBase>, String) {
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(4).connect(&database_url()).await.expect("PostgreSQL");
    aetherius_activities::MIGRATOR.run(&pool).await.expect("migrations");
    let schema = format!("kbtest_{}", uuid::Uuid::new_v4().simple());
    let kb = KnowledgeBase::in_schema(pool, model(), KnowledgeOptions::default(), &schema).await.expect("isolated tables");
    (Arc::new(kb), schema)
}

async fn drop_schema(kb: &KnowledgeBase, schema: &str) {
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(kb.pool()).await.unwrap();
}

async fn load_starter_set(kb: &KnowledgeBase) -> usize {
    let entries = runbooks::load_dir(&runbooks_dir()).expect("runbooks parse");
    let n = entries.len();
    let report = kb.upsert(entries).await.expect("upsert");
    assert_eq!((report.inserted, report.updated, report.unchanged), (n, 0, 0));
    n
}

async fn top_slugs(kb: &KnowledgeBase, query: &str) -> Vec<(String, f64)> {
    let q = SearchQuery { query: query.into(), top_k: Some(5), threshold: Some(0.0), ..Default::default() };
    kb.search(&q).await.unwrap().into_iter().map(|m| (m.entry.slug.unwrap_or_default(), m.score)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarting_pod_finds_the_crash_loop_runbook_first_among_the_starter_set() {
    let (kb, schema) = isolated().await;
    let n = load_starter_set(&kb).await;
    assert!(n >= 25, "only {n} runbooks");

    let hits = top_slugs(&kb, "pod keeps restarting after start").await;
    assert_eq!(hits[0].0, "runbook/KubePodCrashLooping", "{hits:?}");
    assert!(hits.windows(2).all(|w| w[0].1 >= w[1].1), "not best first: {hits:?}");
    let hits = top_slugs(&kb, "the disk of a persistent volume claim is almost full").await;
    assert_eq!(hits[0].0, "runbook/KubePersistentVolumeFillingUp", "{hits:?}");
    let hits = top_slugs(&kb, "image pull back-off, the container never starts").await;
    assert_eq!(hits[0].0, "runbook/KubeContainerWaiting", "{hits:?}");

    // The default threshold (0.7) keeps only close matches; unrelated text finds nothing.
    let q = SearchQuery { query: "recipe for a chocolate cake with cherries".into(), ..Default::default() };
    assert_eq!(kb.search(&q).await.unwrap(), vec![]);
    // Category and tag filters restrict the candidates.
    let q = SearchQuery { query: "node is down".into(), threshold: Some(0.0), category: Some("storage".into()), ..Default::default() };
    let hits = kb.search(&q).await.unwrap();
    assert!(!hits.is_empty() && hits.iter().all(|m| m.entry.category == "storage"), "{hits:?}");
    drop_schema(&kb, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loading_the_runbooks_again_changes_nothing_and_keeps_feedback() {
    let (kb, schema) = isolated().await;
    let n = load_starter_set(&kb).await;
    let crash = kb.get_by_slug("runbook/KubePodCrashLooping").await.unwrap().expect("loaded");
    kb.feedback(FeedbackInput { entry_ids: vec![crash.id], success: true, ..Default::default() }).await.unwrap();

    let again = kb.upsert(runbooks::load_dir(&runbooks_dir()).unwrap()).await.unwrap();
    assert_eq!((again.inserted, again.updated, again.unchanged), (0, 0, n));

    let mut edited = runbooks::load_dir(&runbooks_dir()).unwrap();
    let one = edited.iter_mut().find(|e| e.slug.as_deref() == Some("runbook/KubePodCrashLooping")).unwrap();
    one.content.push_str("\n\nAlso check the init containers.");
    let report = kb.upsert(edited).await.unwrap();
    assert_eq!((report.inserted, report.updated, report.unchanged), (0, 1, n - 1));
    let after = kb.get(crash.id).await.unwrap();
    assert!(after.content.ends_with("Also check the init containers."));
    assert_eq!(after.usage_count, 1, "feedback survived the reload");
    assert_eq!(kb.list(&ListFilter::default()).await.unwrap().total, n as i64);
    drop_schema(&kb, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_matches_its_own_runbook_and_others_by_meaning() {
    let (kb, schema) = isolated().await;
    load_starter_set(&kb).await;

    let labels = BTreeMap::from([
        ("alertname".to_owned(), "KubePodCrashLooping".to_owned()),
        ("namespace".to_owned(), "shop".to_owned()),
        ("pod".to_owned(), "checkout-7d9f8-x2x".to_owned()),
        ("reason".to_owned(), "CrashLoopBackOff".to_owned()),
    ]);
    let annotations = BTreeMap::from([(
        "description".to_owned(),
        "Pod shop/checkout-7d9f8-x2x (checkout) is in waiting state (reason: \"CrashLoopBackOff\").".to_owned(),
    )]);
    let matches = kb.match_alert_parts("KubePodCrashLooping", &labels, &annotations).await.unwrap();
    let best = &matches[0];
    assert_eq!(best.entry.slug.as_deref(), Some("runbook/KubePodCrashLooping"));
    assert!(best.same_alertname && best.is_knowledge_based(), "{best:?}");

    // An alert name nobody wrote a runbook for: only meaning can match, and an honest score
    // decides whether the analysis may rest on it.
    let labels = BTreeMap::from([("alertname".to_owned(), "CheckoutPodsRestarting".to_owned())]);
    let annotations = BTreeMap::from([("summary".to_owned(), "Pods of checkout keep crashing and restarting".to_owned())]);
    let matches = kb.match_alert_parts("CheckoutPodsRestarting", &labels, &annotations).await.unwrap();
    assert!(matches.iter().all(|m| !m.same_alertname && m.score >= 0.7), "{matches:?}");
    if let Some(best) = matches.first() {
        assert_eq!(best.entry.slug.as_deref(), Some("runbook/KubePodCrashLooping"), "{matches:?}");
        assert_eq!(best.is_knowledge_based(), best.score >= knowledge::KNOWLEDGE_BASED_MIN_SCORE);
    }
    drop_schema(&kb, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_round_trip_and_feedback_moves_the_numbers_by_the_formula() {
    let (kb, schema) = isolated().await;
    let added = kb
        .add(EntryInput {
            title: "Checkout fails when the payment sidecar is missing".into(),
            content: "The checkout pod crashes at start when the payment-proxy sidecar is not injected.".into(),
            category: Some("lesson".into()),
            tags: vec!["Checkout".into(), "sidecar".into()],
            confidence: Some(0.6),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((added.confidence, added.usage_count, added.success_rate), (0.6, 0, 0.0));
    assert_eq!(added.tags, vec!["checkout", "sidecar"]);
    assert_eq!(kb.get(added.id).await.unwrap(), added);

    let page = kb.list(&ListFilter { category: Some("lesson".into()), tags: vec!["sidecar".into()], ..Default::default() }).await.unwrap();
    assert_eq!((page.total, page.entries.len()), (1, 1));
    assert_eq!(kb.list(&ListFilter { tags: vec!["nope".into()], ..Default::default() }).await.unwrap().total, 0);

    // Two diagnoses it helped, one it did not; the same diagnosis again counts once.
    for (workflow, success) in [("wf-1", true), ("wf-2", false), ("wf-3", true)] {
        let out = kb
            .feedback(FeedbackInput { entry_ids: vec![added.id], success, workflow_id: Some(workflow.into()), comment: None })
            .await
            .unwrap();
        assert_eq!(out.updated.len(), 1);
    }
    let repeat = kb
        .feedback(FeedbackInput { entry_ids: vec![added.id], success: false, workflow_id: Some("wf-2".into()), comment: None })
        .await
        .unwrap();
    assert_eq!((repeat.updated.len(), repeat.already_counted), (0, vec![added.id]));
    let now = kb.get(added.id).await.unwrap();
    let expected = Stats { prior: 0.6, usage_count: 3, success_count: 2 };
    assert_eq!(now.usage_count, 3);
    assert!((now.success_rate - 2.0 / 3.0).abs() < 1e-6, "{now:?}");
    assert!((now.confidence - expected.confidence()).abs() < 1e-6, "{now:?}");
    assert!((now.confidence - (5.0 * 0.6 + 2.0) / 8.0).abs() < 1e-6, "{now:?}");

    // Feedback naming an unknown entry changes nothing at all.
    let unknown = uuid::Uuid::new_v4();
    let err = kb.feedback(FeedbackInput { entry_ids: vec![added.id, unknown], success: true, ..Default::default() }).await.unwrap_err();
    assert!(matches!(err, knowledge::Error::NotFound(id) if id == unknown), "{err}");
    assert_eq!(kb.get(added.id).await.unwrap().usage_count, 3);

    // A new prior re-blends the confidence with the feedback so far; new text is re-embedded.
    let updated = kb
        .update(added.id, EntryInput { title: added.title.clone(), content: "Rewritten.".into(), confidence: Some(0.9), ..Default::default() })
        .await
        .unwrap();
    assert!((updated.confidence - (5.0 * 0.9 + 2.0) / 8.0).abs() < 1e-6, "{updated:?}");
    assert_eq!((updated.usage_count, updated.category.as_str()), (3, "general"));
    assert!(updated.updated_at > added.updated_at);

    kb.delete(added.id).await.unwrap();
    assert!(matches!(kb.get(added.id).await, Err(knowledge::Error::NotFound(_))));
    assert!(matches!(kb.delete(added.id).await, Err(knowledge::Error::NotFound(_))));
    drop_schema(&kb, &schema).await;
}

fn error_code(body: &Value) -> (&str, &str) {
    (body["error"]["code"].as_str().unwrap_or_default(), body["error"]["message"].as_str().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_knowledge_http_api_serves_the_seed_endpoints_and_refuses_bad_input_by_field() {
    let (kb, schema) = isolated().await;
    let (_, mut state) = api(&config(&[])).await;
    state.knowledge = Some(kb.clone());
    let app = aetherius_api::app(state);
    let post = |uri: &'static str, body: Value| {
        let app = app.clone();
        async move { call(&app, "POST", uri, serde_json::to_vec(&body).unwrap()).await }
    };

    let (status, created) = post(
        "/knowledge",
        json!({"title": "Pods restart when the config map is missing", "content": "Create the ConfigMap the pod references.",
               "category": "lesson", "tags": ["pod", "configmap"], "metadata": {"team": "shop"}}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["confidence"], json!(0.5));

    let (status, got) = call(&app, "GET", &format!("/knowledge/{id}"), vec![]).await;
    assert_eq!((status, &got), (200, &created));
    let (status, page) = call(&app, "GET", "/knowledge?category=lesson&tags=pod,configmap&limit=10", vec![]).await;
    assert_eq!((status, page["total"].as_i64()), (200, Some(1)), "{page}");

    let (status, found) = post("/search", json!({"query": "pod restarting because a configmap does not exist", "threshold": 0.3})).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["matches"][0]["entry"]["id"], json!(id), "{found}");
    assert!(found["matches"][0]["score"].as_f64().unwrap() > 0.3);
    // The seed's field name works too.
    let (status, _) = post("/search", json!({"text": "configmap missing", "top_k": 1})).await;
    assert_eq!(status, 200);

    let (status, fb) = post("/feedback", json!({"entry_ids": [id], "success": true, "workflow_id": "diag-x"})).await;
    assert_eq!(status, 200, "{fb}");
    assert_eq!(fb["updated"][0]["usage_count"], 1);

    let (status, put) = call(
        &app,
        "PUT",
        &format!("/knowledge/{id}"),
        serde_json::to_vec(&json!({"title": "Renamed", "content": "Create the ConfigMap first."})).unwrap(),
    )
    .await;
    assert_eq!((status, put["title"].as_str()), (200, Some("Renamed")), "{put}");

    // Bad input: 400 for bytes that are not JSON, 422 naming the field, 404 for unknown ids.
    let (status, body) = call(&app, "POST", "/knowledge", b"{\"title\": ".to_vec()).await;
    assert_eq!((status, error_code(&body).0), (400, "malformed_json"), "{body}");
    for (uri, bad, field) in [
        ("/knowledge", json!({"title": "", "content": "x"}), "title"),
        ("/knowledge", json!({"title": "t"}), "content"),
        ("/knowledge", json!({"title": "t", "content": "x", "tags": ["ok", "Not OK"]}), "tags[1]"),
        ("/knowledge", json!({"title": "t", "content": "x", "confidence": 3}), "confidence"),
        ("/knowledge", json!({"title": "t", "content": "x", "colour": "red"}), "colour"),
        ("/search", json!({"query": "x", "top_k": 0}), "top_k"),
        ("/search", json!({"query": "x", "threshold": 1.5}), "threshold"),
        ("/search", json!({"query": "  "}), "query"),
        ("/feedback", json!({"entry_ids": ["not-a-uuid"], "success": true}), "entry_ids"),
        ("/feedback", json!({"entry_ids": [], "success": true}), "entry_ids"),
        ("/feedback", json!({"entry_ids": [id]}), "success"),
    ] {
        let (status, body) = post(uri, bad.clone()).await;
        let (code, message) = error_code(&body);
        assert_eq!((status, code), (422, "invalid_payload"), "{uri} {bad}: {body}");
        assert!(message.contains(field), "{uri} {bad}: message does not name {field}: {message}");
    }
    let (status, body) = call(&app, "GET", "/knowledge?limit=lots", vec![]).await;
    assert_eq!(status, 422, "{body}");
    assert!(error_code(&body).1.contains("limit"), "{body}");
    let (status, body) = call(&app, "GET", "/knowledge/not-a-uuid", vec![]).await;
    assert_eq!((status, error_code(&body).0), (422, "invalid_payload"), "{body}");

    let unknown = uuid::Uuid::new_v4();
    let (status, body) = call(&app, "GET", &format!("/knowledge/{unknown}"), vec![]).await;
    assert_eq!((status, error_code(&body).0), (404, "not_found"), "{body}");
    let (status, body) =
        call(&app, "PUT", &format!("/knowledge/{unknown}"), serde_json::to_vec(&json!({"title": "t", "content": "c"})).unwrap()).await;
    assert_eq!((status, error_code(&body).0), (404, "not_found"), "{body}");
    let (status, body) = post("/feedback", json!({"entry_ids": [unknown], "success": false})).await;
    assert_eq!((status, error_code(&body).0), (404, "not_found"), "{body}");

    let (status, _) = call(&app, "DELETE", &format!("/knowledge/{id}"), vec![]).await;
    assert_eq!(status, 204);
    let (status, body) = call(&app, "DELETE", &format!("/knowledge/{id}"), vec![]).await;
    assert_eq!((status, error_code(&body).0), (404, "not_found"), "{body}");
    drop_schema(&kb, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyze_rests_on_the_alerts_runbook_and_keeps_the_rules_without_a_match() {
    let (kb, schema) = isolated().await;
    let alert = |name: &str| -> aetherius_core::StandardEvent {
        let a: aetherius_core::AlertmanagerAlert = serde_json::from_value(json!({
            "status": "firing",
            "labels": {"alertname": name, "namespace": "shop", "pod": "checkout-7d9f8-x2x", "severity": "warning"},
            "annotations": {"description": "Pod shop/checkout-7d9f8-x2x (checkout) is in waiting state (reason: \"CrashLoopBackOff\")."},
            "startsAt": "2026-11-20T10:00:00Z"
        }))
        .unwrap();
        aetherius_core::StandardEvent::from_alertmanager(&a, "default")
    };
    let event = alert("KubePodCrashLooping");
    let rules = aetherius_activities::reasoning::analyze_alert(&event);

    // Empty knowledge base: the rules' analysis stands, unchanged.
    let same = aetherius_activities::reasoning::with_knowledge(&kb, &event, rules.clone()).await;
    assert_eq!(same, rules);

    load_starter_set(&kb).await;
    let analysis = aetherius_activities::reasoning::with_knowledge(&kb, &event, rules.clone()).await;
    assert_eq!(analysis.method, aetherius_core::Method::KnowledgeBased, "{analysis:?}");
    assert!(analysis.suggested_steps.iter().any(|s| s.contains("runbook")), "{analysis:?}");
    assert_eq!(analysis.possible_causes, rules.possible_causes, "the rules' hypotheses stay");
    drop_schema(&kb, &schema).await;
}
