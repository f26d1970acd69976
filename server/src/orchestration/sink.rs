//! Where an execution's messages go when it changes: the engine's message sink port. Two
//! implementations keep "the change and its messages are stored together" true:
//! [`SameDatabase`] (the queue is a table of the executions' database: one transaction) and
//! the outbox ([`super::outbox::Outbox`], for a queue elsewhere such as Redis).

use std::sync::Arc;

use async_trait::async_trait;
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};

use super::queue::database::{complete_in, push_in};
use super::queue::{NewItem, QueueBackend, QueueError};

#[async_trait]
pub trait MessageSink: Send + Sync + 'static {
    /// Inside a change's transaction: stores the messages it produced (a new execution's first
    /// message, a person's change).
    async fn enqueue_in(&self, txn: &DatabaseTransaction, items: &[NewItem]) -> Result<(), DbErr>;

    /// Inside a change's transaction: settles the handled message `(message_id, lease)` and
    /// stores what follows. `false`: the lease was lost or the message was settled already,
    /// and the transaction must be rolled back.
    async fn settle_in(
        &self,
        txn: &DatabaseTransaction,
        message_id: &str,
        lease: &str,
        follow_ups: &[NewItem],
    ) -> Result<bool, DbErr>;

    /// After the transaction committed: delivers what it stored and acknowledges the settled
    /// message. Failures are logged and repaired later ([`MessageSink::relay`], redelivery).
    async fn after_commit(
        &self,
        db: &DatabaseConnection,
        items: &[NewItem],
        settled: Option<(&str, &str)>,
    );

    /// Whether this delivery's message was settled before (only a queue outside the database
    /// can deliver a settled message again); if so it is acknowledged here.
    async fn already_settled(
        &self,
        db: &DatabaseConnection,
        message_id: &str,
        lease: &str,
    ) -> Result<bool, DbErr>;

    /// Moves messages a failed or dead writer left behind; returns how many.
    async fn relay(&self, db: &DatabaseConnection) -> Result<usize, DbErr>;

    /// The payload of every message waiting to be handled, wherever it waits.
    async fn pending_payloads(&self, db: &DatabaseConnection) -> Result<Vec<String>, QueueError>;
}

/// The queue is a table in the executions' database: messages are written in the change's own
/// transaction, and there is nothing to do after it.
pub struct SameDatabase {
    pub queue: Arc<dyn QueueBackend>,
}

#[async_trait]
impl MessageSink for SameDatabase {
    async fn enqueue_in(&self, txn: &DatabaseTransaction, items: &[NewItem]) -> Result<(), DbErr> {
        push_in(txn, items).await
    }

    async fn settle_in(
        &self,
        txn: &DatabaseTransaction,
        message_id: &str,
        lease: &str,
        follow_ups: &[NewItem],
    ) -> Result<bool, DbErr> {
        complete_in(txn, message_id, lease, follow_ups).await
    }

    async fn after_commit(&self, _: &DatabaseConnection, _: &[NewItem], _: Option<(&str, &str)>) {}

    async fn already_settled(
        &self,
        _: &DatabaseConnection,
        _: &str,
        _: &str,
    ) -> Result<bool, DbErr> {
        Ok(false)
    }

    async fn relay(&self, _: &DatabaseConnection) -> Result<usize, DbErr> {
        Ok(0)
    }

    async fn pending_payloads(&self, _: &DatabaseConnection) -> Result<Vec<String>, QueueError> {
        self.queue.payloads().await
    }
}
