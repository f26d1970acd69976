//! The evaluator: walks a parsed expression over the scope's JSON, one step of the budget per
//! node. Values read from the scope stay borrowed (`Cow::Borrowed`) until an operation builds
//! something new, so reading a large trigger costs nothing.

use std::borrow::Cow;

use serde_json::{Value, json};

use super::budget::Budget;
use super::methods::method;
use super::operators::{binary, truth};
use super::parser::{BinaryOp, Expr};
use super::{Scope, type_name};

type Val<'s> = Cow<'s, Value>;

pub(super) struct Eval<'s, 'b> {
    pub(super) scope: &'s Scope,
    pub(super) budget: &'b mut Budget,
}

impl<'s> Eval<'s, '_> {
    pub(super) fn eval(&mut self, e: &Expr) -> Result<Val<'s>, String> {
        self.budget.spend(1)?;
        match e {
            Expr::Literal(v) => Ok(Cow::Owned(v.clone())),
            Expr::Root(name) => match self.scope.root_name(name) {
                Some(v) => Ok(Cow::Borrowed(v)),
                None => Err(format!("no property '{name}'")),
            },
            Expr::Property { target, name, safe } => {
                let t = self.eval(target)?;
                if *safe && t.is_null() {
                    return Ok(Cow::Owned(Value::Null));
                }
                property(t, name, *safe)
            }
            Expr::Index { target, index } => {
                let t = self.eval(target)?;
                let i = self.eval(index)?;
                index_into(t, &i)
            }
            Expr::Method {
                target,
                name,
                args,
                safe,
            } => {
                let t = self.eval(target)?;
                if *safe && t.is_null() {
                    return Ok(Cow::Owned(Value::Null));
                }
                let args = self.all(args)?;
                method(&t, name, &args, self.budget).map(Cow::Owned)
            }
            Expr::Function { name, args } => {
                let args = self.all(args)?;
                self.function(name, &args)
            }
            Expr::Variable(name) => match name.as_str() {
                "trigger" => Ok(Cow::Borrowed(self.scope.trigger())),
                other => Err(format!("unknown variable #{other}")),
            },
            Expr::Not(inner) => Ok(Cow::Owned(Value::Bool(!truth(self.eval(inner)?.as_ref())?))),
            Expr::Negate(inner) => match self.eval(inner)?.as_ref() {
                Value::Number(n) => Ok(Cow::Owned(
                    n.as_i64()
                        .and_then(i64::checked_neg)
                        .map(|i| json!(i))
                        .unwrap_or_else(|| json!(-n.as_f64().unwrap_or(0.0))),
                )),
                other => Err(format!("cannot negate a {}", type_name(other))),
            },
            Expr::Binary {
                op: BinaryOp::And,
                left,
                right,
            } => Ok(Cow::Owned(Value::Bool(
                truth(self.eval(left)?.as_ref())? && truth(self.eval(right)?.as_ref())?,
            ))),
            Expr::Binary {
                op: BinaryOp::Or,
                left,
                right,
            } => Ok(Cow::Owned(Value::Bool(
                truth(self.eval(left)?.as_ref())? || truth(self.eval(right)?.as_ref())?,
            ))),
            Expr::Binary { op, left, right } => {
                let (l, r) = (self.eval(left)?, self.eval(right)?);
                binary(*op, &l, &r, self.budget).map(Cow::Owned)
            }
            Expr::Ternary {
                condition,
                then,
                otherwise,
            } => {
                if truth(self.eval(condition)?.as_ref())? {
                    self.eval(then)
                } else {
                    self.eval(otherwise)
                }
            }
            Expr::Elvis { value, fallback } => {
                let v = self.eval(value)?;
                match v.as_ref() {
                    Value::Null => self.eval(fallback),
                    Value::String(s) if s.is_empty() => self.eval(fallback),
                    _ => Ok(v),
                }
            }
            Expr::List(items) => {
                let items = self.all(items)?;
                let mut list = Vec::with_capacity(items.len());
                for item in items {
                    self.budget.fits(&item)?;
                    list.push(item.into_owned());
                }
                Ok(Cow::Owned(Value::Array(list)))
            }
        }
    }

    fn all(&mut self, exprs: &[Expr]) -> Result<Vec<Val<'s>>, String> {
        exprs.iter().map(|a| self.eval(a)).collect()
    }

    fn function(&mut self, name: &str, args: &[Val<'s>]) -> Result<Val<'s>, String> {
        let scope = self.scope;
        let one_string = |what: &str| match args {
            [v] => v
                .as_str()
                .ok_or_else(|| format!("#{name} takes one text argument ({what})")),
            _ => Err(format!("#{name} takes one text argument ({what})")),
        };
        let field = |stage: &'s Value, key: &str| stage.get(key).and_then(Value::as_str);
        match name {
            "stage" => {
                let wanted = one_string("a stage name")?;
                scope
                    .stages()
                    .iter()
                    .find(|s| field(s, "name") == Some(wanted))
                    .map(Cow::Borrowed)
                    .ok_or_else(|| format!("no stage named '{wanted}'"))
            }
            "stageByRefId" => {
                let wanted = one_string("a refId")?;
                scope
                    .stages()
                    .iter()
                    .find(|s| field(s, "refId") == Some(wanted))
                    .map(Cow::Borrowed)
                    .ok_or_else(|| format!("no stage with refId '{wanted}'"))
            }
            "judgment" | "judgement" => {
                let wanted = one_string("a stage name")?;
                let stage = scope
                    .stages()
                    .iter()
                    .find(|s| {
                        field(s, "name") == Some(wanted)
                            && field(s, "type") == Some("manualJudgment")
                    })
                    .ok_or_else(|| format!("no manual judgment stage named '{wanted}'"))?;
                Ok(stage
                    .get("context")
                    .and_then(|c| c.get("judgmentInput"))
                    .map(Cow::Borrowed)
                    .unwrap_or(Cow::Owned(Value::Null)))
            }
            "currentStage" => scope
                .current_stage()
                .map(Cow::Borrowed)
                .ok_or_else(|| "there is no current stage here".to_owned()),
            "toJson" => match args {
                [v] => Ok(Cow::Owned(Value::String(self.budget.json_text(v)?))),
                _ => Err("#toJson takes one argument".into()),
            },
            "alphanumerical" => {
                let text = one_string("text")?;
                self.budget.build(text.len())?;
                Ok(Cow::Owned(Value::String(
                    text.chars().filter(char::is_ascii_alphanumeric).collect(),
                )))
            }
            "readJson" => {
                let text = one_string("JSON text")?;
                // A document takes a few times its text in memory.
                self.budget.build(text.len().saturating_mul(4))?;
                let read: Value =
                    serde_json::from_str(text).map_err(|e| format!("#readJson: not JSON: {e}"))?;
                domain::json_depth::check_input(&read).map_err(|e| format!("#readJson: {e}"))?;
                Ok(Cow::Owned(read))
            }
            "trigger" => Ok(Cow::Borrowed(scope.trigger())),
            other => Err(format!("unknown function #{other}")),
        }
    }
}

/// `target.name`: a borrowed target gives a borrowed property; a built one gives up its part.
fn property<'s>(target: Val<'s>, name: &str, safe: bool) -> Result<Val<'s>, String> {
    if name == "class" {
        return Err("class access is not allowed".into());
    }
    let missing = || {
        if safe {
            Ok(Cow::Owned(Value::Null))
        } else {
            Err(format!("no property '{name}'"))
        }
    };
    match target {
        Cow::Borrowed(Value::Object(map)) => match map.get(name) {
            Some(v) => Ok(Cow::Borrowed(v)),
            None => missing(),
        },
        Cow::Owned(Value::Object(mut map)) => match map.remove(name) {
            Some(v) => Ok(Cow::Owned(v)),
            None => missing(),
        },
        other => match other.as_ref() {
            Value::Null => Err(format!(
                "cannot read '{name}' of null (use ?. to allow null)"
            )),
            v => Err(format!("a {} has no property '{name}'", type_name(v))),
        },
    }
}

/// `target[index]`: list positions, map keys and characters of text.
fn index_into<'s>(target: Val<'s>, index: &Value) -> Result<Val<'s>, String> {
    let position = |n: &serde_json::Number, what: &str| {
        n.as_u64()
            .map(|i| i as usize)
            .ok_or_else(|| format!("a {what} index must be a whole number"))
    };
    match (target, index) {
        (Cow::Borrowed(Value::Array(items)), Value::Number(n)) => {
            let i = position(n, "list")?;
            items
                .get(i)
                .map(Cow::Borrowed)
                .ok_or_else(|| format!("index {i} is out of bounds (size {})", items.len()))
        }
        (Cow::Owned(Value::Array(mut items)), Value::Number(n)) => {
            let i = position(n, "list")?;
            let size = items.len();
            if i < size {
                Ok(Cow::Owned(items.swap_remove(i)))
            } else {
                Err(format!("index {i} is out of bounds (size {size})"))
            }
        }
        (Cow::Borrowed(Value::Object(map)), Value::String(k)) => Ok(map
            .get(k)
            .map(Cow::Borrowed)
            .unwrap_or(Cow::Owned(Value::Null))),
        (Cow::Owned(Value::Object(mut map)), Value::String(k)) => {
            Ok(Cow::Owned(map.remove(k).unwrap_or(Value::Null)))
        }
        (t, Value::Number(n)) if t.is_string() => {
            let i = position(n, "string")?;
            t.as_str()
                .and_then(|s| s.chars().nth(i))
                .map(|c| Cow::Owned(Value::String(c.to_string())))
                .ok_or_else(|| format!("index {i} is out of bounds"))
        }
        (t, i) => Err(format!(
            "cannot index a {} with a {}",
            type_name(&t),
            type_name(i)
        )),
    }
}
