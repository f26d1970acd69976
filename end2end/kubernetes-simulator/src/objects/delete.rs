//! Deletion: propagation policies, preconditions, finalizers and the `Status` a DELETE answers
//! with.

use serde_json::{Value, json};

use crate::resources::TYPES;
use crate::store::{ApiError, Key, State, now_rfc3339, uid_of, with_type};

use super::owner_uids;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

/// Deletes an object. Background: removed now, dependents collected by the garbage collector.
/// Foreground (or finalizers present): marked with `deletionTimestamp` and returned.
pub fn delete(
    state: &mut State,
    key: &Key,
    propagation: Propagation,
    precondition_uid: Option<&str>,
    dry_run: bool,
) -> Result<Value, ApiError> {
    let t = &TYPES[key.0];
    let Some(object) = state.objects.get(key).cloned() else {
        return Err(ApiError::not_found(t, &key.2));
    };
    if let Some(uid) = precondition_uid
        && uid != uid_of(&object)
    {
        return Err(ApiError::conflict(t, &key.2));
    }
    if dry_run {
        return Ok(success_status(t, &key.2, uid_of(&object)));
    }
    if propagation == Propagation::Orphan {
        let uid = uid_of(&object).to_owned();
        let dependents: Vec<Key> = state
            .objects
            .iter()
            .filter(|(_, o)| owner_uids(o).any(|u| u == uid))
            .map(|(k, _)| k.clone())
            .collect();
        for k in dependents {
            if let Some(mut d) = state.objects.get(&k).cloned() {
                if let Some(refs) = d["metadata"]["ownerReferences"].as_array_mut() {
                    refs.retain(|r| r["uid"].as_str() != Some(uid.as_str()));
                }
                state.replace(&k, d);
            }
        }
    }
    let has_finalizers = object["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|f| !f.is_empty());
    if propagation == Propagation::Foreground || has_finalizers {
        let mut marked = object.clone();
        if marked["metadata"].get("deletionTimestamp").is_none() {
            marked["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
            marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        }
        if propagation == Propagation::Foreground {
            let finalizers = marked["metadata"]["finalizers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !finalizers.contains(&json!("foregroundDeletion")) {
                let mut f = finalizers;
                f.push(json!("foregroundDeletion"));
                marked["metadata"]["finalizers"] = json!(f);
            }
        }
        return Ok(with_type(key.0, state.replace(key, marked)));
    }
    state.remove(key);
    Ok(success_status(t, &key.2, uid_of(&object)))
}

fn success_status(t: &crate::resources::ResourceType, name: &str, uid: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
        "details": {"name": name, "group": t.group, "kind": t.plural, "uid": uid}})
}
