//! The guard run before parsing: refuses the payloads of Spinnaker's expression-injection
//! advisories and expressions nested too deep.

use super::MAX_NESTING;

/// Refuses the payloads of Spinnaker's expression-injection advisories before parsing, outside
/// string literals, with a message naming what was attempted.
pub(super) fn refuse_known_attacks(text: &str) -> Result<(), String> {
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
