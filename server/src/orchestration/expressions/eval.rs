//! The evaluator: walks a parsed expression over the scope's JSON, one step of the budget per
//! node; properties, indexing, the helper functions (`#stage`, `#judgment`, …) and variables.

use domain::execution::{Stage, StageType};
use serde_json::{Value, json};

use super::methods::method;
use super::operators::{binary, truth};
use super::parser::{BinaryOp, Expr};
use super::{Scope, type_name};

pub(super) struct Eval<'s, 'a> {
    pub(super) scope: &'s Scope<'a>,
    pub(super) budget: &'s mut usize,
}

fn stage_json(stage: &Stage) -> Value {
    serde_json::to_value(stage).unwrap_or(Value::Null)
}

impl Eval<'_, '_> {
    pub(super) fn eval(&mut self, e: &Expr) -> Result<Value, String> {
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
