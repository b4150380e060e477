//! The reads themselves, through kube-rs, exactly as against any real cluster.

use aetherius_core::{Command, command::ResourceKind};
use k8s_openapi::{api::core::v1::Pod, apimachinery::pkg::apis::meta::v1::ObjectMeta};
use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject, ListParams, LogParams, ObjectList, TypeMeta},
};
use serde_json::Value;

/// What a read returned.
pub(crate) enum Read {
    /// Objects (one for a get, any number for a list); `cut` when a bound stopped the read
    /// before the server ran out of items.
    Objects {
        /// The objects.
        objects: Vec<Value>,
        /// Whether more were left unread.
        cut: bool,
    },
    /// Log text; `cut` when it reached the byte bound.
    Log {
        /// The text.
        text: String,
        /// Whether the byte bound cut it.
        cut: bool,
    },
}

impl Read {
    fn objects(objects: Vec<Value>) -> Self {
        Read::Objects { objects, cut: false }
    }
}

/// Bounds on what one read may pull into memory, whatever the command asks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    /// Items per list request (`limit`, then `continue`).
    pub page_size: u32,
    /// Most items one list reads in all.
    pub max_items: usize,
    /// Tail of a log read without `--tail`.
    pub log_tail_lines: i64,
    /// Most bytes of one log (`limitBytes`).
    pub log_bytes: i64,
}

/// Where a read may look: the cluster's namespace allowlist (empty: everywhere).
pub(crate) struct Scope<'a> {
    /// Allowed namespaces.
    pub namespaces: &'a [String],
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
    Credentials(#[from] super::cluster::ClientError),
    /// Anything else: connection refused, timeout, bad response.
    #[error("transport: {0}")]
    Transport(String),
    /// The command cannot be mapped to a read (should have been rejected before).
    #[error("unsupported command: {0}")]
    Unsupported(String),
}

impl Error {
    /// Its `type_name` in the retry contract, and whether a retry may help.
    pub fn failure_type(&self) -> (&'static str, bool) {
        use super::cluster::ClientError;
        use aetherius_core::failure as f;
        match self {
            Error::Status { code, .. } => (f::CLUSTER_UNAVAILABLE, f::transient_status(*code)),
            Error::Credentials(ClientError::UnknownCluster(_)) => (f::UNKNOWN_CLUSTER, false),
            Error::Credentials(ClientError::Config(_)) => (f::CREDENTIALS_CONFIG, false),
            Error::Credentials(ClientError::Unavailable(_)) => (f::CREDENTIALS_UNAVAILABLE, true),
            Error::Transport(_) => (f::CLUSTER_TRANSPORT, true),
            Error::Unsupported(_) => (f::UNSUPPORTED_READ, false),
        }
    }

    /// The activity failure: an `ApplicationFailure` with the contract's `type_name`,
    /// non-retryable when no retry can help.
    pub fn into_activity_error(self) -> temporalio_sdk::activities::ActivityError {
        let (type_name, retryable) = self.failure_type();
        let failure =
            temporalio_sdk::ApplicationFailure::builder(self).type_name(type_name.to_owned()).non_retryable(!retryable).build();
        temporalio_sdk::activities::ActivityError::application(failure)
    }
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
    lp
}

/// How many items a list of `cmd` may read: its `--limit`, never above the bound.
fn wanted(cmd: &Command, bounds: &Bounds) -> usize {
    cmd.flag("limit").and_then(|l| l.parse::<usize>().ok()).filter(|l| *l > 0).map_or(bounds.max_items, |l| l.min(bounds.max_items))
}

/// Lists page by page (`limit` + `continue`) until the server runs out or `want` items are
/// read; true when items were left unread.
async fn paged<T, F, Fut>(mut fetch: F, lp: ListParams, want: usize, page_size: u32) -> Result<(Vec<T>, bool), Error>
where
    T: Clone,
    F: FnMut(ListParams) -> Fut,
    Fut: Future<Output = kube::Result<ObjectList<T>>>,
{
    let mut out: Vec<T> = vec![];
    let mut lp = lp;
    loop {
        let left = want.saturating_sub(out.len());
        lp.limit = Some(u32::try_from(left).unwrap_or(u32::MAX).clamp(1, page_size.max(1)));
        let list = fetch(lp.clone()).await?;
        out.extend(list.items);
        let next = list.metadata.continue_.filter(|c| !c.is_empty());
        match next {
            Some(token) if out.len() < want => lp.continue_token = Some(token),
            next => {
                let cut = next.is_some();
                out.truncate(want);
                return Ok((out, cut));
            }
        }
    }
}

/// A paged list of `api`, each item typed from `ar`.
async fn list_typed(api: &Api<DynamicObject>, ar: &ApiResource, lp: ListParams, want: usize, bounds: &Bounds) -> Result<(Vec<Value>, bool), Error> {
    let (items, cut) = paged(|lp| async move { api.list(&lp).await }, lp, want, bounds.page_size).await?;
    Ok((items.into_iter().map(|o| typed(o, ar)).collect(), cut))
}

/// Secrets are read as metadata only (`PartialObjectMetadata`), so their values never
/// leave the API server; typed as Secrets from the request's resource.
async fn secrets_metadata(api: &Api<DynamicObject>, ar: &ApiResource, cmd: &Command, bounds: &Bounds) -> Result<(Vec<Value>, bool), Error> {
    let as_secret = |metadata: ObjectMeta| {
        serde_json::json!({"apiVersion": ar.api_version, "kind": ar.kind, "metadata": metadata})
    };
    match cmd.name() {
        Some(name) => Ok((vec![as_secret(api.get_metadata(name).await?.metadata)], false)),
        None => {
            let (items, cut) =
                paged(|lp| async move { api.list_metadata(&lp).await }, list_params(cmd), wanted(cmd, bounds), bounds.page_size).await?;
            Ok((items.into_iter().map(|m| as_secret(m.metadata)).collect(), cut))
        }
    }
}

/// Runs `cmd` (already validated), within `bounds` and `scope`.
pub(crate) async fn run(client: &Client, cmd: &Command, bounds: &Bounds, scope: &Scope<'_>) -> Result<Read, Error> {
    match cmd.action.as_str() {
        "get" | "describe" => {
            let r = cmd.resource().ok_or_else(|| Error::Unsupported(cmd.to_string()))?;
            let ar = api_resource(r);
            let api = dynamic_api(client, cmd, &ar, r.namespaced);
            let (objects, cut) = if r.plural == "secrets" {
                secrets_metadata(&api, &ar, cmd, bounds).await?
            } else {
                match cmd.name() {
                    Some(name) => (vec![to_value(api.get(name).await?)], false),
                    None => list_typed(&api, &ar, list_params(cmd), wanted(cmd, bounds), bounds).await?,
                }
            };
            if cmd.action == "get" || objects.len() != 1 || r.plural == "events" {
                return Ok(Read::Objects { objects, cut });
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
            // Events of a namespaced object live in its namespace; those of a cluster-scoped
            // one (node, namespace) anywhere: then only the allowed namespaces are read.
            let apis: Vec<Api<DynamicObject>> = match (ns.is_empty(), scope.namespaces.is_empty()) {
                (false, _) => vec![Api::namespaced_with(client.clone(), &ns, &ev_ar)],
                (true, true) => vec![Api::all_with(client.clone(), &ev_ar)],
                (true, false) => scope.namespaces.iter().map(|n| Api::namespaced_with(client.clone(), n, &ev_ar)).collect(),
            };
            let mut events = vec![];
            let mut cut = cut;
            for ev_api in &apis {
                let lp = ListParams::default().fields(&fields.join(","));
                match list_typed(ev_api, &ev_ar, lp, bounds.max_items, bounds).await {
                    Ok((items, more)) => {
                        events.extend(items);
                        cut |= more;
                    }
                    // Events may be forbidden where the object is not: describe still answers.
                    Err(Error::Status { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            events.sort_by_key(event_time);
            Ok(Read::Objects { objects: objects.into_iter().chain(events).collect(), cut })
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
            let (mut events, cut) = list_typed(&api, &ar, lp, wanted(cmd, bounds), bounds).await?;
            events.sort_by_key(event_time);
            Ok(Read::Objects { objects: events, cut })
        }
        "logs" => {
            let ns = cmd.namespace.as_deref().unwrap_or("default");
            let (kind, name) = cmd.log_target().ok_or_else(|| Error::Unsupported(cmd.to_string()))?;
            let pod = if kind.plural == "pods" { name.to_owned() } else { workload_pod(client, ns, kind, name, bounds).await? };
            let lp = LogParams {
                container: cmd.flag("container").map(str::to_owned),
                previous: cmd.flag("previous").is_some_and(|v| v == "true"),
                // Without --tail (or --since), the last lines only; never more than the byte bound.
                tail_lines: cmd
                    .flag("tail")
                    .and_then(|t| t.parse::<i64>().ok())
                    .filter(|t| *t >= 0)
                    .or_else(|| cmd.flag("since").is_none().then_some(bounds.log_tail_lines)),
                limit_bytes: Some(bounds.log_bytes),
                since_seconds: cmd
                    .flag("since")
                    .and_then(aetherius_core::safety::arguments::parse_duration_secs)
                    .and_then(|s| i64::try_from(s).ok()),
                timestamps: cmd.flag("timestamps").is_some_and(|v| v == "true"),
                ..Default::default()
            };
            let api: Api<Pod> = Api::namespaced(client.clone(), ns);
            let text = api.logs(&pod, &lp).await?;
            let cut = i64::try_from(text.len()).unwrap_or(i64::MAX) >= bounds.log_bytes;
            Ok(Read::Log { text, cut })
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
                Some(name) => Ok(Read::objects(vec![to_value(api.get(name).await?)])),
                None => {
                    let (objects, cut) = list_typed(&api, &ar, list_params(cmd), wanted(cmd, bounds), bounds).await?;
                    Ok(Read::Objects { objects, cut })
                }
            }
        }
        "rollout-history" => {
            let deploy_ar = api_resource(ResourceKind::lookup("deployments").expect("registered"));
            let name = cmd.name().ok_or_else(|| Error::Unsupported(cmd.to_string()))?;
            let deploy = dynamic_api(client, cmd, &deploy_ar, true).get(name).await?;
            let selector = crate::labels::match_labels_selector(&to_value(deploy));
            let rs_ar = api_resource(ResourceKind::lookup("replicasets").expect("registered"));
            let rs_api = dynamic_api(client, cmd, &rs_ar, true);
            let (mut sets, cut) = list_typed(&rs_api, &rs_ar, ListParams::default().labels(&selector), bounds.max_items, bounds).await?;
            sets.sort_by_key(|rs| {
                rs.pointer("/metadata/annotations/deployment.kubernetes.io~1revision")
                    .and_then(Value::as_str)
                    .and_then(|r| r.parse::<u64>().ok())
                    .unwrap_or(0)
            });
            Ok(Read::Objects { objects: sets, cut })
        }
        other => Err(Error::Unsupported(other.to_owned())),
    }
}

/// The pod `kubectl logs TYPE/NAME` reads: among the workload's pods, the one kubectl's
/// logging order puts first (scheduled, running, ready, most restarts, newest).
async fn workload_pod(client: &Client, ns: &str, kind: &ResourceKind, name: &str, bounds: &Bounds) -> Result<String, Error> {
    let owner = Api::<DynamicObject>::namespaced_with(client.clone(), ns, &api_resource(kind)).get(name).await?;
    let selector = crate::labels::match_labels_selector(&to_value(owner));
    if selector.is_empty() {
        return Err(Error::Status { code: 400, message: format!("{} {name:?} has no pod selector", kind.kind) });
    }
    let pods: &Api<Pod> = &Api::namespaced(client.clone(), ns);
    let (mut list, _) = paged(|lp| async move { pods.list(&lp).await }, ListParams::default().labels(&selector), bounds.max_items, bounds.page_size).await?;
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
