//! The reads themselves, through kube-rs, exactly as against any real cluster.

use aetherius_core::{Command, command::ResourceKind};
use k8s_openapi::api::core::v1::Pod;
use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject, ListParams, LogParams, TypeMeta},
};
use serde_json::Value;

/// What a read returned.
pub(crate) enum Read {
    /// Objects (one for a get, any number for a list).
    Objects(Vec<Value>),
    /// Log text.
    Log(String),
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server answered with a Status (404, 403, 400...).
    #[error("{code}: {message}")]
    Status {
        /// HTTP code.
        code: u16,
        /// The server's message.
        message: String,
    },
    /// No credentials or client for the cluster.
    #[error("credentials: {0}")]
    Credentials(String),
    /// Anything else: connection refused, timeout, bad response.
    #[error("transport: {0}")]
    Transport(String),
    /// The command cannot be mapped to a read (should have been rejected before).
    #[error("unsupported command: {0}")]
    Unsupported(String),
}

impl From<kube::Error> for Error {
    fn from(e: kube::Error) -> Self {
        match e {
            kube::Error::Api(status) => Error::Status { code: status.code, message: status.message.clone() },
            other => Error::Transport(other.to_string()),
        }
    }
}

fn api_resource(r: &ResourceKind) -> ApiResource {
    ApiResource {
        group: r.group.into(),
        version: r.version.into(),
        api_version: r.api_version(),
        kind: r.kind.into(),
        plural: r.plural.into(),
    }
}

fn dynamic_api(client: &Client, cmd: &Command, ar: &ApiResource, namespaced: bool) -> Api<DynamicObject> {
    let all = cmd.flag("all-namespaces").is_some_and(|v| v == "true");
    match (&cmd.namespace, namespaced && !all) {
        (Some(ns), true) => Api::namespaced_with(client.clone(), ns, ar),
        _ => Api::all_with(client.clone(), ar),
    }
}

fn list_params(cmd: &Command) -> ListParams {
    let mut lp = ListParams::default();
    if let Some(s) = cmd.flag("selector") {
        lp = lp.labels(s);
    }
    if let Some(f) = cmd.flag("field-selector") {
        lp = lp.fields(f);
    }
    if let Some(l) = cmd.flag("limit").and_then(|l| l.parse().ok()) {
        lp = lp.limit(l);
    }
    lp
}

/// Runs `cmd` (already validated).
pub(crate) async fn run(client: &Client, cmd: &Command) -> Result<Read, Error> {
    match cmd.action.as_str() {
        "get" | "describe" => {
            let r = cmd.resource().ok_or_else(|| Error::Unsupported(cmd.to_string()))?;
            let ar = api_resource(r);
            let api = dynamic_api(client, cmd, &ar, r.namespaced);
            let objects: Vec<Value> = match cmd.name() {
                Some(name) => vec![to_value(api.get(name).await?)],
                None => api.list(&list_params(cmd)).await?.items.into_iter().map(|o| typed(o, &ar)).collect(),
            };
            if cmd.action == "get" || objects.len() != 1 || r.plural == "events" {
                return Ok(Read::Objects(objects));
            }
            // `describe` of one object: the object and its events, as kubectl shows them.
            let obj = &objects[0];
            let field = |p: &str| obj.pointer(p).and_then(Value::as_str).unwrap_or_default().to_owned();
            let mut fields = vec![format!("involvedObject.name={}", field("/metadata/name"))];
            let ns = field("/metadata/namespace");
            if !ns.is_empty() {
                fields.push(format!("involvedObject.namespace={ns}"));
            }
            let uid = field("/metadata/uid");
            if !uid.is_empty() {
                fields.push(format!("involvedObject.uid={uid}"));
            }
            let ev_ar = api_resource(ResourceKind::lookup("events").expect("events are registered"));
            let ev_api: Api<DynamicObject> = if ns.is_empty() {
                Api::all_with(client.clone(), &ev_ar)
            } else {
                Api::namespaced_with(client.clone(), &ns, &ev_ar)
            };
            let mut events: Vec<Value> = match ev_api.list(&ListParams::default().fields(&fields.join(","))).await {
                Ok(list) => list.items.into_iter().map(|e| typed(e, &ev_ar)).collect(),
                // Events may be forbidden where the object is not: describe still answers.
                Err(kube::Error::Api(_)) => vec![],
                Err(e) => return Err(e.into()),
            };
            events.sort_by_key(event_time);
            Ok(Read::Objects(objects.into_iter().chain(events).collect()))
        }
        "events" => {
            let ar = api_resource(ResourceKind::lookup("events").expect("events are registered"));
            let api = dynamic_api(client, cmd, &ar, true);
            let mut fields: Vec<String> = cmd.flag("field-selector").map(|f| vec![f.to_owned()]).unwrap_or_default();
            if let Some((kind, name)) = cmd.flag("for").and_then(|f| f.split_once('/')) {
                let kind = ResourceKind::lookup(kind).map(|r| r.kind).unwrap_or(kind);
                fields.push(format!("involvedObject.kind={kind},involvedObject.name={name}"));
            }
            let lp = ListParams::default().fields(&fields.join(","));
            let mut events: Vec<Value> = api.list(&lp).await?.items.into_iter().map(|e| typed(e, &ar)).collect();
            events.sort_by_key(event_time);
            Ok(Read::Objects(events))
        }
        "logs" => {
            let ns = cmd.namespace.as_deref().unwrap_or("default");
            let (kind, name) = cmd.log_target().ok_or_else(|| Error::Unsupported(cmd.to_string()))?;
            let pod = if kind.plural == "pods" { name.to_owned() } else { workload_pod(client, ns, kind, name).await? };
            let lp = LogParams {
                container: cmd.flag("container").map(str::to_owned),
                previous: cmd.flag("previous").is_some_and(|v| v == "true"),
                tail_lines: cmd.flag("tail").and_then(|t| t.parse().ok()),
                since_seconds: cmd
                    .flag("since")
                    .and_then(aetherius_core::safety::arguments::parse_duration_secs)
                    .and_then(|s| i64::try_from(s).ok()),
                timestamps: cmd.flag("timestamps").is_some_and(|v| v == "true"),
                ..Default::default()
            };
            let api: Api<Pod> = Api::namespaced(client.clone(), ns);
            Ok(Read::Log(api.logs(&pod, &lp).await?))
        }
        "top" => {
            let r = cmd.resource().ok_or_else(|| Error::Unsupported(cmd.to_string()))?;
            let (kind, namespaced) = match r.plural {
                "pods" => ("PodMetrics", true),
                "nodes" => ("NodeMetrics", false),
                _ => return Err(Error::Unsupported(cmd.to_string())),
            };
            let ar = ApiResource {
                group: "metrics.k8s.io".into(),
                version: "v1beta1".into(),
                api_version: "metrics.k8s.io/v1beta1".into(),
                kind: kind.into(),
                plural: r.plural.into(),
            };
            let api = dynamic_api(client, cmd, &ar, namespaced);
            match cmd.name() {
                Some(name) => Ok(Read::Objects(vec![to_value(api.get(name).await?)])),
                None => Ok(Read::Objects(api.list(&list_params(cmd)).await?.items.into_iter().map(|o| typed(o, &ar)).collect())),
            }
        }
        "rollout-history" => {
            let deploy_ar = api_resource(ResourceKind::lookup("deployments").expect("registered"));
            let name = cmd.name().ok_or_else(|| Error::Unsupported(cmd.to_string()))?;
            let deploy = dynamic_api(client, cmd, &deploy_ar, true).get(name).await?;
            let selector = crate::labels::match_labels_selector(&to_value(deploy));
            let rs_ar = api_resource(ResourceKind::lookup("replicasets").expect("registered"));
            let mut sets: Vec<Value> = dynamic_api(client, cmd, &rs_ar, true)
                .list(&ListParams::default().labels(&selector))
                .await?
                .items
                .into_iter()
                .map(|o| typed(o, &rs_ar))
                .collect();
            sets.sort_by_key(|rs| {
                rs.pointer("/metadata/annotations/deployment.kubernetes.io~1revision")
                    .and_then(Value::as_str)
                    .and_then(|r| r.parse::<u64>().ok())
                    .unwrap_or(0)
            });
            Ok(Read::Objects(sets))
        }
        other => Err(Error::Unsupported(other.to_owned())),
    }
}

/// The pod `kubectl logs TYPE/NAME` reads: among the workload's pods, the one kubectl's
/// logging order puts first (scheduled, running, ready, most restarts, newest).
async fn workload_pod(client: &Client, ns: &str, kind: &ResourceKind, name: &str) -> Result<String, Error> {
    let owner = Api::<DynamicObject>::namespaced_with(client.clone(), ns, &api_resource(kind)).get(name).await?;
    let selector = crate::labels::match_labels_selector(&to_value(owner));
    if selector.is_empty() {
        return Err(Error::Status { code: 400, message: format!("{} {name:?} has no pod selector", kind.kind) });
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut list = pods.list(&ListParams::default().labels(&selector)).await?.items;
    list.sort_by_key(|p| {
        let status = p.status.clone().unwrap_or_default();
        let scheduled = p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some();
        let running = status.phase.as_deref() == Some("Running");
        let ready = status.conditions.iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True");
        let restarts: i32 = status.container_statuses.iter().flatten().map(|c| c.restart_count).sum();
        let created = p.metadata.creation_timestamp.as_ref().map(|t| t.0.as_second()).unwrap_or_default();
        (std::cmp::Reverse(scheduled), std::cmp::Reverse(running), std::cmp::Reverse(ready), std::cmp::Reverse(restarts), std::cmp::Reverse(created))
    });
    list.into_iter()
        .find_map(|p| p.metadata.name)
        .ok_or_else(|| Error::Status { code: 404, message: format!("no pods found for {} {name:?} in {ns:?}", kind.kind.to_lowercase()) })
}

fn event_time(e: &Value) -> String {
    ["/lastTimestamp", "/eventTime", "/series/lastObservedTime", "/firstTimestamp", "/metadata/creationTimestamp"]
        .iter()
        .find_map(|p| e.pointer(p).and_then(Value::as_str))
        .unwrap_or_default()
        .to_owned()
}

/// A listed object with the type of the resource it was listed from: a real API server
/// sends list items without `kind`/`apiVersion` (only the List has them).
fn typed(mut o: DynamicObject, ar: &ApiResource) -> Value {
    o.types = Some(TypeMeta { api_version: ar.api_version.clone(), kind: ar.kind.clone() });
    to_value(o)
}

fn to_value(o: DynamicObject) -> Value {
    serde_json::to_value(o).unwrap_or(Value::Null)
}
