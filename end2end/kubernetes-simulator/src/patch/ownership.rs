//! Field ownership per manager for server-side apply, as `metadata.managedFields` records it
//! (FieldsV1), with conflict detection and the removal of fields a manager stops applying.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::fields::{
    FieldPath, FieldSet, Step, apply_merge, fields_of, remove_at, render_path, scalar_text,
    value_at,
};

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
