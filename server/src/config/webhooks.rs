//! `[[webhooks]]`: shared secrets for the generic webhook (`POST /webhooks/webhook/{source}`),
//! one per source. A source without an entry accepts any caller, as Spinnaker's Echo does.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret, read_secret};

/// How one webhook source proves a delivery is genuine.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSourceConfig {
    /// The `{source}` of the webhook URL.
    pub source: String,
    #[serde(default, skip_serializing)]
    pub secret_env: Option<String>,
    #[serde(default, skip_serializing)]
    pub secret_file: Option<PathBuf>,
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    /// When set, the header carrying an HMAC-SHA256 of the body under the secret, in hex,
    /// optionally `sha256=`-prefixed (GitHub: `X-Hub-Signature-256`). Otherwise the secret
    /// itself is expected in `token_header`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_header: Option<String>,
    /// The header carrying the secret itself (GitLab: `X-Gitlab-Token`).
    #[serde(default = "default_token_header")]
    pub token_header: String,
}

fn default_token_header() -> String {
    "X-Webhook-Token".into()
}

pub(super) fn load(
    mut sources: Vec<WebhookSourceConfig>,
    env: &dyn Fn(&str) -> Option<String>,
    file: Option<&Path>,
) -> Result<Vec<WebhookSourceConfig>, ConfigError> {
    for (i, s) in sources.iter_mut().enumerate() {
        let at = format!("webhooks[{i}]");
        s.secret = read_secret(
            env,
            &at,
            "secret",
            s.secret_env.as_deref(),
            s.secret_file.as_deref(),
            file,
        )?;
        if s.secret.is_none() {
            return Err(ConfigError::Invalid {
                path: file.map(Path::to_owned).unwrap_or_default(),
                location: format!("key `{at}.secret_env`"),
                reason: "a webhook source needs secret_env or secret_file".into(),
            });
        }
    }
    Ok(sources)
}
