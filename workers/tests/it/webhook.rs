//! Webhook in, report out; and bad input that starts nothing.

use crate::support::{all_pools, api, call, config, fixture_cluster, payload, unique_alert};
use aetherius_workers::pools;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use temporalio_client::{WorkflowDescribeOptions, errors::WorkflowInteractionError};

pub(crate) async fn wait_for_report(app: &axum::Router, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, body) = call(app, "GET", &format!("/tasks/{id}"), vec![]).await;
        assert_eq!(status, 200, "{body}");
        if body["status"] == "completed" && body.get("report").is_some() {
            return body;
        }
        assert!(matches!(body["status"].as_str(), Some("running" | "completed")), "diagnosis ended badly: {body}");
        assert!(Instant::now() < deadline, "no report for {id} after 90 s: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Volatile parts of a rendered report: ids, the test's cluster, times, durations, uuids.
fn normalise(text: &str, ids: &[&str]) -> String {
    let mut out = text.to_owned();
    for (i, id) in ids.iter().enumerate() {
        out = out.replace(id, &format!("ID{i}"));
    }
    for (re, with) in [
        (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? UTC", "TIME"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", "TIME"),
        (r#""duration_ms": ?\d+"#, "\"duration_ms\": DURATION"),
        (r"\b\d+(\.\d)? m?s\b", "DURATION"),
        (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "UUID"),
    ] {
        out = regex::Regex::new(re).unwrap().replace_all(&out, with).into_owned();
    }
    out
}

/// Compares `actual` with tests/it/snapshots/`name`; `AETHERIUS_BLESS=1` writes it instead.
fn check_snapshot(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/snapshots").join(name);
    if std::env::var_os("AETHERIUS_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (AETHERIUS_BLESS=1 writes it)", path.display()));
    assert!(expected == actual, "{name} differs from the snapshot (AETHERIUS_BLESS=1 re-blesses it):\n{actual}");
}

/// Whether Temporal knows a workflow with this id.
async fn exists(state: &aetherius_api::AppState, id: &str) -> bool {
    let handle = state.temporal.get_workflow_handle::<aetherius_workflows::DiagnosisWorkflow>(id.to_owned());
    match handle.describe(WorkflowDescribeOptions::default()).await {
        Ok(_) => true,
        Err(WorkflowInteractionError::NotFound(_)) => false,
        Err(e) => panic!("describe {id}: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn alertmanager_webhook_to_stored_report_through_temporal_and_postgres() {
    let tmp = tempfile::tempdir().unwrap();
    let (cluster, kubeconfig) = fixture_cluster("crashloop-missing-env", tmp.path()).await;
    let config = config(&[(cluster.as_str(), kubeconfig)]);
    let (app, state) = api(&config).await;
    let (_runtime, workers) = all_pools(&config).await;

    let body = async {
        // Two alerts in one request: a crash loop and Alertmanager's heartbeat.
        let crash = unique_alert("crashloop-missing-env");
        let mut watchdog = unique_alert("watchdog-healthy");
        watchdog["labels"]["cluster"] = json!(cluster);
        let request = serde_json::to_vec(&payload(vec![crash, watchdog])).unwrap();
        let (status, answer) = call(&app, "POST", "/webhook/alertmanager", request.clone()).await;
        assert_eq!(status, 202, "{answer}");
        assert_eq!(answer["started"], 2, "{answer}");
        let ids: Vec<String> = answer["workflows"].as_array().unwrap().iter().map(|w| w["workflow_id"].as_str().unwrap().to_owned()).collect();
        assert!(ids.iter().all(|id| id.starts_with(&format!("diag-{cluster}-"))), "{ids:?}");

        // The same alerts again: answered as duplicates, no second run.
        let (status, again) = call(&app, "POST", "/webhook/alertmanager", request).await;
        assert_eq!(status, 202);
        assert!(again["workflows"].as_array().unwrap().iter().all(|w| w["status"] == "duplicate"), "{again}");

        let crash_task = wait_for_report(&app, &ids[0]).await;
        let d = &crash_task["report"]["diagnosis"];
        assert_eq!(d["root_cause"], "crashloop-missing-config", "{d}");
        assert_eq!(d["resource"], "shop/Deployment/checkout", "{d}");
        let evidence = d["evidence"].to_string();
        assert!(evidence.contains("DATABASE_URL"), "{evidence}");
        let steps = crash_task["report"]["steps"].as_array().unwrap();
        assert!(steps.iter().any(|s| s["command"].as_str().unwrap().starts_with("kubectl logs")), "the diagnosis must read logs: {steps:?}");
        assert!(crash_task["markdown"].as_str().unwrap().contains("crashloop-missing-config"));

        // A person asks over REST about the Deployment, with no alert: same diagnosis.
        let manual = json!({"cluster": cluster, "namespace": "shop", "kind": "deploy", "name": "checkout", "reason": "checkout returns 503"});
        let (status, started) = call(&app, "POST", "/tasks", serde_json::to_vec(&manual).unwrap()).await;
        assert_eq!(status, 202, "{started}");
        let manual_task = wait_for_report(&app, started["workflow_id"].as_str().unwrap()).await;
        assert_eq!(manual_task["report"]["diagnosis"]["root_cause"], "crashloop-missing-config", "{manual_task}");
        assert_eq!(manual_task["report"]["diagnosis"]["resource"], "shop/Deployment/checkout");

        let watchdog_task = wait_for_report(&app, &ids[1]).await;
        assert_eq!(watchdog_task["report"]["diagnosis"]["root_cause"], "not-an-issue");

        // Stored in PostgreSQL, with the audit trail, and visible to the Temporal UI's filters.
        let (rc, audited): (String, i64) = sqlx::query_as(
            "SELECT r.root_cause, (SELECT count(*) FROM audit_logs a WHERE a.workflow_id = r.workflow_id AND a.kind = 'command' AND a.result_digest IS NOT NULL) FROM reports r WHERE r.workflow_id = $1",
        )
        .bind(&ids[0])
        .fetch_one(&state.pool)
        .await
        .unwrap();
        assert_eq!(rc, "crashloop-missing-config");
        assert_eq!(audited as usize, steps.len(), "one audit row with a result digest per command run");

        // The HTML report of this real diagnosis, against the committed snapshot.
        let stored: Value =
            sqlx::query_scalar("SELECT report FROM reports WHERE workflow_id = $1").bind(&ids[0]).fetch_one(&state.pool).await.unwrap();
        let input: aetherius_core::ReportInput = serde_json::from_value(stored).unwrap();
        let html = aetherius_activities::report::render(&input, aetherius_activities::report::Format::Html);
        let volatile = [ids[0].as_str(), input.event.fingerprint.as_str(), cluster.as_str()];
        check_snapshot("crashloop-missing-env.report.html", &normalise(&html, &volatile));
        // And the same diagnosis as Markdown and as JSON.
        let md = aetherius_activities::report::render(&input, aetherius_activities::report::Format::Markdown);
        check_snapshot("crashloop-missing-env.report.md", &normalise(&md, &volatile));
        let json = aetherius_activities::report::render(&input, aetherius_activities::report::Format::Json);
        let json = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&json).expect("the JSON report parses")).unwrap();
        check_snapshot("crashloop-missing-env.report.json", &normalise(&json, &volatile));
        let handle = state.temporal.get_workflow_handle::<aetherius_workflows::DiagnosisWorkflow>(ids[0].clone());
        let described = handle.describe(WorkflowDescribeOptions::default()).await.unwrap();
        let attrs = format!("{:?}", described.raw_description.workflow_execution_info.unwrap().search_attributes);
        assert!(attrs.contains("RootCause") && attrs.contains("AlertName"), "{attrs}");
    };
    tokio::select! {
        r = pools::run_workers(workers) => panic!("workers stopped: {r:?}"),
        () = body => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_webhook_input_gets_a_clear_error_and_starts_nothing() {
    let mut config = config(&[]);
    config.api.max_payload_bytes = 64 * 1024;
    let (app, state) = api(&config).await;

    let (status, body) = call(&app, "POST", "/webhook/alertmanager", b"{\"alerts\": [".to_vec()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("malformed_json")), "{body}");

    let (status, body) = call(&app, "POST", "/webhook/alertmanager", br#"{"version":"4","status":"firing","alerts":{}}"#.to_vec()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_payload")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("alerts"), "{body}");

    let (status, body) = call(&app, "POST", "/webhook/alertmanager", serde_json::to_vec(&payload(vec![])).unwrap()).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("empty"), "{body}");

    let huge = vec![b' '; 65 * 1024];
    let (status, body) = call(&app, "POST", "/webhook/alertmanager", huge).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("payload_too_large")), "{body}");

    // One good alert and one without alertname: the whole request is refused, and the
    // good one is not started either.
    let good = unique_alert("crashloop-missing-env");
    let mut bad = unique_alert("crashloop-missing-env");
    bad["labels"].as_object_mut().unwrap().remove("alertname");
    let good_id = {
        let a: aetherius_core::AlertmanagerAlert = serde_json::from_value(good.clone()).unwrap();
        aetherius_core::StandardEvent::from_alertmanager(&a, "default").id
    };
    let (status, body) = call(&app, "POST", "/webhook/alertmanager", serde_json::to_vec(&payload(vec![good, bad])).unwrap()).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("alerts[1].labels.alertname"), "{body}");
    assert!(!exists(&state, &good_id).await, "a rejected request must not start any workflow");

    for (body, field) in [
        (json!({"namespace": "shop", "kind": "widget", "name": "x"}), "kind"),
        (json!({"kind": "Deployment", "name": "checkout"}), "namespace"),
        (json!({"namespace": "shop", "kind": "Deployment", "name": "../etc"}), "name"),
        (json!({"namespace": "shop", "kind": "ConfigMap", "name": "x"}), "kind"),
        (json!({"namespace": "shop", "kind": "Deployment", "name": "x", "verb": "delete"}), "verb"),
    ] {
        let (status, answer) = call(&app, "POST", "/tasks", serde_json::to_vec(&body).unwrap()).await;
        assert_eq!(status, 422, "{body} → {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains(field), "{body} → {answer}");
    }

    let (status, body) = call(&app, "GET", "/tasks/diag-nope-0000-1", vec![]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")), "{body}");
}

/// A node going down: one grouped webhook with many alerts. Every alert starts, the answer
/// keeps the payload's order, and a re-send starts nothing.
#[tokio::test]
async fn a_grouped_webhook_starts_every_alert_and_answers_in_its_order() {
    let config = config(&[]);
    let (app, state) = api(&config).await;
    let alerts: Vec<Value> = (0..24)
        .map(|i| {
            let mut a = unique_alert("crashloop-missing-env");
            a["labels"]["pod"] = json!(format!("checkout-{i}"));
            a
        })
        .collect();
    let expected: Vec<String> = alerts
        .iter()
        .map(|a| {
            let alert: aetherius_core::AlertmanagerAlert = serde_json::from_value(a.clone()).unwrap();
            aetherius_core::StandardEvent::from_alertmanager(&alert, &config.api.default_cluster).id
        })
        .collect();
    // The first alert once more at the end (a sender repeating itself): events of one
    // diagnosis run in payload order, so the first is the one started.
    let mut sent = alerts.clone();
    sent.push(alerts[0].clone());
    let request = serde_json::to_vec(&payload(sent)).unwrap();
    let (status, answer) = call(&app, "POST", "/webhook/alertmanager", request.clone()).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!((answer["accepted"].as_u64(), answer["started"].as_u64()), (Some(25), Some(24)), "{answer}");
    let workflows = answer["workflows"].as_array().unwrap();
    let ids: Vec<&str> = workflows.iter().map(|w| w["workflow_id"].as_str().unwrap()).collect();
    assert_eq!(ids[..24], expected, "one entry per alert, in the payload's order");
    assert_eq!((ids[24], &workflows[0]["status"], &workflows[24]["status"]), (expected[0].as_str(), &json!("started"), &json!("duplicate")));
    let (status, again) = call(&app, "POST", "/webhook/alertmanager", request).await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(again["started"], 0, "{again}");
    assert!(again["workflows"].as_array().unwrap().iter().all(|w| w["status"] == "duplicate"), "{again}");
    // Nothing polls this test's queues: end the diagnoses it started.
    for id in expected {
        let handle = state.temporal.get_workflow_handle::<aetherius_workflows::DiagnosisWorkflow>(id.clone());
        handle.terminate(temporalio_client::WorkflowTerminateOptions::builder().reason("test done").build()).await.expect("terminated");
    }
}
