//! Differences between two versions of a pipeline (history, restore previews).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::PipelineDocument;
use super::validate::ref_id_of;

/// Fields Topsail sets on every save; they are not "changes" a person made.
pub const BOOKKEEPING_FIELDS: &[&str] = &["updateTs", "lastModifiedBy"];

/// One difference between two versions of a pipeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineChange {
    /// Where, e.g. `stages[refId=2].waitTime`.
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// The differences between two pipeline documents, ignoring bookkeeping fields. Lists of objects
/// that all have a `refId` (stages) are matched by refId, other lists by position.
pub fn diff(before: &PipelineDocument, after: &PipelineDocument) -> Vec<PipelineChange> {
    let strip = |d: &PipelineDocument| {
        let mut m = d.0.clone();
        for f in BOOKKEEPING_FIELDS {
            m.remove(*f);
        }
        Value::Object(m)
    };
    let mut out = Vec::new();
    diff_values("", &strip(before), &strip(after), &mut out);
    out
}

/// The changes between two JSON values, by path (lists of stages matched by `refId`).
pub fn diff_json(before: &Value, after: &Value) -> Vec<PipelineChange> {
    let mut out = Vec::new();
    diff_values("", before, after, &mut out);
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The keys of both, in order. (Inserted one by one: collecting into a set sorts first, and each
/// sort is kilobytes of code in the browser bundle.)
fn union<'k>(
    a: impl Iterator<Item = &'k String>,
    b: impl Iterator<Item = &'k String>,
) -> BTreeSet<&'k String> {
    let mut keys = BTreeSet::new();
    for k in a.chain(b) {
        keys.insert(k);
    }
    keys
}

fn keyed_by_ref_id(items: &[Value]) -> Option<BTreeMap<String, &Value>> {
    let mut keyed = BTreeMap::new();
    for item in items {
        let r = item.as_object().and_then(ref_id_of)?;
        if keyed.insert(r, item).is_some() {
            return None;
        }
    }
    Some(keyed)
}

fn diff_values(path: &str, before: &Value, after: &Value, out: &mut Vec<PipelineChange>) {
    if before == after {
        return;
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for k in union(b.keys(), a.keys()) {
                let p = join(path, k);
                match (b.get(k), a.get(k)) {
                    (Some(x), Some(y)) => diff_values(&p, x, y, out),
                    (x, y) => out.push(PipelineChange {
                        path: p,
                        before: x.cloned(),
                        after: y.cloned(),
                    }),
                }
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            if let (Some(kb), Some(ka)) = (keyed_by_ref_id(b), keyed_by_ref_id(a)) {
                for k in union(kb.keys(), ka.keys()) {
                    let p = format!("{path}[refId={k}]");
                    match (kb.get(k), ka.get(k)) {
                        (Some(x), Some(y)) => diff_values(&p, x, y, out),
                        (x, y) => out.push(PipelineChange {
                            path: p,
                            before: x.map(|v| (*v).clone()),
                            after: y.map(|v| (*v).clone()),
                        }),
                    }
                }
            } else {
                for i in 0..b.len().max(a.len()) {
                    let p = format!("{path}[{i}]");
                    match (b.get(i), a.get(i)) {
                        (Some(x), Some(y)) => diff_values(&p, x, y, out),
                        (x, y) => out.push(PipelineChange {
                            path: p,
                            before: x.cloned(),
                            after: y.cloned(),
                        }),
                    }
                }
            }
        }
        _ => out.push(PipelineChange {
            path: path.to_owned(),
            before: Some(before.clone()),
            after: Some(after.clone()),
        }),
    }
}
