//! `topsail backup` and `topsail restore`: where a backup goes and comes from — a file, or the
//! blob store (a directory under `data_dir`, or S3) under `backups/`. What a backup holds and
//! its format are [`crate::store::backup`]'s.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::blobs::BlobStore;
use crate::store::Store;
use crate::store::backup::{BackupError, RowCounts};

/// Where the blob store keeps backups.
pub const BLOB_PREFIX: &str = "backups/";

/// Where a backup is written to or read from.
#[derive(Clone, Debug)]
pub enum Place {
    File(PathBuf),
    /// A key in the blob store.
    Blob(String),
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::File(path) => write!(f, "{}", path.display()),
            Place::Blob(key) => write!(f, "blob `{key}`"),
        }
    }
}

/// Why a backup or restore did not happen; safe to print (no credentials).
#[derive(Debug, thiserror::Error)]
pub enum BackupCommandError {
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error("{0}")]
    Blobs(#[from] crate::blobs::BlobError),
    #[error("{place}: {source}")]
    File {
        place: String,
        source: std::io::Error,
    },
    #[error("{0}: no such backup in the blob store")]
    Missing(String),
}

/// The blob key a backup taken at `at_ms` gets: `backups/<UTC time>.jsonl`, sorting by time.
pub fn blob_key(at_ms: i64) -> String {
    let at = chrono::DateTime::from_timestamp_millis(at_ms).unwrap_or_default();
    format!("{BLOB_PREFIX}{}.jsonl", at.format("%Y%m%dT%H%M%S%.3fZ"))
}

/// Where a backup is written.
pub enum Destination<'a> {
    File(&'a Path),
    Blobs(&'a Arc<dyn BlobStore>),
}

/// Writes a backup of `store` to a file (whole or not at all: written beside it, then renamed)
/// or to the blob store. Returns where it went and the rows per table.
pub async fn backup(
    store: &Store,
    to: Destination<'_>,
) -> Result<(Place, RowCounts), BackupCommandError> {
    let mut bytes = Vec::new();
    let counts = store.write_backup(&mut bytes).await?;
    let place = match to {
        Destination::File(path) => {
            let file_error = |source| BackupCommandError::File {
                place: path.display().to_string(),
                source,
            };
            let partial = path.with_extension("partial");
            std::fs::write(&partial, &bytes).map_err(file_error)?;
            std::fs::rename(&partial, path).map_err(file_error)?;
            Place::File(path.to_owned())
        }
        Destination::Blobs(blobs) => {
            let key = blob_key(chrono::Utc::now().timestamp_millis());
            blobs.put(&key, bytes).await?;
            Place::Blob(key)
        }
    };
    Ok((place, counts))
}

/// Loads the backup at `place` into `store` (an empty database); `blobs` is needed only for a
/// backup in the blob store.
pub async fn restore(
    store: &Store,
    blobs: Option<&Arc<dyn BlobStore>>,
    place: &Place,
) -> Result<RowCounts, BackupCommandError> {
    match place {
        Place::File(path) => {
            let file = std::fs::File::open(path).map_err(|source| BackupCommandError::File {
                place: path.display().to_string(),
                source,
            })?;
            Ok(store.restore_backup(&mut BufReader::new(file)).await?)
        }
        Place::Blob(key) => {
            let blobs = blobs.ok_or_else(|| BackupCommandError::Missing(key.clone()))?;
            let bytes = blobs
                .get(key)
                .await?
                .ok_or_else(|| BackupCommandError::Missing(key.clone()))?;
            Ok(store.restore_backup(&mut bytes.as_slice()).await?)
        }
    }
}

/// "3 applications, 5 pipeline_versions, …" (tables with rows only).
pub fn describe(counts: &RowCounts) -> String {
    let parts: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(table, n)| format!("{n} {table}"))
        .collect();
    if parts.is_empty() {
        "no rows".to_owned()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_keys_sort_by_time_and_are_valid_keys() {
        let a = blob_key(1_764_489_600_000);
        let b = blob_key(1_764_489_600_001);
        assert_eq!(a, "backups/20251130T080000.000Z.jsonl");
        assert!(a < b);
        crate::blobs::check_key(&a).unwrap();
    }

    #[test]
    fn a_summary_names_only_tables_with_rows() {
        let counts: RowCounts = [("applications".to_owned(), 2), ("users".to_owned(), 0)]
            .into_iter()
            .collect();
        assert_eq!(describe(&counts), "2 applications");
        assert_eq!(describe(&RowCounts::new()), "no rows");
    }
}
