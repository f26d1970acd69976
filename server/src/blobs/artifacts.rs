//! `s3/object` artifacts (Spinnaker's artifact type): objects read through the S3 artifact
//! accounts of `[[artifacts.s3]]`, the account named by the artifact's `artifactAccount` (or the
//! only one configured, when it names none).

use std::collections::BTreeMap;

use super::{S3Blobs, S3Settings};
use crate::config::S3ArtifactAccountConfig;

#[derive(Default)]
pub struct S3ArtifactAccounts {
    accounts: BTreeMap<String, S3Blobs>,
}

impl S3ArtifactAccounts {
    pub async fn from_config(accounts: &[S3ArtifactAccountConfig]) -> Self {
        let mut built = BTreeMap::new();
        for account in accounts {
            let settings: S3Settings = account.settings();
            built.insert(account.name.clone(), S3Blobs::new(&settings).await);
        }
        Self { accounts: built }
    }

    /// The text of the object `reference` names (`s3://bucket/key`), through `account` —
    /// at most `cap` bytes. The error says what to fix, in words a stage shows.
    pub async fn read_text(
        &self,
        account: Option<&str>,
        reference: &str,
        cap: usize,
    ) -> Result<String, String> {
        let (bucket, key) = parse_reference(reference).ok_or_else(|| {
            format!("the s3/object reference {reference:?} is not s3://bucket/key")
        })?;
        let client = match account.filter(|a| !a.is_empty()) {
            Some(name) => self.accounts.get(name).ok_or_else(|| {
                format!(
                    "no S3 artifact account is named '{name}' (configured: {})",
                    self.names()
                )
            })?,
            None if self.accounts.len() == 1 => self.accounts.values().next().expect("one"),
            None if self.accounts.is_empty() => {
                return Err("no S3 artifact account is configured ([[artifacts.s3]])".into());
            }
            None => {
                return Err(format!(
                    "the artifact names no artifactAccount and several S3 accounts exist: {}",
                    self.names()
                ));
            }
        };
        let bytes = client
            .read_object(bucket, key, cap)
            .await?
            .ok_or_else(|| format!("s3://{bucket}/{key} does not exist"))?;
        String::from_utf8(bytes).map_err(|_| format!("s3://{bucket}/{key} is not UTF-8 text"))
    }

    fn names(&self) -> String {
        self.accounts
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `s3://bucket/key` → (bucket, key); both non-empty.
fn parse_reference(reference: &str) -> Option<(&str, &str)> {
    let (bucket, key) = reference.trim().strip_prefix("s3://")?.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then_some((bucket, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_s3_bucket_and_key() {
        assert_eq!(
            parse_reference("s3://manifests/shop/web.yml"),
            Some(("manifests", "shop/web.yml"))
        );
        assert_eq!(parse_reference("s3://manifests/"), None);
        assert_eq!(parse_reference("s3:///web.yml"), None);
        assert_eq!(parse_reference("https://manifests/web.yml"), None);
    }

    #[tokio::test]
    async fn an_artifact_without_a_usable_account_is_refused_with_what_to_fix() {
        let none = S3ArtifactAccounts::default();
        let err = none
            .read_text(None, "s3://b/k.yml", 1024)
            .await
            .unwrap_err();
        assert!(err.contains("[[artifacts.s3]]"), "{err}");
        let err = none
            .read_text(Some("minio"), "s3://b/k.yml", 1024)
            .await
            .unwrap_err();
        assert!(
            err.contains("no S3 artifact account is named 'minio'"),
            "{err}"
        );
        let err = none.read_text(None, "b/k.yml", 1024).await.unwrap_err();
        assert!(err.contains("is not s3://bucket/key"), "{err}");
    }
}
