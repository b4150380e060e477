//! Humans in the loop, over HTTP only: approve, reject, let time out, cancel, retry,
//! resolve; and the same approval as a Temporal update sent with the `temporal` CLI.
//!
//! Everything runs in its own Temporal namespace (`AETHERIUS_TEST_HITL_NAMESPACE`) with its
//! own workers, so no other test's worker takes these tasks. One test, run in sequence:
//! the parts share the workers and the fixture cluster.

use crate::support::{all_pools, api, call, config, fixture_cluster, payload, unique_alert};
use aetherius_workers::pools;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const SCENARIO: &str = "crashloop-missing-env";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run these tests with `cargo xtask test`"))
}

async fn task(app: &axum::Router, id: &str) -> Value {
    let (status, body) = call(app, "GET", &format!("/tasks/{id}"), vec![]).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Polls `GET /tasks/{id}` until `done(body)` holds (at most 60 s).
async fn until(app: &axum::Router, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body = task(app, id).await;
        if done(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "{id}: {what} did not happen within 60 s: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn waiting(app: &axum::Router, id: &str) -> Value {
    let body = until(app, id, "a step waiting for approval", |b| !b["pending_approval"].is_null() || b["status"] != "running").await;
    assert!(!body["pending_approval"].is_null(), "the diagnosis ended without asking for approval: {body}");
    body["pending_approval"].clone()
}

async fn reported(app: &axum::Router, id: &str) -> Value {
    until(app, id, "a stored report", |b| b["status"] != "running" && b.get("report").is_some()).await
}

/// Fires a fresh copy of the scenario's alert; returns its workflow id and the alert.
async fn fire(app: &axum::Router) -> (String, Value) {
    let alert = unique_alert(SCENARIO);
    let (status, answer) = call(app, "POST", "/webhook/alertmanager", serde_json::to_vec(&payload(vec![alert.clone()])).unwrap()).await;
    assert_eq!((status, answer["started"].as_i64()), (202, Some(1)), "{answer}");
    (answer["workflows"][0]["workflow_id"].as_str().unwrap().to_owned(), alert)
}

async fn post(app: &axum::Router, uri: &str, body: Value) -> (u16, Value) {
    call(app, "POST", uri, serde_json::to_vec(&body).unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn people_approve_reject_cancel_retry_and_resolve_diagnoses() {
    let tmp = tempfile::tempdir().unwrap();
    let (cluster, kubeconfig) = fixture_cluster(SCENARIO, tmp.path()).await;
    // A cluster that accepts connections and never answers: a step against it hangs until
    // it is cancelled. Each connection reports when its client hangs up.
    let (hung_up_tx, mut hung_up) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = silent.accept().await else { return };
            let tx = hung_up_tx.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while tokio::io::AsyncReadExt::read(&mut conn, &mut buf).await.is_ok_and(|n| n > 0) {}
                let _ = tx.send(Instant::now());
            });
        }
    });
    let silent_kubeconfig = tmp.path().join("silent.kubeconfig");
    std::fs::write(&silent_kubeconfig, aetherius_scenario::server::kubeconfig("silent", silent_addr)).unwrap();
    let mut config = config(&[(cluster.as_str(), kubeconfig), ("silent", silent_kubeconfig)]);
    config.temporal.namespace = env("AETHERIUS_TEST_HITL_NAMESPACE");
    config.api.temporal_namespace = config.temporal.namespace.clone();
    // Logs in `shop` need a human; twelve seconds to decide (room for a loaded CI machine).
    config.api.approval.sensitive_namespaces = vec!["shop".into()];
    config.api.approval.timeout_secs = 12;
    let (app, _state) = api(&config).await;
    let (_runtime, workers) = all_pools(&config).await;

    let body = async {
        // 1. Approval over HTTP: the logs step waits, a person approves it, it runs, and the
        //    report names who approved and why.
        let (approved_id, _) = fire(&app).await;
        let pending = waiting(&app, &approved_id).await;
        assert!(pending["command"].as_str().unwrap().starts_with("kubectl logs"), "{pending}");
        assert!(pending["reason"].as_str().unwrap().contains("shop"), "{pending}");
        assert!(pending["since"].is_string() && pending["expires_at"].is_string(), "{pending}");
        let step = pending["step_id"].as_str().unwrap().to_owned();
        // Authentication is off in these tests: the body says who decides; without it, 422.
        let (status, answer) = post(&app, &format!("/tasks/{approved_id}/approve"), json!({"step_id": step})).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("invalid_payload")), "{answer}");
        let (status, answer) = post(&app, &format!("/tasks/{approved_id}/approve"), json!({"step_id": "no-such-step", "by": "alice"})).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("not_waiting")), "{answer}");
        let (status, answer) =
            post(&app, &format!("/tasks/{approved_id}/approve"), json!({"step_id": step, "by": "alice", "comment": "read-only, go"})).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!((answer["verdict"].as_str(), answer["by"].as_str()), (Some("approved"), Some("alice")), "{answer}");
        // A second decision on the same step is refused.
        let (status, again) = post(&app, &format!("/tasks/{approved_id}/reject"), json!({"step_id": step, "by": "bob"})).await;
        assert_eq!(status, 409, "{again}");
        assert!(matches!(again["error"]["code"].as_str(), Some("already_decided" | "not_waiting" | "not_running")), "{again}");
        // More logs steps may wait; approve each as it comes.
        let done = loop {
            let b = until(&app, &approved_id, "the next approval or the report", |b| {
                b["status"] != "running" || !b["pending_approval"].is_null()
            })
            .await;
            if b["status"] != "running" {
                break reported(&app, &approved_id).await;
            }
            let s = b["pending_approval"]["step_id"].as_str().unwrap();
            let (status, a) = post(&app, &format!("/tasks/{approved_id}/approve"), json!({"by": "alice"})).await;
            assert!(status == 200 || a["error"]["code"] == "not_waiting", "{s}: {a}");
        };
        let report = &done["report"];
        assert_eq!(report["diagnosis"]["root_cause"], "crashloop-missing-config", "{report}");
        assert!(report["diagnosis"]["evidence"].to_string().contains("DATABASE_URL"), "the approved logs step must have run: {report}");
        let approvals = report["approvals"].as_array().expect("approvals in the report");
        assert!(approvals.iter().all(|a| a["verdict"] == "approved" && a["by"] == "alice"), "{approvals:?}");
        assert_eq!(approvals[0]["comment"], "read-only, go");
        assert!(done["markdown"].as_str().unwrap().contains("approved by alice (\"read-only, go\")"), "{}", done["markdown"]);
        let (status, late) = post(&app, &format!("/tasks/{approved_id}/approve"), json!({"by": "alice"})).await;
        assert_eq!((status, late["error"]["code"].as_str()), (409, Some("not_running")), "{late}");

        // 2. Rejection: the step is skipped, the diagnosis goes on without it and says so.
        let (rejected_id, _) = fire(&app).await;
        let pending = waiting(&app, &rejected_id).await;
        let (status, answer) = post(
            &app,
            &format!("/tasks/{rejected_id}/reject"),
            json!({"step_id": pending["step_id"], "by": "bob", "comment": "logs hold card data"}),
        )
        .await;
        assert_eq!((status, answer["verdict"].as_str()), (200, Some("rejected")), "{answer}");
        // Later logs steps time out (twelve seconds) instead.
        let done = reported(&app, &rejected_id).await;
        let report = &done["report"];
        let approvals = report["approvals"].as_array().unwrap();
        assert_eq!((approvals[0]["verdict"].as_str(), approvals[0]["by"].as_str()), (Some("rejected"), Some("bob")), "{approvals:?}");
        let steps = report["steps"].as_array().unwrap();
        assert!(steps.iter().any(|s| s["status"] == "skipped" && s["command"] == pending["command"]), "{steps:?}");
        assert!(report["notes"].to_string().contains("did not run"), "{report}");
        assert!(!report["diagnosis"]["evidence"].to_string().contains("DATABASE_URL"), "no log line may come from a rejected read: {report}");
        assert!(!report["diagnosis"]["evidence"].to_string().contains("the log is empty"), "an unread log is not an empty one: {report}");

        // 3. Timeout: nobody decides; the step is skipped after twelve seconds and the report says so.
        let (timeout_id, _) = fire(&app).await;
        waiting(&app, &timeout_id).await;
        let done = reported(&app, &timeout_id).await;
        let approvals = done["report"]["approvals"].as_array().unwrap();
        assert!(!approvals.is_empty() && approvals.iter().all(|a| a["verdict"] == "timed_out" && a["by"].is_null()), "{approvals:?}");
        assert!(done["markdown"].as_str().unwrap().contains("marked sensitive: timed out"), "{}", done["markdown"]);

        // 4. The same approval as a Temporal update from the `temporal` CLI (what the UI sends).
        let (cli_id, _) = fire(&app).await;
        let pending = waiting(&app, &cli_id).await;
        let input = json!({"step_id": pending["step_id"], "by": "carol", "comment": "from the CLI"}).to_string();
        // Async: the workers run in this very task, and must answer while the CLI waits.
        let out = tokio::process::Command::new(env("AETHERIUS_TEST_TEMPORAL_CLI"))
            .args(["workflow", "update", "execute", "--address", &config.temporal.address.replace("http://", "")])
            .args(["--namespace", &config.temporal.namespace, "--workflow-id", &cli_id, "--name", "approve", "--input", &input])
            .output()
            .await
            .expect("temporal CLI runs");
        assert!(out.status.success(), "temporal workflow update: {}", String::from_utf8_lossy(&out.stderr));
        let status = until(&app, &cli_id, "the CLI's approval", |b| {
            b["progress"]["approvals"].as_array().is_some_and(|a| !a.is_empty()) || b["status"] != "running"
        })
        .await;
        let first = status["progress"]["approvals"][0].clone();
        let first = if first.is_null() { reported(&app, &cli_id).await["report"]["approvals"][0].clone() } else { first };
        assert_eq!((first["verdict"].as_str(), first["by"].as_str()), (Some("approved"), Some("carol")), "{first}");
        // A second decision through the CLI is refused by the workflow's validator.
        let out = tokio::process::Command::new(env("AETHERIUS_TEST_TEMPORAL_CLI"))
            .args(["workflow", "update", "execute", "--address", &config.temporal.address.replace("http://", "")])
            .args(["--namespace", &config.temporal.namespace, "--workflow-id", &cli_id, "--name", "reject", "--input", &input])
            .output()
            .await
            .expect("temporal CLI runs");
        assert!(!out.status.success(), "a second decision must be refused");

        // 5. Cancel while a step waits: the diagnosis ends cancelled, with a report saying so.
        let (cancel_id, _) = fire(&app).await;
        waiting(&app, &cancel_id).await;
        let (status, answer) = call(&app, "PUT", &format!("/tasks/{cancel_id}/cancel"), br#"{"reason": "false alarm"}"#.to_vec()).await;
        assert_eq!((status, answer["status"].as_str()), (202, Some("cancelling")), "{answer}");
        let done = reported(&app, &cancel_id).await;
        assert_eq!(done["status"], "cancelled", "{done}");
        assert_eq!(done["report"]["ending"]["kind"], "cancelled", "{done}");
        assert!(done["report"]["ending"]["reason"].as_str().unwrap().contains("false alarm"), "{done}");
        assert_eq!(done["report"]["approvals"][0]["verdict"], "cancelled", "{done}");
        let (status, again) = call(&app, "PUT", &format!("/tasks/{cancel_id}/cancel"), vec![]).await;
        assert_eq!((status, again["error"]["code"].as_str()), (409, Some("not_running")), "{again}");

        // 5b. Cancel while a step runs: the step learns it through its heartbeat and stops
        //     (its connection to the cluster closes), and the report still lands.
        let manual = json!({"cluster": "silent", "namespace": "shop", "kind": "Deployment", "name": "checkout"});
        let (status, started) = post(&app, "/tasks", manual).await;
        assert_eq!(status, 202, "{started}");
        let hung_id = started["workflow_id"].as_str().unwrap().to_owned();
        until(&app, &hung_id, "a step running against the silent cluster", |b| {
            b["progress"]["phase"] == "investigating" && b["progress"]["current_step"].is_string()
        })
        .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        while hung_up.try_recv().is_ok() {}
        let cancelled_at = Instant::now();
        let (status, answer) = call(&app, "PUT", &format!("/tasks/{hung_id}/cancel"), vec![]).await;
        assert_eq!(status, 202, "{answer}");
        let done = reported(&app, &hung_id).await;
        assert_eq!((done["status"].as_str(), done["report"]["ending"]["kind"].as_str()), (Some("cancelled"), Some("cancelled")), "{done}");
        let closed = tokio::time::timeout(Duration::from_secs(20), hung_up.recv()).await;
        let closed = closed.expect("the cancelled step kept its connection open for 20 s").unwrap();
        assert!(closed.duration_since(cancelled_at) < Duration::from_secs(20));

        // 6. Retry the cancelled one: a new diagnosis with the same input, linked both ways.
        let (status, retried) = post(&app, &format!("/tasks/{cancel_id}/retry"), json!({})).await;
        assert_eq!(status, 202, "{retried}");
        let retry_id = retried["workflow_id"].as_str().unwrap().to_owned();
        assert!(retry_id.starts_with(&cancel_id) && retry_id != cancel_id, "{retry_id}");
        assert_eq!(task(&app, &cancel_id).await["retries"], json!([retry_id]));
        assert_eq!(task(&app, &retry_id).await["retry_of"], json!(cancel_id));
        // It asks for the same approval (same input, same policy); approve, and it concludes.
        waiting(&app, &retry_id).await;
        loop {
            let b = until(&app, &retry_id, "approval or report", |b| b["status"] != "running" || !b["pending_approval"].is_null()).await;
            if b["status"] != "running" {
                break;
            }
            post(&app, &format!("/tasks/{retry_id}/approve"), json!({"by": "dave"})).await;
        }
        let done = reported(&app, &retry_id).await;
        assert_eq!(done["report"]["diagnosis"]["root_cause"], "crashloop-missing-config", "{done}");
        assert_eq!(done["report"]["retry_of"], json!(cancel_id));

        // 7. The alert resolves while a step waits: the diagnosis ends at once and says so.
        let (resolved_id, mut alert) = fire(&app).await;
        waiting(&app, &resolved_id).await;
        alert["status"] = json!("resolved");
        alert["endsAt"] = json!(chrono::Utc::now().to_rfc3339());
        let mut resolved = payload(vec![alert]);
        resolved["status"] = json!("resolved");
        let (status, answer) = post(&app, "/webhook/alertmanager", resolved).await;
        assert_eq!((status, answer["workflows"][0]["status"].as_str()), (202, Some("resolved")), "{answer}");
        let done = reported(&app, &resolved_id).await;
        assert_eq!(done["status"], "completed", "{done}");
        let report = &done["report"];
        assert_eq!(report["ending"]["kind"], "alert_resolved", "{report}");
        assert_eq!(report["approvals"][0]["verdict"], "alert_resolved", "{report}");
        let rc = report["diagnosis"]["root_cause"].as_str().unwrap();
        assert_ne!(rc, "unknown", "a resolved alert with no cause found is not-an-issue: {report}");
        let notes = report["notes"].to_string();
        if rc == "not-an-issue" {
            assert!(report["diagnosis"]["summary"].as_str().unwrap().contains("resolved itself"), "{report}");
        } else {
            assert!(notes.contains("found before that"), "{report}");
        }
        // A resolved alert whose diagnosis already ended changes nothing.
        let (status, answer) = post(&app, "/webhook/alertmanager", {
            let mut a = unique_alert(SCENARIO);
            a["status"] = json!("resolved");
            a["endsAt"] = json!(chrono::Utc::now().to_rfc3339());
            payload(vec![a])
        })
        .await;
        assert_eq!((status, answer["workflows"][0]["status"].as_str()), (202, Some("resolved_idle")), "{answer}");

        // 8. The list: filters over Temporal's visibility, paged with its token.
        let uri = format!("/tasks?cluster={cluster}&status=cancelled&page_size=1");
        let deadline = Instant::now() + Duration::from_secs(30);
        let listed = loop {
            let (status, listed) = call(&app, "GET", &uri, vec![]).await;
            assert_eq!(status, 200, "{listed}");
            if listed["tasks"].as_array().is_some_and(|t| !t.is_empty()) {
                break listed;
            }
            assert!(Instant::now() < deadline, "the cancelled diagnosis is not listed: {listed}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(listed["tasks"][0]["status"], "cancelled", "{listed}");
        assert_eq!(listed["tasks"][0]["cluster"], json!(cluster), "{listed}");
        let (status, all) = call(&app, "GET", &format!("/tasks?cluster={cluster}&page_size=2"), vec![]).await;
        assert_eq!(status, 200, "{all}");
        let token = all["next_page_token"].as_str().expect("more than one page");
        let (status, next) = call(&app, "GET", &format!("/tasks?cluster={cluster}&page_size=2&page_token={token}"), vec![]).await;
        assert_eq!(status, 200, "{next}");
        assert!(next["tasks"].as_array().is_some_and(|t| !t.is_empty() && t[0]["id"] != all["tasks"][0]["id"]), "{next}");
        for bad in ["/tasks?status=sleeping", "/tasks?cluster=a'%20OR%20'1", "/tasks?page_size=0", "/tasks?page_token=%21%21", "/tasks?colour=red"] {
            let (status, answer) = call(&app, "GET", bad, vec![]).await;
            assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("invalid_filter")), "{bad}: {answer}");
        }

        // 9. The queues: backlog and pollers, from Temporal.
        let (status, queues) = call(&app, "GET", "/queue/status", vec![]).await;
        assert_eq!(status, 200, "{queues}");
        let reasoning = queues["queues"].as_array().unwrap().iter().find(|q| q["queue"] == config.temporal.queues().reasoning.as_str() && q["type"] == "workflow").cloned();
        let reasoning = reasoning.expect("the reasoning queue is described");
        assert!(reasoning["pollers"].as_array().is_some_and(|p| !p.is_empty()), "our worker polls it: {reasoning}");
        assert!(reasoning["backlog"].is_i64(), "{reasoning}");

        // Unknown tasks: 404 on every verb.
        for (method, uri) in [("GET", "/tasks/diag-none-1"), ("PUT", "/tasks/diag-none-1/cancel"), ("POST", "/tasks/diag-none-1/retry")] {
            let (status, answer) = call(&app, method, uri, vec![]).await;
            assert_eq!((status, answer["error"]["code"].as_str()), (404, Some("not_found")), "{method} {uri}: {answer}");
        }
    };
    tokio::select! {
        r = pools::run_workers(workers) => panic!("workers stopped: {r:?}"),
        () = body => {}
    }
}
