//! The replica event bus: execution changes between replicas, for the live pages. Each replica
//! publishes what it commits and hears what the others commit, so a browser connected to
//! replica B sees a change committed on replica A as it happens. Redis pub/sub when `redis_url`
//! is set, else PostgreSQL's `LISTEN`/`NOTIFY`; one process on SQLite needs neither.
//!
//! Best effort by design: a change published while a replica's connection is down is never
//! heard there, and the live streams' slow safety re-check makes up for it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, watch};

use crate::orchestration::engine::Engine;

/// One change as it travels: which replica committed it, and what changed.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Wire {
    replica: String,
    id: String,
    application: String,
}

/// How the replicas reach each other. `listen` delivers every payload published on the
/// bus (this replica's own too) until its connection fails.
#[async_trait]
pub trait ChangeBus: Send + Sync + 'static {
    /// For logs: `redis` or `postgres`.
    fn name(&self) -> &'static str;
    async fn publish(&self, payload: String) -> Result<(), String>;
    async fn listen(&self, deliver: mpsc::Sender<String>) -> Result<(), String>;
}

/// Redis pub/sub on `<prefix>:executions`.
pub struct RedisBus {
    client: redis::Client,
    publisher: redis::aio::ConnectionManager,
    channel: String,
}

impl RedisBus {
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| e.to_string())?;
        let publisher = redis::aio::ConnectionManager::new(client.clone())
            .await
            .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            publisher,
            channel: format!("{prefix}:executions"),
        })
    }
}

#[async_trait]
impl ChangeBus for RedisBus {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn publish(&self, payload: String) -> Result<(), String> {
        let mut conn = self.publisher.clone();
        redis::cmd("PUBLISH")
            .arg(&self.channel)
            .arg(payload)
            .query_async::<i64>(&mut conn)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn listen(&self, deliver: mpsc::Sender<String>) -> Result<(), String> {
        let mut pubsub = self
            .client
            .get_async_pubsub()
            .await
            .map_err(|e| e.to_string())?;
        pubsub
            .subscribe(&self.channel)
            .await
            .map_err(|e| e.to_string())?;
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            if let Ok(payload) = message.get_payload::<String>()
                && deliver.send(payload).await.is_err()
            {
                return Ok(());
            }
        }
        Err("the subscription ended".into())
    }
}

/// PostgreSQL `NOTIFY` on the channel `topsail_executions` of the installation's database.
pub struct PostgresBus {
    pool: sea_orm::sqlx::PgPool,
}

/// The PostgreSQL notification channel.
const PG_CHANNEL: &str = "topsail_executions";

impl PostgresBus {
    pub fn new(store: &crate::store::Store) -> Self {
        Self {
            pool: store.connection().get_postgres_connection_pool().clone(),
        }
    }
}

#[async_trait]
impl ChangeBus for PostgresBus {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn publish(&self, payload: String) -> Result<(), String> {
        sea_orm::sqlx::query("SELECT pg_notify($1, $2)")
            .bind(PG_CHANNEL)
            .bind(payload)
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn listen(&self, deliver: mpsc::Sender<String>) -> Result<(), String> {
        let mut listener = sea_orm::sqlx::postgres::PgListener::connect_with(&self.pool)
            .await
            .map_err(|e| e.to_string())?;
        listener
            .listen(PG_CHANNEL)
            .await
            .map_err(|e| e.to_string())?;
        loop {
            // `try_recv` ends (None) when the connection drops, instead of reconnecting quietly.
            match listener.try_recv().await.map_err(|e| e.to_string())? {
                Some(n) => {
                    if deliver.send(n.payload().to_owned()).await.is_err() {
                        return Ok(());
                    }
                }
                None => return Err("the connection closed".into()),
            }
        }
    }
}

/// The pause before listening again after the bus' connection failed.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Connects an engine to the bus until `closing` turns true: publishes each change this
/// process commits, and passes each change another replica committed to the live views.
pub fn run(
    bus: Arc<dyn ChangeBus>,
    engine: Arc<Engine>,
    mut closing: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let replica = crate::ids::long_id();
    tracing::info!(
        bus = bus.name(),
        "live execution changes shared with other replicas"
    );
    tokio::spawn(async move {
        tokio::select! {
            _ = closing.wait_for(|closed| *closed) => {}
            _ = publish(bus.clone(), engine.subscribe(), replica.clone()) => {}
            _ = hear(bus, engine, replica) => {}
        }
    })
}

async fn publish(
    bus: Arc<dyn ChangeBus>,
    mut changes: broadcast::Receiver<crate::orchestration::executions::ExecutionChange>,
    replica: String,
) {
    loop {
        let change = match changes.recv().await {
            Ok(c) if !c.elsewhere => c,
            Ok(_) => continue,
            // Missed some: the others' safety re-check covers them.
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let wire = Wire {
            replica: replica.clone(),
            id: change.id,
            application: change.application,
        };
        let payload = serde_json::to_string(&wire).expect("a change serializes");
        if let Err(e) = bus.publish(payload).await {
            tracing::warn!(bus = bus.name(), error = %e, "cannot publish an execution change");
        }
    }
}

async fn hear(bus: Arc<dyn ChangeBus>, engine: Arc<Engine>, replica: String) {
    let (tx, mut rx) = mpsc::channel::<String>(1024);
    let listening = {
        let bus = bus.clone();
        async move {
            loop {
                if let Err(e) = bus.listen(tx.clone()).await {
                    tracing::warn!(bus = bus.name(), error = %e, "listening for other replicas' changes; again in a second");
                }
                tokio::time::sleep(RECONNECT_AFTER).await;
            }
        }
    };
    let passing_on = async move {
        while let Some(payload) = rx.recv().await {
            match serde_json::from_str::<Wire>(&payload) {
                Ok(w) if w.replica != replica => engine.heard(w.id, w.application),
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "a message on the bus that is not a change"),
            }
        }
    };
    tokio::select! {
        _ = listening => {}
        _ = passing_on => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_travels_as_small_json() {
        let wire = Wire {
            replica: "r1".into(),
            id: "01J".into(),
            application: "shop".into(),
        };
        let text = serde_json::to_string(&wire).unwrap();
        assert_eq!(text, r#"{"replica":"r1","id":"01J","application":"shop"}"#);
        assert_eq!(serde_json::from_str::<Wire>(&text).unwrap(), wire);
    }
}
