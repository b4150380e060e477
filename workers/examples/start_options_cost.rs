//! What each workflow start option of a diagnosis costs the Temporal server: unique starts
//! of `DiagnosisWorkflow` with no option, with one option each, and with every option the
//! webhook sets (`aetherius_api::start_options`), in interleaved rounds, 16 in flight;
//! nothing polls the workflows and they are terminated at the end. Reads the usual
//! configuration (`AETHERIUS_TEMPORAL__*`). Figures in docs/RELIABILITY.md (latency and
//! ingest):
//!
//! `cargo run --release -p aetherius-workers --example start_options_cost`
use aetherius_core::{AlertmanagerAlert, DiagnosisRequest, StandardEvent, priority, queues::search_attributes as sa};
use aetherius_workers::{config::Config, pools};
use aetherius_workflows::DiagnosisWorkflow;
use futures::{StreamExt, stream};
use std::time::Instant;
use temporalio_client::{WorkflowStartOptions, WorkflowTerminateOptions};
use temporalio_common::{Priority, search_attributes::{SearchAttributeKey, SearchAttributes}};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load(None)?;
    let client = pools::temporal_client(&config).await?;
    // A queue of its own: no worker runs these workflows, even beside a running stack.
    let queue = aetherius_core::queues::Queues::with_suffix(&format!("start-cost-{}", std::process::id())).reasoning;
    let per = 250usize;
    let rounds = 6;
    let names = ["none", "search_attrs", "timeout", "summary", "priority", "id_policies", "all"];
    let mut secs = vec![0f64; names.len()];
    let mut ids = vec![];
    let mut n = 0usize;
    let pid = std::process::id();
    let mut failed: Option<anyhow::Error> = None;
    for round in 0..rounds {
        for k in 0..names.len() {
            let way = (round + k) % names.len();
            let t = Instant::now();
            let reqs: Vec<(String, DiagnosisRequest)> = (0..per).map(|_| {
                n += 1;
                let alert: AlertmanagerAlert = serde_json::from_value(serde_json::json!({"status":"firing","labels":{"alertname":"KubePodCrashLooping","severity":"critical","cluster":format!("cost{pid}"),"namespace":"shop","pod":"p"},"annotations":{},"startsAt":format!("2026-01-01T00:00:{:02}Z", n % 60),"endsAt":"0001-01-01T00:00:00Z","generatorURL":"", "fingerprint": format!("{pid}-{n}")})).unwrap();
                let mut event = StandardEvent::from_alertmanager(&alert, "default");
                event.id = format!("cost-{pid}-{n}");
                (event.id.clone(), DiagnosisRequest { event, max_steps: 12, priority: 3, approval: Default::default(), retry_of: None })
            }).collect();
            let done: Vec<anyhow::Result<String>> = stream::iter(reqs).map(|(id, req)| {
                let (client, queue) = (&client, &queue);
                async move {
                    let e = &req.event;
                    let mut o = WorkflowStartOptions::new(queue.clone(), id.clone()).build();
                    let attrs = || SearchAttributes::new(vec![
                        SearchAttributeKey::<String>::keyword(sa::CLUSTER_ID).value_set(e.cluster_id.clone()),
                        SearchAttributeKey::<String>::keyword(sa::SEVERITY).value_set(e.severity.clone()),
                        SearchAttributeKey::<String>::keyword(sa::ALERT_NAME).value_set(e.alertname().to_owned()),
                        SearchAttributeKey::<i64>::int(sa::PRIORITY).value_set(3),
                        SearchAttributeKey::<String>::keyword(sa::NAMESPACE).value_set("shop".to_owned()),
                    ]);
                    match way {
                        1 => o.search_attributes = Some(attrs()),
                        2 => o.execution_timeout = Some(req.execution_timeout()),
                        3 => o.static_summary = Some(format!("{} on {}", e.alertname(), e.cluster_id)),
                        4 => o.priority = Priority::builder().priority_key(priority::temporal_priority_key(3)).build(),
                        5 => { o.id_reuse_policy = temporalio_client::WorkflowIdReusePolicy::RejectDuplicate; o.id_conflict_policy = temporalio_client::WorkflowIdConflictPolicy::Fail; }
                        6 => o = aetherius_api::start_options(queue, id.clone(), &req),
                        _ => {}
                    }
                    client.start_workflow(DiagnosisWorkflow::run, req, o).await?;
                    Ok(id)
                }
            }).buffer_unordered(16).collect().await;
            secs[way] += t.elapsed().as_secs_f64();
            for d in done {
                match d {
                    Ok(id) => ids.push(id),
                    Err(e) => failed = failed.or(Some(e)),
                }
            }
        }
    }
    // End every started workflow, whatever happened.
    for id in ids {
        let h = client.get_workflow_handle::<DiagnosisWorkflow>(id);
        let _ = h.terminate(WorkflowTerminateOptions::builder().reason("benchmark workflow").build()).await;
    }
    if let Some(e) = failed {
        return Err(e);
    }
    for (i, name) in names.iter().enumerate() {
        let rate = (per * rounds) as f64 / secs[i];
        println!("{name:>14}: {rate:6.0}/s  ({:.0}% of none)", 100.0 * rate / ((per * rounds) as f64 / secs[0]));
    }
    Ok(())
}
