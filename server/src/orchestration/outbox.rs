//! The outbox, for a work queue outside the database (Redis, for several replicas).
//!
//! An execution change and the messages it produces must be stored together, but a transaction
//! cannot span the database and Redis. So the change's transaction writes its messages to the
//! `queue_outbox` table and records the message it settles in `queue_settled`; after the commit
//! the messages are pushed to the queue, their rows deleted, and only then is the settled
//! message acknowledged. Whatever fails after the commit is repaired later:
//! - outbox rows left behind (the push failed, the process died) are pushed by [`relay_stale`];
//! - the settled message is delivered again when its lease runs out, recognised by
//!   [`settled`], and acknowledged without being handled twice (its own outbox rows first).
//!
//! So at every moment a running execution has a message on the queue or in the outbox (the
//! zombie check relies on this), and a message is never handled twice to effect.

use std::sync::Arc;

use async_trait::async_trait;
use sea_orm::entity::prelude::*;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, DatabaseTransaction, QuerySelect,
};

use super::queue::{Clock, ItemLease, NewItem, QueueBackend, QueueError};
use super::sink::MessageSink;

mod row {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "queue_outbox")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub payload: String,
        pub deliver_at_ms: i64,
        pub lease_token: Option<String>,
        pub lease_until_ms: Option<i64>,
        /// The queue message whose handling wrote this row (none for a new execution or a
        /// person's change).
        pub settles: Option<String>,
        pub written_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod settled {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "queue_settled")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub settled_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Rows this old are taken to be left behind by a writer that failed to push them.
pub const STALE_AFTER_MS: i64 = 10_000;

/// Settled-message records are kept this long: far longer than a message can be delivered
/// again (visibility timeout × attempts).
pub const SETTLED_KEPT_MS: i64 = 24 * 3600 * 1000;

/// The queue messages go to, with the clock that stamps outbox rows.
#[derive(Clone)]
pub struct Outbox {
    pub queue: Arc<dyn QueueBackend>,
    pub clock: Arc<dyn Clock>,
}

fn item_of(r: row::Model) -> NewItem {
    let lease = match (r.lease_token, r.lease_until_ms) {
        (Some(token), Some(until_ms)) => Some(ItemLease { token, until_ms }),
        _ => None,
    };
    NewItem {
        id: r.id,
        payload: r.payload,
        deliver_at_ms: r.deliver_at_ms,
        lease,
    }
}

impl Outbox {
    /// Inside the change's transaction: records that `message_id` is settled by this change.
    /// `false` when it was settled already (a redelivery raced the first handling).
    pub async fn settle_in<C: ConnectionTrait>(
        &self,
        conn: &C,
        message_id: &str,
    ) -> Result<bool, DbErr> {
        let new = settled::ActiveModel {
            id: Set(message_id.to_owned()),
            settled_at_ms: Set(self.clock.now_ms()),
        };
        match settled::Entity::insert(new).exec(conn).await {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Inside the change's transaction: writes the messages it produced.
    pub async fn write_in<C: ConnectionTrait>(
        &self,
        conn: &C,
        items: &[NewItem],
        settles: Option<&str>,
    ) -> Result<(), DbErr> {
        if items.is_empty() {
            return Ok(());
        }
        let now = self.clock.now_ms();
        let rows = items.iter().map(|i| row::ActiveModel {
            id: Set(i.id.clone()),
            payload: Set(i.payload.clone()),
            deliver_at_ms: Set(i.deliver_at_ms),
            lease_token: Set(i.lease.as_ref().map(|l| l.token.clone())),
            lease_until_ms: Set(i.lease.as_ref().map(|l| l.until_ms)),
            settles: Set(settles.map(str::to_owned)),
            written_at_ms: Set(now),
        });
        row::Entity::insert_many(rows).exec(conn).await?;
        Ok(())
    }

    /// After the commit: pushes `items` to the queue, deletes their rows, then acknowledges the
    /// settled message. A failure is logged and left for [`Outbox::relay_stale`] and the
    /// redelivery to repair.
    pub async fn deliver(
        &self,
        db: &DatabaseConnection,
        items: &[NewItem],
        settled: Option<(&str, &str)>,
    ) {
        if !items.is_empty() {
            if let Err(e) = self.queue.push(items).await {
                tracing::warn!(error = %e, "moving messages from the outbox to the queue failed; they will be moved later");
                return;
            }
            let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
            if let Err(e) = row::Entity::delete_many()
                .filter(row::Column::Id.is_in(ids))
                .exec(db)
                .await
            {
                tracing::warn!(error = %e, "clearing moved outbox rows failed; they will be moved again (harmlessly)");
            }
        }
        if let Some((id, lease)) = settled
            && let Err(e) = self.queue.complete(id, lease, &[]).await
        {
            tracing::warn!(error = %e, message_id = id, "acknowledging a settled message failed; its redelivery will be dropped");
        }
    }

    /// Whether `message_id` was settled already; if so, finishes what its handler may not have
    /// (moving its outbox rows) and acknowledges this delivery of it.
    pub async fn settled(
        &self,
        db: &DatabaseConnection,
        message_id: &str,
        lease: &str,
    ) -> Result<bool, DbErr> {
        if settled::Entity::find_by_id(message_id)
            .one(db)
            .await?
            .is_none()
        {
            return Ok(false);
        }
        let rows = row::Entity::find()
            .filter(row::Column::Settles.eq(message_id))
            .all(db)
            .await?;
        let items: Vec<NewItem> = rows.into_iter().map(item_of).collect();
        self.deliver(db, &items, Some((message_id, lease))).await;
        Ok(true)
    }

    /// Pushes outbox rows older than [`STALE_AFTER_MS`] (their writer failed or died) and
    /// forgets settled records older than [`SETTLED_KEPT_MS`]. Returns how many rows moved.
    pub async fn relay_stale(&self, db: &DatabaseConnection) -> Result<usize, DbErr> {
        let now = self.clock.now_ms();
        let rows = row::Entity::find()
            .filter(row::Column::WrittenAtMs.lte(now - STALE_AFTER_MS))
            .limit(500)
            .all(db)
            .await?;
        let n = rows.len();
        if n > 0 {
            tracing::warn!(
                messages = n,
                "moving messages left in the outbox to the queue"
            );
            let items: Vec<NewItem> = rows.into_iter().map(item_of).collect();
            self.deliver(db, &items, None).await;
        }
        settled::Entity::delete_many()
            .filter(settled::Column::SettledAtMs.lt(now - SETTLED_KEPT_MS))
            .exec(db)
            .await?;
        Ok(n)
    }

    /// The payloads of every message in the outbox.
    pub async fn payloads(&self, db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
        row::Entity::find()
            .select_only()
            .column(row::Column::Payload)
            .into_tuple::<String>()
            .all(db)
            .await
    }
}

#[async_trait]
impl MessageSink for Outbox {
    async fn enqueue_in(&self, txn: &DatabaseTransaction, items: &[NewItem]) -> Result<(), DbErr> {
        self.write_in(txn, items, None).await
    }

    async fn settle_in(
        &self,
        txn: &DatabaseTransaction,
        message_id: &str,
        _lease: &str,
        follow_ups: &[NewItem],
    ) -> Result<bool, DbErr> {
        if !Outbox::settle_in(self, txn, message_id).await? {
            // Another delivery of this message was handled and committed first.
            return Ok(false);
        }
        self.write_in(txn, follow_ups, Some(message_id)).await?;
        Ok(true)
    }

    async fn after_commit(
        &self,
        db: &DatabaseConnection,
        items: &[NewItem],
        settled: Option<(&str, &str)>,
    ) {
        self.deliver(db, items, settled).await;
    }

    async fn already_settled(
        &self,
        db: &DatabaseConnection,
        message_id: &str,
        lease: &str,
    ) -> Result<bool, DbErr> {
        self.settled(db, message_id, lease).await
    }

    async fn relay(&self, db: &DatabaseConnection) -> Result<usize, DbErr> {
        self.relay_stale(db).await
    }

    /// Read in the order messages move (outbox, then queue), so a message moving meanwhile is
    /// seen in one place or the other.
    async fn pending_payloads(&self, db: &DatabaseConnection) -> Result<Vec<String>, QueueError> {
        let mut payloads = self.payloads(db).await?;
        payloads.extend(self.queue.payloads().await?);
        Ok(payloads)
    }
}
