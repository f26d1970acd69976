//! Pods as the workload controllers see them: readiness, availability, new pods from a template.

use std::time::Duration;

use serde_json::{Value, json};

use crate::resources::index_of;
use crate::store::{Key, State, name_of, uid_of};

use super::{Memory, Timing, owned, owner_reference};

pub(super) fn pod_is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

pub(super) fn pod_is_available(pod: &Value, min_ready: i64, memory: &Memory) -> bool {
    pod_is_ready(pod)
        && memory
            .ready_since
            .get(uid_of(pod))
            .is_some_and(|t| t.elapsed() >= Duration::from_secs(min_ready.max(0) as u64))
}

pub(super) fn new_pod(
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

pub(super) fn pods_of(state: &State, namespace: &str, owner_uid: &str) -> Vec<(Key, Value)> {
    owned(state, index_of("", "pods"), namespace, owner_uid)
}
