//! The controllers a delivery system depends on, run as one reconcile pass over the whole store:
//! Deployment → ReplicaSets (reference §10), ReplicaSet → Pods, a simulated kubelet (readiness,
//! crash loops, image pull errors by image name), StatefulSets and DaemonSets (basic), Endpoints,
//! Events and the garbage collector.
//!
//! This module holds what the controllers share: the kubelet's timing, the controllers' runtime
//! memory, the reconcile pass that runs them in order, and helpers to write objects, find owned
//! ones and set status conditions. Each controller lives in its own submodule.

mod daemonset;
mod deployment;
mod endpoints;
mod events;
mod garbage;
mod kubelet;
mod pods;
mod replicaset;
mod rollout;
mod statefulset;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::objects::{Part, Writer, update};
use crate::resources::index_of;
use crate::store::{Key, State, name_of, now_rfc3339, uid_of};

use daemonset::sync_daemon_set;
use deployment::sync_deployment;
use endpoints::{remove_orphaned_endpoints, sync_endpoints};
use garbage::garbage_collect;
use kubelet::kubelet;
use replicaset::sync_replica_set;
use statefulset::sync_stateful_set;

pub use events::record_event;
pub use rollout::{resolve_int_or_percent, surge_and_unavailable, template_hash};

/// Timing of the simulated kubelet.
#[derive(Clone, Debug)]
pub struct Timing {
    /// How long a healthy pod takes to become ready.
    pub pod_ready_after: Duration,
    /// Images named `slow` take this long instead.
    pub slow_ready_after: Duration,
    /// Crash-looping containers restart this often.
    pub crash_every: Duration,
    /// Node names pods are scheduled on (DaemonSets run one pod per node).
    pub nodes: Vec<String>,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            pod_ready_after: Duration::from_millis(500),
            slow_ready_after: Duration::from_secs(8),
            crash_every: Duration::from_millis(700),
            nodes: vec!["sim-node-a".into(), "sim-node-b".into()],
        }
    }
}

/// What an image's name asks the simulated kubelet to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    Healthy,
    Slow,
    NeverReady,
    Crash,
    PullError,
}

pub fn behaviour_of(image: &str) -> Behaviour {
    let name = image.rsplit('/').next().unwrap_or(image);
    if name.contains("crash") {
        Behaviour::Crash
    } else if name.contains("pull-error") || name.contains("does-not-exist") {
        Behaviour::PullError
    } else if name.contains("never-ready") {
        Behaviour::NeverReady
    } else if name.contains("slow") {
        Behaviour::Slow
    } else {
        Behaviour::Healthy
    }
}

fn internal() -> Writer {
    Writer {
        manager: "kube-controller-manager".into(),
        dry_run: false,
    }
}

fn i(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// Runtime memory of the controllers that the objects do not hold.
#[derive(Default)]
pub struct Memory {
    /// Deployment uid → when it last made progress.
    progress: HashMap<String, Instant>,
    /// Pod uid → when it became ready.
    ready_since: HashMap<String, Instant>,
    /// Pod uid → the resourceVersion at which the kubelet left it in its final state.
    settled: HashMap<String, String>,
    /// Pods the last pass left in a state that moves with time (starting, crash-looping).
    unsettled: usize,
    /// Deployment or ReplicaSet uid → the fingerprint it had when its last sync left it at
    /// rest: it is not synced again until it or what it controls changes.
    at_rest: HashMap<String, u64>,
}

impl Memory {
    /// Whether the last pass left something that changes with time alone.
    pub fn waiting_on_time(&self) -> bool {
        self.unsettled > 0
    }

    /// Whether the object at `key` and everything it controls are as its last sync left them
    /// at rest (then a sync would write nothing).
    fn still_at_rest(&self, state: &State, key: &Key) -> bool {
        state
            .objects
            .get(key)
            .is_some_and(|o| self.at_rest.get(uid_of(o)).copied() == Some(fingerprint(state, o)))
    }

    /// After a sync: remembers the object as at rest when `at_rest` says nothing about it moves
    /// with time alone, forgets it otherwise.
    fn remember_rest(&mut self, state: &State, key: &Key, at_rest: fn(&Value) -> bool) {
        let Some(o) = state.objects.get(key) else {
            return;
        };
        if at_rest(o) {
            self.at_rest
                .insert(uid_of(o).to_owned(), fingerprint(state, o));
        } else {
            self.at_rest.remove(uid_of(o));
        }
    }
}

/// The versions of an object and of the objects it controls, as one number.
fn fingerprint(state: &State, object: &Value) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    let version = |o: &Value| o["metadata"]["resourceVersion"].as_str().map(str::to_owned);
    version(object).hash(&mut h);
    for (key, owned) in state.controlled_by(uid_of(object)) {
        key.hash(&mut h);
        version(owned).hash(&mut h);
    }
    h.finish()
}

/// Whether the generation is observed and the counters say every replica is there.
fn counters_complete(o: &Value, counters: &[&str]) -> bool {
    let wanted = o["spec"]["replicas"].as_i64().unwrap_or(1);
    o["status"]["observedGeneration"] == o["metadata"]["generation"]
        && counters.iter().all(|c| i(&o["status"][*c]) == wanted)
}

/// A Deployment nothing moves with time alone: paused, failed its progress deadline (it stays
/// so until something changes), or rolled out with every replica available.
fn deployment_at_rest(d: &Value) -> bool {
    let progressing = condition(&d["status"], "Progressing").map(|c| c["reason"].clone());
    d["spec"]["paused"] == json!(true)
        || progressing == Some(json!("ProgressDeadlineExceeded"))
        || (progressing == Some(json!("NewReplicaSetAvailable"))
            && counters_complete(d, &["replicas", "updatedReplicas", "availableReplicas"]))
}

/// A ReplicaSet with every replica available (pods still waiting on minReadySeconds move with
/// time).
fn replica_set_at_rest(rs: &Value) -> bool {
    counters_complete(rs, &["replicas", "readyReplicas", "availableReplicas"])
}

pub fn reconcile(state: &mut State, timing: &Timing, memory: &mut Memory) {
    garbage_collect(state);
    for key in keys(state, index_of("apps", "deployments")) {
        if memory.still_at_rest(state, &key) {
            continue;
        }
        sync_deployment(state, &key, memory);
        memory.remember_rest(state, &key, deployment_at_rest);
    }
    for key in keys(state, index_of("apps", "replicasets")) {
        if memory.still_at_rest(state, &key) {
            continue;
        }
        sync_replica_set(state, &key, timing, memory);
        memory.remember_rest(state, &key, replica_set_at_rest);
    }
    for key in keys(state, index_of("apps", "statefulsets")) {
        sync_stateful_set(state, &key, timing, memory);
    }
    for key in keys(state, index_of("apps", "daemonsets")) {
        sync_daemon_set(state, &key, timing, memory);
    }
    memory.unsettled = 0;
    for key in keys(state, index_of("", "pods")) {
        kubelet(state, &key, timing, memory);
    }
    memory.settled.retain(|uid, _| state.born.contains_key(uid));
    memory.at_rest.retain(|uid, _| state.born.contains_key(uid));
    for key in keys(state, index_of("", "services")) {
        sync_endpoints(state, &key);
    }
    remove_orphaned_endpoints(state);
}

fn keys(state: &State, type_index: usize) -> Vec<Key> {
    state
        .of_type(type_index, None)
        .map(|(k, _)| k.clone())
        .collect()
}

fn write(state: &mut State, key: &Key, new: Value, part: Part) -> Option<Value> {
    let old = state.objects.get(key)?;
    let mut new = new;
    new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
    // Most passes find most objects as they left them: nothing to write.
    if &new == old {
        return Some(new);
    }
    let old = old.clone();
    update(state, key, &old, new, part, &internal(), false).ok()
}

fn create_internal(
    state: &mut State,
    type_index: usize,
    namespace: &str,
    object: Value,
) -> Option<Value> {
    crate::objects::create(state, type_index, namespace, object, &internal()).ok()
}

fn owner_reference(kind: &str, api_version: &str, owner: &Value) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "name": name_of(owner), "uid": uid_of(owner),
        "controller": true, "blockOwnerDeletion": true})
}

fn owned(state: &State, type_index: usize, namespace: &str, owner_uid: &str) -> Vec<(Key, Value)> {
    state
        .controlled_by(owner_uid)
        .filter(|(k, o)| {
            k.0 == type_index
                && k.1 == namespace
                && o["metadata"].get("deletionTimestamp").is_none()
        })
        .map(|(k, o)| (k.clone(), o.clone()))
        .collect()
}

fn set_condition(status: &mut Value, kind: &str, value: &str, reason: &str, message: &str) {
    let now = now_rfc3339();
    let conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    let mut out = Vec::new();
    let mut found = false;
    for c in conditions {
        if c["type"] == kind {
            found = true;
            let transition = if c["status"] == value {
                c["lastTransitionTime"].clone()
            } else {
                json!(now)
            };
            let same = c["status"] == value && c["reason"] == reason && c["message"] == message;
            out.push(
                json!({"type": kind, "status": value, "reason": reason, "message": message,
                "lastUpdateTime": if same { c["lastUpdateTime"].clone() } else { json!(now) },
                "lastTransitionTime": transition}),
            );
        } else {
            out.push(c);
        }
    }
    if !found {
        out.push(
            json!({"type": kind, "status": value, "reason": reason, "message": message,
            "lastUpdateTime": now, "lastTransitionTime": now}),
        );
    }
    status["conditions"] = json!(out);
}

fn condition<'a>(status: &'a Value, kind: &str) -> Option<&'a Value> {
    status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

/// Status counters are omitted when zero, as the real API's `omitempty` does.
fn omit_zero(status: &mut Value, fields: &[&str]) {
    if let Some(m) = status.as_object_mut() {
        for f in fields {
            if m.get(*f).and_then(Value::as_i64) == Some(0) {
                m.remove(*f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn image_names_choose_behaviour() {
        assert_eq!(
            behaviour_of("registry.local/team/crashloop:1"),
            Behaviour::Crash
        );
        assert_eq!(behaviour_of("nginx:1.27"), Behaviour::Healthy);
        assert_eq!(behaviour_of("app-never-ready:2"), Behaviour::NeverReady);
        assert_eq!(behaviour_of("pull-error/x"), Behaviour::Healthy);
        assert_eq!(behaviour_of("x/pull-error:1"), Behaviour::PullError);
    }
}
