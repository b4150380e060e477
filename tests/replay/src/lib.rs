//! Recorded histories live in `histories/`; the test is `tests/replay.rs`.
//!
//! Histories are exported from a real run with
//! `temporal workflow show --workflow-id <id> --output json > histories/<name>.json`
//! (proto3 JSON, as every Temporal tool writes it).
