//! The server's background work — the engine's worker and every loop beside it (cron, outbox
//! relay, zombie check, Jenkins watcher, tag poller, account health checks) — owned by one
//! [`Supervisor`]: a loop whose turn panics is logged, counted (in `/metrics`) and goes on
//! after a pause; shutdown stops every loop after its current turn.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::FutureExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::orchestration::engine::Engine;

/// One loop of background work.
#[async_trait]
pub trait BackgroundLoop: Send + Sync + 'static {
    /// Its name in logs and metrics.
    fn name(&self) -> &'static str;
    /// How long after start the first turn runs.
    fn first_after(&self) -> Duration {
        Duration::ZERO
    }
    /// One turn of work; returns how long to wait before the next (zero: at once). Errors are
    /// the loop's to log; a panic is caught by the supervisor.
    async fn turn(&self) -> Duration;
}

/// How often each loop's turn panicked, by loop.
#[derive(Default)]
pub struct LoopRestarts(Mutex<BTreeMap<&'static str, u64>>);

impl LoopRestarts {
    pub fn count(&self, name: &'static str) {
        let mut counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *counts.entry(name).or_default() += 1;
    }

    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        let counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        counts.iter().map(|(k, v)| (*k, *v)).collect()
    }
}

/// Owns the loops: runs each in its own task until shutdown.
pub struct Supervisor {
    stop: watch::Sender<bool>,
    tasks: Vec<(&'static str, JoinHandle<()>)>,
    restarts: Arc<LoopRestarts>,
    /// The pause after a turn panicked.
    pub backoff: Duration,
}

/// How long shutdown waits for a loop's current turn before ending it.
const STOP_WITHIN: Duration = Duration::from_secs(10);

impl Supervisor {
    pub fn new(restarts: Arc<LoopRestarts>) -> Self {
        Self {
            stop: watch::channel(false).0,
            tasks: Vec::new(),
            restarts,
            backoff: Duration::from_secs(1),
        }
    }

    pub fn spawn(&mut self, job: Arc<dyn BackgroundLoop>) {
        let name = job.name();
        let mut stop = self.stop.subscribe();
        let restarts = self.restarts.clone();
        let backoff = self.backoff;
        let task = tokio::spawn(async move {
            let mut wait = job.first_after();
            loop {
                if !wait.is_zero() {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => {}
                    }
                }
                if *stop.borrow() {
                    return;
                }
                wait = match AssertUnwindSafe(job.turn()).catch_unwind().await {
                    Ok(next) => next,
                    Err(_) => {
                        restarts.count(name);
                        tracing::error!(
                            background_loop = name,
                            "a background loop panicked; it goes on after a pause"
                        );
                        backoff
                    }
                };
            }
        });
        self.tasks.push((name, task));
    }

    /// Stops every loop after its current turn; those still busy after [`STOP_WITHIN`] (one
    /// deadline for all) are ended.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let (names, tasks): (Vec<_>, Vec<_>) = self.tasks.into_iter().unzip();
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        if tokio::time::timeout(STOP_WITHIN, futures_util::future::join_all(tasks))
            .await
            .is_err()
        {
            for (name, abort) in names.into_iter().zip(aborts) {
                if !abort.is_finished() {
                    tracing::warn!(
                        background_loop = name,
                        "a background loop did not stop in time; ending it"
                    );
                    abort.abort();
                }
            }
        }
    }
}

/// The engine's worker: handles due messages, idling when there are none.
pub struct EngineWorker(pub Arc<Engine>);

#[async_trait]
impl BackgroundLoop for EngineWorker {
    fn name(&self) -> &'static str {
        "engine_worker"
    }

    async fn turn(&self) -> Duration {
        self.0.work().await
    }
}

/// Starts the runs cron triggers scheduled since the last check (every 5 s). Fire times are
/// checked from start-up on: missed ones are not replayed.
pub struct CronCheck {
    engine: Arc<Engine>,
    checked_until: Mutex<i64>,
}

impl CronCheck {
    pub fn new(engine: Arc<Engine>) -> Self {
        let now = engine.queue().clock().now_ms();
        Self {
            engine,
            checked_until: Mutex::new(now),
        }
    }
}

const CRON_EVERY: Duration = Duration::from_secs(5);

#[async_trait]
impl BackgroundLoop for CronCheck {
    fn name(&self) -> &'static str {
        "cron"
    }

    fn first_after(&self) -> Duration {
        CRON_EVERY
    }

    async fn turn(&self) -> Duration {
        let from = *self.checked_until.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.engine.queue().clock().now_ms();
        match self.engine.fire_cron_triggers(from, now).await {
            Ok(_) => *self.checked_until.lock().unwrap_or_else(|p| p.into_inner()) = now,
            Err(e) => tracing::error!(error = %e, "cron check failed"),
        }
        CRON_EVERY
    }
}

/// Moves messages left in the outbox to the queue (every 5 s; only with Redis).
pub struct OutboxRelay(pub Arc<Engine>);

const OUTBOX_EVERY: Duration = Duration::from_secs(5);

#[async_trait]
impl BackgroundLoop for OutboxRelay {
    fn name(&self) -> &'static str {
        "outbox_relay"
    }

    fn first_after(&self) -> Duration {
        OUTBOX_EVERY
    }

    async fn turn(&self) -> Duration {
        if let Err(e) = self.0.relay_outbox().await {
            tracing::error!(error = %e, "moving messages from the outbox failed");
        }
        OUTBOX_EVERY
    }
}

/// Puts running executions with no queued message back on track (at start, then every 30 s).
pub struct ZombieCheck(pub Arc<Engine>);

#[async_trait]
impl BackgroundLoop for ZombieCheck {
    fn name(&self) -> &'static str {
        "zombie_check"
    }

    async fn turn(&self) -> Duration {
        if let Err(e) = self.0.recover_zombies().await {
            tracing::error!(error = %e, "zombie check failed");
        }
        Duration::from_secs(30)
    }
}

/// Moves ended executions older than `after` to the archive (a batch a minute; the next batch
/// at once while there is more to do).
pub struct ExecutionArchive {
    pub engine: Arc<Engine>,
    pub after: Duration,
}

#[async_trait]
impl BackgroundLoop for ExecutionArchive {
    fn name(&self) -> &'static str {
        "execution_archive"
    }

    fn first_after(&self) -> Duration {
        Duration::from_secs(10)
    }

    async fn turn(&self) -> Duration {
        match self.engine.archive_ended(self.after).await {
            Ok(n) if n as u64 == crate::orchestration::archive::ARCHIVE_BATCH => {
                Duration::from_secs(1)
            }
            Ok(0) => Duration::from_secs(60),
            Ok(n) => {
                tracing::info!(executions = n, "archived ended executions");
                Duration::from_secs(60)
            }
            Err(e) => {
                tracing::warn!(error = %e, "archiving executions failed; trying again later");
                Duration::from_secs(60)
            }
        }
    }
}

/// Checks every Kubernetes account's health (every 30 s, each within 5 s).
pub struct HealthChecks(pub crate::kubernetes::Accounts);

#[async_trait]
impl BackgroundLoop for HealthChecks {
    fn name(&self) -> &'static str {
        "account_health"
    }

    async fn turn(&self) -> Duration {
        self.0.check_all(Duration::from_secs(5)).await;
        Duration::from_secs(30)
    }
}

/// Removes ended sessions, stale single sign-on attempts and audit entries past retention.
pub struct IdentityPrune(pub crate::identity::Accounts);

#[async_trait]
impl BackgroundLoop for IdentityPrune {
    fn name(&self) -> &'static str {
        "identity_prune"
    }

    async fn turn(&self) -> Duration {
        if let Err(e) = self.0.prune().await {
            tracing::warn!(error = %e, "pruning sessions and the audit log failed");
        }
        Duration::from_secs(600)
    }
}

/// Jenkins triggers: polls the jobs they name for completed builds.
pub struct JenkinsWatch {
    pub watcher: crate::events::jenkins::BuildWatcher,
    pub every: Duration,
}

#[async_trait]
impl BackgroundLoop for JenkinsWatch {
    fn name(&self) -> &'static str {
        "jenkins_watch"
    }

    async fn turn(&self) -> Duration {
        if let Err(e) = self.watcher.check().await {
            tracing::error!(error = %e, "Jenkins trigger check failed");
        }
        self.every
    }
}

/// Docker triggers: polls watched repositories for new tags (the notifications' fallback).
pub struct TagPoll {
    pub events: crate::events::images::ImageEvents,
    pub every: Duration,
}

#[async_trait]
impl BackgroundLoop for TagPoll {
    fn name(&self) -> &'static str {
        "tag_poll"
    }

    async fn turn(&self) -> Duration {
        if let Err(e) = self.events.poll().await {
            tracing::error!(error = %e, "docker trigger polling failed");
        }
        self.every
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Panics on its first turn, then counts turns.
    struct Flaky(Arc<AtomicUsize>);

    #[async_trait]
    impl BackgroundLoop for Flaky {
        fn name(&self) -> &'static str {
            "flaky"
        }

        async fn turn(&self) -> Duration {
            if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("first turn fails");
            }
            Duration::from_millis(1)
        }
    }

    #[tokio::test]
    async fn a_loop_that_panics_is_counted_and_goes_on_and_shutdown_stops_it() {
        let restarts = Arc::new(LoopRestarts::default());
        let mut supervisor = Supervisor::new(restarts.clone());
        supervisor.backoff = Duration::from_millis(5);
        let turns = Arc::new(AtomicUsize::new(0));
        supervisor.spawn(Arc::new(Flaky(turns.clone())));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while turns.load(Ordering::SeqCst) < 5 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the loop did not go on"
            );
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(restarts.snapshot(), vec![("flaky", 1)]);
        supervisor.shutdown().await;
        // Shutdown waited for the loop's task to end: nothing turns any more.
        let after = turns.load(Ordering::SeqCst);
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            turns.load(Ordering::SeqCst),
            after,
            "no turn after shutdown"
        );
    }
}
