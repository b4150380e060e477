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

/// The separator between a queue's name and a deployment's suffix.
pub const SUFFIX_SEPARATOR: char = '@';

/// The task queues of one deployment: the shared names, each followed by `@<suffix>` when
/// the deployment has one (`[temporal] task_queue_suffix`), so several deployments (or
/// tests) can share a namespace without taking each other's tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queues {
    /// Workflows and reasoning activities.
    pub reasoning: String,
    /// The shared execution pool.
    pub execution: String,
    /// Report and notifications.
    pub report: String,
    suffix: String,
}

impl Default for Queues {
    fn default() -> Self {
        Queues::with_suffix("")
    }
}

impl Queues {
    /// The queues with `suffix` (empty: the shared names).
    pub fn with_suffix(suffix: &str) -> Self {
        let name = |q: &str| if suffix.is_empty() { q.to_owned() } else { format!("{q}{SUFFIX_SEPARATOR}{suffix}") };
        Queues { reasoning: name(REASONING), execution: name(EXECUTION), report: name(REPORT), suffix: suffix.to_owned() }
    }

    /// The queues of a diagnosis that runs on `task_queue`: its suffix, if any, applies
    /// to every queue its activities go to. Any other name gets the shared queues.
    pub fn of_workflow(task_queue: &str) -> Self {
        let suffix = task_queue
            .strip_prefix(REASONING)
            .and_then(|rest| rest.strip_prefix(SUFFIX_SEPARATOR))
            .unwrap_or_default();
        Queues::with_suffix(suffix)
    }

    /// The deployment's suffix (empty for the shared names).
    pub fn suffix(&self) -> &str {
        &self.suffix
    }

    /// The queue of `cluster`'s in-cluster agent in this deployment.
    pub fn execution_for_cluster(&self, cluster: &str) -> String {
        let queue = execution_for_cluster(cluster);
        if self.suffix.is_empty() { queue } else { format!("{queue}{SUFFIX_SEPARATOR}{}", self.suffix) }
    }
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

/// Dynamic configuration a Temporal server needs for Aetherius (`KEY=VALUE`, as
/// `temporal server start-dev --dynamic-config-value` takes it; production servers set the
/// same keys in their dynamic config file, see deploy/temporal/README.md).
pub const SERVER_DYNAMIC_CONFIG: &[&str] = &[
    // Priority: the priority-aware matcher orders a task queue's backlog by the diagnosis'
    // priority key; with one partition the order holds across the whole queue (a poller
    // takes from one partition at a time).
    "matching.useNewMatcher=true",
    "matching.numTaskqueueReadPartitions=1",
    "matching.numTaskqueueWritePartitions=1",
    // Latency: each history shard reads its transfer queue (the tasks that hand workflow
    // and activity tasks to matching) at most this often per second. The default, 20, held
    // every task up to 50 ms on a one-shard dev server: 22-46 ms per hop, 700 ms for a
    // three-step diagnosis that works for about 100 ms (docs/RELIABILITY.md, latency).
    "history.transferProcessorMaxPollRPS=200",
];

/// `temporal server start-dev` arguments for [`SERVER_DYNAMIC_CONFIG`].
pub fn dev_server_dynamic_config_args() -> Vec<String> {
    SERVER_DYNAMIC_CONFIG.iter().flat_map(|kv| ["--dynamic-config-value".to_owned(), (*kv).to_owned()]).collect()
}

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

    /// `temporal server start-dev` arguments that register every attribute (the dev stack
    /// and the fault suite's own servers).
    pub fn dev_server_args() -> Vec<String> {
        ALL.iter().flat_map(|(name, ty)| ["--search-attribute".to_owned(), format!("{name}={ty}")]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Queues;

    #[test]
    fn a_suffix_reaches_every_queue_and_comes_back_from_the_workflows_queue() {
        assert_eq!(Queues::default().reasoning, super::REASONING);
        assert_eq!(Queues::of_workflow(super::REASONING), Queues::default());
        assert_eq!(Queues::of_workflow("something-else"), Queues::default());
        let q = Queues::with_suffix("t1");
        assert_eq!((q.reasoning.as_str(), q.execution.as_str(), q.report.as_str()), ("aetherius-reasoning@t1", "aetherius-execution@t1", "aetherius-report@t1"));
        assert_eq!(Queues::of_workflow(&q.reasoning), q);
        assert_eq!(q.execution_for_cluster("prod"), "aetherius-execution-prod@t1");
        assert_eq!(Queues::default().execution_for_cluster("prod"), "aetherius-execution-prod");
    }

    #[test]
    fn the_operators_dynamic_config_file_sets_exactly_these() {
        let file = include_str!("../../deploy/temporal/dynamic-config.yaml");
        let mut set = vec![];
        let mut key = None;
        for line in file.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')) {
            match line.trim().strip_prefix("- value: ") {
                Some(value) => set.push(format!("{}={value}", key.take().expect("a value under a key"))),
                None => key = Some(line.trim().strip_suffix(':').expect("'<key>:' lines").to_owned()),
            }
        }
        assert_eq!(set, super::SERVER_DYNAMIC_CONFIG);
    }

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
