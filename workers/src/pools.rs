//! Running the worker pools and the API.

use crate::config::Config;
use aetherius_activities::{
    execution::ExecutionActivities, notify::NotifyActivities, reasoning::ReasoningActivities, report::ReportActivities,
};
use aetherius_workflows::DiagnosisWorkflow;
use aetherius_activities::knowledge::{self, KnowledgeBase};
use aetherius_activities::llm::{Llm, LlmOptions, UsageStore};
use anyhow::Context;
use std::{str::FromStr, sync::Arc, time::Duration};
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

/// A worker pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    /// Workflows + analyze / strategize / decide_next.
    Reasoning,
    /// execute_step.
    Execution,
    /// report and notifications.
    Report,
}

impl FromStr for Pool {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "reasoning" => Ok(Pool::Reasoning),
            "execution" => Ok(Pool::Execution),
            "report" => Ok(Pool::Report),
            other => Err(format!("unknown pool {other:?}: expected reasoning, execution or report")),
        }
    }
}

/// Connects to Temporal.
pub async fn temporal_client(config: &Config) -> anyhow::Result<Client> {
    let url: temporalio_client::Url = config.temporal.address.parse().with_context(|| format!("temporal address {:?}", config.temporal.address))?;
    let connection = Connection::connect(ConnectionOptions::new(url).identity(identity()).build())
        .await
        .with_context(|| format!("connecting to Temporal at {}", config.temporal.address))?;
    Ok(Client::new(connection, ClientOptions::new(config.temporal.namespace.clone()).build())?)
}

/// Connects to PostgreSQL.
pub async fn database(config: &Config) -> anyhow::Result<sqlx::PgPool> {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(config.database.max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&config.database.url)
        .await
        .context("connecting to PostgreSQL (database.url)")
}

/// The knowledge base `config` asks for, over `pool`: `None` when `knowledge.enabled` is
/// off, or when no model is configured and none is found (a warning says so: the API then
/// answers 503 on its knowledge routes). A configured model that is missing is an error.
pub fn knowledge(config: &Config, pool: &sqlx::PgPool) -> anyhow::Result<Option<Arc<KnowledgeBase>>> {
    let options = &config.knowledge;
    if !options.enabled {
        return Ok(None);
    }
    let embedder = match knowledge::embedder(options) {
        Ok(e) => e,
        Err(e) if options.model_dir.is_none() && options.openai.is_none() => {
            tracing::warn!(error = %e, "running without the knowledge base");
            return Ok(None);
        }
        Err(e) => return Err(e).context("knowledge base (knowledge.model_dir / knowledge.openai)"),
    };
    tracing::info!(model = embedder.model_id(), "knowledge base enabled");
    Ok(Some(Arc::new(KnowledgeBase::new(pool.clone(), embedder, options.clone()))))
}

/// The API's state over the configured services: Temporal, PostgreSQL, the knowledge base
/// and the clusters' allowlists.
pub async fn app_state(config: &Config) -> anyhow::Result<aetherius_api::AppState> {
    let pool = database(config).await?;
    let access = Arc::new(aetherius_activities::execution::cluster_access(&config.execution));
    let mut api = config.api.clone();
    api.queues = config.temporal.queues();
    let mut state = aetherius_api::AppState::new(api, temporal_client(config).await?, pool.clone(), access)?;
    state.knowledge = knowledge(config, &pool)?;
    Ok(state)
}

/// The knowledge base of the reasoning pool (`None` when disabled or without a model).
async fn reasoning_knowledge(config: &Config) -> anyhow::Result<Option<Arc<KnowledgeBase>>> {
    if !config.knowledge.enabled {
        return Ok(None);
    }
    let pool = database(config).await?;
    knowledge(config, &pool)
}

/// The LLM `[llm]` asks for: `None` when the section is absent or disabled. Token usage
/// goes to PostgreSQL (run `aetherius migrate` first), proposed commands are checked
/// against the execution clusters' allowlists.
pub async fn llm(config: &Config) -> anyhow::Result<Option<Arc<Llm>>> {
    let Some(options) = config.llm.clone().filter(LlmOptions::is_enabled) else {
        return Ok(None);
    };
    let store = UsageStore::Postgres(database(config).await?);
    store.check().await.context("LLM usage tables missing: run `aetherius migrate`")?;
    let access = aetherius_activities::execution::cluster_access(&config.execution);
    let (base_url, model) = (options.base_url.clone(), options.model.clone());
    let llm = Llm::new(options, store, access).context("[llm]")?;
    tracing::info!(%base_url, %model, "LLM enabled");
    Ok(Some(Arc::new(llm)))
}

fn identity() -> String {
    format!("aetherius-{}@{}", std::process::id(), std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into()))
}

/// Builds the worker of one pool. `cluster` makes an execution worker an in-cluster agent
/// polling `execution-<cluster>`.
pub async fn worker(runtime: &Runtime, client: Client, config: &Config, pool: Pool, cluster: Option<&str>) -> anyhow::Result<Worker> {
    let q = config.temporal.queues();
    let options = match pool {
        Pool::Reasoning => WorkerOptions::new(q.reasoning.clone())
            .register_workflow::<DiagnosisWorkflow>()?
            .register_activities(ReasoningActivities::new(llm(config).await?).with_knowledge(reasoning_knowledge(config).await?))
            .register_activities(crate::routing::RoutingActivities::new(client.clone(), q.clone()))
            .build(),
        Pool::Execution => {
            let queue = cluster.map(|c| q.execution_for_cluster(c)).unwrap_or_else(|| q.execution.clone());
            // The shared pool keeps outputs too large for history in PostgreSQL (connected on
            // first use); an in-cluster agent has no database and only caps them.
            let outputs = match cluster {
                None => Some(
                    sqlx::postgres::PgPoolOptions::new()
                        .max_connections(2)
                        .connect_lazy(&config.database.url)
                        .context("database.url")?,
                ),
                Some(_) => None,
            };
            WorkerOptions::new(queue).register_activities(ExecutionActivities::new(config.execution.clone()).with_outputs(outputs)).build()
        }
        Pool::Report => {
            let pool = database(config).await?;
            let days = config.database.audit_retention_days;
            if days > 0 {
                if days < 7 {
                    anyhow::bail!("database.audit_retention_days: {days} is under the 7 days the database allows (0 keeps rows forever)");
                }
                tokio::spawn(prune_audit_daily(pool.clone(), days));
            }
            config.notifications.validate().map_err(anyhow::Error::msg).context("[notifications]")?;
            let link_key = aetherius_activities::notify::link::secret(&config.api.approval).map_err(anyhow::Error::msg)?;
            let notify = NotifyActivities::new(pool.clone(), config.notifications.clone(), &config.api.temporal_ui_url, &config.temporal.namespace)
                .with_approval_links(link_key);
            let prices = config.llm.as_ref().map(|l| l.prices.clone()).unwrap_or_default();
            prices.validate().map_err(anyhow::Error::msg).context("[llm.prices]")?;
            WorkerOptions::new(q.report.clone())
                .register_activities(ReportActivities::new(pool).with_prices(prices))
                .register_activities(notify)
                .build()
        }
    };
    Ok(Worker::new(runtime, client, options)?)
}

/// Audit retention: once a minute after start, then every day, deletes `audit_logs` rows
/// older than `days` (a failure is logged and tried again the next day).
async fn prune_audit_daily(pool: sqlx::PgPool, days: u32) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + Duration::from_secs(60), Duration::from_secs(24 * 3600));
    loop {
        tick.tick().await;
        match aetherius_activities::report::audit::prune(&pool, days).await {
            Ok(n) => tracing::info!(deleted = n, days, "audit retention"),
            Err(e) => tracing::warn!(error = %e, days, "audit retention failed"),
        }
        // The whole outputs the audit rows' digests name go with them.
        match aetherius_activities::step_outputs::prune(&pool, days).await {
            Ok(n) => tracing::info!(deleted = n, days, "step output retention"),
            Err(e) => tracing::warn!(error = %e, days, "step output retention failed"),
        }
        match aetherius_activities::llm::UsageStore::prune_tasks(&pool, days).await {
            Ok(n) => tracing::info!(deleted = n, days, "LLM usage retention (per diagnosis)"),
            Err(e) => tracing::warn!(error = %e, days, "LLM usage retention failed"),
        }
    }
}

/// Runs workers until one stops or Ctrl-C / SIGTERM arrives.
pub async fn run_workers(mut workers: Vec<Worker>) -> anyhow::Result<()> {
    let stops: Vec<_> = workers.iter().map(|w| w.shutdown_handle()).collect();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down workers");
        for stop in &stops {
            stop();
        }
    });
    let runs = workers.iter_mut().map(|w| w.run());
    for r in futures::future::join_all(runs).await {
        r?;
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
