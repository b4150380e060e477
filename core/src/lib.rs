//! Aetherius domain model.
//!
//! Everything here is pure: no I/O, no clock, no randomness. The workflows crate builds on
//! these types, so anything in this crate must be deterministic.

pub mod alert;
pub mod approval;
pub mod budget;
pub mod command;
pub mod failure;
pub mod contracts;
pub mod fingerprint;
pub mod kubectl;
pub mod notify;
pub mod priority;
pub mod queues;
pub mod redact;
pub mod safety;
pub mod symptom;
pub mod target;
pub mod taxonomy;

pub use alert::{AlertStatus, AlertmanagerAlert, AlertmanagerPayload, EventType, StandardEvent};
pub use command::Command;
pub use contracts::*;
pub use target::Target;
pub use taxonomy::RootCause;
