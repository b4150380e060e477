//! Task-queue, activity and search-attribute names: the wire contract between the API,
//! the workflow and the worker pools.

/// Diagnosis workflows and the reasoning activities (analyze, strategize, decide_next).
pub const REASONING: &str = "aetherius-reasoning";
/// Shared execution pool: runs read-only steps against clusters it has credentials for.
pub const EXECUTION: &str = "aetherius-execution";
/// Report rendering, storage and notification.
pub const REPORT: &str = "aetherius-report";

/// The queue of an in-cluster execution agent for `cluster` (agent mode).
pub fn execution_for_cluster(cluster: &str) -> String {
    format!("{EXECUTION}-{cluster}")
}

/// Activity type names. Implementations and the workflow's declarations both use these.
pub mod activity {
    /// Initial analysis of the alert.
    pub const ANALYZE: &str = "analyze";
    /// First diagnostic plan.
    pub const STRATEGIZE: &str = "strategize";
    /// Run one read-only step against the cluster.
    pub const EXECUTE_STEP: &str = "execute_step";
    /// Decide what to do after a step.
    pub const DECIDE_NEXT: &str = "decide_next";
    /// Render and store the report.
    pub const REPORT: &str = "report";
    /// Which execution queue a cluster's steps go to (agent mode).
    pub const ROUTE_EXECUTION: &str = "route_execution";
    /// Which channels a stored report goes to (routes, repeat window).
    pub const PLAN_NOTIFICATIONS: &str = "plan_notifications";
    /// Send a report to a Slack channel.
    pub const NOTIFY_SLACK: &str = "notify_slack";
    /// Send a report to a generic webhook.
    pub const NOTIFY_WEBHOOK: &str = "notify_webhook";
    /// Send a report by email.
    pub const NOTIFY_EMAIL: &str = "notify_email";
    /// Post a step waiting for approval to the Slack channels of the alert.
    pub const NOTIFY_APPROVAL: &str = "notify_approval";
}

/// Workflow type name of the diagnosis.
pub const DIAGNOSIS_WORKFLOW: &str = "DiagnosisWorkflow";

/// Custom search attributes registered on the Temporal namespace (name, type).
pub mod search_attributes {
    /// Cluster the alert came from.
    pub const CLUSTER_ID: &str = "ClusterId";
    /// Namespace the alert is about.
    pub const NAMESPACE: &str = "Namespace";
    /// Severity label.
    pub const SEVERITY: &str = "Severity";
    /// Alert name.
    pub const ALERT_NAME: &str = "AlertName";
    /// Root-cause id, set when the diagnosis concludes.
    pub const ROOT_CAUSE: &str = "RootCause";
    /// Priority score.
    pub const PRIORITY: &str = "Priority";

    /// Every custom attribute with its Temporal type, for registration.
    pub const ALL: &[(&str, &str)] = &[
        (CLUSTER_ID, "Keyword"),
        (NAMESPACE, "Keyword"),
        (SEVERITY, "Keyword"),
        (ALERT_NAME, "Keyword"),
        (ROOT_CAUSE, "Keyword"),
        (PRIORITY, "Int"),
    ];
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_operators_search_attribute_file_lists_exactly_these() {
        let file = include_str!("../../deploy/temporal/search-attributes.txt");
        let listed: Vec<(&str, &str)> = file
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split_once(' ').expect("'<name> <type>' lines"))
            .collect();
        assert_eq!(listed, super::search_attributes::ALL);
    }
}
