//! The queue in the database (SQLite or PostgreSQL): the zero-configuration default.
//!
//! A lease is taken with one conditional UPDATE (`WHERE attempts = <seen> AND not leased`), so
//! concurrent pollers, in one process or several, never lease the same message twice; no
//! backend-specific locking (`SKIP LOCKED`) is needed for correctness.

use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

use super::{
    DeadLetter, NewItem, QueueBackend, QueueDepth, QueueError, RawDelivery, exhausted_reason,
};

mod message {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "queue_messages")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub payload: String,
        pub deliver_at_ms: i64,
        pub attempts: i32,
        pub lease_token: Option<String>,
        pub lease_until_ms: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod dead_letter {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "queue_dead_letters")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub payload: String,
        pub attempts: i32,
        pub reason: String,
        pub failed_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use message::Column as M;

#[derive(Clone)]
pub struct DatabaseQueue {
    db: DatabaseConnection,
}

impl DatabaseQueue {
    /// Uses the store's connection (the tables come with the store's migrations).
    pub fn new(store: &crate::store::Store) -> Self {
        Self {
            db: store.connection().clone(),
        }
    }
}

/// Not leased, or the lease has run out.
fn unleased(now_ms: i64) -> Condition {
    Condition::any()
        .add(M::LeaseUntilMs.is_null())
        .add(M::LeaseUntilMs.lte(now_ms))
}

fn new_row(item: &NewItem) -> message::ActiveModel {
    message::ActiveModel {
        id: Set(item.id.clone()),
        payload: Set(item.payload.clone()),
        deliver_at_ms: Set(item.deliver_at_ms),
        attempts: Set(if item.lease.is_some() { 1 } else { 0 }),
        lease_token: Set(item.lease.as_ref().map(|l| l.token.clone())),
        lease_until_ms: Set(item.lease.as_ref().map(|l| l.until_ms)),
    }
}

fn dead_row(m: &message::Model, reason: &str, now_ms: i64) -> dead_letter::ActiveModel {
    dead_letter::ActiveModel {
        id: Set(m.id.clone()),
        payload: Set(m.payload.clone()),
        attempts: Set(m.attempts),
        reason: Set(reason.to_owned()),
        failed_at_ms: Set(now_ms),
    }
}

/// Inside the caller's transaction: removes the message if `lease` is still its lease and stores
/// `follow_ups`. `false` (nothing written) when the lease was lost. The engine uses this to
/// change an execution and settle its message in one transaction.
pub(crate) async fn complete_in<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    lease: &str,
    follow_ups: &[NewItem],
) -> Result<bool, sea_orm::DbErr> {
    let removed = message::Entity::delete_many()
        .filter(M::Id.eq(id))
        .filter(M::LeaseToken.eq(lease))
        .exec(conn)
        .await?;
    if removed.rows_affected != 1 {
        return Ok(false);
    }
    push_in(conn, follow_ups).await?;
    Ok(true)
}

/// Inside the caller's transaction: stores new messages.
pub(crate) async fn push_in<C: ConnectionTrait>(
    conn: &C,
    items: &[NewItem],
) -> Result<(), sea_orm::DbErr> {
    if !items.is_empty() {
        message::Entity::insert_many(items.iter().map(new_row))
            .exec(conn)
            .await?;
    }
    Ok(())
}

#[async_trait]
impl QueueBackend for DatabaseQueue {
    async fn push(&self, items: &[NewItem]) -> Result<(), QueueError> {
        Ok(push_in(&self.db, items).await?)
    }

    async fn poll(
        &self,
        now_ms: i64,
        max: usize,
        lease_ms: i64,
        max_attempts: u32,
    ) -> Result<Vec<RawDelivery>, QueueError> {
        let candidates = message::Entity::find()
            .filter(M::DeliverAtMs.lte(now_ms))
            .filter(unleased(now_ms))
            .order_by_asc(M::DeliverAtMs)
            .order_by_asc(M::Id)
            .limit(u64::try_from(max.saturating_mul(2)).unwrap_or(u64::MAX))
            .all(&self.db)
            .await?;
        let max_attempts = i32::try_from(max_attempts).unwrap_or(i32::MAX);
        let mut leased = Vec::new();
        for candidate in candidates {
            if leased.len() == max {
                break;
            }
            // Only this poller's conditional write wins; a concurrent poller sees 0 rows.
            let still_ours = Condition::all()
                .add(M::Id.eq(candidate.id.as_str()))
                .add(M::Attempts.eq(candidate.attempts))
                .add(unleased(now_ms));
            if candidate.attempts >= max_attempts {
                let txn = self.db.begin().await?;
                let removed = message::Entity::delete_many()
                    .filter(still_ours)
                    .exec(&txn)
                    .await?;
                if removed.rows_affected == 1 {
                    let reason = exhausted_reason(u32::try_from(candidate.attempts).unwrap_or(0));
                    dead_letter::Entity::insert(dead_row(&candidate, &reason, now_ms))
                        .exec(&txn)
                        .await?;
                    txn.commit().await?;
                    tracing::warn!(message_id = %candidate.id, "queue message dead-lettered: {reason}");
                } else {
                    txn.rollback().await?;
                }
                continue;
            }
            let lease = crate::ids::long_id();
            let claimed = message::Entity::update_many()
                .col_expr(M::LeaseToken, Expr::value(lease.clone()))
                .col_expr(
                    M::LeaseUntilMs,
                    Expr::value(now_ms.saturating_add(lease_ms)),
                )
                .col_expr(M::Attempts, Expr::value(candidate.attempts + 1))
                .filter(still_ours)
                .exec(&self.db)
                .await?;
            if claimed.rows_affected == 1 {
                leased.push(RawDelivery {
                    id: candidate.id,
                    payload: candidate.payload,
                    attempt: u32::try_from(candidate.attempts + 1).unwrap_or(u32::MAX),
                    lease,
                });
            }
        }
        Ok(leased)
    }

    async fn complete(
        &self,
        id: &str,
        lease: &str,
        follow_ups: &[NewItem],
    ) -> Result<bool, QueueError> {
        let txn = self.db.begin().await?;
        if complete_in(&txn, id, lease, follow_ups).await? {
            txn.commit().await?;
            Ok(true)
        } else {
            txn.rollback().await?;
            Ok(false)
        }
    }

    async fn dead_letter(
        &self,
        id: &str,
        lease: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<bool, QueueError> {
        let txn = self.db.begin().await?;
        let Some(found) = message::Entity::find()
            .filter(M::Id.eq(id))
            .filter(M::LeaseToken.eq(lease))
            .one(&txn)
            .await?
        else {
            txn.rollback().await?;
            return Ok(false);
        };
        let removed = message::Entity::delete_many()
            .filter(M::Id.eq(id))
            .filter(M::LeaseToken.eq(lease))
            .exec(&txn)
            .await?;
        if removed.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        dead_letter::Entity::insert(dead_row(&found, reason, now_ms))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(true)
    }

    async fn depth(&self, now_ms: i64) -> Result<QueueDepth, QueueError> {
        let in_flight = message::Entity::find()
            .filter(M::LeaseUntilMs.gt(now_ms))
            .count(&self.db)
            .await?;
        let ready = message::Entity::find()
            .filter(unleased(now_ms))
            .filter(M::DeliverAtMs.lte(now_ms))
            .count(&self.db)
            .await?;
        let oldest: Option<Option<i64>> = message::Entity::find()
            .select_only()
            .column_as(M::DeliverAtMs.min(), "oldest")
            .filter(unleased(now_ms))
            .filter(M::DeliverAtMs.lte(now_ms))
            .into_tuple()
            .one(&self.db)
            .await?;
        let scheduled = message::Entity::find()
            .filter(unleased(now_ms))
            .filter(M::DeliverAtMs.gt(now_ms))
            .count(&self.db)
            .await?;
        let dead = dead_letter::Entity::find().count(&self.db).await?;
        Ok(QueueDepth {
            ready,
            scheduled,
            in_flight,
            dead,
            oldest_ready_ms: oldest
                .flatten()
                .map_or(0, |due| (now_ms - due).max(0) as u64),
        })
    }

    async fn payloads(&self) -> Result<Vec<String>, QueueError> {
        Ok(message::Entity::find()
            .select_only()
            .column(M::Payload)
            .into_tuple::<String>()
            .all(&self.db)
            .await?)
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let rows = dead_letter::Entity::find()
            .order_by_asc(dead_letter::Column::FailedAtMs)
            .order_by_asc(dead_letter::Column::Id)
            .limit(u64::try_from(limit).unwrap_or(u64::MAX))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| DeadLetter {
                id: r.id,
                payload: r.payload,
                attempts: u32::try_from(r.attempts).unwrap_or(0),
                reason: r.reason,
                failed_at_ms: r.failed_at_ms,
            })
            .collect())
    }
}
