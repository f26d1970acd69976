//! The allowlisted methods on text, lists and maps (`toLowerCase()`, `size()`, …); anything
//! else is refused.

use serde_json::{Value, json};

use super::operators::equal;
use super::{to_text, type_name};

/// The allowlisted methods on text, lists and maps.
pub(super) fn method(target: &Value, name: &str, args: &[Value]) -> Result<Value, String> {
    let text_arg = |i: usize| {
        args.get(i)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{name}() needs a text argument"))
    };
    let int_arg = |i: usize| {
        args.get(i)
            .and_then(Value::as_u64)
            .map(|n| n as usize)
            .ok_or_else(|| format!("{name}() needs a whole number"))
    };
    match (target, name) {
        (_, "toString") => Ok(Value::String(to_text(target))),
        (Value::String(s), "toLowerCase") => Ok(Value::String(s.to_lowercase())),
        (Value::String(s), "toUpperCase") => Ok(Value::String(s.to_uppercase())),
        (Value::String(s), "trim") => Ok(Value::String(s.trim().to_owned())),
        (Value::String(s), "length") => Ok(json!(s.chars().count())),
        (Value::String(s), "isEmpty") => Ok(json!(s.is_empty())),
        (Value::String(s), "contains") => Ok(json!(s.contains(text_arg(0)?))),
        (Value::String(s), "startsWith") => Ok(json!(s.starts_with(text_arg(0)?))),
        (Value::String(s), "endsWith") => Ok(json!(s.ends_with(text_arg(0)?))),
        (Value::String(s), "split") => {
            // Java's split takes a regex; the literal separator covers what pipelines use.
            Ok(Value::Array(
                s.split(text_arg(0)?)
                    .map(|p| Value::String(p.to_owned()))
                    .collect(),
            ))
        }
        (Value::String(s), "replace") => Ok(Value::String(s.replace(text_arg(0)?, text_arg(1)?))),
        (Value::String(s), "substring") => {
            let chars: Vec<char> = s.chars().collect();
            let start = int_arg(0)?;
            let end = if args.len() > 1 {
                int_arg(1)?
            } else {
                chars.len()
            };
            if start > end || end > chars.len() {
                return Err(format!(
                    "substring({start}, {end}) is out of bounds for length {}",
                    chars.len()
                ));
            }
            Ok(Value::String(chars[start..end].iter().collect()))
        }
        (Value::Array(items), "size") => Ok(json!(items.len())),
        (Value::Array(items), "isEmpty") => Ok(json!(items.is_empty())),
        (Value::Array(items), "contains") => Ok(json!(
            args.first()
                .is_some_and(|a| items.iter().any(|i| equal(i, a)))
        )),
        (Value::Object(map), "size") => Ok(json!(map.len())),
        (Value::Object(map), "isEmpty") => Ok(json!(map.is_empty())),
        (Value::Object(map), "containsKey") => Ok(json!(map.contains_key(text_arg(0)?))),
        (Value::Object(map), "get") => Ok(map.get(text_arg(0)?).cloned().unwrap_or(Value::Null)),
        (other, _) => Err(format!(
            "method '{name}' is not allowed on a {}",
            type_name(other)
        )),
    }
}
