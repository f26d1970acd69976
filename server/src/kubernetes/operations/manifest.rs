//! Manifests as Topsail applies them (labelled, annotated with Spinnaker's moniker, in their
//! namespace), and what is read from manifests: revisions, label selectors, images.

use domain::environments::DeployOrigin;
use serde_json::{Value, json};

const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
const APP_NAME: &str = "app.kubernetes.io/name";
/// Spinnaker's moniker annotations: which application and cluster a resource belongs to.
pub const MONIKER_APPLICATION: &str = "moniker.spinnaker.io/application";
pub const MONIKER_CLUSTER: &str = "moniker.spinnaker.io/cluster";
pub(super) const REVISION: &str = "deployment.kubernetes.io/revision";
/// Who put a resource where it is (Topsail's own annotations, written at every apply).
pub const DEPLOYED_EXECUTION: &str = "topsail.io/execution-id";
pub const DEPLOYED_PIPELINE_ID: &str = "topsail.io/pipeline-id";
pub const DEPLOYED_PIPELINE_NAME: &str = "topsail.io/pipeline-name";
pub const DEPLOYED_BY: &str = "topsail.io/deployed-by";
pub const DEPLOYED_AT: &str = "topsail.io/deployed-at";
/// The `spec` Topsail applied, as JSON without `replicas` (autoscalers and scale actions change
/// that): what drift is measured against.
pub const APPLIED_SPEC: &str = "topsail.io/applied-spec";

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

/// Records on a prepared manifest who applies it and what its `spec` is (see [`APPLIED_SPEC`]).
pub fn record_origin(body: &mut Value, origin: &DeployOrigin) {
    let mut spec = body["spec"].clone();
    if let Some(s) = spec.as_object_mut() {
        s.remove("replicas");
    }
    let annotations = &mut body["metadata"]["annotations"];
    if !annotations.is_object() {
        *annotations = json!({});
    }
    let mut put = |key: &str, value: &str| {
        if value.is_empty() {
            if let Some(a) = annotations.as_object_mut() {
                a.remove(key);
            }
        } else {
            annotations[key] = json!(value);
        }
    };
    put(DEPLOYED_EXECUTION, &origin.execution_id);
    put(DEPLOYED_PIPELINE_ID, &origin.pipeline_id);
    put(DEPLOYED_PIPELINE_NAME, &origin.pipeline_name);
    put(DEPLOYED_BY, &origin.user);
    put(DEPLOYED_AT, &origin.time.to_rfc3339());
    if spec.is_object() {
        put(APPLIED_SPEC, &spec.to_string());
    }
}

/// Who last applied this resource through Topsail, from its annotations.
pub fn origin_of(object: &Value) -> Option<DeployOrigin> {
    let a = &object["metadata"]["annotations"];
    let text = |key: &str| a[key].as_str().unwrap_or_default().to_owned();
    let time = chrono::DateTime::parse_from_rfc3339(a[DEPLOYED_AT].as_str()?)
        .ok()?
        .with_timezone(&chrono::Utc);
    Some(DeployOrigin {
        execution_id: text(DEPLOYED_EXECUTION),
        pipeline_id: text(DEPLOYED_PIPELINE_ID),
        pipeline_name: text(DEPLOYED_PIPELINE_NAME),
        user: text(DEPLOYED_BY),
        time,
    })
}

/// How the live object departs from the `spec` Topsail last applied (empty when it does not,
/// or Topsail never applied it).
pub fn drift_of(object: &Value) -> Vec<String> {
    let Some(applied) = object["metadata"]["annotations"][APPLIED_SPEC]
        .as_str()
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
    else {
        return Vec::new();
    };
    domain::environments::drift::differences(&applied, &object["spec"])
        .into_iter()
        .map(|path| format!("spec.{path}"))
        .collect()
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
    fn the_origin_and_applied_spec_are_read_back_and_measure_drift() {
        let origin = DeployOrigin {
            execution_id: "01EXEC".into(),
            pipeline_id: "p-1".into(),
            pipeline_name: "Deploy".into(),
            user: "ann".into(),
            time: chrono::DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
        };
        let mut m = json!({"kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "main", "image": "shop:1"}]}}}});
        record_origin(&mut m, &origin);
        assert_eq!(origin_of(&m), Some(origin));
        assert_eq!(drift_of(&m), Vec::<String>::new());
        // Scaled by an autoscaler: not drift. An image set by hand: drift.
        m["spec"]["replicas"] = json!(7);
        assert_eq!(drift_of(&m), Vec::<String>::new());
        m["spec"]["template"]["spec"]["containers"][0]["image"] = json!("shop:hotfix");
        assert_eq!(drift_of(&m), ["spec.template.spec.containers[0].image"]);
        assert_eq!(
            origin_of(&json!({"metadata": {}})),
            None,
            "never applied by Topsail"
        );
        assert_eq!(drift_of(&json!({"spec": {}})), Vec::<String>::new());
    }

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
