//! The execution pool: one read-only step against a cluster.

mod cluster;
pub mod credentials;
mod kube_read;
mod rbac;
mod render;

pub use cluster::{ClientError, ClusterOptions, Clusters, ExecutionOptions};

use aetherius_core::{
    Command, StepResult, StepStatus, budget,
    queues::activity,
    safety::{self, ClusterAccess, Rejection},
};
use std::{sync::Arc, time::Instant};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// Activities of the execution pool.
pub struct ExecutionActivities {
    clusters: Clusters,
    access: ClusterAccess,
    reviews: rbac::AccessReviews,
    /// Where outputs too large for history are kept (`None`: an agent, or no database).
    outputs: Option<sqlx::PgPool>,
}

impl ExecutionActivities {
    /// With the clusters this worker can reach.
    pub fn new(options: ExecutionOptions) -> Self {
        let access = cluster_access(&options);
        ExecutionActivities { clusters: Clusters::new(options), access, reviews: rbac::AccessReviews::default(), outputs: None }
    }

    /// Keeps outputs too large for history in `step_outputs` over `pool`.
    pub fn with_outputs(mut self, pool: Option<sqlx::PgPool>) -> Self {
        self.outputs = pool;
        self
    }

    /// Runs a command through the safety layers and against its cluster. 4xx answers and
    /// rejections are results; `Err` is a failure of the retry contract (transport, 429,
    /// 5xx: retried; unknown cluster, bad credentials configuration: not).
    pub async fn run(&self, cmd: Command) -> Result<StepResult, kube_read::Error> {
        let started = Instant::now();
        // Layers 1-3 and 5 are pure; layer 4 asks the cluster itself.
        if let Err(rejection) = safety::check_with_access(&cmd, &self.access) {
            return Ok(rejected(cmd, rejection));
        }
        let client = self.clusters.client(&cmd.cluster_id).await?;
        if let Err(rejection) = self.reviews.check(&client, &cmd.cluster_id, &safety::rbac_attributes(&cmd)).await? {
            // Refused before the call: the same fact a 403 would be, named by its layer.
            let mut result = rejected(cmd, rejection);
            result.status = StepStatus::Forbidden;
            return Ok(result);
        }
        let options = self.clusters.options();
        let bounds = kube_read::Bounds {
            page_size: options.list_page_size,
            max_items: options.max_list_items,
            log_tail_lines: options.default_log_tail_lines,
            log_bytes: options.max_log_bytes,
        };
        let scope = kube_read::Scope { namespaces: self.access.clusters.get(&cmd.cluster_id).map(Vec::as_slice).unwrap_or_default() };
        let outcome = kube_read::run(&client, &cmd, &bounds, &scope).await;
        let max = options.max_output_bytes;
        let duration_ms = started.elapsed().as_millis() as u64;
        let mut result = match outcome {
            Ok(read) => render::success(cmd, read, max),
            Err(kube_read::Error::Status { code, message }) if !aetherius_core::failure::transient_status(code) => {
                if code == 401 {
                    // Expired or rotated credentials: the next step fetches fresh ones.
                    self.clusters.invalidate(&cmd.cluster_id);
                }
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
}

/// Layer 5's view of the configured clusters: each one's namespace allowlist.
pub fn cluster_access(options: &ExecutionOptions) -> ClusterAccess {
    ClusterAccess { clusters: options.clusters.iter().map(|(id, c)| (id.clone(), c.namespaces.clone())).collect() }
}

fn rejected(command: Command, rejection: Rejection) -> StepResult {
    tracing::warn!(command = %command, layer = rejection.layer.name(), reason = %rejection.reason, "command rejected");
    StepResult {
        command,
        status: StepStatus::Rejected,
        output: String::new(),
        objects: vec![],
        error: Some(rejection.to_string()),
        truncated: false,
        duration_ms: 0,
        output_ref: None,
    }
}

#[activities]
impl ExecutionActivities {
    /// Runs one read-only diagnostic step.
    #[activity(name = activity::EXECUTE_STEP)]
    /// Heartbeats while the read runs, so a lost worker is noticed within the workflow's
    /// heartbeat timeout, and stops when the diagnosis is cancelled.
    pub async fn execute_step(
        self: Arc<Self>,
        ctx: ActivityContext,
        cmd: Command,
    ) -> Result<StepResult, ActivityError> {
        let attempt = ctx.info().attempt;
        match crate::heartbeat::heartbeating(&ctx, self.run(cmd.clone())).await? {
            // At most HISTORY_STEP_BYTES go back into history; the whole stays in PostgreSQL.
            Ok(result) => {
                let info = ctx.info();
                let workflow_id = info.workflow_id.clone().unwrap_or_default();
                Ok(crate::step_outputs::bound(self.outputs.as_ref(), &workflow_id, &info.activity_id, result).await)
            }
            // The last attempt of a transient failure: the diagnosis goes on with what it has,
            // and the step says what happened.
            Err(e) if e.failure_type().1 && attempt >= budget::EXECUTE_STEP.max_attempts => {
                tracing::warn!(error = %e, attempt, "step failed on its last attempt");
                Ok(render::failure(cmd, StepStatus::Failed, format!("{e} (gave up after {attempt} attempts)")))
            }
            Err(e) => {
                tracing::warn!(error = %e, attempt, "step failed");
                Err(e.into_activity_error())
            }
        }
    }
}
