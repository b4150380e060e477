//! Cluster credentials from Vault, end to end: a fixture cluster (which only answers requests
//! bearing the expected token), its credentials stored in or issued by Vault, a client built
//! through the Vault provider, pods listed.
//!
//! - `real_vault_*`: against the real Vault-compatible server `cargo xtask up` runs (rvault,
//!   KV version 1, token and AppRole auth). They need AETHERIUS_TEST_VAULT_ADDR and
//!   AETHERIUS_TEST_VAULT_TOKEN (a root token) and fail without them: `cargo xtask test`
//!   always provides them.
//! - `*_recorded_vault_response_*`: rvault serves neither KV version 2 nor the Kubernetes
//!   secrets engine, so those paths run against response bodies recorded from HashiCorp
//!   Vault, served by a small local server.

use aetherius_activities::execution::{
    ClusterOptions, Clusters, ExecutionOptions,
    credentials::{
        CredentialsOptions, ManualClock, VaultAuth, VaultKubernetesOptions, VaultKvOptions,
        VaultOptions,
    },
};
use aetherius_scenario::{Scenario, server};
use axum::{
    Json, Router,
    body::Bytes,
    extract::{Request, State},
    http::{HeaderMap, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::{Value, json};
use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

const CLUSTER: &str = "prod";
const NAMESPACE: &str = "shop";
/// The kubeconfig `server::kubeconfig` writes carries this token.
const FIXTURE_TOKEN: &str = "fixture-cluster-token";

// ---------------------------------------------------------------------------------------
// The fixture cluster, behind a bearer-token check
// ---------------------------------------------------------------------------------------

/// The token the fixture cluster accepts (changeable, to model rotation).
type Accepted = Arc<Mutex<String>>;

async fn require_bearer(State(accepted): State<Accepted>, req: Request, next: Next) -> Response {
    let expected = format!("Bearer {}", accepted.lock().unwrap());
    let sent = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if sent != expected {
        let status = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Unauthorized", "reason": "Unauthorized", "code": 401
        });
        return (StatusCode::UNAUTHORIZED, Json(status)).into_response();
    }
    next.run(req).await
}

/// Serves scenario crashloop-missing-env, accepting only `token`.
async fn fixture_cluster(token: &str) -> (SocketAddr, Accepted) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/crashloop-missing-env");
    let scenario = Scenario::load(&dir).unwrap();
    let accepted: Accepted = Arc::new(Mutex::new(token.to_owned()));
    let app = server::router(scenario.cluster).layer(middleware::from_fn_with_state(
        accepted.clone(),
        require_bearer,
    ));
    let addr = serve(app).await;
    (addr, accepted)
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Pod names in the fixture's namespace, through the cluster's client.
async fn list_pods(clusters: &Clusters) -> Result<Vec<String>, String> {
    let client = clusters.client(CLUSTER).await.map_err(|e| e.to_string())?;
    let pods = Api::<Pod>::namespaced(client, NAMESPACE)
        .list(&ListParams::default())
        .await
        .map_err(|e| e.to_string())?;
    Ok(pods
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect())
}

/// The error `client` fails with.
async fn client_error(clusters: &Clusters) -> String {
    match clusters.client(CLUSTER).await {
        Ok(_) => panic!("expected no client"),
        Err(e) => e.to_string(),
    }
}

fn options(credentials: CredentialsOptions) -> ExecutionOptions {
    let mut options = ExecutionOptions::default();
    options.clusters.insert(
        CLUSTER.into(),
        ClusterOptions {
            credentials: Some(credentials),
            ..Default::default()
        },
    );
    options
}

fn kv(vault: VaultOptions, mount: &str, path: &str, kv_version: u8) -> VaultKvOptions {
    serde_json::from_value(json!({ "path": path, "mount": mount, "kv_version": kv_version }))
        .map(|kv: VaultKvOptions| VaultKvOptions {
            vault: Some(vault),
            ..kv
        })
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// The real Vault-compatible server
// ---------------------------------------------------------------------------------------

struct RealVault {
    addr: String,
    root_token: String,
}

fn real_vault() -> RealVault {
    let var = |name: &str| {
        std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| {
            panic!(
                "{name} is not set: these tests run against a real Vault-compatible server. \
                 Run them through `cargo xtask test`, or start it with `cargo xtask up` and export \
                 AETHERIUS_TEST_VAULT_ADDR=http://127.0.0.1:8200 and AETHERIUS_TEST_VAULT_TOKEN=<root_token \
                 from .aetherius/vault/init.json>"
            )
        })
    };
    RealVault {
        addr: var("AETHERIUS_TEST_VAULT_ADDR"),
        root_token: var("AETHERIUS_TEST_VAULT_TOKEN"),
    }
}

impl RealVault {
    /// The provider's connection, logging in with the root token from the environment.
    fn token_auth(&self) -> VaultOptions {
        VaultOptions {
            address: self.addr.clone(),
            auth: VaultAuth::Token {
                token_env: "AETHERIUS_TEST_VAULT_TOKEN".into(),
            },
            ca_file: None,
            namespace: None,
            timeout_secs: 10,
        }
    }

    /// An administrative call with the root token (blocking; the tests run multi-threaded).
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, ureq::Error> {
        let url = format!("{}/v1/{path}", self.addr);
        let mut response = match (method, body) {
            ("GET", _) => ureq::get(&url)
                .header("X-Vault-Token", &self.root_token)
                .call()?,
            ("POST", Some(body)) => ureq::post(&url)
                .header("X-Vault-Token", &self.root_token)
                .send_json(body)?,
            ("POST", None) => ureq::post(&url)
                .header("X-Vault-Token", &self.root_token)
                .send_empty()?,
            other => panic!("unsupported {other:?}"),
        };
        let text = response.body_mut().read_to_string()?;
        Ok(if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        })
    }

    /// Writes a KV v1 secret at `secret/<path>`.
    fn put_secret(&self, path: &str, fields: Value) {
        self.call("POST", &format!("secret/{path}"), Some(fields))
            .unwrap_or_else(|e| panic!("writing secret/{path}: {e}"));
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test(flavor = "multi_thread")]
async fn real_vault_kv1_kubeconfig_with_token_auth_lists_pods() {
    let vault = real_vault();
    let (addr, _) = fixture_cluster(FIXTURE_TOKEN).await;
    let path = format!("aetherius-test/{}", unique("kubeconfig"));
    vault.put_secret(
        &path,
        json!({ "kubeconfig": server::kubeconfig(CLUSTER, addr) }),
    );

    let clusters = Clusters::new(options(CredentialsOptions::VaultKv(kv(
        vault.token_auth(),
        "secret",
        &path,
        1,
    ))));
    let pods = list_pods(&clusters).await.unwrap();
    assert!(
        !pods.is_empty(),
        "the fixture cluster has pods in {NAMESPACE}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn real_vault_kv1_token_fields_are_refreshed_after_the_interval() {
    let vault = real_vault();
    let (addr, accepted) = fixture_cluster("token-one").await;
    let path = format!("aetherius-test/{}", unique("token"));
    vault.put_secret(
        &path,
        json!({ "token": "token-one", "server": format!("http://{addr}") }),
    );

    let clock = Arc::new(ManualClock::default());
    let mut provider = kv(vault.token_auth(), "secret", &path, 1);
    provider.refresh_secs = 300;
    let clusters = Clusters::with_clock(
        options(CredentialsOptions::VaultKv(provider)),
        clock.clone(),
    );
    assert!(!list_pods(&clusters).await.unwrap().is_empty());

    // The token rotates in Vault and in the cluster.
    vault.put_secret(
        &path,
        json!({ "token": "token-two", "server": format!("http://{addr}") }),
    );
    *accepted.lock().unwrap() = "token-two".into();
    // Within the refresh interval the cached client (old token) is used: the cluster refuses it.
    clock.advance(Duration::from_secs(299));
    let refused = list_pods(&clusters).await.unwrap_err();
    assert!(
        refused.contains("401") || refused.contains("Unauthorized"),
        "{refused}"
    );
    assert!(
        !refused.contains("token-one"),
        "an error must not carry the token: {refused}"
    );
    // Past it, the secret is read again.
    clock.advance(Duration::from_secs(1));
    assert!(!list_pods(&clusters).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn real_vault_errors_name_the_secret_never_the_token() {
    let vault = real_vault();
    let path = format!("aetherius-test/{}", unique("missing"));
    let clusters = Clusters::new(options(CredentialsOptions::VaultKv(kv(
        vault.token_auth(),
        "secret",
        &path,
        1,
    ))));
    let missing = client_error(&clusters).await;
    assert!(
        missing.contains(&path) && missing.contains("404"),
        "{missing}"
    );
    assert!(!missing.contains(&vault.root_token));

    // A secret without the configured fields.
    vault.put_secret(&path, json!({ "unrelated": "value" }));
    let clusters = Clusters::new(options(CredentialsOptions::VaultKv(kv(
        vault.token_auth(),
        "secret",
        &path,
        1,
    ))));
    let no_fields = client_error(&clusters).await;
    assert!(no_fields.contains("neither field"), "{no_fields}");

    // A token Vault does not know: the variable's value is never echoed.
    let mut wrong = vault.token_auth();
    wrong.auth = VaultAuth::Token {
        token_env: "CARGO_PKG_NAME".into(),
    };
    let clusters = Clusters::new(options(CredentialsOptions::VaultKv(kv(
        wrong, "secret", &path, 1,
    ))));
    let denied = client_error(&clusters).await;
    assert!(denied.contains("403"), "{denied}");
    assert!(!denied.contains(env!("CARGO_PKG_NAME")), "{denied}");
}


/// AppRole end to end. The role id and secret id can only reach the provider through the
/// environment (the process's own environment cannot be changed safely), so the provider
/// runs in a child process of this test binary with them set and the root token removed.
#[tokio::test(flavor = "multi_thread")]
async fn real_vault_kv1_kubeconfig_with_approle_lists_pods() {
    let vault = real_vault();
    let mount = unique("approle");
    vault
        .call(
            "POST",
            &format!("sys/auth/{mount}"),
            Some(json!({ "type": "approle" })),
        )
        .expect("enabling AppRole");
    vault
        .call(
            "POST",
            &format!("auth/{mount}/role/aetherius"),
            Some(json!({ "token_ttl": "1h", "token_policies": ["default"] })),
        )
        .expect("creating the role");
    let role_id = vault
        .call("GET", &format!("auth/{mount}/role/aetherius/role-id"), None)
        .unwrap()["data"]["role_id"]
        .as_str()
        .expect("role_id")
        .to_owned();
    let secret_id = vault
        .call(
            "POST",
            &format!("auth/{mount}/role/aetherius/secret-id"),
            None,
        )
        .unwrap()["data"]["secret_id"]
        .as_str()
        .expect("secret_id")
        .to_owned();

    let (addr, _) = fixture_cluster(FIXTURE_TOKEN).await;
    let path = format!("aetherius-test/{}", unique("approle-kubeconfig"));
    vault.put_secret(
        &path,
        json!({ "kubeconfig": server::kubeconfig(CLUSTER, addr) }),
    );

    // The role id and secret id as a Kubernetes Secret volume would mount them; the
    // provider logs in with them alone (no token variable is consulted for AppRole).
    let dir = tempfile::tempdir().unwrap();
    let (role_file, secret_file) = (dir.path().join("role-id"), dir.path().join("secret-id"));
    std::fs::write(&role_file, format!("{role_id}\n")).unwrap();
    std::fs::write(&secret_file, &secret_id).unwrap();
    let approle = VaultOptions {
        address: std::env::var("AETHERIUS_TEST_VAULT_ADDR").unwrap(),
        auth: VaultAuth::Approle {
            mount: mount.clone(),
            role_id_env: "AETHERIUS_UNSET_ROLE_ID".into(),
            secret_id_env: "AETHERIUS_UNSET_SECRET_ID".into(),
            role_id_file: Some(role_file),
            secret_id_file: Some(secret_file.clone()),
        },
        ca_file: None,
        namespace: None,
        timeout_secs: 10,
    };
    let clusters = Clusters::new(options(CredentialsOptions::VaultKv(kv(approle.clone(), "secret", &path, 1))));
    let pods = list_pods(&clusters).await.unwrap();
    assert!(!pods.is_empty());

    // A wrong secret id is refused by Vault, and the error does not quote it.
    std::fs::write(&secret_file, "not-the-secret-id").unwrap();
    let clusters = Clusters::new(options(CredentialsOptions::VaultKv(kv(approle, "secret", &path, 1))));
    let err = list_pods(&clusters).await.unwrap_err();
    assert!(!err.contains("not-the-secret-id"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Recorded HashiCorp Vault responses (KV v2, Kubernetes secrets engine)
// ---------------------------------------------------------------------------------------

/// `GET /v1/secret/data/clusters/prod` on Vault 1.15 (KV v2); the kubeconfig is put in by the
/// test, pointing at its fixture cluster.
const KV2_READ: &str = r#"{
  "request_id": "2c7b1a5e-6a0e-1a54-6c9b-5f5e3b6f8f43",
  "lease_id": "",
  "renewable": false,
  "lease_duration": 0,
  "data": {
    "data": {
      "kubeconfig": "<replaced by the test>"
    },
    "metadata": {
      "created_time": "2025-03-18T09:12:44.512344Z",
      "custom_metadata": null,
      "deletion_time": "",
      "destroyed": false,
      "version": 3
    }
  },
  "wrap_info": null,
  "warnings": null,
  "auth": null,
  "mount_type": "kv"
}"#;

/// `POST /v1/kubernetes/creds/aetherius-reader` on Vault 1.15 (Kubernetes secrets engine).
const KUBERNETES_CREDS: &str = r#"{
  "request_id": "8d2f0c8e-0b55-5a0d-98f5-33d1c6e4d1b2",
  "lease_id": "kubernetes/creds/aetherius-reader/Xq3lYV0o2PpT9bq1VFQKkq4M",
  "renewable": false,
  "lease_duration": 600,
  "data": {
    "service_account_name": "v-token-aetherius-reader-1742289164-9mjzqk0e2ptdtnbjkcnxlyqs",
    "service_account_namespace": "shop",
    "service_account_token": "eyJhbGciOiJSUzI1NiIsImtpZCI6IkJzSVVfc2x6a3lqNWZQZ2JqU0xaV0tGM1VfNnhSRzN2X2tqX0xjcFZxU0UifQ.eyJhdWQiOlsiaHR0cHM6Ly9rdWJlcm5ldGVzLmRlZmF1bHQuc3ZjLmNsdXN0ZXIubG9jYWwiXSwiZXhwIjoxNzQyMjg5NzY0LCJpYXQiOjE3NDIyODkxNjQsImlzcyI6Imh0dHBzOi8va3ViZXJuZXRlcy5kZWZhdWx0LnN2Yy5jbHVzdGVyLmxvY2FsIiwia3ViZXJuZXRlcy5pbyI6eyJuYW1lc3BhY2UiOiJzaG9wIiwic2VydmljZWFjY291bnQiOnsibmFtZSI6InYtdG9rZW4tYWV0aGVyaXVzLXJlYWRlci0xNzQyMjg5MTY0LTltanpxazBlMnB0ZHRuYmprY254bHlxcyJ9fSwibmJmIjoxNzQyMjg5MTY0LCJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6c2hvcDp2LXRva2VuLWFldGhlcml1cy1yZWFkZXItMTc0MjI4OTE2NC05bWp6cWswZTJwdGR0bmJqa2NueGx5cXMifQ.c2lnbmF0dXJl"
  },
  "wrap_info": null,
  "warnings": null,
  "auth": null,
  "mount_type": "kubernetes"
}"#;

/// Vault's answer to a token without the policy.
const PERMISSION_DENIED: &str = r#"{"errors":["1 error occurred:\n\t* permission denied\n\n"]}"#;

/// A Vault token the test process surely has in its environment (cargo sets it): the
/// recorded server checks that exactly this value is sent as X-Vault-Token.
const TOKEN_ENV: &str = "CARGO_PKG_NAME";

/// What the recorded Vault saw.
#[derive(Default)]
struct Seen {
    requests: Vec<(String, Value)>,
}

#[derive(Clone)]
struct Recorded {
    body: Arc<String>,
    status: StatusCode,
    seen: Arc<Mutex<Seen>>,
}

async fn recorded(
    State(r): State<Recorded>,
    headers: HeaderMap,
    req: axum::http::Uri,
    body: Bytes,
) -> Response {
    let token = headers
        .get("x-vault-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if token != env!("CARGO_PKG_NAME") {
        return (StatusCode::FORBIDDEN, PERMISSION_DENIED).into_response();
    }
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    r.seen
        .lock()
        .unwrap()
        .requests
        .push((req.path().to_owned(), body));
    (
        r.status,
        [("content-type", "application/json")],
        r.body.as_str().to_owned(),
    )
        .into_response()
}

/// A Vault answering `route` with `body` (and anything else with 404).
async fn recorded_vault(
    method: &str,
    route: &str,
    status: StatusCode,
    body: String,
) -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let state = Recorded {
        body: Arc::new(body),
        status,
        seen: seen.clone(),
    };
    let handler = match method {
        "GET" => get(recorded),
        _ => post(recorded),
    };
    let app = Router::new().route(route, handler).with_state(state);
    (format!("http://{}", serve(app).await), seen)
}

fn recorded_vault_options(address: String) -> VaultOptions {
    VaultOptions {
        address,
        auth: VaultAuth::Token {
            token_env: TOKEN_ENV.into(),
        },
        ca_file: None,
        namespace: None,
        timeout_secs: 10,
    }
}

#[tokio::test]
async fn kv2_recorded_vault_response_kubeconfig_lists_pods() {
    let (addr, _) = fixture_cluster(FIXTURE_TOKEN).await;
    let mut body: Value = serde_json::from_str(KV2_READ).unwrap();
    body["data"]["data"]["kubeconfig"] = json!(server::kubeconfig(CLUSTER, addr));
    let (vault, seen) = recorded_vault(
        "GET",
        "/v1/secret/data/clusters/prod",
        StatusCode::OK,
        body.to_string(),
    )
    .await;

    let provider = kv(recorded_vault_options(vault), "secret", "clusters/prod", 2);
    let clusters = Clusters::new(options(CredentialsOptions::VaultKv(provider)));
    assert!(!list_pods(&clusters).await.unwrap().is_empty());
    assert!(!list_pods(&clusters).await.unwrap().is_empty());
    assert_eq!(
        seen.lock().unwrap().requests.len(),
        1,
        "the second call used the cached client"
    );
}

#[tokio::test]
async fn kv2_recorded_vault_response_token_server_and_ca_fields() {
    let (addr, _) = fixture_cluster("kv2-bearer").await;
    let mut body: Value = serde_json::from_str(KV2_READ).unwrap();
    body["data"]["data"] = json!({ "token": "kv2-bearer", "server": format!("http://{addr}") });
    let (vault, _) = recorded_vault(
        "GET",
        "/v1/kv/data/teams/sre/prod",
        StatusCode::OK,
        body.to_string(),
    )
    .await;
    let provider = kv(recorded_vault_options(vault), "kv", "teams/sre/prod", 2);
    let clusters = Clusters::new(options(CredentialsOptions::VaultKv(provider)));
    assert!(!list_pods(&clusters).await.unwrap().is_empty());
}

#[tokio::test]
async fn kv2_recorded_vault_response_permission_denied_is_reported_without_secrets() {
    let (vault, _) = recorded_vault(
        "GET",
        "/v1/secret/data/clusters/prod",
        StatusCode::FORBIDDEN,
        PERMISSION_DENIED.into(),
    )
    .await;
    let provider = kv(recorded_vault_options(vault), "secret", "clusters/prod", 2);
    let clusters = Clusters::new(options(CredentialsOptions::VaultKv(provider)));
    let err = client_error(&clusters).await;
    assert!(
        err.contains("status 403: permission denied") && err.contains("secret/clusters/prod"),
        "{err}"
    );
    assert!(!err.contains(env!("CARGO_PKG_NAME")), "{err}");
}

fn kubernetes_provider(vault: String, server: String) -> VaultKubernetesOptions {
    VaultKubernetesOptions {
        vault: Some(recorded_vault_options(vault)),
        mount: "kubernetes".into(),
        role: "aetherius-reader".into(),
        kubernetes_namespace: NAMESPACE.into(),
        ttl_secs: Some(600),
        server,
        ca_file: None,
    }
}

#[tokio::test]
async fn kubernetes_engine_recorded_vault_response_token_lists_pods_and_is_renewed_before_its_lease_ends()
 {
    let recorded: Value = serde_json::from_str(KUBERNETES_CREDS).unwrap();
    let token = recorded["data"]["service_account_token"].as_str().unwrap();
    let (addr, _) = fixture_cluster(token).await;
    let (vault, seen) = recorded_vault(
        "POST",
        "/v1/kubernetes/creds/aetherius-reader",
        StatusCode::OK,
        KUBERNETES_CREDS.into(),
    )
    .await;

    let clock = Arc::new(ManualClock::default());
    let provider = kubernetes_provider(vault, format!("http://{addr}"));
    let clusters = Clusters::with_clock(
        options(CredentialsOptions::VaultKubernetes(provider)),
        clock.clone(),
    );
    assert!(!list_pods(&clusters).await.unwrap().is_empty());
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.requests.len(), 1);
        let (path, body) = &seen.requests[0];
        assert_eq!(path, "/v1/kubernetes/creds/aetherius-reader");
        assert_eq!(
            body,
            &json!({ "kubernetes_namespace": "shop", "ttl": "600s" })
        );
    }
    // Lease 600 s, margin 60 s: cached until 540 s after the request.
    clock.advance(Duration::from_secs(539));
    assert!(!list_pods(&clusters).await.unwrap().is_empty());
    assert_eq!(seen.lock().unwrap().requests.len(), 1);
    clock.advance(Duration::from_secs(1));
    assert!(!list_pods(&clusters).await.unwrap().is_empty());
    assert_eq!(
        seen.lock().unwrap().requests.len(),
        2,
        "renewed 60 s before the lease ends"
    );
}

#[tokio::test]
async fn kubernetes_engine_recorded_vault_response_concurrent_callers_share_one_request() {
    let recorded: Value = serde_json::from_str(KUBERNETES_CREDS).unwrap();
    let (addr, _) =
        fixture_cluster(recorded["data"]["service_account_token"].as_str().unwrap()).await;
    let (vault, seen) = recorded_vault(
        "POST",
        "/v1/kubernetes/creds/aetherius-reader",
        StatusCode::OK,
        KUBERNETES_CREDS.into(),
    )
    .await;
    let clusters = Clusters::new(options(CredentialsOptions::VaultKubernetes(
        kubernetes_provider(vault, format!("http://{addr}")),
    )));
    let results = futures::future::join_all((0..8).map(|_| list_pods(&clusters))).await;
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_ok_and(|pods| !pods.is_empty())),
        "{results:?}"
    );
    assert_eq!(seen.lock().unwrap().requests.len(), 1);
}
