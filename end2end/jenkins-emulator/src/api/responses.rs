//! Responses: Jenkins' headers, HTML error pages, JSON with `tree=` and `pretty`, `depth`,
//! redirects.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::model::State;
use crate::tree;

use super::VERSION;

pub(super) fn with_jenkins_headers(mut response: Response, state: &State) -> Response {
    let h = response.headers_mut();
    h.insert("x-jenkins", HeaderValue::from_static(VERSION));
    if let Ok(v) = HeaderValue::from_str(&state.instance) {
        h.insert("x-jenkins-session", v);
    }
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("deny"));
    response
}

pub(super) fn page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<html><head><title>Error {}</title></head><body><h2>HTTP ERROR {}</h2><p>{message}</p></body></html>",
        status.as_u16(),
        status.as_u16()
    );
    (status, [("content-type", "text/html;charset=utf-8")], body).into_response()
}

pub(super) fn not_found() -> Response {
    page(StatusCode::NOT_FOUND, "Not Found")
}

pub(super) fn json_response(value: &Value, query: &HashMap<String, String>) -> Response {
    let pruned = match query.get("tree") {
        Some(t) => match tree::parse(t) {
            Ok(nodes) => tree::prune(value, &nodes),
            Err(e) => {
                return page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("javax.servlet.ServletException: {e}"),
                );
            }
        },
        None => value.clone(),
    };
    let text = if query.contains_key("pretty") {
        serde_json::to_string_pretty(&pruned)
    } else {
        serde_json::to_string(&pruned)
    }
    .unwrap_or_default();
    (
        StatusCode::OK,
        [("content-type", "application/json;charset=utf-8")],
        text,
    )
        .into_response()
}

/// `depth` and `tree` choose between the depth-0 form and the full form (reference §2).
// The error is the whole HTTP response to send back.
#[allow(clippy::result_large_err)]
pub(super) fn wants_full(query: &HashMap<String, String>) -> Result<bool, Response> {
    if query.contains_key("tree") {
        return Ok(true);
    }
    match query.get("depth") {
        None => Ok(false),
        Some(d) => d.parse::<u32>().map(|d| d > 0).map_err(|_| {
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("java.lang.NumberFormatException: For input string: \"{d}\""),
            )
        }),
    }
}

pub(super) fn redirect(status: StatusCode, location: &str) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert("location", v);
    }
    r
}

pub(super) fn method_not_allowed() -> Response {
    let mut r = page(StatusCode::METHOD_NOT_ALLOWED, "This URL requires POST");
    r.headers_mut()
        .insert("allow", HeaderValue::from_static("POST"));
    r
}
