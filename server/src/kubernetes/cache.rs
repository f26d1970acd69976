//! The in-process infrastructure cache: kube-rs watchers over every account's allowed
//! namespaces keep Deployments, ReplicaSets, StatefulSets, DaemonSets, Pods, Services and
//! Ingresses in memory, and announce each change. It is for display; anything that decides
//! something reads the cluster live.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures_util::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::Value;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::accounts::{Account, Accounts};
use super::operations::MONIKER_APPLICATION;

/// The kinds the cache watches.
pub const WATCHED: &[(&str, &str)] = &[
    ("apps/v1", "Deployment"),
    ("apps/v1", "ReplicaSet"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("v1", "Pod"),
    ("v1", "Service"),
    ("networking.k8s.io/v1", "Ingress"),
];

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CacheKey {
    pub account: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// One change seen by a watcher.
#[derive(Clone, Debug)]
pub struct CacheChange {
    pub key: CacheKey,
    /// The application the object belongs to (moniker annotation or `app.kubernetes.io/name`).
    pub application: Option<String>,
}

/// The application an object belongs to.
pub fn application_of(object: &Value) -> Option<String> {
    let meta = &object["metadata"];
    meta["annotations"][MONIKER_APPLICATION]
        .as_str()
        .or_else(|| meta["labels"]["app.kubernetes.io/name"].as_str())
        .map(str::to_owned)
}

/// How this replica keeps an account's part of the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheRole {
    /// Its own watchers feed it (the only replica, or the holder of the account's watch lease).
    Watching,
    /// It mirrors what the lease's holder (named, when known) publishes through Redis.
    Mirroring(Option<String>),
}

pub struct InfrastructureCache {
    objects: RwLock<BTreeMap<CacheKey, Arc<Value>>>,
    changes: Mutex<Option<broadcast::Sender<Arc<CacheChange>>>>,
    /// The watcher tasks, by account.
    tasks: Mutex<BTreeMap<String, Vec<JoinHandle<()>>>>,
    /// How each account's part is kept (for `/metrics` and the logs).
    roles: RwLock<BTreeMap<String, CacheRole>>,
    /// The last watch error per account and kind, cleared when the watch recovers.
    errors: RwLock<BTreeMap<(String, String), String>>,
    /// Counts changes: what was built from the cache at one version is current while it stays.
    version: std::sync::atomic::AtomicU64,
}

impl Drop for InfrastructureCache {
    fn drop(&mut self) {
        self.stop();
    }
}

impl InfrastructureCache {
    pub fn new() -> Arc<Self> {
        let (tx, _) = broadcast::channel(4096);
        Arc::new(Self {
            objects: RwLock::default(),
            changes: Mutex::new(Some(tx)),
            tasks: Mutex::default(),
            roles: RwLock::default(),
            errors: RwLock::default(),
            version: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Starts one watcher per usable account, kind and allowed namespace (or all namespaces).
    pub fn start(self: &Arc<Self>, accounts: &Accounts) {
        for account in accounts.all() {
            self.start_account(account);
        }
    }

    /// Starts the watchers of one account (none when it has no usable client); those it had
    /// are stopped first.
    pub fn start_account(self: &Arc<Self>, account: &Arc<Account>) {
        self.stop_account(&account.name);
        self.set_role(&account.name, CacheRole::Watching);
        if account.client().is_err() {
            return;
        }
        let scopes: Vec<Option<String>> = if account.namespaces.is_empty() {
            vec![None]
        } else {
            account.namespaces.iter().cloned().map(Some).collect()
        };
        let mut handles = Vec::new();
        for (api_version, kind) in WATCHED {
            for scope in &scopes {
                let cache = Arc::downgrade(self);
                let account = account.clone();
                let scope = scope.clone();
                handles.push(tokio::spawn(async move {
                    watch(cache, account, api_version, kind, scope).await;
                }));
            }
        }
        self.tasks
            .lock()
            .expect("the tasks lock")
            .insert(account.name.clone(), handles);
    }

    /// Stops one account's watchers (what they cached stays).
    pub fn stop_account(&self, account: &str) {
        let handles = self.tasks.lock().expect("the tasks lock").remove(account);
        for t in handles.into_iter().flatten() {
            t.abort();
        }
    }

    pub fn stop(&self) {
        let all = std::mem::take(&mut *self.tasks.lock().expect("the tasks lock"));
        for t in all.into_values().flatten() {
            t.abort();
        }
    }

    pub fn set_role(&self, account: &str, role: CacheRole) {
        self.roles
            .write()
            .expect("the roles lock")
            .insert(account.to_owned(), role);
    }

    pub fn role(&self, account: &str) -> Option<CacheRole> {
        self.roles
            .read()
            .expect("the roles lock")
            .get(account)
            .cloned()
    }

    /// `/metrics` lines: per account, whether this replica watches its clusters, and how many
    /// objects it holds.
    pub fn gauges(&self) -> String {
        let roles = self.roles.read().expect("the roles lock").clone();
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for k in self.objects.read().expect("the cache lock").keys() {
            match counts.get_mut(&k.account) {
                Some(n) => *n += 1,
                None => {
                    counts.insert(k.account.clone(), 1);
                }
            }
        }
        let mut out = String::from(
            "# HELP topsail_cluster_watch_held Whether this replica watches the account's clusters (1) or mirrors the watch of the replica holding its lease (0).\n# TYPE topsail_cluster_watch_held gauge\n",
        );
        for (account, role) in &roles {
            let held = u8::from(*role == CacheRole::Watching);
            out.push_str(&format!(
                "topsail_cluster_watch_held{{account=\"{account}\"}} {held}\n"
            ));
        }
        out.push_str("# HELP topsail_infrastructure_cached_objects Objects in the infrastructure cache, by account.\n# TYPE topsail_infrastructure_cached_objects gauge\n");
        for account in roles.keys() {
            let n = counts.get(account).copied().unwrap_or(0);
            out.push_str(&format!(
                "topsail_infrastructure_cached_objects{{account=\"{account}\"}} {n}\n"
            ));
        }
        out
    }

    /// One cached object.
    pub fn object(&self, key: &CacheKey) -> Option<Arc<Value>> {
        self.objects
            .read()
            .expect("the cache lock")
            .get(key)
            .cloned()
    }

    /// A mirrored change: `object` is the key's object now, or None when it is gone.
    pub fn apply(&self, key: CacheKey, object: Option<Value>) {
        match object {
            Some(object) => self.insert(key, object),
            None => {
                let removed = self.objects.write().expect("the cache lock").remove(&key);
                if let Some(removed) = removed {
                    self.announce(key, &removed);
                }
            }
        }
    }

    /// A mirrored account as a whole: `objects` replace what the cache held for it (only what
    /// differs is announced).
    pub fn replace_account(&self, account: &str, objects: Vec<(CacheKey, Value)>) {
        let keys: std::collections::HashSet<&CacheKey> = objects.iter().map(|(k, _)| k).collect();
        let gone: Vec<(CacheKey, Arc<Value>)> = {
            let mut held = self.objects.write().expect("the cache lock");
            let gone: Vec<CacheKey> = held
                .keys()
                .filter(|k| k.account == account && !keys.contains(k))
                .cloned()
                .collect();
            gone.into_iter()
                .filter_map(|k| held.remove(&k).map(|v| (k, v)))
                .collect()
        };
        for (key, object) in gone {
            self.announce(key, &object);
        }
        for (key, object) in objects {
            if self.object(&key).is_none_or(|old| *old != object) {
                self.insert(key, object);
            }
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<CacheChange>> {
        match self.changes.lock().expect("the changes lock").as_ref() {
            Some(tx) => tx.subscribe(),
            None => broadcast::channel(1).1,
        }
    }

    /// Every cached object of an account.
    pub fn objects(&self, account: &str) -> Vec<(CacheKey, Arc<Value>)> {
        self.objects_where(account, |_| true)
    }

    /// The cached objects of an account for which `keep` holds (only those are copied out).
    pub fn objects_where(
        &self,
        account: &str,
        keep: impl Fn(&Value) -> bool,
    ) -> Vec<(CacheKey, Arc<Value>)> {
        let objects = self.objects.read().expect("the cache lock");
        let start = CacheKey {
            account: account.to_owned(),
            kind: String::new(),
            namespace: String::new(),
            name: String::new(),
        };
        objects
            .range(start..)
            .take_while(|(k, _)| k.account == account)
            .filter(|(_, v)| keep(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Watch errors by account, for the account's health line.
    pub fn errors_of(&self, account: &str) -> Vec<String> {
        self.errors
            .read()
            .expect("the errors lock")
            .iter()
            .filter(|((a, _), _)| a == account)
            .map(|((_, kind), e)| format!("{kind}: {e}"))
            .collect()
    }

    /// How many changes the cache has seen (see the field).
    pub fn version(&self) -> u64 {
        self.version.load(std::sync::atomic::Ordering::Acquire)
    }

    fn announce(&self, key: CacheKey, object: &Value) {
        self.version
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        if let Some(tx) = self.changes.lock().expect("the changes lock").as_ref() {
            let _ = tx.send(Arc::new(CacheChange {
                key,
                application: application_of(object),
            }));
        }
    }

    fn key(account: &str, kind: &str, object: &Value) -> CacheKey {
        CacheKey {
            account: account.to_owned(),
            kind: kind.to_owned(),
            namespace: object["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            name: object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        }
    }

    fn put(&self, account: &str, kind: &str, object: Value) {
        let key = Self::key(account, kind, &object);
        self.insert(key, object);
    }

    fn insert(&self, key: CacheKey, object: Value) {
        let object = Arc::new(object);
        let previous = self
            .objects
            .write()
            .expect("the cache lock")
            .insert(key.clone(), object.clone());
        // An object that moved to another application is a change of the one it left too.
        if let Some(previous) = previous
            && application_of(&previous) != application_of(&object)
        {
            self.announce(key.clone(), &previous);
        }
        self.announce(key, &object);
    }

    fn remove(&self, account: &str, kind: &str, object: &Value) {
        let key = Self::key(account, kind, object);
        self.objects.write().expect("the cache lock").remove(&key);
        self.announce(key, object);
    }

    /// After a (re-)list: what was listed replaces what the cache held for this scope.
    fn replace_scope(&self, account: &str, kind: &str, scope: Option<&str>, listed: Vec<Value>) {
        let mut gone = Vec::new();
        {
            let mut objects = self.objects.write().expect("the cache lock");
            let listed_keys: std::collections::HashSet<CacheKey> =
                listed.iter().map(|o| Self::key(account, kind, o)).collect();
            objects.retain(|k, v| {
                let in_scope = k.account == account
                    && k.kind == kind
                    && scope.is_none_or(|ns| k.namespace == ns);
                if in_scope && !listed_keys.contains(k) {
                    gone.push((k.clone(), v.clone()));
                    false
                } else {
                    true
                }
            });
        }
        for (key, object) in gone {
            self.announce(key, &object);
        }
        for object in listed {
            let key = Self::key(account, kind, &object);
            let changed = self
                .objects
                .read()
                .expect("the cache lock")
                .get(&key)
                .is_none_or(|old| **old != object);
            if changed {
                self.put(account, kind, object);
            }
        }
    }

    fn set_error(&self, account: &str, kind: &str, error: Option<String>) {
        let mut errors = self.errors.write().expect("the errors lock");
        let key = (account.to_owned(), kind.to_owned());
        match error {
            Some(e) => {
                errors.insert(key, e);
            }
            None => {
                errors.remove(&key);
            }
        }
    }
}

/// What the cache keeps of an object: everything but the field-ownership bookkeeping.
fn slim(object: &DynamicObject) -> Value {
    let mut v = serde_json::to_value(object).unwrap_or(Value::Null);
    if let Some(m) = v["metadata"].as_object_mut() {
        m.remove("managedFields");
    }
    v
}

async fn watch(
    cache: std::sync::Weak<InfrastructureCache>,
    account: Arc<Account>,
    api_version: &'static str,
    kind: &'static str,
    scope: Option<String>,
) {
    // The kind may not be resolvable yet (cluster down at start): keep asking.
    let resolved = loop {
        match account.kind(api_version, kind).await {
            Ok(k) => break k,
            Err(e) => {
                let Some(c) = cache.upgrade() else { return };
                c.set_error(&account.name, kind, Some(e.to_string()));
                drop(c);
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    };
    let Ok(client) = account.client().cloned() else {
        return;
    };
    let api: Api<DynamicObject> = match &scope {
        Some(ns) => Api::namespaced_with(client, ns, &resolved.resource),
        None => Api::all_with(client, &resolved.resource),
    };
    let config = watcher::Config::default().timeout(290);
    let mut stream = watcher::watcher(api, config).default_backoff().boxed();
    let mut listing: Option<Vec<Value>> = None;
    while let Some(event) = stream.next().await {
        let Some(cache) = cache.upgrade() else { return };
        match event {
            Ok(Event::Apply(o)) => cache.put(&account.name, kind, slim(&o)),
            Ok(Event::Delete(o)) => cache.remove(&account.name, kind, &slim(&o)),
            Ok(Event::Init) => listing = Some(Vec::new()),
            Ok(Event::InitApply(o)) => listing.get_or_insert_with(Vec::new).push(slim(&o)),
            Ok(Event::InitDone) => {
                crate::telemetry::global().watch_listed(&account.name, kind);
                cache.replace_scope(
                    &account.name,
                    kind,
                    scope.as_deref(),
                    listing.take().unwrap_or_default(),
                );
                cache.set_error(&account.name, kind, None);
            }
            Err(e) => {
                crate::telemetry::global().watch_failed(&account.name, kind);
                tracing::debug!(account = %account.name, kind, error = %e, "watch error; retrying with backoff");
                cache.set_error(&account.name, kind, Some(e.to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_belong_to_the_application_their_moniker_or_name_label_says() {
        assert_eq!(application_of(&json!({"metadata": {"annotations": {MONIKER_APPLICATION: "shop"}, "labels": {"app.kubernetes.io/name": "x"}}})).as_deref(), Some("shop"));
        assert_eq!(
            application_of(&json!({"metadata": {"labels": {"app.kubernetes.io/name": "x"}}}))
                .as_deref(),
            Some("x")
        );
        assert_eq!(application_of(&json!({"metadata": {}})), None);
    }

    #[test]
    fn a_relist_replaces_only_its_own_scope() {
        let cache = InfrastructureCache::new();
        let pod = |ns: &str, name: &str| json!({"metadata": {"namespace": ns, "name": name}});
        cache.put("a", "Pod", pod("one", "p1"));
        cache.put("a", "Pod", pod("two", "p2"));
        cache.put("b", "Pod", pod("one", "p3"));
        let mut changes = cache.subscribe();
        cache.replace_scope("a", "Pod", Some("one"), vec![pod("one", "p4")]);
        let names: Vec<String> = cache
            .objects("a")
            .iter()
            .map(|(k, _)| k.name.clone())
            .collect();
        assert_eq!(names, ["p4", "p2"], "by namespace, then name");
        assert_eq!(cache.objects("b").len(), 1);
        let mut announced = Vec::new();
        while let Ok(c) = changes.try_recv() {
            announced.push(c.key.name.clone());
        }
        assert_eq!(announced, ["p1", "p4"]);
    }

    #[test]
    fn an_object_moving_to_another_application_is_a_change_of_both() {
        let cache = InfrastructureCache::new();
        let pod = |app: &str| {
            json!({"metadata": {"namespace": "n", "name": "p",
                "labels": {"app.kubernetes.io/name": app}}})
        };
        cache.put("a", "Pod", pod("shop"));
        let mut changes = cache.subscribe();
        cache.put("a", "Pod", pod("cart"));
        cache.put("a", "Pod", pod("cart"));
        let mut apps = Vec::new();
        while let Ok(c) = changes.try_recv() {
            apps.push(c.application.clone().unwrap_or_default());
        }
        assert_eq!(apps, ["shop", "cart", "cart"]);
    }
}
