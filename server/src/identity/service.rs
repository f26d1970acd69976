//! The identity service the UI and the API call: who am I, users, tokens, the audit log. Every
//! change is checked here (admins manage users and see the audit log; everyone manages their
//! own tokens) and recorded in the audit log.

use async_trait::async_trait;
use domain::identity::UserSummary;
use domain::identity::{AuditEntry, AuditQuery, CreatedToken, NewToken, NewUser, TokenSummary};
use domain::services::IdentityService;
use domain::{AppError, Identity, RequestContext};
use serde_json::json;

use super::{Accounts, storage};

/// An API token cannot make more tokens or change a password: a leaked token must not outlive
/// its expiry or lock its owner out.
fn refuse_tokens(me: &Identity) -> Result<(), AppError> {
    if me.method == domain::identity::AuthMethod::Token {
        return Err(AppError::Forbidden {
            message: "sign in (not with an API token) to manage tokens and passwords".into(),
        });
    }
    Ok(())
}

#[async_trait]
impl IdentityService for Accounts {
    async fn me(&self, rc: &RequestContext) -> Result<Identity, AppError> {
        rc.caller.signed_in().cloned()
    }

    async fn users(&self, rc: &RequestContext) -> Result<Vec<UserSummary>, AppError> {
        rc.caller.require_admin()?;
        self.all_users().await.map_err(storage)
    }

    async fn add_user(&self, rc: &RequestContext, new: NewUser) -> Result<UserSummary, AppError> {
        rc.caller.require_admin()?;
        let added = self.add_local_user(&new).await?;
        self.record(
            rc,
            "user.add",
            &format!("user/{}", added.username),
            json!({"admin": added.admin, "roles": added.roles}),
        )
        .await;
        Ok(added)
    }

    async fn delete_user(&self, rc: &RequestContext, username: &str) -> Result<(), AppError> {
        let me = rc.caller.require_admin()?;
        if me.username == username {
            return Err(AppError::Conflict {
                message: "you cannot delete yourself".into(),
            });
        }
        if !self.remove_user(username).await.map_err(storage)? {
            return Err(AppError::NotFound {
                what: format!("user '{username}'"),
            });
        }
        self.record(rc, "user.delete", &format!("user/{username}"), json!({}))
            .await;
        Ok(())
    }

    async fn set_password(
        &self,
        rc: &RequestContext,
        username: &str,
        password: &str,
    ) -> Result<(), AppError> {
        let me = rc.caller.signed_in()?;
        refuse_tokens(me)?;
        if me.username != username {
            rc.caller.require_admin()?;
        }
        self.change_password(username, password, None).await?;
        self.record(rc, "user.password", &format!("user/{username}"), json!({}))
            .await;
        Ok(())
    }

    async fn tokens(&self, rc: &RequestContext) -> Result<Vec<TokenSummary>, AppError> {
        let me = rc.caller.signed_in()?;
        let whose = (!me.admin).then_some(me.username.as_str());
        self.tokens_of(whose).await.map_err(storage)
    }

    async fn create_token(
        &self,
        rc: &RequestContext,
        new: NewToken,
    ) -> Result<CreatedToken, AppError> {
        let me = rc.caller.signed_in()?;
        refuse_tokens(me)?;
        let whose = match new.username.trim() {
            "" => me.username.clone(),
            other if other == me.username => other.to_owned(),
            other => {
                rc.caller.require_admin()?;
                other.to_owned()
            }
        };
        let created = self
            .issue_token(&whose, &new.name, new.expires_in_days)
            .await?;
        self.record(
            rc,
            "token.create",
            &format!("token/{}", created.summary.id),
            json!({"name": created.summary.name, "user": whose, "expiresAt": created.summary.expires_at}),
        )
        .await;
        Ok(created)
    }

    async fn revoke_token(&self, rc: &RequestContext, id: &str) -> Result<(), AppError> {
        let me = rc.caller.signed_in()?;
        let not_found = || AppError::NotFound {
            what: format!("token '{id}'"),
        };
        let token = self
            .store
            .token(id)
            .await
            .map_err(storage)?
            .ok_or_else(not_found)?;
        if token.username != me.username && !me.admin {
            return Err(not_found());
        }
        self.store.delete_token(id).await.map_err(storage)?;
        self.record(
            rc,
            "token.revoke",
            &format!("token/{id}"),
            json!({"name": token.name, "user": token.username}),
        )
        .await;
        Ok(())
    }

    async fn audit(
        &self,
        rc: &RequestContext,
        query: AuditQuery,
    ) -> Result<Vec<AuditEntry>, AppError> {
        rc.caller.require_admin()?;
        self.store.audit(&query).await.map_err(storage)
    }
}
