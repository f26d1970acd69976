//! Drift: how a live object differs from what Topsail last applied. The API server adds
//! defaults and status, so only what the applied manifest sets is compared: each value it sets
//! must be there as applied (resource quantities by their amount: `0.5` is `500m`), and each
//! list it sets must have as many entries.

use serde_json::Value;

/// At most this many differing fields are named.
pub const MAX_REPORTED: usize = 10;

/// The paths (`spec.template.spec.containers[0].image`) where `live` departs from `applied`,
/// sorted, at most [`MAX_REPORTED`] (the walk stops once it has found more).
pub fn differences(applied: &Value, live: &Value) -> Vec<String> {
    let mut found = Vec::new();
    // An explicit stack: manifests nest as deep as their author made them.
    let mut stack: Vec<(String, &Value, &Value)> = vec![(String::new(), applied, live)];
    while let Some((path, a, l)) = stack.pop() {
        if found.len() > MAX_REPORTED {
            break;
        }
        match (a, l) {
            (Value::Object(a), Value::Object(l)) => {
                for (k, av) in a.iter().rev() {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    match l.get(k) {
                        Some(lv) => stack.push((p, av, lv)),
                        None if av.is_null() => {}
                        None => found.push(p),
                    }
                }
            }
            (Value::Array(a), Value::Array(l)) if a.len() == l.len() => {
                for (i, (av, lv)) in a.iter().zip(l).enumerate().rev() {
                    stack.push((format!("{path}[{i}]"), av, lv));
                }
            }
            (a, l) if same_scalar(a, l) => {}
            _ => found.push(if path.is_empty() { ".".into() } else { path }),
        }
    }
    found.sort();
    found.truncate(MAX_REPORTED);
    found
}

fn same_scalar(a: &Value, l: &Value) -> bool {
    if a == l {
        return true;
    }
    let amount = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => crate::manifests::quantity::parse(s).ok(),
        _ => None,
    };
    // Only quantities and numbers written as text: `"1Gi"` and `1073741824`, `0.5` and `"500m"`.
    matches!(
        (a, l),
        (
            Value::String(_) | Value::Number(_),
            Value::String(_) | Value::Number(_)
        )
    ) && matches!((amount(a), amount(l)), (Some(x), Some(y)) if (x - y).abs() <= f64::EPSILON * x.abs().max(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(image: &str, replicas: i64) -> Value {
        json!({"replicas": replicas, "template": {"spec": {"containers": [
            {"name": "main", "image": image, "resources": {"requests": {"cpu": "0.5", "memory": "1Gi"}}}]}}})
    }

    #[test]
    fn defaults_added_by_the_api_server_are_not_drift() {
        let applied = deployment("shop:1", 2);
        let mut live = deployment("shop:1", 2);
        live["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("IfNotPresent");
        live["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!("500m");
        live["strategy"] = json!({"type": "RollingUpdate"});
        assert_eq!(differences(&applied, &live), Vec::<String>::new());
    }

    #[test]
    fn a_changed_image_or_scale_is_named_by_its_path() {
        let applied = deployment("shop:1", 2);
        let live = deployment("shop:2", 5);
        assert_eq!(
            differences(&applied, &live),
            ["replicas", "template.spec.containers[0].image"]
        );
    }

    #[test]
    fn removed_fields_and_list_entries_are_drift() {
        let applied = json!({"a": {"b": 1}, "list": [1, 2]});
        assert_eq!(
            differences(&applied, &json!({"a": {}, "list": [1]})),
            ["a.b", "list"]
        );
        assert_eq!(
            differences(&json!({"x": null}), &json!({})),
            Vec::<String>::new()
        );
        assert_eq!(differences(&json!(1), &json!("one")), ["."]);
    }

    #[test]
    fn at_most_ten_are_named() {
        let applied: serde_json::Map<String, Value> =
            (0..30).map(|i| (format!("k{i:02}"), json!(i))).collect();
        let found = differences(&Value::Object(applied), &json!({}));
        assert_eq!(found.len(), MAX_REPORTED);
        assert!(found.windows(2).all(|w| w[0] < w[1]), "sorted");
    }
}
