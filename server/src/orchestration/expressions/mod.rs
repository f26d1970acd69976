//! `${…}` expressions in stage configuration: a sandboxed, Spinnaker-compatible subset of SpEL,
//! evaluated over JSON. No reflection, no I/O, no loops; every evaluation is bounded in steps
//! and output size. Known injection payloads from Spinnaker's advisories (type references,
//! object construction, bean references, class access, URL and file reads) are refused with a
//! message that says so.

mod eval;
mod methods;
mod operators;
mod parser;
mod sandbox;
mod template;

use domain::execution::{Execution, Stage};
use serde_json::{Map, Value, json};

pub use parser::{BinaryOp, Expr, parse};
pub use template::{ExpressionFailure, evaluate_all};

use eval::Eval;
use sandbox::refuse_known_attacks;

const MAX_EXPRESSION_LEN: usize = 4096;
const MAX_NESTING: usize = 32;
const MAX_STEPS: usize = 20_000;
const MAX_STRING: usize = 256 * 1024;

/// What an expression can see: the execution (as Spinnaker's root object) and the stage whose
/// configuration is being evaluated.
pub struct Scope<'a> {
    root: Value,
    execution: &'a Execution,
    current: Option<&'a Stage>,
}

impl<'a> Scope<'a> {
    pub fn new(execution: &'a Execution, current: Option<&'a Stage>) -> Self {
        let mut root = match serde_json::to_value(execution) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let parameters = execution
            .trigger
            .get("parameters")
            .cloned()
            .unwrap_or_else(|| json!({}));
        root.insert("execution".into(), Value::Object(root.clone()));
        root.insert("parameters".into(), parameters);
        Self {
            root: Value::Object(root),
            execution,
            current,
        }
    }
}

/// Evaluates one expression (the text inside `${}`).
pub fn evaluate(text: &str, scope: &Scope<'_>) -> Result<Value, String> {
    if text.len() > MAX_EXPRESSION_LEN {
        return Err(format!(
            "the expression is longer than {MAX_EXPRESSION_LEN} characters"
        ));
    }
    refuse_known_attacks(text)?;
    let expr = parse(text)?;
    let mut budget = MAX_STEPS;
    let value = Eval {
        scope,
        budget: &mut budget,
    }
    .eval(&expr)?;
    if size_of(&value) > MAX_STRING {
        return Err(format!("the result is larger than {MAX_STRING} bytes"));
    }
    Ok(value)
}

/// Text form of a value, as SpEL's `toString` would give it for JSON data.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn size_of(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len(),
        other => other.to_string().len(),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

#[cfg(test)]
mod tests;
