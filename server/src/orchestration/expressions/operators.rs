//! Operators on JSON values: truth, comparison, equality and arithmetic as SpEL does them.

use serde_json::Value;

use super::budget::{Budget, too_large};
use super::parser::BinaryOp;
use super::type_name;

pub(super) fn truth(v: &Value) -> Result<bool, String> {
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

pub(super) fn binary(
    op: BinaryOp,
    l: &Value,
    r: &Value,
    budget: &mut Budget,
) -> Result<Value, String> {
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
            let left = budget.text(l)?;
            let right = budget.text(r)?;
            if left.len() + right.len() > budget.max_bytes() {
                return Err(too_large(budget.max_bytes()));
            }
            budget.build(left.len() + right.len())?;
            Ok(Value::String(left + &right))
        }
        Add | Sub | Mul | Div | Rem => arithmetic(op, l, r),
        And | Or => unreachable!("short-circuited by the evaluator"),
    }
}

pub(super) fn equal(l: &Value, r: &Value) -> bool {
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
