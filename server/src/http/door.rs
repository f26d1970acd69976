//! The one door every request passes through: it gives the request an id, establishes who the
//! caller is (session cookie or API token, see [`crate::identity::Accounts`]), refuses
//! cross-site writes and every caller without an identity outside the public routes (deny by
//! default), puts the request context on the request for every handler and server function,
//! and records the request in the logs and metrics. What an identified caller may do is decided
//! by the services, for every way in alike.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use domain::{Caller, RequestContext};
use tracing::Instrument;

use super::AppState;
use super::guard;

const REQUEST_ID_HEADER: &str = "x-request-id";

/// Sent with every response unless a handler set them already.
const SECURITY_HEADERS: [(&str, &str); 3] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
];

/// The route a request matched (its pattern, e.g. `/applications/{name}`), for metrics.
#[derive(Clone)]
struct RouteLabel(String);

/// A request id: the one the ingress sent (if it is sane), else a fresh random one.
fn request_id(request: &Request) -> String {
    let incoming = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok());
    match incoming {
        Some(id)
            if !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            id.to_owned()
        }
        _ => crate::ids::short_id(),
    }
}

/// Requests that matched no route are labelled by kind, so labels stay few.
fn unmatched_label(path: &str) -> &'static str {
    if path == "/favicon.svg" {
        "static"
    } else {
        "unmatched"
    }
}

pub async fn door(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&request);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let credentials = if guard::needs_no_identity(&path) {
        guard::Credentials::None
    } else {
        guard::credentials(&request)
    };
    let (caller, store_down) = match guard::identify(&state.accounts, &credentials).await {
        Ok(caller) => (caller, false),
        Err(e) => {
            tracing::error!(request_id = %id, error = %e, "the identity store is not answering");
            (Caller::Anonymous, true)
        }
    };
    let span = tracing::info_span!("request", id = %id, method = %method, path = %path, caller = caller.audit_name());
    let rc = RequestContext {
        request_id: id.clone(),
        address: guard::client_address(&request),
        user_agent: request
            .headers()
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect(),
        caller,
    };
    // Credentials that could not be checked are not "no identity": say the server is unwell.
    let refused = if store_down && !guard::is_public(&path) {
        Some(guard::unavailable())
    } else {
        guard::refuse(&state, &request, &rc, &credentials)
    };
    request.extensions_mut().insert(rc);

    let mut response = match refused {
        Some(refusal) => refusal,
        None => next.run(request).instrument(span.clone()).await,
    };
    if response.status().is_server_error() && path.starts_with("/api/") {
        response = with_the_errors_status(response).await;
    }

    let elapsed = started.elapsed();
    let status = response.status();
    let route = match response.extensions().get::<RouteLabel>() {
        Some(RouteLabel(route)) => route.clone(),
        None => unmatched_label(&path).to_owned(),
    };
    state
        .metrics
        .observe(method.as_str(), &route, status.as_u16(), elapsed);
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    for (name, value) in SECURITY_HEADERS {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    span.in_scope(|| {
        let ms = elapsed.as_secs_f64() * 1000.0;
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), ms, "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), ms, "request done");
        }
    });
    response
}

/// A server function that failed before its body ran (its arguments did not decode) is answered
/// by Leptos with 500 whatever the error; the error's own status is the one to send.
async fn with_the_errors_status(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        parts.status = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    if let Ok(error) = serde_json::from_slice::<domain::AppError>(&bytes)
        && let Ok(status) = axum::http::StatusCode::from_u16(error.status_code())
    {
        parts.status = status;
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Runs inside routing (as a route layer), where the matched route is known.
pub async fn tag_route(request: Request, next: Next) -> Response {
    let label = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| RouteLabel(m.as_str().to_owned()));
    let mut response = next.run(request).await;
    if let Some(label) = label {
        response.extensions_mut().insert(label);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_header(value: Option<&str>) -> Request {
        let mut b = axum::http::Request::builder();
        if let Some(v) = value {
            b = b.header(REQUEST_ID_HEADER, v);
        }
        b.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn keeps_a_sane_incoming_request_id_and_replaces_others() {
        assert_eq!(request_id(&with_header(Some("abc-123_X"))), "abc-123_X");
        for bad in [Some(""), Some("has space"), Some(&"x".repeat(65)[..]), None] {
            let id = request_id(&with_header(bad));
            assert_eq!(id.len(), 16, "{bad:?}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert_ne!(
            request_id(&with_header(None)),
            request_id(&with_header(None))
        );
    }
}
