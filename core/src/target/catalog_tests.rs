//! Every catalogue alert with the labels it really fires with: what the stock rule keeps
//! after aggregation, plus the target labels kube-prometheus-stack's ServiceMonitors add
//! (`container`, `endpoint`, `instance`, `job`, `namespace`, `pod`, `service`, kubelet's
//! `node` and `metrics_path`) where the rule does not aggregate them away.

use super::{Subject, catalog, subject};
use std::collections::BTreeMap;

type Labels = BTreeMap<String, String>;

const NODE: &str = "ip-10-0-1-12.eu-west-1.compute.internal";

const KSM: &[(&str, &str)] = &[
    ("container", "kube-state-metrics"),
    ("endpoint", "http"),
    ("instance", "10.244.1.23:8080"),
    ("job", "kube-state-metrics"),
    ("namespace", "monitoring"),
    ("pod", "kube-prometheus-stack-kube-state-metrics-6d8f7b9c5-q2x7l"),
    ("service", "kube-prometheus-stack-kube-state-metrics"),
];
const KUBELET: &[(&str, &str)] = &[
    ("endpoint", "https-metrics"),
    ("instance", "10.0.1.12:10250"),
    ("job", "kubelet"),
    ("metrics_path", "/metrics"),
    ("namespace", "kube-system"),
    ("node", NODE),
    ("service", "kube-prometheus-stack-kubelet"),
];
const NODE_EXPORTER: &[(&str, &str)] = &[
    ("container", "node-exporter"),
    ("endpoint", "http-metrics"),
    ("instance", "10.0.1.12:9100"),
    ("job", "node-exporter"),
    ("namespace", "monitoring"),
    ("pod", "kube-prometheus-stack-prometheus-node-exporter-7xk2p"),
    ("service", "kube-prometheus-stack-prometheus-node-exporter"),
];
const PROMETHEUS: &[(&str, &str)] = &[
    ("container", "prometheus"),
    ("endpoint", "http-web"),
    ("instance", "10.244.2.17:9090"),
    ("job", "kube-prometheus-stack-prometheus"),
    ("namespace", "monitoring"),
    ("pod", "prometheus-kube-prometheus-stack-prometheus-0"),
    ("service", "kube-prometheus-stack-prometheus"),
];
const ALERTMANAGER: &[(&str, &str)] = &[
    ("container", "alertmanager"),
    ("endpoint", "http-web"),
    ("instance", "10.244.2.18:9093"),
    ("job", "kube-prometheus-stack-alertmanager"),
    ("namespace", "monitoring"),
    ("pod", "alertmanager-kube-prometheus-stack-alertmanager-0"),
    ("service", "kube-prometheus-stack-alertmanager"),
];
const OPERATOR: &[(&str, &str)] = &[
    ("container", "kube-prometheus-stack"),
    ("endpoint", "https"),
    ("instance", "10.244.2.9:10250"),
    ("job", "kube-prometheus-stack-operator"),
    ("namespace", "monitoring"),
    ("pod", "kube-prometheus-stack-operator-5b8f4c7d9-m4k2x"),
    ("service", "kube-prometheus-stack-operator"),
];
const APISERVER: &[(&str, &str)] = &[("endpoint", "https"), ("instance", "172.18.0.2:6443"), ("job", "apiserver"), ("namespace", "default"), ("service", "kubernetes")];
const ETCD: &[(&str, &str)] = &[
    ("endpoint", "http-metrics"),
    ("instance", "172.18.0.2:2381"),
    ("job", "kube-etcd"),
    ("namespace", "kube-system"),
    ("pod", "etcd-cp-1"),
    ("service", "kube-prometheus-stack-kube-etcd"),
];

/// `base` (a scrape's target labels) with the series' own labels on top (honorLabels).
fn with(base: &[(&str, &str)], own: &[(&str, &str)]) -> Labels {
    base.iter().chain(own).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// `base` less what the rule's `without (...)` drops, with the series' own labels on top.
fn without(base: &[(&str, &str)], dropped: &[&str], own: &[(&str, &str)]) -> Labels {
    let mut l = with(base, own);
    l.retain(|k, _| !dropped.contains(&k.as_str()));
    l
}

/// Only what the rule's `by (...)` keeps.
fn only(kept: &[(&str, &str)]) -> Labels {
    with(&[], kept)
}

fn show(s: &Subject) -> String {
    match s {
        Subject::Object(t) => t.resource_ref(),
        Subject::NodeAddress(a) => format!("node at {a}"),
        Subject::Url(u) => format!("url {u}"),
        Subject::Named { namespace: Some(ns), name } => format!("{ns}/{name} by name"),
        Subject::Named { namespace: None, name } => format!("{name} by name, any namespace"),
        Subject::Namespace(n) => format!("namespace {n}"),
        Subject::Cluster => "cluster".into(),
        Subject::Informational => "informational".into(),
    }
}

fn cases() -> Vec<(&'static str, Labels, String)> {
    let pod = "checkout-7d9f8c6b5-x2x9k";
    let node = format!("Node/{NODE}");
    let node_addr = "node at 10.0.1.12".to_owned();
    let prom_pod = "monitoring/Pod/prometheus-kube-prometheus-stack-prometheus-0".to_owned();
    let am_pod = "monitoring/Pod/alertmanager-kube-prometheus-stack-alertmanager-0".to_owned();
    let am_svc = "monitoring/Service/kube-prometheus-stack-alertmanager".to_owned();
    let op_pod = "monitoring/Pod/kube-prometheus-stack-operator-5b8f4c7d9-m4k2x".to_owned();
    let etcd_pod = "kube-system/Pod/etcd-cp-1".to_owned();
    let s = |x: &str| x.to_owned();
    let fs = [("device", "/dev/nvme0n1p1"), ("fstype", "xfs"), ("mountpoint", "/")];
    let am_only = only(&[("namespace", "monitoring"), ("service", "kube-prometheus-stack-alertmanager")]);
    let op_only = only(&[("controller", "prometheus"), ("namespace", "monitoring")]);
    let url = "https://shop.example.com/healthz";
    let blackbox = [("instance", url), ("job", "blackbox-exporter")];
    vec![
        // general.rules
        ("TargetDown", only(&[("job", "geo-lookup"), ("namespace", "maps"), ("service", "geo-lookup")]), s("maps/Service/geo-lookup")),
        ("Watchdog", only(&[]), s("informational")),
        ("InfoInhibitor", only(&[("namespace", "shop")]), s("informational")),
        // kubernetes-apps
        ("KubePodCrashLooping", with(KSM, &[("namespace", "shop"), ("pod", pod), ("container", "checkout"), ("reason", "CrashLoopBackOff"), ("uid", "b2875307")]), format!("shop/Pod/{pod}")),
        ("KubePodNotReady", only(&[("job", "kube-state-metrics"), ("namespace", "shop"), ("pod", pod)]), format!("shop/Pod/{pod}")),
        ("KubeDeploymentGenerationMismatch", with(KSM, &[("namespace", "shop"), ("deployment", "checkout")]), s("shop/Deployment/checkout")),
        ("KubeDeploymentReplicasMismatch", with(KSM, &[("namespace", "shop"), ("deployment", "checkout")]), s("shop/Deployment/checkout")),
        ("KubeDeploymentRolloutStuck", with(KSM, &[("namespace", "shop"), ("deployment", "checkout"), ("condition", "Progressing"), ("status", "false")]), s("shop/Deployment/checkout")),
        ("KubeStatefulSetReplicasMismatch", with(KSM, &[("namespace", "orders"), ("statefulset", "orders-db")]), s("orders/StatefulSet/orders-db")),
        ("KubeStatefulSetGenerationMismatch", with(KSM, &[("namespace", "orders"), ("statefulset", "orders-db")]), s("orders/StatefulSet/orders-db")),
        ("KubeStatefulSetUpdateNotRolledOut", only(&[("job", "kube-state-metrics"), ("namespace", "orders"), ("statefulset", "orders-db")]), s("orders/StatefulSet/orders-db")),
        ("KubeDaemonSetRolloutStuck", with(KSM, &[("namespace", "logging"), ("daemonset", "fluent-bit")]), s("logging/DaemonSet/fluent-bit")),
        ("KubeContainerWaiting", with(KSM, &[("namespace", "shop"), ("pod", pod), ("container", "checkout"), ("reason", "ContainerCreating"), ("uid", "b2875307")]), format!("shop/Pod/{pod}")),
        ("KubeDaemonSetNotScheduled", with(KSM, &[("namespace", "logging"), ("daemonset", "fluent-bit")]), s("logging/DaemonSet/fluent-bit")),
        ("KubeDaemonSetMisScheduled", with(KSM, &[("namespace", "logging"), ("daemonset", "fluent-bit")]), s("logging/DaemonSet/fluent-bit")),
        ("KubeJobNotCompleted", only(&[("namespace", "finance"), ("job_name", "ledger-migrations-29924790")]), s("finance/Job/ledger-migrations-29924790")),
        ("KubeJobFailed", with(KSM, &[("namespace", "finance"), ("job_name", "ledger-migrations-29924790"), ("condition", "true")]), s("finance/Job/ledger-migrations-29924790")),
        ("KubeHpaReplicasMismatch", with(KSM, &[("namespace", "media"), ("horizontalpodautoscaler", "thumbnailer")]), s("media/HorizontalPodAutoscaler/thumbnailer")),
        ("KubeHpaMaxedOut", with(KSM, &[("namespace", "media"), ("horizontalpodautoscaler", "thumbnailer")]), s("media/HorizontalPodAutoscaler/thumbnailer")),
        ("KubePdbNotEnoughHealthyPods", with(KSM, &[("namespace", "orders"), ("poddisruptionbudget", "orders-db")]), s("orders/PodDisruptionBudget/orders-db")),
        // kubernetes-resources
        ("KubeCPUOvercommit", only(&[]), s("cluster")),
        ("KubeMemoryOvercommit", only(&[]), s("cluster")),
        ("KubeCPUQuotaOvercommit", only(&[]), s("cluster")),
        ("KubeMemoryQuotaOvercommit", only(&[]), s("cluster")),
        ("KubeQuotaAlmostFull", without(KSM, &["instance", "job", "type"], &[("namespace", "analytics"), ("resource", "requests.cpu"), ("resourcequota", "team-quota")]), s("analytics/ResourceQuota/team-quota")),
        ("KubeQuotaFullyUsed", without(KSM, &["instance", "job", "type"], &[("namespace", "analytics"), ("resource", "pods"), ("resourcequota", "team-quota")]), s("analytics/ResourceQuota/team-quota")),
        ("KubeQuotaExceeded", without(KSM, &["instance", "job", "type"], &[("namespace", "analytics"), ("resource", "limits.memory"), ("resourcequota", "team-quota")]), s("analytics/ResourceQuota/team-quota")),
        (
            "CPUThrottlingHigh",
            without(KUBELET, &["id", "metrics_path", "name", "image", "endpoint", "job", "node"], &[("namespace", "pricing"), ("pod", "quote-engine-5c7d9-v79w8"), ("container", "quote-engine")]),
            s("pricing/Pod/quote-engine-5c7d9-v79w8"),
        ),
        // kubernetes-storage
        ("KubePersistentVolumeFillingUp", with(KUBELET, &[("namespace", "metrics"), ("persistentvolumeclaim", "data-timescaledb-0")]), s("metrics/PersistentVolumeClaim/data-timescaledb-0")),
        ("KubePersistentVolumeInodesFillingUp", with(KUBELET, &[("namespace", "metrics"), ("persistentvolumeclaim", "data-timescaledb-0")]), s("metrics/PersistentVolumeClaim/data-timescaledb-0")),
        ("KubePersistentVolumeErrors", with(KSM, &[("persistentvolume", "pvc-3f1c9a7e"), ("phase", "Failed")]), s("PersistentVolume/pvc-3f1c9a7e")),
        // kubernetes-system, apiserver, control plane
        ("KubeVersionMismatch", only(&[]), s("cluster")),
        ("KubeClientErrors", only(&[("instance", "172.18.0.2:6443"), ("job", "apiserver"), ("namespace", "default")]), s("cluster")),
        ("KubeClientCertificateExpiration", without(APISERVER, &["namespace", "service", "endpoint"], &[]), s("cluster")),
        ("KubeAggregatedAPIErrors", only(&[("instance", "172.18.0.2:6443"), ("name", "v1beta1.metrics.k8s.io"), ("reason", "FailedDiscoveryCheck")]), s("cluster")),
        ("KubeAggregatedAPIDown", only(&[("name", "v1beta1.metrics.k8s.io"), ("namespace", "kube-system")]), s("cluster")),
        ("KubeAPIDown", only(&[("job", "apiserver")]), s("cluster")),
        ("KubeAPIInstanceUnreachable", with(APISERVER, &[]), s("cluster")),
        ("KubeAPITerminatedRequests", only(&[]), s("cluster")),
        ("KubeAPIErrorBudgetBurn", only(&[("long", "1h"), ("short", "5m")]), s("cluster")),
        ("KubeControllerManagerDown", only(&[("job", "kube-controller-manager")]), s("cluster")),
        (
            "KubeControllerManagerInstanceUnreachable",
            with(ETCD, &[("instance", "172.18.0.2:10257"), ("job", "kube-controller-manager"), ("pod", "kube-controller-manager-cp-1"), ("service", "kube-prometheus-stack-kube-controller-manager")]),
            s("kube-system/Pod/kube-controller-manager-cp-1"),
        ),
        ("KubeSchedulerDown", only(&[("job", "kube-scheduler")]), s("cluster")),
        (
            "KubeSchedulerInstanceUnreachable",
            with(ETCD, &[("instance", "172.18.0.2:10259"), ("job", "kube-scheduler"), ("pod", "kube-scheduler-cp-1"), ("service", "kube-prometheus-stack-kube-scheduler")]),
            s("kube-system/Pod/kube-scheduler-cp-1"),
        ),
        ("KubeProxyDown", only(&[("job", "kube-proxy")]), s("cluster")),
        (
            "KubeProxyInstanceUnreachable",
            with(ETCD, &[("instance", "10.0.1.12:10249"), ("job", "kube-proxy"), ("pod", "kube-proxy-x7k2p"), ("service", "kube-prometheus-stack-kube-proxy")]),
            s("kube-system/Pod/kube-proxy-x7k2p"),
        ),
        // kubernetes-system-kubelet
        ("KubeNodeNotReady", with(KSM, &[("node", NODE), ("condition", "Ready"), ("status", "true")]), node.clone()),
        ("KubeNodePressure", with(KSM, &[("node", NODE), ("condition", "DiskPressure"), ("status", "true")]), node.clone()),
        ("KubeNodeUnreachable", with(KSM, &[("node", NODE), ("key", "node.kubernetes.io/unreachable"), ("effect", "NoSchedule")]), node.clone()),
        ("KubeletTooManyPods", only(&[("instance", "10.0.1.12:10250"), ("node", NODE)]), node.clone()),
        ("KubeNodeReadinessFlapping", only(&[("node", NODE)]), node.clone()),
        ("KubeNodeEviction", only(&[("eviction_signal", "memory.available"), ("instance", "10.0.1.12:10250"), ("node", NODE)]), node.clone()),
        ("KubeletPlegDurationHigh", only(&[("instance", "10.0.1.12:10250"), ("node", NODE), ("quantile", "0.99")]), node.clone()),
        ("KubeletPodStartUpLatencyHigh", only(&[("instance", "10.0.1.12:10250"), ("node", NODE)]), node.clone()),
        ("KubeletClientCertificateExpiration", with(KUBELET, &[]), node.clone()),
        ("KubeletServerCertificateExpiration", with(KUBELET, &[]), node.clone()),
        ("KubeletClientCertificateRenewalErrors", with(KUBELET, &[]), node.clone()),
        ("KubeletServerCertificateRenewalErrors", with(KUBELET, &[]), node.clone()),
        ("KubeletInstanceUnreachable", with(KUBELET, &[]), node.clone()),
        ("KubeletDown", only(&[]), s("cluster")),
        // node-exporter, node-network
        ("NodeFilesystemSpaceFillingUp", with(NODE_EXPORTER, &fs), node_addr.clone()),
        ("NodeFilesystemAlmostOutOfSpace", with(NODE_EXPORTER, &fs), node_addr.clone()),
        ("NodeFilesystemFilesFillingUp", with(NODE_EXPORTER, &fs), node_addr.clone()),
        ("NodeFilesystemAlmostOutOfFiles", with(NODE_EXPORTER, &fs), node_addr.clone()),
        ("NodeNetworkReceiveErrs", with(NODE_EXPORTER, &[("device", "eth0")]), node_addr.clone()),
        ("NodeNetworkTransmitErrs", with(NODE_EXPORTER, &[("device", "eth0")]), node_addr.clone()),
        ("NodeHighNumberConntrackEntriesUsed", with(NODE_EXPORTER, &[]), node_addr.clone()),
        ("NodeTextFileCollectorScrapeError", with(NODE_EXPORTER, &[]), node_addr.clone()),
        ("NodeClockSkewDetected", with(NODE_EXPORTER, &[]), node_addr.clone()),
        ("NodeClockNotSynchronising", with(NODE_EXPORTER, &[]), node_addr.clone()),
        ("NodeRAIDDegraded", with(NODE_EXPORTER, &[("device", "md0")]), node_addr.clone()),
        ("NodeRAIDDiskFailure", with(NODE_EXPORTER, &[("device", "md0"), ("state", "failed")]), node_addr.clone()),
        ("NodeFileDescriptorLimit", with(NODE_EXPORTER, &[]), node_addr.clone()),
        ("NodeCPUHighUsage", with(NODE_EXPORTER, &[]), node_addr.clone()),
        ("NodeSystemSaturation", with(NODE_EXPORTER, &[]), node_addr.clone()),
        ("NodeMemoryMajorPagesFaults", with(NODE_EXPORTER, &[]), node_addr.clone()),
        ("NodeMemoryHighUtilization", with(NODE_EXPORTER, &[]), node_addr.clone()),
        ("NodeDiskIOSaturation", with(NODE_EXPORTER, &[("device", "nvme0n1")]), node_addr.clone()),
        ("NodeSystemdServiceFailed", with(NODE_EXPORTER, &[("name", "containerd.service"), ("state", "failed"), ("type", "simple")]), node_addr.clone()),
        ("NodeSystemdServiceCrashlooping", with(NODE_EXPORTER, &[("name", "kubelet.service")]), node_addr.clone()),
        ("NodeBondingDegraded", with(NODE_EXPORTER, &[("master", "bond0")]), node_addr.clone()),
        ("NodeNetworkInterfaceFlapping", with(NODE_EXPORTER, &[("device", "eth1")]), node_addr.clone()),
        // kube-state-metrics
        ("KubeStateMetricsListErrors", only(&[]), s("cluster")),
        ("KubeStateMetricsWatchErrors", only(&[]), s("cluster")),
        ("KubeStateMetricsShardingMismatch", only(&[]), s("cluster")),
        ("KubeStateMetricsShardsMissing", only(&[]), s("cluster")),
        // etcd
        ("etcdMembersDown", without(ETCD, &["endpoint", "instance", "pod"], &[]), s("cluster")),
        ("etcdInsufficientMembers", without(ETCD, &["instance", "pod"], &[]), s("cluster")),
        ("etcdNoLeader", with(ETCD, &[]), etcd_pod.clone()),
        ("etcdHighNumberOfLeaderChanges", without(ETCD, &["instance", "pod"], &[]), s("cluster")),
        ("etcdHighNumberOfFailedGRPCRequests", with(ETCD, &[("grpc_method", "Range"), ("grpc_service", "etcdserverpb.KV")]), etcd_pod.clone()),
        ("etcdGRPCRequestsSlow", with(ETCD, &[("grpc_method", "Range"), ("grpc_service", "etcdserverpb.KV")]), etcd_pod.clone()),
        ("etcdMemberCommunicationSlow", with(ETCD, &[("To", "8e9e05c52164694d")]), etcd_pod.clone()),
        ("etcdHighNumberOfFailedProposals", with(ETCD, &[]), etcd_pod.clone()),
        ("etcdHighFsyncDurations", with(ETCD, &[]), etcd_pod.clone()),
        ("etcdHighCommitDurations", with(ETCD, &[]), etcd_pod.clone()),
        ("etcdDatabaseQuotaLowSpace", with(ETCD, &[]), etcd_pod.clone()),
        ("etcdExcessiveDatabaseGrowth", with(ETCD, &[]), etcd_pod.clone()),
        ("etcdDatabaseHighFragmentationRatio", with(ETCD, &[]), etcd_pod.clone()),
        // prometheus
        ("PrometheusBadConfig", with(PROMETHEUS, &[]), prom_pod.clone()),
        ("PrometheusSDRefreshFailure", with(PROMETHEUS, &[("mechanism", "kubernetes")]), prom_pod.clone()),
        ("PrometheusKubernetesListWatchFailures", with(PROMETHEUS, &[]), prom_pod.clone()),
        ("PrometheusNotificationQueueRunningFull", with(PROMETHEUS, &[]), prom_pod.clone()),
        ("PrometheusErrorSendingAlertsToSomeAlertmanagers", with(PROMETHEUS, &[("alertmanager", "http://10.244.2.18:9093/api/v2/alerts")]), prom_pod.clone()),
        ("PrometheusNotConnectedToAlertmanagers", with(PROMETHEUS, &[]), prom_pod.clone()),
        ("PrometheusTSDBReloadsFailing", with(PROMETHEUS, &[]), prom_pod.clone()),
        ("PrometheusTSDBCompactionsFailing", with(PROMETHEUS, &[]), prom_pod.clone()),
        ("PrometheusNotIngestingSamples", with(PROMETHEUS, &[]), prom_pod.clone()),
        ("PrometheusDuplicateTimestamps", with(PROMETHEUS, &[]), prom_pod.clone()),
        ("PrometheusOutOfOrderTimestamps", with(PROMETHEUS, &[]), prom_pod.clone()),
        ("PrometheusRemoteStorageFailures", with(PROMETHEUS, &[("remote_name", "mimir"), ("url", "https://mimir.example.com/api/v1/push")]), prom_pod.clone()),
        ("PrometheusRemoteWriteBehind", with(PROMETHEUS, &[("remote_name", "mimir"), ("url", "https://mimir.example.com/api/v1/push")]), prom_pod.clone()),
        ("PrometheusRemoteWriteDesiredShards", with(PROMETHEUS, &[("remote_name", "mimir"), ("url", "https://mimir.example.com/api/v1/push")]), prom_pod.clone()),
        ("PrometheusRuleFailures", with(PROMETHEUS, &[("rule_group", "/etc/prometheus/rules/x.yaml;kubernetes-apps")]), prom_pod.clone()),
        ("PrometheusMissingRuleEvaluations", with(PROMETHEUS, &[("rule_group", "/etc/prometheus/rules/x.yaml;kubernetes-apps")]), prom_pod.clone()),
        ("PrometheusTargetLimitHit", with(PROMETHEUS, &[]), prom_pod.clone()),
        ("PrometheusLabelLimitHit", with(PROMETHEUS, &[]), prom_pod.clone()),
        ("PrometheusScrapeBodySizeLimitHit", with(PROMETHEUS, &[]), prom_pod.clone()),
        ("PrometheusScrapeSampleLimitHit", with(PROMETHEUS, &[]), prom_pod.clone()),
        ("PrometheusTargetSyncFailure", with(PROMETHEUS, &[("scrape_job", "serviceMonitor/shop/checkout/0")]), prom_pod.clone()),
        ("PrometheusHighQueryLoad", with(PROMETHEUS, &[]), prom_pod.clone()),
        ("PrometheusErrorSendingAlertsToAnyAlertmanager", with(PROMETHEUS, &[]), prom_pod.clone()),
        // alertmanager.rules, config-reloaders
        ("AlertmanagerFailedReload", with(ALERTMANAGER, &[]), am_pod.clone()),
        ("AlertmanagerMembersInconsistent", with(ALERTMANAGER, &[]), am_pod.clone()),
        ("AlertmanagerFailedToSendAlerts", with(ALERTMANAGER, &[("integration", "slack")]), am_pod.clone()),
        ("AlertmanagerClusterFailedToSendAlerts", only(&[("integration", "pagerduty"), ("namespace", "monitoring"), ("service", "kube-prometheus-stack-alertmanager")]), am_svc.clone()),
        ("AlertmanagerConfigInconsistent", am_only.clone(), am_svc.clone()),
        ("AlertmanagerClusterDown", am_only.clone(), am_svc.clone()),
        ("AlertmanagerClusterCrashlooping", am_only.clone(), am_svc.clone()),
        ("AlertmanagerClusterFailedPeers", with(ALERTMANAGER, &[]), am_pod.clone()),
        ("ConfigReloaderSidecarErrors", with(PROMETHEUS, &[("container", "config-reloader"), ("endpoint", "reloader-web"), ("instance", "10.244.2.17:8080")]), prom_pod.clone()),
        // prometheus-operator
        ("PrometheusOperatorListErrors", op_only.clone(), s("namespace monitoring")),
        ("PrometheusOperatorWatchErrors", op_only.clone(), s("namespace monitoring")),
        ("PrometheusOperatorSyncFailed", with(OPERATOR, &[("controller", "alertmanager"), ("status", "failed")]), op_pod.clone()),
        ("PrometheusOperatorReconcileErrors", op_only.clone(), s("namespace monitoring")),
        ("PrometheusOperatorStatusUpdateErrors", op_only.clone(), s("namespace monitoring")),
        ("PrometheusOperatorNodeLookupErrors", with(OPERATOR, &[("controller", "prometheus")]), op_pod.clone()),
        ("PrometheusOperatorNotReady", op_only.clone(), s("namespace monitoring")),
        ("PrometheusOperatorRejectedResources", with(OPERATOR, &[("controller", "prometheus"), ("resource", "servicemonitors"), ("state", "rejected")]), op_pod.clone()),
        // blackbox exporter
        ("BlackboxProbeFailed", only(&[("instance", url), ("job", "probe/monitoring/storefront-public")]), format!("url {url}")),
        ("BlackboxLowUptime30d", only(&blackbox), format!("url {url}")),
        ("BlackboxSlowProbe", only(&blackbox), format!("url {url}")),
        ("BlackboxProbeHttpFailure", only(&blackbox), format!("url {url}")),
        ("BlackboxProbeSlowHttp", only(&blackbox), format!("url {url}")),
        ("BlackboxProbeSlowPing", only(&[("instance", "10.0.5.4"), ("job", "blackbox-icmp")]), s("url 10.0.5.4")),
        ("BlackboxSslCertificateWillExpireSoon", only(&blackbox), format!("url {url}")),
        ("BlackboxSslCertificateExpired", only(&blackbox), format!("url {url}")),
        (
            "BlackboxConfigurationReloadFailure",
            only(&[
                ("container", "blackbox-exporter"),
                ("endpoint", "http"),
                ("instance", "10.244.3.4:9115"),
                ("job", "prometheus-blackbox-exporter"),
                ("namespace", "monitoring"),
                ("pod", "prometheus-blackbox-exporter-6c9d8b7f4-kq2zx"),
                ("service", "prometheus-blackbox-exporter"),
            ]),
            s("monitoring/Pod/prometheus-blackbox-exporter-6c9d8b7f4-kq2zx"),
        ),
    ]
}

#[test]
fn every_catalogue_alert_scopes_to_its_object_with_its_real_labels() {
    let cases = cases();
    let mut wrong = vec![];
    for (alert, labels, want) in &cases {
        let got = show(&subject(alert, labels));
        if &got != want {
            wrong.push(format!("{alert}: got {got}, want {want} (labels {labels:?})"));
        }
    }
    assert!(wrong.is_empty(), "{} of {} wrong:\n{}", wrong.len(), cases.len(), wrong.join("\n"));
    // One case per catalogue entry, and no case for an alert the catalogue lacks.
    let mut tested: Vec<&str> = cases.iter().map(|(a, _, _)| *a).collect();
    tested.sort_unstable();
    tested.dedup();
    let mut catalogued: Vec<&str> = catalog::CATALOG.iter().map(|a| a.alert).collect();
    catalogued.sort_unstable();
    assert_eq!(tested, catalogued);
    assert_eq!(cases.len(), catalog::CATALOG.len(), "one case per alert");
}

#[test]
fn without_the_catalogue_the_scraper_labels_are_still_set_aside() {
    // The kube-state-metrics pod of kube-prometheus-stack, beside a custom rule's object.
    let custom = with(KSM, &[("namespace", "shop"), ("deployment", "checkout")]);
    assert_eq!(show(&subject("CheckoutUnavailable", &custom)), "shop/Deployment/checkout");
    // kube-prometheus drops the scraper's pod; the container is kube-rbac-proxy.
    let custom = only(&[("container", "kube-rbac-proxy-main"), ("job", "kube-state-metrics"), ("namespace", "batch"), ("job_name", "nightly")]);
    assert_eq!(show(&subject("NightlyJobFailed", &custom)), "batch/Job/nightly");
    // A kube-state-metrics pod series keeps its own pod before its node.
    let custom = with(KSM, &[("namespace", "shop"), ("pod", "checkout-1"), ("node", NODE)]);
    assert_eq!(show(&subject("PodOnBadNode", &custom)), "shop/Pod/checkout-1");
    // Nothing but the scraper: no object, sweep the namespace the series reports.
    assert_eq!(show(&subject("SomeKsmAlert", &with(KSM, &[]))), "namespace monitoring");
}

#[test]
fn custom_alerts_without_object_labels_scope_to_what_they_keep() {
    // An app's own series via its ServiceMonitor: the pod is the app's.
    let app = only(&[("job", "payment-gateway"), ("namespace", "checkout"), ("pod", "payment-gateway-6b7c9-x2"), ("service", "payment-gateway")]);
    assert_eq!(show(&subject("HighHTTPErrorRate", &app)), "checkout/Pod/payment-gateway-6b7c9-x2");
    // An SLO aggregated by namespace and service.
    let slo = only(&[("namespace", "checkout"), ("service", "payment-gateway")]);
    assert_eq!(show(&subject("HighHTTPErrorRate", &slo)), "checkout/Service/payment-gateway");
    assert_eq!(show(&subject("LatencySLOBurn", &only(&[("namespace", "checkout")]))), "namespace checkout");
    assert_eq!(show(&subject("LatencySLOBurn", &only(&[]))), "cluster");
    // node-exporter with kube-prometheus's relabelling: `instance` is the node name.
    let relabelled = with(NODE_EXPORTER, &[("instance", NODE)]);
    assert_eq!(show(&subject("NodeFilesystemAlmostOutOfSpace", &relabelled)), format!("Node/{NODE}"));
    assert_eq!(show(&subject("DiskWillFillIn4h", &with(NODE_EXPORTER, &[]))), "node at 10.0.1.12");
    // A Probe of Ingresses names the Ingress.
    let probe = only(&[("ingress", "storefront"), ("instance", "https://shop.example.com/"), ("job", "probe/monitoring/ingresses"), ("namespace", "storefront")]);
    assert_eq!(show(&subject("BlackboxProbeFailed", &probe)), "storefront/Ingress/storefront");
}

#[test]
fn instance_hosts_drop_the_port() {
    assert_eq!(super::instance_host("10.0.1.12:9100"), "10.0.1.12");
    assert_eq!(super::instance_host("[fd00::1]:9100"), "fd00::1");
    assert_eq!(super::instance_host("node-1"), "node-1");
}

#[test]
fn events_turned_alerts_name_the_events_object() {
    // kubernetes-event-exporter to Loki, `| json`: the kind may be left out of the rule's `by`.
    let loki = only(&[("involvedObject_name", "api-6f8b7c9d5d-8kq2w"), ("involvedObject_namespace", "risk"), ("reason", "Failed"), ("source", "k8s-events")]);
    assert_eq!(show(&subject("ImagePullFailing", &loki)), "risk/Pod/api-6f8b7c9d5d-8kq2w");
    // An event exporter's metrics: kind, name and the namespace label.
    let metric = only(&[("involved_object_kind", "Ingress"), ("involved_object_name", "web"), ("namespace", "shop"), ("reason", "Translate")]);
    assert_eq!(show(&subject("KubernetesWarningEvent", &metric)), "shop/Ingress/web");
    // events.k8s.io `regarding`, a cluster-scoped object.
    let node = only(&[("regarding_kind", "Node"), ("regarding_name", NODE), ("namespace", "default"), ("reason", "NodeNotReady")]);
    assert_eq!(show(&subject("NodeEvent", &node)), format!("Node/{NODE}"));
    // No kind, a reason that is not a pod's and a name that is not a pod's: no object.
    let unknown = only(&[("involvedObject_name", "nightly"), ("namespace", "b"), ("reason", "SawCompletedJob")]);
    assert_eq!(show(&subject("EventAlert", &unknown)), "b/nightly by name");
}

#[test]
fn caller_side_alerts_are_about_the_callee() {
    // Istio's standard metrics, reported by the source: no `namespace`, the destination's.
    let istio = only(&[("destination_workload", "cart-api"), ("destination_workload_namespace", "checkout"), ("reporter", "source")]);
    assert_eq!(show(&subject("IstioLatencyHigh", &istio)), "checkout/cart-api by name");
    let fqdn = only(&[("destination_service", "ledger.finance.svc.cluster.local"), ("source_workload", "web"), ("namespace", "web")]);
    assert_eq!(show(&subject("IstioErrors", &fqdn)), "finance/ledger by name");
    // A client's own series: `service` is the caller, `upstream` the callee.
    let client = only(&[("namespace", "finance"), ("service", "invoice-worker"), ("upstream", "ledger-api")]);
    assert_eq!(show(&subject("UpstreamCallsFailing", &client)), "finance/ledger-api by name");
    // An external dependency names no Service: the caller's own labels decide.
    let external = only(&[("namespace", "shop"), ("service", "checkout"), ("upstream", "api.stripe.com:443")]);
    assert_eq!(show(&subject("UpstreamCallsFailing", &external)), "shop/Service/checkout");
}

#[test]
fn custom_alerts_name_applications_by_job_app_or_slo_service() {
    // A ServiceMonitor's job is its Service's name.
    let job = only(&[("job", "dns-record-sync"), ("namespace", "netops")]);
    assert_eq!(show(&subject("NoLeader", &job)), "netops/dns-record-sync by name");
    // A PodMonitor's job is `<namespace>/<name>`.
    let pod_monitor = only(&[("job", "netops/dns-record-sync"), ("namespace", "netops")]);
    assert_eq!(show(&subject("NoLeader", &pod_monitor)), "netops/dns-record-sync by name");
    // Sloth keeps no namespace: any namespace.
    let sloth = only(&[("sloth_service", "search-gateway"), ("sloth_slo", "availability"), ("sloth_id", "x")]);
    assert_eq!(show(&subject("SearchGatewayHighErrorRate", &sloth)), "search-gateway by name, any namespace");
    let app = only(&[("app_kubernetes_io_name", "web"), ("namespace", "shop")]);
    assert_eq!(show(&subject("WebSlow", &app)), "shop/web by name");
    // The exporter's job and a probe's job name nothing.
    assert_eq!(show(&subject("X", &only(&[("job", "kube-state-metrics"), ("namespace", "m")]))), "namespace m");
    assert_eq!(show(&subject("X", &only(&[("job", "probe/monitoring/web"), ("namespace", "m")]))), "namespace m");
}

#[test]
fn exported_labels_are_the_series_own() {
    // Scraped without honorLabels: the target's namespace and pod are the exporter's.
    let l = only(&[("exported_namespace", "shop"), ("exported_pod", "web-1"), ("namespace", "monitoring"), ("pod", "my-exporter-0")]);
    assert_eq!(show(&subject("PodRestartingOften", &l)), "shop/Pod/web-1");
}

#[test]
fn service_hosts_parse_in_cluster_names_only() {
    assert_eq!(super::service_host("ledger-api"), Some(("ledger-api".into(), None)));
    assert_eq!(super::service_host("http://ledger-api.finance.svc.cluster.local:8080/v1"), Some(("ledger-api".into(), Some("finance".into()))));
    assert_eq!(super::service_host("ledger-api.finance:8080"), Some(("ledger-api".into(), Some("finance".into()))));
    assert_eq!(super::service_host("api.stripe.com"), None);
    assert_eq!(super::service_host("Not A Host"), None);
}
