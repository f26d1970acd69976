//! How deep JSON nests, and the limits on it. Reading a document back (serde_json) stops at
//! 128 levels, and what users send ends up nested inside larger documents (a stage's field
//! sits four levels down in its execution), so input is refused well below that:
//! [`MAX_INPUT_DEPTH`] for pipelines and triggers, and [`MAX_STORED_DEPTH`] as the last guard
//! before anything is written. Walks are iterative: no input can exhaust the stack here.

use serde_json::Value;

/// The deepest a pipeline document, a trigger or a payload a stage reads may nest.
pub const MAX_INPUT_DEPTH: usize = 64;

/// The deepest a stored document may nest (reading stops at 128).
pub const MAX_STORED_DEPTH: usize = 100;

/// How many levels `value` nests: a scalar is 0, `[]` and `{}` are 1, `[[1]]` is 2.
pub fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(value, 0usize)];
    while let Some((v, at)) = pending.pop() {
        match v {
            Value::Array(items) => {
                deepest = deepest.max(at + 1);
                pending.extend(items.iter().map(|i| (i, at + 1)));
            }
            Value::Object(map) => {
                deepest = deepest.max(at + 1);
                pending.extend(map.values().map(|i| (i, at + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// How many levels JSON text nests (brackets outside strings), without parsing it.
pub fn text_depth(text: &str) -> usize {
    let (mut level, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for b in text.bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                level += 1;
                deepest = deepest.max(level);
            }
            b']' | b'}' => level = level.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Replaces whatever nests below `max` levels with a text saying so; `true` when it did.
pub fn clip(value: &mut Value, max: usize) -> bool {
    let mut clipped = false;
    let mut pending = vec![(value, 0usize)];
    while let Some((v, at)) = pending.pop() {
        let nested = matches!(v, Value::Array(_) | Value::Object(_));
        if nested && at >= max {
            *v = Value::String(format!("[nested deeper than {max} levels]"));
            clipped = true;
            continue;
        }
        match v {
            Value::Array(items) => pending.extend(items.iter_mut().map(|i| (i, at + 1))),
            Value::Object(map) => pending.extend(map.values_mut().map(|i| (i, at + 1))),
            _ => {}
        }
    }
    clipped
}

/// The refusal for input nesting deeper than [`MAX_INPUT_DEPTH`], if it does.
pub fn check_input(value: &Value) -> Result<(), String> {
    let found = depth(value);
    if found > MAX_INPUT_DEPTH {
        return Err(format!(
            "nests {found} levels deep; at most {MAX_INPUT_DEPTH} are allowed"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(levels: usize) -> Value {
        let mut v = json!(1);
        for i in 0..levels {
            v = if i % 2 == 0 {
                json!([v])
            } else {
                json!({ "k": v })
            };
        }
        v
    }

    #[test]
    fn depth_counts_levels_of_values_and_of_text() {
        for levels in [0, 1, 2, 7, 64, 65, 300] {
            let v = nested(levels);
            assert_eq!(depth(&v), levels);
            assert_eq!(text_depth(&v.to_string()), levels);
        }
        assert_eq!(text_depth(r#"{"a": "[[[{{{", "b": ["x\"]]]"]}"#), 2);
        assert_eq!(depth(&json!({"a": [], "b": {"c": {}}})), 3);
    }

    #[test]
    fn deep_input_is_refused_and_stored_documents_are_clipped() {
        assert!(check_input(&nested(MAX_INPUT_DEPTH)).is_ok());
        assert_eq!(
            check_input(&nested(124)),
            Err("nests 124 levels deep; at most 64 are allowed".into())
        );
        let mut v = json!({"keep": {"me": 1}, "deep": nested(300)});
        assert!(clip(&mut v, 10));
        assert_eq!(depth(&v), 10);
        assert_eq!(v["keep"]["me"], 1);
        // A document deeper than serde_json reads (128) is readable once clipped.
        let text = v.to_string();
        assert!(serde_json::from_str::<Value>(&text).is_ok());
        let mut shallow = json!({"a": [1, 2]});
        assert!(!clip(&mut shallow, 10));
    }
}
