//! `[blobs]`: where blob storage is (`crate::blobs`). Without `s3_bucket`, blobs are files under
//! `<data_dir>/blobs`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret, read_secret};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobsConfig {
    /// The S3 bucket (`TOPSAIL_BLOBS_S3_BUCKET`); created at start when missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_bucket: Option<String>,
    /// What every key starts with in the bucket (`TOPSAIL_BLOBS_S3_PREFIX`), e.g. `topsail/`.
    #[serde(default)]
    pub s3_prefix: String,
    /// An S3-compatible endpoint, addressed path-style (`TOPSAIL_BLOBS_S3_ENDPOINT`), e.g.
    /// Minio's `http://minio:9000`; default AWS S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_endpoint: Option<String>,
    /// The region (`TOPSAIL_BLOBS_S3_REGION`); default the AWS chain's, else `us-east-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_region: Option<String>,
    /// Access key id and secret from environment variables or files; without them, the AWS
    /// credential chain (`AWS_ACCESS_KEY_ID`…, profiles, web identity, instance metadata).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_access_key_id_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_access_key_id_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_secret_access_key_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_secret_access_key_file: Option<PathBuf>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub s3_access_key_id: Option<Secret>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub s3_secret_access_key: Option<Secret>,
    /// Ended executions older than this (`90d`, `12h`; `TOPSAIL_BLOBS_ARCHIVE_AFTER`) move to
    /// blob storage, their rows keeping a summary; unset or `0`: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_after: Option<String>,
}

impl BlobsConfig {
    /// How old an ended execution gets before it is archived (checked at load).
    pub fn archive_after(&self) -> Option<std::time::Duration> {
        self.archive_after
            .as_deref()
            .and_then(|t| super::auth::parse_duration(t).ok())
            .filter(|d| !d.is_zero())
    }

    /// The S3 settings, when a bucket is configured.
    pub fn s3(&self) -> Option<crate::blobs::S3Settings> {
        Some(crate::blobs::S3Settings {
            bucket: self.s3_bucket.clone()?,
            prefix: self.s3_prefix.clone(),
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            access_key_id: self.s3_access_key_id.clone(),
            secret_access_key: self.s3_secret_access_key.clone(),
        })
    }
}

/// `[blobs]` from the file, with `TOPSAIL_BLOBS_S3_*` over it and the keys read.
pub(super) fn load(
    mut blobs: BlobsConfig,
    env: &dyn Fn(&str) -> Option<String>,
    file: Option<&Path>,
) -> Result<BlobsConfig, ConfigError> {
    let var = |name: &str| env(name).filter(|v| !v.is_empty());
    if let Some(bucket) = var("TOPSAIL_BLOBS_S3_BUCKET") {
        blobs.s3_bucket = Some(bucket);
    }
    if let Some(prefix) = var("TOPSAIL_BLOBS_S3_PREFIX") {
        blobs.s3_prefix = prefix;
    }
    if let Some(endpoint) = var("TOPSAIL_BLOBS_S3_ENDPOINT") {
        blobs.s3_endpoint = Some(endpoint);
    }
    if let Some(region) = var("TOPSAIL_BLOBS_S3_REGION") {
        blobs.s3_region = Some(region);
    }
    if let Some(after) = var("TOPSAIL_BLOBS_ARCHIVE_AFTER") {
        blobs.archive_after = Some(after);
    }
    if let Some(after) = &blobs.archive_after
        && let Err(reason) = super::auth::parse_duration(after)
    {
        return Err(ConfigError::Invalid {
            path: file.map(Path::to_owned).unwrap_or_default(),
            location: "[blobs] archive_after".into(),
            reason,
        });
    }
    blobs.s3_access_key_id = read_secret(
        env,
        "blobs",
        "s3_access_key_id",
        blobs.s3_access_key_id_env.as_deref(),
        blobs.s3_access_key_id_file.as_deref(),
        file,
    )?;
    blobs.s3_secret_access_key = read_secret(
        env,
        "blobs",
        "s3_secret_access_key",
        blobs.s3_secret_access_key_env.as_deref(),
        blobs.s3_secret_access_key_file.as_deref(),
        file,
    )?;
    if blobs.s3_access_key_id.is_some() != blobs.s3_secret_access_key.is_some() {
        return Err(ConfigError::Invalid {
            path: file.map(Path::to_owned).unwrap_or_default(),
            location: "[blobs]".into(),
            reason: "give both s3_access_key_id and s3_secret_access_key, or neither (the AWS credential chain)".into(),
        });
    }
    Ok(blobs)
}
