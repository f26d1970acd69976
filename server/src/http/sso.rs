//! Single sign-on routes: `GET /auth/oidc/login?next=/path` sends the browser to the OpenID
//! provider (authorization code + PKCE); `GET /auth/oidc/callback` takes the code back, opens a
//! session and returns to `next`. The pending sign-in (state, nonce, PKCE verifier, `next`) is
//! kept in the database for ten minutes and usable once, so any replica can finish it; the
//! browser that started it holds its state in a short-lived cookie, and only that browser can
//! finish it (so nobody can sign someone else in as themselves with their own callback URL).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use domain::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppState;
use super::auth::session_cookie;
use crate::identity::PENDING_LOGIN_MS;
use crate::identity::oidc::PendingLogin;

/// The cookie binding a pending sign-in to the browser that started it.
const STATE_COOKIE: &str = "topsail_sso_state";

fn state_cookie(headers: &HeaderMap) -> Option<String> {
    super::guard::cookie(headers, STATE_COOKIE)
}

#[derive(Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    next: String,
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    iss: Option<String>,
    error: Option<String>,
}

/// What is kept between the two routes.
#[derive(Serialize, Deserialize)]
struct Pending {
    login: PendingLogin,
    next: String,
    redirect_uri: String,
}

/// A same-site path to return to (anything else goes to `/`).
pub fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    if ok { next.to_owned() } else { "/".to_owned() }
}

fn page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>Sign-in failed</title><p>{}</p><p><a href=\"/login\">Back to sign-in</a></p>",
        message.replace('&', "&amp;").replace('<', "&lt;")
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Where the provider sends the browser back: under the public URL, else the host asked for.
fn redirect_uri(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(public) = &state.public_url {
        return format!("{}/auth/oidc/callback", public.trim_end_matches('/'));
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if super::guard::is_https(headers, None) {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}/auth/oidc/callback")
}

pub async fn login(
    State(state): State<AppState>,
    axum::Extension(rc): axum::Extension<RequestContext>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let Some(sso) = state.accounts.sso() else {
        return page(StatusCode::NOT_FOUND, "Single sign-on is not configured.");
    };
    let redirect_uri = redirect_uri(&state, &headers);
    let (url, login) = match sso.begin(&redirect_uri).await {
        Ok(started) => started,
        Err(e) => {
            tracing::warn!(request_id = %rc.request_id, error = %e, "single sign-on could not start");
            return page(StatusCode::SERVICE_UNAVAILABLE, e.public_message());
        }
    };
    let pending = Pending {
        next: safe_next(&q.next),
        redirect_uri,
        login,
    };
    let stored = state
        .accounts
        .store()
        .put_pending_login(
            &pending.login.state,
            &serde_json::to_string(&pending).unwrap_or_default(),
            chrono::Utc::now().timestamp_millis(),
        )
        .await;
    if let Err(e) = stored {
        tracing::error!(request_id = %rc.request_id, error = %e, "keeping a pending sign-in failed");
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in is not available right now.",
        );
    }
    let mut response = Redirect::to(&url).into_response();
    let secure = if super::guard::is_https(&headers, state.public_url.as_deref()) {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{STATE_COOKIE}={}; Path=/auth/oidc; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        pending.login.state,
        PENDING_LOGIN_MS / 1000
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

pub async fn callback(
    State(state): State<AppState>,
    axum::Extension(rc): axum::Extension<RequestContext>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let Some(sso) = state.accounts.sso() else {
        return page(StatusCode::NOT_FOUND, "Single sign-on is not configured.");
    };
    let refused = |reason: &str| {
        let rc = rc.clone();
        let accounts = state.accounts.clone();
        let reason = reason.to_owned();
        async move {
            accounts
                .record(
                    &rc,
                    "login.failure",
                    "sso",
                    json!({"method": "oidc", "reason": reason}),
                )
                .await;
            page(
                StatusCode::FORBIDDEN,
                &format!("Single sign-on failed: {reason}."),
            )
        }
    };
    let same_browser = state_cookie(&headers).is_some_and(|s| {
        crate::identity::secrets::constant_time_eq(s.as_bytes(), q.state.as_bytes())
    });
    if !same_browser {
        return refused("this sign-in was not started in this browser; start again").await;
    }
    if let Some(error) = &q.error {
        return refused(&format!(
            "the provider said {}",
            error.chars().take(100).collect::<String>()
        ))
        .await;
    }
    let taken = state.accounts.store().take_pending_login(&q.state).await;
    let pending = match taken {
        Ok(Some((text, created)))
            if chrono::Utc::now().timestamp_millis() - created < PENDING_LOGIN_MS =>
        {
            serde_json::from_str::<Pending>(&text).ok()
        }
        Ok(_) => None,
        Err(e) => {
            tracing::error!(request_id = %rc.request_id, error = %e, "reading a pending sign-in failed");
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in is not available right now.",
            );
        }
    };
    let Some(pending) = pending else {
        return refused("this sign-in expired or was already used; start again").await;
    };
    let issuer = state
        .accounts
        .settings()
        .oidc
        .as_ref()
        .map(|o| o.issuer.trim_end_matches('/').to_owned())
        .unwrap_or_default();
    if q.iss
        .as_ref()
        .is_some_and(|iss| iss.trim_end_matches('/') != issuer)
    {
        return refused("the answer came from another issuer").await;
    }
    let user = match sso
        .finish(&pending.login, &q.code, &pending.redirect_uri)
        .await
    {
        Ok(user) => user,
        Err(e) => {
            tracing::warn!(request_id = %rc.request_id, error = %e, "single sign-on refused");
            return refused(e.public_message()).await;
        }
    };
    let opened = match state.accounts.sso_session(&user).await {
        Ok(Some(opened)) => opened,
        Ok(None) => return refused("a local user has this name").await,
        Err(e) => {
            tracing::error!(request_id = %rc.request_id, error = %e, "opening a session failed");
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in is not available right now.",
            );
        }
    };
    let (secret, identity) = opened;
    let rc = RequestContext {
        caller: domain::Caller::User(identity),
        ..rc
    };
    state
        .accounts
        .record(
            &rc,
            "login.success",
            &format!("user/{}", user.username),
            json!({"method": "oidc", "groups": user.groups}),
        )
        .await;
    let mut response = Redirect::to(&pending.next).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&state, &headers, Some(&secret)),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_same_site_paths_are_returned_to() {
        assert_eq!(
            safe_next("/applications/shop?tab=x"),
            "/applications/shop?tab=x"
        );
        for bad in [
            "",
            "https://evil.example",
            "//evil.example",
            "/\\evil",
            "javascript:x",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad}");
        }
    }
}
