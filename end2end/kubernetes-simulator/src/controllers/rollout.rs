//! Rollout math and template hashing: maxSurge/maxUnavailable, the `pod-template-hash`, revisions,
//! and the steps of a Recreate or RollingUpdate rollout between ReplicaSets.

use serde_json::{Value, json};

use crate::objects::Part;
use crate::store::{Key, State};

use super::deployment::{HASH_LABEL, REVISION};
use super::{i, record_event, write};

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

/// The template as the controller compares and hashes templates (Go's semantic equality on the
/// decoded type): without the pod-template-hash label, and with null, `{}` and `[]` the same as
/// absent — `kubectl rollout undo` sends the old ReplicaSet's template back with
/// `creationTimestamp: null`, and must find that ReplicaSet again, not make a new one.
pub(super) fn template_without_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(labels) = t["metadata"]["labels"].as_object_mut() {
        labels.remove(HASH_LABEL);
    }
    drop_empty(&mut t);
    t
}

fn drop_empty(v: &mut Value) {
    let empty = |v: &Value| {
        v.is_null()
            || v.as_object().is_some_and(serde_json::Map::is_empty)
            || v.as_array().is_some_and(Vec::is_empty)
    };
    match v {
        Value::Object(fields) => {
            fields.values_mut().for_each(drop_empty);
            fields.retain(|_, v| !empty(v));
        }
        Value::Array(items) => items.iter_mut().for_each(drop_empty),
        _ => {}
    }
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

pub(super) fn revision_of(rs: &Value) -> i64 {
    rs["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
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

pub(super) fn rollout_recreate(
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
pub(super) fn rollout_rolling(
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
}
