//! The heartbeat every activity that waits on a cluster, an LLM or the database runs
//! beside its work: a worker lost mid-activity is noticed within the heartbeat timeout
//! (`aetherius_core::budget`), and a cancelled diagnosis stops the work at once.

use aetherius_core::budget::HEARTBEAT_EVERY_SECS;
use std::{future::Future, time::Duration};
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// Runs `work` while heartbeating every [`HEARTBEAT_EVERY_SECS`]; a cancel (delivered with
/// a heartbeat's answer) drops `work` and returns the cancellation.
pub async fn heartbeating<F: Future>(ctx: &ActivityContext, work: F) -> Result<F::Output, ActivityError> {
    let beats = async {
        loop {
            if let Err(e) = ctx.record_heartbeat(()).await {
                tracing::warn!(error = %e, "heartbeat not recorded");
            }
            tokio::time::sleep(Duration::from_secs(HEARTBEAT_EVERY_SECS)).await;
        }
    };
    tokio::select! {
        out = work => Ok(out),
        () = ctx.cancelled() => {
            tracing::info!(activity = %ctx.info().activity_type, "activity stopped: cancelled");
            Err(ActivityError::cancelled())
        }
        () = beats => unreachable!("the heartbeat loop never ends"),
    }
}
