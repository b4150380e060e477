//! `cargo xtask demo`: bring the stack up, fire the demo scenario's alert at the webhook as
//! Alertmanager would, wait for the diagnosis and print it with its Temporal UI link.

use crate::stack::{self, API_PORT, DEMO_SCENARIO};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::{
    path::Path,
    time::{Duration, Instant},
};

pub(crate) fn run(root: &Path) -> Result<()> {
    let started = Instant::now();
    stack::up(root, stack::Components::demo())?;

    let scenario: Value = serde_yaml::from_str(
        &std::fs::read_to_string(root.join(DEMO_SCENARIO).join("scenario.yaml"))
            .context("reading the demo scenario")?,
    )?;
    let mut alert = scenario
        .get("alert")
        .cloned()
        .context("the demo scenario has no alert")?;
    // A fresh firing episode each run, so every demo is a new diagnosis rather than the
    // answer of the previous one (the workflow id is cluster + fingerprint + startsAt).
    alert["startsAt"] =
        json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let payload = json!({
        "version": "4", "status": "firing", "receiver": "aetherius", "groupKey": "{}:{alertname=\"demo\"}",
        "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": alert["labels"].clone(), "commonAnnotations": {},
        "externalURL": "http://alertmanager.local", "alerts": [alert],
    });
    let api = format!("http://127.0.0.1:{API_PORT}");
    println!(
        "==> firing {} at {api}/webhook/alertmanager",
        alert["labels"]["alertname"].as_str().unwrap_or("?")
    );
    let fired = Instant::now();
    let answer: Value = ureq::post(format!("{api}/webhook/alertmanager"))
        .send_json(&payload)
        .context("posting the alert")?
        .body_mut()
        .read_json()?;
    let workflow = &answer["workflows"][0];
    let id = workflow["workflow_id"]
        .as_str()
        .context("the webhook answered without a workflow id")?
        .to_owned();
    let ui_url = workflow["ui_url"].as_str().unwrap_or_default().to_owned();

    let deadline = Instant::now() + Duration::from_secs(120);
    let task = loop {
        let task: Value = ureq::get(format!("{api}/tasks/{id}"))
            .call()?
            .body_mut()
            .read_json()?;
        match task["status"].as_str() {
            Some("completed") if task.get("report").is_some() => break task,
            Some("running") | Some("completed") => {}
            other => bail!("diagnosis {id} ended as {other:?}: {task}"),
        }
        if Instant::now() > deadline {
            bail!("diagnosis {id} did not finish within 2 minutes; see {ui_url}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let latency = fired.elapsed();
    print_report(&task["report"]);
    println!(
        "\nalert → stored report: {:.2} s   (demo wall time {:.1} s)",
        latency.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "root cause: {}",
        task["report"]["diagnosis"]["root_cause"]
            .as_str()
            .unwrap_or("?")
    );
    println!("Temporal UI: {ui_url}");
    println!("REST:        {api}/tasks/{id}");
    println!("stop with `cargo xtask down` (state stays in .aetherius/)");
    Ok(())
}

fn print_report(report: &Value) {
    let d = &report["diagnosis"];
    println!("\n──────── diagnosis ────────");
    println!("root cause : {}", d["root_cause"].as_str().unwrap_or("?"));
    println!("fix in     : {}", d["resource"].as_str().unwrap_or("-"));
    println!(
        "confidence : {:.0}%",
        d["confidence"].as_f64().unwrap_or(0.0) * 100.0
    );
    println!("summary    : {}", d["summary"].as_str().unwrap_or(""));
    println!("evidence   :");
    for e in d["evidence"].as_array().into_iter().flatten() {
        println!(
            "  - {}: {}",
            e["source"].as_str().unwrap_or(""),
            e["detail"].as_str().unwrap_or("")
        );
    }
    println!("what to do :");
    for r in d["recommendations"].as_array().into_iter().flatten() {
        println!("  - {}", r.as_str().unwrap_or(""));
    }
    println!("steps run  :");
    for s in report["steps"].as_array().into_iter().flatten() {
        println!(
            "  - {} → {}",
            s["command"].as_str().unwrap_or(""),
            s["status"].as_str().unwrap_or("")
        );
    }
}
