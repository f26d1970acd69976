//! The StatefulSet controller (basic): ordinal pods, OrderedReady start-up, one outdated pod
//! replaced at a time, and the status counters and revisions.

use serde_json::{Value, json};

use crate::objects::Part;
use crate::resources::index_of;
use crate::store::{Key, State, name_of, uid_of};

use super::pods::{new_pod, pod_is_available, pod_is_ready, pods_of};
use super::{Memory, Timing, create_internal, omit_zero, record_event, template_hash, write};

pub(super) fn sync_stateful_set(state: &mut State, key: &Key, timing: &Timing, memory: &Memory) {
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
