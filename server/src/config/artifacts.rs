//! `[[artifacts.s3]]`: the S3 accounts `s3/object` manifest artifacts are read through
//! (Spinnaker's `artifacts.s3.accounts`); an artifact names its account in `artifactAccount`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret, read_secret};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactsConfig {
    #[serde(default)]
    pub s3: Vec<S3ArtifactAccountConfig>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3ArtifactAccountConfig {
    pub name: String,
    /// An S3-compatible endpoint, addressed path-style (e.g. Minio's); default AWS S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Keys from environment variables or files; without them, the AWS credential chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key_file: Option<PathBuf>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<Secret>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<Secret>,
}

impl S3ArtifactAccountConfig {
    /// How to reach the account's buckets (which bucket comes with each artifact).
    pub fn settings(&self) -> crate::blobs::S3Settings {
        crate::blobs::S3Settings {
            bucket: String::new(),
            prefix: String::new(),
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
        }
    }
}

/// `[artifacts]` from the file, with each account's keys read; names must be given and unique.
pub(super) fn load(
    mut artifacts: ArtifactsConfig,
    env: &dyn Fn(&str) -> Option<String>,
    file: Option<&Path>,
) -> Result<ArtifactsConfig, ConfigError> {
    let invalid = |location: String, reason: &str| ConfigError::Invalid {
        path: file.map(Path::to_owned).unwrap_or_default(),
        location,
        reason: reason.to_owned(),
    };
    let mut names = std::collections::HashSet::new();
    for (n, account) in artifacts.s3.iter_mut().enumerate() {
        let at = format!("artifacts.s3[{n}]");
        if account.name.trim().is_empty() {
            return Err(invalid(format!("[{at}] name"), "an account needs a name"));
        }
        if !names.insert(account.name.clone()) {
            return Err(invalid(
                format!("[{at}] name"),
                "another S3 artifact account has this name",
            ));
        }
        account.access_key_id = read_secret(
            env,
            &at,
            "access_key_id",
            account.access_key_id_env.as_deref(),
            account.access_key_id_file.as_deref(),
            file,
        )?;
        account.secret_access_key = read_secret(
            env,
            &at,
            "secret_access_key",
            account.secret_access_key_env.as_deref(),
            account.secret_access_key_file.as_deref(),
            file,
        )?;
        if account.access_key_id.is_some() != account.secret_access_key.is_some() {
            return Err(invalid(
                format!("[{at}]"),
                "give both access_key_id and secret_access_key, or neither (the AWS credential chain)",
            ));
        }
    }
    Ok(artifacts)
}
