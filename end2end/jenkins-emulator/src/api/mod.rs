//! Jenkins' HTTP API over the state: URL walking (reference §1), JSON (§2), auth and crumbs (§3),
//! triggering (§4), the queue (§5), jobs (§6), builds (§7), logs (§8) and artifacts (§9).
//!
//! This module holds the request entry point (faults, form parsing, authentication, crumbs) and
//! the routes outside `/job/`: the root, the crumb issuer and the queue. Rendering, auth,
//! responses and the job routes live in submodules.

mod auth;
mod jobs;
mod render;
mod responses;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Jenkins;
use crate::model::{ItemState, State};

use auth::{Caller, authenticate, check_crumb, crumb_for, session_cookie};
use render::Render;
use responses::{
    json_response, method_not_allowed, not_found, page, wants_full, with_jenkins_headers,
};

pub const VERSION: &str = "2.479.3";

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// One request. `remote` is the caller's address (for remote causes).
pub async fn handle(
    jenkins: Arc<Jenkins>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    host: String,
) -> Response {
    if let Some(fault) = jenkins.injected_fault(uri.path()).await {
        return fault;
    }
    let mut query: HashMap<String, String> = HashMap::new();
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        pairs.push((k.to_string(), v.to_string()));
        query.insert(k.into_owned(), v.into_owned());
    }
    let is_form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        for (k, v) in form_urlencoded::parse(&body) {
            pairs.push((k.to_string(), v.to_string()));
            query
                .entry(k.into_owned())
                .or_insert_with(|| v.into_owned());
        }
    }
    if uri.path() == "/__emulator/faults" && method == Method::POST {
        let spec: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        jenkins.set_faults(&spec);
        return StatusCode::NO_CONTENT.into_response();
    }
    let base = format!("http://{host}/");
    let now = crate::now_ms();
    let mut state = jenkins.state.lock().expect("the state lock");
    let caller = match authenticate(&state, &headers) {
        Ok(c) => c,
        Err(r) => return with_jenkins_headers(r, &state),
    };
    if method == Method::POST
        && let Err(r) = check_crumb(&state, &caller, &headers, &query)
    {
        return with_jenkins_headers(r, &state);
    }
    let segments: Vec<String> = uri
        .path()
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let response = route(
        &mut state, &caller, &method, &segs, &query, &pairs, &headers, &base, now,
    );
    with_jenkins_headers(response, &state)
}

#[allow(clippy::too_many_arguments)]
fn route(
    state: &mut State,
    caller: &Caller,
    method: &Method,
    segs: &[&str],
    query: &HashMap<String, String>,
    pairs: &[(String, String)],
    headers: &HeaderMap,
    base: &str,
    now: u64,
) -> Response {
    let full = match wants_full(query) {
        Ok(f) => f,
        Err(r) => return r,
    };
    match segs {
        ["api", "json"] => return json_response(&Render { state, base, now }.root(full), query),
        ["crumbIssuer", "api", "json"] => {
            if !state.script.crumbs {
                return not_found();
            }
            let existing = session_cookie(state, headers);
            let session = existing
                .clone()
                .unwrap_or_else(|| format!("node0{:016x}", fastrand::u64(..)));
            let crumb = crumb_for(state, caller.name(), &session);
            let mut r = json_response(
                &json!({"_class": "hudson.security.csrf.DefaultCrumbIssuer", "crumb": crumb, "crumbRequestField": "Jenkins-Crumb"}),
                query,
            );
            if existing.is_none()
                && let Ok(v) = HeaderValue::from_str(&format!(
                    "JSESSIONID.{}={session}; Path=/; HttpOnly",
                    state.instance
                ))
            {
                r.headers_mut().insert("set-cookie", v);
            }
            return r;
        }
        ["queue", "api", "json"] => {
            let render = Render { state, base, now };
            let items: Vec<Value> = state
                .queue
                .values()
                .filter(|i| !matches!(i.state, ItemState::Left { .. }))
                .map(|i| render.queue_item(i, full))
                .collect();
            return json_response(
                &json!({"_class": "hudson.model.Queue", "discoverableItems": [], "items": items}),
                query,
            );
        }
        ["queue", "item", id, rest @ ..] => {
            let Some(item) = id.parse::<u64>().ok().and_then(|id| state.queue.get(&id)) else {
                return not_found();
            };
            return match rest {
                ["api", "json"] => {
                    json_response(&Render { state, base, now }.queue_item(item, full), query)
                }
                [] => (
                    StatusCode::OK,
                    [("content-type", "text/plain;charset=utf-8")],
                    "This is a queue item; use api/json.",
                )
                    .into_response(),
                _ => not_found(),
            };
        }
        ["queue", "cancelItem"] => {
            if *method != Method::POST {
                return method_not_allowed();
            }
            let id = query
                .get("id")
                .and_then(|i| i.parse::<u64>().ok())
                .unwrap_or(0);
            return if state.cancel_item(id, now) {
                StatusCode::NO_CONTENT.into_response()
            } else {
                page(
                    StatusCode::NOT_FOUND,
                    &format!("Provided id ({id}) not found"),
                )
            };
        }
        _ => {}
    }
    jobs::route(
        state, caller, method, segs, query, pairs, headers, base, now, full,
    )
}
