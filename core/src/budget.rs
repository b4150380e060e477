//! Time budgets of a diagnosis, in one place: each activity's per-attempt and overall
//! (schedule-to-close) bounds, its retries, the heartbeat that detects a lost worker, and
//! the workflow execution timeout they all fit inside.
//!
//! The arithmetic: the longest a diagnosis can legitimately run is
//! `analyze + strategize + route_execution + max_steps × (execute_step + decide_next) +
//! decide_next + report + plan_notifications + one delivery + approval waits`, each term an
//! activity's schedule-to-close (its attempts, their backoff and the time waiting for a
//! worker included). [`execution_timeout`] is that sum, so the workflow never
//! times out while an activity, the report above all, is still inside its own budget.

use crate::command::DEFAULT_TIMEOUT_SECS;

/// Every activity that talks to a cluster, an LLM or the database heartbeats this often
/// while it waits.
pub const HEARTBEAT_EVERY_SECS: u64 = 2;

/// A running activity whose worker stopped heartbeating this long is retried elsewhere;
/// a cancel reaches it with its next heartbeat.
pub const HEARTBEAT_TIMEOUT_SECS: u64 = 10;

/// Bounds and retries of one activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityBudget {
    /// One attempt, seconds.
    pub start_to_close_secs: u64,
    /// Every attempt and backoff together, seconds.
    pub schedule_to_close_secs: u64,
    /// Attempts in all (the first included).
    pub max_attempts: u32,
    /// First backoff, milliseconds; doubled after each attempt.
    pub initial_interval_ms: u64,
    /// Longest backoff, seconds.
    pub max_interval_secs: u64,
}

impl ActivityBudget {
    /// Attempts plus their backoff, if every attempt ran to its start-to-close.
    pub const fn attempts_secs(&self) -> u64 {
        let mut total = 0;
        let mut wait_ms = self.initial_interval_ms;
        let mut i = 0;
        while i < self.max_attempts {
            total += self.start_to_close_secs * 1000;
            if i + 1 < self.max_attempts {
                let cap = self.max_interval_secs * 1000;
                total += if wait_ms < cap { wait_ms } else { cap };
                wait_ms *= 2;
            }
            i += 1;
        }
        total.div_ceil(1000)
    }
}

/// analyze, strategize, decide_next, route_execution: rules, the knowledge base and an LLM
/// call whose own deadline (`[llm] total_timeout_secs`) stays under one attempt.
pub const REASONING: ActivityBudget = ActivityBudget {
    start_to_close_secs: 60,
    schedule_to_close_secs: 120,
    max_attempts: 3,
    initial_interval_ms: 200,
    max_interval_secs: 10,
};

/// One read against a cluster: an attempt is bounded by the command timeout (the kube
/// client's read timeout) plus the RBAC review; transient failures are retried.
pub const EXECUTE_STEP: ActivityBudget = ActivityBudget {
    start_to_close_secs: DEFAULT_TIMEOUT_SECS + 10,
    schedule_to_close_secs: 2 * (DEFAULT_TIMEOUT_SECS + 10) + 30,
    max_attempts: 3,
    initial_interval_ms: 200,
    max_interval_secs: 10,
};

/// Storing the report: must not be lost, so many attempts over ten minutes (a PostgreSQL
/// restart fits inside).
pub const REPORT: ActivityBudget = ActivityBudget {
    start_to_close_secs: 30,
    schedule_to_close_secs: 600,
    max_attempts: 20,
    initial_interval_ms: 1000,
    max_interval_secs: 30,
};

/// Which channels a report goes to (reads PostgreSQL).
pub const PLAN_NOTIFICATIONS: ActivityBudget = ActivityBudget {
    start_to_close_secs: 30,
    schedule_to_close_secs: 120,
    max_attempts: 10,
    initial_interval_ms: 200,
    max_interval_secs: 10,
};

/// Posting a waiting step's approval request to Slack: a few quick attempts, bounded well
/// inside the approval wait it runs beside. No heartbeat: one attempt is shorter than the
/// 15 s a lost worker may take to notice.
pub const APPROVAL_NOTICE: ActivityBudget = ActivityBudget {
    start_to_close_secs: 15,
    schedule_to_close_secs: 60,
    max_attempts: 3,
    initial_interval_ms: 1000,
    max_interval_secs: 10,
};

/// Most one channel's delivery (its configured attempts and backoff) may take; deliveries
/// run side by side, so one of them counts.
pub const NOTIFY_MAX_SECS: u64 = 600;

/// The longest a diagnosis of `max_steps` steps runs, plus `approval_waits_secs` of waiting
/// for people: the workflow execution timeout.
pub const fn execution_timeout_secs(max_steps: u32, approval_waits_secs: u64) -> u64 {
    let steps = max_steps as u64;
    let investigate = REASONING.schedule_to_close_secs * 3 // analyze, strategize, route_execution
        + steps * (EXECUTE_STEP.schedule_to_close_secs + REASONING.schedule_to_close_secs)
        + REASONING.schedule_to_close_secs; // the decide_next that runs with no step left
    let finish = REPORT.schedule_to_close_secs + PLAN_NOTIFICATIONS.schedule_to_close_secs + NOTIFY_MAX_SECS;
    investigate.saturating_add(finish).saturating_add(approval_waits_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [(&str, ActivityBudget); 4] = [
        ("reasoning", REASONING),
        ("execute_step", EXECUTE_STEP),
        ("report", REPORT),
        ("plan_notifications", PLAN_NOTIFICATIONS),
    ];

    #[test]
    fn a_lost_worker_is_noticed_within_fifteen_seconds() {
        // The heartbeat timeout plus the first backoff: when the retry is scheduled.
        for (name, b) in ALL {
            assert!(HEARTBEAT_TIMEOUT_SECS * 1000 + b.initial_interval_ms <= 15_000, "{name}");
        }
        const { assert!(HEARTBEAT_EVERY_SECS * 3 <= HEARTBEAT_TIMEOUT_SECS, "three heartbeats fit in the timeout") };
    }

    #[test]
    fn every_activity_gets_at_least_two_attempts_inside_its_budget() {
        for (name, b) in ALL {
            assert!(b.max_attempts >= 2, "{name}");
            assert!(b.start_to_close_secs * 2 <= b.schedule_to_close_secs, "{name}: two attempts fit");
            assert!(b.start_to_close_secs >= HEARTBEAT_TIMEOUT_SECS, "{name}");
        }
        // A step's attempt outlives the command timeout, so the kube client gives up first.
        const { assert!(EXECUTE_STEP.start_to_close_secs > DEFAULT_TIMEOUT_SECS) };
        // The report's whole retry budget: schedule-to-close ends it, not its attempt count
        // running out early (20 attempts of a quick failure take about 8 minutes of backoff).
        assert!(REPORT.attempts_secs() >= REPORT.schedule_to_close_secs);
    }

    #[test]
    fn the_budgets_fit_inside_the_execution_timeout() {
        let waits = 12 * 3600;
        let total = execution_timeout_secs(12, waits);
        // The report is the last thing that must happen; it starts no later than this and
        // has its whole budget left.
        let report_starts_by = total - waits - REPORT.schedule_to_close_secs - PLAN_NOTIFICATIONS.schedule_to_close_secs - NOTIFY_MAX_SECS;
        let worst_investigation = REASONING.schedule_to_close_secs * 4
            + 12 * (EXECUTE_STEP.schedule_to_close_secs + REASONING.schedule_to_close_secs);
        assert_eq!(report_starts_by, worst_investigation);
        assert!(report_starts_by + REPORT.schedule_to_close_secs + waits <= total);
        // No steps at all (Watchdog): analyze, strategize, route, decide, report, notify.
        assert_eq!(execution_timeout_secs(0, 0), 4 * 120 + 600 + 120 + 600);
    }

    #[test]
    fn a_request_with_approvals_gets_its_waits_on_top() {
        use crate::{AlertmanagerAlert, DiagnosisRequest, StandardEvent, approval::ApprovalPolicy};
        let alert: AlertmanagerAlert = serde_json::from_value(serde_json::json!({
            "status": "firing", "labels": {"alertname": "KubePodCrashLooping"}, "startsAt": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        let mut req = DiagnosisRequest {
            event: StandardEvent::from_alertmanager(&alert, "dev"),
            max_steps: 12,
            priority: 0,
            approval: ApprovalPolicy::default(),
            retry_of: None,
        };
        let plain = req.execution_timeout().as_secs();
        assert_eq!(plain, execution_timeout_secs(12, 0));
        // The report's whole retry budget fits: today's 600 s timeout held less than it.
        assert!(plain > REPORT.schedule_to_close_secs + EXECUTE_STEP.schedule_to_close_secs * 12);
        req.approval = ApprovalPolicy { always: true, timeout_secs: 900, ..ApprovalPolicy::default() };
        assert_eq!(req.execution_timeout().as_secs(), plain + 12 * 900);
    }
}
