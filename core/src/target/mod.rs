//! What an alert is about: the Kubernetes object its labels point at.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The object an alert names, as far as its labels tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Namespace, for namespaced kinds.
    pub namespace: Option<String>,
    /// Kind (`Pod`, `Deployment`, `Node`, ...).
    pub kind: String,
    /// Object name.
    pub name: String,
}

pub mod catalog;

/// Label → kind, most specific first. kube-state-metrics names the object in these labels;
/// `job` and `container` are deliberately absent: on kube-state-metrics alerts they name the
/// scraper, not the workload (SCENARIOS.md), so `job_name` is the Job.
const LABEL_KINDS: &[(&str, &str)] = &[
    ("pod", "Pod"),
    ("deployment", "Deployment"),
    ("statefulset", "StatefulSet"),
    ("daemonset", "DaemonSet"),
    ("replicaset", "ReplicaSet"),
    ("job_name", "Job"),
    ("cronjob", "CronJob"),
    ("horizontalpodautoscaler", "HorizontalPodAutoscaler"),
    ("poddisruptionbudget", "PodDisruptionBudget"),
    ("resourcequota", "ResourceQuota"),
    ("persistentvolumeclaim", "PersistentVolumeClaim"),
    ("service", "Service"),
    ("ingress", "Ingress"),
    ("persistentvolume", "PersistentVolume"),
    ("node", "Node"),
];

const CLUSTER_SCOPED: &[&str] = &["Node", "PersistentVolume", "StorageClass", "Namespace", "APIService", "ClusterRole", "ClusterRoleBinding", "IngressClass", "CiliumClusterwideNetworkPolicy", "GlobalNetworkPolicy", "AdminNetworkPolicy", "BaselineAdminNetworkPolicy"];

/// Exporters whose own pod, container and Service appear as target labels on the series
/// they export about other objects.
const EXPORTERS: &[&str] = &["kube-state-metrics", "node-exporter", "blackbox-exporter", "kube-rbac-proxy"];

/// What an alert is about, as far as its name and labels tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// One object.
    Object(Target),
    /// A node known only by the address in `instance` (`10.0.1.5`): matched against the
    /// nodes' addresses once they are read.
    NodeAddress(String),
    /// A URL a probe checks, when no Ingress label names its object.
    Url(String),
    /// A name the alert gives an application by (`service`, `app`, `job`, a caller's
    /// `upstream`), not its kind: matched against the Deployments, StatefulSets, DaemonSets
    /// and Services of that name once they are read; every namespace when none is kept.
    Named {
        /// Namespace, when the alert keeps one.
        namespace: Option<String>,
        /// The application's name.
        name: String,
    },
    /// A namespace and no object in it: its unhealthy objects are the suspects.
    Namespace(String),
    /// Nothing the API serves as one object (control plane, cluster capacity, SLOs).
    Cluster,
    /// Not a fault (heartbeat, inhibitor).
    Informational,
}

fn label<'l>(labels: &'l BTreeMap<String, String>, name: &str) -> Option<&'l str> {
    labels.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

fn is_exporter(value: &str) -> bool {
    EXPORTERS.iter().any(|e| value.contains(e))
}

fn object(labels: &BTreeMap<String, String>, label_name: &str, kind: &str) -> Option<Target> {
    let name = label(labels, label_name)?;
    let namespace = if CLUSTER_SCOPED.contains(&kind) { None } else { Some(label(labels, "namespace")?.to_owned()) };
    Some(Target { namespace, kind: kind.to_owned(), name: name.to_owned() })
}

/// Whether the scraped target is an exporter reporting on other objects (kube-state-metrics,
/// node-exporter, ...): then `pod`, `container`, `service` and `instance` may be its own.
pub fn scraped_by_exporter(labels: &BTreeMap<String, String>) -> bool {
    ["job", "container", "pod"].iter().any(|l| label(labels, l).is_some_and(is_exporter))
}

/// The host part of an `instance` label (`10.0.1.5:9100`, `[fd00::1]:9100`, `node-1:9100`).
pub fn instance_host(instance: &str) -> &str {
    match instance.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None if instance.matches(':').count() == 1 => instance.split(':').next().unwrap_or(instance),
        None => instance,
    }
}

/// The node a node-exporter or kubelet series is about: `node`, else the host of `instance`.
fn node_of_instance(labels: &BTreeMap<String, String>) -> Option<Subject> {
    if let Some(t) = object(labels, "node", "Node") {
        return Some(Subject::Object(t));
    }
    let host = instance_host(label(labels, "instance")?);
    Some(if host.parse::<std::net::IpAddr>().is_ok() {
        Subject::NodeAddress(host.to_owned())
    } else {
        Subject::Object(Target { namespace: None, kind: "Node".into(), name: host.to_owned() })
    })
}

/// Where a series' own labels went when the scrape target had the same ones (a ServiceMonitor
/// without `honorLabels`): `exported_namespace` is the metric's, `namespace` the scraper's.
const EXPORTED: &[&str] = &["namespace", "pod", "container", "service", "job", "node", "instance"];

/// Other monitoring stacks' names for the object labels, as they reach Alertmanager:
/// Datadog's Kubernetes tags (monitors forwarded by webhook), OpenTelemetry's `k8s.*`
/// resource attributes (`k8s_namespace_name` once made Prometheus labels), and the
/// `pod_name` / `container_name` of cAdvisor before Kubernetes 1.16. Each is used only where
/// the Prometheus label is absent.
const ALIASES: &[(&str, &str)] = &[
    ("kube_namespace", "namespace"),
    ("k8s_namespace_name", "namespace"),
    ("pod_name", "pod"),
    ("k8s_pod_name", "pod"),
    ("kube_container_name", "container"),
    ("container_name", "container"),
    ("k8s_container_name", "container"),
    ("kube_deployment", "deployment"),
    ("k8s_deployment_name", "deployment"),
    ("kube_stateful_set", "statefulset"),
    ("k8s_statefulset_name", "statefulset"),
    ("kube_daemon_set", "daemonset"),
    ("k8s_daemonset_name", "daemonset"),
    ("kube_replica_set", "replicaset"),
    ("k8s_replicaset_name", "replicaset"),
    ("kube_job", "job_name"),
    ("k8s_job_name", "job_name"),
    ("kube_cronjob", "cronjob"),
    ("k8s_cronjob_name", "cronjob"),
    ("kube_service", "service"),
    ("k8s_service_name", "service"),
    ("kube_node", "node"),
    ("k8s_node_name", "node"),
    ("kube_persistentvolumeclaim", "persistentvolumeclaim"),
    ("k8s_persistentvolumeclaim_name", "persistentvolumeclaim"),
    ("kube_hpa", "horizontalpodautoscaler"),
    ("k8s_hpa_name", "horizontalpodautoscaler"),
];

/// The labels as the series itself set them, in Prometheus' names: `exported_<l>` in place of
/// the scraper's `<l>`, other stacks' names (`ALIASES`, dotted OpenTelemetry attributes)
/// where the Prometheus one is absent. A Job label equal to its CronJob's name is dropped:
/// a CronJob's Jobs are `<cronjob>-<scheduled time>`, so it is a name trimmed to the CronJob
/// (Datadog's `kube_job`), not a Job.
pub fn own_labels(labels: &BTreeMap<String, String>) -> std::borrow::Cow<'_, BTreeMap<String, String>> {
    let aliased = |k: &str| ALIASES.iter().any(|(a, _)| *a == k.replace('.', "_"));
    let exported = EXPORTED.iter().any(|l| label(labels, &format!("exported_{l}")).is_some());
    let trimmed_job = |l: &BTreeMap<String, String>| ["job_name", "kube_job"].iter().any(|j| label(l, j).is_some() && label(l, j) == label(l, "cronjob").or_else(|| label(l, "kube_cronjob")));
    if !exported && !labels.keys().any(|k| aliased(k)) && !trimmed_job(labels) {
        return std::borrow::Cow::Borrowed(labels);
    }
    let mut own = labels.clone();
    for l in EXPORTED {
        if let Some(v) = label(labels, &format!("exported_{l}")) {
            own.insert((*l).to_owned(), v.to_owned());
        }
    }
    for (k, v) in labels.iter().filter(|(_, v)| !v.is_empty()) {
        let k = k.replace('.', "_");
        if let Some((_, to)) = ALIASES.iter().find(|(a, _)| *a == k)
            && label(&own, to).is_none()
        {
            own.insert((*to).to_owned(), v.clone());
        }
    }
    if trimmed_job(&own) {
        own.remove("job_name");
    }
    std::borrow::Cow::Owned(own)
}

/// What the alert is about: the catalogue's reading for stock alerts, else the labels.
pub fn subject(alertname: &str, labels: &BTreeMap<String, String>) -> Subject {
    let labels = own_labels(labels);
    let labels = labels.as_ref();
    let Some(entry) = catalog::lookup(alertname) else { return generic_subject(labels) };
    let found = match entry.names {
        catalog::Names::Label { label: l, kind } => object(labels, l, kind).map(Subject::Object),
        catalog::Names::NodeOfInstance => node_of_instance(labels),
        catalog::Names::ProbedUrl => object(labels, "ingress", "Ingress")
            .map(Subject::Object)
            .or_else(|| ["instance", "target", "url"].iter().find_map(|l| label(labels, l)).map(|u| Subject::Url(u.to_owned()))),
        catalog::Names::Namespace => label(labels, "namespace").map(|n| Subject::Namespace(n.to_owned())),
        catalog::Names::Cluster => Some(Subject::Cluster),
        catalog::Names::Informational => Some(Subject::Informational),
    };
    // A relabelled or trimmed series may lack the label the stock rule keeps.
    found.unwrap_or_else(|| generic_subject(labels))
}

/// Reading for alerts outside the catalogue (custom rules): the object of an Event turned
/// alert, the callee of a caller-side series, object labels with the scraper's own set
/// aside, node-exporter's `instance` as a node, an application name, else the namespace.
fn generic_subject(labels: &BTreeMap<String, String>) -> Subject {
    if let Some(s) = event_object(labels) {
        return s;
    }
    if let Some(s) = callee(labels) {
        return s;
    }
    if let Some(t) = Target::from_labels(labels) {
        return Subject::Object(t);
    }
    if label(labels, "job").is_some_and(|j| j.contains("node-exporter"))
        && let Some(s) = node_of_instance(labels)
    {
        return s;
    }
    if let Some(name) = app_name(labels) {
        return Subject::Named { namespace: label(labels, "namespace").map(str::to_owned), name };
    }
    label(labels, "namespace").map_or(Subject::Cluster, |n| Subject::Namespace(n.to_owned()))
}

/// Label prefixes under which Event exporters name an Event's object: Loki's `| json` over
/// kubernetes-event-exporter (`involvedObject_name`), eventrouter and event exporters'
/// metrics (`involved_object_kind`), events.k8s.io's `regarding`.
const EVENT_OBJECT_PREFIXES: &[&str] = &["involvedObject_", "involved_object_", "involvedobject_", "regarding_"];

/// Reasons the kubelet and the scheduler give Events about a Pod (pkg/kubelet/events,
/// the scheduler's FailedScheduling): an Event alert with such a reason and no kind is
/// about a Pod.
const POD_EVENT_REASONS: &[&str] = &[
    "Failed", "BackOff", "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InspectFailed", "Pulling", "Pulled", "Created", "Started",
    "Killing", "Preempting", "ExceededGracePeriod", "FailedMount", "FailedAttachVolume", "FailedMapVolume", "Unhealthy", "ProbeWarning",
    "FailedScheduling", "Scheduled", "Evicted", "FailedCreatePodSandBox", "FailedKillPod", "FailedPostStartHook", "FailedPreStopHook",
    "NetworkNotReady", "FailedSync", "FailedCreatePodContainer",
];

/// `<deployment>-<pod-template-hash>-<suffix>`: how a ReplicaSet names its pods.
fn looks_like_replicaset_pod(name: &str) -> bool {
    let parts: Vec<&str> = name.rsplitn(3, '-').collect();
    let alnum = |p: &str, n: std::ops::RangeInclusive<usize>| n.contains(&p.len()) && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    parts.len() == 3 && alnum(parts[0], 5..=5) && alnum(parts[1], 5..=10) && !parts[2].is_empty()
}

/// The object of an Event an exporter turned into an alert; only its name when neither the
/// kind nor the reason tells what it is.
fn event_object(labels: &BTreeMap<String, String>) -> Option<Subject> {
    let (prefix, name) = EVENT_OBJECT_PREFIXES.iter().find_map(|p| label(labels, &format!("{p}name")).map(|n| (*p, n)))?;
    let namespace = label(labels, &format!("{prefix}namespace")).or_else(|| label(labels, "namespace")).map(str::to_owned);
    let kind = match label(labels, &format!("{prefix}kind")) {
        Some(k) => crate::command::ResourceKind::lookup(k).map_or_else(|| k.to_owned(), |r| r.kind.to_owned()),
        None if label(labels, "reason").is_some_and(|r| POD_EVENT_REASONS.contains(&r)) || looks_like_replicaset_pod(name) => "Pod".to_owned(),
        None => return Some(Subject::Named { namespace, name: name.to_owned() }),
    };
    let namespace = if CLUSTER_SCOPED.contains(&kind.as_str()) { None } else { Some(namespace?) };
    Some(Subject::Object(Target { namespace, kind, name: name.to_owned() }))
}

/// The service a label names (`ledger-api`, `ledger-api.finance`, `ledger-api.finance.svc.cluster.local:8080`,
/// `http://ledger-api:8080/v1`): its name, and its namespace where the name carries one.
/// An external host (`api.stripe.com`) names no Service.
pub fn service_host(value: &str) -> Option<(String, Option<String>)> {
    let host = value.split_once("://").map_or(value, |(_, rest)| rest);
    let host = host.split(['/', '?']).next().unwrap_or(host);
    let host = host.rsplit_once(':').filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit())).map_or(host, |(h, _)| h);
    let parts: Vec<&str> = host.trim_end_matches('.').split('.').collect();
    let dns_label = |p: &str| !p.is_empty() && p.len() <= 63 && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') && !p.starts_with('-') && !p.ends_with('-');
    if !parts.iter().all(|p| dns_label(p)) {
        return None;
    }
    match parts.as_slice() {
        [name] => Some(((*name).to_owned(), None)),
        [name, ns] | [name, ns, "svc", ..] => Some(((*name).to_owned(), Some((*ns).to_owned()))),
        _ => None,
    }
}

/// Labels in which a caller-side series names the service it calls, with the labels that
/// keep the callee's namespace: Istio's `destination_*` (reported by the source or the
/// destination), and the `upstream` / `target_service` / `peer_service` of client metrics.
const CALLEE_LABELS: &[(&str, &[&str])] = &[
    ("destination_workload", &["destination_workload_namespace", "destination_namespace"]),
    ("destination_service_name", &["destination_service_namespace", "destination_namespace"]),
    ("destination_service", &["destination_service_namespace", "destination_namespace"]),
    ("destination_app", &["destination_workload_namespace", "destination_namespace"]),
    ("upstream_service", &[]),
    ("upstream", &[]),
    ("target_service", &[]),
    ("peer_service", &[]),
];

/// The callee of a caller-side alert: the alert is about the service called, whatever the
/// caller's own `service` label says.
fn callee(labels: &BTreeMap<String, String>) -> Option<Subject> {
    CALLEE_LABELS.iter().find_map(|(l, ns_labels)| {
        let (name, ns) = service_host(label(labels, l)?)?;
        let namespace = ns.or_else(|| ns_labels.iter().chain(&["namespace"]).find_map(|n| label(labels, n)).map(str::to_owned));
        Some(Subject::Named { namespace, name })
    })
}

/// Labels a custom rule keeps an application's name in, most specific first: the workload
/// of kube-prometheus' `namespace_workload_pod` rules, the recommended `app.kubernetes.io/name`
/// and `app` labels as relabelled, OpenTelemetry's `service_name`, Sloth's `sloth_service`,
/// and the scrape `job` (a ServiceMonitor's Service, a PodMonitor's `<namespace>/<name>`).
const APP_LABELS: &[&str] = &["workload", "app_kubernetes_io_name", "app", "k8s_app", "service_name", "app_name", "application", "sloth_service", "job"];

/// The application name a custom alert keeps, if any (never an exporter's).
fn app_name(labels: &BTreeMap<String, String>) -> Option<String> {
    APP_LABELS.iter().filter_map(|l| label(labels, l)).filter(|v| !is_exporter(v) && !v.starts_with("probe/")).find_map(|v| {
        let v = v.rsplit('/').next().unwrap_or(v);
        service_host(v).filter(|(_, ns)| ns.is_none()).map(|(n, _)| n)
    })
}

impl Target {
    /// The most specific object the labels name, if any. On a series an exporter reports
    /// (kube-state-metrics, node-exporter) the exporter's own pod and Service are not the
    /// object, and the object labels it exports come before any `pod`.
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Option<Target> {
        let labels = own_labels(labels);
        let labels = labels.as_ref();
        let exporter = scraped_by_exporter(labels);
        let usable = |l: &str| match l {
            "pod" => label(labels, "pod").is_some_and(|p| !is_exporter(p)),
            // `service` on a scraped target is the scraper's metrics Service; it names a
            // Service only for alerts about services, which carry a namespace.
            "service" => !exporter && label(labels, "service").is_some_and(|s| !is_exporter(s)),
            _ => true,
        };
        // An exporter's series name their object in its own label; a `pod` beside it is the
        // exporter's, and a `node` beside a pod is where the pod runs.
        let rank = |l: &str| match (exporter, l) {
            (true, "pod") => 1,
            (_, "node") => 2,
            _ => 0,
        };
        let mut ordered: Vec<&(&str, &str)> = LABEL_KINDS.iter().collect();
        ordered.sort_by_key(|(l, _)| rank(l));
        ordered.into_iter().filter(|(l, _)| usable(l)).find_map(|(l, kind)| object(labels, l, kind))
    }

    /// The alert label that names objects of `kind` (`Deployment` → `deployment`), if any.
    pub fn label_for_kind(kind: &str) -> Option<&'static str> {
        LABEL_KINDS.iter().find(|(_, k)| *k == kind).map(|(label, _)| *label)
    }

    /// `<namespace>/<Kind>/<name>` or `<Kind>/<name>`, the scenario resource notation.
    pub fn resource_ref(&self) -> String {
        resource_ref(self.namespace.as_deref(), &self.kind, &self.name)
    }
}

/// `<namespace>/<Kind>/<name>` for namespaced objects, `<Kind>/<name>` otherwise.
pub fn resource_ref(namespace: Option<&str>, kind: &str, name: &str) -> String {
    match namespace {
        Some(ns) if !CLUSTER_SCOPED.contains(&kind) => format!("{ns}/{kind}/{name}"),
        _ => format!("{kind}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn pod_label_wins_over_the_scrapers_container_and_job() {
        let t = Target::from_labels(&labels(&[
            ("namespace", "shop"),
            ("pod", "checkout-1"),
            ("container", "kube-rbac-proxy-main"),
            ("job", "kube-state-metrics"),
        ]))
        .unwrap();
        assert_eq!(t.resource_ref(), "shop/Pod/checkout-1");
    }

    #[test]
    fn node_is_cluster_scoped_and_job_name_is_the_job() {
        let t = Target::from_labels(&labels(&[("node", "n1"), ("namespace", "x")])).unwrap();
        assert_eq!(t.resource_ref(), "Node/n1");
        let t = Target::from_labels(&labels(&[("namespace", "b"), ("job_name", "nightly")])).unwrap();
        assert_eq!(t.resource_ref(), "b/Job/nightly");
    }

    #[test]
    fn kinds_map_back_to_their_labels() {
        assert_eq!(Target::label_for_kind("Job"), Some("job_name"));
        assert_eq!(Target::label_for_kind("Deployment"), Some("deployment"));
        assert_eq!(Target::label_for_kind("ConfigMap"), None);
    }

    #[test]
    fn datadog_tags_name_the_object() {
        // kubernetes_state_core tags as a Datadog monitor forwards them to Alertmanager.
        let s = subject("Deployment has unavailable replicas", &labels(&[("kube_namespace", "shop"), ("kube_deployment", "cart"), ("kube_cluster_name", "prod")]));
        assert_eq!(s, Subject::Object(Target { namespace: Some("shop".into()), kind: "Deployment".into(), name: "cart".into() }));
        let t = Target::from_labels(&labels(&[("kube_namespace", "db"), ("kube_stateful_set", "pg"), ("pod_name", "pg-0"), ("kube_container_name", "postgres")])).unwrap();
        assert_eq!(t.resource_ref(), "db/Pod/pg-0");
        let t = Target::from_labels(&labels(&[("kube_namespace", "obs"), ("kube_daemon_set", "agent")])).unwrap();
        assert_eq!(t.resource_ref(), "obs/DaemonSet/agent");
        let t = Target::from_labels(&labels(&[("kube_namespace", "web"), ("kube_service", "front")])).unwrap();
        assert_eq!(t.resource_ref(), "web/Service/front");
    }

    #[test]
    fn a_job_label_trimmed_to_its_cronjob_names_the_cronjob() {
        let t = Target::from_labels(&labels(&[("kube_namespace", "b"), ("kube_job", "nightly"), ("kube_cronjob", "nightly")])).unwrap();
        assert_eq!(t.resource_ref(), "b/CronJob/nightly");
        // A full Job name is the Job.
        let t = Target::from_labels(&labels(&[("kube_namespace", "b"), ("kube_job", "nightly-29930460"), ("kube_cronjob", "nightly")])).unwrap();
        assert_eq!(t.resource_ref(), "b/Job/nightly-29930460");
    }

    #[test]
    fn opentelemetry_attributes_name_the_object_and_prometheus_labels_win() {
        let t = Target::from_labels(&labels(&[("k8s_namespace_name", "pay"), ("k8s_deployment_name", "ledger")])).unwrap();
        assert_eq!(t.resource_ref(), "pay/Deployment/ledger");
        let t = Target::from_labels(&labels(&[("k8s.namespace.name", "pay"), ("k8s.pod.name", "ledger-1")])).unwrap();
        assert_eq!(t.resource_ref(), "pay/Pod/ledger-1");
        let t = Target::from_labels(&labels(&[("k8s_node_name", "n1")])).unwrap();
        assert_eq!(t.resource_ref(), "Node/n1");
        let t = Target::from_labels(&labels(&[("namespace", "a"), ("kube_namespace", "b"), ("deployment", "x")])).unwrap();
        assert_eq!(t.resource_ref(), "a/Deployment/x");
    }

    #[test]
    fn grafana_managed_alert_labels_keep_their_object() {
        let t = Target::from_labels(&labels(&[("namespace", "ops"), ("deployment", "api"), ("grafana_folder", "Platform"), ("__alert_rule_uid__", "fe1x2"), ("__alert_rule_namespace_uid__", "abc")]));
        assert_eq!(t.unwrap().resource_ref(), "ops/Deployment/api");
    }

    #[test]
    fn watchdog_names_nothing() {
        assert!(Target::from_labels(&labels(&[("alertname", "Watchdog")])).is_none());
    }
}

#[cfg(test)]
mod catalog_tests;
