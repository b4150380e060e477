//! `GET /tools` (what can run) and `POST /commands/validate` (would this command run?).
//! Validation is the same code the execution activity runs: the kubectl-line parser and
//! layers 1, 2, 3 and 5. Layer 4 (RBAC) asks the cluster itself, so it runs before each
//! real call and is reported here as not checked.

use crate::{
    ApiError, AppState,
    ingest::{body_or_error, parse},
};
use aetherius_core::{
    Command,
    command::RESOURCE_KINDS,
    kubectl,
    safety::{self, Layer, Rejection, TOOLS},
};
use axum::{
    Json,
    body::Bytes,
    extract::{State, rejection::BytesRejection},
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// `GET /tools`: the registry (layer 1) with each action's flags, and the resource types.
pub(crate) async fn tools() -> Json<Value> {
    let resources: Vec<Value> = RESOURCE_KINDS
        .iter()
        .map(|r| {
            json!({"resource": r.plural, "kind": r.kind, "apiVersion": r.api_version(), "namespaced": r.namespaced,
                   "aliases": r.aliases})
        })
        .collect();
    let layers: Vec<Value> = [Layer::ToolRegistry, Layer::ReadOnly, Layer::Arguments, Layer::Rbac, Layer::ClusterAccess]
        .iter()
        .map(|l| json!({"number": l.number(), "name": l.name()}))
        .collect();
    Json(json!({
        "tools": TOOLS,
        "resources": resources,
        "layers": layers,
        "limits": {"max_tail_lines": safety::MAX_TAIL_LINES, "max_list_limit": safety::MAX_LIST_LIMIT,
                   "max_since_seconds": safety::MAX_SINCE_SECS},
    }))
}

/// Body of `POST /commands/validate`: a kubectl line, or a structured command.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValidateRequest {
    /// `kubectl logs deploy/checkout -n shop --previous --tail=200`.
    command: Option<String>,
    /// Structured form (the seed's Command fields).
    tool: Option<String>,
    action: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    flags: BTreeMap<String, String>,
    namespace: Option<String>,
    /// Cluster id; the configured default when absent.
    cluster_id: Option<String>,
}

pub(crate) async fn validate(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let bytes = body_or_error(body, state.options.max_payload_bytes)?;
    let req: ValidateRequest = parse(&bytes)?;
    let cluster = req.cluster_id.clone().unwrap_or_else(|| state.options.default_cluster.clone());
    let parsed: Result<Command, Rejection> = match (&req.command, &req.tool, &req.action) {
        (Some(line), None, None) => kubectl::parse(line, &cluster),
        (None, Some(tool), Some(action)) => Ok(Command {
            id: String::new(),
            tool: tool.clone(),
            action: action.clone(),
            args: req.args.clone(),
            flags: req.flags.clone(),
            cluster_id: cluster.clone(),
            namespace: req.namespace.clone(),
            timeout_secs: aetherius_core::command::DEFAULT_TIMEOUT_SECS,
        }),
        (Some(_), _, _) => {
            return Err(ApiError::InvalidPayload(
                "give either `command` (a kubectl line) or `tool` + `action`, not both".into(),
            ));
        }
        _ => {
            return Err(ApiError::InvalidPayload(
                "missing field `command` (a kubectl line), or `tool` and `action` for a structured command".into(),
            ));
        }
    };
    Ok(Json(verdict(parsed, &state.access)))
}

/// The answer for a parsed (or unparseable) command.
pub fn verdict(parsed: Result<Command, Rejection>, access: &safety::ClusterAccess) -> Value {
    let checked = json!({"layers": [1, 2, 3, 5], "rbac": "layer 4 asks the cluster (SelfSubjectAccessReview) before each call"});
    match parsed.and_then(|cmd| safety::check_with_access(&cmd, access).map(|()| cmd)) {
        Ok(cmd) => json!({"allowed": true, "kubectl": cmd.to_string(), "command": cmd, "checked": checked}),
        Err(r) => json!({
            "allowed": false,
            "rejection": {"layer": r.layer.number(), "layer_name": r.layer.name(), "reason": r.reason, "message": r.to_string()},
            "checked": checked,
        }),
    }
}
