//! Aetherius workflows. Deterministic code only: no I/O, no clock, no randomness, no
//! threads. Every side effect is an activity declared in [`activities`].

pub mod activities;
pub mod diagnosis;

pub use diagnosis::DiagnosisWorkflow;
