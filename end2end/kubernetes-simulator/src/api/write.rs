//! create, replace (PUT) and patch (the four flavours, with preconditions), for the main resource
//! and its `/status` and `/scale` subresources.

use std::collections::HashMap;

use axum::body::Bytes;
use serde_json::json;

use crate::Cluster;
use crate::objects::{self, Writer};
use crate::patch;
use crate::resources::TYPES;
use crate::store::{ApiError, name_of, with_type};

use super::scale::{scale_of, write_scale};
use super::{Answer, Target, check_type, key_of, parse_body, part};

pub(super) fn create(cluster: &Cluster, target: &Target, body: &Bytes, writer: &Writer) -> Answer {
    let object = parse_body(body)?;
    check_type(target, &object)?;
    let mut state = cluster.state.lock().expect("the store lock");
    let created = objects::create(
        &mut state,
        target.type_index,
        target.namespace.as_deref().unwrap_or_default(),
        object,
        writer,
    )?;
    Ok((201, created))
}

pub(super) fn replace(
    cluster: &Cluster,
    target: &Target,
    body: &Bytes,
    writer: &Writer,
    sub: Option<&str>,
) -> Answer {
    let new = parse_body(body)?;
    let key = key_of(target);
    let mut state = cluster.state.lock().expect("the store lock");
    let t = &TYPES[target.type_index];
    if sub == Some("scale") {
        let old = state
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(t, &key.2))?;
        return write_scale(&mut state, target, &key, &old, new, writer);
    }
    check_type(target, &new)?;
    match state.objects.get(&key).cloned() {
        Some(old) => Ok((
            200,
            objects::update(&mut state, &key, &old, new, part(sub), writer, true)?,
        )),
        None if sub.is_none() => {
            // PUT to a missing object creates it.
            if name_of(&new) != key.2 {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({}) does not match the name on the URL ({})",
                    name_of(&new),
                    key.2
                )));
            }
            Ok((
                201,
                objects::create(&mut state, target.type_index, &key.1, new, writer)?,
            ))
        }
        None => Err(ApiError::not_found(t, &key.2)),
    }
}

pub(super) fn patch_object(
    cluster: &Cluster,
    target: &Target,
    body: &Bytes,
    writer: &Writer,
    content_type: &str,
    query: &HashMap<String, String>,
    sub: Option<&str>,
) -> Answer {
    let t = &TYPES[target.type_index];
    let key = key_of(target);
    let force = query.get("force").is_some_and(|v| v == "true");
    if content_type == "application/apply-patch+yaml" {
        if !query.contains_key("fieldManager") {
            return Err(ApiError::new(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch")
                .with_details(json!({"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [{"reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"}]})));
        }
        if sub == Some("scale") {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                "apply is not supported on the scale subresource by this simulator",
            ));
        }
        let applied = parse_body(body)?;
        let mut state = cluster.state.lock().expect("the store lock");
        let (object, created) = objects::apply(
            &mut state,
            target.type_index,
            &key.1,
            &key.2,
            applied,
            part(sub),
            writer,
            force,
        )?;
        return Ok((if created { 201 } else { 200 }, object));
    }
    if force {
        return Err(ApiError::new(
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch",
        ));
    }
    let patch_body = parse_body(body)?;
    let mut state = cluster.state.lock().expect("the store lock");
    let old = state
        .objects
        .get(&key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(t, &key.2))?;
    let base = if sub == Some("scale") {
        scale_of(&old)
    } else {
        with_type(target.type_index, old.clone())
    };
    let mut patched = base.clone();
    match content_type {
        "application/json-patch+json" => {
            patch::json_patch(&mut patched, &patch_body).map_err(ApiError::bad_request)?
        }
        "application/merge-patch+json" => patch::merge_patch(&mut patched, &patch_body),
        "application/strategic-merge-patch+json" => {
            patch::strategic_merge(&mut patched, &patch_body, "").map_err(ApiError::bad_request)?
        }
        other => {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other})"
                ),
            ));
        }
    }
    // A resourceVersion in the patch is a precondition; otherwise the patch applies to the
    // current object and cannot conflict.
    let precondition = patch_body["metadata"]["resourceVersion"]
        .as_str()
        .map(str::to_owned);
    patched["metadata"]["resourceVersion"] = json!(precondition.unwrap_or_else(|| {
        old["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }));
    if sub == Some("scale") {
        return write_scale(&mut state, target, &key, &old, patched, writer);
    }
    Ok((
        200,
        objects::update(&mut state, &key, &old, patched, part(sub), writer, true)?,
    ))
}
