//! JSON patch (RFC 6902): all six operations over JSON pointers.

use serde_json::Value;

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
