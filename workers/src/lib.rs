//! The pieces the `aetherius` binary is made of, public so integration tests run the same
//! worker pools and API the binary runs.

pub mod bench;
pub mod config;
pub mod eval;
pub mod events;
pub mod pools;
pub mod routing;
