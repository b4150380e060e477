//! Integration tests against the real Temporal dev server and PostgreSQL that
//! `cargo xtask test` starts (see `AETHERIUS_TEST_*`), and a fixture cluster served
//! in-process from a scenario folder.

mod support;
mod agent;
mod auth;
mod bounded;
mod commands;
mod eval;
mod events;
mod knowledge;
mod hitl;
mod priority;
mod notify;
mod recovery;
mod reports;
mod shapes;
mod webhook;
mod workflow;
