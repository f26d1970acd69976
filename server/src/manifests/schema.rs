//! The Kubernetes schema, as k8s-openapi's types hold it: a document of a kind it knows is read
//! into its type (the first field that does not fit is named by its path, through
//! serde_path_to_error), and read back to find the fields the type does not have (kept as
//! written, reported as warnings: a typo such as `replica:` is silently ignored by the API server
//! otherwise). Kinds it does not know (custom resources) are not checked here.

use k8s_openapi::api::{apps, autoscaling, batch, core, networking, policy};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A field that does not fit the schema, or one it does not know.
#[derive(Debug, PartialEq, Eq)]
pub struct SchemaFinding {
    pub path: String,
    pub message: String,
    /// Unknown fields are kept and applied as written (the API server drops them): a warning.
    pub unknown: bool,
}

/// What the schema says of `manifest`; nothing for kinds without a type here.
pub fn check(manifest: &Value) -> Vec<SchemaFinding> {
    let api_version = manifest["apiVersion"].as_str().unwrap_or_default();
    let kind = manifest["kind"].as_str().unwrap_or_default();
    macro_rules! kinds {
        ($( ($v:literal, $k:literal) => $t:ty ),* $(,)?) => {
            match (api_version, kind) {
                $( ($v, $k) => typed::<$t>(manifest, $k), )*
                _ => Vec::new(),
            }
        };
    }
    kinds! {
        ("apps/v1", "Deployment") => apps::v1::Deployment,
        ("apps/v1", "StatefulSet") => apps::v1::StatefulSet,
        ("apps/v1", "DaemonSet") => apps::v1::DaemonSet,
        ("apps/v1", "ReplicaSet") => apps::v1::ReplicaSet,
        ("v1", "Service") => core::v1::Service,
        ("v1", "ConfigMap") => core::v1::ConfigMap,
        ("v1", "Secret") => core::v1::Secret,
        ("v1", "Pod") => core::v1::Pod,
        ("v1", "ServiceAccount") => core::v1::ServiceAccount,
        ("v1", "PersistentVolumeClaim") => core::v1::PersistentVolumeClaim,
        ("v1", "Namespace") => core::v1::Namespace,
        ("networking.k8s.io/v1", "Ingress") => networking::v1::Ingress,
        ("autoscaling/v2", "HorizontalPodAutoscaler") => autoscaling::v2::HorizontalPodAutoscaler,
        ("batch/v1", "Job") => batch::v1::Job,
        ("batch/v1", "CronJob") => batch::v1::CronJob,
        ("policy/v1", "PodDisruptionBudget") => policy::v1::PodDisruptionBudget,
    }
}

/// What an expression (`"${parameters.replicas}"`, evaluated when the run deploys) stands in for
/// while the schema is checked, tried in turn until the field takes one: a number, nothing, a
/// flag, a mapping, a list.
const STAND_INS: [fn() -> Value; 5] = [
    || Value::from(0),
    || Value::Null,
    || Value::Bool(false),
    || Value::Object(Default::default()),
    || Value::Array(Vec::new()),
];

/// At most this many stand-ins are tried in one document (each try reads it again).
const MAX_STAND_INS: usize = 64;

fn typed<T: DeserializeOwned + Serialize>(manifest: &Value, kind: &str) -> Vec<SchemaFinding> {
    // A field holding an expression is the run's to fill: it gets stand-ins until one fits.
    let mut checked = manifest.clone();
    let mut tried: Vec<(String, usize)> = Vec::new();
    let result = loop {
        match serde_path_to_error::deserialize::<_, T>(&checked) {
            Err(e) if tried.len() < MAX_STAND_INS => {
                let path = e.path().to_string();
                let is_expression = pointer(&path)
                    .and_then(|p| manifest.pointer(&p))
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.contains("${"));
                let next = tried
                    .iter()
                    .rev()
                    .find(|(p, _)| *p == path)
                    .map_or(0, |(_, n)| n + 1);
                match (is_expression, STAND_INS.get(next)) {
                    (true, Some(stand_in)) => {
                        if let Some(slot) = pointer(&path).and_then(|p| checked.pointer_mut(&p)) {
                            *slot = stand_in();
                        }
                        tried.push((path, next));
                    }
                    _ => break Err(e),
                }
            }
            other => break other,
        }
    };
    match result {
        Err(e) => {
            let path = e.path().to_string();
            vec![SchemaFinding {
                path: if path == "." { String::new() } else { path },
                message: e.into_inner().to_string(),
                unknown: false,
            }]
        }
        Ok(object) => {
            let known = serde_json::to_value(&object).unwrap_or(Value::Null);
            let mut out = Vec::new();
            unknown_fields(manifest, &known, String::new(), kind, &mut out);
            out
        }
    }
}

/// A path as serde_path_to_error writes it (`spec.ports[0].port`) as a JSON pointer.
fn pointer(path: &str) -> Option<String> {
    if path == "." || path.is_empty() {
        return None;
    }
    let mut out = String::new();
    for part in path.split('.') {
        let (key, indices) = part.split_once('[').unwrap_or((part, ""));
        if !key.is_empty() {
            out.push('/');
            out.push_str(&key.replace('~', "~0").replace('/', "~1"));
        }
        for index in indices.split('[').filter(|i| !i.is_empty()) {
            out.push('/');
            out.push_str(index.trim_end_matches(']'));
        }
    }
    Some(out)
}

/// Fields of `written` that reading into the type lost.
fn unknown_fields(
    written: &Value,
    known: &Value,
    path: String,
    kind: &str,
    out: &mut Vec<SchemaFinding>,
) {
    match (written, known) {
        (Value::Object(w), Value::Object(k)) => {
            for (key, value) in w {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match k.get(key) {
                    Some(known_value) => unknown_fields(value, known_value, child, kind, out),
                    None if value.is_null() => {}
                    None => out.push(SchemaFinding {
                        message: format!("{kind} has no field {child} (kept as written; the API server ignores it)"),
                        path: child,
                        unknown: true,
                    }),
                }
            }
        }
        (Value::Array(w), Value::Array(k)) => {
            for (i, (wv, kv)) in w.iter().zip(k).enumerate() {
                unknown_fields(wv, kv, format!("{path}[{i}]"), kind, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_field_of_the_wrong_type_is_named_by_its_path() {
        let m = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": "eighty"}]}]}}}});
        let findings = check(&m);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(
            findings[0].path,
            "spec.template.spec.containers[0].ports[0].containerPort"
        );
        assert!(!findings[0].unknown);
        assert!(
            findings[0].message.contains("eighty"),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn unknown_fields_are_warned_about_and_known_ones_are_not() {
        let m = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "annotations": {"x-team": "shop"}, "labels": {"app": "web"}},
            "spec": {"replica": 3, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "a", "image": "x", "x-note": "kept", "resources": {"limits": {"cpu": "1"}}}],
                             "volumes": [{"name": "v", "emptyDir": {}}]}}}});
        let findings = check(&m);
        let shown: Vec<(&str, bool)> = findings
            .iter()
            .map(|f| (f.path.as_str(), f.unknown))
            .collect();
        assert_eq!(
            shown,
            [
                ("spec.replica", true),
                ("spec.template.spec.containers[0].x-note", true)
            ]
        );
        assert_eq!(
            findings[0].message,
            "Deployment has no field spec.replica (kept as written; the API server ignores it)"
        );
    }

    #[test]
    fn expressions_wait_for_the_run_wherever_they_stand() {
        let m = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": "${parameters.replicas}", "paused": "${parameters.paused}", "selector": {},
                "template": {"spec": {"containers": [{"name": "a", "image": "${trigger.artifacts[0].reference}",
                    "ports": [{"containerPort": "${parameters.port}"}, {"containerPort": "eighty"}]}]}}}});
        let findings = check(&m);
        let paths: Vec<&str> = findings.iter().map(|f| f.path.as_str()).collect();
        // Only the plain text where a number belongs is a problem.
        assert_eq!(
            paths,
            ["spec.template.spec.containers[0].ports[1].containerPort"]
        );
        assert_eq!(
            pointer("spec.template.spec.containers[0].ports[1].containerPort").as_deref(),
            Some("/spec/template/spec/containers/0/ports/1/containerPort")
        );
    }

    #[test]
    fn kinds_without_a_type_are_not_checked() {
        let crd = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": "big"}});
        assert_eq!(check(&crd), vec![]);
        let hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"}, "maxReplicas": 3}});
        assert_eq!(check(&hpa), vec![]);
    }
}
