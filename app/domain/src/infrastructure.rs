//! What an application runs, as the Infrastructure tab shows it: per account and namespace,
//! clusters (workloads by moniker) → server groups (ReplicaSets) → pods, and the load balancers
//! (Services, Ingresses) with the pods they route to.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InfrastructureView {
    pub application: String,
    pub accounts: Vec<AccountView>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    pub name: String,
    /// `healthy`, `unreachable`, `misconfigured` or `unknown`.
    pub health: String,
    /// Why the account is not healthy, or the cluster version when it is.
    pub health_detail: String,
    pub namespaces: Vec<NamespaceView>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceView {
    pub name: String,
    pub clusters: Vec<ClusterView>,
    pub load_balancers: Vec<LoadBalancerView>,
}

/// A workload: Deployment, StatefulSet, DaemonSet, or a ReplicaSet without a Deployment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterView {
    pub kind: String,
    pub name: String,
    /// Spinnaker's cluster moniker, e.g. `deployment web`.
    pub moniker: String,
    pub desired: i64,
    pub ready: i64,
    pub updated: i64,
    pub available: i64,
    pub revision: Option<i64>,
    pub images: Vec<String>,
    /// `stable`, `paused`, `progressing` or `failed`.
    pub state: String,
    pub message: String,
    pub server_groups: Vec<ServerGroupView>,
    /// Pods owned directly (StatefulSets, DaemonSets).
    pub pods: Vec<PodView>,
}

/// One ReplicaSet: one revision of a Deployment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerGroupView {
    pub name: String,
    pub revision: Option<i64>,
    pub images: Vec<String>,
    pub desired: i64,
    pub ready: i64,
    pub available: i64,
    pub pods: Vec<PodView>,
}

/// How a pod is drawn: green, red or grey.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PodHealth {
    Up,
    Down,
    Starting,
}

impl PodHealth {
    pub fn css(self) -> &'static str {
        match self {
            PodHealth::Up => "pod up",
            PodHealth::Down => "pod down",
            PodHealth::Starting => "pod starting",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodView {
    pub name: String,
    pub phase: String,
    pub ready: bool,
    pub restarts: i64,
    pub node: String,
    pub created: String,
    /// Why the pod is not ready (e.g. `CrashLoopBackOff`), if it says.
    pub reason: Option<String>,
    pub health: PodHealth,
    pub containers: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerView {
    /// `Service` or `Ingress`.
    pub kind: String,
    pub name: String,
    /// e.g. `ClusterIP 10.96.0.12 80→8080` or the Ingress hosts.
    pub detail: String,
    /// Pods it routes to (ready ones for Services; through their Services for Ingresses).
    pub pods: Vec<PodView>,
}

/// One object, as the details panel names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// The application whose view shows it: details and actions are checked against its
    /// permissions and deploy targets.
    #[serde(default)]
    pub application: String,
    pub account: String,
    pub namespace: String,
    pub kind: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectDetails {
    pub object: ObjectRef,
    pub yaml: String,
    pub images: Vec<String>,
    pub conditions: Vec<ConditionView>,
    pub events: Vec<EventView>,
    /// Container names (for pod logs).
    pub containers: Vec<String>,
    /// The object as one would apply it again: without its status and what the API server
    /// keeps for itself (managed fields, uid, resource version, …). What "Edit" opens.
    #[serde(default)]
    pub manifest: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionView {
    pub kind: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub kind: String,
    pub reason: String,
    pub message: String,
    pub count: i64,
    pub last_seen: String,
}

/// An action from the Infrastructure tab.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum InfrastructureAction {
    Scale {
        target: ObjectRef,
        replicas: i32,
    },
    /// Back to `revision`, or to the previous one.
    Undo {
        target: ObjectRef,
        revision: Option<i64>,
    },
    Restart {
        target: ObjectRef,
    },
    Delete {
        target: ObjectRef,
    },
    /// Applies `manifest` (an edit of the target itself: same kind, name and namespace).
    Apply {
        target: ObjectRef,
        manifest: serde_json::Value,
    },
}

impl InfrastructureAction {
    pub fn target(&self) -> &ObjectRef {
        match self {
            Self::Scale { target, .. }
            | Self::Undo { target, .. }
            | Self::Restart { target }
            | Self::Delete { target }
            | Self::Apply { target, .. } => target,
        }
    }

    /// What the task list says while it runs: "Scale deployment web to 4".
    pub fn describe(&self) -> String {
        let t = self.target();
        let what = format!("{} {}", t.kind.to_ascii_lowercase(), t.name);
        match self {
            Self::Scale { replicas, .. } => format!("Scale {what} to {replicas}"),
            Self::Undo {
                revision: Some(r), ..
            } => format!("Undo {what} to revision {r}"),
            Self::Undo { revision: None, .. } => format!("Undo {what} to the previous revision"),
            Self::Restart { .. } => format!("Restart {what}"),
            Self::Delete { .. } => format!("Delete {what}"),
            Self::Apply { .. } => format!("Apply an edit of {what}"),
        }
    }
}

/// JSON as YAML, for reading manifests in the details panel (block style, strings quoted only
/// when they would not read back as the same string).
/// `live` as one would apply it again: without `status` and the metadata the API server keeps
/// for itself.
pub fn editable(live: &serde_json::Value) -> serde_json::Value {
    let mut object = live.clone();
    if let Some(o) = object.as_object_mut() {
        o.remove("status");
    }
    if let Some(m) = object
        .get_mut("metadata")
        .and_then(serde_json::Value::as_object_mut)
    {
        for key in [
            "managedFields",
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "selfLink",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            m.remove(key);
        }
        if let Some(a) = m
            .get_mut("annotations")
            .and_then(serde_json::Value::as_object_mut)
        {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
            a.remove("deployment.kubernetes.io/revision");
        }
    }
    object
}

pub fn to_yaml(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_yaml(value, 0, &mut out, false);
    out
}

fn scalar(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let plain = !s.is_empty()
                && !s.contains(": ")
                && !s.contains(" #")
                && !s.contains('\n')
                && !s.ends_with(':')
                && !s.starts_with([
                    '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'',
                    '"', '%', '@', '`', ' ',
                ])
                && !s.ends_with(' ')
                && !matches!(
                    s.to_ascii_lowercase().as_str(),
                    "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "~"
                )
                && s.parse::<f64>().is_err();
            if plain {
                s.clone()
            } else {
                serde_json::to_string(s).unwrap_or_default()
            }
        }
        _ => String::new(),
    }
}

fn write_yaml(value: &serde_json::Value, indent: usize, out: &mut String, in_list: bool) {
    use serde_json::Value;
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (i, (k, v)) in map.iter().enumerate() {
                let lead = if in_list && i == 0 {
                    String::new()
                } else {
                    pad.clone()
                };
                let key = scalar(&Value::String(k.clone()));
                match v {
                    Value::Object(m) if !m.is_empty() => {
                        out.push_str(&format!("{lead}{key}:\n"));
                        write_yaml(v, indent + 2, out, false);
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out.push_str(&format!("{lead}{key}:\n"));
                        write_yaml(v, indent, out, false);
                    }
                    Value::Object(_) => out.push_str(&format!("{lead}{key}: {{}}\n")),
                    Value::Array(_) => out.push_str(&format!("{lead}{key}: []\n")),
                    _ => out.push_str(&format!("{lead}{key}: {}\n", scalar(v))),
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                match item {
                    Value::Object(m) if !m.is_empty() => {
                        out.push_str(&format!("{pad}- "));
                        write_yaml(item, indent + 2, out, true);
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out.push_str(&format!("{pad}-\n"));
                        write_yaml(item, indent + 2, out, false);
                    }
                    Value::Object(_) => out.push_str(&format!("{pad}- {{}}\n")),
                    Value::Array(_) => out.push_str(&format!("{pad}- []\n")),
                    _ => out.push_str(&format!("{pad}- {}\n", scalar(item))),
                }
            }
        }
        Value::Object(_) => out.push_str(&format!("{pad}{{}}\n")),
        Value::Array(_) => out.push_str(&format!("{pad}[]\n")),
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_reads_like_kubectl() {
        // Keys in sorted order, so the result is the same with or without serde_json's preserve_order.
        let v = json!({"apiVersion": "apps/v1", "metadata": {"annotations": {"a": "1"}, "labels": {}, "name": "web"},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [{"args": ["--port", "8080"], "image": "nginx:1.27", "name": "web"}]}}}});
        let yaml = to_yaml(&v);
        assert_eq!(
            yaml,
            "apiVersion: apps/v1\nmetadata:\n  annotations:\n    a: \"1\"\n  labels: {}\n  name: web\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n      - args:\n        - \"--port\"\n        - \"8080\"\n        image: nginx:1.27\n        name: web\n"
        );
    }

    #[test]
    fn an_editable_object_keeps_what_its_owner_wrote() {
        let live = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "resourceVersion": "7",
                "generation": 3, "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": [{}],
                "labels": {"app": "web"},
                "annotations": {"x-team": "pay", "deployment.kubernetes.io/revision": "3"}},
            "spec": {"replicas": 2, "x-extension": {"keep": true}},
            "status": {"readyReplicas": 2}});
        assert_eq!(
            editable(&live),
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"},
                    "annotations": {"x-team": "pay"}},
                "spec": {"replicas": 2, "x-extension": {"keep": true}}})
        );
    }

    #[test]
    fn actions_describe_themselves() {
        let t = ObjectRef {
            application: "shop".into(),
            account: "prod".into(),
            namespace: "shop".into(),
            kind: "Deployment".into(),
            name: "web".into(),
        };
        assert_eq!(
            InfrastructureAction::Scale {
                target: t.clone(),
                replicas: 4
            }
            .describe(),
            "Scale deployment web to 4"
        );
        assert_eq!(
            InfrastructureAction::Undo {
                target: t,
                revision: None
            }
            .describe(),
            "Undo deployment web to the previous revision"
        );
    }
}
