//! Create and update: `generateName`, generation, initial status, concurrency, which part a write
//! keeps, ownership records, no-op detection and finalizers (reference §2, §4).

use serde_json::{Value, json};

use crate::patch::Ownership;
use crate::resources::TYPES;
use crate::store::{ApiError, Key, State, name_of, now_rfc3339, with_type};

use super::{Part, Writer, apply_defaults, validate};

fn random_suffix(n: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..n)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect()
}

fn has_generation(type_index: usize) -> bool {
    let t = &TYPES[type_index];
    matches!(t.group, "apps" | "networking.k8s.io" | "autoscaling")
}

/// Creates an object (POST, or an apply that finds nothing).
pub fn create(
    state: &mut State,
    type_index: usize,
    namespace: &str,
    mut object: Value,
    writer: &Writer,
) -> Result<Value, ApiError> {
    let t = &TYPES[type_index];
    if !object.is_object() {
        return Err(ApiError::bad_request("the request body must be an object"));
    }
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    if let Some(body_ns) = object["metadata"]["namespace"].as_str()
        && t.namespaced
        && body_ns != namespace
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    if name_of(&object).is_empty() {
        match object["metadata"]["generateName"].as_str() {
            Some(prefix) => {
                object["metadata"]["name"] = json!(format!("{prefix}{}", random_suffix(5)))
            }
            None => {
                return Err(ApiError::invalid(
                    t,
                    "",
                    vec![(
                        "metadata.name".into(),
                        "Required value: name or generateName is required".into(),
                    )],
                ));
            }
        }
    }
    let name = name_of(&object).to_owned();
    if t.namespaced && !state.namespace_exists(namespace) {
        return Err(ApiError::not_found(&TYPES[0], namespace));
    }
    let key: Key = (
        type_index,
        if t.namespaced {
            namespace.to_owned()
        } else {
            String::new()
        },
        name.clone(),
    );
    if state.objects.contains_key(&key) {
        return Err(ApiError::already_exists(t, &name));
    }
    apply_defaults(type_index, &mut object, state);
    validate(type_index, &object, None)?;
    let m = object["metadata"].as_object_mut().expect("an object");
    if t.namespaced {
        m.insert("namespace".into(), json!(namespace));
    }
    m.remove("resourceVersion");
    m.remove("deletionTimestamp");
    let uid = state.new_uid();
    object["metadata"]["uid"] = json!(uid);
    object["metadata"]["creationTimestamp"] = json!(now_rfc3339());
    if has_generation(type_index) {
        object["metadata"]["generation"] = json!(1);
    }
    if t.has_status() {
        if let Some(m) = object.as_object_mut() {
            m.remove("status");
        }
        initial_status(type_index, &mut object);
    }
    if writer.dry_run {
        return Ok(with_type(type_index, object));
    }
    if object["metadata"].get("managedFields").is_none() {
        let mut owners = Ownership::default();
        owners.record_update(
            &writer.manager,
            &t.api_version(),
            &now_rfc3339(),
            &json!({}),
            &object,
        );
        owners.write(&mut object);
    }
    Ok(with_type(type_index, state.insert(key, object)))
}

fn initial_status(type_index: usize, object: &mut Value) {
    let t = &TYPES[type_index];
    match (t.group, t.plural) {
        ("", "pods") => object["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"}),
        ("", "namespaces") => object["status"] = json!({"phase": "Active"}),
        ("", "services") => object["status"] = json!({"loadBalancer": {}}),
        _ => {}
    }
}

/// The rules for writing `new` over the stored `old` (PUT and PATCH end here): concurrency,
/// which part is kept, generation, validation, ownership, no-op detection, finalizers.
pub fn update(
    state: &mut State,
    key: &Key,
    old: &Value,
    mut new: Value,
    part: Part,
    writer: &Writer,
    record_ownership: bool,
) -> Result<Value, ApiError> {
    let type_index = key.0;
    let t = &TYPES[type_index];
    if !new.is_object() || !new["metadata"].is_object() {
        return Err(ApiError::bad_request(
            "the request body must be an object with metadata",
        ));
    }
    let name = name_of(old).to_owned();
    if name_of(&new) != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            name_of(&new)
        )));
    }
    if let Some(rv) = new["metadata"]["resourceVersion"].as_str()
        && !rv.is_empty()
        && Some(rv) != old["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::conflict(t, &name));
    }
    // Server-set identity is kept whatever the body says.
    for field in ["uid", "creationTimestamp", "namespace", "deletionTimestamp"] {
        match old["metadata"].get(field) {
            Some(v) => new["metadata"][field] = v.clone(),
            None => {
                if let Some(m) = new["metadata"].as_object_mut() {
                    m.remove(field);
                }
            }
        }
    }
    match part {
        Part::Main if t.has_status() => match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove("status");
                }
            }
        },
        Part::Status => {
            let status = new.get("status").cloned();
            let annotations = new["metadata"].get("annotations").cloned();
            new = old.clone();
            match status {
                Some(s) => new["status"] = s,
                None => {
                    new.as_object_mut().expect("an object").remove("status");
                }
            }
            // Status writes may carry annotations (the Deployment controller writes the revision
            // this way) but never spec or labels.
            if let Some(a) = annotations {
                new["metadata"]["annotations"] = a;
            }
        }
        Part::Main => {}
    }
    apply_defaults(type_index, &mut new, state);
    validate(type_index, &new, Some(old))?;
    if has_generation(type_index) {
        let g = old["metadata"]["generation"].as_i64().unwrap_or(1);
        let changed = part == Part::Main
            && (old.get("spec") != new.get("spec")
                || old["metadata"].get("annotations") != new["metadata"].get("annotations"));
        new["metadata"]["generation"] = json!(if changed { g + 1 } else { g });
    }
    if record_ownership {
        let mut owners = Ownership::read(old);
        owners.record_update(&writer.manager, &t.api_version(), &now_rfc3339(), old, &new);
        owners.write(&mut new);
    } else if new["metadata"].get("managedFields").is_none()
        && let Some(mf) = old["metadata"].get("managedFields")
    {
        new["metadata"]["managedFields"] = mf.clone();
    }
    if writer.dry_run {
        let mut preview = new;
        preview["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        return Ok(with_type(type_index, preview));
    }
    // The last finalizer removed from an object being deleted completes the deletion.
    if new["metadata"].get("deletionTimestamp").is_some()
        && new["metadata"]["finalizers"]
            .as_array()
            .is_none_or(Vec::is_empty)
    {
        let removed = state.remove(key).unwrap_or(new);
        return Ok(with_type(type_index, removed));
    }
    Ok(with_type(type_index, state.replace(key, new)))
}
