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
    ("persistentvolumeclaim", "PersistentVolumeClaim"),
    ("service", "Service"),
    ("ingress", "Ingress"),
    ("persistentvolume", "PersistentVolume"),
    ("node", "Node"),
];

const CLUSTER_SCOPED: &[&str] = &["Node", "PersistentVolume", "StorageClass", "Namespace"];

impl Target {
    /// The most specific object the labels name, if any.
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Option<Target> {
        let namespace = labels.get("namespace").filter(|n| !n.is_empty()).cloned();
        LABEL_KINDS.iter().find_map(|(label, kind)| {
            let name = labels.get(*label).filter(|v| !v.is_empty())?;
            // `service` on a scraped target is the metrics Service of the scraper; it names a
            // Service only for alerts about services, which carry a namespace.
            if *label == "service" && namespace.is_none() {
                return None;
            }
            Some(Target {
                namespace: if CLUSTER_SCOPED.contains(kind) { None } else { namespace.clone() },
                kind: (*kind).to_owned(),
                name: name.clone(),
            })
        })
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
    fn watchdog_names_nothing() {
        assert!(Target::from_labels(&labels(&[("alertname", "Watchdog")])).is_none());
    }
}
