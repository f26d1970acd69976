//! Configuration: built-in defaults, then an optional TOML file, then `TOPSAIL_*` environment
//! variables, then command-line flags (each layer overrides the one before).
//!
//! Every option is documented in the README. Secrets are [`Secret`] values that never print.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A value that must never appear in logs, error messages or `config check` output.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it (e.g. opening a database connection).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

const REDACTED: &str = "[redacted]";

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// The effective configuration.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// When set, `/metrics` is served on this address only (for Prometheus inside the cluster)
    /// and not on `listen`, which an ingress exposes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
    /// Directory for the SQLite database and other local state.
    pub data_dir: PathBuf,
    /// Topsail's address as people reach it (behind the ingress), for links in notifications;
    /// when absent the links are paths only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Directory holding the built UI (`pkg/topsail.js`, `pkg/topsail_bg.wasm`, `pkg/topsail.css`).
    pub site_dir: PathBuf,
    /// PostgreSQL (or SQLite) URL; when absent, SQLite at `<data_dir>/topsail.db`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<Secret>,
    pub log_format: LogFormat,
    /// Log filter, in `tracing-subscriber` `EnvFilter` syntax (e.g. `info,sqlx=warn`).
    pub log_level: String,
    /// How long a queue message being handled stays invisible before it is handled again
    /// (e.g. after a crash).
    #[serde(rename = "queue_visibility_timeout_ms", with = "millis")]
    pub queue_visibility_timeout: Duration,
    /// Redis (`redis://host:port/db`) for the work queue, so several replicas share it; when
    /// absent the queue is a table in the database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<Secret>,
    /// What every Redis key of this installation starts with.
    pub redis_key_prefix: String,
    pub kubernetes: KubernetesConfig,
    pub jenkins: JenkinsConfig,
    /// Docker registries (Harbor, Distribution, any registry speaking the v2 API).
    pub registries: Vec<RegistryConfig>,
    /// Sessions, sign-in throttling, the audit log, single sign-on.
    pub auth: AuthConfig,
    /// Shared secrets of generic webhook sources.
    pub webhooks: Vec<WebhookSourceConfig>,
    /// What user-given URLs may be called (webhook stages, notifications, manifest URLs).
    pub outbound: crate::outbound::OutboundConfig,
    /// The bounds of `${…}` expressions.
    pub expressions: crate::orchestration::expressions::ExpressionLimits,
    /// Sidecar templates added to the built-in ones (`[[sidecar_templates]]`, each as
    /// `domain::manifests::sidecars` describes; the same id replaces a built-in one).
    pub sidecar_templates: Vec<domain::manifests::sidecars::SidecarTemplate>,
    /// Blob storage: a directory under `data_dir`, or an S3 bucket.
    pub blobs: BlobsConfig,
    /// Artifact accounts (`[[artifacts.s3]]` for `s3/object` manifests).
    pub artifacts: ArtifactsConfig,
}

/// Jenkins masters and how often the build triggers look at them.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JenkinsConfig {
    #[serde(default)]
    pub masters: Vec<JenkinsMasterConfig>,
    /// How often jobs named by `jenkins` triggers are checked for completed builds.
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
}

fn default_poll_ms() -> u64 {
    30_000
}

impl Default for JenkinsConfig {
    fn default() -> Self {
        Self {
            masters: Vec::new(),
            poll_interval_ms: default_poll_ms(),
        }
    }
}

/// One Jenkins controller. The API token comes from an environment variable or a file, never
/// from the configuration file itself.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JenkinsMasterConfig {
    /// The name pipelines use (`master` in a jenkins stage or trigger).
    pub name: String,
    /// The controller's URL, e.g. `https://jenkins.example.com/`.
    pub address: String,
    /// The user the API token belongs to (empty: anonymous).
    #[serde(default)]
    pub username: String,
    /// Environment variable holding the API token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// File holding the API token (trailing whitespace ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// The token, read from `token_env` or `token_file` at load time.
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
}

/// One Docker registry account.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// The account name pipelines and triggers use.
    pub name: String,
    /// The registry's base URL, e.g. `https://harbor.example.com` or `http://127.0.0.1:5000`.
    pub address: String,
    /// For basic auth, or for the bearer-token flow's token request (empty: anonymous).
    #[serde(default)]
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// The shared secret a push notification must carry (`Authorization: Bearer <secret>`, or
    /// Harbor's auth header); from this environment variable or file. Without one the
    /// registry's webhook is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret_file: Option<PathBuf>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<Secret>,
    /// Hosts of the registry's token service (its `WWW-Authenticate` realm) that may receive
    /// the account's credentials, when not the registry's own host (Docker Hub:
    /// `auth.docker.io`). Elsewhere a token is asked for without them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_hosts: Vec<String>,
    /// Repositories whose tags are polled for `docker` triggers as a fallback to webhooks
    /// (every `poll_interval_ms`; 0 turns polling off).
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
}

/// Kubernetes accounts: each is one kubeconfig context.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesConfig {
    /// Accounts named explicitly.
    #[serde(default)]
    pub accounts: Vec<KubernetesAccountConfig>,
    /// Kubeconfig files whose every context becomes an account named after the context
    /// (`TOPSAIL_KUBECONFIG` adds one).
    #[serde(default)]
    pub kubeconfigs: Vec<PathBuf>,
    /// When neither of the above names a kubeconfig (in-cluster accounts name none): every
    /// context of `$KUBECONFIG` or `~/.kube/config`, if present, becomes an account.
    #[serde(default = "yes")]
    pub use_default_kubeconfig: bool,
    /// With Redis, how long the replica watching an account's clusters holds its lease
    /// without renewing it (renewed every third of it): a dead holder's accounts are watched
    /// by another replica within this time.
    #[serde(default = "watch_lease_seconds")]
    pub watch_lease_seconds: u64,
}

fn watch_lease_seconds() -> u64 {
    15
}

fn yes() -> bool {
    true
}

impl Default for KubernetesConfig {
    fn default() -> Self {
        Self {
            accounts: Vec::new(),
            kubeconfigs: Vec::new(),
            use_default_kubeconfig: true,
            watch_lease_seconds: watch_lease_seconds(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesAccountConfig {
    /// The account's name as pipelines and the UI show it.
    pub name: String,
    /// The cluster Topsail runs in, through its Pod's service account instead of a kubeconfig
    /// (Kubernetes' in-cluster configuration, as every client library reads it): the API server
    /// from `KUBERNETES_SERVICE_HOST`/`KUBERNETES_SERVICE_PORT`, the token, CA and namespace
    /// from `service_account_dir`. Without `namespaces` it uses the Pod's own namespace (where
    /// a namespaced Role gives it rights). `TOPSAIL_IN_CLUSTER_ACCOUNT=<name>` adds one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_cluster: bool,
    /// Where an in-cluster account's service account files are; default
    /// `/var/run/secrets/kubernetes.io/serviceaccount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_dir: Option<PathBuf>,
    /// The kubeconfig file; default `$KUBECONFIG` or `~/.kube/config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<PathBuf>,
    /// The context in that file; default its current context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The namespaces (environments) Topsail may use in this account; empty means all.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Who may use it (Spinnaker's account permissions): `READ` roles see it, `WRITE` roles
    /// deploy and act there. Empty: whoever may use the application.
    #[serde(default, skip_serializing_if = "domain::Permissions::is_empty")]
    pub permissions: domain::Permissions,
}

/// Durations as whole milliseconds in the file and in `config check`.
mod millis {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

impl Config {
    /// The database as shown to operators: its kind, never its URL.
    pub fn database_kind(&self) -> &'static str {
        match &self.database_url {
            Some(url) if url.expose().starts_with("postgres") => "postgres",
            Some(_) => "sqlite (url)",
            None => "sqlite (data dir)",
        }
    }

    /// The effective configuration as TOML, secrets redacted (`topsail config check`).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("the configuration always serializes")
    }
}

/// The configuration file as written: every key optional, unknown keys rejected.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    metrics_listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    public_url: Option<String>,
    site_dir: Option<PathBuf>,
    database_url: Option<Secret>,
    log_format: Option<LogFormat>,
    log_level: Option<String>,
    queue_visibility_timeout_ms: Option<u64>,
    redis_url: Option<Secret>,
    redis_key_prefix: Option<String>,
    kubernetes: Option<KubernetesConfig>,
    jenkins: Option<JenkinsConfig>,
    registries: Option<Vec<RegistryConfig>>,
    auth: Option<auth::AuthFile>,
    webhooks: Option<Vec<WebhookSourceConfig>>,
    outbound: Option<crate::outbound::OutboundConfig>,
    expressions: Option<crate::orchestration::expressions::ExpressionLimits>,
    sidecar_templates: Option<Vec<domain::manifests::sidecars::SidecarTemplate>>,
    blobs: Option<BlobsConfig>,
    artifacts: Option<ArtifactsConfig>,
}

/// Values given on the command line; they win over everything else.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub site_dir: Option<PathBuf>,
    pub log_format: Option<LogFormat>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: cannot read it: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("config file {path}: {location}: {reason}")]
    Invalid {
        path: PathBuf,
        location: String,
        reason: String,
    },
    #[error("environment variable {var}: {reason}")]
    Env { var: String, reason: String },
}

/// Loads the configuration. `env` looks up environment variables (injected for tests).
pub fn load(
    file: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    cli: Overrides,
) -> Result<Config, ConfigError> {
    let file_config = match file {
        Some(path) => read_file(path)?,
        None => FileConfig::default(),
    };

    let listen = cli
        .listen
        .or(env_parse(env, "TOPSAIL_LISTEN", |v| {
            v.parse::<SocketAddr>().map_err(|e| e.to_string())
        })?)
        .or(file_config.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3000)));
    let metrics_listen = env_parse(env, "TOPSAIL_METRICS_LISTEN", |v| {
        v.parse::<SocketAddr>().map_err(|e| e.to_string())
    })?
    .or(file_config.metrics_listen);
    let data_dir = cli
        .data_dir
        .or(env("TOPSAIL_DATA_DIR").map(PathBuf::from))
        .or(file_config.data_dir)
        .unwrap_or_else(|| PathBuf::from("./data"));
    let site_dir = cli
        .site_dir
        .or(env("TOPSAIL_SITE_DIR").map(PathBuf::from))
        .or(file_config.site_dir)
        .unwrap_or_else(default_site_dir);
    let database_url = env("TOPSAIL_DATABASE_URL")
        .or_else(|| env("DATABASE_URL"))
        .map(Secret::new)
        .or(file_config.database_url)
        .filter(|url| !url.expose().is_empty());
    let log_format = cli
        .log_format
        .or(env_parse(env, "TOPSAIL_LOG_FORMAT", |v| match v {
            "human" => Ok(LogFormat::Human),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("expected `human` or `json`, found `{other}`")),
        })?)
        .or(file_config.log_format)
        .unwrap_or_default();
    let log_level = env("TOPSAIL_LOG")
        .or(file_config.log_level)
        .unwrap_or_else(|| "info".to_owned());
    let queue_visibility_timeout = Duration::from_millis(
        env_parse(env, "TOPSAIL_QUEUE_VISIBILITY_TIMEOUT_MS", |v| {
            v.parse::<u64>()
                .ok()
                .filter(|ms| *ms >= 100)
                .ok_or_else(|| "expected whole milliseconds, at least 100".to_owned())
        })?
        .or(file_config.queue_visibility_timeout_ms)
        .unwrap_or(60_000)
        .max(100),
    );

    let redis_url = env("TOPSAIL_REDIS_URL")
        .map(Secret::new)
        .or(file_config.redis_url)
        .filter(|url| !url.expose().is_empty());
    let redis_key_prefix = env("TOPSAIL_REDIS_KEY_PREFIX")
        .or(file_config.redis_key_prefix)
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "topsail".to_owned());

    let mut kubernetes = file_config.kubernetes.unwrap_or_default();
    if let Some(kubeconfig) = env("TOPSAIL_KUBECONFIG").filter(|k| !k.is_empty()) {
        kubernetes.kubeconfigs.push(PathBuf::from(kubeconfig));
    }
    if let Some(name) = env("TOPSAIL_IN_CLUSTER_ACCOUNT").filter(|n| !n.is_empty()) {
        kubernetes.accounts.push(KubernetesAccountConfig {
            name,
            in_cluster: true,
            ..KubernetesAccountConfig::default()
        });
    }

    let blobs = blobs::load(file_config.blobs.unwrap_or_default(), env, file)?;
    let artifacts = artifacts::load(file_config.artifacts.unwrap_or_default(), env, file)?;

    let mut jenkins = file_config.jenkins.unwrap_or_default();
    for (i, master) in jenkins.masters.iter_mut().enumerate() {
        master.token = read_secret(
            env,
            &format!("jenkins.masters[{i}]"),
            "token",
            master.token_env.as_deref(),
            master.token_file.as_deref(),
            file,
        )?;
    }
    let mut registries = file_config.registries.unwrap_or_default();
    for (i, r) in registries.iter_mut().enumerate() {
        let at = format!("registries[{i}]");
        r.password = read_secret(
            env,
            &at,
            "password",
            r.password_env.as_deref(),
            r.password_file.as_deref(),
            file,
        )?;
        r.webhook_secret = read_secret(
            env,
            &at,
            "webhook_secret",
            r.webhook_secret_env.as_deref(),
            r.webhook_secret_file.as_deref(),
            file,
        )?;
    }

    let auth = auth::load(file_config.auth, env, file)?;
    let webhooks = webhooks::load(file_config.webhooks.unwrap_or_default(), env, file)?;
    let outbound = file_config.outbound.unwrap_or_default();
    if let Err(reason) = crate::outbound::OutboundPolicy::from_config(&outbound) {
        return Err(ConfigError::Invalid {
            path: file.map(Path::to_owned).unwrap_or_default(),
            location: "[outbound]".into(),
            reason,
        });
    }
    let expressions = file_config.expressions.unwrap_or_default();

    let public_url = env("TOPSAIL_PUBLIC_URL")
        .or(file_config.public_url)
        .map(|u| u.trim().trim_end_matches('/').to_owned())
        .filter(|u| !u.is_empty());

    Ok(Config {
        listen,
        metrics_listen,
        data_dir,
        public_url,
        site_dir,
        database_url,
        log_format,
        log_level,
        queue_visibility_timeout,
        redis_url,
        redis_key_prefix,
        kubernetes,
        jenkins,
        registries,
        auth,
        webhooks,
        outbound,
        expressions,
        sidecar_templates: file_config.sidecar_templates.unwrap_or_default(),
        blobs,
        artifacts,
    })
}

/// A secret named by `<what>_env` or `<what>_file`; an unset variable or unreadable file is an
/// error naming the key.
fn read_secret(
    env: &dyn Fn(&str) -> Option<String>,
    at: &str,
    what: &str,
    var: Option<&str>,
    path: Option<&Path>,
    file: Option<&Path>,
) -> Result<Option<Secret>, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        path: file.map(Path::to_owned).unwrap_or_default(),
        location: format!(
            "key `{at}.{what}_{}`",
            if var.is_some() { "env" } else { "file" }
        ),
        reason,
    };
    if let Some(var) = var {
        return match env(var).filter(|v| !v.trim().is_empty()) {
            Some(v) => Ok(Some(Secret::new(v.trim()))),
            None => Err(invalid(format!("environment variable {var} is not set"))),
        };
    }
    if let Some(path) = path {
        return match std::fs::read_to_string(path) {
            Ok(text) if !text.trim().is_empty() => Ok(Some(Secret::new(text.trim()))),
            Ok(_) => Err(invalid(format!("{} is empty", path.display()))),
            Err(e) => Err(invalid(format!("cannot read {}: {e}", path.display()))),
        };
    }
    Ok(None)
}

fn env_parse<T>(
    env: &dyn Fn(&str) -> Option<String>,
    var: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, ConfigError> {
    env(var)
        .map(|raw| {
            parse(raw.trim()).map_err(|reason| ConfigError::Env {
                var: var.to_owned(),
                reason,
            })
        })
        .transpose()
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Unreadable {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let invalid = |location: String, reason: String| ConfigError::Invalid {
        path: path.to_owned(),
        location,
        reason,
    };
    let deserializer = toml::Deserializer::parse(&text)
        .map_err(|e| invalid(line_column(&text, e.span()), e.message().to_owned()))?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        let location = if key == "." || key.is_empty() {
            line_column(&text, inner.span())
        } else {
            format!("key `{key}`")
        };
        invalid(location, inner.message().to_owned())
    })
}

fn line_column(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(span) = span else {
        return "file".to_owned();
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}")
}

/// `site/` beside the executable when it exists (how `./x build` lays it out), else `./site`.
fn default_site_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("site")))
        .filter(|dir| dir.is_dir())
        .unwrap_or_else(|| PathBuf::from("site"))
}

mod artifacts;
mod auth;
mod blobs;
mod webhooks;

pub use artifacts::{ArtifactsConfig, S3ArtifactAccountConfig};
pub use auth::{AuthConfig, OidcConfig, parse_duration};
pub use blobs::BlobsConfig;
pub use webhooks::WebhookSourceConfig;

#[cfg(test)]
mod tests;
