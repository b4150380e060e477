//! Scenario folders (the SCENARIOS.md contract) and the fixture cluster that serves one as
//! a Kubernetes API.
//!
//! A scenario is read once into memory; [`server::serve`] answers the Kubernetes REST
//! paths the diagnosis (and `kubectl`) use. The diagnosing code never sees `expect`.

pub mod load;
mod proto;
pub mod selector;
pub mod server;
pub mod table;

pub use load::{Cluster, Expect, Scenario};
