//! HTTP: paths, verbs and query parameters (reference §1), list and watch (§5, §6), and the
//! simulator's own test hooks under `/simulator/`.
//!
//! This module holds the request entry point (authentication, faults, discovery, dispatch on
//! verb and path) and what the handlers share; each family of handlers lives in a submodule.

mod delete;
mod hooks;
mod logs;
mod paths;
mod printers;
mod read;
mod scale;
mod table;
mod watch;
mod write;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::Cluster;
use crate::objects::{Part, Writer};
use crate::resources::{self, TYPES};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{ApiError, Key};

use delete::{delete, delete_collection};
use hooks::test_hook;
use logs::pod_log;
use paths::parse_target;
use read::{get, list};
use scale::get_scale;
use watch::watch;
use write::{create, patch_object, replace};

pub use paths::parse_query;

fn json_response(code: u16, body: &Value) -> Response {
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::OK),
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn error_response(e: ApiError) -> Response {
    json_response(e.code, &e.status())
}

/// Go's plain-text answer for paths no handler serves (reference §3).
fn page_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "404 page not found\n",
    )
        .into_response()
}

/// What a resource path names.
#[derive(Debug)]
struct Target {
    type_index: usize,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

pub async fn handle(
    cluster: Arc<Cluster>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().trim_end_matches('/').to_owned();
    let query = parse_query(uri.query());
    if let Some(hook) = path.strip_prefix("/simulator/") {
        return test_hook(&cluster, &method, hook, &body);
    }
    // As with anonymous auth on a real API server, /version and the health endpoints are open
    // to everyone (system:public-info-viewer); everything else needs the token.
    let public = matches!(
        path.as_str(),
        "/version" | "/healthz" | "/readyz" | "/livez"
    );
    if let Some(token) = cluster.token.as_ref().filter(|_| !public) {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if presented != Some(token.as_str()) {
            return error_response(ApiError::new(401, "Unauthorized", "Unauthorized"));
        }
    }
    if let Some(response) = cluster.injected_fault(&path).await {
        return response;
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if method == Method::GET {
        let document = match segments.as_slice() {
            ["version"] => Some(resources::version_document()),
            ["api"] => Some(resources::core_versions()),
            ["apis"] => Some(resources::group_list()),
            ["api", v] => resources::resource_list("", v),
            ["apis", g] => resources::group_document(g),
            ["apis", g, v] => resources::resource_list(g, v),
            ["healthz"] | ["readyz"] | ["livez"] => return (StatusCode::OK, "ok").into_response(),
            _ => None,
        };
        if let Some(d) = document {
            return json_response(200, &d);
        }
        if matches!(
            segments.as_slice(),
            ["api", _] | ["apis", _] | ["apis", _, _]
        ) {
            return page_not_found();
        }
    }
    let Some(target) = parse_target(&segments) else {
        return page_not_found();
    };
    let manager = query
        .get("fieldManager")
        .cloned()
        .or_else(|| {
            headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|ua| ua.split('/').next().unwrap_or(ua).to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let writer = Writer {
        manager,
        dry_run: query.get("dryRun").is_some_and(|v| v == "All"),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let content_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();

    let watching = query.get("watch").is_some_and(|v| v == "true" || v == "1");
    let dry_run = writer.dry_run;
    let response = match (&method, &target.name, target.subresource.as_deref()) {
        (&Method::GET, None, _) if watching => {
            let table = match table::wanted(&headers) {
                Some(version) => {
                    match table::Include::parse(query.get("includeObject").map(String::as_str)) {
                        Ok(include) => Some(watch::TableWatch { version, include }),
                        Err(e) => return error_response(ApiError::bad_request(e)),
                    }
                }
                None => None,
            };
            return watch(cluster, target, &query, table);
        }
        (&Method::GET, None, _) => list(&cluster, &target, &query),
        (&Method::GET, Some(_), Some("log")) => return pod_log(&cluster, &target, &query),
        (&Method::GET, Some(_), Some("scale")) => get_scale(&cluster, &target),
        (&Method::GET, Some(_), _) => get(&cluster, &target),
        (&Method::POST, None, None) => create(&cluster, &target, &body, &writer),
        (&Method::PUT, Some(_), sub) => replace(&cluster, &target, &body, &writer, sub),
        (&Method::PATCH, Some(_), sub) => patch_object(
            &cluster,
            &target,
            &body,
            &writer,
            &content_type,
            &query,
            sub,
        ),
        (&Method::DELETE, Some(_), None) => {
            delete(&cluster, &target, &body, &query, writer.dry_run)
        }
        (&Method::DELETE, None, None) => {
            delete_collection(&cluster, &target, &query, writer.dry_run)
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )),
    };
    // Server-side printing (`kubectl get`): reads asked for as a Table get one.
    let response = match (response, table::wanted(&headers)) {
        (Ok((200, body)), Some(version))
            if method == Method::GET && target.subresource.is_none() =>
        {
            let t = &TYPES[target.type_index];
            table::Include::parse(query.get("includeObject").map(String::as_str))
                .map_err(ApiError::bad_request)
                .map(|include| {
                    (
                        200,
                        table::table(t.kind, &t.api_version(), &body, version, include, true),
                    )
                })
        }
        (response, _) => response,
    };
    match response {
        Ok((code, body)) => {
            // A write wakes the controllers; a read changes nothing for them to do.
            if method != Method::GET && !dry_run {
                cluster.changed.notify_one();
            }
            json_response(code, &body)
        }
        Err(e) => error_response(e),
    }
}

type Answer = Result<(u16, Value), ApiError>;

fn key_of(target: &Target) -> Key {
    (
        target.type_index,
        target.namespace.clone().unwrap_or_default(),
        target.name.clone().unwrap_or_default(),
    )
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}

fn selectors(query: &HashMap<String, String>) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(
        query
            .get("labelSelector")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .map_err(ApiError::bad_request)?;
    let fields = FieldSelector::parse(
        query
            .get("fieldSelector")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .map_err(ApiError::bad_request)?;
    Ok((labels, fields))
}

fn matches(object: &Value, labels: &LabelSelector, fields: &FieldSelector) -> bool {
    labels.matches(object["metadata"]["labels"].as_object()) && fields.matches(object)
}

fn check_type(target: &Target, object: &Value) -> Result<(), ApiError> {
    let t = &TYPES[target.type_index];
    if let Some(kind) = object["kind"].as_str()
        && kind != t.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind of the object ({kind}) does not match the resource ({})",
            t.qualified()
        )));
    }
    Ok(())
}

fn part(sub: Option<&str>) -> Part {
    if sub == Some("status") {
        Part::Status
    } else {
        Part::Main
    }
}
