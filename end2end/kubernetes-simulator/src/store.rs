//! The object store: one global resourceVersion counter, objects as JSON, a bounded history of
//! changes for watches, and the write rules of reference §2 and §4.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use crate::resources::{ResourceType, TYPES};

/// Where an object lives: type index, namespace ("" for cluster-scoped), name.
pub type Key = (usize, String, String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Added,
    Modified,
    Deleted,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "ADDED",
            Change::Modified => "MODIFIED",
            Change::Deleted => "DELETED",
        }
    }
}

/// One committed change, as watchers receive it.
#[derive(Debug)]
pub struct Event {
    pub rv: u64,
    pub change: Change,
    pub type_index: usize,
    pub namespace: String,
    pub object: Value,
    /// The object before a modification, so a filtered watch can tell "stopped matching".
    pub previous: Option<Value>,
}

/// What watchers are sent: a change, or the order to end with 410 (forced expiry).
#[derive(Clone, Debug)]
pub enum Broadcast {
    Change(Arc<Event>),
    Expire,
}

/// A Kubernetes API error, rendered as a `Status` body.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: Value::Null,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn not_found(t: &ResourceType, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", t.qualified()),
        )
        .with_details(json!({"name": name, "group": t.group, "kind": t.plural}))
    }

    pub fn already_exists(t: &ResourceType, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", t.qualified()),
        )
        .with_details(json!({"name": name, "group": t.group, "kind": t.plural}))
    }

    pub fn conflict(t: &ResourceType, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                t.qualified()
            ),
        )
        .with_details(json!({"name": name, "group": t.group, "kind": t.plural}))
    }

    /// 422 with one cause per invalid field.
    pub fn invalid(t: &ResourceType, name: &str, causes: Vec<(String, String)>) -> Self {
        let message = causes
            .iter()
            .map(|(f, m)| format!("{f}: {m}"))
            .collect::<Vec<_>>()
            .join(", ");
        let causes: Vec<Value> = causes
            .iter()
            .map(|(f, m)| json!({"reason": "FieldValueInvalid", "message": m, "field": f}))
            .collect();
        Self::new(
            422,
            "Invalid",
            format!("{} \"{name}\" is invalid: {message}", t.qualified_kind()),
        )
        .with_details(json!({"name": name, "group": t.group, "kind": t.kind, "causes": causes}))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn status(&self) -> Value {
        let mut s = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code});
        if !self.details.is_null() {
            s["details"] = self.details.clone();
        }
        s
    }
}

/// Whole-store state, behind one lock.
pub struct State {
    pub rv: u64,
    pub objects: BTreeMap<Key, Value>,
    history: VecDeque<Arc<Event>>,
    history_limit: usize,
    /// Watches older than this are answered with 410.
    pub compacted_rv: u64,
    /// Continue tokens older than this are answered with 410: set only when the test hook
    /// forgets all history (a real server's tokens live until etcd compacts, every 5 minutes,
    /// however many writes come in between — expiring them with the bounded watch history made
    /// paged lists of a busy cluster restart forever).
    pub compacted_lists_rv: u64,
    sender: broadcast::Sender<Broadcast>,
    /// When each object was first seen (by uid): drives the simulated kubelet's clock.
    pub born: HashMap<String, Instant>,
    /// Controller uid → the objects it controls: the controllers look their ReplicaSets and
    /// Pods up here on every pass (scanning every object of the kind instead made a pass
    /// quadratic in the number of Deployments).
    controlled: HashMap<String, BTreeSet<Key>>,
    /// Owner uid (any owner reference) → the objects it owns: the garbage collector finds
    /// orphans and foreground deletion finds dependents here.
    owned_by: HashMap<String, BTreeSet<Key>>,
    /// Objects being deleted (a deletionTimestamp, held by finalizers).
    pub deleting: BTreeSet<Key>,
    /// Involved object uid → its Events: recording an Event looks for the one to count up here
    /// (scanning every Event of the namespace made a pass that creates many pods quadratic).
    events_about: HashMap<String, BTreeSet<Key>>,
    /// The type index of Events.
    events_type: usize,
    uid_counter: u64,
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn name_of(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

pub fn uid_of(object: &Value) -> &str {
    object["metadata"]["uid"].as_str().unwrap_or_default()
}

impl State {
    pub fn new(history_limit: usize, sender: broadcast::Sender<Broadcast>) -> Self {
        Self {
            rv: 1000,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            history_limit,
            compacted_rv: 1000,
            compacted_lists_rv: 1000,
            sender,
            born: HashMap::new(),
            controlled: HashMap::new(),
            events_about: HashMap::new(),
            owned_by: HashMap::new(),
            deleting: BTreeSet::new(),
            events_type: crate::resources::index_of("", "events"),
            uid_counter: 0,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Broadcast> {
        self.sender.subscribe()
    }

    pub fn new_uid(&mut self) -> String {
        self.uid_counter += 1;
        let r = fastrand::u64(..);
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (r >> 32) as u32,
            (r >> 16) as u16,
            (r & 0xfff) as u16,
            (self.uid_counter & 0xfff) as u16,
            self.uid_counter
        )
    }

    pub fn get(&self, type_index: usize, namespace: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(&(type_index, namespace.to_owned(), name.to_owned()))
    }

    /// All objects of a type, optionally in one namespace, in key order.
    pub fn of_type<'a>(
        &'a self,
        type_index: usize,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a Key, &'a Value)> + 'a {
        self.objects
            .range((type_index, String::new(), String::new())..)
            .take_while(move |(k, _)| k.0 == type_index)
            .filter(move |(k, _)| namespace.is_none_or(|ns| k.1 == ns))
    }

    /// The objects whose controller (the owner reference with `controller: true`) has `uid`,
    /// in key order.
    pub fn controlled_by<'a>(
        &'a self,
        uid: &str,
    ) -> impl Iterator<Item = (&'a Key, &'a Value)> + 'a {
        self.controlled
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|k| self.objects.get_key_value(k))
    }

    /// The Events whose involved object has `uid`, in key order.
    pub fn events_about<'a>(
        &'a self,
        uid: &str,
    ) -> impl Iterator<Item = (&'a Key, &'a Value)> + 'a {
        self.events_about
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|k| self.objects.get_key_value(k))
    }

    /// The uids that own something (any owner reference).
    pub fn owners(&self) -> impl Iterator<Item = &str> {
        self.owned_by.keys().map(String::as_str)
    }

    /// The objects with an owner reference to `uid`, in key order.
    pub fn owned_by<'a>(&'a self, uid: &str) -> impl Iterator<Item = (&'a Key, &'a Value)> + 'a {
        self.owned_by
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|k| self.objects.get_key_value(k))
    }

    /// Keeps the indexes (controller, owners, objects being deleted, involved object of an
    /// Event) true for a write of `key`.
    fn index(&mut self, key: &Key, old: Option<&Value>, new: Option<&Value>) {
        let owners = |o: Option<&Value>| -> BTreeSet<String> {
            o.into_iter()
                .flat_map(crate::objects::owner_uids)
                .map(str::to_owned)
                .collect()
        };
        let (before, after) = (owners(old), owners(new));
        if before != after {
            for uid in before.difference(&after) {
                reindex(&mut self.owned_by, key, Some(uid), None);
            }
            for uid in after.difference(&before) {
                reindex(&mut self.owned_by, key, None, Some(uid));
            }
        }
        if new.is_some_and(|o| o["metadata"].get("deletionTimestamp").is_some()) {
            self.deleting.insert(key.clone());
        } else {
            self.deleting.remove(key);
        }
        reindex(
            &mut self.controlled,
            key,
            old.and_then(crate::objects::controller_uid),
            new.and_then(crate::objects::controller_uid),
        );
        if key.0 == self.events_type {
            fn involved(e: &Value) -> Option<&str> {
                e["involvedObject"]["uid"].as_str()
            }
            reindex(
                &mut self.events_about,
                key,
                old.and_then(involved),
                new.and_then(involved),
            );
        }
    }

    /// Changes after `rv`, or None when that point is no longer in the retained history.
    pub fn history_since(&self, rv: u64) -> Option<Vec<Arc<Event>>> {
        if rv < self.compacted_rv {
            return None;
        }
        Some(self.history.iter().filter(|e| e.rv > rv).cloned().collect())
    }

    /// Forgets all history: every open watch ends with 410 and older resourceVersions expire.
    pub fn expire_watches(&mut self) {
        self.history.clear();
        self.compacted_rv = self.rv;
        self.compacted_lists_rv = self.rv;
        let _ = self.sender.send(Broadcast::Expire);
    }

    fn record(&mut self, change: Change, key: &Key, object: Value, previous: Option<Value>) {
        let event = Arc::new(Event {
            rv: self.rv,
            change,
            type_index: key.0,
            namespace: key.1.clone(),
            object,
            previous,
        });
        self.history.push_back(event.clone());
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted_rv = old.rv;
            }
        }
        let _ = self.sender.send(Broadcast::Change(event));
    }

    /// Stores a new object (all server-set metadata already filled in except the version).
    pub fn insert(&mut self, key: Key, mut object: Value) -> Value {
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.born
            .entry(uid_of(&object).to_owned())
            .or_insert_with(Instant::now);
        self.index(&key, None, Some(&object));
        self.objects.insert(key.clone(), object.clone());
        self.record(Change::Added, &key, with_type(key.0, object.clone()), None);
        object
    }

    /// Replaces a stored object. A write that changes nothing is not persisted (no new version,
    /// no event); the stored object is returned either way.
    pub fn replace(&mut self, key: &Key, mut object: Value) -> Value {
        let Some(current) = self.objects.get(key) else {
            return object;
        };
        if same_ignoring_version(current, &object) {
            return current.clone();
        }
        let previous = current.clone();
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.index(key, Some(&previous), Some(&object));
        self.objects.insert(key.clone(), object.clone());
        self.record(
            Change::Modified,
            key,
            with_type(key.0, object.clone()),
            Some(with_type(key.0, previous)),
        );
        object
    }

    /// Removes an object; the DELETED event carries the deletion's resourceVersion.
    pub fn remove(&mut self, key: &Key) -> Option<Value> {
        let mut object = self.objects.remove(key)?;
        self.index(key, Some(&object), None);
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.born.remove(uid_of(&object));
        self.record(Change::Deleted, key, with_type(key.0, object.clone()), None);
        Some(object)
    }

    /// Whether a namespace exists (cluster-scoped objects need none).
    pub fn namespace_exists(&self, namespace: &str) -> bool {
        self.get(0, "", namespace).is_some()
    }
}

/// Moves `key` from the set under `before` to the set under `after` in `index`.
fn reindex(
    index: &mut HashMap<String, BTreeSet<Key>>,
    key: &Key,
    before: Option<&str>,
    after: Option<&str>,
) {
    if before == after {
        return;
    }
    if let Some(uid) = before
        && let Some(keys) = index.get_mut(uid)
    {
        keys.remove(key);
        if keys.is_empty() {
            index.remove(uid);
        }
    }
    if let Some(uid) = after {
        index.entry(uid.to_owned()).or_default().insert(key.clone());
    }
}

fn same_ignoring_version(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v["metadata"].as_object_mut() {
            m.remove("resourceVersion");
            if let Some(Value::Array(fields)) = m.get_mut("managedFields") {
                for f in fields {
                    if let Some(f) = f.as_object_mut() {
                        f.remove("time");
                    }
                }
            }
        }
        v
    };
    strip(a) == strip(b)
}

/// The object with `apiVersion` and `kind` first, as single GETs and watch events carry them.
pub fn with_type(type_index: usize, object: Value) -> Value {
    let t = &TYPES[type_index];
    let mut out = Map::new();
    out.insert("apiVersion".into(), json!(t.api_version()));
    out.insert("kind".into(), json!(t.kind));
    if let Value::Object(m) = object {
        for (k, v) in m {
            if k != "apiVersion" && k != "kind" {
                out.insert(k, v);
            }
        }
    }
    Value::Object(out)
}

/// List items carry no `apiVersion`/`kind` (reference §2).
pub fn without_type(mut object: Value) -> Value {
    if let Some(m) = object.as_object_mut() {
        m.remove("apiVersion");
        m.remove("kind");
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_op_writes_keep_the_version_and_send_nothing() {
        let (tx, mut rx) = broadcast::channel(16);
        let mut s = State::new(100, tx);
        let key: Key = (4, "default".into(), "c".into());
        let stored = s.insert(
            key.clone(),
            json!({"metadata": {"name": "c", "uid": "u"}, "data": {"a": "1"}}),
        );
        assert!(matches!(rx.try_recv(), Ok(Broadcast::Change(_))));
        let again = s.replace(&key, stored.clone());
        assert_eq!(
            again["metadata"]["resourceVersion"],
            stored["metadata"]["resourceVersion"]
        );
        assert!(rx.try_recv().is_err());
        let mut changed = stored.clone();
        changed["data"]["a"] = json!("2");
        let after = s.replace(&key, changed);
        assert_ne!(
            after["metadata"]["resourceVersion"],
            stored["metadata"]["resourceVersion"]
        );
    }

    #[test]
    fn history_is_bounded_and_older_points_expire() {
        let (tx, _rx) = broadcast::channel(16);
        let mut s = State::new(2, tx);
        let start = s.rv;
        for i in 0..4 {
            s.insert(
                (4, "default".into(), format!("c{i}")),
                json!({"metadata": {"name": format!("c{i}")}}),
            );
        }
        assert!(s.history_since(start).is_none());
        assert_eq!(s.history_since(s.rv - 1).unwrap().len(), 1);
    }
}
