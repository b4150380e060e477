//! Bounded history: steps that read near-limit outputs (a pod carrying a 1 MiB annotation,
//! a log of about 1 MiB) still give the right report, their whole outputs land in
//! `step_outputs`, and the workflow's history stays well under Temporal's limits.

use crate::support::{all_pools, api, call, config, payload, scenario_dir};
use aetherius_core::{HISTORY_STEP_BYTES, output_digest};
use serde_json::{Value, json};
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};
use temporalio_client::WorkflowFetchHistoryOptions;
use temporalio_common::protos::temporal::api::{common::v1::Payloads, history::v1::history_event::Attributes};

/// Bytes of the payloads an event carries (inputs and results: what grows with the steps).
fn payload_bytes(attributes: &Option<Attributes>) -> usize {
    let size = |p: &Option<Payloads>| p.as_ref().map_or(0, |p| p.payloads.iter().map(|x| x.data.len() + x.metadata.values().map(Vec::len).sum::<usize>()).sum());
    match attributes {
        Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => size(&a.input),
        Some(Attributes::ActivityTaskScheduledEventAttributes(a)) => size(&a.input),
        Some(Attributes::ActivityTaskCompletedEventAttributes(a)) => size(&a.result),
        Some(Attributes::WorkflowExecutionCompletedEventAttributes(a)) => size(&a.result),
        _ => 0,
    }
}

const POD: &str = "checkout-gfnqwqmwzm-nvr7f";
/// Each read step returns about this much (the seed's 1 MB output cap).
const NEAR_LIMIT: usize = 1000 * 1024;
/// What the whole history may weigh for this three-step diagnosis.
const HISTORY_LIMIT: usize = 1024 * 1024;

/// crashloop-missing-env with its crashing pod bloated: a 1 MiB annotation, and a previous
/// log whose last 200 lines (what the step reads) are about 950 KB of noise before the fatal line.
async fn bloated_cluster(dir: &std::path::Path) -> (String, std::path::PathBuf, Value) {
    let mut scenario = aetherius_scenario::Scenario::load(&scenario_dir("crashloop-missing-env")).expect("scenario loads");
    let pod = scenario
        .cluster
        .objects
        .iter_mut()
        .find(|o| o["kind"] == "Pod" && o["metadata"]["name"] == POD)
        .expect("the crashing pod");
    pod["metadata"]["annotations"]["example.com/build-manifest"] = json!("m".repeat(NEAR_LIMIT));
    let key = ("shop".to_owned(), POD.to_owned(), "checkout".to_owned(), true);
    let log = scenario.cluster.logs.get_mut(&key).expect("the previous log");
    let noise: String = (0..190)
        .map(|i| format!("{{\"level\":\"info\",\"ts\":\"2026-11-20T10:03:35.{i:03}Z\",\"caller\":\"cache/warm.go:31\",\"msg\":\"warmed\",\"keys\":\"{}\"}}\n", "k".repeat(5000)))
        .collect();
    *log = noise + log.as_str();
    let cluster_id = scenario.cluster_id();
    let text = std::fs::read_to_string(scenario_dir("crashloop-missing-env").join("scenario.yaml")).unwrap();
    let mut alert = serde_yaml::from_str::<Value>(&text).unwrap()["alert"].clone();
    alert.as_object_mut().unwrap().remove("fingerprint");
    alert["labels"]["test_run"] = json!(uuid::Uuid::new_v4().to_string());
    let (addr, _task) = aetherius_scenario::server::serve(scenario.cluster, SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("fixture cluster binds");
    let path = dir.join(format!("{cluster_id}.kubeconfig"));
    std::fs::write(&path, aetherius_scenario::server::kubeconfig(&cluster_id, addr)).unwrap();
    (cluster_id, path, alert)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn near_limit_step_outputs_keep_history_bounded_and_the_report_right() {
    let tmp = tempfile::tempdir().unwrap();
    let (cluster, kubeconfig, alert) = bloated_cluster(tmp.path()).await;
    let config = config(&[(cluster.as_str(), kubeconfig)]);
    let (app, state) = api(&config).await;
    let (_runtime, workers) = all_pools(&config).await;

    let body = async {
        let (status, answer) = call(&app, "POST", "/webhook/alertmanager", serde_json::to_vec(&payload(vec![alert])).unwrap()).await;
        assert_eq!(status, 202, "{answer}");
        let id = answer["workflows"][0]["workflow_id"].as_str().expect("a workflow started").to_owned();
        let deadline = Instant::now() + Duration::from_secs(120);
        let task = loop {
            let (_, task) = call(&app, "GET", &format!("/tasks/{id}"), vec![]).await;
            if task["status"] == "completed" && task.get("report").is_some() {
                break task;
            }
            assert!(matches!(task["status"].as_str(), Some("running" | "completed")), "diagnosis ended badly: {task}");
            assert!(Instant::now() < deadline, "no report after 120 s: {task}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };

        // The report is the one the small scenario gives, its evidence quoting the log's last line.
        let report = &task["report"];
        assert_eq!(report["diagnosis"]["root_cause"], "crashloop-missing-config", "{report}");
        assert_eq!(report["diagnosis"]["resource"], "shop/Deployment/checkout", "{report}");
        let evidence = report["diagnosis"]["evidence"].to_string();
        assert!(evidence.contains("DATABASE_URL"), "{evidence}");
        assert!(!evidence.contains("kkkkkkkk") && !evidence.contains("cut to fit"), "the evidence quotes the fatal line, not noise or markers: {evidence}");

        // The whole outputs are in PostgreSQL, by reference from the steps of the report.
        let pool = aetherius_workers::pools::database(&config).await.unwrap();
        let stored = aetherius_activities::step_outputs::load(&pool, &id).await.unwrap();
        let commands: Vec<&str> = stored.iter().map(|s| s.command.as_str()).collect();
        assert_eq!(stored.len(), 2, "the pod read and its log were too large for history: {commands:?}");
        let log = stored.iter().find(|s| s.command.starts_with("kubectl logs")).expect("the log is stored");
        assert!(log.output.len() > 900 * 1024 && log.output.trim_end().ends_with("\"}"), "the whole log: {} bytes", log.output.len());
        assert!(log.output.contains("required key DATABASE_URL missing value"));
        let pod = stored.iter().find(|s| s.command.starts_with("kubectl get pods")).expect("the pod read is stored");
        assert_eq!(pod.objects[0]["metadata"]["annotations"]["example.com/build-manifest"].as_str().map(str::len), Some(NEAR_LIMIT));
        // The audit trail's digest of each step is the stored whole's sha256, not the capped copy's.
        let digests: Vec<(Option<String>, Option<String>)> =
            sqlx::query_as("SELECT command, result_digest FROM audit_logs WHERE workflow_id = $1 AND kind = 'command'").bind(&id).fetch_all(&pool).await.unwrap();
        for s in &stored {
            assert_eq!(s.sha256, output_digest(&s.output, &s.objects), "{}", s.command);
            assert!(
                digests.iter().any(|(c, d)| c.as_deref() == Some(s.command.as_str()) && d.as_deref() == Some(s.sha256.as_str())),
                "the audit row of {} names the stored output {}: {digests:?}",
                s.command,
                s.sha256
            );
        }

        // History: every step result capped, the whole history bounded.
        let handle = state.temporal.get_workflow_handle::<aetherius_workflows::DiagnosisWorkflow>(id.clone());
        let events = handle.fetch_history(WorkflowFetchHistoryOptions::default()).into_events().await.unwrap();
        let sizes: Vec<usize> = events.iter().map(|e| payload_bytes(&e.attributes)).collect();
        let (total, largest) = (sizes.iter().sum::<usize>(), sizes.iter().copied().max().unwrap_or(0));
        eprintln!("history of {id}: {} events, {total} payload bytes, largest payload {largest} bytes", events.len());
        assert!(largest < HISTORY_STEP_BYTES + 16 * 1024, "a payload of {largest} bytes");
        assert!(total < HISTORY_LIMIT, "history carries {total} payload bytes in {} events", events.len());
        // The audit trail holds one command row for every step the history scheduled, and
        // names the same command (Temporal's history is the second record).
        let scheduled: Vec<String> = events
            .iter()
            .filter_map(|e| match &e.attributes {
                Some(Attributes::ActivityTaskScheduledEventAttributes(a))
                    if a.activity_type.as_ref().is_some_and(|t| t.name == aetherius_core::queues::activity::EXECUTE_STEP) =>
                {
                    let input = a.input.as_ref().and_then(|p| p.payloads.first()).expect("execute_step has an input");
                    let command: aetherius_core::Command = serde_json::from_slice(&input.data).expect("the input is a Command");
                    Some(command.to_string())
                }
                _ => None,
            })
            .collect();
        assert!(!scheduled.is_empty(), "the diagnosis ran steps");
        let mut audited: Vec<String> = digests.iter().filter_map(|(c, _)| c.clone()).collect();
        let mut expected = scheduled.clone();
        audited.sort();
        expected.sort();
        assert_eq!(audited, expected, "one audit row per execute_step in the history");
        if let Ok(path) = std::env::var("AETHERIUS_RECORD_HISTORY") {
            let out = tokio::process::Command::new(std::env::var("AETHERIUS_TEST_TEMPORAL_CLI").unwrap())
                .args(["workflow", "show", "--address", &config.temporal.address.replace("http://", ""), "--namespace", &config.temporal.namespace, "--workflow-id", &id, "--output", "json"])
                .output()
                .await
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            std::fs::write(path, out.stdout).unwrap();
        }
    };
    tokio::select! {
        r = aetherius_workers::pools::run_workers(workers) => panic!("workers stopped: {r:?}"),
        () = body => {}
    }
}
