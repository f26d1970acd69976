//! The DaemonSet controller (basic): one pod per simulated node, and the status counters.

use serde_json::json;

use crate::objects::Part;
use crate::resources::index_of;
use crate::store::{Key, State, uid_of};

use super::pods::{new_pod, pod_is_available, pod_is_ready, pods_of};
use super::{Memory, Timing, create_internal, omit_zero, template_hash, write};

pub(super) fn sync_daemon_set(state: &mut State, key: &Key, timing: &Timing, memory: &Memory) {
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
