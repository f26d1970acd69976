//! Identity and access (Spinnaker's Gate authentication and Fiat authorization in one place):
//! local users with Argon2id passwords, sessions kept in the database (so they hold across
//! replicas and restarts), API tokens, sign-in throttling, the first admin, single sign-on
//! ([`oidc`]), and the audit log. The request door (`http::door`) asks [`Accounts`] who a
//! request's caller is; the services ask the caller's [`domain::Caller`] whether they may.

pub mod cli;
mod login;
pub mod oidc;
pub mod secrets;
mod service;

use std::path::{Path, PathBuf};

use domain::identity::{AuthMethod, UserSummary, check_password, check_username, parse_roles};
use domain::{AppError, Identity, RequestContext};

use crate::config::AuthConfig;
use crate::store::identity::{AuditRow, SessionRow, TokenRow, UserRow};
use crate::store::{Store, StoreError};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "topsail_session";
/// Where the first admin's password is written, in the data directory.
pub const INITIAL_PASSWORD_FILE: &str = "initial-admin-password";
/// What API tokens start with (so a leaked one is recognisable in logs and scanners).
pub const TOKEN_PREFIX: &str = "tps_";

/// Sessions and tokens are marked as used at most this often (a write per request is waste).
const TOUCH_EVERY_MS: i64 = 60_000;
/// A single sign-on login must come back within this long.
pub const PENDING_LOGIN_MS: i64 = 10 * 60_000;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn at(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Whether a session is alive at `now`: before its absolute end, and used within `idle_ms`.
fn is_alive(session: &SessionRow, now: i64, idle_ms: i64) -> bool {
    session.expires_at_ms > now && session.last_seen_at_ms.saturating_add(idle_ms) > now
}

/// Why a sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("wrong user name or password")]
    Wrong,
    #[error("too many failed sign-ins; retry after {0} s")]
    Throttled(u64),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// Who the caller is, from their session cookie or API token.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
    settings: AuthConfig,
    /// The OpenID provider, when single sign-on is configured.
    sso: Option<std::sync::Arc<oidc::OidcClient>>,
    /// Password checks running at once (each Argon2id check takes 19 MiB and a core).
    verifying: std::sync::Arc<tokio::sync::Semaphore>,
}

impl UserRow {
    fn identity(&self, method: AuthMethod) -> Identity {
        Identity {
            username: self.username.clone(),
            roles: self.roles.clone(),
            admin: self.admin,
            method,
        }
    }

    fn summary(&self) -> UserSummary {
        UserSummary {
            username: self.username.clone(),
            roles: self.roles.clone(),
            admin: self.admin,
            source: self.source.clone(),
            created_at: at(self.created_at_ms),
            last_login_at: self.last_login_at_ms.map(at),
        }
    }
}

fn method_text(m: AuthMethod) -> &'static str {
    match m {
        AuthMethod::Password => "password",
        AuthMethod::Oidc => "oidc",
        AuthMethod::Token => "token",
        AuthMethod::Local => "local",
    }
}

impl Accounts {
    pub fn new(store: Store, settings: AuthConfig) -> Self {
        let sso = settings.oidc.as_ref().and_then(|o| {
            let mut s = oidc::OidcSettings::new(
                &o.issuer,
                &o.client_id,
                o.client_secret.as_ref().map_or("", |s| s.expose()),
            );
            s.scopes = o.scopes.clone();
            s.username_claim = o.username_claim.clone();
            s.groups_claim = o.groups_claim.clone();
            match oidc::OidcClient::new(s) {
                Ok(client) => Some(std::sync::Arc::new(client)),
                Err(e) => {
                    tracing::error!(error = %e, "single sign-on is misconfigured and stays off");
                    None
                }
            }
        });
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            store,
            settings,
            sso,
            verifying: std::sync::Arc::new(tokio::sync::Semaphore::new(cores)),
        }
    }

    /// The OpenID provider, when single sign-on is configured.
    pub fn sso(&self) -> Option<&oidc::OidcClient> {
        self.sso.as_deref()
    }

    /// A single sign-on user came back from the provider: their roles are their groups (those
    /// that are valid role names), admin when one is an admin group. Opens a session; `None`
    /// when a local user already has that name (a provider cannot take over a local account).
    pub async fn sso_session(
        &self,
        user: &oidc::OidcUser,
    ) -> Result<Option<(String, Identity)>, StoreError> {
        let admin_groups = self
            .settings
            .oidc
            .as_ref()
            .map(|o| o.admin_groups.clone())
            .unwrap_or_default();
        let roles: Vec<String> = user
            .groups
            .iter()
            .filter(|g| domain::identity::check_role(g).is_ok())
            .cloned()
            .collect();
        let admin = user.groups.iter().any(|g| admin_groups.contains(g));
        if check_username(&user.username).is_err()
            || !self
                .store
                .upsert_sso_user(&user.username, &roles, admin, now_ms())
                .await?
        {
            return Ok(None);
        }
        let secret = self.start_session(&user.username, AuthMethod::Oidc).await?;
        Ok(Some((
            secret,
            Identity {
                username: user.username.clone(),
                roles,
                admin,
                method: AuthMethod::Oidc,
            },
        )))
    }

    pub fn settings(&self) -> &AuthConfig {
        &self.settings
    }

    /// First start: when no user exists (a new installation, or one upgraded from a release
    /// without users), creates `admin` with a random password written to
    /// `<data_dir>/initial-admin-password` (mode 0600). Returns the file when it did.
    pub async fn ensure_admin(&self, data_dir: &Path) -> Result<Option<PathBuf>, StartupError> {
        if self.store.count_users().await? > 0 {
            return Ok(None);
        }
        let password = secrets::random_password();
        let row = UserRow {
            username: "admin".into(),
            password_hash: Some(secrets::hash_password(&password)),
            admin: true,
            roles: Vec::new(),
            source: "local".into(),
            created_at_ms: now_ms(),
            last_login_at_ms: None,
        };
        match self.store.insert_user(&row).await {
            // Another replica created it first: its file is the one that counts.
            Err(StoreError::Conflict) => return Ok(None),
            other => other?,
        }
        // Written after the user exists; if writing fails, `topsail user reset-password admin`
        // makes a new password.
        let file = write_password_file(data_dir, &password)?;
        tracing::warn!(file = %file.display(), "created the user 'admin'; its password is in this file (read it, sign in, then delete the file or change the password)");
        Ok(Some(file))
    }

    /// Opens a session for `username`; returns the cookie's secret.
    pub async fn start_session(
        &self,
        username: &str,
        method: AuthMethod,
    ) -> Result<String, StoreError> {
        let now = now_ms();
        let secret = secrets::random_secret();
        let max_age = i64::try_from(self.settings.session_max_age.as_millis()).unwrap_or(i64::MAX);
        self.store
            .insert_session(&SessionRow {
                id_hash: secrets::sha256_hex(&secret),
                username: username.to_owned(),
                method: method_text(method).into(),
                created_at_ms: now,
                last_seen_at_ms: now,
                expires_at_ms: now.saturating_add(max_age),
            })
            .await?;
        self.store.record_login(username, now).await?;
        Ok(secret)
    }

    /// The caller behind a session cookie, if the session is alive (idle and absolute expiry).
    pub async fn session_caller(&self, secret: &str) -> Result<Option<Identity>, StoreError> {
        if secret.is_empty() || secret.len() > 128 {
            return Ok(None);
        }
        let id_hash = secrets::sha256_hex(secret);
        let Some(session) = self.store.session(&id_hash).await? else {
            return Ok(None);
        };
        let now = now_ms();
        let idle =
            i64::try_from(self.settings.session_idle_timeout.as_millis()).unwrap_or(i64::MAX);
        if !is_alive(&session, now, idle) {
            self.store.delete_session(&id_hash).await?;
            return Ok(None);
        }
        let Some(user) = self.store.user(&session.username).await? else {
            return Ok(None);
        };
        if now - session.last_seen_at_ms >= TOUCH_EVERY_MS.min(idle / 4) {
            self.store.touch_session(&id_hash, now).await?;
        }
        let method = if session.method == "oidc" {
            AuthMethod::Oidc
        } else {
            AuthMethod::Password
        };
        Ok(Some(user.identity(method)))
    }

    /// The caller behind an API token, if it exists and has not expired.
    pub async fn token_caller(&self, token: &str) -> Result<Option<Identity>, StoreError> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
            return Ok(None);
        }
        let Some(row) = self
            .store
            .token_by_hash(&secrets::sha256_hex(token))
            .await?
        else {
            return Ok(None);
        };
        let now = now_ms();
        if row.expires_at_ms.is_some_and(|e| e <= now) {
            return Ok(None);
        }
        let Some(user) = self.store.user(&row.username).await? else {
            return Ok(None);
        };
        if row
            .last_used_at_ms
            .is_none_or(|t| now - t >= TOUCH_EVERY_MS)
        {
            self.store.touch_token(&row.id, now).await?;
        }
        Ok(Some(user.identity(AuthMethod::Token)))
    }

    /// Ends the session of this cookie.
    pub async fn logout(&self, secret: &str) -> Result<(), StoreError> {
        self.store
            .delete_session(&secrets::sha256_hex(secret))
            .await
    }

    /// Removes ended sessions, stale pending sign-ins and audit entries past their retention.
    pub async fn prune(&self) -> Result<(), StoreError> {
        let now = now_ms();
        let idle =
            i64::try_from(self.settings.session_idle_timeout.as_millis()).unwrap_or(i64::MAX);
        self.store
            .prune_sessions(now, now.saturating_sub(idle), now - PENDING_LOGIN_MS)
            .await?;
        let keep = i64::from(self.settings.audit_retention_days) * 86_400_000;
        self.store.prune_audit(now - keep).await?;
        Ok(())
    }

    /// Appends to the audit log; a failure to write it is logged (the change already happened).
    pub async fn record(
        &self,
        rc: &RequestContext,
        action: &str,
        target: &str,
        summary: serde_json::Value,
    ) {
        let row = AuditRow {
            at_ms: now_ms(),
            actor: rc.caller.audit_name().to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            summary,
            address: rc.address.clone(),
            user_agent: rc.user_agent.clone(),
            request_id: rc.request_id.clone(),
        };
        if let Err(e) = self.store.append_audit(row).await {
            tracing::error!(request_id = %rc.request_id, error = %e, action, "the audit log could not be written");
        }
    }

    /// Adds a local user (validated: name, password, roles).
    pub async fn add_local_user(
        &self,
        new: &domain::identity::NewUser,
    ) -> Result<UserSummary, AppError> {
        let mut errors = Vec::new();
        if let Err(e) = check_username(new.username.trim()) {
            errors.push(e);
        }
        if let Err(e) = check_password(&new.password) {
            errors.push(e);
        }
        let roles = parse_roles("roles", &new.roles)
            .map_err(|e| errors.push(e))
            .ok();
        if !errors.is_empty() {
            return Err(AppError::Invalid { fields: errors });
        }
        let password = new.password.clone();
        let hash = tokio::task::spawn_blocking(move || secrets::hash_password(&password))
            .await
            .map_err(|_| AppError::Unavailable {
                message: "could not hash the password".into(),
            })?;
        let row = UserRow {
            username: new.username.trim().to_owned(),
            password_hash: Some(hash),
            admin: new.admin,
            roles: roles.unwrap_or_default(),
            source: "local".into(),
            created_at_ms: now_ms(),
            last_login_at_ms: None,
        };
        match self.store.insert_user(&row).await {
            Ok(()) => Ok(row.summary()),
            Err(StoreError::Conflict) => Err(AppError::AlreadyExists {
                field: "username".into(),
                message: format!("user '{}' already exists", row.username),
            }),
            Err(e) => Err(storage(e)),
        }
    }

    /// Sets a local user's password and ends their sessions (but `keep`).
    pub async fn change_password(
        &self,
        username: &str,
        password: &str,
        keep: Option<&str>,
    ) -> Result<(), AppError> {
        check_password(password).map_err(|e| AppError::Invalid { fields: vec![e] })?;
        let password = password.to_owned();
        let hash = tokio::task::spawn_blocking(move || secrets::hash_password(&password))
            .await
            .map_err(|_| AppError::Unavailable {
                message: "could not hash the password".into(),
            })?;
        let keep = keep.map(secrets::sha256_hex);
        match self
            .store
            .set_password_hash(username, &hash, keep.as_deref())
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(AppError::NotFound {
                what: format!("local user '{username}'"),
            }),
            Err(e) => Err(storage(e)),
        }
    }

    pub async fn all_users(&self) -> Result<Vec<UserSummary>, StoreError> {
        Ok(self
            .store
            .users()
            .await?
            .iter()
            .map(UserRow::summary)
            .collect())
    }

    pub async fn remove_user(&self, username: &str) -> Result<bool, StoreError> {
        self.store.delete_user(username).await
    }

    /// A new API token for `username`, valid for `days` (forever when `None`).
    pub async fn issue_token(
        &self,
        username: &str,
        name: &str,
        days: Option<u32>,
    ) -> Result<domain::identity::CreatedToken, AppError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(AppError::invalid("name", "1 to 100 characters"));
        }
        if days.is_some_and(|d| d == 0 || d > 3650) {
            return Err(AppError::invalid(
                "expiresInDays",
                "1 to 3650 days, or none",
            ));
        }
        match self.store.user(username).await.map_err(storage)? {
            Some(_) => {}
            None => {
                return Err(AppError::NotFound {
                    what: format!("user '{username}'"),
                });
            }
        }
        let token = format!("{TOKEN_PREFIX}{}", secrets::random_secret());
        let now = now_ms();
        let row = TokenRow {
            id: crate::ids::short_id(),
            name: name.to_owned(),
            username: username.to_owned(),
            secret_hash: secrets::sha256_hex(&token),
            created_at_ms: now,
            expires_at_ms: days.map(|d| now + i64::from(d) * 86_400_000),
            last_used_at_ms: None,
        };
        self.store.insert_token(&row).await.map_err(storage)?;
        Ok(domain::identity::CreatedToken {
            token,
            summary: token_summary(&row),
        })
    }

    pub async fn tokens_of(
        &self,
        username: Option<&str>,
    ) -> Result<Vec<domain::identity::TokenSummary>, StoreError> {
        Ok(self
            .store
            .tokens(username)
            .await?
            .iter()
            .map(token_summary)
            .collect())
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

fn token_summary(t: &TokenRow) -> domain::identity::TokenSummary {
    domain::identity::TokenSummary {
        id: t.id.clone(),
        name: t.name.clone(),
        username: t.username.clone(),
        created_at: at(t.created_at_ms),
        expires_at: t.expires_at_ms.map(at),
        last_used_at: t.last_used_at_ms.map(at),
    }
}

/// A storage failure in an identity operation; the cause is logged.
fn storage(e: StoreError) -> AppError {
    tracing::error!(error = %e, "identity storage failed");
    AppError::Unavailable {
        message: "the user database is not answering".into(),
    }
}

/// Why the first admin could not be created.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Storage(#[from] StoreError),
    #[error("cannot write {0}: {1}")]
    PasswordFile(PathBuf, std::io::Error),
}

/// Writes the password to `<data_dir>/initial-admin-password`, readable by the owner only.
fn write_password_file(data_dir: &Path, password: &str) -> Result<PathBuf, StartupError> {
    use std::io::Write;
    let file = data_dir.join(INITIAL_PASSWORD_FILE);
    let fail = |e| StartupError::PasswordFile(file.clone(), e);
    std::fs::create_dir_all(data_dir).map_err(fail)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(&file).map_err(fail)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(fail)?;
    }
    writeln!(f, "{password}").map_err(fail)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_ends_when_idle_or_at_its_absolute_end() {
        let s = SessionRow {
            id_hash: String::new(),
            username: "alice".into(),
            method: "password".into(),
            created_at_ms: 0,
            last_seen_at_ms: 1_000,
            expires_at_ms: 10_000,
        };
        assert!(is_alive(&s, 1_500, 1_000));
        assert!(!is_alive(&s, 2_000, 1_000), "idle for the whole timeout");
        let busy = SessionRow {
            last_seen_at_ms: 9_900,
            ..s.clone()
        };
        assert!(is_alive(&busy, 9_950, 1_000));
        assert!(!is_alive(&busy, 10_000, 1_000), "past the absolute end");
    }
}
