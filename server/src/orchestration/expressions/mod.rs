//! `${…}` expressions in stage configuration: a sandboxed, Spinnaker-compatible subset of SpEL,
//! evaluated over JSON. No reflection, no I/O, no loops; every evaluation is bounded in steps
//! and output size. Known injection payloads from Spinnaker's advisories (type references,
//! object construction, bean references, class access, URL and file reads) are refused with a
//! message that says so.

mod budget;
mod eval;
mod methods;
mod operators;
mod parser;
mod sandbox;
mod template;

use std::borrow::Cow;
use std::sync::{LazyLock, OnceLock};

use domain::execution::{Execution, Stage};
use serde_json::{Map, Value};

pub use budget::ExpressionLimits;
pub use parser::{BinaryOp, Expr, parse};
pub use template::{ExpressionFailure, evaluate_all};

use budget::Budget;
use eval::Eval;
use sandbox::refuse_known_attacks;

const MAX_EXPRESSION_LEN: usize = 4096;
const MAX_NESTING: usize = 32;

static EMPTY_MAP: LazyLock<Value> = LazyLock::new(|| Value::Object(Map::new()));

/// What an expression can see: the execution (as Spinnaker's root object, with its secrets
/// redacted as the API shows them) and the stage whose configuration is being evaluated.
/// Roots are read by reference: the execution becomes JSON once, and only when an expression
/// reads more than its trigger.
pub struct Scope {
    shown: Execution,
    current: Option<String>,
    root: OnceLock<Value>,
    limits: ExpressionLimits,
}

impl Scope {
    pub fn new(execution: &Execution, current: Option<&Stage>) -> Self {
        Self::with_limits(execution, current, ExpressionLimits::default())
    }

    pub fn with_limits(
        execution: &Execution,
        current: Option<&Stage>,
        limits: ExpressionLimits,
    ) -> Self {
        let mut shown = execution.clone();
        domain::redact::execution(&mut shown);
        Self {
            shown,
            current: current.map(|s| s.id.to_string()),
            root: OnceLock::new(),
            limits,
        }
    }

    /// The execution as JSON (built on first use).
    fn root(&self) -> &Value {
        self.root
            .get_or_init(|| serde_json::to_value(&self.shown).unwrap_or(Value::Null))
    }

    /// A name on the root: `trigger`, `parameters`, `execution` or a field of the execution.
    fn root_name(&self, name: &str) -> Option<&Value> {
        match name {
            "trigger" => Some(&self.shown.trigger),
            "parameters" => Some(self.shown.trigger.get("parameters").unwrap_or(&EMPTY_MAP)),
            "execution" => Some(self.root()),
            other => self.root().get(other),
        }
    }

    fn trigger(&self) -> &Value {
        &self.shown.trigger
    }

    /// The stages as JSON, in the execution's order.
    fn stages(&self) -> &[Value] {
        self.root()
            .get("stages")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    fn current_stage(&self) -> Option<&Value> {
        let id = self.current.as_deref()?;
        self.stages()
            .iter()
            .find(|s| s.get("id").and_then(Value::as_str) == Some(id))
    }
}

/// Evaluates one expression (the text inside `${}`) within the scope's limits.
pub fn evaluate(text: &str, scope: &Scope) -> Result<Value, String> {
    let mut budget = Budget::new(scope.limits);
    evaluate_within(text, scope, &mut budget).map(Cow::into_owned)
}

/// Evaluates one expression, spending from `budget` (shared by a whole stage's templates).
fn evaluate_within<'s>(
    text: &str,
    scope: &'s Scope,
    budget: &mut Budget,
) -> Result<Cow<'s, Value>, String> {
    if text.len() > MAX_EXPRESSION_LEN {
        return Err(format!(
            "the expression is longer than {MAX_EXPRESSION_LEN} characters"
        ));
    }
    refuse_known_attacks(text)?;
    let expr = parse(text)?;
    let value = Eval { scope, budget }.eval(&expr)?;
    // The result is measured before it is copied out of the scope.
    budget.fits(&value)?;
    Ok(value)
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
