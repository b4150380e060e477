//! `aetherius`: the API, any worker pool, or everything in one process.

use aetherius_api::{ApiOptions, AppState, DedupWindow};
use anyhow::Context;
use clap::{Parser, Subcommand};
use aetherius_workers::{
    config::Config,
    pools::{self, Pool, run_workers, temporal_client, worker},
};
use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};
use temporalio_sdk::Runtime;

#[derive(Parser)]
#[command(name = "aetherius", version, about = "AI SRE for Kubernetes: durable, read-only diagnoses of alerts")]
struct Cli {
    /// Configuration file (TOML). `AETHERIUS_*` environment variables override it.
    #[arg(long, short, global = true, env = "AETHERIUS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the HTTP API (webhooks, tasks).
    Api,
    /// Run one worker pool.
    Worker {
        /// reasoning | execution | report
        #[arg(long)]
        pool: Pool,
        /// Agent mode (execution pool): poll this cluster's own queue.
        #[arg(long)]
        cluster: Option<String>,
    },
    /// API and every pool in one process.
    All,
    /// Apply database migrations and exit.
    Migrate,
    /// Diagnose every scenario of a folder through the real stack and score it.
    Eval {
        /// Folder of scenario folders.
        #[arg(default_value = "scenarios")]
        dir: PathBuf,
        /// Also write the scored rows as a JSON array here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Scenario tools.
    Scenario {
        #[command(subcommand)]
        command: ScenarioCmd,
    },
}

#[derive(Subcommand)]
enum ScenarioCmd {
    /// Serve a scenario folder as a Kubernetes API (the fixture cluster).
    Serve {
        /// Scenario folder (holds scenario.yaml).
        dir: PathBuf,
        /// Port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Write a kubeconfig for the served cluster here.
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref()).context("loading configuration")?;
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| config.log.clone().into()))
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run(cli.command, config))
}

async fn run(command: Cmd, config: Config) -> anyhow::Result<()> {
    match command {
        Cmd::Migrate => {
            let pool = pools::database(&config).await?;
            aetherius_activities::MIGRATOR.run(&pool).await.context("running migrations")?;
            println!("migrations applied");
            Ok(())
        }
        Cmd::Api => serve_api(&config).await,
        Cmd::Worker { pool, cluster } => {
            let runtime = Runtime::from_current_tokio(Default::default())?;
            let client = temporal_client(&config).await?;
            let w = worker(&runtime, client, &config, pool, cluster.as_deref()).await?;
            tracing::info!(?pool, "worker started");
            run_workers(vec![w]).await
        }
        Cmd::All => {
            let runtime = Runtime::from_current_tokio(Default::default())?;
            let client = temporal_client(&config).await?;
            let pool = pools::database(&config).await?;
            aetherius_activities::MIGRATOR.run(&pool).await.context("running migrations")?;
            let mut workers = vec![];
            for p in [Pool::Reasoning, Pool::Execution, Pool::Report] {
                workers.push(worker(&runtime, client.clone(), &config, p, None).await?);
            }
            let api_config = config.clone();
            let api = tokio::spawn(async move { serve_api(&api_config).await });
            tracing::info!("all pools and the API started");
            let result = run_workers(workers).await;
            api.abort();
            result
        }
        Cmd::Eval { dir, json } => {
            aetherius_workers::eval::run(config, &dir, json.as_deref()).await?;
            Ok(())
        }
        Cmd::Scenario { command: ScenarioCmd::Serve { dir, port, kubeconfig } } => {
            let scenario = aetherius_scenario::Scenario::load(&dir).with_context(|| format!("loading {}", dir.display()))?;
            let cluster_id = scenario.cluster_id();
            let (addr, task) = aetherius_scenario::server::serve(scenario.cluster, SocketAddr::from(([127, 0, 0, 1], port))).await?;
            let kc = aetherius_scenario::server::kubeconfig(&cluster_id, addr);
            if let Some(path) = kubeconfig {
                std::fs::write(&path, &kc).with_context(|| format!("writing {}", path.display()))?;
            }
            println!("fixture cluster {cluster_id:?} serving {} on http://{addr}", dir.display());
            tokio::select! { _ = pools::shutdown_signal() => {}, _ = task => {} }
            Ok(())
        }
    }
}

async fn serve_api(config: &Config) -> anyhow::Result<()> {
    let options: ApiOptions = config.api.clone();
    let temporal = temporal_client(config).await?;
    let pool = pools::database(config).await?;
    let state = AppState {
        dedup: DedupWindow::new(Duration::from_secs(options.dedup_ttl_secs)),
        options: Arc::new(options.clone()),
        temporal,
        pool,
    };
    let listener = tokio::net::TcpListener::bind(&options.listen).await.with_context(|| format!("binding {}", options.listen))?;
    tracing::info!(listen = %options.listen, "API listening");
    axum::serve(listener, aetherius_api::app(state)).with_graceful_shutdown(pools::shutdown_signal()).await?;
    Ok(())
}
