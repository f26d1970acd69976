//! The ReplicaSet controller: pods created or deleted to match `replicas`, and the status counters.

use serde_json::json;

use crate::objects::Part;
use crate::resources::index_of;
use crate::store::{Key, State, name_of, uid_of};

use super::pods::{new_pod, pod_is_available, pod_is_ready, pods_of};
use super::{Memory, Timing, create_internal, omit_zero, record_event, write};

pub(super) fn sync_replica_set(state: &mut State, key: &Key, timing: &Timing, memory: &Memory) {
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
