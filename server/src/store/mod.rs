//! Durable storage on sea-orm: SQLite by default (a file in the data directory, WAL mode),
//! PostgreSQL when a `postgres://` URL is configured. Both run the same migrations and the same
//! repository code; one contract test suite (`tests/store_contract.rs`) runs against both.

mod applications;
mod cursors;
pub mod identity;
mod pipelines;

use std::path::Path;
use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

pub use applications::ApplicationRecord;
pub use pipelines::SaveResult;

/// Timestamps are kept to the microsecond: what PostgreSQL stores, so both backends agree.
fn now() -> chrono::DateTime<chrono::Utc> {
    let t = chrono::Utc::now();
    chrono::DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// The storage boundary's error. `Conflict` is a domain outcome; `Database` is an internal
/// failure whose cause is logged by the caller, never shown to a user.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflicts with an existing row")]
    Conflict,
    /// The row changed since it was read (optimistic concurrency).
    #[error("changed by someone else meanwhile")]
    Stale,
    /// The change was based on an older version than the stored one (its `updateTs`): the
    /// stored one was saved by `by` at `at`.
    #[error("changed by {by} since it was loaded")]
    ChangedSince {
        by: String,
        at: chrono::DateTime<chrono::Utc>,
    },
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

/// What a person is told when their save was based on an older version than the stored one.
pub fn changed_since_message(what: &str, by: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "{what} was changed by {by} at {} since you loaded it; load it again, or save without \
         updateTs to overwrite",
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

impl StoreError {
    fn from_write(e: DbErr) -> Self {
        match e.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => Self::Conflict,
            _ => Self::Database(e),
        }
    }
}

/// Why the store cannot serve yet.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("database unreachable: {0}")]
    Unreachable(DbErr),
    #[error("{0} migration(s) pending")]
    MigrationsPending(usize),
}

impl NotReady {
    /// What a probe may be told (the database's own message stays in the log).
    pub fn summary(&self) -> String {
        match self {
            Self::Unreachable(_) => "database unreachable".to_owned(),
            Self::MigrationsPending(n) => format!("{n} migration(s) pending"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
}

impl Store {
    /// Connects to `url`, or to SQLite at `<data_dir>/topsail.db` (created if missing).
    pub async fn connect(url: Option<&str>, data_dir: &Path) -> Result<Self, DbErr> {
        let url = match url {
            Some(url) => url.to_owned(),
            None => {
                std::fs::create_dir_all(data_dir).map_err(|e| {
                    DbErr::Custom(format!(
                        "cannot create data directory {}: {e}",
                        data_dir.display()
                    ))
                })?;
                format!(
                    "sqlite://{}?mode=rwc",
                    data_dir.join("topsail.db").display()
                )
            }
        };
        let mut options = ConnectOptions::new(url);
        options
            .sqlx_logging(false)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(10))
            .max_connections(16)
            // WAL lets readers proceed while one writer writes. With WAL, `synchronous=NORMAL`
            // syncs at checkpoints instead of at every commit: a killed process loses nothing
            // committed (the kill -9 tests check it); a power cut may lose the newest commits
            // but never leaves the file inconsistent. Every pooled connection gets both.
            .map_sqlx_sqlite_opts(|o| {
                use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
            });
        let db = Database::connect(options).await?;
        Ok(Self { db })
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), DbErr> {
        Migrator::up(&self.db, None).await
    }

    /// Ready means: the database answers and no migration is pending.
    pub async fn readiness(&self) -> Result<(), NotReady> {
        self.db.ping().await.map_err(NotReady::Unreachable)?;
        let pending = Migrator::get_pending_migrations(&self.db)
            .await
            .map_err(NotReady::Unreachable)?;
        if !pending.is_empty() {
            return Err(NotReady::MigrationsPending(pending.len()));
        }
        Ok(())
    }

    /// The connection, for other server-layer components that keep their tables in this
    /// database (the work queue).
    pub(crate) fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    pub async fn close(self) -> Result<(), DbErr> {
        self.db.close().await
    }
}
