//! The Deployment controller (reference §10): a ReplicaSet per pod template, rollbacks, the
//! rollout itself, revision-history clean-up, and the Deployment's status and conditions.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::objects::{Part, controller_uid};
use crate::resources::index_of;
use crate::store::{Key, State, name_of, uid_of};

use super::rollout::{
    revision_of, rollout_recreate, rollout_rolling, surge_and_unavailable, template_hash,
    template_without_hash,
};
use super::{
    Memory, condition, create_internal, i, omit_zero, owned, owner_reference, record_event,
    set_condition, write,
};

pub(super) const REVISION: &str = "deployment.kubernetes.io/revision";
pub(super) const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub(super) const DESIRED: &str = "deployment.kubernetes.io/desired-replicas";
pub(super) const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
pub(super) const HASH_LABEL: &str = "pod-template-hash";

pub(super) fn sync_deployment(state: &mut State, key: &Key, memory: &mut Memory) {
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
