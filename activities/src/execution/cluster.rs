//! Clusters a worker can reach, and their kube clients (one per cluster, cached until its
//! credentials are due for renewal; see [`credentials`](super::credentials)).

use super::credentials::{
    Clock, CredentialCache, CredentialsError, CredentialsOptions, Providers, SystemClock,
    VaultOptions,
};
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, path::PathBuf, sync::Arc};

/// How to reach one cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterOptions {
    /// Kubeconfig file (shorthand for `credentials = { provider = "kubeconfig", path = ... }`);
    /// with neither this nor `credentials`: in-cluster service account, else the default
    /// kubeconfig.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<PathBuf>,
    /// Context in the kubeconfig; absent means its current context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Where the credentials come from (kubeconfig, in-cluster, Vault KV, Vault Kubernetes
    /// secrets engine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<CredentialsOptions>,
    /// Namespaces steps may read (safety layer 5); empty allows every namespace.
    #[serde(default)]
    pub namespaces: Vec<String>,
}

impl ClusterOptions {
    /// The credentials provider these options select.
    pub fn provider(&self) -> Result<CredentialsOptions, CredentialsError> {
        match (&self.credentials, &self.kubeconfig, &self.context) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(CredentialsError::Config(
                "set either `kubeconfig`/`context` or `credentials`, not both (put them under credentials)".into(),
            )),
            (Some(provider), None, None) => Ok(provider.clone()),
            (None, None, None) => Ok(CredentialsOptions::Infer),
            (None, path, context) => Ok(CredentialsOptions::Kubeconfig { path: path.clone(), context: context.clone() }),
        }
    }
}

/// Options of the execution pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecutionOptions {
    /// Cluster id → access.
    #[serde(default)]
    pub clusters: BTreeMap<String, ClusterOptions>,
    /// The Vault that Vault providers use unless a cluster names its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<VaultOptions>,
    /// Cap on a step's output (seed: 1 MB).
    pub max_output_bytes: usize,
    /// Upper bound of one command (seed: 5 min).
    pub command_timeout_secs: u64,
    /// Items per list request; lists are read page by page (`limit` + `continue`).
    pub list_page_size: u32,
    /// Most items one list reads in all, whatever its `--limit`.
    pub max_list_items: usize,
    /// Lines of a log read without `--tail` or `--since`.
    pub default_log_tail_lines: i64,
    /// Most bytes of one log (sent as `limitBytes`, so the kubelet stops there).
    pub max_log_bytes: i64,
}

impl Default for ExecutionOptions {
    fn default() -> Self {
        ExecutionOptions {
            clusters: BTreeMap::new(),
            vault: None,
            max_output_bytes: 1 << 20,
            command_timeout_secs: 300,
            list_page_size: 500,
            max_list_items: 2000,
            default_log_tail_lines: 1000,
            max_log_bytes: 1 << 20,
        }
    }
}

/// Cheap-to-share registry of cluster clients.
#[derive(Clone)]
pub struct Clusters {
    options: Arc<ExecutionOptions>,
    clients: Arc<CredentialCache<kube::Client>>,
    providers: Arc<Providers>,
}

impl Clusters {
    /// A registry over `options`; clients are built on first use.
    pub fn new(options: ExecutionOptions) -> Self {
        Clusters::with_clock(options, Arc::new(SystemClock))
    }

    /// A registry whose credential lifetimes are measured on `clock`.
    pub fn with_clock(options: ExecutionOptions, clock: Arc<dyn Clock>) -> Self {
        Clusters {
            options: Arc::new(options),
            clients: Arc::new(CredentialCache::new(clock.clone())),
            providers: Arc::new(Providers::new(clock)),
        }
    }

    /// The options.
    pub fn options(&self) -> &ExecutionOptions {
        &self.options
    }

    /// Drops `cluster`'s client, so the next [`client`](Self::client) fetches credentials
    /// again (e.g. after the API server answered 401 to a revoked token).
    pub fn invalidate(&self, cluster: &str) {
        self.clients.invalidate(cluster);
    }

    /// The client of `cluster`: cached while its credentials are fresh, else built from
    /// credentials fetched from its provider (concurrent callers share one fetch). The error
    /// names the cluster and the failing step, never a secret.
    pub async fn client(&self, cluster: &str) -> Result<kube::Client, ClientError> {
        let opts = self
            .options
            .clusters
            .get(cluster)
            .ok_or_else(|| ClientError::UnknownCluster(format!("cluster {cluster:?} is not configured")))?;
        let provider = opts
            .provider()
            .map_err(|e| ClientError::Config(format!("cluster {cluster:?}: {e}")))?;
        let (this, provider) = (self, &provider);
        let fetch = move || async move {
            let creds = this
                .providers
                .fetch(provider, this.options.vault.as_ref())
                .await?;
            let mut config = creds.config;
            config.read_timeout = Some(std::time::Duration::from_secs(
                this.options.command_timeout_secs,
            ));
            // Temporal owns retries (the retry contract): kube's own 429/503/504 retry
            // would hide them from it, and retry for up to 15 attempts inside one.
            config.default_retry = false;
            let client = kube::Client::try_from(config)
                .map_err(|e| CredentialsError::Kube(format!("building the client: {e}")))?;
            tracing::info!(
                cluster,
                provider = provider.name(),
                refresh_in_secs = creds.validity.refresh_after().map(|d| d.as_secs()),
                "cluster credentials loaded"
            );
            Ok((client, creds.validity))
        };
        self.clients
            .get(cluster, fetch)
            .await
            .map_err(|e| {
                let msg = format!("cluster {cluster:?} ({}): {e}", provider.name());
                match e {
                    CredentialsError::VaultUnavailable(_) => ClientError::Unavailable(msg),
                    _ => ClientError::Config(msg),
                }
            })
    }
}

/// Why a cluster has no client. The message names the cluster and the failing step, never
/// a secret.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// No `[execution.clusters.<id>]` for it: permanent.
    #[error("{0}")]
    UnknownCluster(String),
    /// The credentials configuration is wrong (contradictory, a missing file or variable,
    /// Vault refusing the role): permanent until someone fixes it.
    #[error("{0}")]
    Config(String),
    /// The credentials source could not answer now (Vault down, 429, 5xx): retried.
    #[error("{0}")]
    Unavailable(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_older_kubeconfig_fields_still_select_the_kubeconfig_provider() {
        let old: ClusterOptions =
            serde_json::from_value(serde_json::json!({"kubeconfig": "/k", "context": "prod"}))
                .unwrap();
        assert_eq!(
            old.provider().unwrap(),
            CredentialsOptions::Kubeconfig {
                path: Some("/k".into()),
                context: Some("prod".into())
            }
        );
        assert_eq!(
            ClusterOptions::default().provider().unwrap(),
            CredentialsOptions::Infer
        );
        let both = ClusterOptions {
            kubeconfig: Some("/k".into()),
            credentials: Some(CredentialsOptions::InCluster),
            ..Default::default()
        };
        assert!(both.provider().is_err());
        let ic: ClusterOptions =
            serde_json::from_value(serde_json::json!({"credentials": {"provider": "in_cluster"}}))
                .unwrap();
        assert_eq!(ic.provider().unwrap(), CredentialsOptions::InCluster);
    }
}
