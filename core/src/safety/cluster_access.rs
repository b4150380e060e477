//! Layer 5, cluster access: the cluster is one this worker is configured for, and the
//! namespace is on that cluster's allowlist. An empty allowlist allows every namespace;
//! with a non-empty one, reads across all namespaces are refused (they would cross it).

use super::{Layer, Rejection, reject};
use crate::command::Command;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which clusters and namespaces commands may read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterAccess {
    /// Cluster id → namespace allowlist (empty: every namespace).
    pub clusters: BTreeMap<String, Vec<String>>,
}

impl ClusterAccess {
    /// Access to `cluster` with `namespaces` allowed.
    pub fn with(mut self, cluster: &str, namespaces: &[&str]) -> Self {
        self.clusters.insert(cluster.into(), namespaces.iter().map(|s| s.to_string()).collect());
        self
    }
}

/// Layer 5.
pub fn check(cmd: &Command, access: &ClusterAccess) -> Result<(), Rejection> {
    let Some(allowed) = access.clusters.get(&cmd.cluster_id) else {
        return reject(Layer::ClusterAccess, format!("cluster {:?} is not configured", cmd.cluster_id));
    };
    if allowed.is_empty() {
        return Ok(());
    }
    let list = allowed.join(", ");
    if cmd.flag("all-namespaces") == Some("true") {
        return reject(
            Layer::ClusterAccess,
            format!("all namespaces of cluster {:?} would cross its allowlist ({list})", cmd.cluster_id),
        );
    }
    let namespaced = match cmd.action.as_str() {
        "logs" | "events" => true,
        _ => cmd.resource().is_none_or(|r| r.namespaced),
    };
    match &cmd.namespace {
        Some(ns) if !allowed.iter().any(|a| a == ns) => reject(
            Layer::ClusterAccess,
            format!("namespace {ns:?} is not on cluster {:?}'s allowlist ({list})", cmd.cluster_id),
        ),
        None if namespaced => reject(
            Layer::ClusterAccess,
            format!("a namespace is required on cluster {:?} (allowlist: {list})", cmd.cluster_id),
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_off_the_allowlist_are_refused() {
        let access = ClusterAccess::default().with("prod", &["shop", "orders"]);
        assert!(check(&Command::get("prod", Some("shop"), "pods", "x"), &access).is_ok());
        let r = check(&Command::get("prod", Some("kube-system"), "pods", "x"), &access).unwrap_err();
        assert_eq!(r.layer, Layer::ClusterAccess);
        assert!(r.reason.contains("kube-system"));
        let mut all = Command::list("prod", None, "pods", None);
        all.flags.insert("all-namespaces".into(), "true".into());
        assert_eq!(check(&all, &access).unwrap_err().layer, Layer::ClusterAccess);
        assert!(check(&Command::list("prod", None, "nodes", None), &access).is_ok(), "cluster-scoped");
    }

    #[test]
    fn unknown_clusters_are_refused_and_empty_allowlists_allow_all() {
        let access = ClusterAccess::default().with("dev", &[]);
        assert!(check(&Command::get("dev", Some("kube-system"), "pods", "x"), &access).is_ok());
        assert_eq!(
            check(&Command::get("prod", Some("shop"), "pods", "x"), &access).unwrap_err().layer,
            Layer::ClusterAccess
        );
    }
}
