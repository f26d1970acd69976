//! Blobs as files in a directory (the default: `<data_dir>/blobs`). A write goes to a temporary
//! file first and is renamed into place, so a reader never sees half of one.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{BlobError, BlobStore, check_key, check_prefix};

pub struct FileBlobs {
    root: PathBuf,
}

impl FileBlobs {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn unavailable(&self, what: &str, e: std::io::Error) -> BlobError {
        BlobError::Unavailable {
            store: self.describe(),
            message: format!("{what}: {e}"),
        }
    }
}

#[async_trait]
impl BlobStore for FileBlobs {
    fn describe(&self) -> String {
        format!("directory {}", self.root.display())
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), BlobError> {
        check_key(key)?;
        let path = self.root.join(key);
        let dir = path.parent().expect("a key has a file name").to_owned();
        let temp = dir.join(format!(".{}.partial", crate::ids::short_id()));
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write;
            std::fs::create_dir_all(&dir)?;
            let mut file = std::fs::File::create(&temp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            std::fs::rename(&temp, &path).inspect_err(|_| {
                let _ = std::fs::remove_file(&temp);
            })
        })
        .await
        .expect("the write does not panic");
        written.map_err(|e| self.unavailable(&format!("writing {key}"), e))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BlobError> {
        check_key(key)?;
        match tokio::fs::read(self.root.join(key)).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            // A directory where a blob would be: no such blob.
            Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => Ok(None),
            Err(e) => Err(self.unavailable(&format!("reading {key}"), e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        check_key(key)?;
        match tokio::fs::remove_file(self.root.join(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.unavailable(&format!("deleting {key}"), e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        check_prefix(prefix)?;
        let root = self.root.clone();
        let start = root.join(prefix);
        let listed = tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            walk(&root, &start, &mut keys).map(|()| keys)
        })
        .await
        .expect("listing does not panic");
        let mut keys = listed.map_err(|e| self.unavailable("listing", e))?;
        keys.sort();
        Ok(keys)
    }
}

/// The keys of the files under `dir`, skipping temporary files.
fn walk(root: &Path, dir: &Path, keys: &mut Vec<String>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(root, &path, keys)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            let key = relative.to_string_lossy().replace('\\', "/");
            // Temporary files start with `.`, which no key does.
            if check_key(&key).is_ok() {
                keys.push(key);
            }
        }
    }
    Ok(())
}
