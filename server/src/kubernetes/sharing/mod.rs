//! One watch per cluster however many replicas run (with Redis configured). A lease per
//! Kubernetes account elects the replica that watches it — as Spinnaker's Clouddriver
//! schedules each caching agent on one instance —; that replica writes the account's part of
//! the infrastructure cache to Redis and publishes each change, and every other replica mirrors
//! it into its own in-process cache, so every view still reads memory.
//!
//! When the holder dies its lease expires (`[kubernetes] watch_lease_seconds`) and another
//! replica takes it and starts watching; meanwhile, and until its watchers' first lists
//! arrive, the views keep the last state they mirrored — they never go blank. A replica that
//! shuts down gives its leases up at once.

pub mod redis;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, broadcast, mpsc, watch};

use self::redis::{Heard, Lease, Published, RedisCacheShare};
use super::accounts::Accounts;
use super::cache::{CacheKey, CacheRole, InfrastructureCache};

/// The pause before subscribing again or retrying a failed write.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// How often a mirror compares each account's last change number in Redis with the last one it
/// applied (a subscription that died without a word would otherwise leave it stale for good).
const SAFETY_CHECK: Duration = Duration::from_secs(10);

pub struct CacheSharing {
    share: RedisCacheShare,
    cache: Arc<InfrastructureCache>,
    accounts: Accounts,
    /// This replica's name in the leases (host and process, and a random part).
    replica: String,
    ttl: Duration,
    /// The accounts this replica watches (holds the lease of).
    held: Mutex<HashSet<String>>,
    /// Held accounts to write to Redis as a whole (just taken, or a change was missed).
    to_reset: Mutex<HashSet<String>>,
    /// Mirrored accounts to read from Redis as a whole (just lost).
    to_reload: Mutex<HashSet<String>>,
    /// Wakes the publisher for `to_reset`, and the mirror for `to_reload`.
    wake_publisher: Notify,
    wake_mirror: Notify,
}

impl CacheSharing {
    pub async fn connect(
        url: &str,
        prefix: &str,
        cache: Arc<InfrastructureCache>,
        accounts: Accounts,
        ttl: Duration,
    ) -> Result<Arc<Self>, String> {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "topsail".into());
        Ok(Arc::new(Self {
            share: RedisCacheShare::connect(url, prefix).await?,
            cache,
            accounts,
            replica: format!("{host}-{}-{}", std::process::id(), crate::ids::short_id()),
            ttl: ttl.max(Duration::from_secs(1)),
            held: Mutex::default(),
            to_reset: Mutex::default(),
            to_reload: Mutex::default(),
            wake_publisher: Notify::new(),
            wake_mirror: Notify::new(),
        }))
    }

    /// Runs until `closing` turns true, then gives the leases up.
    pub fn run(self: Arc<Self>, mut closing: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        tracing::info!(replica = %self.replica, lease_seconds = self.ttl.as_secs(),
            "cluster watches shared with other replicas through Redis");
        tokio::spawn(async move {
            let changes = self.cache.subscribe();
            tokio::select! {
                _ = closing.wait_for(|closed| *closed) => {}
                _ = self.keep_leases() => {}
                _ = self.publish(changes) => {}
                _ = self.mirror() => {}
            }
            self.release_all().await;
        })
    }

    fn usable(&self) -> Vec<Arc<super::accounts::Account>> {
        self.accounts
            .all()
            .filter(|a| a.client().is_ok())
            .cloned()
            .collect()
    }

    fn holds(&self, account: &str) -> bool {
        self.held.lock().expect("the held lock").contains(account)
    }

    /// Takes or renews each account's lease every third of its time; starts watching what it
    /// takes, stops watching (and mirrors again) what another replica took — or what it could
    /// not renew for a whole lease time (cut off from Redis, another replica has taken over).
    async fn keep_leases(&self) {
        let mut renewed: HashMap<String, Instant> = HashMap::new();
        loop {
            for account in self.usable() {
                let name = account.name.clone();
                match self.share.hold(&name, &self.replica, self.ttl).await {
                    Ok(Lease::Held { anew }) => {
                        renewed.insert(name.clone(), Instant::now());
                        if !self.holds(&name) {
                            self.take_over(&account).await;
                        } else if anew {
                            // Free although this replica held it: Redis lost its data (a
                            // restart without persistence). Write the account again whole.
                            tracing::warn!(account = %name, "the watch lease had vanished from Redis; writing the account's cache again");
                            self.to_reset.lock().expect("the reset lock").insert(name);
                            self.wake_publisher.notify_one();
                        }
                    }
                    Ok(Lease::Other(holder)) => {
                        if self.held.lock().expect("the held lock").remove(&name) {
                            tracing::warn!(account = %name, %holder, "another replica took the account's watch lease");
                            self.stop_watching(&name);
                        }
                        self.cache
                            .set_role(&name, CacheRole::Mirroring(Some(holder)));
                    }
                    Err(e) => {
                        tracing::warn!(account = %name, error = %e, "renewing the watch lease");
                        let lapsed = renewed.get(&name).is_none_or(|at| at.elapsed() > self.ttl);
                        if lapsed && self.held.lock().expect("the held lock").remove(&name) {
                            tracing::warn!(account = %name, "the watch lease could not be renewed for its whole time; another replica may watch now");
                            self.stop_watching(&name);
                            self.cache.set_role(&name, CacheRole::Mirroring(None));
                        }
                    }
                }
            }
            tokio::time::sleep(self.ttl / 3).await;
        }
    }

    /// Starts watching an account whose lease this replica just took: first what Redis holds of
    /// it (a replica that just started has nothing yet), so the views keep showing it until the
    /// watchers' lists arrive; then the watchers, and the account written whole.
    async fn take_over(&self, account: &Arc<super::accounts::Account>) {
        let name = account.name.clone();
        match self.share.snapshot(&name).await {
            Ok((seq, objects)) if seq > 0 => self.cache.replace_account(&name, objects),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(account = %name, error = %e, "reading the account's cache from Redis before watching it")
            }
        }
        self.held
            .lock()
            .expect("the held lock")
            .insert(name.clone());
        tracing::info!(account = %name, "this replica now watches the account's clusters");
        self.cache.start_account(account);
        self.to_reset.lock().expect("the reset lock").insert(name);
        self.wake_publisher.notify_one();
    }

    /// Stops the watchers of an account this replica no longer holds; the mirror reads it whole.
    fn stop_watching(&self, account: &str) {
        self.cache.stop_account(account);
        self.to_reload
            .lock()
            .expect("the reload lock")
            .insert(account.to_owned());
        self.wake_mirror.notify_one();
    }

    /// Writes what this replica's watchers change to Redis, for the accounts it holds.
    async fn publish(&self, mut changes: broadcast::Receiver<Arc<super::cache::CacheChange>>) {
        loop {
            let resets: Vec<String> = self
                .to_reset
                .lock()
                .expect("the reset lock")
                .drain()
                .collect();
            for account in resets {
                if !self.holds(&account) {
                    continue;
                }
                let objects = self.cache.objects(&account);
                let again = match self.share.reset(&self.replica, &account, &objects).await {
                    Ok(true) => false,
                    // The lease is gone from Redis although held here: the lease loop takes it
                    // again (or learns another replica has it); until then, try again.
                    Ok(false) => true,
                    Err(e) => {
                        tracing::warn!(%account, error = %e, "writing the account's cache to Redis; again in a second");
                        true
                    }
                };
                if again {
                    self.to_reset
                        .lock()
                        .expect("the reset lock")
                        .insert(account);
                }
            }
            let retry = !self.to_reset.lock().expect("the reset lock").is_empty();
            tokio::select! {
                _ = tokio::time::sleep(RETRY_AFTER), if retry => {}
                change = changes.recv() => match change {
                    Ok(change) => self.write(&change.key).await,
                    // Missed some: write every held account whole.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let held = self.held.lock().expect("the held lock").clone();
                        self.to_reset.lock().expect("the reset lock").extend(held);
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = self.wake_publisher.notified() => {}
            }
        }
    }

    async fn write(&self, key: &CacheKey) {
        if !self.holds(&key.account) {
            return;
        }
        let object = self.cache.object(key);
        match self
            .share
            .write(&self.replica, key, object.as_deref())
            .await
        {
            Ok(true) => {}
            // The lease moved on: the lease loop notices and stops the watchers.
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(account = %key.account, error = %e, "writing a cache change to Redis");
                self.to_reset
                    .lock()
                    .expect("the reset lock")
                    .insert(key.account.clone());
            }
        }
    }

    /// Mirrors the accounts other replicas watch: each read whole on subscribing, then change
    /// by change in order; a gap in the numbers (a message missed) reads the account whole
    /// again, and so does a slow safety check that finds Redis ahead of what was applied.
    async fn mirror(&self) {
        let mut applied: HashMap<String, u64> = HashMap::new();
        let mut safety = tokio::time::interval(SAFETY_CHECK);
        safety.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let (tx, mut rx) = mpsc::channel::<Heard>(4096);
            let listening = self.share.listen(tx);
            let applying = async {
                loop {
                    tokio::select! {
                        heard = rx.recv() => match heard {
                            Some(Heard::Subscribed) => {
                                for account in self.usable() {
                                    self.reload(&account.name, &mut applied).await;
                                }
                            }
                            Some(Heard::Change(seq, change)) => {
                                self.heard(seq, change, &mut applied).await
                            }
                            None => return,
                        },
                        _ = self.wake_mirror.notified() => {}
                        _ = safety.tick() => self.check_behind(&mut applied).await,
                    }
                    let lost: Vec<String> = self
                        .to_reload
                        .lock()
                        .expect("the reload lock")
                        .drain()
                        .collect();
                    for account in lost {
                        self.reload(&account, &mut applied).await;
                    }
                }
            };
            tokio::select! {
                result = listening => {
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "listening for cluster changes of other replicas; again in a second");
                    }
                }
                _ = applying => {}
            }
            // Anything published while not subscribed is read whole on subscribing again.
            applied.clear();
            tokio::time::sleep(RETRY_AFTER).await;
        }
    }

    async fn heard(&self, seq: u64, change: Published, applied: &mut HashMap<String, u64>) {
        if self.holds(&change.account) {
            return;
        }
        let last = applied.get(&change.account).copied();
        match last {
            // A reset is read whole whatever its number (after Redis lost its data, the
            // numbers start again from 1).
            _ if change.reset => self.reload(&change.account, applied).await,
            Some(last) if seq <= last => {}
            Some(last) if seq == last + 1 => {
                applied.insert(change.account.clone(), seq);
                let key = CacheKey {
                    account: change.account,
                    kind: change.kind,
                    namespace: change.namespace,
                    name: change.name,
                };
                self.cache.apply(key, change.object);
            }
            _ => self.reload(&change.account, applied).await,
        }
    }

    /// Reads whole every mirrored account whose last change number in Redis is not the last
    /// one applied.
    async fn check_behind(&self, applied: &mut HashMap<String, u64>) {
        for account in self.usable() {
            let name = &account.name;
            if self.holds(name) {
                continue;
            }
            match self.share.last_change(name).await {
                // Behind, or ahead (Redis lost its data and counts again from 0).
                Ok(last) if applied.get(name) != Some(&last) => {
                    tracing::debug!(account = %name, "the mirror is behind Redis; reading the account whole");
                    self.reload(name, applied).await;
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(account = %name, error = %e, "checking the mirror"),
            }
        }
    }

    async fn reload(&self, account: &str, applied: &mut HashMap<String, u64>) {
        if self.holds(account) {
            return;
        }
        match self.share.snapshot(account).await {
            // Taken over meanwhile: its own watchers fill it now.
            Ok(_) if self.holds(account) => {}
            Ok((seq, objects)) => {
                applied.insert(account.to_owned(), seq);
                // Nothing written yet (no replica has watched it): keep what is shown.
                if seq > 0 {
                    self.cache.replace_account(account, objects);
                }
            }
            Err(e) => {
                applied.remove(account);
                tracing::warn!(%account, error = %e, "reading the account's cache from Redis");
            }
        }
    }

    async fn release_all(&self) {
        let held: Vec<String> = self.held.lock().expect("the held lock").drain().collect();
        for account in held {
            self.cache.stop_account(&account);
            if let Err(e) = self.share.release(&account, &self.replica).await {
                tracing::warn!(%account, error = %e, "giving the watch lease up");
            }
        }
    }
}
