//! The fixture cluster: a scenario served as a Kubernetes API (read paths only).
//!
//! Paths follow the real API server: `/api/v1/...`, `/apis/<group>/<version>/...`,
//! namespaced and cluster-scoped, list and get, `pods/<name>/log`, discovery,
//! metrics.k8s.io and SelfSubjectAccessReview. Errors are `Status` objects with the real
//! reasons and messages, so clients (kube-rs, kubectl) behave as against a cluster.

use crate::{
    load::Cluster,
    selector::{FieldSelector, LabelSelector},
};
use aetherius_core::command::{RESOURCE_KINDS, ResourceKind};
use axum::{
    Router,
    body::Bytes,
    extract::{Query, State},
    http::{Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use std::{collections::BTreeMap, net::SocketAddr, sync::Arc};
use tokio::net::TcpListener;

/// The identity the fixture cluster pretends the caller is, in 403 messages.
const CALLER: &str = "system:serviceaccount:aetherius:aetherius-reader";

/// The router serving `cluster`.
pub fn router(cluster: Cluster) -> Router {
    Router::new().fallback(handle).with_state(Arc::new(cluster))
}

/// Serves `cluster` on `addr` until the task is dropped; returns the bound address.
pub async fn serve(cluster: Cluster, addr: SocketAddr) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = router(cluster);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "fixture cluster stopped");
        }
    });
    Ok((local, task))
}

/// A kubeconfig pointing at a fixture cluster on `addr`, with context `cluster_id`.
pub fn kubeconfig(cluster_id: &str, addr: SocketAddr) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {cluster_id}\n  cluster:\n    server: http://{addr}\n\
         contexts:\n- name: {cluster_id}\n  context:\n    cluster: {cluster_id}\n    user: {cluster_id}\n    namespace: default\n\
         current-context: {cluster_id}\nusers:\n- name: {cluster_id}\n  user:\n    token: fixture-cluster-token\n"
    )
}

async fn handle(
    State(cluster): State<Arc<Cluster>>,
    method: Method,
    uri: Uri,
    Query(query): Query<BTreeMap<String, String>>,
    body: Bytes,
) -> Response {
    let path = uri.path().trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let api = Api { cluster: &cluster, query: &query };
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
            (None, _) => self.list(group, version, &kind, target.namespace),
        }
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
        if let Some(r) = RESOURCE_KINDS.iter().find(|r| r.group == group && r.plural == plural) {
            return Some(r.kind.into());
        }
        let api_version = if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") };
        self.cluster.objects.iter().find_map(|o| {
            let kind = o.get("kind")?.as_str()?;
            (o.get("apiVersion")?.as_str()? == api_version && pluralize(kind) == plural).then(|| kind.to_owned())
        })
    }

    fn namespaced(&self, group: &str, plural: &str) -> bool {
        if group == "metrics.k8s.io" {
            return plural == "pods";
        }
        match RESOURCE_KINDS.iter().find(|r| r.group == group && r.plural == plural) {
            Some(r) => r.namespaced,
            None => self.cluster.objects.iter().any(|o| o.pointer("/metadata/namespace").is_some()),
        }
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
        Some(status(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!("{subject} is forbidden: User \"{CALLER}\" cannot {verb} resource \"{resource}\" in API group \"{group}\" {scope}"),
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

    fn matching<'c>(&'c self, group: &str, kind: &str, namespace: Option<&str>) -> Result<Vec<&'c Value>, Response> {
        let labels = LabelSelector::parse(self.query.get("labelSelector").map(String::as_str).unwrap_or(""))
            .map_err(|e| status(StatusCode::BAD_REQUEST, "BadRequest", e.to_string()))?;
        let fields = FieldSelector::parse(self.query.get("fieldSelector").map(String::as_str).unwrap_or(""))
            .map_err(|e| status(StatusCode::BAD_REQUEST, "BadRequest", e.to_string()))?;
        let mut items: Vec<&Value> = if kind == "Namespace" {
            vec![]
        } else {
            self.source(group)
                .iter()
                .filter(|o| o.get("kind").and_then(Value::as_str) == Some(kind))
                .filter(|o| namespace.is_none_or(|ns| o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns)))
                .collect()
        };
        items.retain(|o| labels.matches(o) && fields.matches(o));
        Ok(items)
    }

    fn list(&self, group: &str, version: &str, kind: &str, namespace: Option<&str>) -> Response {
        let items: Vec<Value> = if kind == "Namespace" {
            self.namespaces()
        } else {
            match self.matching(group, kind, namespace) {
                Ok(items) => items.into_iter().cloned().collect(),
                Err(resp) => return resp,
            }
        };
        let api_version = if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") };
        let limit = self.query.get("limit").and_then(|l| l.parse::<usize>().ok()).filter(|l| *l > 0);
        let items: Vec<Value> = match limit {
            Some(l) => items.into_iter().take(l).collect(),
            None => items,
        };
        json_ok(json!({
            "kind": format!("{kind}List"),
            "apiVersion": api_version,
            "metadata": {"resourceVersion": "1"},
            "items": items,
        }))
    }

    fn get(&self, group: &str, _version: &str, kind: &str, plural: &str, namespace: Option<&str>, name: &str) -> Response {
        let found = if kind == "Namespace" {
            self.namespaces().into_iter().find(|n| n.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
        } else {
            let ns = if self.namespaced(group, plural) { namespace } else { None };
            self.source(group).iter().find(|o| {
                o.get("kind").and_then(Value::as_str) == Some(kind)
                    && o.pointer("/metadata/name").and_then(Value::as_str) == Some(name)
                    && ns.is_none_or(|ns| o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns))
            }).cloned()
        };
        match found {
            Some(obj) => json_ok(obj),
            None => status_with(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("{plural}{} \"{name}\" not found", if group.is_empty() { String::new() } else { format!(".{group}") }),
                json!({"name": name, "group": group, "kind": plural}),
            ),
        }
    }

    /// Explicit Namespace objects plus every namespace a namespaced object lives in.
    fn namespaces(&self) -> Vec<Value> {
        let mut by_name: BTreeMap<String, Value> = BTreeMap::new();
        for o in &self.cluster.objects {
            if o.get("kind").and_then(Value::as_str) == Some("Namespace") {
                if let Some(n) = o.pointer("/metadata/name").and_then(Value::as_str) {
                    by_name.insert(n.to_owned(), o.clone());
                }
            } else if let Some(ns) = o.pointer("/metadata/namespace").and_then(Value::as_str) {
                by_name.entry(ns.to_owned()).or_insert_with(|| json!({
                    "apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                    "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}
                }));
            }
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
            None if previous => {
                return status(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    format!("previous terminated container \"{container}\" in pod \"{pod_name}\" not found"),
                );
            }
            None => match waiting_reason(pod, container) {
                Some(reason) => {
                    return status(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        format!("container \"{container}\" in pod \"{pod_name}\" is waiting to start: {reason}"),
                    );
                }
                None => String::new(),
            },
        };
        let text = match self.query.get("tailLines").and_then(|t| t.parse::<usize>().ok()) {
            Some(n) => tail_lines(&text, n),
            None => text,
        };
        ([(header::CONTENT_TYPE, "text/plain")], text).into_response()
    }

    fn access_review(&self, body: &[u8]) -> Response {
        let Ok(mut review) = serde_json::from_slice::<Value>(body) else {
            return status(StatusCode::BAD_REQUEST, "BadRequest", "request body is not a SelfSubjectAccessReview".into());
        };
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
        let mut groups: BTreeMap<&str, &str> = BTreeMap::new();
        for r in RESOURCE_KINDS.iter().filter(|r| !r.group.is_empty()) {
            groups.insert(r.group, r.version);
        }
        groups.insert("metrics.k8s.io", "v1beta1");
        groups.insert("authorization.k8s.io", "v1");
        let groups: Vec<Value> = groups
            .into_iter()
            .map(|(g, v)| {
                let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
                json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
            })
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    fn resource_list(&self, group: &str, version: &str) -> Value {
        let read_verbs = json!(["get", "list", "watch"]);
        let mut resources: Vec<Value> = RESOURCE_KINDS
            .iter()
            .filter(|r| r.group == group && r.version == version)
            .map(|r: &ResourceKind| {
                let short: Vec<&str> = r.aliases.iter().copied().filter(|a| a.len() <= 6 && *a != r.kind.to_ascii_lowercase()).collect();
                json!({
                    "name": r.plural, "singularName": r.kind.to_ascii_lowercase(), "namespaced": r.namespaced,
                    "kind": r.kind, "verbs": read_verbs, "shortNames": short
                })
            })
            .collect();
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

fn waiting_reason(pod: &Value, container: &str) -> Option<String> {
    ["/status/initContainerStatuses", "/status/containerStatuses"]
        .iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(container))
        .and_then(|s| s.pointer("/state/waiting"))
        .map(|w| w.get("reason").and_then(Value::as_str).unwrap_or("ContainerCreating").to_owned())
        .or_else(|| {
            // No status at all: the pod was never scheduled or the container never created.
            let has_status = pod.pointer("/status/containerStatuses").is_some();
            (!has_status).then(|| "ContainerCreating".to_owned())
        })
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

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail_lines("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(tail_lines("a\n", 5), "a\n");
    }
}
