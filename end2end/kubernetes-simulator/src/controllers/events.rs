//! Events the controllers and the simulated kubelet record about objects.

use serde_json::{Value, json};

use crate::objects::Part;
use crate::resources::{TYPES, index_of};
use crate::store::{State, name_of, now_rfc3339, uid_of};

use super::{create_internal, i, write};

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
        .events_about(&uid)
        .find(|(k, e)| {
            k.1 == namespace && e["reason"] == json!(reason) && e["message"] == json!(message)
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
