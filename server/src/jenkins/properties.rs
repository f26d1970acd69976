//! Properties files a build archives, read the way igor reads them: JSON, YAML or Java
//! properties, by the file's name.

use serde_json::Value;

/// Reads a properties file the way igor does, by its name: `.json` as JSON, `.yml`/`.yaml` as
/// YAML, anything else as Java properties. The result is a flat or nested JSON object.
pub fn parse_properties(
    file_name: &str,
    bytes: &[u8],
) -> Result<serde_json::Map<String, Value>, String> {
    let text = String::from_utf8_lossy(bytes);
    let lower = file_name.to_ascii_lowercase();
    let value: Value = if lower.ends_with(".json") {
        serde_json::from_str(&text).map_err(|e| format!("{file_name} is not valid JSON: {e}"))?
    } else if lower.ends_with(".yml") || lower.ends_with(".yaml") {
        serde_saphyr::from_str(&text).map_err(|e| format!("{file_name} is not valid YAML: {e}"))?
    } else {
        Value::Object(java_properties(&text))
    };
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(format!("{file_name} does not hold keys and values")),
    }
}

/// `key=value`, `key: value` or `key value`; `#` and `!` comments; `\` line continuations and
/// the common escapes.
fn java_properties(text: &str) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    let mut logical = String::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        let continued = line.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1;
        logical.push_str(if continued {
            &line[..line.len() - 1]
        } else {
            line
        });
        if continued {
            continue;
        }
        let entry = std::mem::take(&mut logical);
        let mut key = String::new();
        let mut chars = entry.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => key.push(unescape(chars.next().unwrap_or('\\'))),
                '=' | ':' => break,
                c if c.is_whitespace() => {
                    while chars.peek().is_some_and(|c| c.is_whitespace()) {
                        chars.next();
                    }
                    if matches!(chars.peek(), Some('=') | Some(':')) {
                        chars.next();
                    }
                    break;
                }
                c => key.push(c),
            }
        }
        let rest: String = chars.collect();
        let mut value = String::new();
        let mut it = rest.trim_start().chars();
        while let Some(c) = it.next() {
            value.push(if c == '\\' {
                unescape(it.next().unwrap_or('\\'))
            } else {
                c
            });
        }
        if !key.is_empty() {
            map.insert(key, Value::String(value));
        }
    }
    map
}

fn unescape(c: char) -> char {
    match c {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn properties_in_three_formats() {
        let p = parse_properties(
            "build.properties",
            b"# built\nIMAGE_TAG=main-7\nCOMMIT : abc123\nNOTE long \\\n  text\nPATH=a\\=b\n\n",
        )
        .unwrap();
        assert_eq!(
            Value::Object(p),
            json!({"IMAGE_TAG": "main-7", "COMMIT": "abc123", "NOTE": "long text", "PATH": "a=b"})
        );
        assert_eq!(
            parse_properties("b.json", br#"{"tag": "v1", "n": 2}"#).unwrap()["n"],
            json!(2)
        );
        assert_eq!(
            parse_properties("b.yaml", b"tag: v1\nlist: [a, b]\n").unwrap()["list"],
            json!(["a", "b"])
        );
        assert!(
            parse_properties("b.json", b"[1]")
                .unwrap_err()
                .contains("does not hold keys")
        );
        assert!(
            parse_properties("b.json", b"{")
                .unwrap_err()
                .contains("not valid JSON")
        );
    }
}
