//! Typed declarations of the activities the workflow schedules. The implementations live
//! in the activities crate under the same names; the workflow never links them.

use aetherius_core::{
    AnalysisResult, Command, DecideInput, Decision, DiagnosticStrategy, ReportInput, StandardEvent, StepResult,
    StoredReport, StrategizeInput,
    notify::{ApprovalNotice, DeliveryInput, DeliveryStatus, PlannedDelivery},
    queues::activity,
};
use temporalio_common::ActivityDefinition;

macro_rules! declare {
    ($($(#[$doc:meta])* $ty:ident: $name:expr, $input:ty => $output:ty;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $ty;

        impl ActivityDefinition for $ty {
            type Input = $input;
            type Output = $output;
            fn name(&self) -> &str {
                $name
            }
        }
    )*};
}

declare! {
    /// Reasoning pool: first analysis of the alert.
    Analyze: activity::ANALYZE, StandardEvent => AnalysisResult;
    /// Reasoning pool: the first plan.
    Strategize: activity::STRATEGIZE, StrategizeInput => DiagnosticStrategy;
    /// Execution pool: one read-only step.
    ExecuteStep: activity::EXECUTE_STEP, Command => StepResult;
    /// Reasoning pool: continue or conclude.
    DecideNext: activity::DECIDE_NEXT, DecideInput => Decision;
    /// Reasoning pool: the execution queue of a cluster (its agent's, or the shared one).
    RouteExecution: activity::ROUTE_EXECUTION, String => String;
    /// Report pool: render and store.
    Report: activity::REPORT, ReportInput => StoredReport;
    /// Report pool: the channels a stored report goes to (workflow id in).
    PlanNotifications: activity::PLAN_NOTIFICATIONS, String => Vec<PlannedDelivery>;
    /// Report pool: send to one Slack channel.
    NotifySlack: activity::NOTIFY_SLACK, DeliveryInput => DeliveryStatus;
    /// Report pool: send to one generic webhook.
    NotifyWebhook: activity::NOTIFY_WEBHOOK, DeliveryInput => DeliveryStatus;
    /// Report pool: send one email.
    NotifyEmail: activity::NOTIFY_EMAIL, DeliveryInput => DeliveryStatus;
    /// Report pool: post a step waiting for approval to Slack (channels it reached out).
    NotifyApproval: activity::NOTIFY_APPROVAL, ApprovalNotice => u32;
}
