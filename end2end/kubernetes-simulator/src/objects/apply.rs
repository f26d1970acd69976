//! Server-side apply (reference §7) over the store: create-on-apply, merge, ownership, conflicts.

use serde_json::{Value, json};

use crate::patch::{self, Ownership};
use crate::resources::TYPES;
use crate::store::{ApiError, Key, State, name_of, now_rfc3339};

use super::{Part, Writer, create, update};

/// Server-side apply (reference §7): creates when absent, merges the applied configuration,
/// tracks ownership per manager, refuses conflicting changes unless forced.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    state: &mut State,
    type_index: usize,
    namespace: &str,
    name: &str,
    applied: Value,
    part: Part,
    writer: &Writer,
    force: bool,
) -> Result<(Value, bool), ApiError> {
    let t = &TYPES[type_index];
    if applied["apiVersion"].as_str() != Some(t.api_version().as_str()) {
        return Err(ApiError::bad_request(format!(
            "Incorrect version specified in apply patch. Specified patch version: {}, expected: {}",
            applied["apiVersion"].as_str().unwrap_or_default(),
            t.api_version()
        )));
    }
    if applied["metadata"].get("managedFields").is_some() {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    if applied["kind"].as_str() != Some(t.kind) {
        return Err(ApiError::bad_request(format!(
            "the kind of the applied object must be {}",
            t.kind
        )));
    }
    if !name_of(&applied).is_empty() && name_of(&applied) != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            name_of(&applied)
        )));
    }
    let key: Key = (
        type_index,
        if t.namespaced {
            namespace.to_owned()
        } else {
            String::new()
        },
        name.to_owned(),
    );
    let now = now_rfc3339();
    let existing = state.objects.get(&key).cloned();
    let (base, mut owners) = match &existing {
        Some(o) => (o.clone(), Ownership::read(o)),
        None => (
            json!({"apiVersion": t.api_version(), "kind": t.kind, "metadata": {"name": name}}),
            Ownership::default(),
        ),
    };
    let mut live = base.clone();
    let mut applied_body = applied.clone();
    if part == Part::Status {
        // Apply to /status owns status fields only.
        applied_body = json!({"apiVersion": applied["apiVersion"], "kind": applied["kind"], "metadata": {"name": name}, "status": applied["status"]});
    }
    owners.apply(&mut live, &applied_body, &writer.manager, &t.api_version(), &now, force).map_err(|conflicts| {
        let fields: Vec<String> = conflicts.iter().map(|c| c.field.clone()).collect();
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|c| json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{}\"", c.manager), "field": c.field}))
            .collect();
        let listed = conflicts.iter().map(|c| format!("conflict with \"{}\": {}", c.manager, c.field)).collect::<Vec<_>>().join("\n- ");
        ApiError::new(409, "Conflict", format!("Apply failed with {} conflict{}: {listed}", fields.len(), if fields.len() == 1 { "" } else { "s" }))
            .with_details(json!({"name": name, "group": t.group, "kind": t.plural, "causes": causes}))
    })?;
    if part == Part::Status {
        live["status"] = {
            let mut s = base.get("status").cloned().unwrap_or(json!({}));
            patch::apply_merge(&mut s, &applied["status"], "status");
            s
        };
    }
    owners.write(&mut live);
    match existing {
        Some(old) => {
            live["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
            Ok((update(state, &key, &old, live, part, writer, false)?, false))
        }
        None => {
            if part == Part::Status {
                return Err(ApiError::not_found(t, name));
            }
            Ok((create(state, type_index, namespace, live, writer)?, true))
        }
    }
}
