//! Durable storage on sea-orm: SQLite by default (a file in the data directory, WAL mode),
//! PostgreSQL when a `postgres://` URL is configured. Both run the same migrations and the same
//! repository code; one contract test suite (`tests/store_contract.rs`) runs against both.

mod applications;
pub mod backup;
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

/// The PostgreSQL advisory lock migrations run under: this class ("tops" in ASCII) and the
/// database's name, so installations sharing a server do not wait for each other.
const MIGRATION_LOCK: i32 = 0x746f_7073;

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

    /// Whether this is PostgreSQL (else SQLite).
    pub fn is_postgres(&self) -> bool {
        use sea_orm::ConnectionTrait as _;
        self.db.get_database_backend() == sea_orm::DbBackend::Postgres
    }

    /// Applies every pending migration. On PostgreSQL, under an advisory lock (per database)
    /// held by one connection for the duration: replicas starting together on an empty database
    /// take turns, and the later ones find nothing pending. A process that dies holding it loses its
    /// connection, and with it the lock. (SQLite's file lock already serializes writers.)
    pub async fn migrate(&self) -> Result<(), DbErr> {
        if !self.is_postgres() {
            return Migrator::up(&self.db, None).await;
        }
        use sea_orm::sqlx;
        let sqlx_error = |e: sqlx::Error| DbErr::Custom(format!("migration lock: {e}"));
        let mut holder = self
            .db
            .get_postgres_connection_pool()
            .acquire()
            .await
            .map_err(sqlx_error)?;
        sqlx::query("SELECT pg_advisory_lock($1, hashtext(current_database()))")
            .bind(MIGRATION_LOCK)
            .execute(&mut *holder)
            .await
            .map_err(sqlx_error)?;
        let migrated = Migrator::up(&self.db, None).await;
        if let Err(e) = sqlx::query("SELECT pg_advisory_unlock($1, hashtext(current_database()))")
            .bind(MIGRATION_LOCK)
            .execute(&mut *holder)
            .await
        {
            // Closing the connection releases it as surely.
            tracing::warn!(error = %e, "releasing the migration lock");
            holder.close().await.ok();
        }
        migrated
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
