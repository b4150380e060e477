//! `GET /reports` (filters, paging, archived), `GET /reports/{id}` by `Accept`,
//! `POST /reports/{id}/archive` and `GET /audit`, over reports the report activity stored
//! in the real PostgreSQL.

use crate::support::{api, call, config};
use aetherius_activities::report::ReportActivities;
use axum::{body::Body, http::Request};
use serde_json::{Value, json};
use tower::ServiceExt;

fn report(workflow_id: &str, cluster: &str, root_cause: &str, severity: &str) -> aetherius_core::ReportInput {
    serde_json::from_value(json!({
        "workflow_id": workflow_id,
        "event": {"id": workflow_id, "type": "alert", "source": "alertmanager", "timestamp": "2026-12-01T10:00:00Z",
                  "cluster_id": cluster, "namespace": "shop", "severity": severity,
                  "labels": {"alertname": "KubePodCrashLooping", "pod": "<script>alert(1)</script>"},
                  "annotations": {"summary": "*bold* | `tick`"}, "fingerprint": "abc", "status": "firing"},
        "analysis": {"summary": "crash loop", "possible_causes": [], "suggested_steps": [], "confidence": 0.6,
                     "target": null, "method": "rule_based", "tokens_used": 0, "model": null},
        "steps": [{"command": "kubectl logs -n shop checkout-1 --previous", "status": "success", "duration_ms": 42,
                   "output_digest": "ab".repeat(32)}],
        "diagnosis": {"root_cause": root_cause, "resource": "shop/Deployment/checkout", "summary": "s",
                      "evidence": [{"source": "logs", "detail": "password=hunter2 <b>x</b>"}], "recommendations": [], "confidence": 0.9}
    }))
    .expect("fixture")
}

async fn get(app: &axum::Router, uri: &str, accept: &str) -> (u16, String, String) {
    let req = Request::get(uri).header("accept", accept).body(Body::empty()).unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (status, ct, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn reports_by_accept_listed_archived_and_audited() {
    let (app, state) = api(&config(&[])).await;
    let cluster = format!("reports-{}", uuid::Uuid::new_v4().simple());
    let acts = ReportActivities::new(state.pool.clone());
    let (a, b) = (format!("diag-{cluster}-a"), format!("diag-{cluster}-b"));
    let stored = acts.store(&report(&a, &cluster, "crashloop-missing-config", "critical")).await.unwrap();
    acts.store(&report(&b, &cluster, "oom-killed", "warning")).await.unwrap();

    // One report, three formats; secrets masked and markup escaped in each.
    let (status, ct, html) = get(&app, &format!("/reports/{a}"), "text/html").await;
    assert_eq!((status, ct.as_str()), (200, "text/html; charset=utf-8"), "{html}");
    assert!(html.contains("&lt;script&gt;") && !html.contains("<script") && !html.contains("hunter2"), "{html}");
    let (status, ct, md) = get(&app, &format!("/reports/{a}"), "text/markdown, text/html;q=0.5").await;
    assert_eq!((status, ct.as_str()), (200, "text/markdown; charset=utf-8"));
    assert!(md.contains(r"\<script\>") && md.contains(r"\*bold\* \| \`tick\`") && !md.contains("hunter2"), "{md}");
    let (status, ct, body) = get(&app, &format!("/reports/{}", stored.report_id), "application/json").await;
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    let j: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(j["workflow_id"], a.as_str());
    assert_eq!(j["report_id"], stored.report_id.as_str());
    assert_eq!(j["root_cause"]["id"], "crashloop-missing-config");
    let (status, ct, body) = get(&app, &format!("/reports/{a}"), "image/png").await;
    assert_eq!((status, ct.as_str()), (406, "application/json"));
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["code"], "not_acceptable");
    let (status, _, body) = get(&app, &format!("/reports/diag-{cluster}-none"), "text/html").await;
    assert_eq!(status, 404, "{body}");

    // Lists: filters and paging.
    let (status, page) = call(&app, "GET", &format!("/reports?cluster={cluster}"), vec![]).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 2);
    let (_, page) = call(&app, "GET", &format!("/reports?cluster={cluster}&root_cause=oom-killed"), vec![]).await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["reports"][0]["workflow_id"], b.as_str());
    let (_, page) = call(&app, "GET", &format!("/reports?cluster={cluster}&severity=critical&alertname=KubePodCrashLooping"), vec![]).await;
    assert_eq!(page["reports"][0]["workflow_id"], a.as_str());
    let (_, page) = call(&app, "GET", &format!("/reports?cluster={cluster}&limit=1&offset=1"), vec![]).await;
    assert_eq!((page["total"].as_i64(), page["reports"].as_array().unwrap().len()), (Some(2), 1));
    let (_, page) = call(&app, "GET", &format!("/reports?cluster={cluster}&since=2100-01-01T00:00:00Z"), vec![]).await;
    assert_eq!(page["total"], 0);
    let (status, err) = call(&app, "GET", "/reports?limit=0", vec![]).await;
    assert_eq!((status, err["error"]["code"].as_str()), (422, Some("invalid_filter")));

    // Archive: out of the default list, in archived=true, still served by id.
    let (status, archived) = call(&app, "POST", &format!("/reports/{a}/archive"), vec![]).await;
    assert_eq!(status, 200, "{archived}");
    assert!(archived["archived_at"].is_string());
    let (_, again) = call(&app, "POST", &format!("/reports/{a}/archive"), vec![]).await;
    assert_eq!(again["archived_at"], archived["archived_at"], "archiving twice keeps the first time");
    let (_, page) = call(&app, "GET", &format!("/reports?cluster={cluster}"), vec![]).await;
    assert_eq!(page["total"], 1);
    let (_, page) = call(&app, "GET", &format!("/reports?cluster={cluster}&archived=true"), vec![]).await;
    assert_eq!(page["reports"][0]["workflow_id"], a.as_str());
    assert_eq!(get(&app, &format!("/reports/{a}"), "text/html").await.0, 200);

    // The audit trail of one diagnosis: its command with the output's digest, its decision.
    let (status, audit) = call(&app, "GET", &format!("/audit?workflow_id={a}"), vec![]).await;
    assert_eq!(status, 200, "{audit}");
    let kinds: Vec<&str> = audit["rows"].as_array().unwrap().iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["command", "decision"]);
    assert_eq!(audit["rows"][0]["result_digest"], "ab".repeat(32));
    assert_eq!(audit["rows"][0]["command"], "kubectl logs -n shop checkout-1 --previous");
    let (_, audit) = call(&app, "GET", &format!("/audit?cluster={cluster}&kind=decision"), vec![]).await;
    assert_eq!(audit["total"], 2);
    let (status, err) = call(&app, "GET", "/audit?kind=command&bogus=1", vec![]).await;
    assert_eq!((status, err["error"]["code"].as_str()), (422, Some("invalid_payload")));
}
