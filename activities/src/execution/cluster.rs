//! Clusters a worker can reach, and their kube clients (one per cluster, cached).

use kube::config::{KubeConfigOptions, Kubeconfig};
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, path::PathBuf, sync::Arc};
use tokio::sync::Mutex;

/// How to reach one cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterOptions {
    /// Kubeconfig file; absent means in-cluster service account (or the default kubeconfig).
    pub kubeconfig: Option<PathBuf>,
    /// Context in the kubeconfig; absent means its current context.
    pub context: Option<String>,
    /// Namespaces steps may read (safety layer 5); empty allows every namespace.
    #[serde(default)]
    pub namespaces: Vec<String>,
}

/// Options of the execution pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionOptions {
    /// Cluster id → access.
    #[serde(default)]
    pub clusters: BTreeMap<String, ClusterOptions>,
    /// Cap on a step's output (seed: 1 MB).
    pub max_output_bytes: usize,
    /// Upper bound of one command (seed: 5 min).
    pub command_timeout_secs: u64,
}

impl Default for ExecutionOptions {
    fn default() -> Self {
        ExecutionOptions { clusters: BTreeMap::new(), max_output_bytes: 1 << 20, command_timeout_secs: 300 }
    }
}

/// Cheap-to-share registry of cluster clients.
#[derive(Clone)]
pub struct Clusters {
    options: Arc<ExecutionOptions>,
    clients: Arc<Mutex<BTreeMap<String, kube::Client>>>,
}

impl Clusters {
    /// A registry over `options`; clients are built on first use.
    pub fn new(options: ExecutionOptions) -> Self {
        Clusters { options: Arc::new(options), clients: Arc::default() }
    }

    /// The options.
    pub fn options(&self) -> &ExecutionOptions {
        &self.options
    }

    /// The client of `cluster`, building it on first use.
    pub async fn client(&self, cluster: &str) -> Result<kube::Client, String> {
        let mut clients = self.clients.lock().await;
        if let Some(c) = clients.get(cluster) {
            return Ok(c.clone());
        }
        let opts = self
            .options
            .clusters
            .get(cluster)
            .ok_or_else(|| format!("cluster {cluster:?} is not configured"))?;
        let config = match &opts.kubeconfig {
            Some(path) => {
                let kubeconfig = Kubeconfig::read_from(path).map_err(|e| format!("reading kubeconfig {}: {e}", path.display()))?;
                let kco = KubeConfigOptions { context: opts.context.clone(), ..Default::default() };
                kube::Config::from_custom_kubeconfig(kubeconfig, &kco)
                    .await
                    .map_err(|e| format!("kubeconfig {} for cluster {cluster:?}: {e}", path.display()))?
            }
            None => kube::Config::infer().await.map_err(|e| format!("no credentials for cluster {cluster:?}: {e}"))?,
        };
        let mut config = config;
        config.read_timeout = Some(std::time::Duration::from_secs(self.options.command_timeout_secs));
        let client = kube::Client::try_from(config).map_err(|e| format!("client for cluster {cluster:?}: {e}"))?;
        clients.insert(cluster.to_owned(), client.clone());
        Ok(client)
    }
}
