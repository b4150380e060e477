//! `aetherius`: the API, any worker pool, or everything in one process.

use aetherius_activities::knowledge;
use anyhow::Context;
use clap::{Parser, Subcommand};
use aetherius_workers::{
    config::Config,
    pools::{self, Pool, run_workers, temporal_client, worker},
};
use std::{net::SocketAddr, path::PathBuf};
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
    /// Command tools.
    Command {
        #[command(subcommand)]
        command: CommandCmd,
    },
    /// Knowledge base tools: load the runbooks, search.
    Knowledge {
        #[command(subcommand)]
        command: KnowledgeCmd,
    },
    /// LLM tools.
    Llm {
        #[command(subcommand)]
        command: LlmCmd,
    },
    /// Access tokens of the API.
    Token {
        #[command(subcommand)]
        command: TokenCmd,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        command: BenchCmd,
    },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Make a random bearer token: prints it once, and the `[[api.auth.tokens]]` entry
    /// (its SHA-256 only) for the configuration.
    New {
        /// Who holds it (the caller's name in approvals and the audit log).
        #[arg(long)]
        name: String,
        /// viewer | operator | approver | admin
        #[arg(long)]
        role: aetherius_api::Role,
    },
}

#[derive(Subcommand)]
enum KnowledgeCmd {
    /// Upsert the runbooks of a folder into the knowledge base (idempotent, by file name).
    Load {
        /// Folder of runbook files; `knowledge.runbooks_dir` (knowledge/runbooks) when absent.
        dir: Option<PathBuf>,
    },
    /// Search the knowledge base by meaning.
    Search {
        /// What to look for.
        query: String,
        /// Most matches (configured top_k when absent).
        #[arg(long)]
        top_k: Option<usize>,
        /// Lowest score (configured threshold when absent).
        #[arg(long)]
        threshold: Option<f64>,
    },
}

#[derive(Subcommand)]
enum LlmCmd {
    /// Serve an OpenAI-compatible chat-completions endpoint for tests and demos that answers
    /// well or fails on request (POST /_test/behaviour queues one behaviour).
    TestServer {
        /// Port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// good | slow | rate-limited | server-error | not-json-body | content-not-json |
        /// schema-violation | mutating
        #[arg(long, default_value = "good")]
        mode: aetherius_activities::llm::test_server::Behaviour,
    },
}

#[derive(Subcommand)]
enum BenchCmd {
    /// End to end, no LLM: webhook accepted -> report stored, one diagnosis at a time.
    E2e {
        /// Scenario folder served as the cluster.
        #[arg(long, default_value = "scenarios/crashloop-missing-env")]
        scenario: PathBuf,
        /// Timed diagnoses (after 2 warm-up runs).
        #[arg(long, default_value_t = 20)]
        runs: usize,
    },
    /// Webhook start rate vs the raw Temporal client, and duplicates from the dedup window.
    Ingest {
        /// Scenario whose alert is sent (with distinct startsAt values).
        #[arg(long, default_value = "scenarios/crashloop-missing-env")]
        scenario: PathBuf,
        /// Alerts per way of starting (300 gave rounds from 46% to 144% of raw: too few to
        /// compare ways).
        #[arg(long, default_value_t = 1200)]
        count: usize,
        /// Requests in flight.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Interleaved rounds (each way first in turn).
        #[arg(long, default_value_t = 8)]
        rounds: usize,
    },
    /// A burst through the real HTTP webhook of a separate `aetherius all` (this binary):
    /// most alerts re-sent, many clusters (one unconfigured) and namespaces; counts every
    /// answer, the workflows started, the time until every report is stored, and the
    /// child's peak RSS.
    Burst {
        /// Scenario folders, each served as one configured fixture cluster.
        #[arg(long = "scenario", default_values = ["scenarios/crashloop-missing-env", "scenarios/crashloop-db-refused", "scenarios/coredns-crashloop-unknown-corefile-plugin"])]
        scenarios: Vec<PathBuf>,
        /// Alerts in the burst, re-sends included.
        #[arg(long, default_value_t = 10_000)]
        alerts: usize,
        /// Distinct alerts among them.
        #[arg(long, default_value_t = 1_000)]
        unique: usize,
        /// Namespaces the alerts are spread over.
        #[arg(long, default_value_t = 20)]
        namespaces: usize,
        /// Requests in flight.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Seconds the diagnoses may take to finish before the run counts as wrong.
        #[arg(long, default_value_t = 900)]
        finish_timeout: u64,
    },
    /// Vector search over many entries (random unit vectors, own schema) and query
    /// embedding latency (the real model).
    Knowledge {
        /// Entries in the benchmark table.
        #[arg(long, default_value_t = 50_000)]
        entries: usize,
        /// Timed searches.
        #[arg(long, default_value_t = 1000)]
        queries: usize,
        /// Schema of the benchmark's tables (dropped and refilled when its size differs).
        #[arg(long, default_value = "aetherius_bench")]
        schema: String,
        /// Refill even when the table already has the right size.
        #[arg(long)]
        fresh: bool,
    },
}

#[derive(Subcommand)]
enum CommandCmd {
    /// Would this kubectl line run? Checks layers 1, 2, 3 and 5 against the configuration
    /// (layer 4 asks the cluster before each real call). Exit 0: allowed; 1: rejected.
    Validate {
        /// The kubectl line, quoted: "kubectl logs deploy/checkout -n shop --tail=200".
        line: String,
        /// Cluster id; the configured default cluster when absent.
        #[arg(long)]
        cluster: Option<String>,
        /// Print the verdict as JSON.
        #[arg(long)]
        json: bool,
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
        Cmd::Command { command: CommandCmd::Validate { line, cluster, json } } => {
            std::process::exit(validate_command(&config, &line, cluster.as_deref(), json))
        }
        Cmd::Knowledge { command } => knowledge_command(command, &config).await,
        Cmd::Token { command: TokenCmd::New { name, role } } => {
            if name.trim().is_empty() {
                anyhow::bail!("--name must not be empty");
            }
            let (token, entry) = aetherius_api::auth::TokenOptions::generate(&name, role);
            println!("token (shown once; give it to {name}, store it nowhere else):\n{token}\n");
            println!("add to the configuration:\n[[api.auth.tokens]]\nname = {:?}\nrole = {:?}\nsha256 = {:?}", entry.name, role.name(), entry.sha256);
            Ok(())
        }
        Cmd::Llm { command: LlmCmd::TestServer { port, mode } } => {
            let server = aetherius_activities::llm::test_server::TestServer::start(SocketAddr::from(([127, 0, 0, 1], port)), mode).await?;
            println!("OpenAI-compatible test server on {}", server.base_url());
            pools::shutdown_signal().await;
            Ok(())
        }
        Cmd::Bench { command: BenchCmd::E2e { scenario, runs } } => {
            print!("{}", aetherius_workers::bench::e2e(config, &scenario, runs).await?);
            Ok(())
        }
        Cmd::Bench { command: BenchCmd::Ingest { scenario, count, concurrency, rounds } } => {
            print!("{}", aetherius_workers::bench::ingest(config, &scenario, count, concurrency, rounds).await?);
            Ok(())
        }
        Cmd::Bench { command: BenchCmd::Burst { scenarios, alerts, unique, namespaces, concurrency, finish_timeout } } => {
            let options = aetherius_workers::bench::BurstOptions {
                scenarios,
                alerts,
                unique,
                namespaces,
                concurrency,
                finish_timeout: std::time::Duration::from_secs(finish_timeout),
            };
            let bin = std::env::current_exe().context("locating this binary")?;
            print!("{}", aetherius_workers::bench::burst(config, &bin, &options).await?);
            Ok(())
        }
        Cmd::Bench { command: BenchCmd::Knowledge { entries, queries, schema, fresh } } => {
            let pool = pools::database(&config).await?;
            aetherius_activities::MIGRATOR.run(&pool).await.context("running migrations")?;
            let embedder = knowledge::embedder(&config.knowledge)?;
            let options = knowledge::bench::BenchOptions { entries, queries, schema, fresh, ..Default::default() };
            println!("{}", knowledge::bench::run(pool, embedder, &options).await?);
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

/// `aetherius command validate`: prints the verdict, returns the exit code.
fn validate_command(config: &Config, line: &str, cluster: Option<&str>, json: bool) -> i32 {
    let cluster = cluster.unwrap_or(&config.api.default_cluster);
    let access = aetherius_activities::execution::cluster_access(&config.execution);
    let verdict = aetherius_api::verdict(aetherius_core::kubectl::parse(line, cluster), &access);
    let allowed = verdict["allowed"].as_bool() == Some(true);
    if json {
        println!("{verdict:#}");
    } else if allowed {
        println!("allowed: {} (layers 1, 2, 3, 5 passed; layer 4 asks the cluster before each call)", verdict["kubectl"].as_str().unwrap_or(line));
    } else {
        println!("{}", verdict["rejection"]["message"].as_str().unwrap_or("rejected"));
    }
    if allowed { 0 } else { 1 }
}

async fn knowledge_command(command: KnowledgeCmd, config: &Config) -> anyhow::Result<()> {
    let pool = pools::database(config).await?;
    aetherius_activities::MIGRATOR.run(&pool).await.context("running migrations")?;
    let kb = pools::knowledge(config, &pool)?
        .context("the knowledge base is disabled or has no embedding model: see [knowledge] and `cargo xtask setup`")?;
    match command {
        KnowledgeCmd::Load { dir } => {
            let dir = dir.unwrap_or_else(|| config.knowledge.runbooks_dir.clone());
            let entries = knowledge::runbooks::load_dir(&dir)?;
            let n = entries.len();
            let r = kb.upsert(entries).await?;
            println!("{n} runbooks from {}: {} inserted, {} updated, {} unchanged", dir.display(), r.inserted, r.updated, r.unchanged);
            let stale = kb.entries_of_other_models().await?;
            if stale > 0 {
                println!("{stale} entries were embedded by another model and are not searched until re-embedded");
            }
        }
        KnowledgeCmd::Search { query, top_k, threshold } => {
            let matches = kb.search(&knowledge::SearchQuery { query, top_k, threshold, ..Default::default() }).await?;
            for m in &matches {
                println!("{:.3}  {}  {}", m.score, m.entry.id, m.entry.title);
            }
            if matches.is_empty() {
                println!("no match at or above the threshold");
            }
        }
    }
    Ok(())
}

async fn serve_api(config: &Config) -> anyhow::Result<()> {
    let state = pools::app_state(config).await?;
    let watchers = aetherius_workers::events::spawn(
        config.events.clone(),
        aetherius_activities::execution::Clusters::new(config.execution.clone()),
        state.clone(),
    );
    let options = state.options.clone();
    let listener = tokio::net::TcpListener::bind(&options.listen).await.with_context(|| format!("binding {}", options.listen))?;
    tracing::info!(listen = %options.listen, "API listening");
    let app = aetherius_api::app(state).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app).with_graceful_shutdown(pools::shutdown_signal()).await;
    watchers.iter().for_each(tokio::task::JoinHandle::abort);
    served?;
    Ok(())
}
