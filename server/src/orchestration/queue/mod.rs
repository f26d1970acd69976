//! The durable work queue executions run on (Spinnaker's keiko, re-thought).
//!
//! Semantics every backend keeps (the contract suite in `tests/queue_contract.rs` checks them):
//! - **Delayed delivery**: a message pushed with a delay is not delivered before it is due.
//! - **Leases**: `poll` leases due messages; a leased message is invisible to other pollers until
//!   the visibility timeout passes, after which it is delivered again (at-least-once).
//! - **Ack by lease**: `ack`/`complete` succeed only with the current lease, so a slow consumer
//!   whose message was redelivered cannot remove the new delivery.
//! - **Atomic follow-ups**: `complete` acks a message and pushes the messages its handling
//!   produced in one step: a crash leaves either the old message or the new ones, never neither.
//! - **Dead letters**: a message delivered `max_attempts` times without an ack, or one that cannot
//!   be read, moves to the dead letters instead of being delivered again.
//!
//! Backends: [`DatabaseQueue`] (SQLite / PostgreSQL table; the default) and [`RedisQueue`] (for
//! several replicas). Time comes from a [`Clock`], so tests move time instead of sleeping.

pub(crate) mod database;
mod redis;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use self::database::DatabaseQueue;
pub use self::redis::RedisQueue;
use super::messages::Message;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("queue redis error: {0}")]
    Redis(#[from] ::redis::RedisError),
    #[error("queue data is corrupt: {0}")]
    Corrupt(String),
}

/// Milliseconds since the Unix epoch, from a source tests can control.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

/// The real time.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that moves only when told to (for tests and simulations).
#[derive(Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn starting_at(ms: i64) -> Self {
        Self(Arc::new(AtomicI64::new(ms)))
    }

    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(millis(by), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[derive(Clone, Copy, Debug)]
pub struct QueueSettings {
    /// How long a delivered message stays invisible before it is delivered again.
    pub visibility_timeout: Duration,
    /// Deliveries without an ack before a message goes to the dead letters.
    pub max_attempts: u32,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            visibility_timeout: Duration::from_secs(60),
            max_attempts: 10,
        }
    }
}

/// A message to store: what the backends see (the payload is the message as JSON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewItem {
    pub id: String,
    pub payload: String,
    pub deliver_at_ms: i64,
    /// Stored already leased (delivered once) to the process that wrote it, which handles it
    /// next itself; if that process dies, the message is delivered again when the lease ends.
    pub lease: Option<ItemLease>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemLease {
    pub token: String,
    pub until_ms: i64,
}

/// A leased message as a backend returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawDelivery {
    pub id: String,
    pub payload: String,
    pub attempt: u32,
    pub lease: String,
}

impl Delivery {
    /// The lease that settles this delivery (for backends that settle inside a wider transaction).
    pub(crate) fn lease(&self) -> &str {
        &self.lease
    }
}

/// A message handed to a consumer. Settle it with [`WorkQueue::ack`], [`WorkQueue::complete`]
/// or [`WorkQueue::dead_letter`]; otherwise it is delivered again after the visibility timeout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub message: Message,
    /// 1 on first delivery.
    pub attempt: u32,
    lease: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub id: String,
    pub payload: String,
    pub attempts: u32,
    pub reason: String,
    pub failed_at_ms: i64,
}

/// How many messages are where, at a moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Due and not leased.
    pub ready: u64,
    /// Not yet due.
    pub scheduled: u64,
    /// Leased, lease not yet expired.
    pub in_flight: u64,
    pub dead: u64,
    /// How long the longest-waiting ready message has waited since it was due (0 when none is
    /// ready).
    pub oldest_ready_ms: u64,
}

/// What a storage backend must provide; [`WorkQueue`] adds the message types and the clock.
#[async_trait]
pub trait QueueBackend: Send + Sync + 'static {
    async fn push(&self, items: &[NewItem]) -> Result<(), QueueError>;
    /// Leases up to `max` due messages for `lease_ms`; moves messages already delivered
    /// `max_attempts` times to the dead letters instead.
    async fn poll(
        &self,
        now_ms: i64,
        max: usize,
        lease_ms: i64,
        max_attempts: u32,
    ) -> Result<Vec<RawDelivery>, QueueError>;
    /// Removes the message if `lease` is still its lease, and stores `follow_ups`, atomically.
    /// `false` (and nothing stored) when the lease was lost.
    async fn complete(
        &self,
        id: &str,
        lease: &str,
        follow_ups: &[NewItem],
    ) -> Result<bool, QueueError>;
    /// Moves the message to the dead letters if `lease` is still its lease.
    async fn dead_letter(
        &self,
        id: &str,
        lease: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<bool, QueueError>;
    async fn depth(&self, now_ms: i64) -> Result<QueueDepth, QueueError>;
    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError>;
    /// The payload of every message not dead-lettered (due, scheduled or leased).
    async fn payloads(&self) -> Result<Vec<String>, QueueError>;
}

/// The queue as the engine uses it.
#[derive(Clone)]
pub struct WorkQueue {
    backend: Arc<dyn QueueBackend>,
    clock: Arc<dyn Clock>,
    settings: QueueSettings,
}

impl WorkQueue {
    pub fn new(
        backend: Arc<dyn QueueBackend>,
        clock: Arc<dyn Clock>,
        settings: QueueSettings,
    ) -> Self {
        Self {
            backend,
            clock,
            settings,
        }
    }

    /// The stored form of `message`, due after `delay`.
    pub(crate) fn item(&self, message: &Message, delay: Duration) -> NewItem {
        NewItem {
            id: crate::ids::long_id(),
            payload: serde_json::to_string(message).expect("messages always serialize"),
            deliver_at_ms: self.clock.now_ms().saturating_add(millis(delay)),
            lease: None,
        }
    }

    /// The stored form of `message`, due now and leased to the caller, with the delivery that
    /// settles it: the caller handles it next without a round trip through `poll` (other
    /// pollers do not see it unless the lease runs out).
    pub fn claimed_item(&self, message: &Message) -> (NewItem, Delivery) {
        let now = self.clock.now_ms();
        let lease = ItemLease {
            token: crate::ids::long_id(),
            until_ms: now.saturating_add(millis(self.settings.visibility_timeout)),
        };
        let item = NewItem {
            id: crate::ids::long_id(),
            payload: serde_json::to_string(message).expect("messages always serialize"),
            deliver_at_ms: now,
            lease: Some(lease.clone()),
        };
        let delivery = Delivery {
            id: item.id.clone(),
            message: message.clone(),
            attempt: 1,
            lease: lease.token,
        };
        (item, delivery)
    }

    /// Enqueues `message` for delivery once `delay` has passed.
    pub async fn push(&self, message: &Message, delay: Duration) -> Result<(), QueueError> {
        self.backend.push(&[self.item(message, delay)]).await
    }

    /// Leases up to `max` due messages. A message that cannot be read is dead-lettered here.
    pub async fn poll(&self, max: usize) -> Result<Vec<Delivery>, QueueError> {
        let now = self.clock.now_ms();
        let lease_ms = millis(self.settings.visibility_timeout);
        let raw = self
            .backend
            .poll(now, max, lease_ms, self.settings.max_attempts)
            .await?;
        let mut deliveries = Vec::with_capacity(raw.len());
        for r in raw {
            match serde_json::from_str::<Message>(&r.payload) {
                Ok(message) => deliveries.push(Delivery {
                    id: r.id,
                    message,
                    attempt: r.attempt,
                    lease: r.lease,
                }),
                Err(e) => {
                    tracing::error!(message_id = %r.id, error = %e, "unreadable queue message moved to dead letters");
                    self.backend
                        .dead_letter(&r.id, &r.lease, &format!("unreadable message: {e}"), now)
                        .await?;
                }
            }
        }
        Ok(deliveries)
    }

    /// Removes a handled message. `false` when its lease was lost (it was or will be delivered
    /// again; the handler's idempotence makes that harmless).
    pub async fn ack(&self, delivery: &Delivery) -> Result<bool, QueueError> {
        self.complete(delivery, &[]).await
    }

    /// Acks `delivery` and enqueues what handling it produced, in one step.
    pub async fn complete(
        &self,
        delivery: &Delivery,
        follow_ups: &[(Message, Duration)],
    ) -> Result<bool, QueueError> {
        let items: Vec<NewItem> = follow_ups
            .iter()
            .map(|(m, delay)| self.item(m, *delay))
            .collect();
        self.backend
            .complete(&delivery.id, &delivery.lease, &items)
            .await
    }

    /// Gives up on a message: it moves to the dead letters with `reason`.
    pub async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> Result<bool, QueueError> {
        self.backend
            .dead_letter(&delivery.id, &delivery.lease, reason, self.clock.now_ms())
            .await
    }

    pub async fn depth(&self) -> Result<QueueDepth, QueueError> {
        self.backend.depth(self.clock.now_ms()).await
    }

    pub async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        self.backend.dead_letters(limit).await
    }

    /// The backend, for tests that need to put raw data on the queue.
    pub fn backend(&self) -> &Arc<dyn QueueBackend> {
        &self.backend
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
}

/// The reason recorded for a message that was delivered too often without an ack.
pub(crate) fn exhausted_reason(attempts: u32) -> String {
    format!("delivered {attempts} times without being acknowledged")
}
