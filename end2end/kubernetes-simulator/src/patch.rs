//! The four PATCH flavours (reference §7): JSON patch, JSON merge patch, strategic merge patch and
//! server-side apply with per-manager field ownership.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// The key that identifies items of a list in strategic merge patch and server-side apply, for
/// the lists of the built-in kinds the simulator serves. `parent` is the name of the field whose
/// value holds the list (it tells container ports from service ports).
pub fn merge_key(parent: &str, field: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => Some("name"),
        "volumeMounts" | "volumeDevices" => Some("mountPath"),
        "conditions" => Some("type"),
        "ownerReferences" => Some("uid"),
        "hostAliases" => Some("ip"),
        "ports"
            if matches!(
                parent,
                "containers" | "initContainers" | "ephemeralContainers"
            ) =>
        {
            Some("containerPort")
        }
        "ports" => Some("port"),
        _ => None,
    }
}

// ---------------------------------------------------------------- JSON patch (RFC 6902)

fn pointer_tokens(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let rest = pointer
        .strip_prefix('/')
        .ok_or_else(|| format!("invalid JSON pointer {pointer:?}"))?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn parent_and_last<'a>(
    doc: &'a mut Value,
    tokens: &[String],
) -> Result<(&'a mut Value, String), String> {
    let (last, parents) = tokens
        .split_last()
        .ok_or("the root cannot be the target of this operation")?;
    let mut node = doc;
    for t in parents {
        node = match node {
            Value::Object(m) => m
                .get_mut(t)
                .ok_or_else(|| format!("path element {t:?} not found"))?,
            Value::Array(a) => {
                let i: usize = t
                    .parse()
                    .map_err(|_| format!("invalid array index {t:?}"))?;
                a.get_mut(i)
                    .ok_or_else(|| format!("array index {i} out of bounds"))?
            }
            _ => return Err(format!("path element {t:?} is not a container")),
        };
    }
    Ok((node, last.clone()))
}

fn pointer_get(doc: &Value, tokens: &[String]) -> Option<Value> {
    let mut node = doc;
    for t in tokens {
        node = match node {
            Value::Object(m) => m.get(t)?,
            Value::Array(a) => a.get(t.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node.clone())
}

fn pointer_add(doc: &mut Value, tokens: &[String], value: Value) -> Result<(), String> {
    if tokens.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, last) = parent_and_last(doc, tokens)?;
    match parent {
        Value::Object(m) => {
            m.insert(last, value);
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
            } else {
                let i: usize = last
                    .parse()
                    .map_err(|_| format!("invalid array index {last:?}"))?;
                if i > a.len() {
                    return Err(format!("array index {i} out of bounds"));
                }
                a.insert(i, value);
            }
        }
        _ => return Err("the parent of the target is not a container".into()),
    }
    Ok(())
}

fn pointer_remove(doc: &mut Value, tokens: &[String]) -> Result<Value, String> {
    let (parent, last) = parent_and_last(doc, tokens)?;
    match parent {
        Value::Object(m) => m
            .remove(&last)
            .ok_or_else(|| format!("unable to remove nonexistent key: {last}")),
        Value::Array(a) => {
            let i: usize = last
                .parse()
                .map_err(|_| format!("invalid array index {last:?}"))?;
            (i < a.len())
                .then(|| a.remove(i))
                .ok_or_else(|| format!("array index {i} out of bounds"))
        }
        _ => Err("the parent of the target is not a container".into()),
    }
}

pub fn json_patch(doc: &mut Value, patch: &Value) -> Result<(), String> {
    let ops = patch
        .as_array()
        .ok_or("a JSON patch must be a list of operations")?;
    for op in ops {
        let path = pointer_tokens(op["path"].as_str().ok_or("operation has no path")?)?;
        match op["op"].as_str() {
            Some("add") => pointer_add(
                doc,
                &path,
                op.get("value").cloned().ok_or("add has no value")?,
            )?,
            Some("remove") => {
                pointer_remove(doc, &path)?;
            }
            Some("replace") => {
                pointer_remove(doc, &path)?;
                pointer_add(
                    doc,
                    &path,
                    op.get("value").cloned().ok_or("replace has no value")?,
                )?;
            }
            Some("move") => {
                let from = pointer_tokens(op["from"].as_str().ok_or("move has no from")?)?;
                let value = pointer_remove(doc, &from)?;
                pointer_add(doc, &path, value)?;
            }
            Some("copy") => {
                let from = pointer_tokens(op["from"].as_str().ok_or("copy has no from")?)?;
                let value = pointer_get(doc, &from).ok_or("copy source not found")?;
                pointer_add(doc, &path, value)?;
            }
            Some("test") => {
                if pointer_get(doc, &path).as_ref() != op.get("value") {
                    return Err(format!("testing value {} failed", op["path"]));
                }
            }
            other => {
                return Err(format!(
                    "unexpected kind of JSON patch operation: {other:?}"
                ));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- merge patch (RFC 7386)

pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let target = target.as_object_mut().expect("an object");
    for (k, v) in patch {
        if v.is_null() {
            target.remove(k);
        } else {
            merge_patch(target.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

// ---------------------------------------------------------------- strategic merge patch

pub fn strategic_merge(target: &mut Value, patch: &Value, parent: &str) -> Result<(), String> {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut replacement = patch.clone();
            replacement.remove("$patch");
            *target = Value::Object(replacement);
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Null;
            return Ok(());
        }
        Some("merge") | None => {}
        Some(other) => return Err(format!("unknown patch type: {other}")),
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let map = target.as_object_mut().expect("an object");
    for (k, v) in patch {
        if k == "$patch" || k == "$retainKeys" || k.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            let drop: Vec<Value> = v.as_array().cloned().unwrap_or_default();
            if let Some(Value::Array(list)) = map.get_mut(field) {
                list.retain(|x| !drop.contains(x));
            }
            continue;
        }
        if v.is_null() {
            map.remove(k);
            continue;
        }
        match (v, merge_key(parent, k)) {
            (Value::Array(items), Some(key)) => {
                let slot = map
                    .entry(k.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if !slot.is_array() {
                    *slot = Value::Array(Vec::new());
                }
                let list = slot.as_array_mut().expect("an array");
                if items.len() == 1
                    && items[0].get("$patch").and_then(Value::as_str) == Some("replace")
                {
                    list.clear();
                    continue;
                }
                for item in items {
                    let id = item.get(key).cloned();
                    let position = id
                        .as_ref()
                        .and_then(|id| list.iter().position(|x| x.get(key) == Some(id)));
                    if item.get("$patch").and_then(Value::as_str) == Some("delete") {
                        if let Some(i) = position {
                            list.remove(i);
                        }
                        continue;
                    }
                    match position {
                        Some(i) => strategic_merge(&mut list[i], item, k)?,
                        None => {
                            let mut fresh = Value::Null;
                            strategic_merge(&mut fresh, item, k)?;
                            list.push(fresh);
                        }
                    }
                }
            }
            (Value::Object(_), _) => {
                let slot = map.entry(k.clone()).or_insert(Value::Null);
                strategic_merge(slot, v, k)?;
                if slot.is_null() {
                    map.remove(k);
                }
            }
            _ => {
                map.insert(k.clone(), v.clone());
            }
        }
    }
    if let Some(keep) = patch.get("$retainKeys").and_then(Value::as_array) {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        map.retain(|k, _| keep.contains(&k.as_str()));
    }
    Ok(())
}

// ---------------------------------------------------------------- server-side apply

/// One step of a field path: a map field, or the item of a keyed list with this key value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Field(String),
    Item { key: String, value: String },
}

pub type FieldPath = Vec<Step>;
pub type FieldSet = BTreeSet<FieldPath>;

fn scalar_text(v: &Value) -> String {
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

/// Ownership of fields by manager, as `metadata.managedFields` records it.
#[derive(Clone, Debug, Default)]
pub struct Ownership {
    pub entries: Vec<ManagerEntry>,
}

#[derive(Clone, Debug)]
pub struct ManagerEntry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: String,
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

/// A field another manager owns with a different value.
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict {
    pub manager: String,
    pub field: String,
}

impl Ownership {
    pub fn read(object: &Value) -> Self {
        let entries = object["metadata"]["managedFields"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| ManagerEntry {
                manager: e["manager"].as_str().unwrap_or_default().to_owned(),
                operation: e["operation"].as_str().unwrap_or("Update").to_owned(),
                api_version: e["apiVersion"].as_str().unwrap_or_default().to_owned(),
                time: e["time"].as_str().unwrap_or_default().to_owned(),
                subresource: e["subresource"].as_str().map(str::to_owned),
                fields: parse_fields_v1(&e["fieldsV1"]),
            })
            .collect();
        Self { entries }
    }

    pub fn write(&self, object: &mut Value) {
        let list: Vec<Value> = self
            .entries
            .iter()
            .filter(|e| !e.fields.is_empty())
            .map(|e| {
                let mut entry = serde_json::json!({
                    "manager": e.manager, "operation": e.operation, "apiVersion": e.api_version,
                    "time": e.time, "fieldsType": "FieldsV1", "fieldsV1": render_fields_v1(&e.fields)
                });
                if let Some(s) = &e.subresource {
                    entry["subresource"] = Value::String(s.clone());
                }
                entry
            })
            .collect();
        if let Some(m) = object["metadata"].as_object_mut() {
            if list.is_empty() {
                m.remove("managedFields");
            } else {
                m.insert("managedFields".into(), Value::Array(list));
            }
        }
    }

    fn entry_mut(
        &mut self,
        manager: &str,
        operation: &str,
        api_version: &str,
        time: &str,
    ) -> &mut ManagerEntry {
        let position = self
            .entries
            .iter()
            .position(|e| e.manager == manager && e.operation == operation);
        let i = match position {
            Some(i) => i,
            None => {
                self.entries.push(ManagerEntry {
                    manager: manager.to_owned(),
                    operation: operation.to_owned(),
                    api_version: api_version.to_owned(),
                    time: time.to_owned(),
                    subresource: None,
                    fields: FieldSet::new(),
                });
                self.entries.len() - 1
            }
        };
        let e = &mut self.entries[i];
        e.time = time.to_owned();
        e.api_version = api_version.to_owned();
        e
    }

    /// Records a non-apply write: the fields it changed now belong to `manager` alone.
    pub fn record_update(
        &mut self,
        manager: &str,
        api_version: &str,
        time: &str,
        before: &Value,
        after: &Value,
    ) {
        let new = fields_of(after);
        let changed: FieldSet = new
            .iter()
            .filter(|p| value_at(before, p) != value_at(after, p))
            .cloned()
            .collect();
        for e in &mut self.entries {
            e.fields.retain(|p| new.contains(p) && !changed.contains(p));
        }
        if !changed.is_empty() {
            self.entry_mut(manager, "Update", api_version, time)
                .fields
                .extend(changed);
        }
        self.entries.retain(|e| !e.fields.is_empty());
    }

    /// Server-side apply of `applied` by `manager` onto `live` (which already holds the current
    /// object, or an empty shell when creating). Returns the conflicts when not forced.
    pub fn apply(
        &mut self,
        live: &mut Value,
        applied: &Value,
        manager: &str,
        api_version: &str,
        time: &str,
        force: bool,
    ) -> Result<(), Vec<Conflict>> {
        let new_fields = fields_of(applied);
        let mut conflicts = Vec::new();
        for e in self.entries.iter().filter(|e| e.manager != manager) {
            for p in e.fields.intersection(&new_fields) {
                if matches!(p.last(), Some(Step::Item { .. })) {
                    continue;
                }
                if value_at(live, p).is_some() && value_at(live, p) != value_at(applied, p) {
                    conflicts.push(Conflict {
                        manager: e.manager.clone(),
                        field: render_path(p),
                    });
                }
            }
        }
        if !conflicts.is_empty() && !force {
            return Err(conflicts);
        }
        if force {
            let taken: BTreeSet<String> = conflicts.iter().map(|c| c.field.clone()).collect();
            for e in self.entries.iter_mut().filter(|e| e.manager != manager) {
                e.fields.retain(|p| !taken.contains(&render_path(p)));
            }
        }
        let previous = self
            .entries
            .iter()
            .find(|e| e.manager == manager && e.operation == "Apply")
            .map(|e| e.fields.clone())
            .unwrap_or_default();
        apply_merge(live, applied, "");
        let others: FieldSet = self
            .entries
            .iter()
            .filter(|e| !(e.manager == manager && e.operation == "Apply"))
            .flat_map(|e| e.fields.clone())
            .collect();
        // Fields this manager applied before and no longer applies go, unless someone else owns them.
        let mut dropped: Vec<&FieldPath> = previous
            .iter()
            .filter(|p| !new_fields.contains(*p) && !others.contains(*p))
            .collect();
        dropped.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in dropped {
            remove_at(live, p);
        }
        self.entry_mut(manager, "Apply", api_version, time).fields = new_fields;
        self.entries.retain(|e| !e.fields.is_empty());
        Ok(())
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

fn item_key(key: &str, value: &str) -> String {
    let v = value
        .parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::String(value.to_owned()));
    let mut m = Map::new();
    m.insert(key.to_owned(), v);
    format!("k:{}", Value::Object(m))
}

fn render_fields_v1(fields: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in fields {
        let mut node = &mut root;
        for step in path {
            let name = match step {
                Step::Field(f) => format!("f:{f}"),
                Step::Item { key, value } => item_key(key, value),
            };
            node = node
                .entry(name)
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("an object");
        }
        if matches!(path.last(), Some(Step::Item { .. })) {
            node.insert(".".into(), Value::Object(Map::new()));
        }
    }
    Value::Object(root)
}

fn parse_fields_v1(value: &Value) -> FieldSet {
    fn walk(node: &Map<String, Value>, path: &mut FieldPath, out: &mut FieldSet) {
        if node.is_empty() && !path.is_empty() {
            out.insert(path.clone());
            return;
        }
        for (name, child) in node {
            if name == "." {
                out.insert(path.clone());
                continue;
            }
            let step = if let Some(f) = name.strip_prefix("f:") {
                Step::Field(f.to_owned())
            } else if let Some(k) = name.strip_prefix("k:") {
                let parsed: BTreeMap<String, Value> = serde_json::from_str(k).unwrap_or_default();
                let Some((key, v)) = parsed.into_iter().next() else {
                    continue;
                };
                Step::Item {
                    key,
                    value: scalar_text(&v),
                }
            } else {
                continue;
            };
            path.push(step);
            walk(child.as_object().unwrap_or(&Map::new()), path, out);
            path.pop();
        }
    }
    let mut out = FieldSet::new();
    if let Some(m) = value.as_object() {
        walk(m, &mut Vec::new(), &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(image: &str, replicas: i64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}}})
    }

    #[test]
    fn json_patch_operations() {
        let mut doc = json!({"a": {"b": [1, 2]}, "c": "x"});
        json_patch(
            &mut doc,
            &json!([
                {"op": "add", "path": "/a/b/-", "value": 3},
                {"op": "replace", "path": "/c", "value": "y"},
                {"op": "copy", "from": "/c", "path": "/d"},
                {"op": "move", "from": "/d", "path": "/e~1f"},
                {"op": "remove", "path": "/a/b/0"},
                {"op": "test", "path": "/c", "value": "y"}
            ]),
        )
        .unwrap();
        assert_eq!(doc, json!({"a": {"b": [2, 3]}, "c": "y", "e/f": "y"}));
        assert!(
            json_patch(
                &mut doc,
                &json!([{"op": "test", "path": "/c", "value": "z"}])
            )
            .is_err()
        );
        assert!(json_patch(&mut doc, &json!([{"op": "remove", "path": "/missing"}])).is_err());
    }

    #[test]
    fn merge_patch_replaces_lists_and_deletes_nulls() {
        let mut doc = json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        merge_patch(&mut doc, &json!({"a": {"b": null, "d": 3}, "l": [9]}));
        assert_eq!(doc, json!({"a": {"c": 2, "d": 3}, "l": [9]}));
    }

    #[test]
    fn strategic_merge_merges_containers_by_name_and_retains_keys() {
        let mut doc = json!({"spec": {
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
            "template": {"spec": {"containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]}}}});
        strategic_merge(
            &mut doc,
            &json!({"spec": {
                "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
                "template": {"spec": {
                    "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                    "containers": [{"name": "b", "image": "b:2"}, {"name": "a", "$patch": "delete"}]}}}}),
            "",
        )
        .unwrap();
        assert_eq!(doc["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(
            doc["spec"]["template"]["spec"]["containers"],
            json!([{"name": "b", "image": "b:2"}])
        );
    }

    #[test]
    fn fields_v1_round_trips() {
        let fields = fields_of(&deployment("nginx:1", 3));
        let rendered = render_fields_v1(&fields);
        assert_eq!(
            rendered["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]["."],
            json!({})
        );
        assert_eq!(parse_fields_v1(&rendered), fields);
    }

    #[test]
    fn apply_conflicts_with_another_manager_unless_forced() {
        let mut live = json!({"metadata": {"name": "web"}});
        let mut owners = Ownership::default();
        owners
            .apply(
                &mut live,
                &deployment("nginx:1", 3),
                "topsail",
                "apps/v1",
                "t",
                false,
            )
            .unwrap();
        // Same value from another manager: shared, no conflict.
        owners
            .apply(
                &mut live,
                &deployment("nginx:1", 3),
                "other",
                "apps/v1",
                "t",
                false,
            )
            .unwrap();
        let conflicts = owners
            .apply(
                &mut live,
                &deployment("nginx:1", 5),
                "hpa",
                "apps/v1",
                "t",
                false,
            )
            .unwrap_err();
        assert_eq!(
            conflicts
                .iter()
                .map(|c| c.field.as_str())
                .collect::<Vec<_>>(),
            [".spec.replicas", ".spec.replicas"]
        );
        owners
            .apply(
                &mut live,
                &deployment("nginx:1", 5),
                "hpa",
                "apps/v1",
                "t",
                true,
            )
            .unwrap();
        assert_eq!(live["spec"]["replicas"], 5);
        let topsail = owners
            .entries
            .iter()
            .find(|e| e.manager == "topsail")
            .unwrap();
        assert!(
            !topsail
                .fields
                .iter()
                .any(|p| render_path(p) == ".spec.replicas")
        );
    }

    #[test]
    fn fields_dropped_from_a_later_apply_are_removed() {
        let mut live = json!({"metadata": {"name": "web"}});
        let mut owners = Ownership::default();
        let mut first = deployment("nginx:1", 3);
        first["metadata"]["labels"]["tier"] = json!("front");
        first["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "sidecar", "image": "s:1"}));
        owners
            .apply(&mut live, &first, "topsail", "apps/v1", "t", false)
            .unwrap();
        owners
            .apply(
                &mut live,
                &deployment("nginx:2", 3),
                "topsail",
                "apps/v1",
                "t",
                false,
            )
            .unwrap();
        assert_eq!(live["metadata"]["labels"], json!({"app": "web"}));
        assert_eq!(
            live["spec"]["template"]["spec"]["containers"],
            json!([{"name": "web", "image": "nginx:2"}])
        );
    }

    #[test]
    fn updates_take_ownership_of_what_they_change() {
        let mut live = json!({"metadata": {"name": "web"}});
        let mut owners = Ownership::default();
        owners
            .apply(
                &mut live,
                &deployment("nginx:1", 3),
                "topsail",
                "apps/v1",
                "t",
                false,
            )
            .unwrap();
        let before = live.clone();
        live["spec"]["replicas"] = json!(7);
        owners.record_update("kubectl-scale", "apps/v1", "t", &before, &live);
        let conflicts = owners
            .apply(
                &mut live,
                &deployment("nginx:1", 3),
                "topsail",
                "apps/v1",
                "t",
                false,
            )
            .unwrap_err();
        assert_eq!(
            conflicts,
            [Conflict {
                manager: "kubectl-scale".into(),
                field: ".spec.replicas".into()
            }]
        );
    }
}
