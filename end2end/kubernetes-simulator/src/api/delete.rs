//! delete and deletecollection, with propagation policies and uid preconditions.

use std::collections::HashMap;

use axum::body::Bytes;
use serde_json::{Value, json};

use crate::Cluster;
use crate::objects::{self, Propagation};
use crate::resources::TYPES;
use crate::store::{ApiError, Key, without_type};

use super::{Answer, Target, key_of, matches, parse_body, selectors};

fn propagation(
    body: &Bytes,
    query: &HashMap<String, String>,
) -> Result<(Propagation, Option<String>), ApiError> {
    let options: Value = if body.is_empty() {
        json!({})
    } else {
        parse_body(body)?
    };
    let policy = options["propagationPolicy"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| query.get("propagationPolicy").cloned());
    let propagation = match policy.as_deref() {
        None | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unsupported propagationPolicy {other:?}"
            )));
        }
    };
    Ok((
        propagation,
        options["preconditions"]["uid"].as_str().map(str::to_owned),
    ))
}

pub(super) fn delete(
    cluster: &Cluster,
    target: &Target,
    body: &Bytes,
    query: &HashMap<String, String>,
    dry_run: bool,
) -> Answer {
    let (propagation, uid) = propagation(body, query)?;
    let mut state = cluster.state.lock().expect("the store lock");
    let key = key_of(target);
    let answer = objects::delete(&mut state, &key, propagation, uid.as_deref(), dry_run)?;
    Ok((200, answer))
}

pub(super) fn delete_collection(
    cluster: &Cluster,
    target: &Target,
    query: &HashMap<String, String>,
    dry_run: bool,
) -> Answer {
    let (labels, fields) = selectors(query)?;
    let mut state = cluster.state.lock().expect("the store lock");
    let keys: Vec<Key> = state
        .of_type(target.type_index, target.namespace.as_deref())
        .filter(|(_, o)| matches(o, &labels, &fields))
        .map(|(k, _)| k.clone())
        .collect();
    let mut items = Vec::new();
    for key in keys {
        if let Some(o) = state.objects.get(&key).cloned() {
            items.push(without_type(o));
        }
        objects::delete(&mut state, &key, Propagation::Background, None, dry_run)?;
    }
    let t = &TYPES[target.type_index];
    Ok((
        200,
        json!({"kind": format!("{}List", t.kind), "apiVersion": t.api_version(), "metadata": {"resourceVersion": state.rv.to_string()}, "items": items}),
    ))
}
