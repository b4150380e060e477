//! The eval harness scores diagnoses as SCENARIOS.md says, and a wrong expectation fails.

use crate::support::{config, scenario_dir};
use std::path::Path;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eval_scores_each_scenario_and_a_wrong_expectation_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("scenarios");
    copy_dir(&scenario_dir("oom-killed-worker"), &dir.join("a-oom"));
    copy_dir(&scenario_dir("oom-killed-worker"), &dir.join("b-oom-wrong-expectation"));
    let wrong = dir.join("b-oom-wrong-expectation/scenario.yaml");
    let text = std::fs::read_to_string(&wrong).unwrap().replace("root_cause: oom-killed", "root_cause: crashloop-app-error");
    std::fs::write(&wrong, text).unwrap();

    let mut config = config(&[]);
    // Its own namespace: the eval's workers must not take the other tests' tasks.
    config.temporal.namespace = "aetherius-eval".into();
    let json = tmp.path().join("eval.json");
    let rows = aetherius_workers::eval::run(config, &dir, Some(&json)).await.unwrap();

    assert_eq!(rows.len(), 2);
    assert!(rows[0].passed, "{:?}", rows[0]);
    assert_eq!(rows[0].root_cause, "oom-killed");
    assert!(!rows[1].passed, "a wrong expectation must fail: {:?}", rows[1]);
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let first = &written[0];
    for key in ["id", "root_cause", "resource", "evidence", "passed", "steps", "seconds"] {
        assert!(first.get(key).is_some(), "JSON row lacks {key}: {first}");
    }
    assert!(first["evidence"].as_str().unwrap().contains("OOMKilled"), "{first}");
}
