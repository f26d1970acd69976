//! `[auth]`: sessions, sign-in throttling, the audit log's retention and single sign-on.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret, env_parse, read_secret};

/// How people and scripts prove who they are.
#[derive(Clone, Debug, Serialize)]
pub struct AuthConfig {
    /// A session ends after this long without a request.
    #[serde(with = "super::millis", rename = "session_idle_timeout_ms")]
    pub session_idle_timeout: Duration,
    /// A session ends this long after sign-in, whatever the activity.
    #[serde(with = "super::millis", rename = "session_max_age_ms")]
    pub session_max_age: Duration,
    /// Failed sign-ins (per user, and per address) before a back-off.
    pub login_failure_limit: u32,
    /// How long sign-ins are refused after too many failures.
    #[serde(with = "super::millis", rename = "login_lockout_ms")]
    pub login_lockout: Duration,
    /// Audit entries older than this are removed.
    pub audit_retention_days: u32,
    /// OpenID Connect single sign-on, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_idle_timeout: Duration::from_secs(8 * 3600),
            session_max_age: Duration::from_secs(7 * 24 * 3600),
            login_failure_limit: 10,
            login_lockout: Duration::from_secs(60),
            audit_retention_days: 365,
            oidc: None,
        }
    }
}

/// An OpenID provider (authorization code flow with PKCE).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The issuer URL (its `/.well-known/openid-configuration` is read at the first sign-in).
    pub issuer: String,
    pub client_id: String,
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// Names an environment variable holding the client secret.
    #[serde(default, skip_serializing)]
    pub client_secret_env: Option<String>,
    /// Names a file holding the client secret.
    #[serde(default, skip_serializing)]
    pub client_secret_file: Option<std::path::PathBuf>,
    /// Scopes asked for besides `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The claim naming the user (falls back to `email`, then `sub`).
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
    /// The claim listing the user's groups; each group is a Topsail role.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Members of these groups are admins.
    #[serde(default)]
    pub admin_groups: Vec<String>,
    /// What the sign-in button says.
    #[serde(default = "default_display_name")]
    pub display_name: String,
}

fn default_scopes() -> Vec<String> {
    vec!["profile".into(), "email".into(), "groups".into()]
}

fn default_username_claim() -> String {
    "preferred_username".into()
}

fn default_groups_claim() -> String {
    "groups".into()
}

fn default_display_name() -> String {
    "single sign-on".into()
}

/// `[auth]` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuthFile {
    session_idle_timeout: Option<String>,
    session_max_age: Option<String>,
    login_failure_limit: Option<u32>,
    login_lockout: Option<String>,
    audit_retention_days: Option<u32>,
    oidc: Option<OidcConfig>,
}

/// `90s`, `30m`, `8h`, `7d` or whole milliseconds (`1500`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("expected a duration such as 90s, 30m, 8h or 7d, found `{text}`"))?;
    let seconds = match unit {
        "" | "ms" => return Ok(Duration::from_millis(n)),
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        other => return Err(format!("unknown unit `{other}` (use ms, s, m, h or d)")),
    };
    Ok(Duration::from_secs(seconds))
}

fn list(text: &str) -> Vec<String> {
    text.split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(super) fn load(
    written: Option<AuthFile>,
    env: &dyn Fn(&str) -> Option<String>,
    file: Option<&Path>,
) -> Result<AuthConfig, ConfigError> {
    let written = written.unwrap_or_default();
    let defaults = AuthConfig::default();
    let in_file = |key: &str, value: Option<String>| -> Result<Option<Duration>, ConfigError> {
        value
            .map(|v| {
                parse_duration(&v).map_err(|reason| ConfigError::Invalid {
                    path: file.map(Path::to_owned).unwrap_or_default(),
                    location: format!("key `auth.{key}`"),
                    reason,
                })
            })
            .transpose()
    };
    let session_idle_timeout = env_parse(env, "TOPSAIL_SESSION_IDLE_TIMEOUT", parse_duration)?
        .or(in_file(
            "session_idle_timeout",
            written.session_idle_timeout,
        )?)
        .unwrap_or(defaults.session_idle_timeout);
    let session_max_age = env_parse(env, "TOPSAIL_SESSION_MAX_AGE", parse_duration)?
        .or(in_file("session_max_age", written.session_max_age)?)
        .unwrap_or(defaults.session_max_age);
    let login_lockout = env_parse(env, "TOPSAIL_LOGIN_LOCKOUT", parse_duration)?
        .or(in_file("login_lockout", written.login_lockout)?)
        .unwrap_or(defaults.login_lockout);
    let mut oidc = written.oidc;
    if let Some(issuer) = env("TOPSAIL_OIDC_ISSUER").filter(|v| !v.trim().is_empty()) {
        let o = oidc.get_or_insert_with(|| OidcConfig {
            issuer: String::new(),
            client_id: String::new(),
            client_secret: None,
            client_secret_env: None,
            client_secret_file: None,
            scopes: default_scopes(),
            username_claim: default_username_claim(),
            groups_claim: default_groups_claim(),
            admin_groups: Vec::new(),
            display_name: default_display_name(),
        });
        o.issuer = issuer.trim().to_owned();
    }
    if let Some(o) = oidc.as_mut() {
        if let Some(v) = env("TOPSAIL_OIDC_CLIENT_ID") {
            o.client_id = v.trim().to_owned();
        }
        if let Some(v) = env("TOPSAIL_OIDC_GROUPS_CLAIM") {
            o.groups_claim = v.trim().to_owned();
        }
        if let Some(v) = env("TOPSAIL_OIDC_ADMIN_GROUPS") {
            o.admin_groups = list(&v);
        }
        if let Some(v) = env("TOPSAIL_OIDC_SCOPES") {
            o.scopes = list(&v);
        }
        o.client_secret = match env("TOPSAIL_OIDC_CLIENT_SECRET").filter(|v| !v.trim().is_empty()) {
            Some(v) => Some(Secret::new(v.trim())),
            None => read_secret(
                env,
                "auth.oidc",
                "client_secret",
                o.client_secret_env.as_deref(),
                o.client_secret_file.as_deref(),
                file,
            )?,
        };
        let invalid = |key: &str, reason: &str| ConfigError::Invalid {
            path: file.map(Path::to_owned).unwrap_or_default(),
            location: format!("key `auth.oidc.{key}`"),
            reason: reason.to_owned(),
        };
        if !(o.issuer.starts_with("https://") || o.issuer.starts_with("http://")) {
            return Err(invalid("issuer", "expected an http(s) URL"));
        }
        if o.client_id.is_empty() {
            return Err(invalid("client_id", "is required with an issuer"));
        }
        if o.client_secret.is_none() {
            return Err(invalid(
                "client_secret_env",
                "a client secret is required (client_secret_env, client_secret_file or TOPSAIL_OIDC_CLIENT_SECRET)",
            ));
        }
    }
    Ok(AuthConfig {
        session_idle_timeout,
        session_max_age,
        login_failure_limit: written
            .login_failure_limit
            .unwrap_or(defaults.login_failure_limit)
            .max(1),
        login_lockout,
        audit_retention_days: written
            .audit_retention_days
            .unwrap_or(defaults.audit_retention_days)
            .max(1),
        oidc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_units() {
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("8h"), Ok(Duration::from_secs(8 * 3600)));
        assert_eq!(parse_duration("1500"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3w").is_err());
    }

    #[test]
    fn single_sign_on_comes_from_the_environment_and_needs_a_secret() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let ok = load(
            None,
            &env(&[
                ("TOPSAIL_OIDC_ISSUER", "http://127.0.0.1:9/"),
                ("TOPSAIL_OIDC_CLIENT_ID", "topsail"),
                ("TOPSAIL_OIDC_CLIENT_SECRET", "s3cret"),
                ("TOPSAIL_OIDC_ADMIN_GROUPS", "admins, ops"),
            ]),
            None,
        )
        .unwrap();
        let o = ok.oidc.unwrap();
        assert_eq!(o.admin_groups, ["admins", "ops"]);
        assert_eq!(o.client_secret.unwrap().expose(), "s3cret");
        let missing = load(
            None,
            &env(&[
                ("TOPSAIL_OIDC_ISSUER", "http://127.0.0.1:9/"),
                ("TOPSAIL_OIDC_CLIENT_ID", "topsail"),
            ]),
            None,
        )
        .unwrap_err();
        assert!(missing.to_string().contains("client secret"), "{missing}");
        let idle = load(None, &env(&[("TOPSAIL_SESSION_IDLE_TIMEOUT", "3s")]), None).unwrap();
        assert_eq!(idle.session_idle_timeout, Duration::from_secs(3));
    }
}
