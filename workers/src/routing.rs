//! Agent mode: where a diagnosis sends its steps. A cluster that runs its own execution
//! worker (`aetherius worker --pool execution --cluster <id>` inside the cluster) polls
//! `aetherius-execution-<id>`; steps go there while it is polling, so credentials never
//! leave that cluster. Otherwise they go to the shared execution pool.
//!
//! The workflow cannot ask Temporal itself (it must stay deterministic), so it asks this
//! activity once per diagnosis and the answer is recorded in its history.

use aetherius_core::queues::{Queues, activity};
use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};
use temporalio_client::{Client, tonic};
use temporalio_common::protos::temporal::api::{
    enums::v1::TaskQueueType, taskqueue::v1::TaskQueue, workflowservice::v1::DescribeTaskQueueRequest,
};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// A poller seen within this window counts as a live agent.
pub const AGENT_LIVENESS: Duration = Duration::from_secs(120);

/// The routing activity; needs a Temporal client to see who polls.
pub struct RoutingActivities {
    client: Client,
    queues: Queues,
}

impl RoutingActivities {
    /// With the client and the queues of the reasoning worker.
    pub fn new(client: Client, queues: Queues) -> Self {
        RoutingActivities { client, queues }
    }

    /// The queue for `cluster`'s steps: its agent's queue when an agent polled it
    /// recently, else the shared execution queue.
    pub async fn queue_for(&self, cluster: &str) -> Result<String, tonic::Status> {
        let agent_queue = self.queues.execution_for_cluster(cluster);
        let request = DescribeTaskQueueRequest {
            namespace: self.client.options().namespace.clone(),
            task_queue: Some(TaskQueue { name: agent_queue.clone(), kind: 1, ..Default::default() }),
            task_queue_type: TaskQueueType::Activity as i32,
            ..Default::default()
        };
        let mut service = self.client.connection().workflow_service();
        let answer = service.describe_task_queue(tonic::Request::new(request)).await?.into_inner();
        let now = SystemTime::now();
        let live = answer.pollers.iter().any(|p| {
            p.last_access_time.as_ref().is_some_and(|t| {
                let seen = SystemTime::UNIX_EPOCH + Duration::new(t.seconds.max(0) as u64, t.nanos.max(0) as u32);
                now.duration_since(seen).unwrap_or_default() < AGENT_LIVENESS
            })
        });
        Ok(if live { agent_queue } else { self.queues.execution.clone() })
    }
}

#[activities]
impl RoutingActivities {
    /// The execution queue for a cluster (agent mode or shared pool).
    #[activity(name = activity::ROUTE_EXECUTION)]
    pub async fn route_execution(self: Arc<Self>, ctx: ActivityContext, cluster: String) -> Result<String, ActivityError> {
        let queue = aetherius_activities::heartbeat::heartbeating(&ctx, self.queue_for(&cluster)).await?.map_err(|e| {
            tracing::warn!(cluster, error = %e, "could not describe the agent queue; Temporal will retry");
            ActivityError::from(anyhow::anyhow!("describe task queue: {e}"))
        })?;
        tracing::info!(cluster, queue, "steps routed");
        Ok(queue)
    }
}
