//! The `/scale` subresource: the autoscaling/v1 Scale view of an object, read and written.

use serde_json::{Value, json};

use crate::Cluster;
use crate::objects::{self, Part, Writer};
use crate::resources::TYPES;
use crate::store::{ApiError, Key, State};

use super::read::get;
use super::{Answer, Target};

pub(super) fn scale_of(object: &Value) -> Value {
    let selector = &object["spec"]["selector"];
    let selector_text: Vec<String> = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    let mut status = json!({"selector": selector_text.join(",")});
    if let Some(r) = object["status"]["replicas"].as_i64().filter(|r| *r > 0) {
        status["replicas"] = json!(r);
    } else {
        status["replicas"] = json!(0);
    }
    json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": object["metadata"]["name"], "namespace": object["metadata"]["namespace"], "uid": object["metadata"]["uid"],
            "resourceVersion": object["metadata"]["resourceVersion"], "creationTimestamp": object["metadata"]["creationTimestamp"]},
        "spec": {"replicas": object["spec"]["replicas"].as_i64().unwrap_or(1)}, "status": status})
}

pub(super) fn get_scale(cluster: &Cluster, target: &Target) -> Answer {
    let (_, object) = get(cluster, target)?;
    Ok((200, scale_of(&object)))
}

pub(super) fn write_scale(
    state: &mut State,
    target: &Target,
    key: &Key,
    old: &Value,
    scale: Value,
    writer: &Writer,
) -> Answer {
    let replicas = scale["spec"]["replicas"].as_i64().ok_or_else(|| {
        ApiError::invalid(
            &TYPES[target.type_index],
            &key.2,
            vec![("spec.replicas".into(), "Required value".into())],
        )
    })?;
    if replicas < 0 {
        return Err(ApiError::invalid(
            &TYPES[target.type_index],
            &key.2,
            vec![(
                "spec.replicas".into(),
                format!("Invalid value: {replicas}: must be greater than or equal to 0"),
            )],
        ));
    }
    if let Some(rv) = scale["metadata"]["resourceVersion"].as_str()
        && !rv.is_empty()
        && Some(rv) != old["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::conflict(&TYPES[target.type_index], &key.2));
    }
    let mut new = old.clone();
    new["spec"]["replicas"] = json!(replicas);
    let updated = objects::update(state, key, old, new, Part::Main, writer, true)?;
    Ok((200, scale_of(&updated)))
}
