//! Notifications: Slack Block Kit and a signed webhook received by a local receiver (their
//! URL and secret read from files, as mounted Secrets), a failing channel isolated from the
//! good ones and from the report, the repeat window against a re-fired alert, and an email
//! through a real SMTP server.
//!
//! Report workers with other channels would send these diagnoses elsewhere (and other tests'
//! diagnoses here), so these tests run in their own namespace
//! (`AETHERIUS_TEST_NOTIFY_NAMESPACE`), one at a time.

use crate::support::{all_pools, api, call, fixture_cluster, payload, unique_alert};
use aetherius_workers::config::Config;
use aetherius_activities::notify::{ChannelOptions, SmtpTls};
use aetherius_core::notify::ChannelKind;
use aetherius_workers::pools;
use axum::{extract::State, http::HeaderMap, response::IntoResponse, routing::post};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, atomic::{AtomicU32, Ordering}};
use std::time::{Duration, Instant};

/// One notification test at a time: each runs report workers with its own channels.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn config(clusters: &[(&str, PathBuf)]) -> Config {
    let mut c = crate::support::config(clusters);
    c.temporal.namespace = std::env::var("AETHERIUS_TEST_NOTIFY_NAMESPACE").expect("AETHERIUS_TEST_NOTIFY_NAMESPACE");
    c.api.temporal_namespace = c.temporal.namespace.clone();
    c
}

#[derive(Default)]
struct Received {
    good: Mutex<Vec<(String, Vec<u8>)>>,
    slack: Mutex<Vec<Value>>,
    broken: AtomicU32,
}

pub(crate) fn channel(kind: ChannelKind) -> ChannelOptions {
    ChannelOptions {
        kind,
        url_env: None,
        url_file: None,
        url: None,
        secret_env: None,
        secret_file: None,
        smtp_host: None,
        smtp_port: 25,
        smtp_tls: SmtpTls::None,
        smtp_username_env: None,
        smtp_username_file: None,
        smtp_password_env: None,
        smtp_password_file: None,
        from: None,
        to: vec![],
        max_attempts: 3,
        initial_interval_ms: 100,
        max_interval_ms: 200,
        timeout_secs: 2,
    }
}

fn webhook(url: String, secret_file: Option<PathBuf>) -> ChannelOptions {
    ChannelOptions { url: Some(url), secret_file, ..channel(ChannelKind::Webhook) }
}

/// The task once it completed and all `n` deliveries settled, deliveries sorted by channel.
pub(crate) async fn deliveries_settled(app: &axum::Router, id: &str, n: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, body) = call(app, "GET", &format!("/tasks/{id}"), vec![]).await;
        assert_eq!(status, 200, "{body}");
        let settled = body["status"] == "completed"
            && body["deliveries"].as_array().is_some_and(|d| d.len() == n && d.iter().all(|x| matches!(x["status"].as_str(), Some("sent" | "failed" | "suppressed"))));
        if settled {
            let mut body = body;
            body["deliveries"].as_array_mut().unwrap().sort_by(|a, b| a["channel"].as_str().cmp(&b["channel"].as_str()));
            return body;
        }
        assert!(Instant::now() < deadline, "deliveries of {id} not settled after 90 s: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_channel_fails_alone_and_a_refired_alert_is_not_notified_twice() {
    let _one = ONE_AT_A_TIME.lock().await;
    let received = Arc::new(Received::default());
    let receiver = axum::Router::new()
        .route("/good", post(|State(r): State<Arc<Received>>, headers: HeaderMap, body: axum::body::Bytes| async move {
            let sig = headers.get("x-aetherius-signature").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            r.good.lock().unwrap().push((sig, body.to_vec()));
            "ok"
        }))
        .route("/slack", post(|State(r): State<Arc<Received>>, axum::Json(v): axum::Json<Value>| async move {
            r.slack.lock().unwrap().push(v);
            "ok"
        }))
        .route("/broken", post(|State(r): State<Arc<Received>>| async move {
            r.broken.fetch_add(1, Ordering::SeqCst);
            (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down")
        }))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });

    let tmp = tempfile::tempdir().unwrap();
    let (cluster, kubeconfig) = fixture_cluster("crashloop-missing-env", tmp.path()).await;
    let mut config = config(&[(cluster.as_str(), kubeconfig)]);
    // Secrets as a mounted Kubernetes Secret: one file each, ending in a newline.
    let secret = format!("whsec-{}", uuid::Uuid::new_v4());
    std::fs::write(tmp.path().join("webhook-secret"), format!("{secret}\n")).unwrap();
    std::fs::write(tmp.path().join("slack-url"), format!("http://{addr}/slack\n")).unwrap();
    config.notifications.public_base_url = Some("https://aetherius.test".into());
    config.notifications.channels.insert("good".into(), webhook(format!("http://{addr}/good"), Some(tmp.path().join("webhook-secret"))));
    config.notifications.channels.insert("slack".into(), ChannelOptions { url_file: Some(tmp.path().join("slack-url")), ..channel(ChannelKind::Slack) });
    config.notifications.channels.insert("broken".into(), webhook(format!("http://{addr}/broken"), None));
    let (app, state) = api(&config).await;
    let (_runtime, workers) = all_pools(&config).await;
    // The audit trail's notification rows of a diagnosis: (channel, outcome), by channel.
    let audited = |id: String| {
        let pool = state.pool.clone();
        async move {
            sqlx::query_as::<_, (String, String)>(
                "SELECT actor, decision FROM audit_logs WHERE workflow_id = $1 AND kind = 'notification' ORDER BY actor",
            )
            .bind(id)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };

    let body = async {
        let mut alert = unique_alert("crashloop-missing-env");
        // A label that tries to page the whole Slack channel.
        alert["labels"]["severity"] = json!("warning <!channel>");
        let (status, answer) = call(&app, "POST", "/webhook/alertmanager", serde_json::to_vec(&payload(vec![alert.clone()])).unwrap()).await;
        assert_eq!(status, 202, "{answer}");
        let first = answer["workflows"][0]["workflow_id"].as_str().unwrap().to_owned();
        let task = deliveries_settled(&app, &first, 3).await;
        assert_eq!(task["report"]["diagnosis"]["root_cause"], "crashloop-missing-config", "{task}");
        let d = task["deliveries"].as_array().unwrap();
        assert_eq!((d[0]["channel"].as_str(), d[0]["status"].as_str(), d[0]["attempts"].as_i64()), (Some("broken"), Some("failed"), Some(3)), "{d:?}");
        assert!(d[0]["last_error"].as_str().unwrap().contains("500"), "{d:?}");
        assert_eq!((d[1]["channel"].as_str(), d[1]["status"].as_str()), (Some("good"), Some("sent")), "{d:?}");
        assert_eq!((d[2]["channel"].as_str(), d[2]["status"].as_str(), d[2]["attempts"].as_i64()), (Some("slack"), Some("sent"), Some(1)), "{d:?}");
        let rows = audited(first.clone()).await;
        let expected = [("notify:broken", "failed"), ("notify:good", "sent"), ("notify:slack", "sent")];
        assert_eq!(rows.iter().map(|(a, d)| (a.as_str(), d.as_str())).collect::<Vec<_>>(), expected, "one audit row per notification");
        assert_eq!(received.broken.load(Ordering::SeqCst), 3, "three attempts at the broken endpoint");
        {
            let good = received.good.lock().unwrap();
            assert_eq!(good.len(), 1);
            let (sig, bytes) = &good[0];
            let t: u64 = sig.strip_prefix("t=").and_then(|s| s.split(',').next()).and_then(|t| t.parse().ok()).expect("t= in the signature");
            assert_eq!(sig, &aetherius_api::auth::sign(secret.as_bytes(), t, bytes), "valid signature");
            let v: Value = serde_json::from_slice(bytes).unwrap();
            assert_eq!(v["workflow_id"], first.as_str());
            assert_eq!(v["diagnosis"]["root_cause"], "crashloop-missing-config");
            assert!(v["report_url"].as_str().unwrap().starts_with("https://aetherius.test/reports/"), "{v}");
        }
        {
            let slack = received.slack.lock().unwrap();
            assert_eq!(slack.len(), 1);
            let v = &slack[0];
            let blocks = v["blocks"].as_array().unwrap();
            let kinds: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
            assert_eq!(kinds, ["header", "section", "section", "actions", "context"], "{v}");
            // mrkdwn text carries the mention escaped; only plain_text (never parsed) has it raw.
            assert!(v["text"].as_str().unwrap().contains("[warning &lt;!channel&gt;]"), "{v}");
            let mrkdwn: Vec<&str> = blocks
                .iter()
                .flat_map(|b| std::iter::once(&b["text"]).chain(b["elements"].as_array().into_iter().flatten()))
                .filter(|t| t["type"] == "mrkdwn")
                .map(|t| t["text"].as_str().unwrap())
                .collect();
            assert!(mrkdwn.len() >= 3 && mrkdwn.iter().all(|t| !t.contains("<!")), "{mrkdwn:?}");
            assert!(mrkdwn[0].contains("*Root cause:* `crashloop-missing-config`") && mrkdwn[0].contains("shop/Deployment/checkout"), "{mrkdwn:?}");
            assert!(mrkdwn[1].starts_with("*Evidence*") && mrkdwn[1].contains("DATABASE_URL"), "{mrkdwn:?}");
            assert!(mrkdwn.last().unwrap().contains(&first), "{mrkdwn:?}");
            let urls: Vec<&str> = blocks[3]["elements"].as_array().unwrap().iter().map(|b| b["url"].as_str().unwrap()).collect();
            assert_eq!(urls.len(), 2, "{v}");
            assert!(urls[0].starts_with("https://aetherius.test/reports/"), "{urls:?}");
            assert!(urls[1].ends_with(&format!("/namespaces/{}/workflows/{first}", config.temporal.namespace)), "{urls:?}");
        }

        // The same alert fires again after resolving (new startsAt, same fingerprint): a new
        // diagnosis, and no second notification inside the repeat window.
        let mut again = alert.clone();
        again["startsAt"] = json!(chrono::Utc::now().to_rfc3339());
        let (status, answer) = call(&app, "POST", "/webhook/alertmanager", serde_json::to_vec(&payload(vec![again])).unwrap()).await;
        assert_eq!(status, 202, "{answer}");
        let second = answer["workflows"][0]["workflow_id"].as_str().unwrap().to_owned();
        assert_ne!(second, first, "{answer}");
        let task = deliveries_settled(&app, &second, 3).await;
        let d = task["deliveries"].as_array().unwrap();
        assert_eq!((d[1]["channel"].as_str(), d[1]["status"].as_str()), (Some("good"), Some("suppressed")), "{d:?}");
        assert_eq!((d[2]["channel"].as_str(), d[2]["status"].as_str()), (Some("slack"), Some("suppressed")), "{d:?}");
        assert!(d[1]["last_error"].as_str().unwrap().contains(&first), "{d:?}");
        // The failed channel was not "notified": the re-fire tries it again.
        assert_eq!(d[0]["status"], "failed", "{d:?}");
        let rows = audited(second.clone()).await;
        let expected = [("notify:broken", "failed"), ("notify:good", "suppressed"), ("notify:slack", "suppressed")];
        assert_eq!(rows.iter().map(|(a, d)| (a.as_str(), d.as_str())).collect::<Vec<_>>(), expected, "suppressed ones are audited too");
        assert_eq!(received.good.lock().unwrap().len(), 1, "one notification per fingerprint inside the window");
        assert_eq!(received.slack.lock().unwrap().len(), 1, "one Slack message per fingerprint inside the window");
    };
    tokio::select! {
        r = pools::run_workers(workers) => panic!("workers stopped: {r:?}"),
        () = body => {}
    }
}

/// A real SMTP server on loopback (aiosmtpd from the dev stack's venv) delivering to a maildir.
struct SmtpServer {
    port: u16,
    _child: tokio::process::Child,
}

async fn smtp_server(maildir: &std::path::Path) -> SmtpServer {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let python = std::env::var("AETHERIUS_TEST_PYTHON").expect("AETHERIUS_TEST_PYTHON (the dev stack venv's python, with aiosmtpd)");
    let child = tokio::process::Command::new(python)
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir)
        .kill_on_drop(true)
        .spawn()
        .expect("aiosmtpd starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "aiosmtpd not listening on {port} after 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    SmtpServer { port, _child: child }
}

/// The messages delivered to `maildir`: subject, recipients and decoded body (Python's
/// email package parses them, MIME encodings included).
async fn delivered(maildir: &std::path::Path) -> Vec<Value> {
    let script = "import email, email.policy, json, os, sys\n\
        d = os.path.join(sys.argv[1], 'new')\n\
        out = []\n\
        for n in sorted(os.listdir(d)):\n\
        \x20   m = email.message_from_binary_file(open(os.path.join(d, n), 'rb'), policy=email.policy.default)\n\
        \x20   html = m.get_body(preferencelist=('html',))\n\
        \x20   out.append({'subject': str(m['subject']), 'to': str(m['to']), 'from': str(m['from']), 'body': m.get_body(preferencelist=('plain',)).get_content(), 'html': html.get_content() if html else None})\n\
        print(json.dumps(out))\n";
    let out = tokio::process::Command::new(std::env::var("AETHERIUS_TEST_PYTHON").unwrap()).args(["-c", script]).arg(maildir).output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_diagnosis_is_emailed_through_a_real_smtp_server() {
    let _one = ONE_AT_A_TIME.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let maildir = tmp.path().join("maildir");
    let smtp = smtp_server(&maildir).await;
    let (cluster, kubeconfig) = fixture_cluster("crashloop-missing-env", tmp.path()).await;
    let mut config = config(&[(cluster.as_str(), kubeconfig)]);
    config.notifications.public_base_url = Some("https://aetherius.test".into());
    config.notifications.channels.insert(
        "oncall-mail".into(),
        ChannelOptions {
            smtp_host: Some("127.0.0.1".into()),
            smtp_port: smtp.port,
            smtp_tls: SmtpTls::None,
            from: Some("Aetherius <aetherius@example.test>".into()),
            to: vec!["oncall@example.test".into()],
            ..channel(ChannelKind::Email)
        },
    );
    let (app, _state) = api(&config).await;
    let (_runtime, workers) = all_pools(&config).await;
    let body = async {
        let (status, answer) = call(&app, "POST", "/webhook/alertmanager", serde_json::to_vec(&payload(vec![unique_alert("crashloop-missing-env")])).unwrap()).await;
        assert_eq!(status, 202, "{answer}");
        let id = answer["workflows"][0]["workflow_id"].as_str().unwrap().to_owned();
        let task = deliveries_settled(&app, &id, 1).await;
        let d = &task["deliveries"][0];
        assert_eq!((d["channel"].as_str(), d["status"].as_str(), d["attempts"].as_i64()), (Some("oncall-mail"), Some("sent"), Some(1)), "{task}");
        let mails = delivered(&maildir).await;
        assert_eq!(mails.len(), 1, "{mails:?}");
        let m = &mails[0];
        assert_eq!(m["to"], "oncall@example.test");
        assert_eq!(m["from"], "Aetherius <aetherius@example.test>");
        let subject = m["subject"].as_str().unwrap();
        assert!(subject.starts_with("Aetherius: [warning] KubePodCrashLooping on ") && subject.ends_with("/shop: crashloop-missing-config"), "{subject}");
        let text = m["body"].as_str().unwrap();
        assert!(text.starts_with("Report: https://aetherius.test/reports/"), "{text}");
        assert!(text.contains(&format!("/namespaces/{}/workflows/{id}", config.temporal.namespace)), "{text}");
        assert!(text.contains("crashloop-missing-config") && text.contains("shop/Deployment/checkout"), "{text}");
        // The HTML alternative is the report itself, readable in any mail client.
        let html = m["html"].as_str().expect("an HTML alternative");
        assert!(html.contains("<html") && html.contains("crashloop-missing-config") && html.contains("DATABASE_URL"), "{html}");
        assert!(!html.contains("Zr8mK2pQx7vLw3nT") && !html.contains("cG9zdGdyZXM6Ly9jaGVja291dDpa"), "{html}");
        // The fixture's Secret holds the database password (base64): neither form is mailed.
        assert!(!text.contains("Zr8mK2pQx7vLw3nT") && !text.contains("cG9zdGdyZXM6Ly9jaGVja291dDpa"), "{text}");
    };
    tokio::select! {
        r = pools::run_workers(workers) => panic!("workers stopped: {r:?}"),
        () = body => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_after_is_honoured_and_a_refused_connection_fails_alone() {
    let _one = ONE_AT_A_TIME.lock().await;
    // Answers 429 with Retry-After: 2 the first time, 200 after; records when each came.
    let calls: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let receiver = axum::Router::new()
        .route("/limited", post(|State(calls): State<Arc<Mutex<Vec<Instant>>>>| async move {
            let mut calls = calls.lock().unwrap();
            calls.push(Instant::now());
            if calls.len() == 1 {
                (axum::http::StatusCode::TOO_MANY_REQUESTS, [("retry-after", "2")], "slow down").into_response()
            } else {
                "ok".into_response()
            }
        }))
        .with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });
    // A port nothing listens on: connections are refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let (cluster, kubeconfig) = fixture_cluster("crashloop-missing-env", tmp.path()).await;
    let mut config = config(&[(cluster.as_str(), kubeconfig)]);
    // Retries 100 ms apart unless the endpoint asks for longer.
    config.notifications.channels.insert("limited".into(), webhook(format!("http://{addr}/limited"), None));
    config.notifications.channels.insert("refused".into(), webhook(format!("http://{closed}/hook"), None));
    let (app, _state) = api(&config).await;
    let (_runtime, workers) = all_pools(&config).await;
    let body = async {
        let (status, answer) = call(&app, "POST", "/webhook/alertmanager", serde_json::to_vec(&payload(vec![unique_alert("crashloop-missing-env")])).unwrap()).await;
        assert_eq!(status, 202, "{answer}");
        let id = answer["workflows"][0]["workflow_id"].as_str().unwrap().to_owned();
        let task = deliveries_settled(&app, &id, 2).await;
        assert_eq!(task["report"]["diagnosis"]["root_cause"], "crashloop-missing-config", "{task}");
        let d = task["deliveries"].as_array().unwrap();
        assert_eq!((d[0]["channel"].as_str(), d[0]["status"].as_str(), d[0]["attempts"].as_i64()), (Some("limited"), Some("sent"), Some(2)), "{d:?}");
        assert_eq!((d[1]["channel"].as_str(), d[1]["status"].as_str(), d[1]["attempts"].as_i64()), (Some("refused"), Some("failed"), Some(3)), "{d:?}");
        let error = d[1]["last_error"].as_str().unwrap();
        assert!(error.contains("connection failed") && error.contains("attempt 3 of 3"), "{error}");
        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 2);
        let waited = calls[1] - calls[0];
        eprintln!("429 with Retry-After: 2, second attempt {waited:?} later");
        assert!(waited >= Duration::from_secs(2), "second attempt {waited:?} after the 429, Retry-After was 2 s");
        assert!(waited < Duration::from_secs(10), "second attempt {waited:?} after the 429");
    };
    tokio::select! {
        r = pools::run_workers(workers) => panic!("workers stopped: {r:?}"),
        () = body => {}
    }
}

/// A raw request to the router: status, content type and body text.
async fn raw(app: &axum::Router, method: &str, uri: &str, content_type: &str, body: String) -> (u16, String, String) {
    use tower::ServiceExt;
    let req = axum::http::Request::builder().method(method).uri(uri).header("content-type", content_type).body(axum::body::Body::from(body)).unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (status, ct, String::from_utf8_lossy(&bytes).into_owned())
}

/// The approve / reject link paths of the Slack approval request for `step`, once received.
async fn approval_links(received: &Received, step: &str) -> (String, String, Value) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = received.slack.lock().unwrap().iter().find(|v| {
            v["blocks"][0]["text"]["text"].as_str().is_some_and(|t| t.starts_with("Approval needed"))
                && v["blocks"][1]["text"]["text"].as_str().is_some_and(|t| t.contains(&format!("*Step {step}*")))
        }).cloned();
        if let Some(v) = found {
            let buttons = v["blocks"].as_array().unwrap().iter().find(|b| b["type"] == "actions").unwrap()["elements"].as_array().unwrap().clone();
            let url = |id: &str| buttons.iter().find(|b| b["action_id"] == id).and_then(|b| b["url"].as_str()).unwrap_or_else(|| panic!("no {id} button: {v}")).to_owned();
            let path = |u: String| u.strip_prefix("https://aetherius.test").unwrap_or_else(|| panic!("{u} is not under public_base_url")).to_owned();
            return (path(url("approve")), path(url("reject")), v);
        }
        assert!(Instant::now() < deadline, "no Slack approval request for {step} within 30 s: {:?}", received.slack.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_waiting_step_is_posted_to_slack_and_decided_through_its_link() {
    let _one = ONE_AT_A_TIME.lock().await;
    let received = Arc::new(Received::default());
    let receiver = axum::Router::new()
        .route("/slack", post(|State(r): State<Arc<Received>>, axum::Json(v): axum::Json<Value>| async move {
            r.slack.lock().unwrap().push(v);
            "ok"
        }))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });

    let tmp = tempfile::tempdir().unwrap();
    let (cluster, kubeconfig) = fixture_cluster("crashloop-missing-env", tmp.path()).await;
    let mut config = config(&[(cluster.as_str(), kubeconfig)]);
    std::fs::write(tmp.path().join("slack-url"), format!("http://{addr}/slack\n")).unwrap();
    std::fs::write(tmp.path().join("link-key"), format!("{}\n", uuid::Uuid::new_v4())).unwrap();
    config.notifications.channels.insert("slack".into(), ChannelOptions { url_file: Some(tmp.path().join("slack-url")), ..channel(ChannelKind::Slack) });
    config.notifications.public_base_url = Some("https://aetherius.test/".into());
    config.api.approval.link_secret_file = Some(tmp.path().join("link-key"));
    // Logs in `shop` wait for a person; a minute to decide.
    config.api.approval.sensitive_namespaces = vec!["shop".into()];
    config.api.approval.timeout_secs = 60;
    let (app, _state) = api(&config).await;
    let (_runtime, workers) = all_pools(&config).await;
    let task = |id: String| {
        let app = app.clone();
        async move {
            let (status, body) = call(&app, "GET", &format!("/tasks/{id}"), vec![]).await;
            assert_eq!(status, 200, "{body}");
            body
        }
    };

    let body = async {
        let (status, answer) = call(&app, "POST", "/webhook/alertmanager", serde_json::to_vec(&payload(vec![unique_alert("crashloop-missing-env")])).unwrap()).await;
        assert_eq!(status, 202, "{answer}");
        let id = answer["workflows"][0]["workflow_id"].as_str().unwrap().to_owned();
        let deadline = Instant::now() + Duration::from_secs(60);
        let pending = loop {
            let b = task(id.clone()).await;
            if !b["pending_approval"].is_null() {
                break b["pending_approval"].clone();
            }
            assert!(b["status"] == "running" && Instant::now() < deadline, "no step waited: {b}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let step = pending["step_id"].as_str().unwrap().to_owned();
        let command = pending["command"].as_str().unwrap().to_owned();
        let (approve, reject, message) = approval_links(&received, &step).await;
        let fields = message["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(fields.contains("kubectl logs") && fields.contains("sensitive") && fields.contains("*Expires:*"), "{message}");
        assert!(approve.starts_with("/approvals/") && reject.starts_with("/approvals/") && approve != reject, "{approve} {reject}");

        // GET shows the page and changes nothing (Slack prefetches links).
        for link in [&approve, &reject] {
            let (status, ct, html) = raw(&app, "GET", link, "text/plain", String::new()).await;
            assert_eq!(status, 200, "{html}");
            assert!(ct.starts_with("text/html"), "{ct}");
            assert!(html.contains("<form method=\"post\">") && html.contains(&step) && html.contains("kubectl logs"), "{html}");
            assert!(!html.contains("src=") && !html.contains("<link"), "self-contained: {html}");
        }
        let still = task(id.clone()).await;
        assert_eq!(still["pending_approval"]["step_id"], step.as_str(), "a GET must not decide: {still}");
        assert!(still["report"].is_null(), "{still}");

        // A tampered token (another step, signature kept) is refused, as is a form without a name.
        let token = approve.strip_prefix("/approvals/").unwrap();
        let (payload_b64, sig) = token.split_once('.').unwrap();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: Value = serde_json::from_slice(&b64.decode(payload_b64).unwrap()).unwrap();
        claims["v"] = json!("reject");
        let forged = format!("/approvals/{}.{sig}", b64.encode(serde_json::to_vec(&claims).unwrap()));
        let form = "application/x-www-form-urlencoded";
        let (status, _, answer) = raw(&app, "POST", &forged, form, "by=mallory".into()).await;
        assert_eq!(status, 403, "{answer}");
        assert_eq!(serde_json::from_str::<Value>(&answer).unwrap()["error"]["code"], "forbidden", "{answer}");
        let (status, _, answer) = raw(&app, "GET", &forged, "text/plain", String::new()).await;
        assert_eq!(status, 403, "{answer}");
        let (status, _, answer) = raw(&app, "POST", &approve, form, "by=+&comment=x".into()).await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(task(id.clone()).await["pending_approval"]["step_id"], step.as_str());

        // The form decides: the same update as POST /tasks/{id}/approve.
        let (status, ct, page) = raw(&app, "POST", &approve, form, "by=Carol+Ng&comment=read-only%2C+go".into()).await;
        assert_eq!(status, 200, "{page}");
        assert!(ct.starts_with("text/html") && page.contains("approved") && page.contains("Carol Ng (slack link)"), "{page}");
        // The other link of the same step now answers the validator's 409.
        let (status, _, answer) = raw(&app, "POST", &reject, form, "by=dave".into()).await;
        assert_eq!(status, 409, "{answer}");
        let code = serde_json::from_str::<Value>(&answer).unwrap()["error"]["code"].as_str().unwrap().to_owned();
        assert!(matches!(code.as_str(), "already_decided" | "not_waiting" | "not_running"), "{answer}");

        // Later waiting steps: each is posted too; approve them through their links.
        let deadline = Instant::now() + Duration::from_secs(120);
        let done = loop {
            let b = task(id.clone()).await;
            if b["status"] != "running" && b.get("report").is_some_and(|r| !r.is_null()) {
                break b;
            }
            if let Some(s) = b["pending_approval"]["step_id"].as_str().filter(|s| *s != step) {
                let (next, _, _) = approval_links(&received, s).await;
                let (status, _, answer) = raw(&app, "POST", &next, form, "by=Carol+Ng".into()).await;
                assert!(status == 200 || status == 409, "{answer}");
            }
            assert!(Instant::now() < deadline, "the diagnosis did not finish: {b}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let report = &done["report"];
        let approvals = report["approvals"].as_array().expect("approvals in the report");
        assert_eq!(approvals[0]["step_id"], step.as_str(), "{approvals:?}");
        assert_eq!(approvals[0]["command"], command.as_str(), "{approvals:?}");
        assert_eq!((approvals[0]["verdict"].as_str(), approvals[0]["by"].as_str()), (Some("approved"), Some("Carol Ng (slack link)")), "{approvals:?}");
        assert_eq!(approvals[0]["comment"], "read-only, go", "{approvals:?}");
        assert!(report["diagnosis"]["evidence"].to_string().contains("DATABASE_URL"), "the approved logs step ran: {report}");
        eprintln!("approval links: workflow {id}, {} approval(s) through Slack links", approvals.len());
    };
    tokio::select! {
        r = pools::run_workers(workers) => panic!("workers stopped: {r:?}"),
        () = body => {}
    }
}
