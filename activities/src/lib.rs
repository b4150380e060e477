//! Aetherius activities: every side effect of a diagnosis lives here.
//!
//! - [`reasoning`]: analyze, strategize, decide_next (rule analyzers over what the steps
//!   read; pure over their inputs, so they run anywhere).
//! - [`execution`]: execute_step against a cluster through kube-rs, behind the safety
//!   layers, with outputs pruned, redacted and capped.
//! - [`report`]: render and store the report in PostgreSQL.
//! - [`knowledge`]: the knowledge base (pgvector + local MiniLM embeddings): runbooks,
//!   semantic search, feedback, and the match the analyze step asks for.
//! - [`llm`]: the optional LLM (OpenAI-compatible, structured outputs, budgets, breaker)
//!   that refines the rules' analysis and decisions.

pub mod execution;
pub mod heartbeat;
pub mod knowledge;
pub mod labels;
pub mod llm;
pub mod notify;
pub mod reasoning;
/// Moved to `aetherius_core::redact` (pure text, fuzzed there); this path stays.
pub use aetherius_core::redact;
pub mod report;
pub mod step_outputs;

/// Database migrations (sqlx), embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
