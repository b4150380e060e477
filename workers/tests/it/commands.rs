//! `GET /tools` and `POST /commands/validate`: the same parser and layers as execution.

use crate::support::{api, call, config};
use serde_json::json;
use std::path::PathBuf;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_and_command_validation_over_http() {
    let mut config = config(&[("prod", PathBuf::from("/nonexistent"))]);
    config.execution.clusters.get_mut("prod").unwrap().namespaces = vec!["shop".into()];
    config.api.default_cluster = "prod".into();
    let (app, _state) = api(&config).await;

    let (status, tools) = call(&app, "GET", "/tools", vec![]).await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = tools["tools"].as_array().unwrap().iter().map(|t| t["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["get", "describe", "logs", "events", "top", "rollout-history"]);
    assert!(tools["resources"].as_array().unwrap().iter().any(|r| r["resource"] == "horizontalpodautoscalers"));

    let validate = |body: serde_json::Value| {
        let app = app.clone();
        async move { call(&app, "POST", "/commands/validate", serde_json::to_vec(&body).unwrap()).await }
    };
    let (status, ok) = validate(json!({"command": "kubectl logs deploy/checkout -n shop --previous --tail=200"})).await;
    assert_eq!(status, 200, "{ok}");
    assert_eq!(ok["allowed"], true, "{ok}");
    assert_eq!(ok["command"]["args"], json!(["deployments", "checkout"]));

    for (line, layer) in [
        ("kubectl delete pod x -n shop", 2),
        ("kubectl exec -it x -n shop -- sh", 2),
        ("kubectl get secret db -n shop -o yaml", 2),
        ("kubectl get pods -n shop; rm -rf /", 3),
        ("kubectl get pods -n kube-system", 5),
        ("kubectl logs x -n shop --tail=99999999", 3),
        ("helm ls", 1),
    ] {
        let (status, v) = validate(json!({"command": line})).await;
        assert_eq!(status, 200, "{line}: {v}");
        assert_eq!(v["allowed"], false, "{line}: {v}");
        assert_eq!(v["rejection"]["layer"], layer, "{line}: {v}");
        assert!(!v["rejection"]["reason"].as_str().unwrap().is_empty());
    }

    let (_, structured) = validate(json!({"tool": "kubectl", "action": "get", "args": ["pods"], "namespace": "shop"})).await;
    assert_eq!(structured["allowed"], true, "{structured}");

    let (status, err) = validate(json!({"cmd": "kubectl get pods"})).await;
    assert_eq!((status, err["error"]["code"].as_str()), (422, Some("invalid_payload")), "{err}");
    let (status, err) = validate(json!({})).await;
    assert_eq!(status, 422, "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("command"), "{err}");
    let (status, err) = call(&app, "POST", "/commands/validate", b"{".to_vec()).await;
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("malformed_json")), "{err}");
}
