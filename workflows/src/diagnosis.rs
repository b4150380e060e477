//! `DiagnosisWorkflow`: analyze → strategize → loop { execute_step → decide_next } → report.

use crate::activities::{Analyze, DecideNext, ExecuteStep, Report, RouteExecution, Strategize};
use aetherius_core::{
    DecideInput, Decision, DiagnosisOutcome, DiagnosisRequest, DiagnosisStatus, DiagnosticStep, Phase, ReportInput,
    StepResult, StepSummary, StrategizeInput, queues,
};
use std::{collections::VecDeque, time::Duration};
use temporalio_common::{ActivityCloseTimeouts, search_attributes::SearchAttributeKey};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ActivityOptions, WorkflowContext, WorkflowContextView, WorkflowResult};
use temporalio_workflow::{MemoValue, RetryPolicy};

/// Search attribute set when the diagnosis concludes.
pub const ROOT_CAUSE: SearchAttributeKey<String> = SearchAttributeKey::keyword(queues::search_attributes::ROOT_CAUSE);

/// Patch id of agent-mode routing (a `route_execution` activity before the first step).
pub const AGENT_ROUTING_PATCH: &str = "agent-routing";

/// The durable diagnosis of one alert.
#[workflow]
#[derive(Default)]
pub struct DiagnosisWorkflow {
    status: DiagnosisStatus,
}

fn retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_millis(200))
        .backoff_coefficient(2.0)
        .maximum_interval(Duration::from_secs(10))
        .maximum_attempts(max_attempts)
        .non_retryable_error_types(["InvalidInput", "InvalidCommand"])
        .build()
}

/// Per-attempt and overall bounds, in seconds.
fn timeouts(start_to_close: u64, schedule_to_close: u64) -> ActivityCloseTimeouts {
    ActivityCloseTimeouts::ScheduleAndStartToClose {
        schedule_to_close: Duration::from_secs(schedule_to_close),
        start_to_close: Duration::from_secs(start_to_close),
    }
}

/// Reasoning activities are CPU-only and quick.
fn reasoning_opts() -> ActivityOptions {
    ActivityOptions::with_close_timeouts(timeouts(60, 300))
        .task_queue(queues::REASONING)
        .retry_policy(retry(3))
        .build()
}

/// A step talks to a cluster: bounded by the command timeout, retried on transport errors.
/// `queue` is the shared pool or the cluster's own agent.
fn execution_opts(queue: &str) -> ActivityOptions {
    ActivityOptions::with_close_timeouts(timeouts(310, 600))
        .task_queue(queue.to_owned())
        .retry_policy(retry(3))
        .build()
}

/// Storing the report must not be lost: more attempts, longer backoff.
fn report_opts() -> ActivityOptions {
    ActivityOptions::with_close_timeouts(timeouts(30, 1800))
        .task_queue(queues::REPORT)
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .maximum_interval(Duration::from_secs(60))
                .maximum_attempts(20)
                .build(),
        )
        .build()
}

#[workflow_methods]
impl DiagnosisWorkflow {
    /// Runs the diagnosis.
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, req: DiagnosisRequest) -> WorkflowResult<DiagnosisOutcome> {
        let event = req.event;
        ctx.state_mut(|w| w.status.phase = Phase::Analyzing);
        let analysis = ctx.execute_activity(Analyze, event.clone(), reasoning_opts()).await?;
        let strategy = ctx
            .execute_activity(Strategize, StrategizeInput { event: event.clone(), analysis: analysis.clone() }, reasoning_opts())
            .await?;

        // Agent mode (patch "agent-routing"): ask once where this cluster's steps run.
        // Histories from before the patch keep the shared queue.
        let execution_queue = if ctx.patched(AGENT_ROUTING_PATCH) {
            ctx.execute_activity(RouteExecution, event.cluster_id.clone(), reasoning_opts()).await?
        } else {
            queues::EXECUTION.to_owned()
        };

        let mut pending: VecDeque<DiagnosticStep> = strategy.steps.into();
        let mut results: Vec<StepResult> = vec![];
        ctx.state_mut(|w| {
            w.status.phase = Phase::Investigating;
            w.status.steps_pending = pending.len() as u32;
        });
        let diagnosis = loop {
            let steps_left = req.max_steps.saturating_sub(results.len() as u32);
            let next = if steps_left > 0 { pending.pop_front() } else { None };
            if let Some(step) = next {
                let line = step.command.to_string();
                ctx.state_mut(|w| w.status.current_step = Some(line));
                let result = ctx.execute_activity(ExecuteStep, step.command, execution_opts(&execution_queue)).await?;
                results.push(result);
            }
            let input = DecideInput {
                event: event.clone(),
                analysis: analysis.clone(),
                results: results.clone(),
                pending: pending.iter().cloned().collect(),
                steps_left: req.max_steps.saturating_sub(results.len() as u32),
            };
            match ctx.execute_activity(DecideNext, input, reasoning_opts()).await? {
                Decision::Conclude { diagnosis } => break diagnosis,
                Decision::Continue { add_steps, .. } => {
                    for s in add_steps.into_iter().rev() {
                        pending.push_front(s);
                    }
                }
            }
            let (executed, queued) = (results.len() as u32, pending.len() as u32);
            ctx.state_mut(|w| {
                w.status.steps_executed = executed;
                w.status.steps_pending = queued;
            });
        };

        ctx.upsert_search_attributes([ROOT_CAUSE.value_set(diagnosis.root_cause.as_str().to_owned())]);
        let _ = ctx.upsert_memo([("summary", Some(MemoValue::new(diagnosis.summary.clone())))]);
        let steps_executed = results.len() as u32;
        let (rc, summary) = (diagnosis.root_cause, diagnosis.summary.clone());
        ctx.state_mut(|w| {
            w.status.phase = Phase::Reporting;
            w.status.steps_executed = steps_executed;
            w.status.steps_pending = 0;
            w.status.root_cause = Some(rc);
            w.status.summary = Some(summary);
        });
        let report_input = ReportInput {
            workflow_id: ctx.workflow_id().to_owned(),
            event,
            analysis,
            steps: results.iter().map(StepSummary::from).collect(),
            diagnosis: diagnosis.clone(),
        };
        let stored = ctx.execute_activity(Report, report_input, report_opts()).await?;
        ctx.state_mut(|w| w.status.phase = Phase::Completed);
        Ok(DiagnosisOutcome { report_id: stored.report_id, diagnosis, steps_executed })
    }

    /// Where the diagnosis stands.
    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> DiagnosisStatus {
        self.status.clone()
    }
}
