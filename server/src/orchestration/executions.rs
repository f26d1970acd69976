//! Where executions live, and the one way they change: [`ExecutionStore::commit`] saves the new
//! state (if nobody changed it meanwhile), settles the queue message that caused the change and
//! enqueues what follows, in one database transaction. With the queue in the same database
//! that is the whole story; with a queue elsewhere (Redis) the messages go through the
//! [`Outbox`].

use domain::execution::{Execution, Status};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, DatabaseConnection, QueryOrder, QuerySelect, TransactionTrait};

use super::outbox::Outbox;
use super::queue::database::{complete_in, push_in};
use super::queue::{NewItem, QueueError};

mod row {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
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
    /// `None`: messages go to the queue table in the same transaction as the change.
    outbox: Option<Outbox>,
    changes: tokio::sync::broadcast::Sender<ExecutionChange>,
}

/// An execution was created or changed (by this process; other replicas' changes are not seen).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutionChange {
    pub id: String,
    pub application: String,
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

fn document(e: &Execution) -> String {
    serde_json::to_string(e).expect("executions serialize")
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
    /// Executions whose messages go to the queue table of the same database.
    pub fn new(store: &crate::store::Store) -> Self {
        Self {
            db: store.connection().clone(),
            outbox: None,
            changes: changes_channel(),
        }
    }

    /// Executions whose messages go to another queue through the outbox.
    pub fn with_outbox(store: &crate::store::Store, outbox: Outbox) -> Self {
        Self {
            db: store.connection().clone(),
            outbox: Some(outbox),
            changes: changes_channel(),
        }
    }

    /// Changes committed from now on, as they commit.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<ExecutionChange> {
        self.changes.subscribe()
    }

    fn announce(&self, execution: &Execution) {
        // Nobody listening is fine.
        let _ = self.changes.send(ExecutionChange {
            id: execution.id.clone(),
            application: execution.application.clone(),
        });
    }

    /// Whether this delivery's message was handled already (only a queue outside the database
    /// can deliver a settled message again); if so it is acknowledged here.
    pub async fn already_settled(
        &self,
        message_id: &str,
        lease: &str,
    ) -> Result<bool, ExecutionStoreError> {
        match &self.outbox {
            None => Ok(false),
            Some(outbox) => Ok(outbox.settled(&self.db, message_id, lease).await?),
        }
    }

    /// Moves messages left in the outbox to the queue (nothing to do without an outbox).
    pub async fn relay_outbox(&self) -> Result<usize, ExecutionStoreError> {
        match &self.outbox {
            None => Ok(0),
            Some(outbox) => Ok(outbox.relay_stale(&self.db).await?),
        }
    }

    /// Inside a change's transaction: stores the messages it produced.
    async fn enqueue_in<Conn: sea_orm::ConnectionTrait>(
        &self,
        conn: &Conn,
        items: &[NewItem],
    ) -> Result<(), DbErr> {
        match &self.outbox {
            None => push_in(conn, items).await,
            Some(outbox) => outbox.write_in(conn, items, None).await,
        }
    }

    /// After a change committed: moves its messages from the outbox to the queue.
    async fn after_commit(&self, items: &[NewItem], settled: Option<(&str, &str)>) {
        if let Some(outbox) = &self.outbox {
            outbox.deliver(&self.db, items, settled).await;
        }
    }

    pub async fn load(&self, id: &str) -> Result<Option<Versioned>, ExecutionStoreError> {
        row::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(read)
            .transpose()
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
        rows.into_iter()
            .map(|r| read(r).map(|v| v.execution))
            .collect()
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

    /// Running executions that have no message on the queue.
    pub async fn running_without_messages(&self) -> Result<Vec<String>, ExecutionStoreError> {
        use sea_orm::{ConnectionTrait, Statement};
        if let Some(outbox) = &self.outbox {
            // Read in the order messages move (database, outbox, queue), so a message moving
            // meanwhile is seen in one place or the other.
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
            let mut payloads = outbox.payloads(&self.db).await?;
            payloads.extend(outbox.queue.payloads().await?);
            let with_messages: std::collections::HashSet<String> = payloads
                .iter()
                .filter_map(|p| serde_json::from_str::<super::messages::Message>(p).ok())
                .map(|m| m.execution().to_owned())
                .collect();
            return Ok(running
                .into_iter()
                .filter(|id| !with_messages.contains(id))
                .collect());
        }
        let sql = "SELECT e.id FROM executions e WHERE e.status = 'RUNNING' AND NOT EXISTS \
                   (SELECT 1 FROM queue_messages q WHERE q.payload LIKE '%\"execution\":\"' || e.id || '\"%')";
        let rows = self
            .db
            .query_all(Statement::from_string(self.db.get_database_backend(), sql))
            .await?;
        rows.iter()
            .map(|r| {
                r.try_get_by_index::<String>(0)
                    .map_err(ExecutionStoreError::from)
            })
            .collect()
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
            id: Set(execution.id.clone()),
            application: Set(execution.application.clone()),
            pipeline_config_id: Set(execution.pipeline_config_id.clone()),
            status: Set(status_text(execution)),
            version: Set(1),
            document: Set(document(execution)),
            build_time_ms: Set(execution.build_time),
        };
        if let Err(e) = row::Entity::insert(new).exec(&txn).await {
            txn.rollback().await?;
            return match e.sql_err() {
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => Ok(false),
                _ => Err(e.into()),
            };
        }
        self.enqueue_in(&txn, std::slice::from_ref(first)).await?;
        txn.commit().await?;
        self.announce(execution);
        self.after_commit(std::slice::from_ref(first), None).await;
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
        match &self.outbox {
            None => {
                if !complete_in(&txn, message_id, lease, follow_ups).await? {
                    txn.rollback().await?;
                    return Ok(Commit::LeaseLost);
                }
                txn.commit().await?;
                if let Some((execution, _)) = execution {
                    self.announce(execution);
                }
            }
            Some(outbox) => {
                if !outbox.settle_in(&txn, message_id).await? {
                    // Another delivery of this message was handled and committed first.
                    txn.rollback().await?;
                    self.already_settled(message_id, lease).await?;
                    return Ok(Commit::LeaseLost);
                }
                outbox.write_in(&txn, follow_ups, Some(message_id)).await?;
                txn.commit().await?;
                if let Some((execution, _)) = execution {
                    self.announce(execution);
                }
                outbox
                    .deliver(&self.db, follow_ups, Some((message_id, lease)))
                    .await;
            }
        }
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
        self.enqueue_in(&txn, follow_ups).await?;
        txn.commit().await?;
        self.announce(execution);
        self.after_commit(follow_ups, None).await;
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
        .filter(C::Id.eq(execution.id.as_str()))
        .filter(C::Version.eq(version))
        .exec(conn)
        .await?;
    Ok(saved.rows_affected == 1)
}
