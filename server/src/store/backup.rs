//! Backup and restore (`topsail backup`, `topsail restore`): everything a team would miss —
//! applications, every pipeline version, executions, users, API tokens, the audit log and the
//! trigger cursors — as JSON lines, one row per line, readable by any database backend. A
//! backup of SQLite restores into PostgreSQL and back.
//!
//! The format: a header line `{"format": "topsail-backup", "version": 1, "schema": <the last
//! migration>, "createdAtMs": …}`, then `{"table": <name>, "row": {…}}` lines table by table, then
//! `{"end": {"rows": {<table>: <count>, …}}}`. A backup without its end line, or whose counts
//! differ, is refused whole. Sessions, sign-in failures, pending single sign-on logins and the
//! work queue are left out: they are short-lived, and running executions get their queue
//! messages back from the zombie check when a restored server starts.
//!
//! A backup reads one consistent snapshot (a repeatable-read transaction on PostgreSQL, a read
//! transaction on SQLite), so it can be taken while Topsail runs. A restore writes into an
//! empty database in one transaction: all of it or nothing.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use migrations::MigratorTrait;
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel,
    IsolationLevel, Iterable, PaginatorTrait, PrimaryKeyToColumn, QueryOrder, TransactionTrait,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::Store;
use super::applications::entity as applications;
use super::cursors::entity as cursors;
use super::identity::accounts::{tokens, users};
use super::identity::audit::entity as audit;
use super::pipelines::{pipeline as pipelines, version as pipeline_versions};
use crate::orchestration::executions::row as executions;

/// What the header's `format` says.
pub const FORMAT: &str = "topsail-backup";
/// The version of the line format this release writes and reads.
pub const FORMAT_VERSION: u64 = 1;
/// The longest line a restore reads: one row (an execution's document is the largest).
pub const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;
/// Rows read per query while writing a backup, and inserted per statement while restoring.
const BATCH: u64 = 200;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error("writing the backup: {0}")]
    Write(std::io::Error),
    #[error("the backup's line {line}: {message}")]
    Format { line: usize, message: String },
    #[error(
        "the database is not empty (table `{table}` has {rows} rows): restore into a new database, before Topsail first starts on it"
    )]
    NotEmpty { table: &'static str, rows: u64 },
}

/// The tables a backup holds, in the order they are written and restored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Table {
    Users,
    ApiTokens,
    Applications,
    Pipelines,
    PipelineVersions,
    Executions,
    TriggerCursors,
    AuditLog,
}

impl Table {
    const ALL: [Table; 8] = [
        Table::Users,
        Table::ApiTokens,
        Table::Applications,
        Table::Pipelines,
        Table::PipelineVersions,
        Table::Executions,
        Table::TriggerCursors,
        Table::AuditLog,
    ];

    fn name(self) -> &'static str {
        match self {
            Table::Users => "users",
            Table::ApiTokens => "api_tokens",
            Table::Applications => "applications",
            Table::Pipelines => "pipelines",
            Table::PipelineVersions => "pipeline_versions",
            Table::Executions => "executions",
            Table::TriggerCursors => "trigger_cursors",
            Table::AuditLog => "audit_log",
        }
    }

    fn named(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Columns whose values a PostgreSQL sequence hands out (its next value is set after a
    /// restore).
    fn sequence_column(self) -> Option<&'static str> {
        match self {
            Table::Applications | Table::AuditLog => Some("id"),
            _ => None,
        }
    }

    async fn write<C: ConnectionTrait>(
        self,
        db: &C,
        out: &mut (dyn Write + Send),
    ) -> Result<u64, BackupError> {
        match self {
            Table::Users => write_rows::<users::Entity, _>(db, self, out).await,
            Table::ApiTokens => write_rows::<tokens::Entity, _>(db, self, out).await,
            Table::Applications => write_rows::<applications::Entity, _>(db, self, out).await,
            Table::Pipelines => write_rows::<pipelines::Entity, _>(db, self, out).await,
            Table::PipelineVersions => {
                write_rows::<pipeline_versions::Entity, _>(db, self, out).await
            }
            Table::Executions => write_rows::<executions::Entity, _>(db, self, out).await,
            Table::TriggerCursors => write_rows::<cursors::Entity, _>(db, self, out).await,
            Table::AuditLog => write_rows::<audit::Entity, _>(db, self, out).await,
        }
    }

    async fn insert(self, txn: &DatabaseTransaction, rows: Vec<Row>) -> Result<(), BackupError> {
        match self {
            Table::Users => insert_rows::<users::Entity>(txn, rows).await,
            Table::ApiTokens => insert_rows::<tokens::Entity>(txn, rows).await,
            Table::Applications => insert_rows::<applications::Entity>(txn, rows).await,
            Table::Pipelines => insert_rows::<pipelines::Entity>(txn, rows).await,
            Table::PipelineVersions => insert_rows::<pipeline_versions::Entity>(txn, rows).await,
            Table::Executions => insert_rows::<executions::Entity>(txn, rows).await,
            Table::TriggerCursors => insert_rows::<cursors::Entity>(txn, rows).await,
            Table::AuditLog => insert_rows::<audit::Entity>(txn, rows).await,
        }
    }

    async fn count<C: ConnectionTrait>(self, db: &C) -> Result<u64, DbErr> {
        match self {
            Table::Users => users::Entity::find().count(db).await,
            Table::ApiTokens => tokens::Entity::find().count(db).await,
            Table::Applications => applications::Entity::find().count(db).await,
            Table::Pipelines => pipelines::Entity::find().count(db).await,
            Table::PipelineVersions => pipeline_versions::Entity::find().count(db).await,
            Table::Executions => executions::Entity::find().count(db).await,
            Table::TriggerCursors => cursors::Entity::find().count(db).await,
            Table::AuditLog => audit::Entity::find().count(db).await,
        }
    }
}

/// A row as read from a backup, with the line it came from (for messages).
struct Row {
    line: usize,
    value: Value,
}

/// Rows per table, as written or restored.
pub type RowCounts = BTreeMap<String, u64>;

/// The name of the newest migration this release knows: the schema a backup is written under.
pub fn schema() -> String {
    migrations::Migrator::migrations()
        .last()
        .map(|m| m.name().to_owned())
        .unwrap_or_default()
}

fn write_line(out: &mut (dyn Write + Send), value: &Value) -> Result<(), BackupError> {
    serde_json::to_writer(&mut *out, value).map_err(|e| BackupError::Write(e.into()))?;
    out.write_all(b"\n").map_err(BackupError::Write)
}

async fn write_rows<E, C>(
    db: &C,
    table: Table,
    out: &mut (dyn Write + Send),
) -> Result<u64, BackupError>
where
    E: EntityTrait,
    E::Model: Serialize + Sync,
    C: ConnectionTrait,
{
    let mut query = E::find();
    for key in E::PrimaryKey::iter() {
        query = query.order_by_asc(key.into_column());
    }
    let mut pages = query.paginate(db, BATCH);
    let mut written = 0;
    while let Some(rows) = pages.fetch_and_next().await? {
        for row in rows {
            let row = serde_json::to_value(&row).map_err(|e| BackupError::Write(e.into()))?;
            write_line(out, &json!({"table": table.name(), "row": row}))?;
            written += 1;
        }
    }
    Ok(written)
}

async fn insert_rows<E>(txn: &DatabaseTransaction, rows: Vec<Row>) -> Result<(), BackupError>
where
    E: EntityTrait,
    E::Model: DeserializeOwned + IntoActiveModel<E::ActiveModel>,
{
    let mut models = Vec::with_capacity(rows.len());
    for Row { line, value } in rows {
        let model: E::Model = serde_json::from_value(value).map_err(|e| BackupError::Format {
            line,
            message: format!("not a row of this table: {e}"),
        })?;
        models.push(model.into_active_model());
    }
    if !models.is_empty() {
        E::insert_many(models).exec_without_returning(txn).await?;
    }
    Ok(())
}

impl Store {
    /// Writes a backup of this database to `out`; returns the rows written per table.
    pub async fn write_backup(
        &self,
        out: &mut (dyn Write + Send),
    ) -> Result<RowCounts, BackupError> {
        let txn = if self.is_postgres() {
            self.db
                .begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await?
        } else {
            self.db.begin().await?
        };
        write_line(
            out,
            &json!({"format": FORMAT, "version": FORMAT_VERSION, "schema": schema(),
                "createdAtMs": super::now().timestamp_millis()}),
        )?;
        let mut counts = RowCounts::new();
        for table in Table::ALL {
            let written = table.write(&txn, out).await?;
            counts.insert(table.name().to_owned(), written);
        }
        txn.commit().await?;
        write_line(out, &json!({"end": {"rows": counts}}))?;
        out.flush().map_err(BackupError::Write)?;
        Ok(counts)
    }

    /// Loads the backup `input` into this database, which must hold none of a backup's tables'
    /// rows. All of it is written, or nothing. Returns the rows restored per table.
    pub async fn restore_backup(
        &self,
        input: &mut (dyn BufRead + Send),
    ) -> Result<RowCounts, BackupError> {
        for table in Table::ALL {
            let rows = table.count(&self.db).await?;
            if rows > 0 {
                return Err(BackupError::NotEmpty {
                    table: table.name(),
                    rows,
                });
            }
        }
        let txn = self.db.begin().await?;
        let counts = load(&txn, input).await?;
        if self.is_postgres() {
            for table in Table::ALL {
                if let Some(column) = table.sequence_column() {
                    let name = table.name();
                    txn.execute_unprepared(&format!(
                        "SELECT setval(pg_get_serial_sequence('{name}', '{column}'), \
                         COALESCE((SELECT MAX({column}) FROM {name}), 0) + 1, false)"
                    ))
                    .await?;
                }
            }
        }
        txn.commit().await?;
        Ok(counts)
    }
}

/// Reads one line of at most [`MAX_LINE_BYTES`]; `None` at the end of the input.
fn next_line(input: &mut (dyn BufRead + Send), line: usize) -> Result<Option<Value>, BackupError> {
    let mut bytes = Vec::new();
    let read = std::io::Read::take(&mut *input, MAX_LINE_BYTES as u64 + 1)
        .read_until(b'\n', &mut bytes)
        .map_err(|e| BackupError::Format {
            line,
            message: format!("cannot be read: {e}"),
        })?;
    if read == 0 {
        return Ok(None);
    }
    if bytes.len() > MAX_LINE_BYTES {
        return Err(BackupError::Format {
            line,
            message: format!("is longer than {MAX_LINE_BYTES} bytes"),
        });
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| BackupError::Format {
            line,
            message: format!("is not JSON: {e}"),
        })
}

fn format_error(line: usize, message: impl Into<String>) -> BackupError {
    BackupError::Format {
        line,
        message: message.into(),
    }
}

/// Checks the header line against what this release reads.
fn check_header(header: Option<Value>) -> Result<(), BackupError> {
    let header = header.ok_or_else(|| format_error(1, "is missing: the backup is empty"))?;
    if header["format"] != FORMAT {
        return Err(format_error(
            1,
            format!("does not say `\"format\": \"{FORMAT}\"`"),
        ));
    }
    if header["version"] != FORMAT_VERSION {
        return Err(format_error(
            1,
            format!(
                "names format version {}; this release reads version {FORMAT_VERSION}",
                header["version"]
            ),
        ));
    }
    let schema = header["schema"].as_str().unwrap_or_default();
    let known = migrations::Migrator::migrations()
        .iter()
        .any(|m| m.name() == schema);
    if !known {
        return Err(format_error(
            1,
            format!(
                "was written under schema `{schema}`, which this release does not know (a newer release wrote it)"
            ),
        ));
    }
    Ok(())
}

async fn load(
    txn: &DatabaseTransaction,
    input: &mut (dyn BufRead + Send),
) -> Result<RowCounts, BackupError> {
    check_header(next_line(input, 1)?)?;
    let mut counts = RowCounts::new();
    let mut batch: Vec<Row> = Vec::new();
    let mut current: Option<Table> = None;
    let mut line = 1;
    let expected = loop {
        line += 1;
        let Some(mut value) = next_line(input, line)? else {
            return Err(format_error(
                line,
                "is missing: the backup ends before its end line (cut short?)",
            ));
        };
        if let Some(end) = value.get_mut("end") {
            break end["rows"].take();
        }
        let name = value["table"].as_str().unwrap_or_default();
        let table = Table::named(name).ok_or_else(|| {
            format_error(line, format!("names no table a backup holds: `{name}`"))
        })?;
        if current != Some(table) || batch.len() as u64 >= BATCH {
            if let Some(previous) = current {
                previous.insert(txn, std::mem::take(&mut batch)).await?;
            }
            current = Some(table);
        }
        *counts.entry(table.name().to_owned()).or_default() += 1;
        batch.push(Row {
            line,
            value: value["row"].take(),
        });
    };
    if let Some(table) = current {
        table.insert(txn, batch).await?;
    }
    for table in Table::ALL {
        let restored = counts.get(table.name()).copied().unwrap_or(0);
        let written = expected[table.name()].as_u64().unwrap_or(0);
        if restored != written {
            return Err(format_error(
                line,
                format!(
                    "says table `{}` had {written} rows; the backup holds {restored}",
                    table.name()
                ),
            ));
        }
        counts.insert(table.name().to_owned(), restored);
    }
    if next_line(input, line + 1)?.is_some() {
        return Err(format_error(line + 1, "follows the end line"));
    }
    Ok(counts)
}
