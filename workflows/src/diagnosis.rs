//! `DiagnosisWorkflow`: analyze → strategize → loop { [approval] → execute_step →
//! decide_next } → report.
//!
//! People steer it: the `approve` / `reject` updates decide a step that waits for a human,
//! the `alert_resolved` signal ends it early, and a cancel request ends it with a report.

use crate::activities::{
    Analyze, DecideNext, ExecuteStep, NotifyApproval, NotifyEmail, NotifySlack, NotifyWebhook, PlanNotifications, Report, RouteExecution,
    Strategize,
};
use aetherius_core::{
    AnalysisResult, DecideInput, Decision, Diagnosis, DiagnosisOutcome, DiagnosisRequest, DiagnosisStatus, DiagnosticStep,
    Ending, Evidence, Observed, Phase, ReportInput, RootCause, StepResult, StepStatus, StepSummary, StrategizeInput,
    approval::{AlertResolved, ApprovalAck, ApprovalRecord, ApprovalRequest, PendingApproval, Verdict},
    budget,
    notify::{APPROVAL_NOTIFY_PATCH, ApprovalNotice, ChannelKind, DeliveryInput, NOTIFICATIONS_PATCH, PlannedDelivery},
    queues::{self, Queues},
};
use futures::{FutureExt, future::FusedFuture};
use std::{collections::VecDeque, error::Error, time::Duration};
use temporalio_common::{ActivityCloseTimeouts, search_attributes::SearchAttributeKey};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, SyncWorkflowContext, WorkflowCancellationToken, WorkflowContext,
    WorkflowContextView, WorkflowResult, WorkflowTermination, workflows::select,
};
use temporalio_workflow::{CancellableFuture, MemoValue, RetryPolicy};

/// Search attribute set when the diagnosis concludes.
pub const ROOT_CAUSE: SearchAttributeKey<String> = SearchAttributeKey::keyword(queues::search_attributes::ROOT_CAUSE);

/// Patch id of agent-mode routing (a `route_execution` activity before the first step).
pub const AGENT_ROUTING_PATCH: &str = "agent-routing";

/// Patch id of the loop guard: a `Continue` with no step left to run, or once the step
/// budget is spent, ends the investigation (before it, only `decide_next` could end it).
pub const BOUNDED_LOOP_PATCH: &str = "bounded-loop";
/// Patch id of compact `decide_next` inputs ([`Observed`] steps instead of full results).
pub const COMPACT_DECIDE_PATCH: &str = "compact-decide";

/// The durable diagnosis of one alert.
#[workflow]
#[derive(Default)]
pub struct DiagnosisWorkflow {
    status: DiagnosisStatus,
    /// The first analysis, once made (the report needs it even when cancelled).
    analysis: Option<AnalysisResult>,
    /// A person's decision on the waiting step, until the run loop takes it.
    decision: Option<(Verdict, ApprovalRequest)>,
}

/// Why the investigation stopped before its conclusion.
enum Stop {
    /// The workflow was cancelled.
    Cancelled,
    /// An activity failed for good: the workflow's failure, and the failure in words.
    Failed(WorkflowTermination, String),
}

impl From<ActivityExecutionError> for Stop {
    fn from(e: ActivityExecutionError) -> Self {
        match e {
            ActivityExecutionError::Cancelled(_) => Stop::Cancelled,
            other => {
                let words = failure_words(&other);
                Stop::Failed(other.into(), words)
            }
        }
    }
}

impl From<temporalio_workflow::WorkflowCancellationError> for Stop {
    fn from(_: temporalio_workflow::WorkflowCancellationError) -> Self {
        Stop::Cancelled
    }
}

fn retry(b: &budget::ActivityBudget) -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_millis(b.initial_interval_ms))
        .backoff_coefficient(2.0)
        .maximum_interval(Duration::from_secs(b.max_interval_secs))
        .maximum_attempts(b.max_attempts)
        // Activities mark these non-retryable themselves; listed too, for older workers.
        .non_retryable_error_types(aetherius_core::failure::NON_RETRYABLE)
        .build()
}

/// An activity's failure in words, innermost cause last, for the report.
fn failure_words(e: &ActivityExecutionError) -> String {
    let mut words = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !words.contains(&text) {
            words = format!("{words}: {text}");
        }
        source = inner.source();
    }
    words
}

/// Patch id of the failure report: an activity that fails for good ends the diagnosis with
/// a report saying where and why, then the workflow fails (before it, it failed with no report).
pub const FAILED_REPORT_PATCH: &str = "failed-report";

/// Per-attempt and overall bounds, in seconds.
fn timeouts(start_to_close: u64, schedule_to_close: u64) -> ActivityCloseTimeouts {
    ActivityCloseTimeouts::ScheduleAndStartToClose {
        schedule_to_close: Duration::from_secs(schedule_to_close),
        start_to_close: Duration::from_secs(start_to_close),
    }
}

/// A running activity's worker heartbeats every few seconds: a lost worker or a cancelled
/// diagnosis is noticed within this.
pub const HEARTBEAT_TIMEOUT_SECS: u64 = budget::HEARTBEAT_TIMEOUT_SECS;

/// An activity with its budget (`aetherius_core::budget`) and the heartbeat timeout.
fn budgeted(b: &budget::ActivityBudget, queue: &str) -> ActivityOptions {
    let mut opts = timed(b, queue);
    opts.heartbeat_timeout = Some(Duration::from_secs(budget::HEARTBEAT_TIMEOUT_SECS));
    opts
}

/// An activity with its budget and no heartbeat (its attempt is short enough on its own).
fn timed(b: &budget::ActivityBudget, queue: &str) -> ActivityOptions {
    ActivityOptions::with_close_timeouts(timeouts(b.start_to_close_secs, b.schedule_to_close_secs))
        .task_queue(queue.to_owned())
        .retry_policy(retry(b))
        .build()
}

/// Its own cancellation token: runs to its end even when the diagnosis is cancelled.
fn uncancelled(mut opts: ActivityOptions) -> ActivityOptions {
    opts.cancellation_token = Some(WorkflowCancellationToken::new());
    opts
}

/// Reasoning activities: rules, the knowledge base, an LLM call.
fn reasoning_opts(q: &Queues) -> ActivityOptions {
    budgeted(&budget::REASONING, &q.reasoning)
}

/// A step talks to a cluster: bounded by the command timeout, retried on transient errors.
/// `queue` is the shared pool or the cluster's own agent.
fn execution_opts(queue: &str) -> ActivityOptions {
    budgeted(&budget::EXECUTE_STEP, queue)
}

/// Storing the report must not be lost: more attempts, longer backoff. Its own cancellation
/// token, so a cancelled diagnosis still stores its report.
fn report_opts(q: &Queues) -> ActivityOptions {
    uncancelled(budgeted(&budget::REPORT, &q.report))
}

/// Planning notifications reads PostgreSQL: a failure only means nobody is notified; the
/// diagnosis still completes.
fn plan_notifications_opts(q: &Queues) -> ActivityOptions {
    uncancelled(budgeted(&budget::PLAN_NOTIFICATIONS, &q.report))
}

/// Posting an approval request to Slack (`budget::APPROVAL_NOTICE`): its own cancellation
/// token; it never holds up the decision for long nor fails the diagnosis.
fn approval_notify_opts(q: &Queues) -> ActivityOptions {
    uncancelled(timed(&budget::APPROVAL_NOTICE, &q.report))
}

/// One channel: its own retry policy (from `[notifications.channels]`); Retry-After from
/// the endpoint overrides the backoff of the next attempt.
fn delivery_opts(d: &PlannedDelivery, q: &Queues) -> ActivityOptions {
    let attempts = u64::from(d.max_attempts.max(1));
    let total = attempts * (d.attempt_timeout_secs + 5) + attempts * d.max_interval_ms.div_ceil(1000) + 60;
    let total = total.min(budget::NOTIFY_MAX_SECS);
    ActivityOptions::with_close_timeouts(timeouts((d.attempt_timeout_secs + 5).min(total), total))
        .task_queue(q.report.clone())
        .heartbeat_timeout(Duration::from_secs(budget::HEARTBEAT_TIMEOUT_SECS))
        .cancellation_token(WorkflowCancellationToken::new())
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(d.initial_interval_ms.max(1)))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_millis(d.max_interval_ms.max(d.initial_interval_ms).max(1)))
                .maximum_attempts(d.max_attempts.max(1))
                .build(),
        )
        .build()
}

fn now(ctx: &WorkflowContext<DiagnosisWorkflow>) -> chrono::DateTime<chrono::Utc> {
    ctx.workflow_time().map(chrono::DateTime::<chrono::Utc>::from).unwrap_or_default()
}

/// A step that needed a human and did not run.
fn skipped(command: aetherius_core::Command, record: &ApprovalRecord) -> StepResult {
    let why = match record.verdict {
        Verdict::Rejected => format!(
            "rejected by {}{}",
            record.by.as_deref().unwrap_or("someone"),
            record.comment.as_deref().filter(|c| !c.is_empty()).map(|c| format!(": {c}")).unwrap_or_default()
        ),
        Verdict::TimedOut => "nobody approved it in time".to_owned(),
        Verdict::AlertResolved => "the alert resolved while it waited for approval".to_owned(),
        Verdict::Cancelled => "the diagnosis was cancelled while it waited for approval".to_owned(),
        Verdict::Approved => "approved".to_owned(),
    };
    StepResult {
        command,
        status: StepStatus::Skipped,
        output: String::new(),
        objects: vec![],
        error: Some(format!("not run: {why} (it needed approval because {})", record.reason)),
        truncated: false,
        duration_ms: 0,
        output_ref: None,
    }
}

/// The diagnosis of an investigation that ran out of steps (or budget) without a conclusion.
fn unconcluded(results: &[StepResult], budget_spent: bool, max_steps: u32, reason: &str) -> Diagnosis {
    let ran = results.iter().filter(|r| r.status != StepStatus::Skipped).count();
    let why = if budget_spent {
        format!("the step budget ({max_steps}) was spent")
    } else {
        "no step was left to run".to_owned()
    };
    Diagnosis {
        root_cause: RootCause::Unknown,
        resource: None,
        summary: format!("The investigation stopped after {ran} step(s) without a conclusion: {why} (last reason to go on: {reason})."),
        evidence: vec![],
        recommendations: vec![if budget_spent {
            "Read the steps below; if they point somewhere, retry with a larger `api.max_steps`.".into()
        } else {
            "Read the steps below and investigate by hand; the reasoning proposed nothing more to run.".into()
        }],
        confidence: 0.0,
    }
}

/// Whether a conclusion names a cause a human must act on.
fn names_a_cause(d: &Diagnosis) -> bool {
    !matches!(d.root_cause, RootCause::Unknown | RootCause::NotAnIssue)
}

fn resolved_at(r: &AlertResolved, fallback: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    r.ends_at.unwrap_or(fallback)
}

#[workflow_methods]
impl DiagnosisWorkflow {
    /// Runs the diagnosis.
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, req: DiagnosisRequest) -> WorkflowResult<DiagnosisOutcome> {
        ctx.state_mut(|w| w.status.phase = Phase::Analyzing);
        let started_at = now(ctx);
        let mut failure = None;
        let (mut diagnosis, mut ending) = match Self::investigate(ctx, &req).await {
            Ok(d) => (d, Ending::Concluded),
            Err(Stop::Failed(e, words)) => {
                if !ctx.patched(FAILED_REPORT_PATCH) {
                    return Err(e);
                }
                failure = Some(e);
                let (phase, step) = ctx.state(|w| (w.status.phase, w.status.current_step.clone()));
                let stage = match (phase, step) {
                    (Phase::Investigating, Some(step)) => format!("investigating (step `{step}`)"),
                    (phase, _) => serde_json::to_value(phase)
                        .ok()
                        .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
                        .unwrap_or_else(|| "diagnosing".into()),
                };
                let steps = ctx.state(|w| w.status.steps.iter().filter(|s| s.status != StepStatus::Skipped).count());
                let diagnosis = Diagnosis {
                    root_cause: RootCause::Unknown,
                    resource: None,
                    summary: format!(
                        "The diagnosis stopped while {stage} after {steps} step(s): {words}. No cause was established."
                    ),
                    evidence: vec![],
                    recommendations: vec![
                        "Fix what the failure names (a cluster's configuration or credentials, an unreachable service), then retry the diagnosis (POST /tasks/{id}/retry).".into(),
                        "Meanwhile, investigate the alert by hand: Aetherius did not conclude.".into(),
                    ],
                    confidence: 0.0,
                };
                (diagnosis, Ending::Failed { stage, error: words })
            }
            Err(Stop::Cancelled) => {
                let reason = ctx.cancellation_token().reason().filter(|r| !r.is_empty());
                let steps = ctx.state(|w| w.status.steps.iter().filter(|s| s.status != StepStatus::Skipped).count());
                let diagnosis = Diagnosis {
                    root_cause: RootCause::Unknown,
                    resource: None,
                    summary: format!(
                        "The diagnosis was cancelled{} after {steps} step(s), before it reached a conclusion.",
                        reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
                    ),
                    evidence: vec![],
                    recommendations: vec!["If the alert still fires, retry the diagnosis (POST /tasks/{id}/retry).".into()],
                    confidence: 0.0,
                };
                (diagnosis, Ending::Cancelled { reason })
            }
        };
        let mut notes = vec![];
        if let (Ending::Concluded, Some(resolved)) = (&ending, ctx.state(|w| w.status.resolved.clone())) {
            let at = resolved_at(&resolved, now(ctx));
            if names_a_cause(&diagnosis) {
                notes.push(format!(
                    "The alert resolved at {at} while the diagnosis ran; the cause below was found before that. Check it is really gone: it may come back."
                ));
            } else {
                notes.push(format!("The alert resolved at {at} before any cause was found."));
                diagnosis = Diagnosis {
                    root_cause: RootCause::NotAnIssue,
                    resource: diagnosis.resource,
                    summary: format!(
                        "{} resolved itself at {at} before the diagnosis found a cause. Nothing to do unless it fires again.",
                        req.event.alertname()
                    ),
                    evidence: {
                        let mut e = vec![Evidence {
                            source: if resolved.source.is_empty() { "alert".into() } else { resolved.source.clone() },
                            detail: format!("the alert stopped firing at {at}"),
                        }];
                        e.extend(diagnosis.evidence);
                        e
                    },
                    recommendations: vec![format!(
                        "If {} fires again, let the diagnosis run to its end; a recurring short alert may need a longer `for:` in its rule.",
                        req.event.alertname()
                    )],
                    confidence: diagnosis.confidence.max(0.5),
                };
            }
            ending = Ending::AlertResolved { at, source: resolved.source };
        }
        let approvals = ctx.state(|w| w.status.approvals.clone());
        let skipped = approvals.iter().filter(|a| !a.verdict.runs()).count();
        if skipped > 0 {
            notes.push(format!("{skipped} step(s) that needed approval did not run; see Approvals."));
        }

        let cancelled = matches!(ending, Ending::Cancelled { .. });
        if !cancelled {
            ctx.upsert_search_attributes([ROOT_CAUSE.value_set(diagnosis.root_cause.as_str().to_owned())]);
        }
        let _ = ctx.upsert_memo([("summary", Some(MemoValue::new(diagnosis.summary.clone())))]);
        let steps = ctx.state(|w| w.status.steps.clone());
        let steps_executed = steps.iter().filter(|s| s.status != StepStatus::Skipped).count() as u32;
        let (rc, summary) = (diagnosis.root_cause, diagnosis.summary.clone());
        ctx.state_mut(|w| {
            w.status.phase = Phase::Reporting;
            w.status.steps_executed = steps_executed;
            w.status.steps_pending = 0;
            w.status.plan.clear();
            w.status.root_cause = Some(rc);
            w.status.summary = Some(summary);
        });
        let analysis = ctx.state(|w| w.analysis.clone()).unwrap_or_else(|| AnalysisResult {
            summary: "The diagnosis stopped before its first analysis.".into(),
            ..Default::default()
        });
        let report_input = ReportInput {
            workflow_id: ctx.workflow_id().to_owned(),
            event: req.event.clone(),
            analysis,
            steps,
            diagnosis: diagnosis.clone(),
            approvals,
            ending,
            notes,
            retry_of: req.retry_of.clone(),
            started_at: Some(started_at),
            ended_at: Some(now(ctx)),
            llm_usage: vec![],
        };
        let stored = ctx.execute_activity(Report, report_input, report_opts(&Queues::of_workflow(ctx.task_queue()))).await?;
        if cancelled {
            ctx.state_mut(|w| w.status.phase = Phase::Cancelled);
            return Err(WorkflowTermination::cancelled());
        }
        if ctx.patched(NOTIFICATIONS_PATCH) {
            Self::notify(ctx).await;
        }
        if let Some(failure) = failure {
            ctx.state_mut(|w| w.status.phase = Phase::Failed);
            return Err(failure);
        }
        ctx.state_mut(|w| w.status.phase = Phase::Completed);
        Ok(DiagnosisOutcome { report_id: stored.report_id, diagnosis, steps_executed })
    }

    /// Sends the stored report to the channels its routes name, each channel its own
    /// activity, all at once: a channel that fails (for good) fails alone, and never the
    /// diagnosis. Each activity records its delivery status in PostgreSQL.
    async fn notify(ctx: &mut WorkflowContext<Self>) {
        let workflow_id = ctx.workflow_id().to_owned();
        let q = Queues::of_workflow(ctx.task_queue());
        let planned = match ctx.execute_activity(PlanNotifications, workflow_id.clone(), plan_notifications_opts(&q)).await {
            Ok(p) => p,
            Err(_) => return,
        };
        let sends = planned.iter().map(|d| {
            let input = DeliveryInput { workflow_id: workflow_id.clone(), channel: d.channel.clone(), max_attempts: d.max_attempts };
            let opts = delivery_opts(d, &q);
            let ctx = &*ctx;
            async move {
                match d.kind {
                    ChannelKind::Slack => ctx.execute_activity(NotifySlack, input, opts).await,
                    ChannelKind::Webhook => ctx.execute_activity(NotifyWebhook, input, opts).await,
                    ChannelKind::Email => ctx.execute_activity(NotifyEmail, input, opts).await,
                }
            }
        });
        // Outcomes are in the notifications table; a failed channel is not the workflow's failure.
        let _ = futures::future::join_all(sends).await;
    }

    /// analyze → strategize → steps until a conclusion, the budget, or the alert resolving.
    async fn investigate(ctx: &mut WorkflowContext<Self>, req: &DiagnosisRequest) -> Result<Diagnosis, Stop> {
        let event = &req.event;
        // Tests run on suffixed queues of their own; production on the shared names.
        let q = Queues::of_workflow(ctx.task_queue());
        let analysis = ctx.execute_activity(Analyze, event.clone(), reasoning_opts(&q)).await?;
        ctx.state_mut(|w| {
            w.analysis = Some(analysis.clone());
            w.status.possible_causes = analysis.possible_causes.clone();
        });
        let strategy = ctx
            .execute_activity(Strategize, StrategizeInput { event: event.clone(), analysis: analysis.clone() }, reasoning_opts(&q))
            .await?;

        // Agent mode (patch "agent-routing"): ask once where this cluster's steps run.
        // Histories from before the patch keep the shared queue.
        let execution_queue = if ctx.patched(AGENT_ROUTING_PATCH) {
            ctx.execute_activity(RouteExecution, event.cluster_id.clone(), reasoning_opts(&q)).await?
        } else {
            q.execution.clone()
        };

        let mut pending: VecDeque<DiagnosticStep> = strategy.steps.into();
        let mut results: Vec<StepResult> = vec![];
        ctx.state_mut(|w| {
            w.status.phase = Phase::Investigating;
            w.status.steps_pending = pending.len() as u32;
            w.status.plan = pending.iter().map(|s| s.command.to_string()).collect();
        });
        loop {
            let resolved = ctx.state(|w| w.status.resolved.is_some());
            let steps_left = if resolved { 0 } else { req.max_steps.saturating_sub(results.len() as u32) };
            let next = if steps_left > 0 { pending.pop_front() } else { None };
            if let Some(step) = next {
                let line = step.command.to_string();
                ctx.state_mut(|w| w.status.current_step = Some(line));
                let result = match req.approval.requires(&step) {
                    None => ctx.execute_activity(ExecuteStep, step.command, execution_opts(&execution_queue)).await?,
                    Some(reason) => {
                        // Steps are numbered in the order they run: what an approval names.
                        let step_id = format!("step-{}", results.len() + 1);
                        let record = Self::await_approval(ctx, req, &step, step_id, reason).await?;
                        if record.verdict.runs() {
                            ctx.execute_activity(ExecuteStep, step.command, execution_opts(&execution_queue)).await?
                        } else {
                            skipped(step.command, &record)
                        }
                    }
                };
                let summary = StepSummary::from(&result);
                results.push(result);
                ctx.state_mut(|w| w.status.steps.push(summary));
            }
            // Once the alert resolved, no more steps: conclude on what was read.
            let resolved = ctx.state(|w| w.status.resolved.is_some());
            let executed = results.iter().filter(|r| r.status != StepStatus::Skipped).count() as u32;
            let steps_left = if resolved { 0 } else { req.max_steps.saturating_sub(results.len() as u32) };
            // Patch "compact-decide": what the reasoning reads of each step, not every
            // output again (history grew with the square of the steps).
            let (full, observations) = if ctx.patched(COMPACT_DECIDE_PATCH) {
                (vec![], results.iter().map(Observed::from).collect())
            } else {
                (results.clone(), vec![])
            };
            let input = DecideInput {
                event: event.clone(),
                analysis: analysis.clone(),
                results: full,
                observations,
                pending: pending.iter().cloned().collect(),
                steps_left,
            };
            match ctx.execute_activity(DecideNext, input, reasoning_opts(&q)).await? {
                Decision::Conclude { diagnosis } => return Ok(diagnosis),
                Decision::Continue { add_steps, reason } => {
                    for s in add_steps.into_iter().rev() {
                        pending.push_front(s);
                    }
                    if (pending.is_empty() || steps_left == 0) && ctx.patched(BOUNDED_LOOP_PATCH) {
                        return Ok(unconcluded(&results, steps_left == 0 && !resolved, req.max_steps, &reason));
                    }
                    ctx.state_mut(|w| w.status.last_reason = Some(reason));
                }
            }
            let plan: Vec<String> = pending.iter().map(|s| s.command.to_string()).collect();
            ctx.state_mut(|w| {
                w.status.steps_executed = executed;
                w.status.steps_pending = plan.len() as u32;
                w.status.plan = plan;
            });
        }
    }

    /// Waits for a person's decision on `step`, the timeout, the alert resolving or a cancel.
    /// With patch "approval-notify", the step is also posted to the alert's Slack channels
    /// (with approve / reject links) while it waits.
    async fn await_approval(
        ctx: &mut WorkflowContext<Self>,
        req: &DiagnosisRequest,
        step: &DiagnosticStep,
        step_id: String,
        reason: String,
    ) -> Result<ApprovalRecord, Stop> {
        let timeout_secs = req.approval.timeout_secs;
        let since = now(ctx);
        let pending = PendingApproval {
            step_id: step_id.clone(),
            command: step.command.to_string(),
            purpose: step.purpose.clone(),
            reason: reason.clone(),
            since,
            expires_at: since + chrono::Duration::seconds(timeout_secs.min(i64::MAX as u64) as i64),
        };
        ctx.state_mut(|w| {
            w.decision = None;
            w.status.pending_approval = Some(pending.clone());
            w.status.phase = Phase::AwaitingApproval;
        });
        let notice = ctx.patched(APPROVAL_NOTIFY_PATCH).then(|| ApprovalNotice {
            workflow_id: ctx.workflow_id().to_owned(),
            event: req.event.clone(),
            pending,
        });
        let notifying = notice.is_some();
        let q = Queues::of_workflow(ctx.task_queue());
        // Runs beside the wait; its outcome (audit rows) is not the diagnosis's concern.
        let mut notify = std::pin::pin!(
            async {
                if let Some(n) = notice {
                    let _ = ctx.execute_activity(NotifyApproval, n, approval_notify_opts(&q)).await;
                }
            }
            .fuse()
        );
        let mut timer = std::pin::pin!(ctx.timer(Duration::from_secs(timeout_secs)));
        let woke = loop {
            select! {
                r = ctx.wait_condition(|w: &Self| w.decision.is_some() || w.status.resolved.is_some()) => break r.map(|()| false),
                _ = timer.as_mut() => break Ok(true),
                () = notify.as_mut() => {}
            }
        };
        // The request's activity is bounded (approval_notify_opts); let it finish.
        if notifying && !notify.is_terminated() {
            notify.as_mut().await;
        }
        let timed_out = matches!(woke, Ok(true));
        if !timed_out {
            timer.cancel();
        }
        let decision = ctx.state_mut(|w| w.decision.take());
        let (verdict, by, comment) = match (woke, decision) {
            (_, Some((verdict, r))) => (verdict, Some(r.by), Some(r.comment).filter(|c| !c.is_empty())),
            (Err(_), None) => (Verdict::Cancelled, None, None),
            (Ok(true), None) => (Verdict::TimedOut, None, None),
            (Ok(false), None) => (Verdict::AlertResolved, None, None),
        };
        let record = ApprovalRecord {
            step_id,
            command: step.command.to_string(),
            reason,
            verdict,
            by,
            comment,
            requested_at: since,
            decided_at: now(ctx),
        };
        ctx.state_mut(|w| {
            w.status.pending_approval = None;
            w.status.approvals.push(record.clone());
            w.status.phase = Phase::Investigating;
        });
        if verdict == Verdict::Cancelled || (ctx.cancellation_token().is_cancelled() && !verdict.runs()) {
            return Err(Stop::Cancelled);
        }
        Ok(record)
    }

    /// Checks an approval or rejection before it is accepted into history: the step must be
    /// the one waiting, and undecided. Errors start with a stable code.
    fn check_decision(&self, req: &ApprovalRequest) -> Result<(), Box<dyn Error + Send + Sync>> {
        if req.by.trim().is_empty() {
            return Err("invalid_decision: `by` must name who decides".into());
        }
        if let Some(done) = self.status.approvals.iter().rev().find(|a| a.step_id == req.step_id) {
            return Err(format!(
                "already_decided: step {} was already decided ({:?}{})",
                req.step_id,
                done.verdict,
                done.by.as_deref().map(|b| format!(" by {b}")).unwrap_or_default()
            )
            .into());
        }
        if let Some((verdict, by)) = self.decision.as_ref().filter(|(_, d)| d.step_id == req.step_id) {
            return Err(format!("already_decided: step {} was already decided ({verdict:?} by {})", req.step_id, by.by).into());
        }
        match &self.status.pending_approval {
            None => Err(format!("not_waiting: no step is waiting for approval (asked about step {})", req.step_id).into()),
            Some(p) if p.step_id != req.step_id => {
                Err(format!("not_waiting: step {} is not waiting for approval; step {} is", req.step_id, p.step_id).into())
            }
            Some(_) if self.decision.is_some() => {
                Err(format!("already_decided: step {} was already decided", req.step_id).into())
            }
            Some(_) => Ok(()),
        }
    }

    fn take_decision(&mut self, verdict: Verdict, req: ApprovalRequest) -> ApprovalAck {
        let ack = ApprovalAck { step_id: req.step_id.clone(), verdict, by: req.by.clone() };
        // Decided: nothing waits any more, even while the run loop has yet to take it (an
        // approval request still being posted to Slack finishes first).
        self.status.pending_approval = None;
        self.decision = Some((verdict, req));
        ack
    }

    #[update_validator(approve)]
    fn validate_approve(&self, _ctx: &WorkflowContextView, req: &ApprovalRequest) -> Result<(), Box<dyn Error + Send + Sync>> {
        self.check_decision(req)
    }

    /// A person approves the waiting step: it runs.
    #[update]
    pub fn approve(&mut self, _ctx: &mut SyncWorkflowContext<Self>, req: ApprovalRequest) -> ApprovalAck {
        self.take_decision(Verdict::Approved, req)
    }

    #[update_validator(reject)]
    fn validate_reject(&self, _ctx: &WorkflowContextView, req: &ApprovalRequest) -> Result<(), Box<dyn Error + Send + Sync>> {
        self.check_decision(req)
    }

    /// A person rejects the waiting step: it is skipped, and the report says so.
    #[update]
    pub fn reject(&mut self, _ctx: &mut SyncWorkflowContext<Self>, req: ApprovalRequest) -> ApprovalAck {
        self.take_decision(Verdict::Rejected, req)
    }

    /// The alert stopped firing: no more steps; conclude on what was read.
    #[signal]
    pub fn alert_resolved(&mut self, _ctx: &mut SyncWorkflowContext<Self>, notice: AlertResolved) {
        if self.status.resolved.is_none() {
            self.status.resolved = Some(notice);
        }
    }

    /// Where the diagnosis stands.
    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> DiagnosisStatus {
        self.status.clone()
    }

    /// The step waiting for a human, if any: what, why, and since when.
    #[query]
    pub fn pending_approval(&self, _ctx: &WorkflowContextView) -> Option<PendingApproval> {
        self.status.pending_approval.clone()
    }
}
