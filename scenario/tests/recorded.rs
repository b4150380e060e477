//! The fixture cluster's answers against answers real API servers gave (`recorded/`, each
//! with its source in `recorded/SOURCES.md`): not their values, their shape. Type fields on
//! list items, the keys of a `Status` and its `details`, a `Table`'s columns and rows, list
//! metadata. Where the two differ, the fixture is wrong.

use aetherius_scenario::{Scenario, server};
use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use serde_json::{Value, json};
use std::{collections::BTreeSet, path::PathBuf};
use tower::ServiceExt;

fn recorded(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("recorded").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn recorded_json(name: &str) -> Value {
    serde_json::from_str(&recorded(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// crashloop-missing-env's cluster (namespace `shop`), with one custom resource and a
/// forbidden resource added.
fn cluster() -> aetherius_scenario::Cluster {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/crashloop-missing-env");
    let mut c = Scenario::load(&dir).unwrap().cluster;
    c.objects.push(json!({"apiVersion": "example.com/v1", "kind": "FooBar", "metadata": {"name": "fb1", "namespace": "shop"}, "spec": {"prop1": "x"}}));
    // A pod whose container waits to start, and a pod of two containers.
    c.objects.push(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "starting", "namespace": "shop"},
        "spec": {"nodeName": "n1", "containers": [{"name": "app"}]},
        "status": {"phase": "Pending", "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}}));
    c.objects.push(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pair", "namespace": "shop"},
        "spec": {"nodeName": "n1", "containers": [{"name": "nginx"}, {"name": "sidecar"}]}, "status": {"phase": "Running"}}));
    c.forbidden = vec!["shop/configmaps".into()];
    c
}

async fn get(path: &str, accept: &str) -> (StatusCode, String, String) {
    let req = Request::get(path).header(header::ACCEPT, accept).body(Body::empty()).unwrap();
    let resp = server::router(cluster()).oneshot(req).await.unwrap();
    let code = resp.status();
    let ct = resp.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (code, ct, String::from_utf8(body.to_vec()).unwrap())
}

async fn get_json(path: &str, accept: &str) -> (StatusCode, Value) {
    let (code, _, body) = get(path, accept).await;
    (code, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}")))
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

fn type_fields(v: &Value) -> (bool, bool) {
    (v.get("kind").is_some(), v.get("apiVersion").is_some())
}

/// The same top-level keys, list metadata keys within the real ones, and items carrying
/// type fields exactly when the real ones do.
fn same_list_shape(real: &Value, fixture: &Value, what: &str) {
    assert_eq!(keys(real), keys(fixture), "{what}: top-level keys");
    assert!(keys(&fixture["metadata"]).is_subset(&keys(&real["metadata"]).union(&["continue".to_owned(), "remainingItemCount".to_owned()].into()).cloned().collect()), "{what}: list metadata {}", fixture["metadata"]);
    assert!(fixture["metadata"]["resourceVersion"].is_string(), "{what}: list resourceVersion");
    let (real_items, items) = (real["items"].as_array().unwrap(), fixture["items"].as_array().unwrap());
    assert!(!real_items.is_empty() && !items.is_empty(), "{what}: no items to compare");
    let real_types: BTreeSet<(bool, bool)> = real_items.iter().map(type_fields).collect();
    let types: BTreeSet<(bool, bool)> = items.iter().map(type_fields).collect();
    assert_eq!(real_types, types, "{what}: type fields on list items");
}

#[tokio::test]
async fn built_in_lists_carry_no_type_fields_on_items() {
    let (_, pods) = get_json("/api/v1/namespaces/shop/pods", "application/json").await;
    same_list_shape(&recorded_json("pod-list.json"), &pods, "PodList");
    let (_, deployments) = get_json("/apis/apps/v1/namespaces/shop/deployments", "application/json").await;
    same_list_shape(&recorded_json("deployment-list.json"), &deployments, "DeploymentList");
}

#[tokio::test]
async fn custom_resource_lists_keep_them() {
    let (_, foobars) = get_json("/apis/example.com/v1/namespaces/shop/foobars", "application/json").await;
    same_list_shape(&recorded_json("custom-resource-list.json"), &foobars, "custom resource list");
}

#[tokio::test]
async fn a_single_object_keeps_them() {
    let real = recorded_json("job-get.json");
    let (_, deployment) = get_json("/apis/apps/v1/namespaces/shop/deployments/checkout", "application/json").await;
    assert_eq!(type_fields(&real), (true, true));
    assert_eq!(type_fields(&deployment), (true, true), "{deployment}");
    assert_eq!(deployment["kind"], "Deployment");
}

/// A Status with the same keys, and `details` with the same keys, as the recorded one.
fn same_status_shape(real: &Value, fixture: &Value, code: u16, what: &str) {
    assert_eq!(keys(real), keys(fixture), "{what}: Status keys, fixture sent {fixture}");
    assert_eq!(keys(&real["details"]), keys(&fixture["details"]), "{what}: details keys, fixture sent {fixture}");
    for field in ["kind", "apiVersion", "status", "reason"] {
        assert_eq!(real[field], fixture[field], "{what}: {field}");
    }
    assert_eq!(fixture["code"], code);
    assert_eq!(fixture["metadata"], json!({}));
}

#[tokio::test]
async fn status_errors_have_the_real_fields() {
    let (code, missing) = get_json("/api/v1/namespaces/shop/pods/nope", "application/json").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    same_status_shape(&recorded_json("status-404-not-found.json"), &missing, 404, "404 of a core object");
    assert_eq!(missing["message"], "pods \"nope\" not found");

    let (code, denied) = get_json("/api/v1/namespaces/shop/configmaps", "application/json").await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    same_status_shape(&recorded_json("status-403-forbidden-list.json"), &denied, 403, "403 of a list");
    let message = denied["message"].as_str().unwrap();
    assert!(message.starts_with("configmaps is forbidden: User \"") && message.ends_with("cannot list resource \"configmaps\" in API group \"\" in the namespace \"shop\""), "{message}");

    // A log of a container that is waiting, and of a pod with two containers and none named.
    let (code, waiting) = get_json("/api/v1/namespaces/shop/pods/starting/log", "application/json").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let real = recorded_json("status-400-log-waiting.json");
    same_status_shape(&real, &waiting, 400, "400 of a waiting container's log");
    assert_eq!(waiting["message"], "container \"app\" in pod \"starting\" is waiting to start: ContainerCreating");
    let (code, unnamed) = get_json("/api/v1/namespaces/shop/pods/pair/log", "application/json").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    same_status_shape(&recorded_json("status-400-log-container-name.json"), &unnamed, 400, "400 of an unnamed container's log");
    assert_eq!(unnamed["message"], "a container name must be specified for pod pair, choose one of: [nginx sidecar]");

    // Every key the fixture puts in a Status is one a real Status has.
    let real_422 = recorded_json("status-422-invalid.json");
    assert!(keys(&missing).is_subset(&keys(&real_422)));
}

#[tokio::test]
async fn logs_are_plain_text() {
    let real = recorded("pod-log.txt");
    assert!(serde_json::from_str::<Value>(&real).is_err() && real.lines().count() > 10);
    let (code, ct, text) = get("/api/v1/namespaces/shop/pods/cart-66pctwh6q7-fq7mr/log?container=cart", "*/*").await;
    assert_eq!((code, ct.as_str()), (StatusCode::OK, "text/plain"));
    assert!(serde_json::from_str::<Value>(&text).is_err() && !text.is_empty(), "{text}");
}

#[tokio::test]
async fn tables_have_the_real_columns_and_rows() {
    let real = recorded_json("namespace-table.json");
    let (_, table) = get_json("/api/v1/namespaces?limit=500", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json").await;
    assert_eq!(keys(&real), keys(&table), "{table}");
    assert_eq!((&table["kind"], &table["apiVersion"]), (&real["kind"], &real["apiVersion"]));
    let columns = |t: &Value| t["columnDefinitions"].as_array().unwrap().clone();
    assert_eq!(columns(&real).len(), columns(&table).len());
    for (r, f) in columns(&real).iter().zip(columns(&table).iter()) {
        assert_eq!(keys(r), keys(f));
        // Same columns, types, formats, priorities and descriptions as the server prints namespaces.
        assert_eq!(r, f);
    }
    let (real_row, row) = (&real["rows"][0], &table["rows"][0]);
    assert_eq!(keys(real_row), keys(row));
    assert_eq!(keys(&real_row["object"]), keys(&row["object"]));
    assert_eq!((&row["object"]["kind"], &row["object"]["apiVersion"]), (&real_row["object"]["kind"], &real_row["object"]["apiVersion"]));
    assert_eq!(row["cells"].as_array().unwrap().len(), real_row["cells"].as_array().unwrap().len());
    assert!(keys(&table["metadata"]).is_subset(&["resourceVersion".to_owned(), "continue".to_owned(), "remainingItemCount".to_owned()].into()));
}

/// The lines of a watch body, each a `{"type","object"}` JSON object.
fn watch_lines(body: &str) -> Vec<Value> {
    assert!(body.ends_with('\n'), "a watch body is newline-terminated JSON lines");
    body.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

/// A watch line's shape: its keys, its type, and which keys its object's metadata has when
/// it is a BOOKMARK (only the version and the annotation).
fn watch_shape(line: &Value) -> (BTreeSet<String>, bool, bool) {
    let object = &line["object"];
    assert!(object["metadata"]["resourceVersion"].is_string(), "resourceVersion on every watched object: {line}");
    (keys(line), object.get("kind").is_some(), object.get("apiVersion").is_some())
}

#[tokio::test]
async fn watches_stream_typed_objects_as_a_real_server_does() {
    let real = watch_lines(&recorded("pod-watch.jsonl"));
    let real_streaming = watch_lines(&recorded("pod-watch-initial-events.jsonl"));
    let (code, ct, body) = get("/api/v1/namespaces/shop/events?watch=true&timeoutSeconds=0", "application/json").await;
    assert_eq!((code, ct.as_str()), (StatusCode::OK, "application/json"));
    let fixture = watch_lines(&body);
    assert!(!fixture.is_empty());
    let real_shapes: BTreeSet<_> = real.iter().map(watch_shape).collect();
    assert_eq!(fixture.iter().map(watch_shape).collect::<BTreeSet<_>>(), real_shapes, "a plain watch: ADDED lines of typed objects");
    assert!(fixture.iter().all(|l| l["type"] == "ADDED" && l["object"]["kind"] == "Event" && l["object"]["apiVersion"] == "v1"));

    // kube-rs' streaming list (InitialListStrategy::StreamingList) asks exactly as the recording did.
    let query = "allowWatchBookmarks=true&resourceVersion=0&resourceVersionMatch=NotOlderThan&sendInitialEvents=true&watch=true&timeoutSeconds=0";
    let (_, _, body) = get(&format!("/apis/events.k8s.io/v1/namespaces/shop/events?{query}"), "application/json").await;
    let fixture = watch_lines(&body);
    let (real_last, fixture_last) = (real_streaming.last().unwrap(), fixture.last().unwrap());
    assert_eq!((real_last["type"].as_str(), fixture_last["type"].as_str()), (Some("BOOKMARK"), Some("BOOKMARK")));
    assert_eq!(keys(&real_last["object"]["metadata"]), keys(&fixture_last["object"]["metadata"]), "bookmark metadata");
    assert_eq!(real_last["object"]["metadata"]["annotations"], fixture_last["object"]["metadata"]["annotations"]);
    assert_eq!(fixture_last["object"]["apiVersion"], "events.k8s.io/v1");
    assert!(fixture[..fixture.len() - 1].iter().all(|l| l["type"] == "ADDED" && l["object"].get("regarding").is_some()));

    // From the version a list answered, nothing is newer in a still cluster: the stream ends
    // empty at its timeout, as a real one does.
    let (_, list) = get_json("/api/v1/namespaces/shop/events", "application/json").await;
    let rv = list["metadata"]["resourceVersion"].as_str().unwrap();
    let (code, _, body) = get(&format!("/api/v1/namespaces/shop/events?watch=true&resourceVersion={rv}&timeoutSeconds=1"), "application/json").await;
    assert_eq!((code, body.as_str()), (StatusCode::OK, ""));
    let older: u64 = rv.parse::<u64>().unwrap() - 1;
    let (_, _, body) = get(&format!("/api/v1/namespaces/shop/events?watch=true&resourceVersion={older}&timeoutSeconds=0"), "application/json").await;
    assert_eq!(watch_lines(&body).len(), 1, "only the newest event is newer than the version before it");
}
