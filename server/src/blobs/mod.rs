//! Blob storage: what is large and rarely read, kept out of the database — backups, and
//! (with the archive) old executions. Spinnaker keeps such things in S3/Minio through Front50.
//! One port, [`BlobStore`], with two adapters: a directory under `data_dir` by default
//! ([`FileBlobs`]) and any S3-compatible service — AWS S3, Minio, any endpoint with path-style
//! addressing ([`S3Blobs`], `[blobs]` in the configuration).

pub mod artifacts;
mod file;
mod s3;

use async_trait::async_trait;

pub use file::FileBlobs;
pub use s3::{S3Blobs, S3Settings};

/// Why a blob operation did not happen. Messages are safe to show to operators: they name the
/// store and the key, never credentials.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob key `{key}`: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    #[error("{store}: {message}")]
    Unavailable { store: String, message: String },
}

/// The longest key: S3's own limit is 1,024 bytes, with room for a prefix.
pub const MAX_KEY_BYTES: usize = 512;

/// A store of named byte strings. Keys are paths of `/`-separated segments of letters, digits,
/// `.`, `_` and `-` (none starting with `.`), the same on every adapter.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Where the blobs are, for logs and messages: `directory /…` or `s3://bucket/prefix`.
    fn describe(&self) -> String;
    /// Stores `bytes` under `key`, replacing what was there; the write is whole or not at all.
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), BlobError>;
    /// The bytes under `key`, or `None`.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BlobError>;
    /// Removes `key`; removing a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
    /// Every key starting with `prefix` (a whole segment path ending in `/`, or empty), sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError>;
}

/// Checks a key against the rules [`BlobStore`] states.
pub fn check_key(key: &str) -> Result<(), BlobError> {
    let invalid = |reason| {
        Err(BlobError::InvalidKey {
            key: key.chars().take(80).collect(),
            reason,
        })
    };
    if key.is_empty() {
        return invalid("is empty");
    }
    if key.len() > MAX_KEY_BYTES {
        return invalid("is longer than 512 bytes");
    }
    for segment in key.split('/') {
        if segment.is_empty() || segment.starts_with('.') {
            return invalid("has an empty segment or one starting with `.`");
        }
        if !segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return invalid("may hold only letters, digits, `.`, `_`, `-` and `/`");
        }
    }
    Ok(())
}

/// Checks a listing prefix: empty, or a key followed by `/`.
fn check_prefix(prefix: &str) -> Result<(), BlobError> {
    match prefix.strip_suffix('/') {
        _ if prefix.is_empty() => Ok(()),
        Some(p) => check_key(p),
        None => Err(BlobError::InvalidKey {
            key: prefix.chars().take(80).collect(),
            reason: "a listing prefix ends with `/`",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_plain_paths() {
        for ok in ["a", "backups/2026-11-30T04-00-00Z.jsonl", "x/y_z-1.json"] {
            assert!(check_key(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "/a", "a/", "a//b", "../etc", "a/./b", ".hidden", "a b", "ä", "a\\b", "a?b",
        ] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
        assert!(check_key(&"k".repeat(MAX_KEY_BYTES + 1)).is_err());
    }

    #[test]
    fn prefixes_are_empty_or_end_with_a_slash() {
        assert!(check_prefix("").is_ok());
        assert!(check_prefix("backups/").is_ok());
        assert!(check_prefix("backups").is_err());
        assert!(check_prefix("../").is_err());
    }
}
