//! Replays every history in histories/ against today's workflow code. A failure means a
//! change would break diagnoses already running: put the change behind `patched()`
//! instead of re-recording the history.

use aetherius_workflows::DiagnosisWorkflow;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use std::path::PathBuf;
use temporalio_client::WorkflowHistory;
use temporalio_common::protos::temporal::api::history::v1::History;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

fn histories() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("histories");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// Reads the proto3 JSON that `temporal workflow show --output json` writes.
fn read_cli_history(pool: &DescriptorPool, json: &[u8]) -> Result<History, String> {
    let descriptor = pool.get_message_by_name("temporal.api.history.v1.History").ok_or("History descriptor missing")?;
    let mut de = serde_json::Deserializer::from_slice(json);
    let message = DynamicMessage::deserialize(descriptor, &mut de).map_err(|e| e.to_string())?;
    History::decode(message.encode_to_vec().as_slice()).map_err(|e| e.to_string())
}

#[tokio::test]
async fn every_recorded_history_replays_without_nondeterminism() {
    let files = histories();
    assert!(!files.is_empty(), "histories/ is empty: record one with `temporal workflow show --output json`");
    let pool = DescriptorPool::decode(std::fs::read(env!("TEMPORAL_DESCRIPTOR_SET")).unwrap().as_slice()).unwrap();
    let options = WorkflowReplayerOptions::new().register_workflow::<DiagnosisWorkflow>().expect("register").build();
    let replayer = WorkflowReplayer::new(options).expect("replayer");
    for file in files {
        let history = read_cli_history(&pool, &std::fs::read(&file).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(history.events.len() > 3, "{}: too short to be a diagnosis", file.display());
        replayer
            .replay_workflow(WorkflowHistory::from(history))
            .await
            .unwrap_or_else(|e| panic!("{} no longer replays: {e}", file.display()));
    }
}
