//! `tree=` (reference §2): comma-separated property names, sub-selections in `[...]`, `*`, and
//! array ranges `{M,N}`, `{M,}`, `{,N}`, `{N}`. Applied to the full JSON form of an object.

use serde_json::{Map, Value};

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub name: String,
    pub children: Option<Vec<Node>>,
    pub range: Option<(Option<usize>, Option<usize>)>,
}

/// Parses a tree expression; the error is Jenkins' "Malformed tree expression".
pub fn parse(text: &str) -> Result<Vec<Node>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut at = 0;
    let nodes = list(&chars, &mut at)?;
    if at != chars.len() {
        return Err(malformed(text));
    }
    Ok(nodes)
}

fn malformed(text: &str) -> String {
    format!("Malformed tree expression: {text}")
}

fn list(chars: &[char], at: &mut usize) -> Result<Vec<Node>, String> {
    let whole: String = chars.iter().collect();
    let mut nodes = Vec::new();
    loop {
        let start = *at;
        while *at < chars.len() && !matches!(chars[*at], ',' | '[' | ']' | '{' | '}') {
            *at += 1;
        }
        let name: String = chars[start..*at]
            .iter()
            .collect::<String>()
            .trim()
            .to_owned();
        if name.is_empty() {
            return Err(malformed(&whole));
        }
        let mut node = Node {
            name,
            children: None,
            range: None,
        };
        if *at < chars.len() && chars[*at] == '[' {
            *at += 1;
            node.children = Some(list(chars, at)?);
            if *at >= chars.len() || chars[*at] != ']' {
                return Err(malformed(&whole));
            }
            *at += 1;
        }
        if *at < chars.len() && chars[*at] == '{' {
            let close = chars[*at..]
                .iter()
                .position(|c| *c == '}')
                .ok_or_else(|| malformed(&whole))?
                + *at;
            let spec: String = chars[*at + 1..close].iter().collect();
            node.range = Some(range(&spec).ok_or_else(|| malformed(&whole))?);
            *at = close + 1;
        }
        nodes.push(node);
        if *at < chars.len() && chars[*at] == ',' {
            *at += 1;
            continue;
        }
        return Ok(nodes);
    }
}

fn range(spec: &str) -> Option<(Option<usize>, Option<usize>)> {
    let number = |s: &str| -> Option<Option<usize>> {
        let s = s.trim();
        if s.is_empty() {
            Some(None)
        } else {
            s.parse().ok().map(Some)
        }
    };
    match spec.split_once(',') {
        Some((m, n)) => Some((number(m)?, number(n)?)),
        None => {
            let n = number(spec)??;
            Some((Some(n), Some(n + 1)))
        }
    }
}

/// Keeps what the tree names. A named object or array of objects without a sub-selection keeps
/// only `_class` (as Jenkins does).
pub fn prune(value: &Value, nodes: &[Node]) -> Value {
    match value {
        Value::Object(object) => {
            let mut out = Map::new();
            if let Some(class) = object.get("_class") {
                out.insert("_class".into(), class.clone());
            }
            for node in nodes {
                let keys: Vec<&String> = if node.name == "*" {
                    object.keys().collect()
                } else {
                    object
                        .get_key_value(&node.name)
                        .map(|(k, _)| k)
                        .into_iter()
                        .collect()
                };
                for key in keys {
                    let v = &object[key];
                    out.insert(key.clone(), select(v, node));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| prune(i, nodes)).collect()),
        other => other.clone(),
    }
}

fn select(value: &Value, node: &Node) -> Value {
    let ranged = match (value, node.range) {
        (Value::Array(items), Some((from, to))) => {
            let from = from.unwrap_or(0).min(items.len());
            let to = to.unwrap_or(items.len()).min(items.len()).max(from);
            Value::Array(items[from..to].to_vec())
        }
        _ => value.clone(),
    };
    match (&node.children, &ranged) {
        (Some(children), _) => prune(&ranged, children),
        (None, Value::Object(_)) => prune(&ranged, &[]),
        (None, Value::Array(items)) => Value::Array(
            items
                .iter()
                .map(|i| {
                    if i.is_object() {
                        prune(i, &[])
                    } else {
                        i.clone()
                    }
                })
                .collect(),
        ),
        (None, other) => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_nesting_wildcards_and_ranges() {
        let t = parse("name,builds[number,url]{0,2},jobs[*]").unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[1].range, Some((Some(0), Some(2))));
        assert_eq!(t[1].children.as_ref().unwrap()[1].name, "url");
        assert_eq!(parse("a{3}").unwrap()[0].range, Some((Some(3), Some(4))));
        assert_eq!(parse("a{,5}").unwrap()[0].range, Some((None, Some(5))));
        for bad in ["", "a[b", "a,,b", "a{x}", "a]"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prunes_like_jenkins() {
        let build = json!({"_class": "B", "number": 3, "url": "u", "result": null, "executable": {"_class": "E", "number": 1}, "tags": ["x"]});
        let job = json!({"_class": "J", "name": "app", "builds": [build.clone(), build.clone(), build], "color": "blue"});
        let out = prune(
            &job,
            &parse("name,builds[number,executable,tags]{1,}").unwrap(),
        );
        assert_eq!(
            out,
            json!({"_class": "J", "name": "app", "builds": [
                {"_class": "B", "number": 3, "executable": {"_class": "E"}, "tags": ["x"]},
                {"_class": "B", "number": 3, "executable": {"_class": "E"}, "tags": ["x"]}
            ]})
        );
        assert_eq!(prune(&job, &parse("*").unwrap())["color"], json!("blue"));
        assert_eq!(
            prune(&job, &parse("builds").unwrap())["builds"][0],
            json!({"_class": "B"})
        );
    }
}
