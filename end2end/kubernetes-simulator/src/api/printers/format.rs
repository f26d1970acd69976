//! How printers format values: ages, selectors, label maps, lists with "+ N more...".

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

pub(super) fn name(o: &Value) -> Value {
    o["metadata"]["name"].clone()
}

pub(super) fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

pub(super) fn count(v: &Value) -> usize {
    v.as_object().map_or(0, serde_json::Map::len)
}

pub(super) fn replicas(o: &Value) -> i64 {
    o["spec"]["replicas"].as_i64().unwrap_or(1)
}

pub(super) fn non_empty(s: &str) -> &str {
    if s.is_empty() { "<none>" } else { s }
}

/// `kubectl get`'s AGE (apimachinery's `duration.HumanDuration`).
pub(super) fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let days = (hours / 24) % 365;
        return if days == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{days}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// The time since an RFC 3339 timestamp, or `<unknown>` without one.
pub(super) fn since(timestamp: &Value, now: DateTime<Utc>) -> String {
    match timestamp
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    {
        Some(t) => human_duration((now - t.with_timezone(&Utc)).num_seconds()),
        None => "<unknown>".into(),
    }
}

pub(super) fn age(o: &Value, now: DateTime<Utc>) -> Value {
    json!(since(&o["metadata"]["creationTimestamp"], now))
}

pub(super) fn template_containers(o: &Value) -> impl Iterator<Item = &Value> {
    o["spec"]["template"]["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
}

pub(super) fn containers(o: &Value) -> Value {
    let names: Vec<&str> = template_containers(o)
        .filter_map(|c| c["name"].as_str())
        .collect();
    json!(names.join(","))
}

pub(super) fn images(o: &Value) -> Value {
    let images: Vec<&str> = template_containers(o)
        .filter_map(|c| c["image"].as_str())
        .collect();
    json!(images.join(","))
}

/// A label map as `k=v,k2=v2` (keys sorted), `<none>` when empty.
pub(super) fn label_map(map: &Value) -> String {
    let mut pairs: Vec<String> = map
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    pairs.sort();
    if pairs.is_empty() {
        "<none>".into()
    } else {
        pairs.join(",")
    }
}

/// A label selector as `metav1.FormatLabelSelector` writes it.
pub(super) fn selector(s: &Value) -> String {
    let mut parts: Vec<(String, String)> = s["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())))
        .collect();
    for e in s["matchExpressions"].as_array().into_iter().flatten() {
        let key = e["key"].as_str().unwrap_or_default().to_owned();
        let mut values: Vec<&str> = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        values.sort();
        let text = match e["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.clone(),
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other}"),
        };
        parts.push((key, text));
    }
    if parts.is_empty() {
        return "<none>".into();
    }
    parts.sort();
    parts
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join(",")
}

/// Up to `max` items joined with `,`, then ` + N more...`; `empty` when there are none.
pub(super) fn list_of(items: &[&str], max: usize, empty: &str) -> String {
    if items.is_empty() {
        return empty.into();
    }
    let shown = items[..items.len().min(max)].join(",");
    if items.len() > max {
        format!("{shown} + {} more...", items.len() - max)
    } else {
        shown
    }
}

/// Load-balancer addresses (the IP, else the hostname), without repeats, sorted.
pub(super) fn load_balancer(status: &Value) -> String {
    let mut addresses: Vec<&str> = status["ingress"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| {
            i["ip"]
                .as_str()
                .filter(|ip| !ip.is_empty())
                .or(i["hostname"].as_str())
        })
        .collect();
    addresses.sort();
    addresses.dedup();
    addresses.join(",")
}

pub(super) fn external_ip(svc: &Value) -> String {
    let spec = &svc["spec"];
    let external: Vec<&str> = spec["externalIPs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    match spec["type"].as_str().unwrap_or("ClusterIP") {
        "ClusterIP" | "NodePort" => {
            if external.is_empty() {
                "<none>".into()
            } else {
                external.join(",")
            }
        }
        "LoadBalancer" => {
            let mut all: Vec<String> = load_balancer(&svc["status"]["loadBalancer"])
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            all.extend(external.iter().map(|s| (*s).to_owned()));
            if all.is_empty() {
                "<pending>".into()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => spec["externalName"].as_str().unwrap_or_default().to_owned(),
        _ => "<unknown>".into(),
    }
}

pub(super) fn service_ports(spec: &Value) -> String {
    let ports: Vec<String> = spec["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let protocol = p["protocol"].as_str().unwrap_or("TCP");
            match p["nodePort"].as_i64().filter(|n| *n > 0) {
                Some(node) => format!("{}:{node}/{protocol}", int(&p["port"])),
                None => format!("{}/{protocol}", int(&p["port"])),
            }
        })
        .collect();
    if ports.is_empty() {
        "<none>".into()
    } else {
        ports.join(",")
    }
}

pub(super) fn endpoint_list(e: &Value) -> String {
    let mut all = Vec::new();
    for subset in e["subsets"].as_array().into_iter().flatten() {
        let ports: Vec<i64> = subset["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| int(&p["port"]))
            .collect();
        for a in subset["addresses"].as_array().into_iter().flatten() {
            let ip = a["ip"].as_str().unwrap_or_default();
            if ports.is_empty() {
                all.push(ip.to_owned());
            }
            for port in &ports {
                all.push(format!("{ip}:{port}"));
            }
        }
    }
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    list_of(&refs, 3, "<none>")
}

/// An autoscaler's TARGETS: each metric of the spec beside the current value at the same index.
pub(super) fn hpa_targets(hpa: &Value) -> String {
    let metrics = hpa["spec"]["metrics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if metrics.is_empty() {
        return "<none>".into();
    }
    let current = hpa["status"]["currentMetrics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let texts: Vec<String> = metrics
        .iter()
        .enumerate()
        .map(|(n, m)| {
            let kind = m["type"].as_str().unwrap_or("Resource");
            let field = match kind {
                "Resource" => "resource",
                "ContainerResource" => "containerResource",
                "Pods" => "pods",
                "Object" => "object",
                "External" => "external",
                _ => return "<unknown type>".to_owned(),
            };
            let (spec, now) = (
                &m[field],
                &current.get(n).cloned().unwrap_or_default()[field],
            );
            let target = &spec["target"];
            let quantity = |v: &Value| v.as_str().map(str::to_owned);
            match kind {
                "Resource" | "ContainerResource" => {
                    let name = spec["name"].as_str().unwrap_or_default();
                    match target["type"].as_str() {
                        Some("AverageValue") => format!(
                            "{name}: {}/{}",
                            quantity(&now["current"]["averageValue"]).unwrap_or("<unknown>".into()),
                            quantity(&target["averageValue"]).unwrap_or_default()
                        ),
                        _ => format!(
                            "{name}: {}/{}",
                            now["current"]["averageUtilization"]
                                .as_i64()
                                .map_or("<unknown>".to_owned(), |u| format!("{u}%")),
                            target["averageUtilization"]
                                .as_i64()
                                .map_or("<auto>".to_owned(), |u| format!("{u}%"))
                        ),
                    }
                }
                "Pods" => format!(
                    "{}/{}",
                    quantity(&now["current"]["averageValue"]).unwrap_or("<unknown>".into()),
                    quantity(&target["averageValue"]).unwrap_or_default()
                ),
                _ => match target["type"].as_str() {
                    Some("AverageValue") => format!(
                        "{}/{} (avg)",
                        quantity(&now["current"]["averageValue"]).unwrap_or("<unknown>".into()),
                        quantity(&target["averageValue"]).unwrap_or_default()
                    ),
                    _ => format!(
                        "{}/{}",
                        quantity(&now["current"]["value"]).unwrap_or("<unknown>".into()),
                        quantity(&target["value"]).unwrap_or_default()
                    ),
                },
            }
        })
        .collect();
    let shown = texts[..texts.len().min(2)].join(", ");
    if texts.len() > 2 {
        format!("{shown} + {} more...", texts.len() - 2)
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_kubectl_prints_them() {
        for (seconds, text) in [
            (-5, "<invalid>"),
            (-1, "0s"),
            (59, "59s"),
            (119, "119s"),
            (120, "2m"),
            (150, "2m30s"),
            (600, "10m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 25 * 60, "3h25m"),
            (30 * 3600, "30h"),
            (3 * 86400 + 5 * 3600, "3d5h"),
            (40 * 86400, "40d"),
            (3 * 365 * 86400 + 10 * 86400, "3y10d"),
        ] {
            assert_eq!(human_duration(seconds), text, "{seconds} s");
        }
    }

    #[test]
    fn selectors_and_ports_format_as_kubectl() {
        assert_eq!(
            selector(&json!({"matchLabels": {"b": "2", "a": "1"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]})),
            "a=1,b=2,tier in (api,web)"
        );
        assert_eq!(selector(&json!({})), "<none>");
        assert_eq!(
            service_ports(
                &json!({"ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "nodePort": 30443}]})
            ),
            "80/TCP,443:30443/TCP"
        );
        assert_eq!(
            list_of(&["a", "b", "c", "d", "e"], 3, "<none>"),
            "a,b,c + 2 more..."
        );
    }
}
