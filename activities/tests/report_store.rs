//! The report activity's storage on the real PostgreSQL (AETHERIUS_TEST_DATABASE_URL):
//! audit rows for every step, approval and the conclusion, written once however often the
//! activity is retried; `audit_logs` refuses UPDATE, DELETE and TRUNCATE; retention.

use aetherius_activities::report::{ReportActivities, audit};
use aetherius_core::{ReportInput, StepResult, StepStatus, StepSummary};
use serde_json::json;

async fn database() -> sqlx::PgPool {
    let url = std::env::var("AETHERIUS_TEST_DATABASE_URL")
        .unwrap_or_else(|_| panic!("AETHERIUS_TEST_DATABASE_URL is not set: these tests need the real PostgreSQL"));
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&url).await.expect("connecting");
    aetherius_activities::MIGRATOR.run(&pool).await.expect("migrations");
    pool
}

fn input(workflow_id: &str) -> ReportInput {
    let ran = StepResult {
        command: serde_json::from_value(json!({"id": "s1", "tool": "kubectl", "action": "logs", "args": ["checkout-1"],
                                               "flags": {"previous": "true"}, "cluster_id": "prod", "namespace": "shop", "timeout_secs": 30}))
        .expect("a command"),
        status: StepStatus::Success,
        output: "FATAL: DATABASE_URL is not set".into(),
        objects: vec![],
        error: None,
        truncated: false,
        duration_ms: 42,
        output_ref: None,
    };
    let ran = StepSummary::from(&ran);
    serde_json::from_value(json!({
        "workflow_id": workflow_id,
        "event": {"id": workflow_id, "type": "alert", "source": "alertmanager", "timestamp": "2026-12-01T10:00:00Z",
                  "cluster_id": "prod", "namespace": "shop", "severity": "critical",
                  "labels": {"alertname": "KubePodCrashLooping"}, "annotations": {}, "fingerprint": "abc", "status": "firing"},
        "analysis": {"summary": "crash loop", "possible_causes": [], "suggested_steps": [], "confidence": 0.6,
                     "target": null, "method": "rule_based", "tokens_used": 0, "model": null},
        "steps": [
            ran,
            {"command": "kubectl get secret -n kube-system x", "status": "rejected", "duration_ms": 0, "error": "layer 5: namespace not allowed"},
            {"command": "kubectl get configmap -n shop app", "status": "skipped", "duration_ms": 0}
        ],
        "diagnosis": {"root_cause": "crashloop-missing-config", "resource": "shop/Deployment/checkout", "summary": "s",
                      "evidence": [], "recommendations": [], "confidence": 0.9},
        "approvals": [{"step_id": "step-3", "command": "kubectl get configmap -n shop app", "reason": "configmaps",
                       "verdict": "rejected", "by": "alice", "comment": "no", "requested_at": "2026-12-01T10:01:00Z",
                       "decided_at": "2026-12-01T10:01:30Z"}]
    }))
    .expect("fixture")
}

type Row = (String, String, String, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>);

#[tokio::test]
async fn every_command_approval_and_decision_is_audited_once() {
    let pool = database().await;
    let wf = format!("report-store-{}", uuid::Uuid::new_v4());
    let acts = ReportActivities::new(pool.clone());
    let r = input(&wf);
    let first = acts.store(&r).await.expect("stored");
    let again = acts.store(&r).await.expect("a retry stores again");
    assert_eq!(first, again, "one report per workflow");

    let rows: Vec<Row> = sqlx::query_as(
        "SELECT kind, actor, cluster_id, namespace, command, decision, result_digest, approver FROM audit_logs WHERE workflow_id = $1 ORDER BY id",
    )
    .bind(&wf)
    .fetch_all(&pool)
    .await
    .unwrap();
    let kinds: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(kinds, ["command", "command", "command", "approval", "decision"], "{rows:?}");
    let digest = r.steps[0].output_digest.clone().expect("a digest");
    assert_eq!(digest.len(), 64);
    assert_eq!(rows[0].5.as_deref(), Some("allowed"));
    assert_eq!(rows[0].6.as_deref(), Some(digest.as_str()));
    assert_eq!((rows[0].2.as_str(), rows[0].3.as_deref()), ("prod", Some("shop")));
    assert_eq!(rows[1].5.as_deref(), Some("rejected"), "a command a safety layer refused is audited");
    assert_eq!(rows[1].6, None);
    assert_eq!(rows[2].5.as_deref(), Some("not_run"));
    assert_eq!((rows[3].1.as_str(), rows[3].5.as_deref(), rows[3].7.as_deref()), ("alice", Some("rejected"), Some("alice")));
    assert_eq!(rows[4].5.as_deref(), Some("crashloop-missing-config"));
    assert_eq!(audit::entries(&r).len(), rows.len());

    // A notification's row, written twice (a retried activity), kept once.
    let sent = audit::AuditEntry::notification(&r, "slack", "sent", json!({"status": 200}));
    let mut conn = pool.acquire().await.unwrap();
    audit::record(&mut conn, &sent).await.unwrap();
    audit::record(&mut conn, &sent).await.unwrap();
    let (actor, decision): (String, String) =
        sqlx::query_as("SELECT actor, decision FROM audit_logs WHERE workflow_id = $1 AND kind = 'notification'").bind(&wf).fetch_one(&pool).await.unwrap();
    assert_eq!((actor.as_str(), decision.as_str()), ("notify:slack", "sent"));
}

#[tokio::test]
async fn audit_logs_refuse_update_delete_and_truncate() {
    let pool = database().await;
    let wf = format!("report-append-{}", uuid::Uuid::new_v4());
    ReportActivities::new(pool.clone()).store(&input(&wf)).await.expect("stored");
    for sql in [
        "UPDATE audit_logs SET decision = 'allowed' WHERE workflow_id = $1",
        "DELETE FROM audit_logs WHERE workflow_id = $1",
    ] {
        let err = sqlx::query(sql).bind(&wf).execute(&pool).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let err = sqlx::query("TRUNCATE audit_logs").execute(&pool).await.expect_err("truncate");
    assert!(err.to_string().contains("append-only"), "{err}");
    // Setting the retention's cutoff by hand does not open recent rows either.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SELECT set_config('aetherius.audit_prune_cutoff', now()::text, true)").execute(&mut *tx).await.unwrap();
    let err = sqlx::query("DELETE FROM audit_logs WHERE workflow_id = $1").bind(&wf).execute(&mut *tx).await.expect_err("delete");
    assert!(err.to_string().contains("append-only"), "{err}");
    drop(tx);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE workflow_id = $1").bind(&wf).fetch_one(&pool).await.unwrap();
    assert_eq!(n, 5);
}

#[tokio::test]
async fn retention_deletes_only_rows_older_than_it() {
    let pool = database().await;
    let wf = format!("report-retention-{}", uuid::Uuid::new_v4());
    for (key, age_days) in [("old", 400), ("recent", 10)] {
        sqlx::query(
            "INSERT INTO audit_logs (recorded_at, workflow_id, kind, actor, cluster_id, dedup_key)
             VALUES (now() - make_interval(days => $1), $2, 'decision', 'aetherius', 'prod', $3)",
        )
        .bind(age_days)
        .bind(&wf)
        .bind(format!("{wf}/{key}"))
        .execute(&pool)
        .await
        .unwrap();
    }
    let err = audit::prune(&pool, 3).await.expect_err("under the floor");
    assert!(err.to_string().contains("at least 7 days"), "{err}");
    let deleted = audit::prune(&pool, 365).await.expect("prune");
    assert!(deleted >= 1);
    let left: Vec<String> =
        sqlx::query_scalar("SELECT dedup_key FROM audit_logs WHERE workflow_id = $1").bind(&wf).fetch_all(&pool).await.unwrap();
    assert_eq!(left, [format!("{wf}/recent")]);

    // The whole step outputs go with the same retention.
    for (step, age_days) in [("old", 400), ("recent", 10)] {
        sqlx::query(
            "INSERT INTO step_outputs (workflow_id, step_id, command, output, objects, sha256, created_at)
             VALUES ($1, $2, 'kubectl logs -n shop x', 'out', '[]', 'ab', now() - make_interval(days => $3))",
        )
        .bind(&wf)
        .bind(step)
        .bind(age_days)
        .execute(&pool)
        .await
        .unwrap();
    }
    assert!(aetherius_activities::step_outputs::prune(&pool, 0).await.is_err(), "0 means keep: never a delete-everything");
    assert!(aetherius_activities::step_outputs::prune(&pool, 365).await.expect("prune") >= 1);
    let kept: Vec<String> = aetherius_activities::step_outputs::load(&pool, &wf).await.unwrap().into_iter().map(|o| o.step_id).collect();
    assert_eq!(kept, ["recent"]);

    // The per-diagnosis LLM usage too (the daily totals stay).
    for (task, age_days) in [(format!("{wf}-old"), 400), (format!("{wf}-recent"), 10)] {
        for table in ["llm_usage_task", "llm_usage_task_model"] {
            let sql = if table == "llm_usage_task" {
                "INSERT INTO llm_usage_task (task_id, total_tokens, updated_at) VALUES ($1, 10, now() - make_interval(days => $2))"
            } else {
                "INSERT INTO llm_usage_task_model (task_id, model, total_tokens, updated_at) VALUES ($1, 'm', 10, now() - make_interval(days => $2))"
            };
            sqlx::query(sql).bind(&task).bind(age_days).execute(&pool).await.unwrap();
        }
    }
    assert!(aetherius_activities::llm::UsageStore::prune_tasks(&pool, 365).await.unwrap() >= 2);
    let left: Vec<String> = sqlx::query_scalar("SELECT task_id FROM llm_usage_task WHERE task_id LIKE $1 UNION ALL SELECT task_id FROM llm_usage_task_model WHERE task_id LIKE $1")
        .bind(format!("{wf}-%"))
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(left, [format!("{wf}-recent"), format!("{wf}-recent")]);
}

#[tokio::test]
async fn the_report_states_every_llm_call_of_the_diagnosis_and_its_cost() {
    use aetherius_activities::llm::{ModelPrice, Prices, TokenUsage, UsageStore};
    let pool = database().await;
    let wf = format!("report-llm-{}", uuid::Uuid::new_v4());
    // What the LLM client records as answers arrive: analyze, then two decide_next calls,
    // one of them on the complex model; the API names its dated snapshot.
    let ledger = UsageStore::Postgres(pool.clone());
    let day = chrono::Utc::now().date_naive();
    let usage = |p, c| TokenUsage { prompt_tokens: p, completion_tokens: c, total_tokens: p + c };
    ledger.record(&wf, day, "gpt-4o-mini-2024-07-18", &usage(1200, 300)).await.unwrap();
    ledger.record(&wf, day, "gpt-4o-mini-2024-07-18", &usage(2000, 150)).await.unwrap();
    ledger.record(&wf, day, "o3-large", &usage(500, 500)).await.unwrap();
    ledger.record("another-diagnosis", day, "gpt-4o-mini-2024-07-18", &usage(9, 9)).await.unwrap();
    // One call an older version counted for the task only, not per model.
    sqlx::query(
        "UPDATE llm_usage_task SET requests = requests + 1, prompt_tokens = prompt_tokens + 80,
           completion_tokens = completion_tokens + 20, total_tokens = total_tokens + 100 WHERE task_id = $1",
    )
    .bind(&wf)
    .execute(&pool)
    .await
    .unwrap();
    let prices = Prices([("gpt-4o-mini".to_owned(), ModelPrice { input_per_million: 0.15, output_per_million: 0.6 })].into());
    let acts = ReportActivities::new(pool.clone()).with_prices(prices);
    acts.store(&input(&wf)).await.expect("stored");

    let (report, markdown): (serde_json::Value, String) =
        sqlx::query_as("SELECT report, markdown FROM reports WHERE workflow_id = $1").bind(&wf).fetch_one(&pool).await.unwrap();
    let models = report["llm_usage"].as_array().expect("the ledger is in the stored report");
    assert_eq!(models.len(), 3, "{models:?}");
    assert_eq!(models[0]["model"], "gpt-4o-mini-2024-07-18");
    assert_eq!((models[0]["requests"].as_u64(), models[0]["total_tokens"].as_u64()), (Some(2), Some(3650)));
    let cost = models[0]["cost_usd"].as_f64().expect("a configured price");
    assert!((cost - (3200.0 * 0.15 + 450.0 * 0.6) / 1e6).abs() < 1e-12, "{cost}");
    assert_eq!(models[1]["model"], "o3-large");
    assert!(models[1].get("cost_usd").is_none(), "no price configured: no cost, never a guess");
    assert!(markdown.contains("gpt-4o-mini-2024-07-18: 2 calls, 3650 tokens (3200 prompt, 450 completion), 0.000750 USD"), "{markdown}");
    assert_eq!((models[2]["model"].as_str(), models[2]["requests"].as_u64(), models[2]["total_tokens"].as_u64()), (Some("(model not recorded)"), Some(1), Some(100)));
    assert!(markdown.contains("in all 4750 tokens, cost unknown"), "{markdown}");

    // A database without the per-model ledger (an upgrade whose migration has not run yet)
    // still gets its report: a throwaway database, so the shared one is never altered.
    let scratch = format!("aetherius_unmigrated_{}", uuid::Uuid::new_v4().simple());
    // The name is ours (a uuid), not input.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {scratch}"))).execute(&pool).await.unwrap();
    let url = std::env::var("AETHERIUS_TEST_DATABASE_URL").unwrap();
    let url = format!("{}/{scratch}", url.rsplit_once('/').unwrap().0);
    let old = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&url).await.unwrap();
    aetherius_activities::MIGRATOR.run(&old).await.unwrap();
    sqlx::query("DROP TABLE llm_usage_task_model").execute(&old).await.unwrap();
    let stored = ReportActivities::new(old.clone()).store(&input(&wf)).await;
    old.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {scratch}"))).execute(&pool).await.unwrap();
    stored.expect("a report without the ledger's figures");
}
