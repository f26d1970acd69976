//! The manifest editor's form model: reading and writing one field of a Kubernetes manifest by
//! its path (`spec.template.spec.containers[0].resources.limits.cpu`, the same paths the server's
//! problems carry), the text conversions of each kind of input, and the editor's structural
//! changes (objects added with their defaults tied together, containers moved between roles,
//! probe handlers and volume sources switched). It edits the JSON document in place, so every
//! field the form does not show — unknown fields, annotations, `x-` extensions — is kept.

use serde_json::{Map, Value, json};

/// Kinds with a form; the others open in the YAML view.
pub const FORM_KINDS: [&str; 7] = [
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Service",
    "Ingress",
    "ConfigMap",
    "HorizontalPodAutoscaler",
];

/// Whether `kind` is a workload (has a pod template at `spec.template.spec`).
pub fn is_workload(kind: &str) -> bool {
    matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet")
}

pub fn kind_of(doc: &Value) -> &str {
    doc.get("kind").and_then(Value::as_str).unwrap_or_default()
}

pub fn name_of(doc: &Value) -> &str {
    doc.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// `a.b[0].c` as steps (keys hold no dots or brackets: maps such as labels are edited whole).
fn steps(path: &str) -> Vec<Step> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            if open > 0 {
                out.push(Step::Key(rest[..open].to_owned()));
            }
            rest = &rest[open..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let close = stripped.find(']').unwrap_or(stripped.len());
                if let Ok(i) = stripped[..close].parse() {
                    out.push(Step::Index(i));
                }
                rest = stripped.get(close + 1..).unwrap_or_default();
            }
        } else {
            out.push(Step::Key(rest.to_owned()));
        }
    }
    out
}

/// The value at `path`, if there is one.
pub fn get<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    steps(path).iter().try_fold(doc, |v, step| match step {
        Step::Key(k) => v.get(k),
        Step::Index(i) => v.get(i),
    })
}

/// Sets (or with `None` removes) the value at `path`, making the objects on the way. Removing a
/// field also removes the objects it leaves empty on its path (`resources: {limits: {}}`), but
/// never an `emptyDir` (empty is what it means) nor a list's entry.
pub fn set(doc: &mut Value, path: &str, value: Option<Value>) {
    let steps = steps(path);
    let Some((last, parents)) = steps.split_last() else {
        return;
    };
    match value {
        Some(value) => {
            let mut at = doc;
            for step in parents {
                at = match step {
                    Step::Key(k) => {
                        if !at.is_object() {
                            *at = Value::Object(Map::new());
                        }
                        at.as_object_mut()
                            .expect("made an object")
                            .entry(k.clone())
                            .or_insert(Value::Null)
                    }
                    Step::Index(i) => match at.get_mut(*i) {
                        Some(v) => v,
                        None => return,
                    },
                };
            }
            match last {
                Step::Key(k) => {
                    if !at.is_object() {
                        *at = Value::Object(Map::new());
                    }
                    at.as_object_mut()
                        .expect("made an object")
                        .insert(k.clone(), value);
                }
                Step::Index(i) => {
                    if let Some(slot) = at.get_mut(*i) {
                        *slot = value;
                    }
                }
            }
        }
        None => {
            remove(doc, &steps);
        }
    }
}

/// Removes the value at `steps`; answers whether the parent is now an empty object that may go.
fn remove(at: &mut Value, steps: &[Step]) -> bool {
    match steps {
        [] => false,
        [Step::Key(k)] => at
            .as_object_mut()
            .map(|o| {
                o.remove(k);
                o.is_empty()
            })
            .unwrap_or(false),
        [Step::Index(_)] => false,
        [first, rest @ ..] => {
            let (child, prunable) = match first {
                Step::Key(k) => (at.get_mut(k), k != "emptyDir"),
                Step::Index(i) => (at.get_mut(*i), false),
            };
            let Some(child) = child else { return false };
            if remove(child, rest)
                && prunable
                && let (Step::Key(k), Some(o)) = (first, at.as_object_mut())
            {
                o.remove(k);
                return o.is_empty();
            }
            false
        }
    }
}

/// The kinds of input a form field has: how its text maps to the document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// A string; empty removes the field.
    Text,
    /// A whole number.
    Int,
    /// A number or a percentage (`1`, `25%`), as maxSurge and maxUnavailable take.
    IntOrPercent,
    /// A port: a number, or a named port (`targetPort: http`).
    IntOrName,
    /// A resource quantity (`500m`, `1Gi`): kept as typed, read by [`quantity_hint`].
    Quantity,
    /// A list of strings, one per line (command, args).
    Lines,
    /// A map of strings, `key=value` per line (labels, node selector).
    KeyValues,
    /// Any value, as JSON (tolerations, affinity).
    Json,
}

/// The text an input shows for the value at `path`.
pub fn read(doc: &Value, path: &str, input: Input) -> String {
    let Some(v) = get(doc, path) else {
        return String::new();
    };
    match input {
        Input::Lines => v
            .as_array()
            .map(|a| a.iter().map(display).collect::<Vec<_>>().join("\n"))
            .unwrap_or_default(),
        Input::KeyValues => v
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| format!("{k}={}", display(v)))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        Input::Json => serde_json::to_string_pretty(v).unwrap_or_default(),
        _ => display(v),
    }
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Writes `text` (as `input` reads it) at `path`; empty text removes the field. A text the
/// input cannot take changes nothing and says why.
pub fn write(doc: &mut Value, path: &str, input: Input, text: &str) -> Result<(), String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        set(doc, path, None);
        return Ok(());
    }
    let value = match input {
        Input::Text => json!(text),
        Input::Int => json!(
            trimmed
                .parse::<i64>()
                .map_err(|_| format!("'{trimmed}' is not a whole number"))?
        ),
        Input::IntOrPercent => match trimmed.strip_suffix('%') {
            Some(n) if n.parse::<u32>().is_ok() => json!(trimmed),
            Some(_) => return Err(format!("'{trimmed}' is not a percentage (e.g. 25%)")),
            None => json!(trimmed.parse::<i64>().map_err(|_| {
                format!("'{trimmed}' is neither a number nor a percentage (e.g. 1 or 25%)")
            })?),
        },
        Input::IntOrName => match trimmed.parse::<i64>() {
            Ok(n) => json!(n),
            Err(_) => json!(trimmed),
        },
        // Kept as typed: the rules put a bad quantity on its field, as they do for YAML.
        Input::Quantity => json!(trimmed),
        Input::Lines => json!(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .collect::<Vec<_>>()
        ),
        Input::KeyValues => {
            let mut map = Map::new();
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let (k, v) = line
                    .split_once('=')
                    .ok_or_else(|| format!("'{line}' is not key=value"))?;
                map.insert(k.trim().to_owned(), json!(v.trim()));
            }
            Value::Object(map)
        }
        Input::Json => serde_json::from_str(trimmed).map_err(|e| format!("not valid JSON: {e}"))?,
    };
    set(doc, path, Some(value));
    Ok(())
}

/// What a quantity amounts to, for the hint beside its input: "= 0.5 CPU", "= 1 GiB".
pub fn quantity_hint(resource: &str, text: &str) -> String {
    let Ok(value) = crate::model::manifests::quantity::parse(text) else {
        return String::new();
    };
    if resource == "cpu" {
        return format!("= {} CPU", trim_number(value));
    }
    let units = [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    match units.iter().find(|(_, size)| value >= *size as f64) {
        Some((unit, size)) => format!("= {} {unit}", trim_number(value / *size as f64)),
        None => format!("= {} bytes", trim_number(value)),
    }
}

fn trim_number(v: f64) -> String {
    let text = format!("{:.3}", v);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Whether a value holds a `${…}` expression (evaluated when the pipeline runs).
pub fn has_expression(text: &str) -> bool {
    text.contains("${")
}

/// A new object of `kind`, named after `name`, tied to the documents already there: a Service
/// selects the first workload's pod labels on its first container port, an Ingress routes to
/// the first Service, an autoscaler scales the first workload.
pub fn new_object(kind: &str, name: &str, existing: &[Value]) -> Value {
    let workload = existing.iter().find(|d| is_workload(kind_of(d)));
    let labels = workload
        .and_then(|w| get(w, "spec.template.metadata.labels"))
        .cloned()
        .unwrap_or_else(|| json!({"app": name}));
    let port = workload
        .and_then(|w| get(w, "spec.template.spec.containers[0].ports[0].containerPort"))
        .cloned()
        .unwrap_or(json!(8080));
    let service = existing.iter().find(|d| kind_of(d) == "Service");
    let service_port = service
        .and_then(|s| get(s, "spec.ports[0].port"))
        .cloned()
        .unwrap_or(json!(80));
    match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" => {
            let mut w = json!({"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "labels": {"app": name}},
                "spec": {"selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                        "spec": {"containers": [{"name": "main", "image": "", "ports": [{"containerPort": 8080}]}]}}}});
            match kind {
                "Deployment" => {
                    w["spec"]["replicas"] = json!(2);
                    w["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}});
                }
                "StatefulSet" => {
                    w["spec"]["replicas"] = json!(1);
                    w["spec"]["serviceName"] = json!(name);
                }
                _ => {}
            }
            w
        }
        "Service" => json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": labels, "ports": [{"name": "main", "port": port, "targetPort": port}]}}),
        "Ingress" => {
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name},
            "spec": {"rules": [{"host": format!("{name}.example.com"), "http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": service.map(name_of).unwrap_or(name), "port": {"number": service_port}}}}]}}]}})
        }
        "ConfigMap" => {
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("{name}-config")}, "data": {}})
        }
        "HorizontalPodAutoscaler" => {
            json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": workload.map(kind_of).unwrap_or("Deployment"), "name": workload.map(name_of).unwrap_or(name)},
                "minReplicas": 2, "maxReplicas": 5,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]}})
        }
        _ => json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}),
    }
}

/// Where a container sits: the main container (the first of `containers`), a sidecar (the
/// others) or an init container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Main,
    Sidecar,
    Init,
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Main => "main",
            Role::Sidecar => "sidecar",
            Role::Init => "init",
        }
    }
}

/// The containers of a workload: their path, name and role, in the order the form shows them.
pub fn containers(doc: &Value) -> Vec<(String, String, Role)> {
    let mut out = Vec::new();
    for (list, first, rest) in [
        ("containers", Role::Main, Role::Sidecar),
        ("initContainers", Role::Init, Role::Init),
    ] {
        let path = format!("spec.template.spec.{list}");
        for (i, c) in get(doc, &path)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
            let role = if i == 0 { first } else { rest };
            out.push((format!("{path}[{i}]"), name.to_owned(), role));
        }
    }
    out
}

fn list_mut<'a>(doc: &'a mut Value, path: &str) -> Option<&'a mut Vec<Value>> {
    if get(doc, path).is_none() {
        set(doc, path, Some(json!([])));
    }
    let steps = steps(path);
    let mut at = doc;
    for step in &steps {
        at = match step {
            Step::Key(k) => at.get_mut(k)?,
            Step::Index(i) => at.get_mut(*i)?,
        };
    }
    at.as_array_mut()
}

/// Appends `item` to the list at `path` (made when missing).
pub fn push(doc: &mut Value, path: &str, item: Value) {
    if let Some(list) = list_mut(doc, path) {
        list.push(item);
    }
}

/// Removes entry `index` of the list at `path`; an emptied list goes too.
pub fn remove_at(doc: &mut Value, path: &str, index: usize) {
    let emptied = match list_mut(doc, path) {
        Some(list) if index < list.len() => {
            list.remove(index);
            list.is_empty()
        }
        _ => false,
    };
    if emptied {
        set(doc, path, None);
    }
}

/// Moves entry `index` of the list at `path` one place up (or down).
pub fn move_entry(doc: &mut Value, path: &str, index: usize, up: bool) {
    if let Some(list) = list_mut(doc, path) {
        let other = if up {
            index.checked_sub(1)
        } else {
            Some(index + 1)
        };
        if let Some(other) = other.filter(|o| *o < list.len())
            && index < list.len()
        {
            list.swap(index, other);
        }
    }
}

/// Moves the container at `path` (`…containers[i]` or `…initContainers[i]`) to the list of
/// `role`: init containers run before the others; a main container is the first of the list.
pub fn set_role(doc: &mut Value, path: &str, role: Role) {
    let Some((list, index)) = path
        .rsplit_once('[')
        .and_then(|(l, i)| Some((l.to_owned(), i.trim_end_matches(']').parse().ok()?)))
    else {
        return;
    };
    let Some(container) = get(doc, path).cloned() else {
        return;
    };
    let target = match role {
        Role::Init => "spec.template.spec.initContainers",
        Role::Main | Role::Sidecar => "spec.template.spec.containers",
    };
    remove_at(doc, &list, index);
    match role {
        Role::Main => {
            if let Some(l) = list_mut(doc, target) {
                l.insert(0, container);
            }
        }
        _ => push(doc, target, container),
    }
}

/// Which handler a probe uses: `tcpSocket`, `httpGet`, `exec`, `grpc` or none.
pub fn probe_handler(probe: Option<&Value>) -> &'static str {
    let Some(p) = probe else { return "" };
    ["tcpSocket", "httpGet", "exec", "grpc"]
        .into_iter()
        .find(|h| p.get(h).is_some())
        .unwrap_or("")
}

/// Gives the probe at `path` the handler `handler` (its timings kept), or removes the probe
/// when `handler` is empty. A new TCP or HTTP check looks at `port`.
pub fn set_probe_handler(doc: &mut Value, path: &str, handler: &str, port: Value) {
    if handler.is_empty() {
        set(doc, path, None);
        return;
    }
    let mut probe = get(doc, path)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for h in ["tcpSocket", "httpGet", "exec", "grpc"] {
        probe.remove(h);
    }
    let body = match handler {
        "tcpSocket" => json!({"port": port}),
        "httpGet" => json!({"path": "/", "port": port, "scheme": "HTTP"}),
        "exec" => json!({"command": []}),
        _ => json!({"port": port}),
    };
    probe.insert(handler.to_owned(), body);
    set(doc, path, Some(Value::Object(probe)));
}

/// The volume sources the form offers.
pub const VOLUME_SOURCES: [&str; 4] = ["emptyDir", "configMap", "secret", "persistentVolumeClaim"];

/// Which source a volume has (one of [`VOLUME_SOURCES`], or another kind the YAML view edits).
pub fn volume_source(volume: &Value) -> String {
    volume
        .as_object()
        .and_then(|o| o.keys().find(|k| *k != "name").cloned())
        .unwrap_or_default()
}

/// Gives the volume at `path` the source `source` (with what it needs, named after the volume).
pub fn set_volume_source(doc: &mut Value, path: &str, source: &str) {
    let Some(volume) = get(doc, path).and_then(Value::as_object) else {
        return;
    };
    let name = volume.get("name").cloned().unwrap_or(json!(""));
    let body = match source {
        "configMap" => json!({"name": name}),
        "secret" => json!({"secretName": name}),
        "persistentVolumeClaim" => json!({"claimName": name}),
        _ => json!({}),
    };
    let mut v = Map::new();
    v.insert("name".into(), name);
    v.insert(source.to_owned(), body);
    set(doc, path, Some(Value::Object(v)));
}

/// Where an environment variable's value comes from: `value`, `configMapKeyRef`,
/// `secretKeyRef`, or another `valueFrom` the YAML view edits.
pub fn env_source(env: &Value) -> String {
    match env.get("valueFrom").and_then(Value::as_object) {
        Some(from) => from.keys().next().cloned().unwrap_or_default(),
        None => "value".into(),
    }
}

/// Switches the variable at `path` to take its value from `source`.
pub fn set_env_source(doc: &mut Value, path: &str, source: &str) {
    let Some(name) = get(doc, path).and_then(|e| e.get("name")).cloned() else {
        return;
    };
    let env = match source {
        "configMapKeyRef" | "secretKeyRef" => {
            json!({"name": name, "valueFrom": {source: {"name": "", "key": ""}}})
        }
        _ => json!({"name": name, "value": ""}),
    };
    set(doc, path, Some(env));
}

/// The update strategy field of a workload kind (`strategy` for Deployments,
/// `updateStrategy` otherwise).
pub fn strategy_path(kind: &str) -> &'static str {
    if kind == "Deployment" {
        "spec.strategy"
    } else {
        "spec.updateStrategy"
    }
}

/// Sets the update strategy type; a rolling update keeps its settings, another type drops them.
pub fn set_strategy(doc: &mut Value, kind: &str, strategy: &str) {
    let path = strategy_path(kind);
    let rolling = get(doc, &format!("{path}.rollingUpdate")).cloned();
    let mut s = json!({"type": strategy});
    if strategy == "RollingUpdate" {
        s["rollingUpdate"] = rolling.unwrap_or_else(|| match kind {
            "Deployment" => json!({"maxSurge": "25%", "maxUnavailable": "25%"}),
            "StatefulSet" => json!({"partition": 0}),
            _ => json!({"maxUnavailable": 1}),
        });
    }
    set(doc, path, Some(s));
}

#[cfg(test)]
mod tests;
