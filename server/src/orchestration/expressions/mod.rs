//! `${…}` expressions in stage configuration: a sandboxed, Spinnaker-compatible subset of SpEL,
//! evaluated over JSON. No reflection, no I/O, no loops; every evaluation is bounded in steps
//! and output size. Known injection payloads from Spinnaker's advisories (type references,
//! object construction, bean references, class access, URL and file reads) are refused with a
//! message that says so.

mod parser;

use domain::execution::{Execution, Stage, StageType};
use serde_json::{Map, Value, json};

pub use parser::{BinaryOp, Expr, parse};

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
/// in place and is reported.
pub fn evaluate_all(value: &Value, scope: &Scope<'_>) -> (Value, Vec<ExpressionFailure>) {
    let mut failures = Vec::new();
    let out = walk(value, "", scope, &mut failures);
    (out, failures)
}

fn walk(
    value: &Value,
    path: &str,
    scope: &Scope<'_>,
    failures: &mut Vec<ExpressionFailure>,
) -> Value {
    match value {
        Value::String(s) if s.contains("${") => template(s, path, scope, failures),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| walk(v, &format!("{path}[{i}]"), scope, failures))
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
                    (k.clone(), walk(v, &p, scope, failures))
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
    scope: &Scope<'_>,
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
        match evaluate(text, scope) {
            Ok(v) => evaluated.push(v),
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
    Value::String(evaluated.iter().map(to_text).collect())
}

/// Refuses the payloads of Spinnaker's expression-injection advisories before parsing, outside
/// string literals, with a message naming what was attempted.
fn refuse_known_attacks(text: &str) -> Result<(), String> {
    let code = outside_strings(text);
    let lower = code.to_ascii_lowercase();
    let word_before = |i: usize| {
        i > 0
            && code[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    };
    for (i, _) in code.match_indices('T') {
        let after = code[i + 1..].trim_start();
        if !word_before(i) && after.starts_with('(') {
            return Err("type references (T(...)) are not allowed".into());
        }
    }
    for (i, _) in code.match_indices("new ") {
        if !word_before(i) {
            return Err("creating objects (new ...) is not allowed".into());
        }
    }
    if code.contains('@') {
        return Err("bean references (@...) are not allowed".into());
    }
    for (needle, what) in [
        ("getclass", "class access is not allowed"),
        ("classloader", "class access is not allowed"),
        ("forname(", "class access is not allowed"),
        ("getruntime", "running programs is not allowed"),
        ("java.lang.runtime", "running programs is not allowed"),
        ("processbuilder", "running programs is not allowed"),
        (".exec(", "running programs is not allowed"),
        ("#fromurl", "reading URLs is not allowed"),
        ("#jsonfromurl", "reading URLs is not allowed"),
        ("#yamlfromurl", "reading URLs is not allowed"),
        ("#propertiesfromurl", "reading URLs is not allowed"),
        ("#readfile", "reading files is not allowed"),
        ("#this", "#this and #root are not available"),
        ("#root", "#this and #root are not available"),
    ] {
        if lower.contains(needle) {
            return Err(what.into());
        }
    }
    if code
        .chars()
        .filter(|c| matches!(c, '(' | '[' | '{'))
        .count()
        > MAX_NESTING * 4
        || nesting(&code) > MAX_NESTING
    {
        return Err(format!(
            "the expression nests deeper than {MAX_NESTING} levels"
        ));
    }
    Ok(())
}

/// The expression with string literals blanked out.
fn outside_strings(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                out.push(c);
            }
            Some(_) => out.push(' '),
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    out
}

fn nesting(code: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for c in code.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                max = max.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
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

struct Eval<'s, 'a> {
    scope: &'s Scope<'a>,
    budget: &'s mut usize,
}

fn stage_json(stage: &Stage) -> Value {
    serde_json::to_value(stage).unwrap_or(Value::Null)
}

impl Eval<'_, '_> {
    fn eval(&mut self, e: &Expr) -> Result<Value, String> {
        if *self.budget == 0 {
            return Err("the expression takes too many steps".into());
        }
        *self.budget -= 1;
        match e {
            Expr::Literal(v) => Ok(v.clone()),
            Expr::Root(name) => self.property(&self.scope.root.clone(), name, false),
            Expr::Property { target, name, safe } => {
                let t = self.eval(target)?;
                if *safe && t.is_null() {
                    return Ok(Value::Null);
                }
                self.property(&t, name, *safe)
            }
            Expr::Index { target, index } => {
                let t = self.eval(target)?;
                let i = self.eval(index)?;
                match (&t, &i) {
                    (Value::Array(items), Value::Number(n)) => {
                        let idx = n.as_u64().ok_or("a list index must be a whole number")?;
                        items.get(idx as usize).cloned().ok_or_else(|| {
                            format!("index {idx} is out of bounds (size {})", items.len())
                        })
                    }
                    (Value::Object(map), Value::String(k)) => {
                        Ok(map.get(k).cloned().unwrap_or(Value::Null))
                    }
                    (Value::String(s), Value::Number(n)) => {
                        let idx =
                            n.as_u64().ok_or("a string index must be a whole number")? as usize;
                        s.chars()
                            .nth(idx)
                            .map(|c| Value::String(c.to_string()))
                            .ok_or_else(|| format!("index {idx} is out of bounds"))
                    }
                    _ => Err(format!(
                        "cannot index a {} with a {}",
                        type_name(&t),
                        type_name(&i)
                    )),
                }
            }
            Expr::Method {
                target,
                name,
                args,
                safe,
            } => {
                let t = self.eval(target)?;
                if *safe && t.is_null() {
                    return Ok(Value::Null);
                }
                let args = args
                    .iter()
                    .map(|a| self.eval(a))
                    .collect::<Result<Vec<_>, _>>()?;
                method(&t, name, &args)
            }
            Expr::Function { name, args } => {
                let args = args
                    .iter()
                    .map(|a| self.eval(a))
                    .collect::<Result<Vec<_>, _>>()?;
                self.function(name, &args)
            }
            Expr::Variable(name) => match name.as_str() {
                "trigger" => Ok(self.scope.execution.trigger.clone()),
                other => Err(format!("unknown variable #{other}")),
            },
            Expr::Not(inner) => Ok(Value::Bool(!truth(&self.eval(inner)?)?)),
            Expr::Negate(inner) => match self.eval(inner)? {
                Value::Number(n) => Ok(n
                    .as_i64()
                    .map(|i| json!(-i))
                    .unwrap_or_else(|| json!(-n.as_f64().unwrap_or(0.0)))),
                other => Err(format!("cannot negate a {}", type_name(&other))),
            },
            Expr::Binary {
                op: BinaryOp::And,
                left,
                right,
            } => Ok(Value::Bool(
                truth(&self.eval(left)?)? && truth(&self.eval(right)?)?,
            )),
            Expr::Binary {
                op: BinaryOp::Or,
                left,
                right,
            } => Ok(Value::Bool(
                truth(&self.eval(left)?)? || truth(&self.eval(right)?)?,
            )),
            Expr::Binary { op, left, right } => {
                let (l, r) = (self.eval(left)?, self.eval(right)?);
                binary(*op, &l, &r)
            }
            Expr::Ternary {
                condition,
                then,
                otherwise,
            } => {
                if truth(&self.eval(condition)?)? {
                    self.eval(then)
                } else {
                    self.eval(otherwise)
                }
            }
            Expr::Elvis { value, fallback } => match self.eval(value)? {
                Value::Null => self.eval(fallback),
                Value::String(s) if s.is_empty() => self.eval(fallback),
                v => Ok(v),
            },
            Expr::List(items) => Ok(Value::Array(
                items
                    .iter()
                    .map(|i| self.eval(i))
                    .collect::<Result<_, _>>()?,
            )),
        }
    }

    fn property(&self, target: &Value, name: &str, safe: bool) -> Result<Value, String> {
        if name == "class" {
            return Err("class access is not allowed".into());
        }
        match target {
            Value::Object(map) => match map.get(name) {
                Some(v) => Ok(v.clone()),
                None if safe => Ok(Value::Null),
                None => Err(format!("no property '{name}'")),
            },
            Value::Null => Err(format!(
                "cannot read '{name}' of null (use ?. to allow null)"
            )),
            other => Err(format!("a {} has no property '{name}'", type_name(other))),
        }
    }

    fn function(&self, name: &str, args: &[Value]) -> Result<Value, String> {
        let execution = self.scope.execution;
        let one_string = |what: &str| match args {
            [Value::String(s)] => Ok(s.clone()),
            _ => Err(format!("#{name} takes one text argument ({what})")),
        };
        match name {
            "stage" => {
                let wanted = one_string("a stage name")?;
                execution
                    .stages
                    .iter()
                    .find(|s| s.name == wanted)
                    .map(stage_json)
                    .ok_or_else(|| format!("no stage named '{wanted}'"))
            }
            "stageByRefId" => {
                let wanted = one_string("a refId")?;
                execution
                    .stage_by_ref(&wanted)
                    .map(stage_json)
                    .ok_or_else(|| format!("no stage with refId '{wanted}'"))
            }
            "judgment" | "judgement" => {
                let wanted = one_string("a stage name")?;
                let stage = execution
                    .stages
                    .iter()
                    .find(|s| s.name == wanted && s.stage_type == StageType::ManualJudgment)
                    .ok_or_else(|| format!("no manual judgment stage named '{wanted}'"))?;
                Ok(stage
                    .context
                    .get("judgmentInput")
                    .cloned()
                    .unwrap_or(Value::Null))
            }
            "currentStage" => self
                .scope
                .current
                .map(stage_json)
                .ok_or_else(|| "there is no current stage here".to_owned()),
            "toJson" => match args {
                [v] => Ok(Value::String(v.to_string())),
                _ => Err("#toJson takes one argument".into()),
            },
            "alphanumerical" => Ok(Value::String(
                one_string("text")?
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect(),
            )),
            "readJson" => serde_json::from_str(&one_string("JSON text")?)
                .map_err(|e| format!("#readJson: not JSON: {e}")),
            "trigger" => Ok(execution.trigger.clone()),
            other => Err(format!("unknown function #{other}")),
        }
    }
}

fn truth(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(format!(
            "expected true or false, found a {}",
            type_name(other)
        )),
    }
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn binary(op: BinaryOp, l: &Value, r: &Value) -> Result<Value, String> {
    use BinaryOp::*;
    match op {
        Eq => Ok(Value::Bool(equal(l, r))),
        Ne => Ok(Value::Bool(!equal(l, r))),
        Lt | Le | Gt | Ge => {
            let ord = match (l, r) {
                (Value::String(a), Value::String(b)) => a.cmp(b),
                _ => match (number(l), number(r)) {
                    (Some(a), Some(b)) => a.partial_cmp(&b).ok_or("cannot compare NaN")?,
                    _ => {
                        return Err(format!(
                            "cannot compare a {} with a {}",
                            type_name(l),
                            type_name(r)
                        ));
                    }
                },
            };
            Ok(Value::Bool(match op {
                Lt => ord.is_lt(),
                Le => ord.is_le(),
                Gt => ord.is_gt(),
                _ => ord.is_ge(),
            }))
        }
        Add if l.is_string() || r.is_string() => {
            let s = to_text(l) + &to_text(r);
            if s.len() > MAX_STRING {
                return Err(format!("the text grows beyond {MAX_STRING} bytes"));
            }
            Ok(Value::String(s))
        }
        Add | Sub | Mul | Div | Rem => arithmetic(op, l, r),
        And | Or => unreachable!("short-circuited by the evaluator"),
    }
}

fn equal(l: &Value, r: &Value) -> bool {
    match (number(l), number(r)) {
        (Some(a), Some(b)) => a == b,
        _ => l == r,
    }
}

fn arithmetic(op: BinaryOp, l: &Value, r: &Value) -> Result<Value, String> {
    if let (Some(a), Some(b)) = (l.as_i64(), r.as_i64()) {
        let v = match op {
            BinaryOp::Add => a.checked_add(b),
            BinaryOp::Sub => a.checked_sub(b),
            BinaryOp::Mul => a.checked_mul(b),
            BinaryOp::Div if b == 0 => return Err("division by zero".into()),
            BinaryOp::Div => a.checked_div(b),
            BinaryOp::Rem if b == 0 => return Err("division by zero".into()),
            _ => a.checked_rem(b),
        };
        return v
            .map(Value::from)
            .ok_or_else(|| "the number is too large".to_owned());
    }
    let (Some(a), Some(b)) = (number(l), number(r)) else {
        return Err(format!(
            "cannot do arithmetic with a {} and a {}",
            type_name(l),
            type_name(r)
        ));
    };
    let v = match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        _ => a % b,
    };
    serde_json::Number::from_f64(v)
        .map(Value::Number)
        .ok_or_else(|| "the result is not a number".to_owned())
}

/// The allowlisted methods on text, lists and maps.
fn method(target: &Value, name: &str, args: &[Value]) -> Result<Value, String> {
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

#[cfg(test)]
mod tests;
