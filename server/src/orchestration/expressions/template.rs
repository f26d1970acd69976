//! `${…}` templates in stage configuration: every string is split into text and expressions,
//! each expression evaluated, and failures reported by the field they are in.

use serde_json::Value;

use super::budget::{Budget, too_large};
use super::{Scope, evaluate_within};

/// One failed expression, for the stage's `expressionEvaluationSummary`.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpressionFailure {
    /// Where in the stage configuration, e.g. `waitTime` or `manifests[0].metadata.name`.
    pub field: String,
    pub expression: String,
    pub reason: String,
}

/// Evaluates every `${…}` in `value`. A string that is exactly one expression takes the
/// expression's type; otherwise results are joined as text. A failed expression leaves its text
/// in place and is reported. All of them share one budget (the scope's limits).
pub fn evaluate_all(value: &Value, scope: &Scope) -> (Value, Vec<ExpressionFailure>) {
    let mut failures = Vec::new();
    let mut budget = Budget::new(scope.limits);
    let out = walk(value, "", scope, &mut budget, &mut failures);
    (out, failures)
}

fn walk(
    value: &Value,
    path: &str,
    scope: &Scope,
    budget: &mut Budget,
    failures: &mut Vec<ExpressionFailure>,
) -> Value {
    match value {
        Value::String(s) if s.contains("${") => template(s, path, scope, budget, failures),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| walk(v, &format!("{path}[{i}]"), scope, budget, failures))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    (k.clone(), walk(v, &p, scope, budget, failures))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Splits a template into text and expression parts: `("text", false)` / `("expr", true)`.
fn split_template(s: &str) -> Option<Vec<(&str, bool)>> {
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        if start > 0 {
            parts.push((&rest[..start], false));
        }
        let body = &rest[start + 2..];
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        let mut end = None;
        for (i, c) in body.char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '{') => depth += 1,
                (None, '}') if depth == 0 => {
                    end = Some(i);
                    break;
                }
                (None, '}') => depth -= 1,
                _ => {}
            }
        }
        let end = end?;
        parts.push((&body[..end], true));
        rest = &body[end + 1..];
    }
    if !rest.is_empty() {
        parts.push((rest, false));
    }
    Some(parts)
}

fn template(
    s: &str,
    path: &str,
    scope: &Scope,
    budget: &mut Budget,
    failures: &mut Vec<ExpressionFailure>,
) -> Value {
    let Some(parts) = split_template(s) else {
        failures.push(ExpressionFailure {
            field: path.to_owned(),
            expression: s.to_owned(),
            reason: "unclosed ${".into(),
        });
        return Value::String(s.to_owned());
    };
    let mut failed = false;
    let mut evaluated = Vec::with_capacity(parts.len());
    for (text, is_expr) in &parts {
        if !is_expr {
            evaluated.push(Value::String((*text).to_owned()));
            continue;
        }
        match evaluate_within(text, scope, budget) {
            Ok(v) => evaluated.push(v.into_owned()),
            Err(reason) => {
                failures.push(ExpressionFailure {
                    field: path.to_owned(),
                    expression: format!("${{{text}}}"),
                    reason,
                });
                failed = true;
            }
        }
    }
    if failed {
        return Value::String(s.to_owned());
    }
    if evaluated.len() == 1 && parts[0].1 {
        return evaluated.remove(0);
    }
    let mut joined = String::new();
    for part in &evaluated {
        match budget.text(part) {
            Ok(text) if joined.len() + text.len() <= budget.max_bytes() => joined.push_str(&text),
            outcome => {
                failures.push(ExpressionFailure {
                    field: path.to_owned(),
                    expression: s.to_owned(),
                    reason: outcome
                        .err()
                        .unwrap_or_else(|| too_large(budget.max_bytes())),
                });
                return Value::String(s.to_owned());
            }
        }
    }
    Value::String(joined)
}
