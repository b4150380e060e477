//! Which object each alert of the stock rule sets is about, read off its PromQL: the labels
//! that survive the rule's aggregation and the ServiceMonitor's target labels.
//!
//! Sources: kube-prometheus-stack `templates/prometheus/rules-1.14/` (generated from
//! kube-prometheus: kubernetes-mixin, node-mixin, etcd, Prometheus, Alertmanager,
//! prometheus-operator, kube-state-metrics rules) and the blackbox exporter's probe alerts
//! (blackbox-exporter-mixin, awesome-prometheus-alerts).
//!
//! What the scrape adds matters as much as the rule: kube-state-metrics is scraped with
//! `honorLabels`, so a metric's own `pod`/`namespace`/`container` win, but a metric without
//! them (`kube_job_failed`, `kube_node_status_condition`, `kube_resourcequota`) keeps the
//! scraper's: `pod=<kube-state-metrics pod>`, `container`, `instance`, `job`, `service`,
//! `endpoint` and, for cluster-scoped objects, `namespace` of the monitoring stack.

/// Where an alert's object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// The object of `kind` in `label` (namespaced kinds take `namespace`).
    Label {
        /// Label holding the name.
        label: &'static str,
        /// Its kind.
        kind: &'static str,
    },
    /// A node: the `node` label where the rule keeps it, else the host of `instance`
    /// (node-exporter's `10.0.1.5:9100`, or the node name where `instance` is relabelled).
    NodeOfInstance,
    /// The URL a probe checks (`instance`); a Probe of Ingresses also sets `ingress`.
    ProbedUrl,
    /// Only the namespace survives aggregation: sweep it for what is unhealthy.
    Namespace,
    /// Nothing the Kubernetes API serves as one object: control plane, cluster capacity, SLOs.
    Cluster,
    /// Not a fault: the pipeline's heartbeat or an inhibitor.
    Informational,
}

/// One alert of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertScope {
    /// `alertname`.
    pub alert: &'static str,
    /// Rule group it ships in.
    pub group: &'static str,
    /// Where its object is.
    pub names: Names,
    /// Resources (plural) worth listing besides the object: in its namespace, or cluster-wide
    /// for cluster-scoped ones.
    pub read: &'static [&'static str],
}

const fn label(alert: &'static str, group: &'static str, label: &'static str, kind: &'static str, read: &'static [&'static str]) -> AlertScope {
    AlertScope { alert, group, names: Names::Label { label, kind }, read }
}

const fn other(alert: &'static str, group: &'static str, names: Names, read: &'static [&'static str]) -> AlertScope {
    AlertScope { alert, group, names, read }
}

const NODES: &[&str] = &["nodes"];
const NONE: &[&str] = &[];
use Names::{Cluster, Informational, Namespace, NodeOfInstance, ProbedUrl};

/// Every alert of the stock rule sets, by group.
pub const CATALOG: &[AlertScope] = &[
    // general.rules
    label("TargetDown", "general.rules", "service", "Service", NONE),
    other("Watchdog", "general.rules", Informational, NONE),
    other("InfoInhibitor", "general.rules", Informational, NONE),
    // kubernetes-apps: kube-state-metrics; the object label survives, the scraper's stay beside it.
    label("KubePodCrashLooping", "kubernetes-apps", "pod", "Pod", NONE),
    label("KubePodNotReady", "kubernetes-apps", "pod", "Pod", NONE),
    label("KubeDeploymentGenerationMismatch", "kubernetes-apps", "deployment", "Deployment", NONE),
    label("KubeDeploymentReplicasMismatch", "kubernetes-apps", "deployment", "Deployment", NONE),
    label("KubeDeploymentRolloutStuck", "kubernetes-apps", "deployment", "Deployment", NONE),
    label("KubeStatefulSetReplicasMismatch", "kubernetes-apps", "statefulset", "StatefulSet", NONE),
    label("KubeStatefulSetGenerationMismatch", "kubernetes-apps", "statefulset", "StatefulSet", NONE),
    label("KubeStatefulSetUpdateNotRolledOut", "kubernetes-apps", "statefulset", "StatefulSet", NONE),
    label("KubeDaemonSetRolloutStuck", "kubernetes-apps", "daemonset", "DaemonSet", NONE),
    label("KubeContainerWaiting", "kubernetes-apps", "pod", "Pod", NONE),
    label("KubeDaemonSetNotScheduled", "kubernetes-apps", "daemonset", "DaemonSet", NODES),
    label("KubeDaemonSetMisScheduled", "kubernetes-apps", "daemonset", "DaemonSet", NODES),
    label("KubeJobNotCompleted", "kubernetes-apps", "job_name", "Job", NONE),
    label("KubeJobFailed", "kubernetes-apps", "job_name", "Job", NONE),
    label("KubeHpaReplicasMismatch", "kubernetes-apps", "horizontalpodautoscaler", "HorizontalPodAutoscaler", NONE),
    label("KubeHpaMaxedOut", "kubernetes-apps", "horizontalpodautoscaler", "HorizontalPodAutoscaler", NONE),
    label("KubePdbNotEnoughHealthyPods", "kubernetes-apps", "poddisruptionbudget", "PodDisruptionBudget", NONE),
    // kubernetes-resources
    other("KubeCPUOvercommit", "kubernetes-resources", Cluster, NODES),
    other("KubeMemoryOvercommit", "kubernetes-resources", Cluster, NODES),
    other("KubeCPUQuotaOvercommit", "kubernetes-resources", Cluster, NODES),
    other("KubeMemoryQuotaOvercommit", "kubernetes-resources", Cluster, NODES),
    label("KubeQuotaAlmostFull", "kubernetes-resources", "resourcequota", "ResourceQuota", NONE),
    label("KubeQuotaFullyUsed", "kubernetes-resources", "resourcequota", "ResourceQuota", NONE),
    label("KubeQuotaExceeded", "kubernetes-resources", "resourcequota", "ResourceQuota", NONE),
    label("CPUThrottlingHigh", "kubernetes-resources", "pod", "Pod", NONE),
    // kubernetes-storage: kubelet volume stats keep the claim; kube-state-metrics the PV.
    label("KubePersistentVolumeFillingUp", "kubernetes-storage", "persistentvolumeclaim", "PersistentVolumeClaim", NONE),
    label("KubePersistentVolumeInodesFillingUp", "kubernetes-storage", "persistentvolumeclaim", "PersistentVolumeClaim", NONE),
    label("KubePersistentVolumeErrors", "kubernetes-storage", "persistentvolume", "PersistentVolume", NONE),
    // kubernetes-system and the control plane: no object the API serves (managed control
    // planes have no pods to read); a component's `*InstanceUnreachable` keeps its pod.
    other("KubeVersionMismatch", "kubernetes-system", Cluster, NODES),
    other("KubeClientErrors", "kubernetes-system", Cluster, NONE),
    other("KubeClientCertificateExpiration", "kubernetes-system-apiserver", Cluster, NONE),
    other("KubeAggregatedAPIErrors", "kubernetes-system-apiserver", Cluster, NONE),
    other("KubeAggregatedAPIDown", "kubernetes-system-apiserver", Cluster, NONE),
    other("KubeAPIDown", "kubernetes-system-apiserver", Cluster, NONE),
    other("KubeAPIInstanceUnreachable", "kubernetes-system-apiserver", Cluster, NONE),
    other("KubeAPITerminatedRequests", "kubernetes-system-apiserver", Cluster, NONE),
    other("KubeAPIErrorBudgetBurn", "kube-apiserver-slos", Cluster, NONE),
    other("KubeControllerManagerDown", "kubernetes-system-controller-manager", Cluster, NONE),
    label("KubeControllerManagerInstanceUnreachable", "kubernetes-system-controller-manager", "pod", "Pod", NONE),
    other("KubeSchedulerDown", "kubernetes-system-scheduler", Cluster, NONE),
    label("KubeSchedulerInstanceUnreachable", "kubernetes-system-scheduler", "pod", "Pod", NONE),
    other("KubeProxyDown", "kubernetes-system-kube-proxy", Cluster, NONE),
    label("KubeProxyInstanceUnreachable", "kubernetes-system-kube-proxy", "pod", "Pod", NONE),
    // kubernetes-system-kubelet: `node` from kube-state-metrics, or from the kubelet target.
    label("KubeNodeNotReady", "kubernetes-system-kubelet", "node", "Node", NONE),
    label("KubeNodePressure", "kubernetes-system-kubelet", "node", "Node", NONE),
    label("KubeNodeUnreachable", "kubernetes-system-kubelet", "node", "Node", NONE),
    label("KubeletTooManyPods", "kubernetes-system-kubelet", "node", "Node", NONE),
    label("KubeNodeReadinessFlapping", "kubernetes-system-kubelet", "node", "Node", NONE),
    label("KubeNodeEviction", "kubernetes-system-kubelet", "node", "Node", NONE),
    label("KubeletPlegDurationHigh", "kubernetes-system-kubelet", "node", "Node", NONE),
    label("KubeletPodStartUpLatencyHigh", "kubernetes-system-kubelet", "node", "Node", NONE),
    label("KubeletClientCertificateExpiration", "kubernetes-system-kubelet", "node", "Node", NONE),
    label("KubeletServerCertificateExpiration", "kubernetes-system-kubelet", "node", "Node", NONE),
    label("KubeletClientCertificateRenewalErrors", "kubernetes-system-kubelet", "node", "Node", NONE),
    label("KubeletServerCertificateRenewalErrors", "kubernetes-system-kubelet", "node", "Node", NONE),
    label("KubeletInstanceUnreachable", "kubernetes-system-kubelet", "node", "Node", NONE),
    other("KubeletDown", "kubernetes-system-kubelet", Cluster, NODES),
    // node-exporter, node-network: the node the exporter runs on.
    other("NodeFilesystemSpaceFillingUp", "node-exporter", NodeOfInstance, NONE),
    other("NodeFilesystemAlmostOutOfSpace", "node-exporter", NodeOfInstance, NONE),
    other("NodeFilesystemFilesFillingUp", "node-exporter", NodeOfInstance, NONE),
    other("NodeFilesystemAlmostOutOfFiles", "node-exporter", NodeOfInstance, NONE),
    other("NodeNetworkReceiveErrs", "node-exporter", NodeOfInstance, NONE),
    other("NodeNetworkTransmitErrs", "node-exporter", NodeOfInstance, NONE),
    other("NodeHighNumberConntrackEntriesUsed", "node-exporter", NodeOfInstance, NONE),
    other("NodeTextFileCollectorScrapeError", "node-exporter", NodeOfInstance, NONE),
    other("NodeClockSkewDetected", "node-exporter", NodeOfInstance, NONE),
    other("NodeClockNotSynchronising", "node-exporter", NodeOfInstance, NONE),
    other("NodeRAIDDegraded", "node-exporter", NodeOfInstance, NONE),
    other("NodeRAIDDiskFailure", "node-exporter", NodeOfInstance, NONE),
    other("NodeFileDescriptorLimit", "node-exporter", NodeOfInstance, NONE),
    other("NodeCPUHighUsage", "node-exporter", NodeOfInstance, NONE),
    other("NodeSystemSaturation", "node-exporter", NodeOfInstance, NONE),
    other("NodeMemoryMajorPagesFaults", "node-exporter", NodeOfInstance, NONE),
    other("NodeMemoryHighUtilization", "node-exporter", NodeOfInstance, NONE),
    other("NodeDiskIOSaturation", "node-exporter", NodeOfInstance, NONE),
    other("NodeSystemdServiceFailed", "node-exporter", NodeOfInstance, NONE),
    other("NodeSystemdServiceCrashlooping", "node-exporter", NodeOfInstance, NONE),
    other("NodeBondingDegraded", "node-exporter", NodeOfInstance, NONE),
    other("NodeNetworkInterfaceFlapping", "node-network", NodeOfInstance, NONE),
    // kube-state-metrics' own health: aggregated to the cluster.
    other("KubeStateMetricsListErrors", "kube-state-metrics", Cluster, NONE),
    other("KubeStateMetricsWatchErrors", "kube-state-metrics", Cluster, NONE),
    other("KubeStateMetricsShardingMismatch", "kube-state-metrics", Cluster, NONE),
    other("KubeStateMetricsShardsMissing", "kube-state-metrics", Cluster, NONE),
    // etcd: per-member alerts keep the member's pod (self-managed control planes).
    other("etcdMembersDown", "etcd", Cluster, NONE),
    other("etcdInsufficientMembers", "etcd", Cluster, NONE),
    label("etcdNoLeader", "etcd", "pod", "Pod", NONE),
    other("etcdHighNumberOfLeaderChanges", "etcd", Cluster, NONE),
    label("etcdHighNumberOfFailedGRPCRequests", "etcd", "pod", "Pod", NONE),
    label("etcdGRPCRequestsSlow", "etcd", "pod", "Pod", NONE),
    label("etcdMemberCommunicationSlow", "etcd", "pod", "Pod", NONE),
    label("etcdHighNumberOfFailedProposals", "etcd", "pod", "Pod", NONE),
    label("etcdHighFsyncDurations", "etcd", "pod", "Pod", NONE),
    label("etcdHighCommitDurations", "etcd", "pod", "Pod", NONE),
    label("etcdDatabaseQuotaLowSpace", "etcd", "pod", "Pod", NONE),
    label("etcdExcessiveDatabaseGrowth", "etcd", "pod", "Pod", NONE),
    label("etcdDatabaseHighFragmentationRatio", "etcd", "pod", "Pod", NONE),
    // Prometheus: every rule keeps the server's own pod.
    label("PrometheusBadConfig", "prometheus", "pod", "Pod", NONE),
    label("PrometheusSDRefreshFailure", "prometheus", "pod", "Pod", NONE),
    label("PrometheusKubernetesListWatchFailures", "prometheus", "pod", "Pod", NONE),
    label("PrometheusNotificationQueueRunningFull", "prometheus", "pod", "Pod", NONE),
    label("PrometheusErrorSendingAlertsToSomeAlertmanagers", "prometheus", "pod", "Pod", NONE),
    label("PrometheusNotConnectedToAlertmanagers", "prometheus", "pod", "Pod", NONE),
    label("PrometheusTSDBReloadsFailing", "prometheus", "pod", "Pod", NONE),
    label("PrometheusTSDBCompactionsFailing", "prometheus", "pod", "Pod", NONE),
    label("PrometheusNotIngestingSamples", "prometheus", "pod", "Pod", NONE),
    label("PrometheusDuplicateTimestamps", "prometheus", "pod", "Pod", NONE),
    label("PrometheusOutOfOrderTimestamps", "prometheus", "pod", "Pod", NONE),
    label("PrometheusRemoteStorageFailures", "prometheus", "pod", "Pod", NONE),
    label("PrometheusRemoteWriteBehind", "prometheus", "pod", "Pod", NONE),
    label("PrometheusRemoteWriteDesiredShards", "prometheus", "pod", "Pod", NONE),
    label("PrometheusRuleFailures", "prometheus", "pod", "Pod", NONE),
    label("PrometheusMissingRuleEvaluations", "prometheus", "pod", "Pod", NONE),
    label("PrometheusTargetLimitHit", "prometheus", "pod", "Pod", NONE),
    label("PrometheusLabelLimitHit", "prometheus", "pod", "Pod", NONE),
    label("PrometheusScrapeBodySizeLimitHit", "prometheus", "pod", "Pod", NONE),
    label("PrometheusScrapeSampleLimitHit", "prometheus", "pod", "Pod", NONE),
    label("PrometheusTargetSyncFailure", "prometheus", "pod", "Pod", NONE),
    label("PrometheusHighQueryLoad", "prometheus", "pod", "Pod", NONE),
    label("PrometheusErrorSendingAlertsToAnyAlertmanager", "prometheus", "pod", "Pod", NONE),
    // Alertmanager: per-instance rules keep the pod, cluster-wide ones the Service.
    label("AlertmanagerFailedReload", "alertmanager.rules", "pod", "Pod", NONE),
    label("AlertmanagerMembersInconsistent", "alertmanager.rules", "pod", "Pod", NONE),
    label("AlertmanagerFailedToSendAlerts", "alertmanager.rules", "pod", "Pod", NONE),
    label("AlertmanagerClusterFailedToSendAlerts", "alertmanager.rules", "service", "Service", NONE),
    label("AlertmanagerConfigInconsistent", "alertmanager.rules", "service", "Service", NONE),
    label("AlertmanagerClusterDown", "alertmanager.rules", "service", "Service", NONE),
    label("AlertmanagerClusterCrashlooping", "alertmanager.rules", "service", "Service", NONE),
    label("AlertmanagerClusterFailedPeers", "alertmanager.rules", "pod", "Pod", NONE),
    label("ConfigReloaderSidecarErrors", "config-reloaders", "pod", "Pod", NONE),
    // prometheus-operator: controller-level rules keep only the namespace.
    other("PrometheusOperatorListErrors", "prometheus-operator", Namespace, NONE),
    other("PrometheusOperatorWatchErrors", "prometheus-operator", Namespace, NONE),
    label("PrometheusOperatorSyncFailed", "prometheus-operator", "pod", "Pod", NONE),
    other("PrometheusOperatorReconcileErrors", "prometheus-operator", Namespace, NONE),
    other("PrometheusOperatorStatusUpdateErrors", "prometheus-operator", Namespace, NONE),
    label("PrometheusOperatorNodeLookupErrors", "prometheus-operator", "pod", "Pod", NONE),
    other("PrometheusOperatorNotReady", "prometheus-operator", Namespace, NONE),
    label("PrometheusOperatorRejectedResources", "prometheus-operator", "pod", "Pod", NONE),
    // Blackbox exporter probes: the probed URL; the exporter's own reload keeps its pod.
    other("BlackboxProbeFailed", "blackbox-exporter", ProbedUrl, NONE),
    other("BlackboxLowUptime30d", "blackbox-exporter", ProbedUrl, NONE),
    other("BlackboxSlowProbe", "blackbox-exporter", ProbedUrl, NONE),
    other("BlackboxProbeHttpFailure", "blackbox-exporter", ProbedUrl, NONE),
    other("BlackboxProbeSlowHttp", "blackbox-exporter", ProbedUrl, NONE),
    other("BlackboxProbeSlowPing", "blackbox-exporter", ProbedUrl, NONE),
    other("BlackboxSslCertificateWillExpireSoon", "blackbox-exporter", ProbedUrl, NONE),
    other("BlackboxSslCertificateExpired", "blackbox-exporter", ProbedUrl, NONE),
    label("BlackboxConfigurationReloadFailure", "blackbox-exporter", "pod", "Pod", NONE),
];

/// The catalogue entry of an alert, if it is a stock one.
pub fn lookup(alert: &str) -> Option<&'static AlertScope> {
    CATALOG.iter().find(|a| a.alert == alert)
}

/// Alerts whose condition is their object's own API status (replica counts, conditions,
/// container states, phases), so that status looking healthy now is evidence the condition
/// cleared. The others measure usage, latency, certificates or exporter metrics, which a
/// healthy status says nothing about.
const MEASURES_STATUS: &[&str] = &[
    "KubePodCrashLooping",
    "KubePodNotReady",
    "KubeDeploymentGenerationMismatch",
    "KubeDeploymentReplicasMismatch",
    "KubeDeploymentRolloutStuck",
    "KubeStatefulSetReplicasMismatch",
    "KubeStatefulSetGenerationMismatch",
    "KubeStatefulSetUpdateNotRolledOut",
    "KubeDaemonSetRolloutStuck",
    "KubeContainerWaiting",
    "KubeDaemonSetNotScheduled",
    "KubeDaemonSetMisScheduled",
    "KubeJobNotCompleted",
    "KubeJobFailed",
    "KubeHpaReplicasMismatch",
    "KubeHpaMaxedOut",
    "KubePdbNotEnoughHealthyPods",
    "KubePersistentVolumeErrors",
    "KubeNodeNotReady",
    "KubeNodePressure",
    "KubeNodeUnreachable",
];

impl AlertScope {
    /// Whether the alert measures its object's API status (see `MEASURES_STATUS`).
    pub fn measures_status(&self) -> bool {
        MEASURES_STATUS.contains(&self.alert)
    }
}

/// Whether a healthy status of the alert's object can clear it: only stock alerts known to
/// measure that status. An alert outside the catalogue measures something its rule alone
/// knows (a backup that failed, a queue that grows): the labelled pod being healthy says
/// nothing about it, so it is never an all-clear.
pub fn status_can_clear(alert: &str) -> bool {
    lookup(alert).is_some_and(AlertScope::measures_status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_alerts_are_catalogue_alerts_and_usage_alerts_are_not_cleared_by_status() {
        for a in MEASURES_STATUS {
            assert!(lookup(a).is_some(), "{a} is not in the catalogue");
        }
        assert!(status_can_clear("KubeDeploymentReplicasMismatch"));
        assert!(!status_can_clear("NodeFilesystemAlmostOutOfSpace"));
        assert!(!status_can_clear("KubeletClientCertificateExpiration"));
        assert!(!status_can_clear("CPUThrottlingHigh"));
        assert!(!status_can_clear("SomeCustomAlert"));
    }
}
