//! The controllers a delivery system depends on, run as one reconcile pass over the whole store:
//! Deployment → ReplicaSets (reference §10), ReplicaSet → Pods, a simulated kubelet (readiness,
//! crash loops, image pull errors by image name), StatefulSets and DaemonSets (basic), Endpoints,
//! Events and the garbage collector.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::objects::{Part, Writer, controller_uid, owner_uids, update};
use crate::resources::{TYPES, index_of};
use crate::selectors::LabelSelector;
use crate::store::{Key, State, name_of, now_rfc3339, uid_of};

const REVISION: &str = "deployment.kubernetes.io/revision";
const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
const DESIRED: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
const HASH_LABEL: &str = "pod-template-hash";

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
}

pub fn reconcile(state: &mut State, timing: &Timing, memory: &mut Memory) {
    garbage_collect(state);
    for key in keys(state, index_of("apps", "deployments")) {
        sync_deployment(state, &key, memory);
    }
    for key in keys(state, index_of("apps", "replicasets")) {
        sync_replica_set(state, &key, timing, memory);
    }
    for key in keys(state, index_of("apps", "statefulsets")) {
        sync_stateful_set(state, &key, timing, memory);
    }
    for key in keys(state, index_of("apps", "daemonsets")) {
        sync_daemon_set(state, &key, timing, memory);
    }
    for key in keys(state, index_of("", "pods")) {
        kubelet(state, &key, timing, memory);
    }
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
    let old = state.objects.get(key)?.clone();
    let mut new = new;
    new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
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

/// Records an Event about an object; repeats of the same reason and message bump `count`.
pub fn record_event(
    state: &mut State,
    involved: &Value,
    kind: &str,
    event_type: &str,
    reason: &str,
    message: &str,
    component: &str,
) {
    let namespace = involved["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default")
        .to_owned();
    let events = index_of("", "events");
    let uid = uid_of(involved).to_owned();
    let existing = state
        .of_type(events, Some(&namespace))
        .find(|(_, e)| {
            e["involvedObject"]["uid"] == json!(uid)
                && e["reason"] == json!(reason)
                && e["message"] == json!(message)
        })
        .map(|(k, e)| (k.clone(), e.clone()));
    let now = now_rfc3339();
    if let Some((key, mut e)) = existing {
        e["count"] = json!(i(&e["count"]) + 1);
        e["lastTimestamp"] = json!(now);
        write(state, &key, e, Part::Main);
        return;
    }
    let name = format!(
        "{}.{:x}",
        name_of(involved),
        fastrand::u64(..) & 0xffff_ffff_ffff
    );
    let api_version = involved["apiVersion"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| {
            TYPES
                .iter()
                .find(|t| t.kind == kind)
                .map(|t| t.api_version())
                .unwrap_or_default()
        });
    create_internal(
        state,
        events,
        &namespace,
        json!({
            "metadata": {"name": name},
            "involvedObject": {"kind": kind, "namespace": namespace, "name": name_of(involved), "uid": uid,
                "apiVersion": api_version, "resourceVersion": involved["metadata"]["resourceVersion"]},
            "reason": reason, "message": message, "type": event_type, "count": 1,
            "firstTimestamp": now, "lastTimestamp": now, "source": {"component": component},
            "reportingComponent": component
        }),
    );
}

// ---------------------------------------------------------------- garbage collector

fn garbage_collect(state: &mut State) {
    let uids: std::collections::HashSet<String> = state
        .objects
        .values()
        .map(|o| uid_of(o).to_owned())
        .collect();
    let orphans: Vec<Key> = state
        .objects
        .iter()
        .filter(|(_, o)| {
            let owners: Vec<&str> = owner_uids(o).collect();
            !owners.is_empty() && owners.iter().all(|u| !uids.contains(*u))
        })
        .map(|(k, _)| k.clone())
        .collect();
    for key in orphans {
        state.remove(&key);
    }
    // Foreground deletion: dependents go first, then the owner's finalizer is removed.
    let waiting: Vec<(Key, String)> = state
        .objects
        .iter()
        .filter(|(_, o)| {
            o["metadata"].get("deletionTimestamp").is_some()
                && o["metadata"]["finalizers"]
                    .as_array()
                    .is_some_and(|f| f.contains(&json!("foregroundDeletion")))
        })
        .map(|(k, o)| (k.clone(), uid_of(o).to_owned()))
        .collect();
    for (key, uid) in waiting {
        let dependents: Vec<Key> = state
            .objects
            .iter()
            .filter(|(_, o)| owner_uids(o).any(|u| u == uid))
            .map(|(k, _)| k.clone())
            .collect();
        if dependents.is_empty() {
            if let Some(mut o) = state.objects.get(&key).cloned() {
                if let Some(f) = o["metadata"]["finalizers"].as_array_mut() {
                    f.retain(|x| x != "foregroundDeletion");
                }
                write(state, &key, o, Part::Main);
            }
        } else {
            for d in dependents {
                let _ = crate::objects::delete(
                    state,
                    &d,
                    crate::objects::Propagation::Foreground,
                    None,
                    false,
                );
            }
        }
    }
}

// ---------------------------------------------------------------- Deployments

/// `intstr` resolution: a number, or a percentage of `total` rounded up or down.
pub fn resolve_int_or_percent(v: &Value, total: i64, round_up: bool) -> i64 {
    if let Some(n) = v.as_i64() {
        return n;
    }
    let Some(p) = v
        .as_str()
        .and_then(|s| s.strip_suffix('%'))
        .and_then(|s| s.parse::<i64>().ok())
    else {
        return 0;
    };
    if round_up {
        (p * total + 99) / 100
    } else {
        p * total / 100
    }
}

/// (maxSurge, maxUnavailable) for a RollingUpdate Deployment (reference §10).
pub fn surge_and_unavailable(deployment: &Value) -> (i64, i64) {
    let spec = &deployment["spec"];
    let replicas = spec["replicas"].as_i64().unwrap_or(1);
    if spec["strategy"]["type"] != "RollingUpdate" {
        return (0, 0);
    }
    let ru = &spec["strategy"]["rollingUpdate"];
    let surge = resolve_int_or_percent(&ru["maxSurge"], replicas, true);
    let mut unavailable = resolve_int_or_percent(&ru["maxUnavailable"], replicas, false);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable.min(replicas).max(0))
}

fn template_without_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(labels) = t["metadata"]["labels"].as_object_mut() {
        labels.remove(HASH_LABEL);
    }
    t
}

/// FNV-32a over the template's JSON (plus the collision count), mapped onto the alphabet the
/// real controller uses. Deterministic, but not the real value (reference §14).
pub fn template_hash(template: &Value, collision_count: i64) -> String {
    let mut h: u32 = 0x811c_9dc5;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u32::from(*b);
            h = h.wrapping_mul(0x0100_0193);
        }
    };
    feed(template_without_hash(template).to_string().as_bytes());
    if collision_count > 0 {
        feed(&(collision_count as u32).to_le_bytes());
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    h.to_string()
        .bytes()
        .map(|b| ALPHABET[b as usize % ALPHABET.len()] as char)
        .collect()
}

fn revision_of(rs: &Value) -> i64 {
    rs["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn owned(state: &State, type_index: usize, namespace: &str, owner_uid: &str) -> Vec<(Key, Value)> {
    state
        .of_type(type_index, Some(namespace))
        .filter(|(_, o)| {
            controller_uid(o) == Some(owner_uid) && o["metadata"].get("deletionTimestamp").is_none()
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

fn sync_deployment(state: &mut State, key: &Key, memory: &mut Memory) {
    let Some(d) = state.objects.get(key).cloned() else {
        return;
    };
    if d["metadata"].get("deletionTimestamp").is_some() {
        return;
    }
    let ns = key.1.clone();
    let uid = uid_of(&d).to_owned();
    let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
    let template = d["spec"]["template"].clone();
    let rs_type = index_of("apps", "replicasets");
    let mut sets = owned(state, rs_type, &ns, &uid);
    sets.sort_by(|a, b| {
        a.1["metadata"]["creationTimestamp"]
            .as_str()
            .cmp(&b.1["metadata"]["creationTimestamp"].as_str())
            .then(revision_of(&a.1).cmp(&revision_of(&b.1)))
    });
    let paused = d["spec"]["paused"] == json!(true);
    let wanted = template_without_hash(&template);
    let new_index = sets
        .iter()
        .position(|(_, rs)| template_without_hash(&rs["spec"]["template"]) == wanted);
    let max_old_revision = sets
        .iter()
        .enumerate()
        .filter(|(n, _)| Some(*n) != new_index)
        .map(|(_, (_, rs))| revision_of(rs))
        .max()
        .unwrap_or(0);
    let (surge, unavailable) = surge_and_unavailable(&d);
    let recreate = d["spec"]["strategy"]["type"] == "Recreate";
    let mut created_new = None;

    if !paused {
        match new_index {
            None => {
                // A new ReplicaSet for this template, sized by the rollout math.
                let total: i64 = sets.iter().map(|(_, rs)| i(&rs["spec"]["replicas"])).sum();
                let old_pods = sets.iter().any(|(_, rs)| {
                    i(&rs["status"]["replicas"]) > 0 || i(&rs["spec"]["replicas"]) > 0
                });
                let initial = if recreate {
                    if old_pods { 0 } else { replicas }
                } else if sets.is_empty() {
                    replicas
                } else {
                    (replicas + surge - total).clamp(0, replicas)
                };
                let mut collision = i(&d["status"]["collisionCount"]);
                let (name, hash) = loop {
                    let hash = template_hash(&template, collision);
                    let name = format!("{}-{hash}", name_of(&d));
                    match state.get(rs_type, &ns, &name) {
                        Some(other) if controller_uid(other) != Some(uid.as_str()) => {
                            collision += 1
                        }
                        _ => break (name, hash),
                    }
                };
                let revision = max_old_revision + 1;
                let mut annotations = d["metadata"]["annotations"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                annotations.retain(|k, _| {
                    !k.starts_with("deployment.kubernetes.io/")
                        && k != "kubectl.kubernetes.io/last-applied-configuration"
                });
                annotations.insert(REVISION.into(), json!(revision.to_string()));
                annotations.insert(DESIRED.into(), json!(replicas.to_string()));
                annotations.insert(MAX_REPLICAS.into(), json!((replicas + surge).to_string()));
                let mut rs_template = template.clone();
                rs_template["metadata"]["labels"][HASH_LABEL] = json!(hash);
                let mut selector = d["spec"]["selector"].clone();
                selector["matchLabels"][HASH_LABEL] = json!(hash);
                let mut labels = template["metadata"]["labels"].clone();
                labels[HASH_LABEL] = json!(hash);
                let rs = json!({
                    "metadata": {"name": name, "labels": labels, "annotations": annotations,
                        "ownerReferences": [owner_reference("Deployment", "apps/v1", &d)]},
                    "spec": {"replicas": initial, "minReadySeconds": d["spec"]["minReadySeconds"].as_i64().unwrap_or(0),
                        "selector": selector, "template": rs_template}
                });
                if let Some(created) = create_internal(state, rs_type, &ns, rs) {
                    record_event(
                        state,
                        &d,
                        "Deployment",
                        "Normal",
                        "ScalingReplicaSet",
                        &format!("Scaled up replica set {name} from 0 to {initial}"),
                        "deployment-controller",
                    );
                    memory.progress.insert(uid.clone(), Instant::now());
                    created_new = Some(name.clone());
                    let k: Key = (rs_type, ns.clone(), name);
                    sets.push((k, created));
                }
                if collision != i(&d["status"]["collisionCount"]) {
                    let mut updated = state.objects.get(key).cloned().unwrap_or(d.clone());
                    updated["status"]["collisionCount"] = json!(collision);
                    write(state, key, updated, Part::Status);
                }
            }
            Some(n) => {
                // An old template again (a rollback): its ReplicaSet takes the next revision.
                let (rs_key, rs) = sets[n].clone();
                let current = revision_of(&rs);
                if current <= max_old_revision {
                    let mut updated = rs.clone();
                    let history = rs["metadata"]["annotations"][REVISION_HISTORY]
                        .as_str()
                        .map(|h| format!("{h},{current}"))
                        .unwrap_or(current.to_string());
                    updated["metadata"]["annotations"][REVISION] =
                        json!((max_old_revision + 1).to_string());
                    updated["metadata"]["annotations"][REVISION_HISTORY] = json!(history);
                    if let Some(w) = write(state, &rs_key, updated, Part::Main) {
                        sets[n].1 = w;
                        memory.progress.insert(uid.clone(), Instant::now());
                    }
                }
                let desired = replicas.to_string();
                let max = (replicas + surge).to_string();
                if sets[n].1["metadata"]["annotations"][DESIRED] != json!(desired)
                    || sets[n].1["metadata"]["annotations"][MAX_REPLICAS] != json!(max)
                {
                    let mut updated = sets[n].1.clone();
                    updated["metadata"]["annotations"][DESIRED] = json!(desired);
                    updated["metadata"]["annotations"][MAX_REPLICAS] = json!(max);
                    if let Some(w) = write(state, &rs_key, updated, Part::Main) {
                        sets[n].1 = w;
                    }
                }
            }
        }
    }

    let new_name = created_new.or_else(|| new_index.map(|n| sets[n].0.2.clone()));
    if !paused && let Some(new_name) = &new_name {
        if recreate {
            rollout_recreate(state, &d, new_name, &sets, replicas);
        } else {
            rollout_rolling(state, &d, new_name, &sets, replicas, surge, unavailable);
        }
    }
    // Re-read what the rollout did, then clean up history and compute status.
    let sets = owned(state, rs_type, &ns, &uid);
    let new_rs = new_name
        .as_ref()
        .and_then(|n| sets.iter().find(|(k, _)| &k.2 == n))
        .map(|(_, rs)| rs.clone());
    let complete = new_rs
        .as_ref()
        .is_some_and(|rs| i(&rs["status"]["availableReplicas"]) >= replicas)
        && sets
            .iter()
            .map(|(_, rs)| i(&rs["status"]["replicas"]))
            .sum::<i64>()
            == replicas;
    if complete {
        let limit = d["spec"]["revisionHistoryLimit"].as_i64().unwrap_or(10);
        let mut old: Vec<&(Key, Value)> = sets
            .iter()
            .filter(|(k, rs)| {
                Some(&k.2) != new_name.as_ref()
                    && i(&rs["spec"]["replicas"]) == 0
                    && i(&rs["status"]["replicas"]) == 0
            })
            .collect();
        old.sort_by_key(|(_, rs)| revision_of(rs));
        let excess = old.len() as i64 - limit;
        for (k, _) in old.into_iter().take(excess.max(0) as usize) {
            state.remove(k);
        }
    }
    let sets = owned(state, rs_type, &ns, &uid);
    let new_rs = new_name
        .as_ref()
        .and_then(|n| sets.iter().find(|(k, _)| &k.2 == n))
        .map(|(_, rs)| rs.clone());

    let Some(mut d) = state.objects.get(key).cloned() else {
        return;
    };
    let old_status = d["status"].clone();
    let mut status = old_status.clone();
    if !status.is_object() {
        status = json!({});
    }
    let sum = |f: &str| sets.iter().map(|(_, rs)| i(&rs["status"][f])).sum::<i64>();
    let spec_total: i64 = sets.iter().map(|(_, rs)| i(&rs["spec"]["replicas"])).sum();
    status["observedGeneration"] = d["metadata"]["generation"].clone();
    status["replicas"] = json!(sum("replicas"));
    status["updatedReplicas"] = json!(
        new_rs
            .as_ref()
            .map(|rs| i(&rs["status"]["replicas"]))
            .unwrap_or(0)
    );
    status["readyReplicas"] = json!(sum("readyReplicas"));
    status["availableReplicas"] = json!(sum("availableReplicas"));
    status["unavailableReplicas"] = json!((spec_total - sum("availableReplicas")).max(0));
    let available = i(&status["availableReplicas"]);
    let min_available = replicas - if recreate { 0 } else { unavailable };
    if available >= min_available {
        set_condition(
            &mut status,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        );
    } else {
        set_condition(
            &mut status,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        );
    }
    let rs_name = new_name.clone().unwrap_or_default();
    if paused {
        set_condition(
            &mut status,
            "Progressing",
            "Unknown",
            "DeploymentPaused",
            "Deployment is paused",
        );
    } else {
        let was_paused = condition(&old_status, "Progressing")
            .is_some_and(|c| c["reason"] == "DeploymentPaused");
        let progressed = i(&status["updatedReplicas"]) > i(&old_status["updatedReplicas"])
            || i(&status["readyReplicas"]) > i(&old_status["readyReplicas"])
            || i(&status["availableReplicas"]) > i(&old_status["availableReplicas"])
            || i(&status["replicas"]) - i(&status["updatedReplicas"])
                < i(&old_status["replicas"]) - i(&old_status["updatedReplicas"]);
        let done = i(&status["updatedReplicas"]) == replicas
            && i(&status["replicas"]) == replicas
            && i(&status["availableReplicas"]) == replicas;
        let last_progress = memory
            .progress
            .entry(uid.clone())
            .or_insert_with(Instant::now);
        if progressed || was_paused {
            *last_progress = Instant::now();
        }
        let deadline =
            Duration::from_secs(d["spec"]["progressDeadlineSeconds"].as_u64().unwrap_or(600));
        let current = condition(&old_status, "Progressing").cloned();
        if was_paused {
            set_condition(
                &mut status,
                "Progressing",
                "Unknown",
                "DeploymentResumed",
                "Deployment is resumed",
            );
        } else if done {
            set_condition(
                &mut status,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                &format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
            );
        } else if current
            .as_ref()
            .is_some_and(|c| c["reason"] == "ProgressDeadlineExceeded")
            && !progressed
        {
            // Stays failed until something moves.
        } else if last_progress.elapsed() > deadline {
            set_condition(
                &mut status,
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                &format!("ReplicaSet \"{rs_name}\" has timed out progressing."),
            );
            record_event(
                state,
                &d,
                "Deployment",
                "Warning",
                "ProgressDeadlineExceeded",
                &format!("ReplicaSet \"{rs_name}\" has timed out progressing."),
                "deployment-controller",
            );
        } else if current.is_none() && new_index.is_some() && !rs_name.is_empty() {
            set_condition(
                &mut status,
                "Progressing",
                "True",
                "FoundNewReplicaSet",
                &format!("Found new replica set \"{rs_name}\""),
            );
        } else if new_index.is_none() && !rs_name.is_empty() {
            set_condition(
                &mut status,
                "Progressing",
                "True",
                "NewReplicaSetCreated",
                &format!("Created new replica set \"{rs_name}\""),
            );
        } else if progressed
            || current
                .as_ref()
                .is_some_and(|c| c["reason"] == "NewReplicaSetAvailable")
        {
            set_condition(
                &mut status,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                &format!("ReplicaSet \"{rs_name}\" is progressing."),
            );
        }
    }
    omit_zero(
        &mut status,
        &[
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
            "unavailableReplicas",
            "observedGeneration",
        ],
    );
    d["status"] = status;
    if let Some(rs) = &new_rs {
        let revision = rs["metadata"]["annotations"][REVISION].clone();
        if !revision.is_null() {
            d["metadata"]["annotations"][REVISION] = revision;
        }
    }
    write(state, key, d, Part::Status);
}

fn scale_rs(state: &mut State, deployment: &Value, key: &Key, rs: &Value, to: i64) {
    let from = i(&rs["spec"]["replicas"]);
    if from == to {
        return;
    }
    let mut updated = rs.clone();
    updated["spec"]["replicas"] = json!(to);
    if write(state, key, updated, Part::Main).is_some() {
        let verb = if to > from { "up" } else { "down" };
        record_event(
            state,
            deployment,
            "Deployment",
            "Normal",
            "ScalingReplicaSet",
            &format!("Scaled {verb} replica set {} from {from} to {to}", key.2),
            "deployment-controller",
        );
    }
}

fn rollout_recreate(
    state: &mut State,
    d: &Value,
    new_name: &str,
    sets: &[(Key, Value)],
    replicas: i64,
) {
    let old: Vec<&(Key, Value)> = sets.iter().filter(|(k, _)| k.2 != new_name).collect();
    let mut scaled = false;
    for (k, rs) in &old {
        if i(&rs["spec"]["replicas"]) > 0 {
            scale_rs(state, d, k, rs, 0);
            scaled = true;
        }
    }
    if scaled || old.iter().any(|(_, rs)| i(&rs["status"]["replicas"]) > 0) {
        return;
    }
    if let Some((k, rs)) = sets.iter().find(|(k, _)| k.2 == new_name) {
        scale_rs(state, d, k, rs, replicas);
    }
}

#[allow(clippy::too_many_arguments)]
fn rollout_rolling(
    state: &mut State,
    d: &Value,
    new_name: &str,
    sets: &[(Key, Value)],
    replicas: i64,
    surge: i64,
    unavailable: i64,
) {
    let Some((new_key, new_rs)) = sets.iter().find(|(k, _)| k.2 == new_name).cloned() else {
        return;
    };
    let total: i64 = sets.iter().map(|(_, rs)| i(&rs["spec"]["replicas"])).sum();
    let new_spec = i(&new_rs["spec"]["replicas"]);
    // Scale the new ReplicaSet up (or down to the target).
    if new_spec > replicas {
        scale_rs(state, d, &new_key, &new_rs, replicas);
        return;
    }
    if new_spec < replicas {
        let up = (replicas + surge - total).min(replicas - new_spec);
        if up > 0 {
            scale_rs(state, d, &new_key, &new_rs, new_spec + up);
            return;
        }
    }
    // Scale old ReplicaSets down, oldest first, never below the availability floor.
    let mut old: Vec<(Key, Value)> = sets
        .iter()
        .filter(|(k, _)| k.2 != new_name)
        .cloned()
        .collect();
    old.sort_by_key(|(_, rs)| revision_of(rs));
    if old.iter().all(|(_, rs)| i(&rs["spec"]["replicas"]) == 0) {
        return;
    }
    let min_available = replicas - unavailable;
    let new_unavailable = new_spec - i(&new_rs["status"]["availableReplicas"]);
    let mut max_scaled_down = total - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return;
    }
    // First the old pods that are not available anyway.
    let mut changed = false;
    for (k, rs) in old.iter_mut() {
        if max_scaled_down <= 0 {
            break;
        }
        let spec = i(&rs["spec"]["replicas"]);
        let unhealthy = spec - i(&rs["status"]["availableReplicas"]);
        if spec == 0 || unhealthy <= 0 {
            continue;
        }
        let down = unhealthy.min(max_scaled_down);
        scale_rs(state, d, k, rs, spec - down);
        rs["spec"]["replicas"] = json!(spec - down);
        max_scaled_down -= down;
        changed = true;
    }
    if changed {
        return;
    }
    let all_available: i64 = sets
        .iter()
        .map(|(_, rs)| i(&rs["status"]["availableReplicas"]))
        .sum();
    let mut budget = all_available - min_available;
    for (k, rs) in old.iter() {
        if budget <= 0 {
            break;
        }
        let spec = i(&rs["spec"]["replicas"]);
        if spec == 0 {
            continue;
        }
        let down = spec.min(budget);
        scale_rs(state, d, k, rs, spec - down);
        budget -= down;
    }
}

// ---------------------------------------------------------------- ReplicaSets, StatefulSets, DaemonSets

fn pod_is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

fn pod_is_available(pod: &Value, min_ready: i64, memory: &Memory) -> bool {
    pod_is_ready(pod)
        && memory
            .ready_since
            .get(uid_of(pod))
            .is_some_and(|t| t.elapsed() >= Duration::from_secs(min_ready.max(0) as u64))
}

fn new_pod(
    owner: &Value,
    owner_kind: &str,
    name: Option<String>,
    timing: &Timing,
    node: Option<&str>,
) -> Value {
    let template = &owner["spec"]["template"];
    let mut metadata = template["metadata"].clone();
    if !metadata.is_object() {
        metadata = json!({});
    }
    match name {
        Some(n) => metadata["name"] = json!(n),
        None => metadata["generateName"] = json!(format!("{}-", name_of(owner))),
    }
    metadata["ownerReferences"] = json!([owner_reference(owner_kind, "apps/v1", owner)]);
    let mut spec = template["spec"].clone();
    let node = node
        .map(str::to_owned)
        .unwrap_or_else(|| timing.nodes[fastrand::usize(..timing.nodes.len())].clone());
    spec["nodeName"] = json!(node);
    json!({"metadata": metadata, "spec": spec})
}

fn pods_of(state: &State, namespace: &str, owner_uid: &str) -> Vec<(Key, Value)> {
    owned(state, index_of("", "pods"), namespace, owner_uid)
}

fn sync_replica_set(state: &mut State, key: &Key, timing: &Timing, memory: &Memory) {
    let Some(rs) = state.objects.get(key).cloned() else {
        return;
    };
    if rs["metadata"].get("deletionTimestamp").is_some() {
        return;
    }
    let ns = key.1.clone();
    let pods_type = index_of("", "pods");
    let mut pods = pods_of(state, &ns, uid_of(&rs));
    let want = rs["spec"]["replicas"].as_i64().unwrap_or(1);
    let have = pods.len() as i64;
    if have < want {
        for _ in have..want {
            let pod = new_pod(&rs, "ReplicaSet", None, timing, None);
            if let Some(created) = create_internal(state, pods_type, &ns, pod) {
                record_event(
                    state,
                    &rs,
                    "ReplicaSet",
                    "Normal",
                    "SuccessfulCreate",
                    &format!("Created pod: {}", name_of(&created)),
                    "replicaset-controller",
                );
            }
        }
    } else if have > want {
        // Not-ready pods go first, then the newest.
        pods.sort_by(|a, b| {
            pod_is_ready(&a.1).cmp(&pod_is_ready(&b.1)).then(
                b.1["metadata"]["creationTimestamp"]
                    .as_str()
                    .cmp(&a.1["metadata"]["creationTimestamp"].as_str()),
            )
        });
        for (k, pod) in pods.iter().take((have - want) as usize) {
            state.remove(k);
            record_event(
                state,
                &rs,
                "ReplicaSet",
                "Normal",
                "SuccessfulDelete",
                &format!("Deleted pod: {}", name_of(pod)),
                "replicaset-controller",
            );
        }
    }
    let pods = pods_of(state, &ns, uid_of(&rs));
    let min_ready = rs["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
    let Some(mut rs) = state.objects.get(key).cloned() else {
        return;
    };
    let mut status = json!({
        "replicas": pods.len(),
        "fullyLabeledReplicas": pods.len(),
        "readyReplicas": pods.iter().filter(|(_, p)| pod_is_ready(p)).count(),
        "availableReplicas": pods.iter().filter(|(_, p)| pod_is_available(p, min_ready, memory)).count(),
        "observedGeneration": rs["metadata"]["generation"],
    });
    omit_zero(
        &mut status,
        &["fullyLabeledReplicas", "readyReplicas", "availableReplicas"],
    );
    rs["status"] = status;
    write(state, key, rs, Part::Status);
}

fn sync_stateful_set(state: &mut State, key: &Key, timing: &Timing, memory: &Memory) {
    let Some(sts) = state.objects.get(key).cloned() else {
        return;
    };
    if sts["metadata"].get("deletionTimestamp").is_some() {
        return;
    }
    let ns = key.1.clone();
    let pods_type = index_of("", "pods");
    let revision = format!(
        "{}-{}",
        name_of(&sts),
        template_hash(&sts["spec"]["template"], 0)
    );
    let want = sts["spec"]["replicas"].as_i64().unwrap_or(1);
    let pods = pods_of(state, &ns, uid_of(&sts));
    let ordinal = |p: &Value| {
        name_of(p)
            .rsplit('-')
            .next()
            .and_then(|n| n.parse::<i64>().ok())
            .unwrap_or(-1)
    };
    // Extra ordinals go from the highest down; one outdated pod is replaced at a time.
    for (k, p) in &pods {
        if ordinal(p) >= want {
            state.remove(k);
        }
    }
    let pods = pods_of(state, &ns, uid_of(&sts));
    let outdated = pods
        .iter()
        .filter(|(_, p)| p["metadata"]["labels"]["controller-revision-hash"] != json!(revision))
        .max_by_key(|(_, p)| ordinal(p));
    if let Some((k, _)) = outdated
        && pods.iter().all(|(_, p)| pod_is_ready(p))
    {
        state.remove(&k.clone());
    }
    let pods = pods_of(state, &ns, uid_of(&sts));
    for n in 0..want {
        let name = format!("{}-{n}", name_of(&sts));
        if pods.iter().any(|(k, _)| k.2 == name) {
            continue;
        }
        // OrderedReady: each pod waits for the ones before it.
        if sts["spec"]["podManagementPolicy"] != "Parallel"
            && !pods
                .iter()
                .filter(|(_, p)| ordinal(p) < n)
                .all(|(_, p)| pod_is_ready(p))
        {
            break;
        }
        let mut pod = new_pod(&sts, "StatefulSet", Some(name.clone()), timing, None);
        pod["metadata"]["labels"]["controller-revision-hash"] = json!(revision);
        pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] = json!(name);
        if create_internal(state, pods_type, &ns, pod).is_some() {
            record_event(
                state,
                &sts,
                "StatefulSet",
                "Normal",
                "SuccessfulCreate",
                &format!(
                    "create Pod {name} in StatefulSet {} successful",
                    name_of(&sts)
                ),
                "statefulset-controller",
            );
        }
        if sts["spec"]["podManagementPolicy"] != "Parallel" {
            break;
        }
    }
    let pods = pods_of(state, &ns, uid_of(&sts));
    let Some(mut sts) = state.objects.get(key).cloned() else {
        return;
    };
    let updated = pods
        .iter()
        .filter(|(_, p)| p["metadata"]["labels"]["controller-revision-hash"] == json!(revision))
        .count();
    let min_ready = sts["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
    let mut status = json!({
        "observedGeneration": sts["metadata"]["generation"], "replicas": pods.len(),
        "readyReplicas": pods.iter().filter(|(_, p)| pod_is_ready(p)).count(),
        "availableReplicas": pods.iter().filter(|(_, p)| pod_is_available(p, min_ready, memory)).count(),
        "currentReplicas": updated, "updatedReplicas": updated,
        "currentRevision": if updated == pods.len() { revision.clone() } else { sts["status"]["currentRevision"].as_str().unwrap_or(&revision).to_owned() },
        "updateRevision": revision, "collisionCount": 0,
    });
    omit_zero(
        &mut status,
        &[
            "replicas",
            "readyReplicas",
            "availableReplicas",
            "currentReplicas",
            "updatedReplicas",
        ],
    );
    sts["status"] = status;
    write(state, key, sts, Part::Status);
}

fn sync_daemon_set(state: &mut State, key: &Key, timing: &Timing, memory: &Memory) {
    let Some(ds) = state.objects.get(key).cloned() else {
        return;
    };
    if ds["metadata"].get("deletionTimestamp").is_some() {
        return;
    }
    let ns = key.1.clone();
    let hash = template_hash(&ds["spec"]["template"], 0);
    let pods = pods_of(state, &ns, uid_of(&ds));
    for (k, p) in &pods {
        if p["metadata"]["labels"]["controller-revision-hash"] != json!(hash) {
            state.remove(k);
        }
    }
    let pods = pods_of(state, &ns, uid_of(&ds));
    for node in &timing.nodes {
        if pods
            .iter()
            .any(|(_, p)| p["spec"]["nodeName"] == json!(node))
        {
            continue;
        }
        let mut pod = new_pod(&ds, "DaemonSet", None, timing, Some(node));
        pod["metadata"]["labels"]["controller-revision-hash"] = json!(hash);
        create_internal(state, index_of("", "pods"), &ns, pod);
    }
    let pods = pods_of(state, &ns, uid_of(&ds));
    let Some(mut ds) = state.objects.get(key).cloned() else {
        return;
    };
    let min_ready = ds["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
    let ready = pods.iter().filter(|(_, p)| pod_is_ready(p)).count();
    let available = pods
        .iter()
        .filter(|(_, p)| pod_is_available(p, min_ready, memory))
        .count();
    let mut status = json!({
        "observedGeneration": ds["metadata"]["generation"], "desiredNumberScheduled": timing.nodes.len(),
        "currentNumberScheduled": pods.len(), "updatedNumberScheduled": pods.len(), "numberMisscheduled": 0,
        "numberReady": ready, "numberAvailable": available, "numberUnavailable": timing.nodes.len().saturating_sub(available),
    });
    omit_zero(
        &mut status,
        &[
            "numberReady",
            "numberAvailable",
            "numberUnavailable",
            "numberMisscheduled",
        ],
    );
    ds["status"] = status;
    write(state, key, ds, Part::Status);
}

// ---------------------------------------------------------------- the simulated kubelet

fn kubelet(state: &mut State, key: &Key, timing: &Timing, memory: &mut Memory) {
    let Some(pod) = state.objects.get(key).cloned() else {
        return;
    };
    let uid = uid_of(&pod).to_owned();
    let age = state
        .born
        .get(&uid)
        .map(Instant::elapsed)
        .unwrap_or_default();
    let containers: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let behaviours: Vec<Behaviour> = containers
        .iter()
        .map(|c| behaviour_of(c["image"].as_str().unwrap_or_default()))
        .collect();
    let slowest = if behaviours.contains(&Behaviour::Slow) {
        timing.slow_ready_after
    } else {
        timing.pod_ready_after
    };
    let started = age >= slowest.min(timing.pod_ready_after);
    let now = now_rfc3339();
    let n = key
        .2
        .bytes()
        .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    let pod_ip = format!("10.244.{}.{}", (n >> 8) % 250, n % 250 + 2);
    let mut statuses = Vec::new();
    let mut all_ready = true;
    let mut phase = "Running";
    let mut warnings: Vec<(&str, String)> = Vec::new();
    for (c, b) in containers.iter().zip(&behaviours) {
        let name = c["name"].clone();
        let image = c["image"].clone();
        let base = json!({"name": name, "image": image, "imageID": format!("{}@sha256:{:064x}", image.as_str().unwrap_or_default(), n), "started": false, "ready": false, "restartCount": 0});
        let mut s = base;
        match b {
            Behaviour::PullError => {
                let reason = if age < timing.pod_ready_after * 2 {
                    "ErrImagePull"
                } else {
                    "ImagePullBackOff"
                };
                s["state"] = json!({"waiting": {"reason": reason, "message": format!("Back-off pulling image \"{}\"", image.as_str().unwrap_or_default())}});
                s["imageID"] = json!("");
                phase = "Pending";
                all_ready = false;
                warnings.push((
                    "Failed",
                    format!(
                        "Failed to pull image \"{}\": the simulator marks this image as missing",
                        image.as_str().unwrap_or_default()
                    ),
                ));
            }
            _ if !started => {
                s["state"] = json!({"waiting": {"reason": "ContainerCreating"}});
                phase = "Pending";
                all_ready = false;
            }
            Behaviour::Crash => {
                let restarts = (age.saturating_sub(timing.pod_ready_after).as_millis()
                    / timing.crash_every.as_millis().max(1)) as i64;
                s["restartCount"] = json!(restarts);
                s["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!("back-off restarting failed container {} in pod {}", name.as_str().unwrap_or_default(), key.2)}});
                s["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": now, "finishedAt": now}});
                all_ready = false;
                warnings.push(("BackOff", "Back-off restarting failed container".to_owned()));
            }
            other => {
                let ready = match other {
                    Behaviour::NeverReady => false,
                    Behaviour::Slow => age >= timing.slow_ready_after,
                    _ => true,
                };
                s["state"] =
                    json!({"running": {"startedAt": pod["metadata"]["creationTimestamp"]}});
                s["started"] = json!(true);
                s["ready"] = json!(ready);
                all_ready &= ready;
            }
        }
        statuses.push(s);
    }
    if all_ready {
        memory
            .ready_since
            .entry(uid.clone())
            .or_insert_with(Instant::now);
    } else {
        memory.ready_since.remove(&uid);
    }
    let mut status = pod["status"].clone();
    let before = status.clone();
    let ready_text = if all_ready { "True" } else { "False" };
    status["phase"] = json!(phase);
    status["hostIP"] = json!("192.168.49.2");
    status["startTime"] = pod["metadata"]["creationTimestamp"].clone();
    if phase == "Running" {
        status["podIP"] = json!(pod_ip);
        status["podIPs"] = json!([{"ip": pod_ip}]);
    }
    status["containerStatuses"] = json!(statuses);
    set_condition(&mut status, "PodScheduled", "True", "", "");
    set_condition(&mut status, "Initialized", "True", "", "");
    set_condition(
        &mut status,
        "ContainersReady",
        ready_text,
        if all_ready { "" } else { "ContainersNotReady" },
        "",
    );
    set_condition(
        &mut status,
        "Ready",
        ready_text,
        if all_ready { "" } else { "ContainersNotReady" },
        "",
    );
    for c in status["conditions"].as_array_mut().into_iter().flatten() {
        if let Some(m) = c.as_object_mut() {
            m.remove("lastUpdateTime");
            m.retain(|_, v| v != "");
        }
    }
    if before == status {
        return;
    }
    let was_started = before["containerStatuses"].as_array().is_some_and(|s| {
        s.iter()
            .any(|c| c["started"] == json!(true) || c["restartCount"].as_i64().unwrap_or(0) > 0)
    });
    let mut updated = pod.clone();
    updated["status"] = status;
    if let Some(written) = write(state, key, updated, Part::Status) {
        if before["phase"] == "Pending" && before.get("containerStatuses").is_none() {
            record_event(
                state,
                &written,
                "Pod",
                "Normal",
                "Scheduled",
                &format!(
                    "Successfully assigned {}/{} to {}",
                    key.1,
                    key.2,
                    pod["spec"]["nodeName"].as_str().unwrap_or_default()
                ),
                "default-scheduler",
            );
        }
        if started && !was_started {
            for c in &containers {
                record_event(
                    state,
                    &written,
                    "Pod",
                    "Normal",
                    "Started",
                    &format!(
                        "Started container {}",
                        c["name"].as_str().unwrap_or_default()
                    ),
                    "kubelet",
                );
            }
        }
        for (reason, message) in warnings {
            record_event(
                state, &written, "Pod", "Warning", reason, &message, "kubelet",
            );
        }
    }
}

// ---------------------------------------------------------------- Endpoints

fn sync_endpoints(state: &mut State, key: &Key) {
    let Some(svc) = state.objects.get(key).cloned() else {
        return;
    };
    let Some(selector) = svc["spec"]["selector"]
        .as_object()
        .filter(|s| !s.is_empty())
    else {
        return;
    };
    let selector = LabelSelector::from_object(&json!({"matchLabels": selector}));
    let ns = &key.1;
    let pods: Vec<Value> = state
        .of_type(index_of("", "pods"), Some(ns))
        .filter(|(_, p)| {
            selector.matches(p["metadata"]["labels"].as_object())
                && p["status"]["podIP"].is_string()
        })
        .map(|(_, p)| p.clone())
        .collect();
    let address = |p: &Value| {
        json!({"ip": p["status"]["podIP"], "nodeName": p["spec"]["nodeName"],
            "targetRef": {"kind": "Pod", "namespace": ns, "name": name_of(p), "uid": uid_of(p)}})
    };
    let ready: Vec<Value> = pods
        .iter()
        .filter(|p| pod_is_ready(p))
        .map(address)
        .collect();
    let not_ready: Vec<Value> = pods
        .iter()
        .filter(|p| !pod_is_ready(p))
        .map(address)
        .collect();
    let ports: Vec<Value> = svc["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let port = p["targetPort"].as_i64().or(p["port"].as_i64()).unwrap_or(0);
            let mut e = json!({"port": port, "protocol": p["protocol"]});
            if let Some(n) = p["name"].as_str() {
                e["name"] = json!(n);
            }
            e
        })
        .collect();
    let mut subset = json!({"ports": ports});
    if !ready.is_empty() {
        subset["addresses"] = json!(ready);
    }
    if !not_ready.is_empty() {
        subset["notReadyAddresses"] = json!(not_ready);
    }
    let subsets = if ready.is_empty() && not_ready.is_empty() {
        json!([])
    } else {
        json!([subset])
    };
    let ep_type = index_of("", "endpoints");
    let name = key.2.clone();
    match state.get(ep_type, ns, &name).cloned() {
        Some(mut ep) => {
            ep["subsets"] = subsets;
            write(state, &(ep_type, ns.clone(), name), ep, Part::Main);
        }
        None => {
            let labels = svc["metadata"]["labels"].clone();
            create_internal(
                state,
                ep_type,
                ns,
                json!({"metadata": {"name": name, "labels": if labels.is_null() { json!({}) } else { labels },
                "annotations": {"simulator.topsail.dev/managed": "true"}}, "subsets": subsets}),
            );
        }
    }
}

fn remove_orphaned_endpoints(state: &mut State) {
    let svc_type = index_of("", "services");
    let gone: Vec<Key> = state
        .of_type(index_of("", "endpoints"), None)
        .filter(|(k, ep)| {
            ep["metadata"]["annotations"]["simulator.topsail.dev/managed"] == "true"
                && state.get(svc_type, &k.1, &k.2).is_none()
        })
        .map(|(k, _)| k.clone())
        .collect();
    for k in gone {
        state.remove(&k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(replicas: i64, surge: Value, unavailable: Value) -> Value {
        json!({"spec": {"replicas": replicas, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}}})
    }

    #[test]
    fn rolling_math_matches_the_reference_examples() {
        for (replicas, expected) in [(3, (1, 0)), (4, (1, 1)), (10, (3, 2)), (1, (1, 0))] {
            assert_eq!(
                surge_and_unavailable(&deployment(replicas, json!("25%"), json!("25%"))),
                expected,
                "{replicas}"
            );
        }
        assert_eq!(
            surge_and_unavailable(&deployment(3, json!(0), json!("10%"))),
            (0, 1)
        );
        assert_eq!(
            surge_and_unavailable(&deployment(0, json!(1), json!(1))),
            (1, 0)
        );
    }

    #[test]
    fn template_hashes_are_deterministic_and_ignore_the_hash_label() {
        let t = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1"}]}});
        let mut labelled = t.clone();
        labelled["metadata"]["labels"][HASH_LABEL] = json!("x");
        let h = template_hash(&t, 0);
        assert_eq!(h, template_hash(&labelled, 0));
        assert_ne!(h, template_hash(&t, 1));
        assert!(h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
    }

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
