//! Server functions for who is signed in, users, API tokens and the audit log (admins see
//! everyone's; the service decides). Signing in and out are HTTP routes of the server, not server
//! functions: they set and clear the session cookie.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use super::{ApiError, JsonAnswer};
use crate::model::Identity;
use crate::model::identity::{
    AuditEntry, AuditQuery, CreatedToken, NewToken, NewUser, TokenSummary, UserSummary,
};
#[cfg(feature = "ssr")]
use crate::services;

/// The caller, as the user menu shows them.
#[server(prefix = "/api", endpoint = "auth/me", input = Json, output = JsonAnswer)]
pub async fn me() -> Result<Identity, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.identity.me(&rc).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "users/list", input = Json, output = JsonAnswer)]
pub async fn list_users() -> Result<Vec<UserSummary>, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.identity.users(&rc).await
        }
        .await,
    )
}

/// Adds a local user: `{"user": {"username", "password", "admin", "roles"}}`.
#[server(prefix = "/api", endpoint = "users/add", input = Json, output = JsonAnswer)]
pub async fn add_user(user: NewUser) -> Result<UserSummary, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.identity.add_user(&rc, user).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "users/delete", input = Json, output = JsonAnswer)]
pub async fn delete_user(username: String) -> Result<(), ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.identity.delete_user(&rc, &username).await
        }
        .await,
    )
}

/// Sets a local user's password (an admin's reset, or one's own).
#[server(prefix = "/api", endpoint = "users/password", input = Json, output = JsonAnswer)]
pub async fn set_password(username: String, password: String) -> Result<(), ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services
                .identity
                .set_password(&rc, &username, &password)
                .await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "tokens/list", input = Json, output = JsonAnswer)]
pub async fn list_tokens() -> Result<Vec<TokenSummary>, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.identity.tokens(&rc).await
        }
        .await,
    )
}

/// A new API token: `{"token": {"name", "username", "expiresInDays"}}`; its secret is in this
/// answer only.
#[server(prefix = "/api", endpoint = "tokens/create", input = Json, output = JsonAnswer)]
pub async fn create_token(token: NewToken) -> Result<CreatedToken, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.identity.create_token(&rc, token).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "tokens/revoke", input = Json, output = JsonAnswer)]
pub async fn revoke_token(id: String) -> Result<(), ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.identity.revoke_token(&rc, &id).await
        }
        .await,
    )
}

/// The audit log, newest first: `{"query": {"actor", "action", "target", "before", "limit"}}`.
#[server(prefix = "/api", endpoint = "audit/list", input = Json, output = JsonAnswer)]
pub async fn audit_log(query: AuditQuery) -> Result<Vec<AuditEntry>, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.identity.audit(&rc, query).await
        }
        .await,
    )
}
