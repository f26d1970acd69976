//! The door's checks: whose credentials a request carries, who that is, and whether the request
//! is refused before any handler sees it — cross-site writes (a state change authenticated by
//! cookie must be JSON, and same-origin when the browser says where it comes from) and callers
//! without an identity outside the public routes (deny by default).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use domain::{AppError, Caller, RequestContext};

use super::AppState;
use crate::identity::{Accounts, SESSION_COOKIE};
use crate::store::StoreError;

/// What a request offers to prove who sent it.
pub enum Credentials {
    None,
    /// `Authorization: Bearer <API token>`: scripts, CI, `spin`. Not sent by browsers on their
    /// own, so exempt from the cross-site checks.
    Bearer(String),
    /// The session cookie, which a browser sends by itself.
    Session(String),
}

/// Routes anyone may call: probes, metrics, signing in, the UI's static files, and incoming
/// webhooks (also under Gate's prefix, as Spinnaker's Gate has them; they prove themselves with
/// their own shared secrets).
pub fn is_public(path: &str) -> bool {
    const EXACT: [&str; 9] = [
        "/healthz",
        "/readyz",
        "/metrics",
        "/login",
        "/auth/login",
        "/auth/logout",
        "/auth/methods",
        "/auth/oidc/login",
        "/auth/oidc/callback",
    ];
    EXACT.contains(&path)
        || path == "/favicon.svg"
        || path.starts_with("/pkg/")
        || path.starts_with("/webhooks/")
        || path.starts_with("/gate/webhooks/")
}

/// Paths whose answer never depends on who asks (the bundle, the icon, the probes): their
/// requests are not looked up in the identity store at all.
pub fn needs_no_identity(path: &str) -> bool {
    path.starts_with("/pkg/") || matches!(path, "/favicon.svg" | "/healthz" | "/readyz")
}

pub fn credentials(request: &Request) -> Credentials {
    let headers = request.headers();
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if let Some(token) = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
    {
        return Credentials::Bearer(token.trim().to_owned());
    }
    match cookie(headers, SESSION_COOKIE) {
        Some(secret) if !secret.is_empty() => Credentials::Session(secret),
        _ => Credentials::None,
    }
}

/// The value of the cookie `name` the request carries, if any.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_owned())
}

pub async fn identify(
    accounts: &Accounts,
    credentials: &Credentials,
) -> Result<Caller, StoreError> {
    let found = match credentials {
        Credentials::None => None,
        Credentials::Bearer(token) => accounts.token_caller(token).await?,
        Credentials::Session(secret) => accounts.session_caller(secret).await?,
    };
    Ok(found.map_or(Caller::Anonymous, Caller::User))
}

/// The caller's address: the peer, or — when the peer is a proxy on a private network or this
/// machine (the ingress) — the address it reports in `X-Forwarded-For` (its last hop).
pub fn client_address(request: &Request) -> String {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let forwarded = request
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim)
        .and_then(|v| v.parse::<IpAddr>().ok());
    match (peer, forwarded) {
        (Some(peer), Some(client)) if is_proxy(peer) => client.to_string(),
        (Some(peer), _) => peer.to_string(),
        (None, _) => "unknown".into(),
    }
}

fn is_proxy(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
        IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// Whether the request came over HTTPS (directly, or to the ingress as it says).
pub fn is_https(request_headers: &header::HeaderMap, public_url: Option<&str>) -> bool {
    let forwarded = request_headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    forwarded || public_url.is_some_and(|u| u.starts_with("https://"))
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn is_json(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// `scheme://host[:port]` of a URL, lowercased.
fn origin_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!("{}://{}", scheme.to_lowercase(), host.to_lowercase())
}

/// Whether an `Origin` header names this server: the host the request was sent to, or the
/// public URL.
fn same_origin(origin: &str, request: &Request, public_url: Option<&str>) -> bool {
    let origin = origin.trim().to_lowercase();
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_lowercase();
    let by_host = ["http", "https"]
        .iter()
        .any(|scheme| !host.is_empty() && origin == format!("{scheme}://{host}"));
    by_host || public_url.is_some_and(|u| origin == origin_of(u))
}

fn refusal(status: StatusCode, error: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": error, "message": message});
    (status, axum::Json(body)).into_response()
}

/// A request the door answers itself, or `None` to let it through.
pub fn refuse(
    state: &AppState,
    request: &Request,
    rc: &RequestContext,
    credentials: &Credentials,
) -> Option<Response> {
    let path = request.uri().path();
    let by_browser = !matches!(credentials, Credentials::Bearer(_));
    let webhook = path.starts_with("/webhooks/") || path.starts_with("/gate/webhooks/");
    if by_browser && changes_state(request.method()) && !webhook {
        if !is_json(request) {
            return Some(refusal(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupportedMediaType",
                "send JSON (Content-Type: application/json)",
            ));
        }
        let origin = request
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok());
        if let Some(origin) = origin
            && !same_origin(origin, request, state.public_url.as_deref())
        {
            tracing::warn!(request_id = %rc.request_id, origin, "refused a cross-site request");
            return Some(refusal(
                StatusCode::FORBIDDEN,
                "forbidden",
                "cross-site requests are refused",
            ));
        }
    }
    if matches!(rc.caller, Caller::Anonymous) && !is_public(path) {
        return Some(unauthenticated(request));
    }
    None
}

/// The identity store did not answer: 503, so clients retry instead of signing in again.
pub fn unavailable() -> Response {
    refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "sign-in is not available right now; try again shortly",
    )
}

/// No identity: a page goes to the login page (and comes back after), anything else is 401.
fn unauthenticated(request: &Request) -> Response {
    let path = request.uri().path();
    let wants_page = request.method() == Method::GET
        && !path.starts_with("/api/")
        && !path.starts_with("/gate/")
        && !path.starts_with("/auth/")
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
    if wants_page {
        let next = request.uri().path_and_query().map_or("/", |p| p.as_str());
        return Redirect::to(&format!("/login?next={}", encode_component(next))).into_response();
    }
    if path.starts_with("/gate/") {
        return super::HttpError::App(AppError::Unauthenticated).into_response();
    }
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(AppError::Unauthenticated),
    )
        .into_response()
}

/// Percent-encodes everything but unreserved characters.
pub fn encode_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> Request {
        let mut b = axum::http::Request::builder().method(method).uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn only_probes_sign_in_static_files_and_webhooks_are_public() {
        for p in [
            "/healthz",
            "/login",
            "/auth/login",
            "/pkg/topsail.js",
            "/webhooks/webhook/x",
        ] {
            assert!(is_public(p), "{p}");
        }
        for p in [
            "/",
            "/applications",
            "/api/applications/list",
            "/gate/applications",
            "/api/executions/stream",
            "/loginx",
            "/pkgs",
        ] {
            assert!(!is_public(p), "{p}");
        }
        // Of the public ones, only these skip the identity lookup; every one of them is public.
        for p in ["/pkg/topsail.js", "/favicon.svg", "/healthz", "/readyz"] {
            assert!(needs_no_identity(p) && is_public(p), "{p}");
        }
        for p in [
            "/login",
            "/auth/login",
            "/webhooks/webhook/x",
            "/metrics",
            "/pkgs",
        ] {
            assert!(!needs_no_identity(p), "{p}");
        }
    }

    #[test]
    fn a_bearer_token_wins_over_the_cookie() {
        let r = request(
            "GET",
            "/",
            &[
                ("cookie", "a=b; topsail_session=s1"),
                ("authorization", "Bearer tps_x"),
            ],
        );
        assert!(matches!(credentials(&r), Credentials::Bearer(t) if t == "tps_x"));
        let r = request("GET", "/", &[("cookie", "a=b; topsail_session=s1")]);
        assert!(matches!(credentials(&r), Credentials::Session(s) if s == "s1"));
        let r = request("GET", "/", &[("cookie", "topsail_session=")]);
        assert!(matches!(credentials(&r), Credentials::None));
    }

    #[test]
    fn origins_match_the_host_or_the_public_url() {
        let r = request("POST", "/api/x", &[("host", "topsail.example:8080")]);
        assert!(same_origin("http://topsail.example:8080", &r, None));
        assert!(same_origin("HTTPS://Topsail.example:8080", &r, None));
        assert!(!same_origin("http://evil.example", &r, None));
        assert!(same_origin(
            "https://cd.corp",
            &r,
            Some("https://cd.corp/topsail")
        ));
        assert!(!same_origin(
            "https://cd.corp.evil",
            &r,
            Some("https://cd.corp")
        ));
    }

    #[test]
    fn the_client_address_comes_from_a_proxy_only_when_the_peer_is_one() {
        let mut r = request("GET", "/", &[("x-forwarded-for", "203.0.113.9, 10.0.0.7")]);
        r.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 2], 4000))));
        assert_eq!(client_address(&r), "10.0.0.7");
        let mut r = request("GET", "/", &[("x-forwarded-for", "203.0.113.9")]);
        r.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([198, 51, 100, 1], 4000))));
        assert_eq!(
            client_address(&r),
            "198.51.100.1",
            "a public peer cannot claim another address"
        );
    }

    #[test]
    fn next_paths_are_encoded() {
        assert_eq!(encode_component("/a b?x=1&y=2"), "%2Fa%20b%3Fx%3D1%26y%3D2");
    }
}
