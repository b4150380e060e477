//! The fixture cluster: a scenario served as a Kubernetes API (read paths only).
//!
//! Paths follow the real API server: `/api/v1/...`, `/apis/<group>/<version>/...`,
//! namespaced and cluster-scoped, list and get, `pods/<name>/log`, discovery,
//! metrics.k8s.io and SelfSubjectAccessReview. Errors are `Status` objects with the real
//! reasons and messages, so clients (kube-rs, kubectl) behave as against a cluster.

use crate::{
    load::Cluster,
    selector::{FieldSelector, LabelSelector},
    table::{self, IncludeObject, Printer},
};
use aetherius_core::command::{RESOURCE_KINDS, ResourceKind};
use axum::{
    Router,
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use std::{
    collections::{BTreeMap, BTreeSet},
    net::SocketAddr,
    sync::{Arc, Mutex},
};
use tokio::net::TcpListener;

/// Built-in resources every cluster serves that the known table lacks, served even when the
/// scenario has none of them (so a missing one is a proper NotFound): (group, version,
/// plural, kind, namespaced). `kubectl describe node` reads the node's Lease; events.k8s.io
/// serves the same Events as core/v1, in its own shape.
const SERVED_BUILTINS: &[(&str, &str, &str, &str, bool)] =
    &[("coordination.k8s.io", "v1", "leases", "Lease", true), ("events.k8s.io", "v1", "events", "Event", true)];

/// The identity the fixture cluster pretends the caller is, in 403 messages.
const CALLER: &str = "system:serviceaccount:aetherius:aetherius-reader";

/// One request the fixture cluster received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// HTTP method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// Raw query string ("" when none).
    pub query: String,
    /// `Accept` header ("" when none).
    pub accept: String,
}

/// Every request a fixture cluster received, in order (shared with the server).
#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<Request>>>);

impl RequestLog {
    /// The requests so far.
    pub fn requests(&self) -> Vec<Request> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn push(&self, r: Request) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(r);
    }
}

/// Failures the fixture answers instead of the real answer, for fault tests. Each is used
/// once, by the first request whose path contains its fragment; it answers the way
/// kube-apiserver does (a `Status` with code and reason; `Retry-After` on 429).
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<Mutex<Vec<(String, u16)>>>);

impl Faults {
    /// The next request whose path contains `path` is answered `code` (429, 500, 503, 504).
    pub fn push(&self, path: &str, code: u16) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push((path.to_owned(), code));
    }

    /// Faults not used yet.
    pub fn pending(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn take(&self, path: &str) -> Option<u16> {
        let mut faults = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let i = faults.iter().position(|(p, _)| path.contains(p.as_str()))?;
        Some(faults.remove(i).1)
    }
}

/// kube-apiserver's answer for `code`.
fn fault(code: u16, path: &str) -> Response {
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (reason, message) = match code.as_u16() {
        429 => ("TooManyRequests", "the server has received too many requests and has asked us to try again later".to_owned()),
        503 => ("ServiceUnavailable", "the server is currently unable to handle the request".to_owned()),
        504 => ("Timeout", "the server was unable to return a response in the time allotted, but may still be processing the request".to_owned()),
        _ => ("InternalError", format!("an error on the server (\"fixture fault\") has prevented the request from succeeding (get {path})")),
    };
    let mut response = status_with(code, reason, message, json!({"retryAfterSeconds": 1}));
    if code == StatusCode::TOO_MANY_REQUESTS {
        response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    response
}

struct Served {
    cluster: Cluster,
    log: RequestLog,
    faults: Faults,
}

/// The router serving `cluster`.
pub fn router(cluster: Cluster) -> Router {
    recording_router(cluster, RequestLog::default())
}

/// The router serving `cluster`, appending every request to `log`.
pub fn recording_router(cluster: Cluster, log: RequestLog) -> Router {
    faulty_router(cluster, log, Faults::default())
}

/// Like [`recording_router`], answering with `faults` where they match.
pub fn faulty_router(cluster: Cluster, log: RequestLog, faults: Faults) -> Router {
    Router::new().fallback(handle).with_state(Arc::new(Served { cluster, log, faults }))
}

/// Serves `cluster` with `faults` injected; returns the bound address and the task.
pub async fn serve_with_faults(
    cluster: Cluster,
    addr: SocketAddr,
    faults: Faults,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = faulty_router(cluster, RequestLog::default(), faults);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "fixture cluster stopped");
        }
    });
    Ok((local, task))
}

/// Serves `cluster` on `addr` until the task is dropped; returns the bound address.
pub async fn serve(cluster: Cluster, addr: SocketAddr) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    serve_recorded(cluster, addr).await.map(|(addr, task, _)| (addr, task))
}

/// Like [`serve`], also returning the log of every request the server receives.
pub async fn serve_recorded(
    cluster: Cluster,
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>, RequestLog)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let log = RequestLog::default();
    let app = recording_router(cluster, log.clone());
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "fixture cluster stopped");
        }
    });
    Ok((local, task, log))
}

/// A kubeconfig pointing at a fixture cluster on `addr`, with context `cluster_id`.
pub fn kubeconfig(cluster_id: &str, addr: SocketAddr) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {cluster_id}\n  cluster:\n    server: http://{addr}\n\
         contexts:\n- name: {cluster_id}\n  context:\n    cluster: {cluster_id}\n    user: {cluster_id}\n    namespace: default\n\
         current-context: {cluster_id}\nusers:\n- name: {cluster_id}\n  user:\n    token: fixture-cluster-token\n"
    )
}

/// The representation a client asked for in its `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    /// The object or list itself (`application/json`).
    Plain,
    /// A meta.k8s.io `Table` of that version (server-side printing, as kubectl asks).
    Table(&'static str),
    /// `PartialObjectMetadata(List)` of that meta.k8s.io version.
    Metadata(&'static str),
}

/// Picks the first media range of `accept` the fixture can serve, as the API server does:
/// `application/json;as=Table;v=v1;g=meta.k8s.io` gives a Table; a range asking for a
/// representation the fixture lacks (aggregated discovery, protobuf) is skipped, so the
/// client's plain `application/json` fallback answers.
fn negotiate(accept: Option<&str>) -> Wanted {
    let Some(accept) = accept else { return Wanted::Plain };
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        if !matches!(media.as_str(), "application/json" | "application/*" | "*/*") {
            continue;
        }
        let (mut as_kind, mut group, mut version) = (None, None, None);
        for param in parts {
            if let Some((k, v)) = param.split_once('=') {
                match k.trim() {
                    "as" => as_kind = Some(v.trim()),
                    "g" => group = Some(v.trim()),
                    "v" => version = Some(v.trim()),
                    _ => {}
                }
            }
        }
        let Some(as_kind) = as_kind else { return Wanted::Plain };
        let version = match version {
            Some("v1") => "v1",
            Some("v1beta1") => "v1beta1",
            _ => continue,
        };
        match (as_kind, group) {
            ("Table", Some("meta.k8s.io")) => return Wanted::Table(version),
            ("PartialObjectMetadata" | "PartialObjectMetadataList", Some("meta.k8s.io")) => {
                return Wanted::Metadata(version);
            }
            _ => continue,
        }
    }
    Wanted::Plain
}

async fn handle(
    State(served): State<Arc<Served>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
    body: Bytes,
) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|a| a.to_str().ok());
    served.log.push(Request {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        accept: accept.unwrap_or_default().to_owned(),
    });
    if let Some(code) = served.faults.take(uri.path()) {
        return fault(code, uri.path());
    }
    let cluster = &served.cluster;
    let path = uri.path().trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let wanted = negotiate(accept);
    let api = Api { cluster, query: &query, wanted };
    match (method, segments.as_slice()) {
        (Method::GET, ["version"]) => json_ok(json!({
            "major": "1", "minor": "32", "gitVersion": "v1.32.0-fixture", "gitCommit": "fixture",
            "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23",
            "compiler": "gc", "platform": "linux/amd64"
        })),
        (Method::GET, ["api"]) => json_ok(json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})),
        (Method::GET, ["apis"]) => json_ok(api.group_list()),
        (Method::GET, ["api", "v1"]) => json_ok(api.resource_list("", "v1")),
        (Method::GET, ["apis", group, version]) => json_ok(api.resource_list(group, version)),
        (Method::GET, ["api", "v1", rest @ ..]) => api.read("", "v1", rest),
        (Method::GET, ["apis", group, version, rest @ ..]) => api.read(group, version, rest),
        (Method::POST, ["apis", "authorization.k8s.io", "v1", "selfsubjectaccessreviews"]) => api.access_review(&body),
        (method, _) => status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("the fixture cluster is read-only; {method} {path} is not served"),
        ),
    }
}

struct Api<'a> {
    cluster: &'a Cluster,
    query: &'a BTreeMap<String, String>,
    wanted: Wanted,
}

/// What a path addresses.
struct Target<'a> {
    namespace: Option<&'a str>,
    plural: &'a str,
    name: Option<&'a str>,
    subresource: Option<&'a str>,
}

impl Api<'_> {
    fn read(&self, group: &str, version: &str, rest: &[&str]) -> Response {
        let target = match rest {
            ["namespaces", ns] => Target { namespace: None, plural: "namespaces", name: Some(ns), subresource: None },
            ["namespaces", ns, plural] => Target { namespace: Some(ns), plural, name: None, subresource: None },
            ["namespaces", ns, plural, name] => Target { namespace: Some(ns), plural, name: Some(name), subresource: None },
            ["namespaces", ns, plural, name, sub] => {
                Target { namespace: Some(ns), plural, name: Some(name), subresource: Some(sub) }
            }
            [plural] => Target { namespace: None, plural, name: None, subresource: None },
            [plural, name] => Target { namespace: None, plural, name: Some(name), subresource: None },
            _ => return not_found_path(),
        };
        let Some(kind) = self.kind_of(group, version, target.plural) else {
            return not_found_path();
        };
        if let Some(denied) = self.forbidden(&target, group) {
            return denied;
        }
        match (target.name, target.subresource) {
            (Some(name), Some("log")) if target.plural == "pods" => self.pod_log(target.namespace.unwrap_or("default"), name),
            (Some(_), Some(_)) => not_found_path(),
            (Some(name), None) => self.get(group, version, &kind, target.plural, target.namespace, name),
            (None, _) if self.query.get("watch").is_some_and(|w| w == "true" || w == "1") => {
                self.watch(group, version, &kind, target.namespace)
            }
            (None, _) => self.list(group, version, &kind, target.namespace),
        }
    }

    /// The cluster's resourceVersion, as etcd's revision: the largest any object carries.
    fn resource_version(&self) -> u64 {
        self.cluster
            .objects
            .iter()
            .filter_map(|o| o.pointer("/metadata/resourceVersion")?.as_str()?.parse::<u64>().ok())
            .max()
            .unwrap_or(1)
    }

    /// `?watch=true` on a collection, as the API server streams it (chunked JSON lines of
    /// `{"type","object"}`, objects carrying `kind` and `apiVersion`): without a
    /// resourceVersion, with `0` or with `sendInitialEvents=true`, one `ADDED` per object (then
    /// the `k8s.io/initial-events-end` BOOKMARK when bookmarks are allowed on a streaming
    /// list); from resourceVersion N, the objects newer than N (none in a still fixture,
    /// since lists answer the newest). The stream stays open until `timeoutSeconds` (else
    /// 1800 s, the API server's minimum request timeout), then ends.
    fn watch(&self, group: &str, version: &str, kind: &str, namespace: Option<&str>) -> Response {
        let pool = self.pool(group, kind);
        let items = match self.matching(group, kind, namespace, &pool) {
            Ok(items) => items,
            Err(message) => return status(StatusCode::BAD_REQUEST, "BadRequest", message),
        };
        let initial = self.query.get("sendInitialEvents").is_some_and(|v| v == "true");
        let since = match self.query.get("resourceVersion").map(String::as_str).unwrap_or("") {
            // A streaming list starts from a snapshot at least that new: the fixture's only one.
            "" | "0" => None,
            _ if initial => None,
            v => match v.parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => return status(StatusCode::BAD_REQUEST, "BadRequest", format!("invalid resource version: {v:?}")),
            },
        };
        let timeout = self.query.get("timeoutSeconds").and_then(|t| t.parse::<u64>().ok()).unwrap_or(1800);
        let api_version = if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") };
        let rv_of = |o: &Value| o.pointer("/metadata/resourceVersion").and_then(Value::as_str).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let mut lines: Vec<String> = items
            .into_iter()
            .filter(|o| since.is_none_or(|n| rv_of(o) > n))
            .map(|o| {
                let mut object = o.clone();
                object["kind"] = json!(kind);
                object["apiVersion"] = json!(api_version);
                format!("{}\n", json!({"type": "ADDED", "object": object}))
            })
            .collect();
        if initial && self.query.get("allowWatchBookmarks").is_some_and(|v| v == "true") {
            let bookmark = json!({"kind": kind, "apiVersion": api_version, "metadata": {
                "resourceVersion": self.resource_version().to_string(),
                "annotations": {"k8s.io/initial-events-end": "true"}}});
            lines.push(format!("{}\n", json!({"type": "BOOKMARK", "object": bookmark})));
        }
        use futures::StreamExt;
        let head = futures::stream::iter(lines.into_iter().map(|l| Ok::<_, std::convert::Infallible>(Bytes::from(l))));
        let hold = futures::stream::once(tokio::time::sleep(std::time::Duration::from_secs(timeout)))
            .filter_map(|()| std::future::ready(None::<Result<Bytes, std::convert::Infallible>>));
        ([(header::CONTENT_TYPE, "application/json")], axum::body::Body::from_stream(head.chain(hold))).into_response()
    }

    fn source(&self, group: &str) -> &[Value] {
        if group == "metrics.k8s.io" { &self.cluster.metrics } else { &self.cluster.objects }
    }

    /// Kind served at group/version/plural: the known table, metrics, or any object of an
    /// unknown kind under its own apiVersion.
    fn kind_of(&self, group: &str, version: &str, plural: &str) -> Option<String> {
        if group == "metrics.k8s.io" {
            return match plural {
                "pods" => Some("PodMetrics".into()),
                "nodes" => Some("NodeMetrics".into()),
                _ => None,
            };
        }
        if let Some(r) = RESOURCE_KINDS.iter().find(|r| r.group == group && r.plural == plural && self.installed(r)) {
            return Some(r.kind.into());
        }
        if let Some((.., kind, _)) = SERVED_BUILTINS.iter().find(|(g, v, p, ..)| *g == group && *v == version && *p == plural) {
            return Some((*kind).into());
        }
        let api_version = if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") };
        self.cluster.objects.iter().find_map(|o| {
            let kind = o.get("kind")?.as_str()?;
            (o.get("apiVersion")?.as_str()? == api_version && pluralize(kind) == plural).then(|| kind.to_owned())
        })
    }

    /// Whether the cluster serves a registered kind: built-in groups always; a custom
    /// resource (Cilium, CloudNativePG, ...) only where its CRD is installed, which a scenario
    /// shows by an object of that kind or the CustomResourceDefinition itself. Elsewhere a
    /// real server answers 404 for the path, so the fixture does too.
    fn installed(&self, r: &ResourceKind) -> bool {
        if table::BUILTIN_GROUPS.contains(&r.group) {
            return true;
        }
        let crd = format!("{}.{}", r.plural, r.group);
        self.cluster.objects.iter().any(|o| {
            let field = |p: &str| o.pointer(p).and_then(Value::as_str).unwrap_or_default();
            let group = field("/apiVersion").rsplit_once('/').map_or("", |(g, _)| g);
            (group == r.group && field("/kind") == r.kind) || (field("/kind") == "CustomResourceDefinition" && field("/metadata/name") == crd)
        })
    }

    fn namespaced(&self, group: &str, plural: &str) -> bool {
        if group == "metrics.k8s.io" {
            return plural == "pods";
        }
        match RESOURCE_KINDS.iter().find(|r| r.group == group && r.plural == plural) {
            Some(r) => r.namespaced,
            None => self.extra_resources().values().flat_map(|rs| rs.values()).any(|r| r.plural == plural && r.namespaced),
        }
    }

    /// Kinds present only as objects (not in the known table): custom resources and
    /// built-in kinds the table lacks, by (group, version), so discovery lists them.
    fn extra_resources(&self) -> BTreeMap<(String, String), BTreeMap<String, ExtraResource>> {
        let mut out: BTreeMap<(String, String), BTreeMap<String, ExtraResource>> = BTreeMap::new();
        for (group, version, plural, kind, namespaced) in SERVED_BUILTINS {
            out.entry(((*group).to_owned(), (*version).to_owned()))
                .or_default()
                .insert((*kind).to_owned(), ExtraResource { plural: (*plural).to_owned(), namespaced: *namespaced });
        }
        for o in &self.cluster.objects {
            let (Some(api_version), Some(kind)) =
                (o.get("apiVersion").and_then(Value::as_str), o.get("kind").and_then(Value::as_str))
            else {
                continue;
            };
            let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
            if RESOURCE_KINDS.iter().any(|r| r.group == group && r.kind == kind) {
                continue;
            }
            let namespaced = o.pointer("/metadata/namespace").and_then(Value::as_str).is_some_and(|n| !n.is_empty());
            let entry = out
                .entry((group.to_owned(), version.to_owned()))
                .or_default()
                .entry(kind.to_owned())
                .or_insert_with(|| ExtraResource { plural: pluralize(kind), namespaced });
            entry.namespaced |= namespaced;
        }
        out
    }

    fn forbidden(&self, t: &Target<'_>, group: &str) -> Option<Response> {
        let verb = if t.name.is_some() { "get" } else { "list" };
        let resource = match t.subresource {
            Some(sub) => format!("{}/{sub}", t.plural),
            None => t.plural.to_owned(),
        };
        if self.allowed(t.namespace, &resource) {
            return None;
        }
        let scope = match t.namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".into(),
        };
        let subject = match t.name {
            Some(name) => format!("{} \"{name}\"", t.plural),
            None => t.plural.to_owned(),
        };
        Some(status_with(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!("{subject} is forbidden: User \"{CALLER}\" cannot {verb} resource \"{resource}\" in API group \"{group}\" {scope}"),
            details(t.name, group, t.plural),
        ))
    }

    /// RBAC as the scenario's `forbidden` list describes it. A namespace-wide denial also
    /// denies cluster-wide reads of that resource: no cluster-wide grant can exist then.
    fn allowed(&self, namespace: Option<&str>, resource: &str) -> bool {
        let base = resource.split('/').next().unwrap_or(resource);
        !self.cluster.forbidden.iter().any(|f| match f.split_once('/') {
            None => f == base || f == resource,
            Some((ns, r)) => (r == base || r == resource) && namespace.is_none_or(|n| n == ns),
        })
    }

    /// The objects a list answers: of `kind`, in `namespace` (all when None), matching the
    /// label and field selectors, sorted by namespace and name as etcd returns them.
    fn matching<'c>(&'c self, group: &str, kind: &str, namespace: Option<&str>, pool: &'c [Value]) -> Result<Vec<&'c Value>, String> {
        // An unparsable selector is a BadRequest with the parser's message.
        let labels = LabelSelector::parse(self.query.get("labelSelector").map(String::as_str).unwrap_or(""))
            .map_err(|e| e.to_string())?;
        let fields = FieldSelector::parse(self.query.get("fieldSelector").map(String::as_str).unwrap_or(""))
            .map_err(|e| e.to_string())?;
        let source = if matches!(kind, "Namespace" | "Event") { pool } else { self.source(group) };
        let mut items: Vec<&Value> = source
            .iter()
            .filter(|o| o.get("kind").and_then(Value::as_str) == Some(kind))
            .filter(|o| namespace.is_none_or(|ns| o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns)))
            .filter(|o| labels.matches(o) && fields.matches(o))
            .collect();
        let key = |o: &Value| {
            let field = |p: &str| o.pointer(p).and_then(Value::as_str).unwrap_or_default().to_owned();
            (field("/metadata/namespace"), field("/metadata/name"))
        };
        items.sort_by_key(|o| key(o));
        Ok(items)
    }

    fn list(&self, group: &str, version: &str, kind: &str, namespace: Option<&str>) -> Response {
        let pool = self.pool(group, kind);
        let items = match self.matching(group, kind, namespace, &pool) {
            Ok(items) => items,
            Err(message) => return status(StatusCode::BAD_REQUEST, "BadRequest", message),
        };
        // Pagination: `continue` is the offset of the next page.
        let start = self.query.get("continue").and_then(|c| c.parse::<usize>().ok()).unwrap_or(0).min(items.len());
        let limit = self.query.get("limit").and_then(|l| l.parse::<usize>().ok()).filter(|l| *l > 0);
        let end = limit.map_or(items.len(), |l| start.saturating_add(l).min(items.len()));
        let page = &items[start..end];
        let mut metadata = json!({"resourceVersion": self.resource_version().to_string()});
        if end < items.len() {
            metadata["continue"] = json!(end.to_string());
            metadata["remainingItemCount"] = json!(items.len() - end);
        }
        match self.wanted {
            Wanted::Table(v) => self.table_response(group, kind, page, v, metadata),
            Wanted::Metadata(v) => typed_json(
                json!({
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": format!("meta.k8s.io/{v}"),
                    "metadata": metadata,
                    "items": page.iter().map(|o| table::partial_object_metadata(o, v)).collect::<Vec<_>>(),
                }),
                &format!("application/json;as=PartialObjectMetadataList;v={v};g=meta.k8s.io"),
            ),
            Wanted::Plain => {
                let api_version = if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") };
                let untyped = table::BUILTIN_GROUPS.contains(&group) && !self.cluster.typed_list_items;
                let items: Vec<Value> = page.iter().map(|o| if untyped { without_type_meta(o) } else { (*o).clone() }).collect();
                json_ok(json!({
                    "kind": format!("{kind}List"),
                    "apiVersion": api_version,
                    "metadata": metadata,
                    "items": items,
                }))
            }
        }
    }

    fn table_response(&self, group: &str, kind: &str, items: &[&Value], version: &'static str, metadata: Value) -> Response {
        let include = IncludeObject::parse(self.query.get("includeObject").map(String::as_str));
        let body = table::table(Printer::for_kind(group, kind), items, self.cluster.now, include, version, metadata);
        typed_json(body, &format!("application/json;as=Table;v={version};g=meta.k8s.io"))
    }

    fn get(&self, group: &str, _version: &str, kind: &str, plural: &str, namespace: Option<&str>, name: &str) -> Response {
        let found = if matches!(kind, "Namespace" | "Event") {
            let ns = if kind == "Event" { namespace } else { None };
            self.pool(group, kind).into_iter().find(|o| {
                o.pointer("/metadata/name").and_then(Value::as_str) == Some(name)
                    && ns.is_none_or(|ns| o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns))
            })
        } else {
            let ns = if self.namespaced(group, plural) { namespace } else { None };
            self.source(group).iter().find(|o| {
                o.get("kind").and_then(Value::as_str) == Some(kind)
                    && o.pointer("/metadata/name").and_then(Value::as_str) == Some(name)
                    && ns.is_none_or(|ns| o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns))
            }).cloned()
        };
        let Some(obj) = found else {
            return status_with(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("{plural}{} \"{name}\" not found", if group.is_empty() { String::new() } else { format!(".{group}") }),
                details(Some(name), group, plural),
            );
        };
        let resource_version = obj.pointer("/metadata/resourceVersion").cloned().unwrap_or_else(|| json!("1"));
        match self.wanted {
            Wanted::Table(v) => self.table_response(group, kind, &[&obj], v, json!({"resourceVersion": resource_version})),
            Wanted::Metadata(v) => typed_json(
                table::partial_object_metadata(&obj, v),
                &format!("application/json;as=PartialObjectMetadata;v={v};g=meta.k8s.io"),
            ),
            Wanted::Plain => json_ok(obj),
        }
    }

    /// Objects built for the request rather than stored: namespaces, and events in the
    /// shape of the group asked for (both groups serve the same events).
    fn pool(&self, group: &str, kind: &str) -> Vec<Value> {
        match kind {
            "Namespace" => self.namespaces(),
            "Event" => self
                .cluster
                .objects
                .iter()
                .filter(|o| o.get("kind").and_then(Value::as_str) == Some("Event"))
                .map(|e| convert_event(e, group == "events.k8s.io"))
                .collect(),
            _ => vec![],
        }
    }

    /// Explicit Namespace objects plus every namespace a namespaced object lives in.
    fn namespaces(&self) -> Vec<Value> {
        let kind_of = |o: &Value| o.get("kind").and_then(Value::as_str) == Some("Namespace");
        let mut by_name: BTreeMap<String, Value> = BTreeMap::new();
        for o in self.cluster.objects.iter().filter(|o| kind_of(o)) {
            if let Some(n) = o.pointer("/metadata/name").and_then(Value::as_str) {
                by_name.insert(n.to_owned(), o.clone());
            }
        }
        // Implicit namespaces, each as old as the oldest object in it.
        let mut implicit: BTreeMap<&str, Option<&str>> = BTreeMap::new();
        for o in self.cluster.objects.iter().filter(|o| !kind_of(o)) {
            let Some(ns) = o.pointer("/metadata/namespace").and_then(Value::as_str) else { continue };
            let created = o.pointer("/metadata/creationTimestamp").and_then(Value::as_str);
            let oldest = implicit.entry(ns).or_insert(created);
            if let Some(c) = created
                && oldest.is_none_or(|current| is_earlier(c, current))
            {
                *oldest = Some(c);
            }
        }
        for (ns, created) in implicit {
            by_name.entry(ns.to_owned()).or_insert_with(|| json!({
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}, "creationTimestamp": created},
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}
            }));
        }
        by_name.into_values().collect()
    }

    fn pod_log(&self, namespace: &str, pod_name: &str) -> Response {
        let pod = self.cluster.objects.iter().find(|o| {
            o.get("kind").and_then(Value::as_str) == Some("Pod")
                && o.pointer("/metadata/name").and_then(Value::as_str) == Some(pod_name)
                && o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(namespace)
        });
        let Some(pod) = pod else {
            return status(StatusCode::NOT_FOUND, "NotFound", format!("pods \"{pod_name}\" not found"));
        };
        let containers: Vec<&str> = ["/spec/initContainers", "/spec/containers"]
            .iter()
            .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
            .flatten()
            .filter_map(|c| c.get("name").and_then(Value::as_str))
            .collect();
        let app_containers: Vec<&str> = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .map(|cs| cs.iter().filter_map(|c| c.get("name").and_then(Value::as_str)).collect())
            .unwrap_or_default();
        let container = match self.query.get("container") {
            Some(c) => c.as_str(),
            None if app_containers.len() == 1 => app_containers[0],
            None => {
                return status(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    format!("a container name must be specified for pod {pod_name}, choose one of: [{}]", app_containers.join(" ")),
                );
            }
        };
        if !containers.contains(&container) {
            return status(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!("container {container} is not valid for pod {pod_name}"),
            );
        }
        let previous = self.query.get("previous").is_some_and(|p| p == "true");
        let key = (namespace.to_owned(), pod_name.to_owned(), container.to_owned(), previous);
        let text = match self.cluster.logs.get(&key) {
            Some(t) => t.clone(),
            None => match self.kubelet_log(pod, pod_name, container, previous) {
                Ok(t) => t,
                Err(message) => return status(StatusCode::BAD_REQUEST, "BadRequest", message),
            },
        };
        let text = match self.query.get("tailLines").and_then(|t| t.parse::<usize>().ok()) {
            Some(n) => tail_lines(&text, n),
            None => text,
        };
        // limitBytes: the kubelet stops after that many bytes (possibly mid-line).
        let text = match self.query.get("limitBytes").and_then(|b| b.parse::<usize>().ok()) {
            Some(n) if n < text.len() => String::from_utf8_lossy(&text.as_bytes()[..n]).into_owned(),
            _ => text,
        };
        ([(header::CONTENT_TYPE, "text/plain")], text).into_response()
    }

    /// What the API server and kubelet answer for a log no file provides: the kubelet picks
    /// the container instance from the status (validateContainerLogStatus), so a
    /// crash-looping container's current log is its last terminated instance's log.
    fn kubelet_log(&self, pod: &Value, pod_name: &str, container: &str, previous: bool) -> Result<String, String> {
        if pod.pointer("/spec/nodeName").and_then(Value::as_str).is_none_or(str::is_empty) {
            // Not scheduled: the API server has no kubelet to ask and streams nothing.
            return Ok(String::new());
        }
        let Some(cs) = ["/status/containerStatuses", "/status/initContainerStatuses"]
            .iter()
            .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
            .flatten()
            .find(|s| s.get("name").and_then(Value::as_str) == Some(container))
        else {
            return Err(format!("container \"{container}\" in pod \"{pod_name}\" is not available"));
        };
        let state = |p: &str| cs.pointer(p).filter(|v| v.is_object());
        let has_id = |v: &Value| v.get("containerID").and_then(Value::as_str).is_some_and(|id| !id.is_empty());
        let last = state("/lastState/terminated");
        // The log of the last terminated instance, when a file gives it.
        let namespace = pod.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default");
        let last_log = || {
            let key = (namespace.to_owned(), pod_name.to_owned(), container.to_owned(), true);
            self.cluster.logs.get(&key).cloned().unwrap_or_default()
        };
        let terminated_error = || format!("container \"{container}\" in pod \"{pod_name}\" is terminated");
        if previous {
            return match last {
                Some(t) if has_id(t) => Ok(String::new()),
                _ => Err(format!("previous terminated container \"{container}\" in pod \"{pod_name}\" not found")),
            };
        }
        if state("/state/running").is_some() {
            return Ok(String::new());
        }
        if let Some(t) = state("/state/terminated") {
            return match (has_id(t), last) {
                (true, _) => Ok(String::new()),
                (false, Some(l)) if has_id(l) => Ok(last_log()),
                _ => Err(terminated_error()),
            };
        }
        if let Some(l) = last {
            return if has_id(l) { Ok(last_log()) } else { Err(terminated_error()) };
        }
        if let Some(w) = state("/state/waiting") {
            let reason = w.get("reason").and_then(Value::as_str).unwrap_or_default();
            let what = match reason {
                "ErrImagePull" => "image can't be pulled".to_owned(),
                "ImagePullBackOff" => "trying and failing to pull image".to_owned(),
                other => other.to_owned(),
            };
            return Err(format!("container \"{container}\" in pod \"{pod_name}\" is waiting to start: {what}"));
        }
        Err(format!("container \"{container}\" in pod \"{pod_name}\" is waiting to start - no logs yet"))
    }

    fn access_review(&self, body: &[u8]) -> Response {
        // kubectl posts protobuf; kube-rs and curl post JSON.
        let Some(mut review) =
            serde_json::from_slice::<Value>(body).ok().or_else(|| crate::proto::self_subject_access_review(body))
        else {
            return status(StatusCode::BAD_REQUEST, "BadRequest", "request body is not a SelfSubjectAccessReview".into());
        };
        if let Some(path) = review.pointer("/spec/nonResourceAttributes/path").and_then(Value::as_str) {
            // Non-resource URLs (/healthz, /version, ...): a reader may get them.
            let allowed = review.pointer("/spec/nonResourceAttributes/verb").and_then(Value::as_str) == Some("get");
            tracing::debug!(path, allowed, "non-resource access review");
            review["status"] = json!({"allowed": allowed});
            review["metadata"] = json!({"creationTimestamp": null});
            return (StatusCode::CREATED, axum::Json(review)).into_response();
        }
        let attrs = review.pointer("/spec/resourceAttributes").cloned().unwrap_or(Value::Null);
        let namespace = attrs.get("namespace").and_then(Value::as_str).filter(|n| !n.is_empty());
        let resource = attrs.get("resource").and_then(Value::as_str).unwrap_or_default();
        let resource = match attrs.get("subresource").and_then(Value::as_str).filter(|s| !s.is_empty()) {
            Some(sub) => format!("{resource}/{sub}"),
            None => resource.to_owned(),
        };
        let verb = attrs.get("verb").and_then(Value::as_str).unwrap_or_default();
        // The fixture identity is a reader: it may only get, list and watch.
        let allowed = matches!(verb, "get" | "list" | "watch") && self.allowed(namespace, &resource);
        review["status"] = if allowed {
            json!({"allowed": true, "reason": "RBAC: allowed by ClusterRoleBinding \"aetherius-reader\""})
        } else {
            json!({"allowed": false})
        };
        review["metadata"] = json!({"creationTimestamp": null});
        (StatusCode::CREATED, axum::Json(review)).into_response()
    }

    fn group_list(&self) -> Value {
        // group → (preferred version, every version)
        let mut groups: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
        let mut add = |g: &str, v: &str| {
            groups.entry(g.to_owned()).or_insert_with(|| (v.to_owned(), BTreeSet::new())).1.insert(v.to_owned());
        };
        for r in RESOURCE_KINDS.iter().filter(|r| !r.group.is_empty() && self.installed(r)) {
            add(r.group, r.version);
        }
        add("metrics.k8s.io", "v1beta1");
        add("authorization.k8s.io", "v1");
        for (g, v) in self.extra_resources().into_keys().filter(|(g, _)| !g.is_empty()) {
            add(&g, &v);
        }
        let groups: Vec<Value> = groups
            .into_iter()
            .map(|(g, (preferred, versions))| {
                let gv = |v: &str| json!({"groupVersion": format!("{g}/{v}"), "version": v});
                let mut all = vec![gv(&preferred)];
                all.extend(versions.iter().filter(|v| **v != preferred).map(|v| gv(v)));
                json!({"name": g, "versions": all, "preferredVersion": gv(&preferred)})
            })
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    fn resource_list(&self, group: &str, version: &str) -> Value {
        let read_verbs = json!(["get", "list", "watch"]);
        let mut resources: Vec<Value> = RESOURCE_KINDS
            .iter()
            .filter(|r| r.group == group && r.version == version && self.installed(r))
            .map(|r: &ResourceKind| {
                let short: Vec<&str> = r.aliases.iter().copied().filter(|a| a.len() <= 6 && *a != r.kind.to_ascii_lowercase()).collect();
                json!({
                    "name": r.plural, "singularName": r.kind.to_ascii_lowercase(), "namespaced": r.namespaced,
                    "kind": r.kind, "verbs": read_verbs, "shortNames": short
                })
            })
            .collect();
        if let Some(extra) = self.extra_resources().get(&(group.to_owned(), version.to_owned())) {
            for (kind, r) in extra {
                resources.push(json!({
                    "name": r.plural, "singularName": kind.to_ascii_lowercase(), "namespaced": r.namespaced,
                    "kind": kind, "verbs": read_verbs
                }));
            }
        }
        match (group, version) {
            ("", "v1") => resources.push(json!({"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"]})),
            ("metrics.k8s.io", "v1beta1") => {
                resources.push(json!({"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]}));
                resources.push(json!({"name": "nodes", "singularName": "", "namespaced": false, "kind": "NodeMetrics", "verbs": ["get", "list"]}));
            }
            ("authorization.k8s.io", "v1") => resources.push(json!({
                "name": "selfsubjectaccessreviews", "singularName": "", "namespaced": false,
                "kind": "SelfSubjectAccessReview", "verbs": ["create"]
            })),
            _ => {}
        }
        let gv = if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") };
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
    }
}

/// A kind served only because objects of it exist.
struct ExtraResource {
    plural: String,
    namespaced: bool,
}

/// Field names of a core/v1 Event and their events.k8s.io/v1 counterparts (the API server
/// converts between the two; k8s.io/kubernetes `pkg/apis/events/v1/conversion.go`).
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

/// An Event in the shape of events.k8s.io/v1 (`to_events_group`) or core/v1, whichever
/// shape it was stored in.
fn convert_event(e: &Value, to_events_group: bool) -> Value {
    let mut e = e.clone();
    let Some(map) = e.as_object_mut() else { return e };
    for (core, events) in EVENT_FIELDS {
        let (from, to) = if to_events_group { (core, events) } else { (events, core) };
        if let Some(v) = map.remove(*from) {
            map.entry(*to).or_insert(v);
        }
    }
    map.insert("apiVersion".into(), json!(if to_events_group { "events.k8s.io/v1" } else { "v1" }));
    e
}

/// A list item as a typed server encodes it: without `kind` and `apiVersion`.
fn without_type_meta(o: &Value) -> Value {
    let mut o = o.clone();
    if let Some(map) = o.as_object_mut() {
        map.remove("kind");
        map.remove("apiVersion");
    }
    o
}

/// Whether RFC 3339 time `a` is before `b` (unparsable: false).
fn is_earlier(a: &str, b: &str) -> bool {
    match (chrono::DateTime::parse_from_rfc3339(a), chrono::DateTime::parse_from_rfc3339(b)) {
        (Ok(a), Ok(b)) => a < b,
        _ => false,
    }
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    let mut out = lines[start..].join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// Lowercase plural of a kind, as the API server derives it.
fn pluralize(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower.ends_with('s') || lower.ends_with('x') || lower.ends_with("ch") || lower.ends_with("sh") {
        format!("{lower}es")
    } else if let Some(stem) = lower.strip_suffix('y').filter(|s| !s.ends_with(['a', 'e', 'i', 'o', 'u'])) {
        format!("{stem}ies")
    } else {
        format!("{lower}s")
    }
}

fn json_ok(v: Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

/// JSON with the media type parameters the API server sets (`as=Table;v=v1;g=meta.k8s.io`).
fn typed_json(v: Value, content_type: &str) -> Response {
    ([(header::CONTENT_TYPE, content_type.to_owned())], v.to_string()).into_response()
}

/// `details` of a Status as the API server fills it: `name` and `group` only when set.
fn details(name: Option<&str>, group: &str, kind: &str) -> Value {
    let mut d = serde_json::Map::new();
    if let Some(name) = name {
        d.insert("name".into(), json!(name));
    }
    if !group.is_empty() {
        d.insert("group".into(), json!(group));
    }
    d.insert("kind".into(), json!(kind));
    Value::Object(d)
}

fn not_found_path() -> Response {
    status(StatusCode::NOT_FOUND, "NotFound", "the server could not find the requested resource".into())
}

fn status(code: StatusCode, reason: &str, message: String) -> Response {
    status_with(code, reason, message, Value::Null)
}

fn status_with(code: StatusCode, reason: &str, message: String, details: Value) -> Response {
    let mut body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16(),
    });
    if !details.is_null() {
        body["details"] = details;
    }
    (code, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_follow_the_api_server() {
        assert_eq!(pluralize("Certificate"), "certificates");
        assert_eq!(pluralize("ClusterPolicy"), "clusterpolicies");
        assert_eq!(pluralize("Ingress"), "ingresses");
        assert_eq!(pluralize("Gateway"), "gateways");
    }

    fn cluster() -> Cluster {
        Cluster {
            objects: vec![
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b", "namespace": "shop", "uid": "u-b",
                    "creationTimestamp": "2026-11-20T09:00:00Z"}, "spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Running"}}),
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "shop", "uid": "u-a",
                    "creationTimestamp": "2026-11-20T09:30:00Z"}, "spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Pending"}}),
            ],
            now: "2026-11-20T10:00:00Z".parse().unwrap(),
            ..Cluster::default()
        }
    }

    async fn get(path: &str, accept: &str) -> (StatusCode, String, Value) {
        get_from(cluster(), path, accept).await
    }

    async fn get_from(cluster: Cluster, path: &str, accept: &str) -> (StatusCode, String, Value) {
        use tower::ServiceExt;
        let req = axum::http::Request::get(path).header(header::ACCEPT, accept).body(axum::body::Body::empty()).unwrap();
        let resp = router(cluster).oneshot(req).await.unwrap();
        let status = resp.status();
        let ct = resp.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        (status, ct, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    #[test]
    fn accept_negotiation_skips_what_the_fixture_cannot_serve() {
        assert_eq!(negotiate(None), Wanted::Plain);
        assert_eq!(negotiate(Some("application/json")), Wanted::Plain);
        assert_eq!(
            negotiate(Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")),
            Wanted::Table("v1")
        );
        assert_eq!(negotiate(Some("application/json;as=Table;v=v1beta1;g=meta.k8s.io")), Wanted::Table("v1beta1"));
        assert_eq!(
            negotiate(Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json")),
            Wanted::Plain
        );
        assert_eq!(negotiate(Some("application/vnd.kubernetes.protobuf,application/json")), Wanted::Plain);
        assert_eq!(
            negotiate(Some("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1")),
            Wanted::Metadata("v1")
        );
    }

    #[tokio::test]
    async fn aggregated_discovery_falls_back_to_the_legacy_form() {
        let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        let (code, ct, body) = get("/apis", accept).await;
        assert_eq!((code, ct.as_str()), (StatusCode::OK, "application/json"));
        assert_eq!(body["kind"], "APIGroupList");
        let (_, _, body) = get("/api", accept).await;
        assert_eq!(body["kind"], "APIVersions");
    }

    #[tokio::test]
    async fn lists_are_tables_only_when_asked() {
        let (_, ct, plain) = get("/api/v1/namespaces/shop/pods", "application/json").await;
        assert_eq!(ct, "application/json");
        assert_eq!(plain["kind"], "PodList");
        // Sorted by name, as etcd returns them.
        assert_eq!(plain["items"][0]["metadata"]["name"], "a");
        // Items of a built-in list carry no type fields; a single GET does.
        assert!(plain["items"][0].get("kind").is_none() && plain["items"][0].get("apiVersion").is_none());
        let (_, _, single) = get("/api/v1/namespaces/shop/pods/a", "application/json").await;
        assert_eq!((single["kind"].as_str(), single["apiVersion"].as_str()), (Some("Pod"), Some("v1")));

        let (_, ct, table) = get("/api/v1/pods?includeObject=Object", "application/json;as=Table;v=v1;g=meta.k8s.io").await;
        assert_eq!(ct, "application/json;as=Table;v=v1;g=meta.k8s.io");
        assert_eq!(table["kind"], "Table");
        assert_eq!(table["rows"][1]["cells"], json!(["b", "0/1", "Running", "0", "60m", "<none>", "<none>", "<none>", "<none>"]));
        assert_eq!(table["rows"][1]["object"]["kind"], "Pod");

        let (_, _, one) = get("/api/v1/namespaces/shop/pods/a", "application/json;as=Table;v=v1;g=meta.k8s.io").await;
        assert_eq!(one["rows"].as_array().unwrap().len(), 1);
        assert_eq!(one["rows"][0]["object"]["kind"], "PartialObjectMetadata");

        let (_, _, meta) = get("/api/v1/pods", "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1").await;
        assert_eq!(meta["kind"], "PartialObjectMetadataList");
        assert_eq!(meta["items"][1]["metadata"]["uid"], "u-b");

        let (_, _, page) = get("/api/v1/pods?limit=1", "application/json").await;
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        assert_eq!(page["metadata"]["continue"], "1");
        let (_, _, rest) = get("/api/v1/pods?limit=1&continue=1", "application/json").await;
        assert_eq!(rest["items"][0]["metadata"]["name"], "b");
        assert!(rest["metadata"].get("continue").is_none());
    }

    #[tokio::test]
    async fn custom_resources_keep_their_type_in_lists_and_the_switch_adds_it_to_built_ins() {
        let mut c = cluster();
        c.objects.push(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "shop"}}));
        let (_, _, widgets) = get_from(c.clone(), "/apis/example.com/v1/namespaces/shop/widgets", "application/json").await;
        assert_eq!(widgets["items"][0]["kind"], "Widget");
        assert_eq!(widgets["items"][0]["apiVersion"], "example.com/v1");
        c.typed_list_items = true;
        let (_, _, pods) = get_from(c, "/api/v1/namespaces/shop/pods", "application/json").await;
        assert_eq!((pods["items"][0]["kind"].as_str(), pods["items"][0]["apiVersion"].as_str()), (Some("Pod"), Some("v1")));
    }

    #[tokio::test]
    async fn both_event_groups_serve_every_event_in_their_own_shape() {
        let mut c = cluster();
        c.objects.push(json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "a.1", "namespace": "shop"},
            "involvedObject": {"kind": "Pod", "name": "a"}, "message": "Back-off", "reason": "BackOff", "count": 3,
            "source": {"component": "kubelet"}, "lastTimestamp": "2026-11-20T09:59:00Z"}));
        c.objects.push(json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "b.1", "namespace": "shop"},
            "regarding": {"kind": "Pod", "name": "b"}, "note": "Pulled", "reason": "Pulled", "reportingController": "kubelet",
            "deprecatedCount": 2, "eventTime": null}));
        let (_, _, core) = get_from(c.clone(), "/api/v1/namespaces/shop/events", "application/json").await;
        assert_eq!(core["items"][1]["involvedObject"]["name"], "b");
        assert_eq!((core["items"][1]["message"].as_str(), core["items"][1]["count"].as_u64()), (Some("Pulled"), Some(2)));
        assert_eq!(core["items"][1]["reportingComponent"], "kubelet");
        let (_, _, by_field) = get_from(c.clone(), "/api/v1/namespaces/shop/events?fieldSelector=involvedObject.name%3Db", "application/json").await;
        assert_eq!(by_field["items"].as_array().unwrap().len(), 1);
        let (_, _, events) = get_from(c.clone(), "/apis/events.k8s.io/v1/namespaces/shop/events", "application/json").await;
        assert_eq!(events["kind"], "EventList");
        assert_eq!(events["items"][0]["regarding"]["name"], "a");
        assert_eq!((events["items"][0]["note"].as_str(), events["items"][0]["deprecatedCount"].as_u64()), (Some("Back-off"), Some(3)));
        assert!(events["items"][0].get("message").is_none() && events["items"][0].get("kind").is_none());
        let (_, _, one) = get_from(c, "/apis/events.k8s.io/v1/namespaces/shop/events/a.1", "application/json").await;
        assert_eq!((one["apiVersion"].as_str(), one["deprecatedSource"]["component"].as_str()), (Some("events.k8s.io/v1"), Some("kubelet")));
    }

    #[tokio::test]
    async fn requests_are_recorded_with_their_accept_header() {
        use tower::ServiceExt;
        let log = RequestLog::default();
        let req = axum::http::Request::get("/api/v1/namespaces/shop/secrets?limit=5")
            .header(header::ACCEPT, "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1")
            .body(axum::body::Body::empty())
            .unwrap();
        recording_router(cluster(), log.clone()).oneshot(req).await.unwrap();
        assert_eq!(
            log.requests(),
            vec![Request {
                method: "GET".into(),
                path: "/api/v1/namespaces/shop/secrets".into(),
                query: "limit=5".into(),
                accept: "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1".into(),
            }]
        );
    }

    #[tokio::test]
    async fn unscheduled_pods_have_empty_logs_and_implicit_namespaces_an_age() {
        let (code, _, _) = get("/api/v1/namespaces/shop/pods/a/log", "*/*").await;
        assert_eq!(code, StatusCode::OK);
        let (_, _, ns) = get("/api/v1/namespaces/shop", "application/json").await;
        assert_eq!(ns["metadata"]["creationTimestamp"], "2026-11-20T09:00:00Z");
        let (code, _, missing) = get("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1", "application/json").await;
        assert_eq!(code, StatusCode::NOT_FOUND);
        assert_eq!(missing["message"], "leases.coordination.k8s.io \"n1\" not found");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail_lines("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(tail_lines("a\n", 5), "a\n");
    }
}
