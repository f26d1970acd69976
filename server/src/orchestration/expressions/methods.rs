//! The allowlisted methods on text, lists and maps (`toLowerCase()`, `size()`, …); anything
//! else is refused. What a method builds is measured against the budget before it is built.

use serde_json::{Value, json};

use std::borrow::Cow;

use super::budget::Budget;
use super::operators::equal;
use super::type_name;

/// The allowlisted methods on text, lists and maps.
pub(super) fn method(
    target: &Value,
    name: &str,
    args: &[Cow<'_, Value>],
    budget: &mut Budget,
) -> Result<Value, String> {
    let text_arg = |i: usize| {
        args.get(i)
            .and_then(|a| a.as_str())
            .ok_or_else(|| format!("{name}() needs a text argument"))
    };
    let int_arg = |i: usize| {
        args.get(i)
            .and_then(|a| a.as_u64())
            .map(|n| n as usize)
            .ok_or_else(|| format!("{name}() needs a whole number"))
    };
    match (target, name) {
        (_, "toString") => Ok(Value::String(budget.text(target)?)),
        (Value::String(s), "toLowerCase" | "toUpperCase") => {
            // A character's other case takes at most three times its bytes.
            budget.build(s.len().saturating_mul(3))?;
            Ok(Value::String(if name == "toLowerCase" {
                s.to_lowercase()
            } else {
                s.to_uppercase()
            }))
        }
        (Value::String(s), "trim") => {
            budget.build(s.trim().len())?;
            Ok(Value::String(s.trim().to_owned()))
        }
        (Value::String(s), "length") => Ok(json!(s.chars().count())),
        (Value::String(s), "isEmpty") => Ok(json!(s.is_empty())),
        (Value::String(s), "contains") => Ok(json!(s.contains(text_arg(0)?))),
        (Value::String(s), "startsWith") => Ok(json!(s.starts_with(text_arg(0)?))),
        (Value::String(s), "endsWith") => Ok(json!(s.ends_with(text_arg(0)?))),
        (Value::String(s), "split") => {
            // Java's split takes a regex; the literal separator covers what pipelines use.
            let separator = text_arg(0)?;
            let parts = s.split(separator).count();
            // Each part is a text of its own: its bytes and a slot in the list.
            budget.build(s.len() + parts * std::mem::size_of::<Value>())?;
            budget.spend(parts)?;
            Ok(Value::Array(
                s.split(separator)
                    .map(|p| Value::String(p.to_owned()))
                    .collect(),
            ))
        }
        (Value::String(s), "replace") => {
            let (from, to) = (text_arg(0)?, text_arg(1)?);
            // An empty pattern matches between every two characters and at both ends.
            let matches = if from.is_empty() {
                s.chars().count() + 1
            } else {
                s.matches(from).count()
            };
            let size =
                (s.len() - matches * from.len()).saturating_add(matches.saturating_mul(to.len()));
            budget.build(size)?;
            Ok(Value::String(s.replace(from, to)))
        }
        (Value::String(s), "substring") => {
            let length = s.chars().count();
            let start = int_arg(0)?;
            let end = if args.len() > 1 { int_arg(1)? } else { length };
            if start > end || end > length {
                return Err(format!(
                    "substring({start}, {end}) is out of bounds for length {length}"
                ));
            }
            let byte = |n: usize| s.char_indices().nth(n).map_or(s.len(), |(i, _)| i);
            let (from, to) = (byte(start), byte(end));
            budget.build(to - from)?;
            Ok(Value::String(s[from..to].to_owned()))
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
        (Value::Object(map), "get") => {
            let found = map.get(text_arg(0)?).unwrap_or(&Value::Null);
            budget.fits(found)?;
            Ok(found.clone())
        }
        (other, _) => Err(format!(
            "method '{name}' is not allowed on a {}",
            type_name(other)
        )),
    }
}
