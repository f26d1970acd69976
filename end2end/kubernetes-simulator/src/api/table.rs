//! Server-side printing: a get, list or watch asked for with
//! `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` (what `kubectl get` sends) is answered
//! as a `meta.k8s.io` `Table` — the columns a real API server prints for the kind
//! (`printers.rs`), one row per object, each row carrying the object's metadata.

use axum::http::{HeaderMap, header};
use serde_json::{Value, json};

use super::printers::{Column, printer};

/// The Table version a request accepts first, if any (`v1`, or `v1beta1` for older clients).
/// A plain `application/json` listed before any Table wins, as in the real negotiation.
pub fn wanted(headers: &HeaderMap) -> Option<&'static str> {
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
    for media in accept.split(',') {
        let mut parts = media.split(';').map(str::trim);
        let kind = parts.next().unwrap_or_default();
        if kind != "application/json" && kind != "*/*" && kind != "application/*" {
            continue;
        }
        let (mut table, mut version, mut group) = (false, "", "");
        for p in parts {
            match p.split_once('=') {
                Some(("as", v)) => table = v == "Table",
                Some(("v", v)) => version = v,
                Some(("g", g)) => group = g,
                _ => {}
            }
        }
        if !table {
            return None;
        }
        if group == "meta.k8s.io" {
            match version {
                "v1" => return Some("v1"),
                "v1beta1" => return Some("v1beta1"),
                _ => {}
            }
        }
    }
    None
}

/// What each row carries of its object (`includeObject`; metadata by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Include {
    None,
    Metadata,
    Object,
}

impl Include {
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value.unwrap_or_default() {
            "" | "Metadata" => Ok(Self::Metadata),
            "Object" => Ok(Self::Object),
            "None" => Ok(Self::None),
            other => Err(format!(
                "includeObject: Unsupported value: \"{other}\": supported values: \"Metadata\", \"None\", \"Object\""
            )),
        }
    }
}

/// A list (`items`) or a single object as a Table of `version`. `with_columns` false leaves the
/// column definitions empty (watch events after the first).
pub fn table(
    kind: &str,
    api_version: &str,
    answer: &Value,
    version: &str,
    include: Include,
    with_columns: bool,
) -> Value {
    let printer = printer(kind);
    let now = chrono::Utc::now();
    let objects: Vec<&Value> = match answer["items"].as_array() {
        Some(items) => items.iter().collect(),
        None => vec![answer],
    };
    let rows: Vec<Value> = objects
        .into_iter()
        .map(|o| {
            let mut row = json!({"cells": (printer.cells)(o, now)});
            match include {
                Include::None => row["object"] = Value::Null,
                Include::Metadata => {
                    row["object"] = json!({"kind": "PartialObjectMetadata",
                        "apiVersion": format!("meta.k8s.io/{version}"), "metadata": o["metadata"]})
                }
                Include::Object => {
                    let mut full = o.clone();
                    full["kind"] = json!(kind);
                    full["apiVersion"] = json!(api_version);
                    row["object"] = full;
                }
            }
            row
        })
        .collect();
    // Watch events after the first carry no column definitions (null, as the real encoder).
    let columns = if with_columns {
        Value::Array(printer.columns.iter().map(Column::definition).collect())
    } else {
        Value::Null
    };
    // A list's resourceVersion and paging; a single object's own resourceVersion.
    let mut metadata = json!({});
    let fields: &[&str] = if answer["items"].is_array() {
        &["resourceVersion", "continue", "remainingItemCount"]
    } else {
        &["resourceVersion"]
    };
    for field in fields {
        if let Some(v) = answer["metadata"].get(*field) {
            metadata[*field] = v.clone();
        }
    }
    json!({"kind": "Table", "apiVersion": format!("meta.k8s.io/{version}"), "metadata": metadata,
        "columnDefinitions": columns, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, v.parse().unwrap());
        h
    }

    #[test]
    fn kubectl_get_asks_for_a_table_first() {
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(wanted(&accept(kubectl)), Some("v1"));
        assert_eq!(
            wanted(&accept("application/json;as=Table;v=v1beta1;g=meta.k8s.io")),
            Some("v1beta1")
        );
        assert_eq!(wanted(&accept("application/json")), None);
        assert_eq!(
            wanted(&accept(
                "application/json, application/json;as=Table;v=v1;g=meta.k8s.io"
            )),
            None
        );
        assert_eq!(wanted(&HeaderMap::new()), None);
    }

    #[test]
    fn include_object_values() {
        assert_eq!(Include::parse(None), Ok(Include::Metadata));
        assert_eq!(Include::parse(Some("Object")), Ok(Include::Object));
        assert!(Include::parse(Some("All")).is_err());
    }
}
