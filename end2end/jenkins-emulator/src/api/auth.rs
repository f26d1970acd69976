//! Authentication and crumbs (reference §3): HTTP Basic with an API token or a password, session
//! cookies, and the crumbs POSTs must carry.

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use sha2::Digest;

use crate::model::State;

use super::responses::page;

/// Who is calling.
#[derive(Clone, Debug)]
pub(super) enum Caller {
    Anonymous,
    User { name: String, by_token: bool },
}

impl Caller {
    pub(super) fn name(&self) -> &str {
        match self {
            Caller::Anonymous => "anonymous",
            Caller::User { name, .. } => name,
        }
    }
}

pub(super) fn session_cookie(state: &State, headers: &HeaderMap) -> Option<String> {
    let wanted = format!("JSESSIONID.{}=", state.instance);
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .find_map(|c| c.strip_prefix(&wanted).map(str::to_owned))
}

pub(super) fn crumb_for(state: &State, user: &str, session: &str) -> String {
    let digest = sha2::Sha256::digest(format!("{}:{user}:{session}", state.salt).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

// The error is the whole HTTP response to send back.
#[allow(clippy::result_large_err)]
pub(super) fn authenticate(state: &State, headers: &HeaderMap) -> Result<Caller, Response> {
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return if state.script.users.is_empty() {
            Ok(Caller::Anonymous)
        } else {
            Err(page(
                StatusCode::FORBIDDEN,
                "Access Denied: anonymous is missing the Overall/Read permission",
            ))
        };
    };
    let unauthorized = || {
        let mut r = page(StatusCode::UNAUTHORIZED, "Invalid password/token for user");
        r.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static("Basic realm=\"Jenkins\""),
        );
        r
    };
    let decoded = auth
        .strip_prefix("Basic ")
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(unauthorized)?;
    let (name, secret) = decoded.split_once(':').ok_or_else(unauthorized)?;
    let user = state
        .script
        .users
        .iter()
        .find(|u| u.name == name)
        .ok_or_else(unauthorized)?;
    if user.token.as_deref() == Some(secret) {
        Ok(Caller::User {
            name: name.to_owned(),
            by_token: true,
        })
    } else if user.password.as_deref() == Some(secret) {
        Ok(Caller::User {
            name: name.to_owned(),
            by_token: false,
        })
    } else {
        Err(unauthorized())
    }
}

/// Reference §3: POSTs need a crumb bound to the session, unless authenticated by an API token.
// The error is the whole HTTP response to send back.
#[allow(clippy::result_large_err)]
pub(super) fn check_crumb(
    state: &State,
    caller: &Caller,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(), Response> {
    if !state.script.crumbs || matches!(caller, Caller::User { by_token: true, .. }) {
        return Ok(());
    }
    let given = headers
        .get("jenkins-crumb")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| form.get("Jenkins-Crumb").cloned());
    let valid = match (given, session_cookie(state, headers)) {
        (Some(given), Some(session)) => given == crumb_for(state, caller.name(), &session),
        _ => false,
    };
    if valid {
        Ok(())
    } else {
        Err(page(
            StatusCode::FORBIDDEN,
            "No valid crumb was included in the request",
        ))
    }
}
