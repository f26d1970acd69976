//! Where executions live, and the one way they change: [`ExecutionStore::commit`] saves the new
//! state (if nobody changed it meanwhile), settles the queue message that caused the change and
//! enqueues what follows, in one database transaction. Where the messages go is the
//! [`MessageSink`]'s business: the queue table of the same database, or the outbox for a
//! queue elsewhere (Redis).

use std::sync::Arc;

use domain::execution::{Execution, Status};
use domain::execution_query::{Cursor, ExecutionPage, ExecutionQuery, MAX_SCANNED};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, DatabaseConnection, QueryOrder, QuerySelect, TransactionTrait};

use super::queue::{NewItem, QueueError};
use super::sink::MessageSink;

pub(crate) mod row {
    use sea_orm::entity::prelude::*;

    #[derive(
        Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize,
    )]
    #[sea_orm(table_name = "executions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub application: String,
        pub pipeline_config_id: Option<String>,
        pub status: String,
        pub version: i32,
        pub document: String,
        pub build_time_ms: i64,
        /// When the full document moved to the archive (blob storage); `None`: it is all here.
        #[serde(default)]
        pub archived_at_ms: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use row::Column as C;

#[derive(Debug, thiserror::Error)]
pub enum ExecutionStoreError {
    #[error("execution database error: {0}")]
    Database(#[from] DbErr),
    #[error("stored execution is unreadable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("the execution archive: {0}")]
    Archive(String),
}

/// An execution with the version it was read at.
#[derive(Clone, Debug)]
pub struct Versioned {
    pub execution: Execution,
    pub version: i32,
}

/// What a commit did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Commit {
    Done,
    /// The execution changed since it was read: nothing was written; read again and redo.
    Stale,
    /// The message's lease was lost (it is being handled again): nothing was written.
    LeaseLost,
}

#[derive(Clone)]
pub struct ExecutionStore {
    db: DatabaseConnection,
    sink: Arc<dyn MessageSink>,
    changes: tokio::sync::broadcast::Sender<ExecutionChange>,
    /// Where archived executions' whole documents are (see [`super::archive`]).
    archive: Option<Arc<dyn crate::blobs::BlobStore>>,
}

/// An execution was created or changed (by this process; other replicas' changes are not seen).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutionChange {
    pub id: String,
    pub application: String,
    /// Committed by another replica (heard on the replica event bus), not by this process.
    pub elsewhere: bool,
}

fn changes_channel() -> tokio::sync::broadcast::Sender<ExecutionChange> {
    tokio::sync::broadcast::channel(1024).0
}

fn status_text(e: &Execution) -> String {
    serde_json::to_value(e.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The stored form of an execution. Input is refused deeper than it could be read back; should
/// anything still nest deeper than storage reads (a stage's output), that part is clipped and
/// logged, so the execution stays readable.
fn document(e: &Execution) -> String {
    use domain::json_depth::{MAX_STORED_DEPTH, clip, text_depth};
    let text = serde_json::to_string(e).expect("executions serialize");
    if text_depth(&text) <= MAX_STORED_DEPTH {
        return text;
    }
    let mut value = serde_json::to_value(e).expect("executions serialize");
    clip(&mut value, MAX_STORED_DEPTH);
    tracing::warn!(execution = %e.id, "an execution nested deeper than {MAX_STORED_DEPTH} levels; the deepest parts were clipped");
    value.to_string()
}

fn read(r: row::Model) -> Result<Versioned, ExecutionStoreError> {
    let execution = serde_json::from_str(&r.document)
        .map_err(|e| ExecutionStoreError::Corrupt(format!("{}: {e}", r.id)))?;
    Ok(Versioned {
        execution,
        version: r.version,
    })
}

impl ExecutionStore {
    /// Executions in the store's database, their messages going to `sink`.
    pub fn new(store: &crate::store::Store, sink: Arc<dyn MessageSink>) -> Self {
        Self {
            db: store.connection().clone(),
            sink,
            changes: changes_channel(),
            archive: None,
        }
    }

    /// Archives ended executions into `blobs` (and reads archived ones back from there).
    pub fn with_archive(mut self, blobs: Arc<dyn crate::blobs::BlobStore>) -> Self {
        self.archive = Some(blobs);
        self
    }

    /// An archived row with its whole document put back from the archive. A document missing
    /// from the archive leaves the summary (logged); an archive that cannot be read is an error,
    /// so a summary is never taken for the whole execution and saved over it.
    async fn unarchived(&self, mut r: row::Model) -> Result<row::Model, ExecutionStoreError> {
        if r.archived_at_ms.is_none() {
            return Ok(r);
        }
        let blobs = self.archive.as_ref().ok_or_else(|| {
            ExecutionStoreError::Archive(format!(
                "execution {} is archived and no blob storage is configured",
                r.id
            ))
        })?;
        let key = super::archive::blob_key(&r.application, &r.id);
        match blobs.get(&key).await {
            Ok(Some(bytes)) => {
                r.document = String::from_utf8(bytes)
                    .map_err(|_| ExecutionStoreError::Corrupt(format!("{key} is not UTF-8")))?;
            }
            Ok(None) => {
                tracing::error!(execution = %r.id, %key, "an archived execution's document is missing from blob storage; only its summary is left");
            }
            Err(e) => return Err(ExecutionStoreError::Archive(e.to_string())),
        }
        Ok(r)
    }

    /// Archives up to [`super::archive::ARCHIVE_BATCH`] ended executions built before
    /// `before_ms` (oldest first); returns how many. Each one's whole document is stored first,
    /// then its row becomes the summary — only if the execution did not change meanwhile.
    pub async fn archive_ended(
        &self,
        before_ms: i64,
        now_ms: i64,
    ) -> Result<usize, ExecutionStoreError> {
        use super::archive::{ARCHIVE_BATCH, blob_key, summary};
        let Some(blobs) = &self.archive else {
            return Ok(0);
        };
        let ended: Vec<&str> = [
            Status::Succeeded,
            Status::FailedContinue,
            Status::Terminal,
            Status::Canceled,
            Status::Skipped,
            Status::Stopped,
        ]
        .iter()
        .map(|s| s.as_str())
        .collect();
        let rows = row::Entity::find()
            .filter(C::ArchivedAtMs.is_null())
            .filter(C::BuildTimeMs.lt(before_ms))
            .filter(C::Status.is_in(ended))
            .order_by_asc(C::BuildTimeMs)
            .limit(ARCHIVE_BATCH)
            .all(&self.db)
            .await?;
        let mut archived = 0;
        for r in rows {
            let key = blob_key(&r.application, &r.id);
            let (id, version) = (r.id.clone(), r.version);
            if let Err(e) = crate::blobs::check_key(&key) {
                tracing::warn!(execution = %id, error = %e, "an execution cannot be archived under its name");
                continue;
            }
            let execution = match read(r.clone()) {
                Ok(v) => v.execution,
                Err(e) => {
                    tracing::warn!(execution = %id, error = %e, "an unreadable execution is not archived");
                    continue;
                }
            };
            let (kept, _) = summary(&execution);
            blobs
                .put(&key, r.document.into_bytes())
                .await
                .map_err(|e| ExecutionStoreError::Archive(e.to_string()))?;
            let done = row::Entity::update_many()
                .col_expr(C::Document, Expr::value(document(&kept)))
                .col_expr(C::ArchivedAtMs, Expr::value(Some(now_ms)))
                .filter(C::Id.eq(id.as_str()))
                .filter(C::Version.eq(version))
                .exec(&self.db)
                .await?;
            archived += done.rows_affected as usize;
        }
        Ok(archived)
    }

    /// Changes committed from now on, as they commit.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<ExecutionChange> {
        self.changes.subscribe()
    }

    fn announce(&self, execution: &Execution) {
        // Nobody listening is fine.
        let _ = self.changes.send(ExecutionChange {
            id: execution.id.to_string(),
            application: execution.application.clone(),
            elsewhere: false,
        });
    }

    /// Passes on a change another replica committed, to this process' live views.
    pub fn heard(&self, id: String, application: String) {
        let _ = self.changes.send(ExecutionChange {
            id,
            application,
            elsewhere: true,
        });
    }

    /// Whether this delivery's message was handled already (only a queue outside the database
    /// can deliver a settled message again); if so it is acknowledged here.
    pub async fn already_settled(
        &self,
        message_id: &str,
        lease: &str,
    ) -> Result<bool, ExecutionStoreError> {
        Ok(self
            .sink
            .already_settled(&self.db, message_id, lease)
            .await?)
    }

    /// Moves messages left behind to the queue (nothing to do with the queue in this database).
    pub async fn relay_outbox(&self) -> Result<usize, ExecutionStoreError> {
        Ok(self.sink.relay(&self.db).await?)
    }

    /// How many executions are stored, by status (Spinnaker's names).
    pub async fn count_by_status(&self) -> Result<Vec<(String, i64)>, ExecutionStoreError> {
        Ok(row::Entity::find()
            .select_only()
            .column(C::Status)
            .column_as(C::Id.count(), "n")
            .group_by(C::Status)
            .order_by_asc(C::Status)
            .into_tuple()
            .all(&self.db)
            .await?)
    }

    /// One execution, whole (an archived one read back from the archive).
    pub async fn load(&self, id: &str) -> Result<Option<Versioned>, ExecutionStoreError> {
        match row::Entity::find_by_id(id).one(&self.db).await? {
            Some(r) => read(self.unarchived(r).await?).map(Some),
            None => Ok(None),
        }
    }

    /// The newest executions of an application, newest first.
    pub async fn list(
        &self,
        application: &str,
        limit: u64,
    ) -> Result<Vec<Execution>, ExecutionStoreError> {
        let rows = row::Entity::find()
            .filter(C::Application.eq(application))
            .order_by_desc(C::BuildTimeMs)
            .limit(limit)
            .all(&self.db)
            .await?;
        // A row this release cannot read is left out (and logged), so one bad document never
        // makes the whole list unreadable.
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let id = r.id.clone();
                read(r)
                    .map_err(|e| tracing::error!(execution = %id, error = %e, "an execution cannot be read; it is left out of the list"))
                    .ok()
            })
            .map(|v| v.execution)
            .collect())
    }

    /// One page of an application's executions, newest first: the query's status and id
    /// filters and the cursor go to the database; pipeline, trigger and user are matched on
    /// the documents, reading at most [`MAX_SCANNED`] rows (then `next` says where to go on).
    pub async fn page(
        &self,
        application: &str,
        query: &ExecutionQuery,
        cursor: Option<&Cursor>,
    ) -> Result<ExecutionPage, ExecutionStoreError> {
        use sea_orm::Condition;
        let wanted = query.page_size();
        let batch = if query.filters_documents() {
            200
        } else {
            wanted + 1
        };
        let mut base = Condition::all().add(C::Application.eq(application));
        if !query.statuses.is_empty() {
            base = base.add(C::Status.is_in(query.statuses.iter().map(|s| s.as_str())));
        }
        if let Some(id) = &query.id {
            base = base.add(C::Id.starts_with(id.as_str()));
        }
        let mut position = cursor.cloned();
        let (mut found, mut scanned) = (Vec::new(), 0u64);
        loop {
            let mut condition = base.clone();
            if let Some(p) = &position {
                condition = condition.add(
                    Condition::any().add(C::BuildTimeMs.lt(p.build_time)).add(
                        Condition::all()
                            .add(C::BuildTimeMs.eq(p.build_time))
                            .add(C::Id.lt(p.id.as_str())),
                    ),
                );
            }
            let rows = row::Entity::find()
                .filter(condition)
                .order_by_desc(C::BuildTimeMs)
                .order_by_desc(C::Id)
                .limit(batch)
                .all(&self.db)
                .await?;
            let exhausted = (rows.len() as u64) < batch;
            let count = rows.len();
            for (i, r) in rows.into_iter().enumerate() {
                scanned += 1;
                position = Some(Cursor::after(r.build_time_ms, &r.id));
                let id = r.id.clone();
                match read(r) {
                    Ok(v) if query.matches(&v.execution) => found.push(v.execution),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(execution = %id, error = %e, "an execution cannot be read; it is left out of the list")
                    }
                }
                if found.len() as u64 == wanted {
                    // The next page starts after this one, if anything is left to look at.
                    let more = i + 1 < count || !exhausted;
                    return Ok(ExecutionPage {
                        executions: found,
                        next: position.filter(|_| more).map(|p| p.encode()),
                    });
                }
            }
            if exhausted {
                return Ok(ExecutionPage {
                    executions: found,
                    next: None,
                });
            }
            if scanned >= MAX_SCANNED {
                return Ok(ExecutionPage {
                    executions: found,
                    next: position.map(|p| p.encode()),
                });
            }
        }
    }

    /// The other executions of a pipeline with the given statuses, oldest first.
    pub async fn siblings(
        &self,
        execution: &Execution,
        statuses: &[Status],
    ) -> Result<Vec<Execution>, ExecutionStoreError> {
        let Some(pipeline) = &execution.pipeline_config_id else {
            return Ok(Vec::new());
        };
        let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        let rows = row::Entity::find()
            .filter(C::PipelineConfigId.eq(pipeline.as_str()))
            .filter(C::Status.is_in(names))
            .filter(C::Id.ne(execution.id.as_str()))
            .order_by_asc(C::BuildTimeMs)
            .order_by_asc(C::Id)
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|r| read(r).map(|v| v.execution))
            .collect()
    }

    /// The newest run of a pipeline.
    pub async fn latest_of_pipeline(
        &self,
        pipeline_id: &str,
    ) -> Result<Option<Execution>, ExecutionStoreError> {
        let row = row::Entity::find()
            .filter(C::PipelineConfigId.eq(pipeline_id))
            .order_by_desc(C::BuildTimeMs)
            .order_by_desc(C::Id)
            .one(&self.db)
            .await?;
        row.map(|r| read(r).map(|v| v.execution)).transpose()
    }

    /// Running executions that have no message waiting. Executions are read first, then the
    /// messages (in the order messages move), so a message moving meanwhile is seen.
    pub async fn running_without_messages(&self) -> Result<Vec<String>, ExecutionStoreError> {
        let running: Vec<String> = row::Entity::find()
            .select_only()
            .column(C::Id)
            .filter(C::Status.eq(Status::Running.as_str()))
            .into_tuple()
            .all(&self.db)
            .await?;
        if running.is_empty() {
            return Ok(running);
        }
        let with_messages: std::collections::HashSet<String> = self
            .sink
            .pending_payloads(&self.db)
            .await?
            .iter()
            .filter_map(|p| serde_json::from_str::<super::messages::Message>(p).ok())
            .map(|m| m.execution().to_owned())
            .collect();
        Ok(running
            .into_iter()
            .filter(|id| !with_messages.contains(id))
            .collect())
    }

    /// Stores a new execution and the message that starts it, together. `false` (and nothing
    /// stored) when an execution with that id exists already.
    pub async fn create(
        &self,
        execution: &Execution,
        first: &NewItem,
    ) -> Result<bool, ExecutionStoreError> {
        let txn = self.db.begin().await?;
        let new = row::ActiveModel {
            id: Set(execution.id.to_string()),
            application: Set(execution.application.clone()),
            pipeline_config_id: Set(execution.pipeline_config_id.clone().map(String::from)),
            status: Set(status_text(execution)),
            version: Set(1),
            document: Set(document(execution)),
            build_time_ms: Set(execution.build_time),
            archived_at_ms: Set(None),
        };
        if let Err(e) = row::Entity::insert(new).exec(&txn).await {
            txn.rollback().await?;
            return match e.sql_err() {
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => Ok(false),
                _ => Err(e.into()),
            };
        }
        self.sink
            .enqueue_in(&txn, std::slice::from_ref(first))
            .await?;
        txn.commit().await?;
        self.announce(execution);
        self.sink
            .after_commit(&self.db, std::slice::from_ref(first), None)
            .await;
        Ok(true)
    }

    /// Saves `execution` if it is still at `version` (skipped when `execution` is `None`), settles
    /// the message `(message_id, lease)` and enqueues `follow_ups`, all or nothing.
    pub async fn commit(
        &self,
        execution: Option<(&Execution, i32)>,
        message_id: &str,
        lease: &str,
        follow_ups: &[NewItem],
    ) -> Result<Commit, ExecutionStoreError> {
        let txn = self.db.begin().await?;
        if let Some((execution, version)) = execution
            && !save_in(&txn, execution, version).await?
        {
            txn.rollback().await?;
            return Ok(Commit::Stale);
        }
        if !self
            .sink
            .settle_in(&txn, message_id, lease, follow_ups)
            .await?
        {
            txn.rollback().await?;
            // Settled by another delivery already (acknowledged here), or the lease was lost.
            self.already_settled(message_id, lease).await?;
            return Ok(Commit::LeaseLost);
        }
        txn.commit().await?;
        if let Some((execution, _)) = execution {
            self.announce(execution);
        }
        self.sink
            .after_commit(&self.db, follow_ups, Some((message_id, lease)))
            .await;
        Ok(Commit::Done)
    }

    /// Saves a change that no queue message carries (a person's judgment, a cancel request),
    /// with the messages it needs, if the execution is still at `version`.
    pub async fn update(
        &self,
        execution: &Execution,
        version: i32,
        follow_ups: &[NewItem],
    ) -> Result<Commit, ExecutionStoreError> {
        let txn = self.db.begin().await?;
        if !save_in(&txn, execution, version).await? {
            txn.rollback().await?;
            return Ok(Commit::Stale);
        }
        self.sink.enqueue_in(&txn, follow_ups).await?;
        txn.commit().await?;
        self.announce(execution);
        self.sink.after_commit(&self.db, follow_ups, None).await;
        Ok(Commit::Done)
    }
}

/// Inside a transaction: writes `execution` as the next version if it is still at `version`.
async fn save_in<Conn: sea_orm::ConnectionTrait>(
    conn: &Conn,
    execution: &Execution,
    version: i32,
) -> Result<bool, DbErr> {
    let saved = row::Entity::update_many()
        .col_expr(C::Status, Expr::value(status_text(execution)))
        .col_expr(C::Version, Expr::value(version + 1))
        .col_expr(C::Document, Expr::value(document(execution)))
        // A changed execution is whole in its row again (a restarted stage of an archived run).
        .col_expr(C::ArchivedAtMs, Expr::value(Option::<i64>::None))
        .filter(C::Id.eq(execution.id.as_str()))
        .filter(C::Version.eq(version))
        .exec(conn)
        .await?;
    Ok(saved.rows_affected == 1)
}
