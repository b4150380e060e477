//! The API described from the code (utoipa): `GET /openapi.json` and the `GET /docs` page.
//!
//! Each handler carries its `#[utoipa::path]`; [`ApiDoc`] lists them. Security and the
//! authentication answers (401, 403, 429) are added per operation from [`auth::ROUTES`],
//! so the document cannot disagree with the guard.

use crate::{
    auth::{self, Access, SIGNATURE_HEADER},
    commands, custom,
    error::ErrorBody,
    approvals, ingest, knowledge, manual, ops, reports, tasks,
};
use axum::{
    Json,
    response::{Html, IntoResponse, Response},
};
use std::sync::LazyLock;
use utoipa::{
    Modify, OpenApi,
    openapi::{
        self, Content, RefOr, ResponseBuilder,
        path::Operation,
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme},
    },
};
use utoipa_scalar::Scalar;

/// The OpenAPI document of [`crate::routes`].
#[derive(OpenApi)]
#[openapi(
    info(title = "Aetherius API", description = "An AI SRE for Kubernetes: alerts in, diagnoses out, humans in the loop. \
        Every error answers `{\"error\":{\"code\",\"message\"}}` with a stable code."),
    paths(
        ops::health, ops::live, ops::ready, ops::metrics, api_description, docs,
        ingest::alertmanager, custom::webhook,
        manual::create_task, tasks::list_tasks, tasks::get_task, tasks::cancel, tasks::retry, tasks::approve, tasks::reject,
        approvals::page, approvals::decide,
        tasks::queue_status,
        commands::tools, commands::validate,
        knowledge::create, knowledge::list, knowledge::get, knowledge::update, knowledge::delete, knowledge::search,
        knowledge::feedback,
        reports::list, reports::get, reports::archive, reports::audit,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Security),
    tags(
        (name = "operations", description = "Probes, metrics, this description."),
        (name = "webhooks", description = "Alerts in: a bearer token (operator) or a signature."),
        (name = "tasks", description = "Diagnoses: trigger, list, read, cancel, retry, approve, reject."),
        (name = "approvals", description = "Approve / reject links (sent to Slack): a page, then a form; the signed token is the credential."),
        (name = "commands", description = "What commands can run, and would this one."),
        (name = "knowledge", description = "The runbook knowledge base."),
        (name = "reports", description = "Diagnosis reports (Markdown, HTML, JSON by `Accept`) and the audit trail."),
    ),
)]
pub struct ApiDoc;

/// Name of the bearer (static token or JWT) security scheme.
pub const BEARER: &str = "bearer";
/// Name of the webhook signature security scheme.
pub const SIGNATURE: &str = "webhook_signature";

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A static token (configured by its SHA-256) or a JWT; its role must reach the route's."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            SIGNATURE,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                SIGNATURE_HEADER,
                "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"{t}.{body}\">`, each signature accepted once (webhooks only).",
            ))),
        );
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content("application/json", Content::new(Some(RefOr::Ref(openapi::Ref::from_schema_name("ErrorBody")))))
                .build()
        };
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, op) in operations(item) {
                let access = auth::access(method, path).unwrap_or(Access::Role(auth::Role::Admin));
                let role = match access {
                    Access::Open => {
                        op.security = Some(vec![SecurityRequirement::default()]);
                        continue;
                    }
                    Access::Link => {
                        // The signed token in the path is the credential.
                        op.security = Some(vec![SecurityRequirement::default()]);
                        op.responses.responses.entry("429".into()).or_insert_with(|| {
                            error("Too many requests from this client (`rate_limited`); see `Retry-After`.").into()
                        });
                        continue;
                    }
                    Access::Role(role) => {
                        op.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
                        role
                    }
                    Access::Webhook => {
                        op.security = Some(vec![
                            SecurityRequirement::new(BEARER, Vec::<String>::new()),
                            SecurityRequirement::new(SIGNATURE, Vec::<String>::new()),
                        ]);
                        auth::Role::Operator
                    }
                };
                let note = format!("Role: {} or above.", role.name());
                op.description = Some(match op.description.take() {
                    Some(d) if !d.is_empty() => format!("{d}\n\n{note}"),
                    _ => note,
                });
                let responses = &mut op.responses.responses;
                responses.entry("401".into()).or_insert_with(|| {
                    error("No or a bad credential: `missing_token`, `invalid_token`, `expired_token`, `bad_signature`, `stale_timestamp`.").into()
                });
                responses.entry("403".into()).or_insert_with(|| error("The caller's role is below the route's (`forbidden`).").into());
                responses.entry("429".into()).or_insert_with(|| {
                    let mut r = error("Too many requests from this client (`rate_limited`); see `Retry-After`.");
                    r.headers.insert(
                        "Retry-After".into(),
                        openapi::Header::new(openapi::ObjectBuilder::new().schema_type(openapi::Type::Integer)),
                    );
                    r.into()
                });
                if access == Access::Webhook {
                    responses.entry("409".into()).or_insert_with(|| error("This signature was seen before (`replayed_webhook`).").into());
                }
                if op.request_body.is_some() {
                    responses
                        .entry("413".into())
                        .or_insert_with(|| error("The body is over `max_payload_bytes` (`payload_too_large`).").into());
                }
            }
        }
    }
}

/// The operations of a path item, with their method as [`auth::ROUTES`] names it.
fn operations(item: &mut openapi::PathItem) -> Vec<(&'static str, &mut Operation)> {
    [
        ("GET", &mut item.get),
        ("POST", &mut item.post),
        ("PUT", &mut item.put),
        ("DELETE", &mut item.delete),
        ("PATCH", &mut item.patch),
        ("HEAD", &mut item.head),
        ("OPTIONS", &mut item.options),
        ("TRACE", &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.as_mut().map(|op| (m, op)))
    .collect()
}

/// The document, built once.
pub fn document() -> &'static openapi::OpenApi {
    static DOC: LazyLock<openapi::OpenApi> = LazyLock::new(ApiDoc::openapi);
    &DOC
}

/// This API's OpenAPI 3.1 description.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document.", body = Object)))]
pub(crate) async fn api_description() -> Response {
    Json(document()).into_response()
}

/// A page that renders `/openapi.json` (Scalar; its script comes from a CDN in the browser).
#[utoipa::path(get, path = "/docs", tag = "operations",
    responses((status = 200, description = "HTML.", body = String, content_type = "text/html")))]
pub(crate) async fn docs() -> Html<String> {
    static PAGE: LazyLock<String> = LazyLock::new(|| Scalar::new(document().clone()).to_html());
    Html(PAGE.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn json() -> serde_json::Value {
        serde_json::to_value(document()).unwrap()
    }

    #[test]
    fn the_document_lists_exactly_the_routes() {
        let routes: BTreeSet<(String, String)> =
            crate::routes().into_iter().map(|(m, p, _)| (m.as_str().to_owned(), p.to_owned())).collect();
        let mut described = BTreeSet::new();
        for (path, item) in json()["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if ["get", "post", "put", "delete", "patch", "head", "options", "trace"].contains(&method.as_str()) {
                    described.insert((method.to_ascii_uppercase(), path.clone()));
                }
            }
        }
        assert_eq!(described, routes);
    }

    #[test]
    fn every_operation_has_security_per_the_route_table_and_answers_errors_in_the_error_body() {
        let doc = json();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let access = auth::access(&method.to_ascii_uppercase(), path).unwrap();
                let schemes: Vec<String> = op["security"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|r| r.as_object().unwrap().keys().cloned())
                    .collect();
                let expected: Vec<&str> = match access {
                    Access::Open | Access::Link => vec![],
                    Access::Role(_) => vec![BEARER],
                    Access::Webhook => vec![BEARER, SIGNATURE],
                };
                assert_eq!(schemes, expected, "{method} {path}");
                for (status, response) in op["responses"].as_object().unwrap() {
                    let Ok(code) = status.parse::<u16>() else { panic!("{method} {path}: response {status}") };
                    if code >= 400 && !(path == "/health/ready" && code == 503) {
                        assert_eq!(
                            response["content"]["application/json"]["schema"]["$ref"],
                            "#/components/schemas/ErrorBody",
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_document_is_valid_openapi_3_1() {
        let doc = json();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."), "{}", doc["openapi"]);
        // The OpenAPI Initiative's schema of 3.1 documents (2022-10-07), as schemathesis ships it.
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/openapi-3.1-schema.json")).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| format!("{}: {e}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{errors:#?}");
        // Each schema is a valid JSON Schema 2020-12 (the 3.1 dialect).
        for (name, s) in doc["components"]["schemas"].as_object().unwrap() {
            assert!(jsonschema::draft202012::meta::is_valid(s), "schema {name}");
            for r in s.to_string().match_indices("#/components/schemas/") {
                let rest = &s.to_string()[r.0 + r.1.len()..];
                let target = rest.split('"').next().unwrap();
                assert!(doc["components"]["schemas"].get(target).is_some(), "{name} refers to missing {target}");
            }
        }
    }

    #[test]
    fn a_task_describes_its_notification_deliveries() {
        let doc = json();
        let schemas = &doc["components"]["schemas"];
        let deliveries = &schemas["TaskDetail"]["properties"]["deliveries"];
        assert_eq!(deliveries["type"], "array", "{deliveries}");
        assert_eq!(deliveries["items"]["$ref"], "#/components/schemas/Delivery", "{deliveries}");
        let delivery = &schemas["Delivery"];
        for field in ["channel", "kind", "status", "attempts", "updated_at"] {
            assert!(delivery["required"].as_array().unwrap().iter().any(|f| f == field), "{field}: {delivery}");
        }
        let status = &schemas[delivery["properties"]["status"]["$ref"].as_str().unwrap().trim_start_matches("#/components/schemas/")];
        assert_eq!(status["enum"], serde_json::json!(["pending", "retrying", "sent", "failed", "suppressed"]), "{status}");
    }
}
