//! Notifications: what the workflow passes between the report pool's notification
//! activities (the activities live in `aetherius_activities::notify`).

use serde::{Deserialize, Serialize};

/// Patch id of notifications (plan, then one activity per channel, after the report).
pub const NOTIFICATIONS_PATCH: &str = "notifications";

/// Patch id of the approval request posted to Slack when a step starts waiting.
pub const APPROVAL_NOTIFY_PATCH: &str = "approval-notify";

/// What `notify_approval` posts: the step waiting in diagnosis `workflow_id` of `event`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalNotice {
    /// Workflow id of the diagnosis.
    pub workflow_id: String,
    /// The alert (its labels pick the channels).
    pub event: crate::StandardEvent,
    /// The waiting step.
    pub pending: crate::approval::PendingApproval,
}

/// Kind of a notification channel; each has its own activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// Slack incoming webhook (Block Kit).
    Slack,
    /// Generic webhook: JSON, signed with HMAC-SHA256.
    Webhook,
    /// Email through SMTP.
    Email,
}

/// One channel a diagnosis is to be sent to, with its retry policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedDelivery {
    /// The channel's name in `[notifications.channels]`.
    pub channel: String,
    /// Which activity sends it.
    pub kind: ChannelKind,
    /// Attempts before it is recorded as failed.
    pub max_attempts: u32,
    /// First retry delay, milliseconds (doubles up to `max_interval_ms`).
    pub initial_interval_ms: u64,
    /// Largest retry delay, milliseconds.
    pub max_interval_ms: u64,
    /// Bound on one attempt, seconds.
    pub attempt_timeout_secs: u64,
}

/// What a channel activity sends: the stored report of `workflow_id` to `channel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryInput {
    /// Workflow id of the diagnosis (its report is read from PostgreSQL).
    pub workflow_id: String,
    /// The channel's name.
    pub channel: String,
    /// The retry policy's attempts: the last one records `failed`.
    pub max_attempts: u32,
}

/// Status of one channel's delivery (the `notifications` table, `deliveries` of a task).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Planned, not attempted yet.
    Pending,
    /// An attempt failed; Temporal retries it.
    Retrying,
    /// Delivered.
    Sent,
    /// Every attempt failed, or the endpoint refused it for good.
    Failed,
    /// Not sent: the fingerprint was notified on this channel inside the repeat window.
    Suppressed,
}

impl DeliveryStatus {
    /// The name stored in PostgreSQL.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Retrying => "retrying",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Suppressed => "suppressed",
        }
    }
}
