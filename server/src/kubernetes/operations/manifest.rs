//! Manifests as Topsail applies them (labelled, annotated with Spinnaker's moniker, in their
//! namespace), and what is read from manifests: revisions, label selectors, images.

use serde_json::{Value, json};

const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
const APP_NAME: &str = "app.kubernetes.io/name";
/// Spinnaker's moniker annotations: which application and cluster a resource belongs to.
pub const MONIKER_APPLICATION: &str = "moniker.spinnaker.io/application";
pub const MONIKER_CLUSTER: &str = "moniker.spinnaker.io/cluster";
pub(super) const REVISION: &str = "deployment.kubernetes.io/revision";

/// The `deployment.kubernetes.io/revision` of a Deployment or ReplicaSet.
pub fn revision(object: &Value) -> Option<i64> {
    object["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|r| r.parse().ok())
}

pub(super) fn revision_of(rs: &Value) -> i64 {
    revision(rs).unwrap_or(0)
}

/// `matchLabels` and `matchExpressions` as a label-selector query string.
pub fn label_selector(selector: &Value) -> Option<String> {
    let mut terms = Vec::new();
    for (k, v) in selector["matchLabels"].as_object().into_iter().flatten() {
        terms.push(format!("{k}={}", v.as_str().unwrap_or_default()));
    }
    for e in selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let key = e["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        terms.push(match e["operator"].as_str() {
            Some("In") => format!("{key} in ({})", values.join(",")),
            Some("NotIn") => format!("{key} notin ({})", values.join(",")),
            Some("DoesNotExist") => format!("!{key}"),
            _ => key.to_owned(),
        });
    }
    (!terms.is_empty()).then(|| terms.join(","))
}

/// The pod spec of a workload or pod, wherever its kind keeps it.
fn pod_spec(object: &Value) -> Option<&Value> {
    let candidates = [
        &object["spec"]["template"]["spec"],
        &object["spec"]["jobTemplate"]["spec"]["template"]["spec"],
    ];
    candidates.into_iter().find(|s| s.is_object()).or_else(|| {
        object["spec"]["containers"]
            .is_array()
            .then_some(&object["spec"])
    })
}

pub fn images_of(object: &Value) -> Vec<String> {
    let Some(spec) = pod_spec(object) else {
        return Vec::new();
    };
    let mut images = Vec::new();
    for list in ["initContainers", "containers"] {
        for c in spec[list].as_array().into_iter().flatten() {
            if let Some(image) = c["image"].as_str()
                && !images.iter().any(|i| i == image)
            {
                images.push(image.to_owned());
            }
        }
    }
    images
}

/// The manifest as Topsail applies it: labelled and annotated for the application, in
/// `namespace` (None for cluster-scoped kinds).
pub fn prepare(manifest: &Value, application: &str, namespace: Option<&str>) -> Value {
    let mut body = manifest.clone();
    let kind = manifest["kind"].as_str().unwrap_or_default().to_owned();
    let name = manifest["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    label(&mut body, application, &kind, &name);
    match namespace {
        Some(ns) => body["metadata"]["namespace"] = json!(ns),
        None => {
            if let Some(m) = body["metadata"].as_object_mut() {
                m.remove("namespace");
            }
        }
    }
    body
}

/// Adds Topsail's labels and Spinnaker's moniker annotations to a manifest (and its pod
/// template, so pods carry them too).
fn label(manifest: &mut Value, application: &str, kind: &str, name: &str) {
    let cluster = format!("{} {name}", kind.to_ascii_lowercase());
    let mark = |meta: &mut Value| {
        if !meta.is_object() {
            *meta = json!({});
        }
        if !meta["labels"].is_object() {
            meta["labels"] = json!({});
        }
        if !meta["annotations"].is_object() {
            meta["annotations"] = json!({});
        }
        meta["labels"][MANAGED_BY] = json!("topsail");
        if meta["labels"].get(APP_NAME).is_none() {
            meta["labels"][APP_NAME] = json!(application);
        }
        meta["annotations"][MONIKER_APPLICATION] = json!(application);
        meta["annotations"][MONIKER_CLUSTER] = json!(cluster);
    };
    mark(&mut manifest["metadata"]);
    if manifest["spec"]["template"].is_object() {
        mark(&mut manifest["spec"]["template"]["metadata"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_monikers_reach_the_pod_template() {
        let mut m = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "mine"}},
            "spec": {"template": {"spec": {"containers": []}}}});
        label(&mut m, "shop", "Deployment", "web");
        assert_eq!(
            m["metadata"]["labels"][APP_NAME], "mine",
            "a name the user set is kept"
        );
        assert_eq!(m["metadata"]["labels"][MANAGED_BY], "topsail");
        assert_eq!(
            m["metadata"]["annotations"][MONIKER_CLUSTER],
            "deployment web"
        );
        assert_eq!(
            m["spec"]["template"]["metadata"]["annotations"][MONIKER_APPLICATION],
            "shop"
        );
        assert_eq!(
            m["spec"]["template"]["metadata"]["labels"][APP_NAME],
            "shop"
        );
    }

    #[test]
    fn images_and_selectors() {
        let d = json!({"spec": {"selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]},
            "template": {"spec": {"initContainers": [{"image": "migrate:1"}], "containers": [{"image": "web:2"}, {"image": "migrate:1"}]}}}});
        assert_eq!(images_of(&d), ["migrate:1", "web:2"]);
        assert_eq!(
            label_selector(&d["spec"]["selector"]).unwrap(),
            "app=web,tier in (a,b)"
        );
        assert_eq!(
            images_of(&json!({"spec": {"containers": [{"image": "p:1"}]}})),
            ["p:1"]
        );
        assert_eq!(
            images_of(
                &json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "c:1"}]}}}}}})
            ),
            ["c:1"]
        );
    }
}
