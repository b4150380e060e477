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
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Answer of `GET /tools`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ToolsAnswer {
    /// Registered actions (layer 1).
    tools: Vec<Tool>,
    /// Resource types commands may name.
    resources: Vec<Resource>,
    /// The safety layers, in order.
    layers: Vec<LayerInfo>,
    /// Bounds of layer 3.
    limits: Limits,
}

/// One registered action of a tool.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Tool {
    /// Tool (`kubectl`).
    tool: &'static str,
    /// Action (`get`, `logs`, ...).
    action: &'static str,
    /// What it reads.
    description: &'static str,
    /// Positional arguments, as kubectl's usage line writes them.
    usage: &'static str,
    /// Flags it accepts (long names, without dashes).
    flags: Vec<&'static str>,
    /// Whether the first argument is a resource type.
    takes_resource: bool,
}

/// A resource type.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Resource {
    /// Plural (`deployments`).
    resource: &'static str,
    /// Kind (`Deployment`).
    kind: &'static str,
    /// `apps/v1`.
    #[serde(rename = "apiVersion")]
    api_version: String,
    /// Whether it lives in a namespace.
    namespaced: bool,
    /// Short names (`deploy`).
    aliases: Vec<&'static str>,
}

/// A safety layer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct LayerInfo {
    /// 1-5.
    number: u8,
    /// Its name.
    name: &'static str,
}

/// Bounds of the arguments layer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Limits {
    max_tail_lines: u64,
    max_list_limit: u64,
    max_since_seconds: u64,
}

/// The registry (layer 1) with each action's flags, and the resource types.
#[utoipa::path(get, path = "/tools", tag = "commands",
    responses((status = 200, description = "What commands can run.", body = ToolsAnswer)))]
pub(crate) async fn tools() -> Json<ToolsAnswer> {
    let tools = TOOLS
        .iter()
        .map(|t| Tool {
            tool: t.tool,
            action: t.action,
            description: t.description,
            usage: t.usage,
            flags: t.flags.to_vec(),
            takes_resource: t.takes_resource,
        })
        .collect();
    let resources = RESOURCE_KINDS
        .iter()
        .map(|r| Resource { resource: r.plural, kind: r.kind, api_version: r.api_version(), namespaced: r.namespaced, aliases: r.aliases.to_vec() })
        .collect();
    let layers = [Layer::ToolRegistry, Layer::ReadOnly, Layer::Arguments, Layer::Rbac, Layer::ClusterAccess]
        .iter()
        .map(|l| LayerInfo { number: l.number(), name: l.name() })
        .collect();
    Json(ToolsAnswer {
        tools,
        resources,
        layers,
        limits: Limits {
            max_tail_lines: safety::MAX_TAIL_LINES,
            max_list_limit: safety::MAX_LIST_LIMIT,
            max_since_seconds: safety::MAX_SINCE_SECS,
        },
    })
}

/// Body of `POST /commands/validate`: a kubectl line, or a structured command.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValidateRequest {
    /// `kubectl logs deploy/checkout -n shop --previous --tail=200`.
    command: Option<String>,
    /// Structured form (the seed's Command fields): `kubectl`.
    tool: Option<String>,
    /// `get`, `logs`, ... (with `tool`).
    action: Option<String>,
    /// Positional arguments (with `tool`).
    #[serde(default)]
    args: Vec<String>,
    /// Flags by long name (with `tool`).
    #[serde(default)]
    flags: BTreeMap<String, String>,
    /// Namespace (with `tool`).
    namespace: Option<String>,
    /// Cluster id; the configured default when absent.
    cluster_id: Option<String>,
}

/// The answer of `POST /commands/validate` (built by [`verdict`]).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // the schema of `verdict`'s JSON
pub(crate) struct VerdictAnswer {
    /// Whether the command passes layers 1, 2, 3 and 5.
    allowed: bool,
    /// The command as a kubectl line (allowed only).
    kubectl: Option<String>,
    /// The structured command (allowed only).
    #[schema(value_type = Option<Object>)]
    command: Option<Value>,
    /// Why it is refused (refused only).
    rejection: Option<RejectionInfo>,
    /// What was checked.
    checked: Checked,
}

/// Which layer refused a command, and why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct RejectionInfo {
    layer: u8,
    layer_name: String,
    reason: String,
    message: String,
}

/// The layers checked here.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct Checked {
    layers: Vec<u8>,
    rbac: String,
}

/// Would this command run? Layers 1, 2, 3 and 5 (layer 4 asks the cluster at run time).
#[utoipa::path(post, path = "/commands/validate", tag = "commands",
    request_body = ValidateRequest,
    responses(
        (status = 200, description = "The verdict: allowed, or which layer refuses and why.", body = VerdictAnswer),
        (status = 400, description = "The body is not JSON (`malformed_json`).", body = crate::error::ErrorBody),
        (status = 422, description = "Neither or both of `command` and `tool` + `action` (`invalid_payload`).", body = crate::error::ErrorBody),
    ))]
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
