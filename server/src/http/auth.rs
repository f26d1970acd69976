//! Signing in and out (`/auth/*`, Gate's `/auth/user`) and the audit log's export. Sessions are
//! cookies: `HttpOnly`, `SameSite=Lax`, `Secure` when the request came over HTTPS.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::identity::AuditQuery;
use domain::{AppError, RequestContext};
use serde::Deserialize;
use serde_json::json;

use super::guard::{self, Credentials};
use super::{AppState, HttpError};
use crate::identity::{LoginError, SESSION_COOKIE};

#[derive(Deserialize)]
pub struct Login {
    username: String,
    password: String,
}

/// The session cookie for `secret`; `None` clears it.
pub fn session_cookie(state: &AppState, headers: &HeaderMap, secret: Option<&str>) -> HeaderValue {
    let secure = if guard::is_https(headers, state.public_url.as_deref()) {
        "; Secure"
    } else {
        ""
    };
    let value = match secret {
        Some(secret) => format!(
            "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            state.accounts.settings().session_max_age.as_secs()
        ),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(""))
}

fn app_error(e: AppError) -> Response {
    let status = StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(e)).into_response()
}

/// `POST /auth/login` with `{"username","password"}`: 204 and a session cookie.
pub async fn login(
    State(state): State<AppState>,
    axum::Extension(rc): axum::Extension<RequestContext>,
    headers: HeaderMap,
    body: Result<Json<Login>, JsonRejection>,
) -> Response {
    let Ok(Json(body)) = body else {
        return app_error(AppError::invalid(
            "username",
            "send {\"username\": ..., \"password\": ...} as JSON",
        ));
    };
    let username = body.username.trim();
    match state
        .accounts
        .login(username, &body.password, &rc.address)
        .await
    {
        Ok((secret, identity)) => {
            let rc = RequestContext {
                caller: domain::Caller::User(identity),
                ..rc
            };
            state
                .accounts
                .record(
                    &rc,
                    "login.success",
                    &format!("user/{username}"),
                    json!({"method": "password"}),
                )
                .await;
            let mut response = StatusCode::NO_CONTENT.into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                session_cookie(&state, &headers, Some(&secret)),
            );
            response
        }
        Err(LoginError::Wrong) => {
            login_failed(&state, &rc, username, "wrong user name or password").await;
            app_error(AppError::Unauthenticated)
        }
        Err(LoginError::Throttled(retry_after)) => {
            login_failed(&state, &rc, username, "throttled").await;
            let mut response = app_error(AppError::Throttled { retry_after });
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            response
        }
        Err(LoginError::Storage(e)) => app_error(crate::applications::internal(&rc, &e)),
    }
}

/// Records a failed sign-in (by nobody, on the user name that was tried).
async fn login_failed(state: &AppState, rc: &RequestContext, username: &str, reason: &str) {
    let attempt = RequestContext {
        caller: domain::Caller::Anonymous,
        ..rc.clone()
    };
    let target = format!("user/{}", username.chars().take(64).collect::<String>());
    state
        .accounts
        .record(
            &attempt,
            "login.failure",
            &target,
            json!({"reason": reason}),
        )
        .await;
}

/// `POST /auth/logout`: ends the session and clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    axum::Extension(rc): axum::Extension<RequestContext>,
    request: axum::extract::Request,
) -> Response {
    if let Credentials::Session(secret) = guard::credentials(&request) {
        if let Err(e) = state.accounts.logout(&secret).await {
            return app_error(crate::applications::internal(&rc, &e));
        }
        if rc.caller.identity().is_some() {
            state
                .accounts
                .record(
                    &rc,
                    "logout",
                    &format!("user/{}", rc.caller.audit_name()),
                    json!({}),
                )
                .await;
        }
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&state, request.headers(), None),
    );
    response
}

/// `GET /auth/methods`: how one may sign in (for the login page).
pub async fn methods(State(state): State<AppState>) -> Json<serde_json::Value> {
    let oidc = state
        .accounts
        .settings()
        .oidc
        .as_ref()
        .map(|o| json!({"name": o.display_name}));
    Json(json!({"password": true, "oidc": oidc}))
}

/// Gate's `GET /auth/user`: who the caller is.
pub async fn gate_user(
    axum::Extension(rc): axum::Extension<RequestContext>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let me = rc.caller.signed_in()?;
    Ok(Json(json!({
        "username": me.username,
        "email": null,
        "roles": me.roles,
        "admin": me.admin,
        "authenticated": true,
    })))
}

/// `GET /api/audit/export?actor=&action=&target=`: the audit log as JSON lines, newest first
/// (admins only; at most 100,000 entries per export).
pub async fn export_audit(
    State(state): State<AppState>,
    axum::Extension(rc): axum::Extension<RequestContext>,
    Query(mut query): Query<AuditQuery>,
) -> Result<Response, HttpError> {
    const MAX_EXPORT: usize = 100_000;
    let mut lines = String::new();
    let mut count = 0;
    query.limit = Some(crate::store::identity::audit::MAX_AUDIT_PAGE);
    loop {
        let page = state.services.identity.audit(&rc, query.clone()).await?;
        let Some(last) = page.last() else { break };
        query.before = Some(last.id);
        for entry in &page {
            lines.push_str(&serde_json::to_string(entry).unwrap_or_default());
            lines.push('\n');
        }
        count += page.len();
        if count >= MAX_EXPORT {
            break;
        }
    }
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"topsail-audit.jsonl\"",
            ),
        ],
        lines,
    )
        .into_response())
}
