//! JSON merge patch (RFC 7386) and strategic merge patch (lists merged by key, `$patch`,
//! `$retainKeys`, `$deleteFromPrimitiveList`, `$setElementOrder`).

use serde_json::{Map, Value};

use super::merge_key;

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
