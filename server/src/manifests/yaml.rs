//! YAML text to documents, remembering the line of every field so that a problem found later
//! (by the schema or the rules, on a field path) shows on its line. Parsed by serde_saphyr within
//! its budget (nesting, nodes, alias expansions: no billion laughs), as the deployManifest stage
//! reads manifest artifacts.

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::Spanned;

/// At most this many YAML events replayed from aliases in one text.
pub const MAX_ALIAS_EVENTS: usize = 20_000;

/// A document as parsed: its value and where each of its fields is.
#[derive(Debug)]
pub struct Document {
    pub value: Value,
    pub lines: Lines,
}

/// The line (1-based) of each field path of a document.
#[derive(Debug, Default)]
pub struct Lines(HashMap<String, u32>);

impl Lines {
    /// The line of `path`, or of its nearest ancestor the text has (a missing field shows on the
    /// object that should hold it).
    pub fn line_of(&self, path: &str) -> Option<u32> {
        let mut path = path;
        loop {
            if let Some(line) = self.0.get(path) {
                return Some(*line);
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }
}

/// Why the text is not YAML, and where.
#[derive(Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based; 0 when the parser could not say.
    pub line: u32,
    pub message: String,
}

/// Whether `text` holds comments the documents cannot keep (a `#` outside quoted scalars, at
/// the start of a line or after a space): a cheap look, good enough for a warning.
pub fn has_comments(text: &str) -> bool {
    text.lines().any(|line| {
        let trimmed = line.trim_start();
        trimmed.starts_with('#')
            || (line.contains(" #") && !line.contains('"') && !line.contains('\''))
    })
}

/// `documents` as YAML text, `---` between them: what the editor's YAML view shows. Read back
/// by [`parse`], it gives the same documents.
pub fn render(documents: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    for (i, document) in documents.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&serde_saphyr::to_string(document).map_err(|e| e.to_string())?);
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// The documents in `text` (empty documents skipped).
pub fn parse(text: &str) -> Result<Vec<Document>, SyntaxError> {
    // Kubernetes YAML rarely uses aliases: a tenth of a second's worth of expansion is plenty
    // (serde_saphyr's default allows a million replayed events: seconds of CPU per request).
    let options = serde_saphyr::options! {
        with_snippet: false,
        alias_limits: serde_saphyr::alias_limits! { max_total_replayed_events: MAX_ALIAS_EVENTS },
    };
    let roots: Vec<Spanned<Node>> = serde_saphyr::from_multiple_with_options(text, options)
        .map_err(|e| SyntaxError {
            line: e
                .location()
                .map(|l| u32::try_from(l.line()).unwrap_or(u32::MAX))
                .unwrap_or(0),
            message: first_line(&e.to_string()),
        })?;
    Ok(roots
        .into_iter()
        .map(|root| {
            let mut lines = HashMap::new();
            let value = flatten(root, String::new(), &mut lines);
            Document {
                value,
                lines: Lines(lines),
            }
        })
        .collect())
}

/// The message without serde_saphyr's trailing location (the problem carries the line).
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message);
    match line.find(" at line ") {
        Some(at) => line[..at].to_owned(),
        None => line.to_owned(),
    }
}

fn line(location: &serde_saphyr::Location) -> u32 {
    u32::try_from(location.line()).unwrap_or(u32::MAX)
}

fn flatten(node: Spanned<Node>, path: String, lines: &mut HashMap<String, u32>) -> Value {
    lines.entry(path.clone()).or_insert(line(&node.referenced));
    match node.value {
        Node::Scalar(value) => value,
        Node::Seq(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| flatten(item, format!("{path}[{i}]"), lines))
                .collect(),
        ),
        Node::Map(entries) => {
            let mut map = Map::new();
            for (key, key_line, value) in entries {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                lines.insert(child.clone(), key_line);
                let value = flatten(value, child, lines);
                map.insert(key, value);
            }
            Value::Object(map)
        }
    }
}

/// A YAML node with the location of each child (serde_saphyr fills `Spanned`).
enum Node {
    Scalar(Value),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(String, u32, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Number(v.into())))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Number(v.into())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Number::from_f64(v)
            .map(|n| Node::Scalar(Value::Number(n)))
            .ok_or_else(|| E::custom(format!("{v} is not a number JSON can hold")))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Scalar(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Scalar(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Null))
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Node>>()? {
            let name = match key.value {
                Node::Scalar(Value::String(s)) => s,
                Node::Scalar(Value::Null) => "null".to_owned(),
                Node::Scalar(other) => other.to_string(),
                _ => return Err(de::Error::custom("a mapping key must be a plain value")),
            };
            let value = map.next_value::<Spanned<Node>>()?;
            entries.push((name, line(&key.referenced), value));
        }
        Ok(Node::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TEXT: &str = "\
# the app
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: app
          image: nginx
          resources:
            limits:
              cpu: 500m
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports: [{port: 80}]
";

    #[test]
    fn documents_keep_the_line_of_every_field() {
        let docs = parse(TEXT).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(
            docs[0].value["spec"]["template"]["spec"]["containers"][0]["image"],
            json!("nginx")
        );
        assert_eq!(docs[1].value["spec"]["ports"][0]["port"], json!(80));
        assert_eq!(docs[0].lines.line_of("kind"), Some(3));
        assert_eq!(
            docs[0]
                .lines
                .line_of("spec.template.spec.containers[0].resources.limits.cpu"),
            Some(14)
        );
        assert_eq!(
            docs[0]
                .lines
                .line_of("spec.template.spec.containers[0].image"),
            Some(11)
        );
        // A field that is not there shows on the nearest one that is.
        assert_eq!(
            docs[0]
                .lines
                .line_of("spec.template.spec.containers[0].resources.requests.cpu"),
            Some(12)
        );
        assert_eq!(docs[1].lines.line_of("spec.ports[0].port"), Some(20));
        assert_eq!(docs[1].lines.line_of("kind"), Some(17));
        assert!(has_comments(TEXT));
        assert!(!has_comments("a: 1\nb: 'x # not a comment'\n"));
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let error =
            parse("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n").unwrap_err();
        assert!(error.line >= 4, "{error:?}");
        assert!(!error.message.is_empty());
        let error = parse("a: 1\n b: 2\n").unwrap_err();
        assert_eq!(error.line, 2, "{error:?}");
    }

    #[test]
    fn aliases_are_bounded() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..20 {
            let prev = if i == 0 {
                "a".to_owned()
            } else {
                format!("l{}", i - 1)
            };
            text.push_str(&format!("l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        assert!(parse(&text).is_err(), "a billion laughs was expanded");
    }

    #[test]
    fn json_is_yaml_too() {
        let docs =
            parse(r#"{"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1"}}"#).unwrap();
        assert_eq!(docs[0].value["data"]["a"], json!("1"));
    }
}
