//! `DiagnosisWorkflow` as a unit: the real workflow on the real Temporal dev server, its
//! activities replaced by stand-ins registered under the same activity type names, each
//! test on its own task queues. The stand-ins answer from a script, so these tests reach
//! the loop's edges: a `Continue` with nothing to run, the step budget, a failing step.

// `#[activities]` declares a constant per activity, unused here: the workflow names them.
#![allow(dead_code)]

use crate::support::config;
use aetherius_core::{
    AlertmanagerAlert, AnalysisResult, Command, DecideInput, Decision, DiagnosisOutcome, DiagnosisRequest, DiagnosticStep,
    DiagnosticStrategy, Ending, Method, ReportInput, RootCause, StandardEvent, StepResult, StepStatus, StoredReport, StrategizeInput,
    notify::PlannedDelivery,
    queues::{Queues, activity},
};
use aetherius_workers::pools;
use aetherius_workflows::DiagnosisWorkflow;
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_common::error::ApplicationFailure;
use temporalio_macros::activities;
use temporalio_sdk::{
    Runtime, Worker, WorkerOptions,
    activities::{ActivityContext, ActivityError},
};

/// What the stand-ins answer, and what they saw.
struct Script {
    /// The plan `strategize` returns.
    plan: Vec<DiagnosticStep>,
    /// `decide_next`'s answer to what it is shown.
    decide: Box<dyn Fn(&DecideInput) -> Decision + Send + Sync>,
    /// When set, `execute_step` fails for good with this message.
    step_fails: Option<&'static str>,
    /// The queue `route_execution` answers.
    execution_queue: String,
    /// Activity types in the order they ran.
    calls: Mutex<Vec<&'static str>>,
    /// What `decide_next` was shown, each time.
    decisions: Mutex<Vec<DecideInput>>,
    /// What `report` was asked to store.
    reports: Mutex<Vec<ReportInput>>,
}

/// Every activity of the diagnosis, scripted. One instance per worker, one script shared.
#[derive(Clone)]
struct StandIns(Arc<Script>);

impl StandIns {
    fn called(&self, name: &'static str) {
        self.0.calls.lock().unwrap().push(name);
    }
}

#[activities]
impl StandIns {
    #[activity(name = activity::ANALYZE)]
    async fn analyze(self: Arc<Self>, _ctx: ActivityContext, event: StandardEvent) -> Result<AnalysisResult, ActivityError> {
        self.called(activity::ANALYZE);
        Ok(AnalysisResult {
            summary: format!("stand-in analysis of {}", event.alertname()),
            possible_causes: vec![],
            suggested_steps: vec![],
            confidence: 0.1,
            target: None,
            method: Method::RuleBased,
            tokens_used: 0,
            model: None,
            knowledge: vec![],
        })
    }

    #[activity(name = activity::STRATEGIZE)]
    async fn strategize(self: Arc<Self>, _ctx: ActivityContext, _input: StrategizeInput) -> Result<DiagnosticStrategy, ActivityError> {
        self.called(activity::STRATEGIZE);
        Ok(DiagnosticStrategy { method: Method::RuleBased, steps: self.0.plan.clone(), estimated_secs: 1, confidence: 0.1 })
    }

    #[activity(name = activity::ROUTE_EXECUTION)]
    async fn route_execution(self: Arc<Self>, _ctx: ActivityContext, _cluster: String) -> Result<String, ActivityError> {
        self.called(activity::ROUTE_EXECUTION);
        Ok(self.0.execution_queue.clone())
    }

    #[activity(name = activity::EXECUTE_STEP)]
    async fn execute_step(self: Arc<Self>, _ctx: ActivityContext, command: Command) -> Result<StepResult, ActivityError> {
        self.called(activity::EXECUTE_STEP);
        if let Some(message) = self.0.step_fails {
            let failure = ApplicationFailure::builder(anyhow::anyhow!(message)).type_name("InvalidCommand".to_owned()).non_retryable(true).build();
            return Err(ActivityError::application(failure));
        }
        Ok(StepResult {
            command,
            status: StepStatus::Success,
            output: "stand-in output".into(),
            objects: vec![],
            error: None,
            truncated: false,
            duration_ms: 1,
            output_ref: None,
        })
    }

    #[activity(name = activity::DECIDE_NEXT)]
    async fn decide_next(self: Arc<Self>, _ctx: ActivityContext, input: DecideInput) -> Result<Decision, ActivityError> {
        self.called(activity::DECIDE_NEXT);
        let decision = (self.0.decide)(&input);
        self.0.decisions.lock().unwrap().push(input);
        Ok(decision)
    }

    #[activity(name = activity::REPORT)]
    async fn report(self: Arc<Self>, _ctx: ActivityContext, input: ReportInput) -> Result<StoredReport, ActivityError> {
        self.called(activity::REPORT);
        let report_id = format!("report-of-{}", input.workflow_id);
        self.0.reports.lock().unwrap().push(input);
        Ok(StoredReport { report_id })
    }

    #[activity(name = activity::PLAN_NOTIFICATIONS)]
    async fn plan_notifications(self: Arc<Self>, _ctx: ActivityContext, _workflow_id: String) -> Result<Vec<PlannedDelivery>, ActivityError> {
        self.called(activity::PLAN_NOTIFICATIONS);
        Ok(vec![])
    }
}

fn step(i: usize) -> DiagnosticStep {
    let line = format!("kubectl get pods checkout-{i} -n shop");
    DiagnosticStep {
        purpose: format!("stand-in step {i}"),
        command: aetherius_core::kubectl::parse(&line, "unit").unwrap_or_else(|e| panic!("{line}: {e:?}")),
        origin: Default::default(),
    }
}

fn go_on(add_steps: Vec<DiagnosticStep>, reason: &str) -> Decision {
    Decision::Continue { add_steps, reason: reason.to_owned() }
}

fn event() -> StandardEvent {
    let alert: AlertmanagerAlert = serde_json::from_value(serde_json::json!({
        "status": "firing", "startsAt": chrono::Utc::now(),
        "labels": {"alertname": "KubePodCrashLooping", "severity": "warning", "cluster": "unit", "namespace": "shop",
                   "pod": "checkout-1", "test_run": uuid::Uuid::new_v4().to_string()},
    }))
    .unwrap();
    StandardEvent::from_alertmanager(&alert, "default")
}

/// Runs one diagnosis with `max_steps` against stand-ins following `script`, on this test's
/// own queues; returns the workflow id and its result (or its failure, as text).
async fn diagnose(
    plan: Vec<DiagnosticStep>,
    decide: impl Fn(&DecideInput) -> Decision + Send + Sync + 'static,
    step_fails: Option<&'static str>,
    max_steps: u32,
) -> (Arc<Script>, String, Result<DiagnosisOutcome, String>) {
    let config = config(&[]);
    let q: Queues = config.temporal.queues();
    assert!(!q.suffix().is_empty(), "each test runs on its own queues");
    let script = Arc::new(Script {
        plan,
        decide: Box::new(decide),
        step_fails,
        execution_queue: q.execution.clone(),
        calls: Mutex::default(),
        decisions: Mutex::default(),
        reports: Mutex::default(),
    });
    let runtime = Runtime::from_current_tokio(Default::default()).unwrap();
    let client = pools::temporal_client(&config).await.expect("Temporal");
    let stand_ins = StandIns(script.clone());
    let mut workers = vec![];
    for (queue, with_workflow) in [(&q.reasoning, true), (&q.execution, false), (&q.report, false)] {
        let options = WorkerOptions::new(queue.clone()).register_activities(stand_ins.clone());
        let options = if with_workflow { options.register_workflow::<DiagnosisWorkflow>().unwrap() } else { options };
        workers.push(Worker::new(&runtime, client.clone(), options.build()).unwrap());
    }
    let stops: Vec<_> = workers.iter().map(|w| w.shutdown_handle()).collect();

    let id = format!("wf-unit-{}", uuid::Uuid::new_v4().simple());
    let request = DiagnosisRequest { event: event(), max_steps, priority: 0, approval: Default::default(), retry_of: None };
    let body = async {
        let options = WorkflowStartOptions::new(q.reasoning.clone(), id.clone()).execution_timeout(Duration::from_secs(60)).build();
        let handle = client.start_workflow(DiagnosisWorkflow::run, request, options).await.expect("workflow starts");
        let result = handle.get_result(WorkflowGetResultOptions::default()).await.map_err(|e| format!("{e:#}: {e:?}"));
        for stop in &stops {
            stop();
        }
        result
    };
    let runs = futures::future::join_all(workers.iter_mut().map(|w| w.run()));
    let (ran, result) = tokio::join!(runs, body);
    for r in ran {
        r.expect("worker ran");
    }
    println!("workflow {id} on {}", q.reasoning);
    (script, id, result)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_continue_with_nothing_to_run_ends_the_loop_with_a_report() {
    let (script, _id, result) = diagnose(vec![], |_| go_on(vec![], "keep looking"), None, 5).await;
    let outcome = result.expect("the diagnosis completes");
    let calls = script.calls.lock().unwrap().clone();
    assert_eq!(calls.iter().filter(|c| **c == activity::DECIDE_NEXT).count(), 1, "asked once, then stopped: {calls:?}");
    assert!(!calls.contains(&activity::EXECUTE_STEP), "{calls:?}");
    assert_eq!(outcome.steps_executed, 0);
    assert_eq!(outcome.diagnosis.root_cause, RootCause::Unknown);
    assert!(outcome.diagnosis.summary.contains("no step was left to run"), "{}", outcome.diagnosis.summary);
    assert!(outcome.diagnosis.summary.contains("keep looking"), "the report keeps the last reason: {}", outcome.diagnosis.summary);
    let reports = script.reports.lock().unwrap();
    assert_eq!(reports.len(), 1, "one report");
    assert_eq!(reports[0].diagnosis, outcome.diagnosis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_step_budget_ends_the_loop_even_when_decide_next_always_adds_steps() {
    // A reasoning that never concludes and always proposes one more step.
    let (script, _id, result) = diagnose((0..3).map(step).collect(), |input| go_on(vec![step(100 + input.steps().len())], "one more"), None, 4).await;
    let outcome = result.expect("the diagnosis completes");
    let calls = script.calls.lock().unwrap().clone();
    assert_eq!(calls.iter().filter(|c| **c == activity::EXECUTE_STEP).count(), 4, "exactly the budget: {calls:?}");
    assert_eq!(outcome.steps_executed, 4);
    let shown: Vec<u32> = script.decisions.lock().unwrap().iter().map(|d| d.steps_left).collect();
    assert_eq!(shown, [3, 2, 1, 0], "decide_next sees the budget shrink, and is not asked again once it is spent");
    assert!(outcome.diagnosis.summary.contains("step budget (4) was spent"), "{}", outcome.diagnosis.summary);
    let reports = script.reports.lock().unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].steps.len(), 4, "the report lists the four steps that ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn decide_next_concluding_ends_the_loop_before_the_plan_runs_out() {
    let (script, _id, result) = diagnose(
        (0..3).map(step).collect(),
        |input| match input.steps().len() {
            1 => Decision::Conclude {
                diagnosis: aetherius_core::Diagnosis {
                    root_cause: RootCause::CrashloopMissingConfig,
                    resource: Some("deployment/checkout".into()),
                    summary: "stand-in conclusion".into(),
                    evidence: vec![],
                    recommendations: vec![],
                    confidence: 0.9,
                },
            },
            _ => go_on(vec![], "next planned step"),
        },
        None,
        10,
    )
    .await;
    let outcome = result.expect("the diagnosis completes");
    assert_eq!(outcome.steps_executed, 1);
    assert_eq!(outcome.diagnosis.summary, "stand-in conclusion");
    assert_eq!(script.reports.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_step_that_fails_for_good_ends_the_diagnosis_with_a_report_that_says_so() {
    let (script, _id, result) = diagnose((0..2).map(step).collect(), |_| go_on(vec![], "unused"), Some("the API server refused the command"), 5).await;
    let failure = result.expect_err("the workflow still fails, so Temporal shows the failure");
    assert!(failure.contains("the API server refused the command"), "the failure names the step's error: {failure}");
    let calls = script.calls.lock().unwrap().clone();
    assert_eq!(calls.iter().filter(|c| **c == activity::EXECUTE_STEP).count(), 1, "non-retryable: one attempt: {calls:?}");
    let reports = script.reports.lock().unwrap();
    assert_eq!(reports.len(), 1, "one report, written before the workflow fails: {calls:?}");
    let report = &reports[0];
    match &report.ending {
        Ending::Failed { stage, error } => {
            assert!(stage.contains("kubectl get pods checkout-0 -n shop"), "the report names the failed step: {stage}");
            assert!(error.contains("the API server refused the command"), "and why: {error}");
        }
        other => panic!("the report must say the diagnosis failed, not {other:?}"),
    }
    assert_eq!(report.diagnosis.root_cause, RootCause::Unknown);
    assert!(report.diagnosis.summary.contains("the API server refused the command"), "{}", report.diagnosis.summary);
    assert!(calls.contains(&activity::PLAN_NOTIFICATIONS), "the failure report is sent like any other: {calls:?}");
}
