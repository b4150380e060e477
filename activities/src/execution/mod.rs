//! The execution pool: one read-only step against a cluster.

mod cluster;
mod kube_read;
mod render;

pub use cluster::{ClusterOptions, Clusters, ExecutionOptions};

use aetherius_core::{
    Command, StepResult, StepStatus,
    queues::activity,
    safety::{self, Layer, Rejection},
};
use std::{sync::Arc, time::Instant};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// Activities of the execution pool.
pub struct ExecutionActivities {
    clusters: Clusters,
}

impl ExecutionActivities {
    /// With the clusters this worker can reach.
    pub fn new(options: ExecutionOptions) -> Self {
        ExecutionActivities { clusters: Clusters::new(options) }
    }

    /// Runs a command through the safety layers and against its cluster. 4xx answers and
    /// rejections are results; only transport and server errors are `Err` (retryable).
    pub async fn run(&self, cmd: Command) -> Result<StepResult, kube_read::Error> {
        let started = Instant::now();
        if let Err(rejection) = self.check(&cmd) {
            tracing::warn!(command = %cmd, layer = ?rejection.layer, reason = %rejection.reason, "command rejected");
            return Ok(rejected(cmd, rejection));
        }
        let client = self.clusters.client(&cmd.cluster_id).await.map_err(kube_read::Error::Credentials)?;
        let outcome = kube_read::run(&client, &cmd).await;
        let max = self.clusters.options().max_output_bytes;
        let duration_ms = started.elapsed().as_millis() as u64;
        let mut result = match outcome {
            Ok(read) => render::success(cmd, read, max),
            Err(kube_read::Error::Status { code, message }) => {
                let status = match code {
                    404 => StepStatus::NotFound,
                    401 | 403 => StepStatus::Forbidden,
                    _ => StepStatus::Failed,
                };
                render::failure(cmd, status, message)
            }
            Err(other) => return Err(other),
        };
        result.duration_ms = duration_ms;
        Ok(result)
    }

    /// Layers 1-3 (pure) and 5 (the cluster's namespace allowlist). Layer 4 (RBAC) is the
    /// API server's own answer for now: a 403 comes back as `Forbidden`.
    fn check(&self, cmd: &Command) -> Result<(), Rejection> {
        safety::check(cmd)?;
        let Some(cluster) = self.clusters.options().clusters.get(&cmd.cluster_id) else {
            return Err(Rejection {
                layer: Layer::ClusterAccess,
                reason: format!("cluster {:?} is not configured", cmd.cluster_id),
            });
        };
        if let Some(ns) = &cmd.namespace
            && !cluster.namespaces.is_empty()
            && !cluster.namespaces.iter().any(|allowed| allowed == ns)
        {
            return Err(Rejection {
                layer: Layer::ClusterAccess,
                reason: format!("namespace {ns:?} is not on cluster {:?}'s allowlist", cmd.cluster_id),
            });
        }
        Ok(())
    }
}

fn rejected(command: Command, rejection: Rejection) -> StepResult {
    StepResult {
        command,
        status: StepStatus::Rejected,
        output: String::new(),
        objects: vec![],
        error: Some(rejection.to_string()),
        truncated: false,
        duration_ms: 0,
    }
}

#[activities]
impl ExecutionActivities {
    /// Runs one read-only diagnostic step.
    #[activity(name = activity::EXECUTE_STEP)]
    pub async fn execute_step(
        self: Arc<Self>,
        _ctx: ActivityContext,
        cmd: Command,
    ) -> Result<StepResult, ActivityError> {
        self.run(cmd).await.map_err(|e| {
            tracing::warn!(error = %e, "step failed, Temporal will retry");
            ActivityError::from(e)
        })
    }
}
