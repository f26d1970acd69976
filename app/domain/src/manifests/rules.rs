//! The rules the API server applies beyond the schema, checked before anything is sent: names
//! (DNS-1123), a workload's selector matching its pod labels, unique container, port and volume
//! names, mounts naming volumes, quantities that parse with limits at least the requests, one
//! handler per probe. Values holding a pipeline expression (`${…}`) are checked when the
//! expression has been evaluated, not here.

use serde_json::{Map, Value};

use super::quantity;

/// One broken rule: where (a field path such as `spec.template.spec.containers[0].name`) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub path: String,
    pub message: String,
}

struct Findings(Vec<Finding>);

impl Findings {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Finding {
            path: path.into(),
            message: message.into(),
        });
    }
}

/// Whether `text` is (or holds) a pipeline expression, evaluated only when the stage runs.
pub fn is_expression(text: &str) -> bool {
    text.contains("${")
}

/// A DNS-1123 label: at most 63 lowercase letters, digits and '-', starting and ending with a
/// letter or digit (names of containers, ports' containers, volumes).
pub fn dns_label_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is required".into());
    }
    if name.len() > 63 {
        return Some(format!("'{name}' is longer than 63 characters"));
    }
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let edges = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !name.chars().all(ok_char) || !edges(name.chars().next()) || !edges(name.chars().last()) {
        return Some(format!(
            "'{name}' must be lowercase letters, digits and '-', starting and ending with a letter or digit"
        ));
    }
    None
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 characters (object names).
pub fn dns_subdomain_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is required".into());
    }
    if name.len() > 253 {
        return Some(format!("'{name}' is longer than 253 characters"));
    }
    if name
        .split('.')
        .any(|part| dns_label_problem(part).is_some())
    {
        return Some(format!(
            "'{name}' must be lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
        ));
    }
    None
}

/// The kinds whose pod template the workload rules apply to.
const WORKLOADS: [&str; 4] = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"];

/// Every rule `manifest` breaks.
pub fn check(manifest: &Value) -> Vec<Finding> {
    let mut out = Findings(Vec::new());
    let kind = manifest["kind"].as_str().unwrap_or_default();
    if kind.is_empty() {
        out.add("kind", "is required");
    }
    if manifest["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .is_empty()
    {
        out.add("apiVersion", "is required");
    }
    match &manifest["metadata"]["name"] {
        Value::String(name) if is_expression(name) => {}
        Value::String(name) => {
            if let Some(p) = dns_subdomain_problem(name) {
                out.add("metadata.name", p);
            }
        }
        _ if manifest["metadata"]["generateName"].is_string() => {}
        _ => out.add("metadata.name", "is required"),
    }
    if WORKLOADS.contains(&kind) {
        workload(manifest, &mut out);
    }
    match kind {
        "Pod" => pod_spec(&manifest["spec"], "spec", &mut out),
        "Service" => service(&manifest["spec"], &mut out),
        "HorizontalPodAutoscaler" => autoscaler(&manifest["spec"], &mut out),
        _ => {}
    }
    out.0
}

fn workload(manifest: &Value, out: &mut Findings) {
    let spec = &manifest["spec"];
    let labels = spec["template"]["metadata"]["labels"].as_object();
    match spec["selector"]["matchLabels"].as_object() {
        Some(selector) => {
            for (key, value) in selector {
                if labels.and_then(|l| l.get(key)) != Some(value) {
                    out.add(
                        format!("spec.selector.matchLabels.{key}"),
                        format!(
                            "the selector's {key}={} is not among the pod template's labels (spec.template.metadata.labels)",
                            value.as_str().unwrap_or_default()
                        ),
                    );
                }
            }
        }
        None if spec["selector"]["matchExpressions"].is_array() => {}
        None => out.add(
            "spec.selector",
            "is required: the labels that find this workload's pods",
        ),
    }
    if let Some(replicas) = spec["replicas"].as_i64()
        && replicas < 0
    {
        out.add("spec.replicas", "must be 0 or more");
    }
    if let Some(rolling) = spec["strategy"]["rollingUpdate"].as_object() {
        for field in ["maxSurge", "maxUnavailable"] {
            if let Some(p) = rolling.get(field).and_then(int_or_percent_problem) {
                out.add(format!("spec.strategy.rollingUpdate.{field}"), p);
            }
        }
        let zero = |f: &str| {
            rolling
                .get(f)
                .is_some_and(|v| v == 0 || v == "0%" || v == "0")
        };
        if zero("maxSurge") && zero("maxUnavailable") {
            out.add(
                "spec.strategy.rollingUpdate.maxUnavailable",
                "maxSurge and maxUnavailable cannot both be 0: the rollout could never progress",
            );
        }
    }
    pod_spec(&spec["template"]["spec"], "spec.template.spec", out);
}

/// A number, or a percentage such as `25%`.
fn int_or_percent_problem(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) if n.as_u64().is_some() => None,
        Value::String(s) if is_expression(s) => None,
        Value::String(s)
            if s.strip_suffix('%')
                .is_some_and(|n| n.parse::<u32>().is_ok()) =>
        {
            None
        }
        other => Some(format!(
            "{other} is neither a whole number nor a percentage (e.g. 1 or 25%)"
        )),
    }
}

fn list(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn pod_spec(spec: &Value, at: &str, out: &mut Findings) {
    let volumes: Vec<&str> = list(&spec["volumes"])
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    let mut seen_volumes = Vec::new();
    for (i, volume) in list(&spec["volumes"]).iter().enumerate() {
        let path = format!("{at}.volumes[{i}]");
        unique_name(volume, &path, &mut seen_volumes, "volume", out);
        let sources = volume
            .as_object()
            .map(|o| o.keys().filter(|k| *k != "name").count())
            .unwrap_or(0);
        if sources != 1 {
            out.add(
                path,
                "needs exactly one source (emptyDir, configMap, secret, persistentVolumeClaim, …)",
            );
        }
    }
    let mut seen_containers = Vec::new();
    for list_name in ["initContainers", "containers"] {
        for (i, container) in list(&spec[list_name]).iter().enumerate() {
            let path = format!("{at}.{list_name}[{i}]");
            unique_name(container, &path, &mut seen_containers, "container", out);
            self::container(container, &path, &volumes, out);
        }
    }
    if list(&spec["containers"]).is_empty() {
        out.add(format!("{at}.containers"), "needs at least one container");
    }
}

fn unique_name(item: &Value, path: &str, seen: &mut Vec<String>, what: &str, out: &mut Findings) {
    match item["name"].as_str() {
        Some(name) if is_expression(name) => {}
        Some(name) => {
            if let Some(p) = dns_label_problem(name) {
                out.add(format!("{path}.name"), p);
            } else if seen.iter().any(|s| s == name) {
                out.add(
                    format!("{path}.name"),
                    format!("another {what} is called '{name}'"),
                );
            }
            seen.push(name.to_owned());
        }
        None => out.add(format!("{path}.name"), "is required"),
    }
}

fn container(c: &Value, at: &str, volumes: &[&str], out: &mut Findings) {
    if c["image"].as_str().is_none_or(str::is_empty) {
        out.add(format!("{at}.image"), "is required");
    }
    let mut port_names: Vec<&str> = Vec::new();
    for (i, port) in list(&c["ports"]).iter().enumerate() {
        let path = format!("{at}.ports[{i}]");
        port_number(
            &port["containerPort"],
            &format!("{path}.containerPort"),
            true,
            out,
        );
        if let Some(name) = port["name"].as_str() {
            if name.len() > 15 || dns_label_problem(name).is_some() {
                out.add(
                    format!("{path}.name"),
                    format!("'{name}' must be at most 15 lowercase letters, digits and '-'"),
                );
            } else if port_names.contains(&name) {
                out.add(
                    format!("{path}.name"),
                    format!("another port is called '{name}'"),
                );
            }
            port_names.push(name);
        }
    }
    let mut mount_paths: Vec<&str> = Vec::new();
    for (i, mount) in list(&c["volumeMounts"]).iter().enumerate() {
        let path = format!("{at}.volumeMounts[{i}]");
        match mount["name"].as_str() {
            Some(name) if !is_expression(name) && !volumes.contains(&name) => out.add(
                format!("{path}.name"),
                format!("no volume is called '{name}' (add it under volumes)"),
            ),
            None => out.add(format!("{path}.name"), "is required"),
            _ => {}
        }
        match mount["mountPath"].as_str() {
            Some("") => out.add(format!("{path}.mountPath"), "is required"),
            Some(p) if mount_paths.contains(&p) => out.add(
                format!("{path}.mountPath"),
                format!("another volume is mounted at {p}"),
            ),
            Some(p) => mount_paths.push(p),
            None => out.add(format!("{path}.mountPath"), "is required"),
        }
    }
    for (i, env) in list(&c["env"]).iter().enumerate() {
        let path = format!("{at}.env[{i}]");
        if env["name"].as_str().is_none_or(str::is_empty) {
            out.add(format!("{path}.name"), "is required");
        }
        if env.get("value").is_some() && env.get("valueFrom").is_some() {
            out.add(path, "has both value and valueFrom: keep one");
        }
    }
    resources(&c["resources"], &format!("{at}.resources"), out);
    for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
        if let Some(p) = c.get(probe).and_then(Value::as_object) {
            self::probe(p, &format!("{at}.{probe}"), &port_names, out);
        }
    }
}

fn port_number(value: &Value, path: &str, required: bool, out: &mut Findings) {
    match value {
        Value::Null if !required => {}
        Value::Number(n) if n.as_u64().is_some_and(|p| (1..=65535).contains(&p)) => {}
        Value::String(s) if is_expression(s) => {}
        Value::Null => out.add(path, "is required"),
        other => out.add(path, format!("{other} is not a port (1 to 65535)")),
    }
}

fn resources(resources: &Value, at: &str, out: &mut Findings) {
    let read = |section: &str| -> Vec<(String, Option<f64>)> {
        resources[section]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, value)| {
                let parsed = match value {
                    Value::String(s) if is_expression(s) => None,
                    Value::String(s) => quantity::parse(s).ok(),
                    Value::Number(n) => n.as_f64(),
                    _ => None,
                };
                (name.clone(), parsed)
            })
            .collect()
    };
    for section in ["requests", "limits"] {
        for (name, value) in resources[section].as_object().into_iter().flatten() {
            let problem = match value {
                Value::String(s) if is_expression(s) => None,
                Value::String(s) => quantity::parse(s).err(),
                Value::Number(n) if n.as_f64().is_some_and(|f| f >= 0.0) => None,
                other => Some(format!("{other} is not a quantity (e.g. 500m, 2, 1Gi)")),
            };
            if let Some(p) = problem {
                out.add(format!("{at}.{section}.{name}"), p);
            } else if quantity_value(value).is_some_and(|v| v < 0.0) {
                out.add(format!("{at}.{section}.{name}"), "cannot be negative");
            }
        }
    }
    let requests = read("requests");
    for (name, limit) in read("limits") {
        let request = requests
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| *v);
        if let (Some(limit), Some(request)) = (limit, request)
            && limit < request
        {
            out.add(
                format!("{at}.limits.{name}"),
                format!(
                    "the limit ({}) is less than the request ({})",
                    shown(&resources["limits"][&name]),
                    shown(&resources["requests"][&name])
                ),
            );
        }
    }
}

fn quantity_value(value: &Value) -> Option<f64> {
    match value {
        Value::String(s) => quantity::parse(s).ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn shown(value: &Value) -> String {
    value
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| value.to_string())
}

const HANDLERS: [&str; 4] = ["exec", "httpGet", "tcpSocket", "grpc"];

fn probe(probe: &Map<String, Value>, at: &str, port_names: &[&str], out: &mut Findings) {
    let handlers: Vec<&str> = HANDLERS
        .into_iter()
        .filter(|h| probe.contains_key(*h))
        .collect();
    match handlers.as_slice() {
        [] => out.add(at, "needs a check: exec, httpGet, tcpSocket or grpc"),
        [_] => {}
        many => out.add(
            at,
            format!("has {} checks ({}): keep one", many.len(), many.join(", ")),
        ),
    }
    for handler in ["httpGet", "tcpSocket"] {
        let port = &probe.get(handler).map(|h| &h["port"]);
        match port {
            Some(Value::String(name))
                if !is_expression(name) && !port_names.contains(&name.as_str()) =>
            {
                out.add(
                    format!("{at}.{handler}.port"),
                    format!("no container port is called '{name}'"),
                );
            }
            Some(Value::String(_)) | None => {}
            Some(number) => port_number(number, &format!("{at}.{handler}.port"), true, out),
        }
    }
    for field in [
        "initialDelaySeconds",
        "periodSeconds",
        "timeoutSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        if let Some(v) = probe.get(field)
            && !v
                .as_u64()
                .is_some_and(|n| field == "initialDelaySeconds" || n >= 1)
        {
            out.add(
                format!("{at}.{field}"),
                format!("{v} is not a whole number of at least 1"),
            );
        }
    }
}

fn service(spec: &Value, out: &mut Findings) {
    let ports = list(&spec["ports"]);
    let mut names: Vec<&str> = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let path = format!("spec.ports[{i}]");
        port_number(&port["port"], &format!("{path}.port"), true, out);
        match port["name"].as_str() {
            Some(name) if names.contains(&name) => out.add(
                format!("{path}.name"),
                format!("another port is called '{name}'"),
            ),
            Some(name) => {
                if let Some(p) = dns_label_problem(name) {
                    out.add(format!("{path}.name"), p);
                }
                names.push(name);
            }
            None if ports.len() > 1 => out.add(
                format!("{path}.name"),
                "is required when a Service has several ports",
            ),
            None => {}
        }
    }
    if ports.is_empty() && spec["type"] != "ExternalName" && spec["clusterIP"] != "None" {
        out.add("spec.ports", "needs at least one port");
    }
}

fn autoscaler(spec: &Value, out: &mut Findings) {
    if spec["scaleTargetRef"]["name"]
        .as_str()
        .is_none_or(str::is_empty)
    {
        out.add(
            "spec.scaleTargetRef.name",
            "is required: the workload to scale",
        );
    }
    let min = spec["minReplicas"].as_i64().unwrap_or(1);
    match spec["maxReplicas"].as_i64() {
        Some(max) if max < min => out.add(
            "spec.maxReplicas",
            format!("{max} is less than minReplicas ({min})"),
        ),
        Some(_) => {}
        None => out.add("spec.maxReplicas", "is required"),
    }
    if min < 1 {
        out.add("spec.minReplicas", "must be at least 1");
    }
}
