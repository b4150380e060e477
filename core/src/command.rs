//! The command model: one read-only diagnostic operation, shaped like a kubectl line so
//! humans, LLMs and rules propose commands the same way.

use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, fmt};

/// A diagnostic command (the seed's `Command`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// Step-unique id.
    pub id: String,
    /// Tool name; `kubectl` is the only registered one.
    pub tool: String,
    /// `get`, `describe`, `logs`, `events`, `top`, `rollout-history`.
    pub action: String,
    /// Positional arguments: resource, then optional name (`["pods", "checkout-1"]`).
    pub args: Vec<String>,
    /// Flags without dashes: `selector`, `field-selector`, `container`, `previous`, `tail`.
    #[serde(default)]
    pub flags: BTreeMap<String, String>,
    /// Cluster to run against.
    pub cluster_id: String,
    /// Namespace, for namespaced resources.
    pub namespace: Option<String>,
    /// Upper bound for the call, in seconds.
    pub timeout_secs: u64,
}

/// Default per-command timeout (seed: 5 minutes).
pub const DEFAULT_TIMEOUT_SECS: u64 = 300;

impl Command {
    fn new(action: &str, cluster: &str, namespace: Option<&str>, args: Vec<String>) -> Self {
        Command {
            id: String::new(),
            tool: "kubectl".into(),
            action: action.into(),
            args,
            flags: BTreeMap::new(),
            cluster_id: cluster.into(),
            namespace: namespace.map(str::to_owned),
            timeout_secs: DEFAULT_TIMEOUT_SECS,
        }
    }

    /// `kubectl get <resource> <name>`.
    pub fn get(cluster: &str, namespace: Option<&str>, resource: &str, name: &str) -> Self {
        Self::new("get", cluster, namespace, vec![resource.into(), name.into()])
    }

    /// `kubectl get <resource> [-l selector]`.
    pub fn list(cluster: &str, namespace: Option<&str>, resource: &str, selector: Option<&str>) -> Self {
        let mut c = Self::new("get", cluster, namespace, vec![resource.into()]);
        if let Some(s) = selector.filter(|s| !s.is_empty()) {
            c.flags.insert("selector".into(), s.into());
        }
        c
    }

    /// `kubectl logs <pod> -c <container> [--previous] --tail=<n>`.
    pub fn logs(cluster: &str, namespace: &str, pod: &str, container: &str, previous: bool, tail: u32) -> Self {
        let mut c = Self::new("logs", cluster, Some(namespace), vec![pod.into()]);
        c.flags.insert("container".into(), container.into());
        if previous {
            c.flags.insert("previous".into(), "true".into());
        }
        c.flags.insert("tail".into(), tail.to_string());
        c
    }

    /// `kubectl events --for <kind>/<name>`: events whose involvedObject is this object.
    pub fn events_for(cluster: &str, namespace: Option<&str>, kind: &str, name: &str) -> Self {
        let mut c = Self::new("events", cluster, namespace, vec![]);
        c.flags.insert("for".into(), format!("{kind}/{name}"));
        c
    }

    /// With a step id.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// The resource argument, canonicalized (`po` → `pods`), if any.
    pub fn resource(&self) -> Option<&'static ResourceKind> {
        self.args.first().and_then(|r| ResourceKind::lookup(r))
    }

    /// The object name argument, if any.
    pub fn name(&self) -> Option<&str> {
        self.args.get(1).map(String::as_str)
    }

    /// What `logs` reads: the pod, or the workload whose first pod it reads
    /// (`kubectl logs deploy/checkout`).
    pub fn log_target(&self) -> Option<(&'static ResourceKind, &str)> {
        match self.args.as_slice() {
            [pod] => Some((ResourceKind::lookup("pods")?, pod.as_str())),
            [kind, name] => Some((ResourceKind::lookup(kind)?, name.as_str())),
            _ => None,
        }
    }

    /// A flag's value.
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags.get(name).map(String::as_str)
    }

    /// Stable key identifying what this command reads, to avoid running it twice.
    pub fn key(&self) -> String {
        let flags: Vec<String> = self.flags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "{}|{}|{}|{}|{}",
            self.cluster_id,
            self.namespace.as_deref().unwrap_or(""),
            self.action,
            self.args.join(" "),
            flags.join(",")
        )
    }
}

impl fmt::Display for Command {
    /// The equivalent kubectl line, for humans and reports.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = if self.action == "rollout-history" { "rollout history" } else { &self.action };
        write!(f, "{} {}", self.tool, action)?;
        match (self.action.as_str(), self.args.as_slice()) {
            ("logs", [kind, name]) => write!(f, " {}", quoted(&format!("{kind}/{name}")))?,
            (_, args) => {
                for a in args {
                    write!(f, " {}", quoted(a))?;
                }
            }
        }
        if let Some(ns) = &self.namespace {
            write!(f, " -n {}", quoted(ns))?;
        }
        for (k, v) in &self.flags {
            match (k.as_str(), v.as_str()) {
                (_, "true") => write!(f, " {}", quoted(&format!("--{k}")))?,
                _ => write!(f, " {}", quoted(&format!("--{k}={v}")))?,
            }
        }
        Ok(())
    }
}

/// One word of a kubectl line, quoted when it would otherwise split or change when the
/// line is parsed again (`--selector='tier in (web)'`). Single quotes, with each `'` in
/// double quotes: never a backslash, which the parser refuses.
fn quoted(word: &str) -> std::borrow::Cow<'_, str> {
    if !word.is_empty() && !word.chars().any(|c| c.is_whitespace() || matches!(c, '\'' | '"' | '#')) {
        return word.into();
    }
    let mut out = String::from("'");
    for c in word.chars() {
        if c == '\'' {
            out.push_str("'\"'\"'");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out.into()
}

/// A Kubernetes resource type Aetherius knows how to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceKind {
    /// Lowercase plural API resource name.
    pub plural: &'static str,
    /// Kind as in manifests.
    pub kind: &'static str,
    /// API group ("" for core).
    pub group: &'static str,
    /// Preferred version.
    pub version: &'static str,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// kubectl short names and the singular.
    pub aliases: &'static [&'static str],
}

macro_rules! kinds {
    ($($plural:literal $kind:literal $group:literal $version:literal $ns:literal [$($alias:literal),*];)*) => {
        /// Every resource kind of SCENARIOS.md.
        pub const RESOURCE_KINDS: &[ResourceKind] = &[$(ResourceKind {
            plural: $plural, kind: $kind, group: $group, version: $version, namespaced: $ns,
            aliases: &[$($alias),*],
        }),*];
    };
}

kinds! {
    "pods" "Pod" "" "v1" true ["pod", "po"];
    "deployments" "Deployment" "apps" "v1" true ["deployment", "deploy"];
    "replicasets" "ReplicaSet" "apps" "v1" true ["replicaset", "rs"];
    "statefulsets" "StatefulSet" "apps" "v1" true ["statefulset", "sts"];
    "daemonsets" "DaemonSet" "apps" "v1" true ["daemonset", "ds"];
    "jobs" "Job" "batch" "v1" true ["job"];
    "cronjobs" "CronJob" "batch" "v1" true ["cronjob", "cj"];
    "services" "Service" "" "v1" true ["service", "svc"];
    "endpoints" "Endpoints" "" "v1" true ["ep"];
    "endpointslices" "EndpointSlice" "discovery.k8s.io" "v1" true ["endpointslice"];
    "ingresses" "Ingress" "networking.k8s.io" "v1" true ["ingress", "ing"];
    "ingressclasses" "IngressClass" "networking.k8s.io" "v1" false ["ingressclass"];
    "configmaps" "ConfigMap" "" "v1" true ["configmap", "cm"];
    "secrets" "Secret" "" "v1" true ["secret"];
    "persistentvolumeclaims" "PersistentVolumeClaim" "" "v1" true ["persistentvolumeclaim", "pvc"];
    "persistentvolumes" "PersistentVolume" "" "v1" false ["persistentvolume", "pv"];
    "storageclasses" "StorageClass" "storage.k8s.io" "v1" false ["storageclass", "sc"];
    "nodes" "Node" "" "v1" false ["node", "no"];
    "events" "Event" "" "v1" true ["event", "ev"];
    "horizontalpodautoscalers" "HorizontalPodAutoscaler" "autoscaling" "v2" true ["horizontalpodautoscaler", "hpa"];
    "networkpolicies" "NetworkPolicy" "networking.k8s.io" "v1" true ["networkpolicy", "netpol"];
    "resourcequotas" "ResourceQuota" "" "v1" true ["resourcequota", "quota"];
    "limitranges" "LimitRange" "" "v1" true ["limitrange", "limits"];
    "serviceaccounts" "ServiceAccount" "" "v1" true ["serviceaccount", "sa"];
    "roles" "Role" "rbac.authorization.k8s.io" "v1" true ["role"];
    "rolebindings" "RoleBinding" "rbac.authorization.k8s.io" "v1" true ["rolebinding"];
    "clusterroles" "ClusterRole" "rbac.authorization.k8s.io" "v1" false ["clusterrole"];
    "clusterrolebindings" "ClusterRoleBinding" "rbac.authorization.k8s.io" "v1" false ["clusterrolebinding"];
    "poddisruptionbudgets" "PodDisruptionBudget" "policy" "v1" true ["poddisruptionbudget", "pdb"];
    "namespaces" "Namespace" "" "v1" false ["namespace", "ns"];
    "routes" "Route" "route.openshift.io" "v1" true ["route"];
    "ingressroutes" "IngressRoute" "traefik.io" "v1alpha1" true ["ingressroute"];
    "apiservices" "APIService" "apiregistration.k8s.io" "v1" false ["apiservice"];
    "ciliumnetworkpolicies" "CiliumNetworkPolicy" "cilium.io" "v2" true ["ciliumnetworkpolicy", "cnp"];
    "ciliumclusterwidenetworkpolicies" "CiliumClusterwideNetworkPolicy" "cilium.io" "v2" false ["ciliumclusterwidenetworkpolicy", "ccnp"];
    "globalnetworkpolicies" "GlobalNetworkPolicy" "crd.projectcalico.org" "v1" false ["globalnetworkpolicy", "gnp"];
    "adminnetworkpolicies" "AdminNetworkPolicy" "policy.networking.k8s.io" "v1alpha1" false ["adminnetworkpolicy", "anp"];
    "baselineadminnetworkpolicies" "BaselineAdminNetworkPolicy" "policy.networking.k8s.io" "v1alpha1" false ["baselineadminnetworkpolicy", "banp"];
    "clusters" "Cluster" "postgresql.cnpg.io" "v1" true [];
    "kafkas" "Kafka" "kafka.strimzi.io" "v1beta2" true ["kafka"];
    "strimzipodsets" "StrimziPodSet" "core.strimzi.io" "v1beta2" true ["strimzipodset", "sps"];
    "postgresqls" "postgresql" "acid.zalan.do" "v1" true ["pg"];
}

impl ResourceKind {
    /// Finds a resource by plural, singular, short name or Kind (case-insensitive).
    pub fn lookup(name: &str) -> Option<&'static ResourceKind> {
        let lower = name.to_ascii_lowercase();
        RESOURCE_KINDS.iter().find(|r| {
            r.plural == lower || r.kind.eq_ignore_ascii_case(&lower) || r.aliases.contains(&lower.as_str())
        })
    }

    /// The kind an `ownerReferences` entry (or any `apiVersion` + `kind`) names, matched on
    /// group and kind: owners of a kind not registered here are not read.
    pub fn of_api_version(api_version: &str, kind: &str) -> Option<&'static ResourceKind> {
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        RESOURCE_KINDS.iter().find(|r| r.group == group && r.kind == kind)
    }

    /// `apiVersion` as written in manifests (`v1`, `apps/v1`).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_as_the_equivalent_kubectl_line() {
        let c = Command::logs("demo", "shop", "checkout-1", "app", true, 200);
        assert_eq!(c.to_string(), "kubectl logs checkout-1 -n shop --container=app --previous --tail=200");
        let c = Command::list("demo", Some("shop"), "pods", Some("app=checkout"));
        assert_eq!(c.to_string(), "kubectl get pods -n shop --selector=app=checkout");
    }

    #[test]
    fn resources_resolve_from_any_kubectl_spelling() {
        for s in ["po", "pod", "pods", "Pod"] {
            assert_eq!(ResourceKind::lookup(s).unwrap().plural, "pods");
        }
        assert_eq!(ResourceKind::lookup("hpa").unwrap().api_version(), "autoscaling/v2");
        assert!(!ResourceKind::lookup("nodes").unwrap().namespaced);
        assert!(ResourceKind::lookup("widgets").is_none());
    }

    #[test]
    fn owners_resolve_by_group_and_kind() {
        assert_eq!(ResourceKind::of_api_version("postgresql.cnpg.io/v1", "Cluster").unwrap().plural, "clusters");
        assert_eq!(ResourceKind::of_api_version("apps/v1", "StatefulSet").unwrap().plural, "statefulsets");
        assert_eq!(ResourceKind::of_api_version("v1", "Pod").unwrap().plural, "pods");
        // Another group's Cluster (Cluster API) is not CloudNativePG's.
        assert!(ResourceKind::of_api_version("cluster.x-k8s.io/v1beta1", "Cluster").is_none());
        assert!(ResourceKind::of_api_version("example.com/v1", "Widget").is_none());
    }

    #[test]
    fn key_differs_when_flags_differ() {
        let a = Command::logs("c", "n", "p", "x", true, 100);
        let b = Command::logs("c", "n", "p", "x", false, 100);
        assert_ne!(a.key(), b.key());
    }
}
