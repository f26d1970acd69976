//! Field paths for server-side apply: the fields an object sets, reading and removing the value at
//! a path, merging an applied configuration, and how a conflict names its field.

use std::collections::BTreeSet;

use serde_json::Value;

use super::merge_key;

/// One step of a field path: a map field, or the item of a keyed list with this key value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Field(String),
    Item { key: String, value: String },
}

pub type FieldPath = Vec<Step>;
pub type FieldSet = BTreeSet<FieldPath>;

pub(super) fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The fields an object sets: leaves, atomic lists, empty maps and keyed list items. Identity and
/// server-owned fields (apiVersion, kind, name, namespace, resourceVersion, status...) are left out.
pub fn fields_of(object: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    if let Some(map) = object.as_object() {
        for (k, v) in map {
            match k.as_str() {
                "apiVersion" | "kind" | "status" => {}
                "metadata" => {
                    for (mk, mv) in v.as_object().into_iter().flatten() {
                        if matches!(
                            mk.as_str(),
                            "labels" | "annotations" | "finalizers" | "ownerReferences"
                        ) {
                            collect(
                                mv,
                                "metadata",
                                mk,
                                &mut vec![Step::Field("metadata".into()), Step::Field(mk.clone())],
                                &mut out,
                            );
                        }
                    }
                }
                _ => collect(v, "", k, &mut vec![Step::Field(k.clone())], &mut out),
            }
        }
    }
    out
}

fn collect(value: &Value, parent: &str, field: &str, path: &mut FieldPath, out: &mut FieldSet) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                path.push(Step::Field(k.clone()));
                collect(v, field, k, path, out);
                path.pop();
            }
        }
        Value::Array(items) if merge_key(parent, field).is_some() => {
            let key = merge_key(parent, field).expect("checked");
            for item in items {
                let Some(id) = item.get(key) else { continue };
                path.push(Step::Item {
                    key: key.to_owned(),
                    value: scalar_text(id),
                });
                out.insert(path.clone());
                for (k, v) in item.as_object().into_iter().flatten() {
                    if k != key {
                        path.push(Step::Field(k.clone()));
                        collect(v, field, k, path, out);
                        path.pop();
                    }
                }
                path.pop();
            }
        }
        _ => {
            out.insert(path.clone());
        }
    }
}

/// The value at a field path, if present.
pub fn value_at<'a>(object: &'a Value, path: &FieldPath) -> Option<&'a Value> {
    let mut node = object;
    for step in path {
        node = match step {
            Step::Field(f) => node.get(f)?,
            Step::Item { key, value } => node
                .as_array()?
                .iter()
                .find(|x| x.get(key).map(scalar_text).as_deref() == Some(value))?,
        };
    }
    Some(node)
}

/// Removes the field or list item at `path`; absent paths are fine.
pub fn remove_at(object: &mut Value, path: &FieldPath) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = object;
    for step in parents {
        let next = match step {
            Step::Field(f) => node.get_mut(f),
            Step::Item { key, value } => node.as_array_mut().and_then(|a| {
                a.iter_mut()
                    .find(|x| x.get(key).map(scalar_text).as_deref() == Some(value))
            }),
        };
        match next {
            Some(n) => node = n,
            None => return,
        }
    }
    match last {
        Step::Field(f) => {
            if let Some(m) = node.as_object_mut() {
                m.remove(f);
            }
        }
        Step::Item { key, value } => {
            if let Some(a) = node.as_array_mut() {
                a.retain(|x| x.get(key).map(scalar_text).as_deref() != Some(value.as_str()));
            }
        }
    }
}

/// Merges an applied configuration into the live object: maps recursively, keyed lists by key,
/// everything else replaced.
pub fn apply_merge(live: &mut Value, applied: &Value, parent: &str) {
    let (Value::Object(l), Value::Object(a)) = (&mut *live, applied) else {
        *live = applied.clone();
        return;
    };
    for (k, v) in a {
        match (l.get_mut(k), v, merge_key(parent, k)) {
            (Some(existing @ Value::Object(_)), Value::Object(_), _) => apply_merge(existing, v, k),
            (Some(Value::Array(existing)), Value::Array(items), Some(key)) => {
                for item in items {
                    match existing
                        .iter_mut()
                        .find(|x| x.get(key).is_some() && x.get(key) == item.get(key))
                    {
                        Some(x) => apply_merge(x, item, k),
                        None => existing.push(item.clone()),
                    }
                }
            }
            _ => {
                l.insert(k.clone(), v.clone());
            }
        }
    }
}

/// `.spec.template.spec.containers[name="web"].image`: how a conflict names its field.
pub fn render_path(path: &FieldPath) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Field(f) => {
                out.push('.');
                out.push_str(f);
            }
            Step::Item { key, value } => out.push_str(&format!("[{key}=\"{value}\"]")),
        }
    }
    out
}
