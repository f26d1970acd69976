//! Defaulting: the values the real API server fills in for the kinds a delivery system uses.

use serde_json::{Value, json};

use crate::resources::TYPES;
use crate::store::State;

/// Fills in the defaults the real API server applies to the kinds whose defaults matter to a
/// delivery system.
pub fn apply_defaults(type_index: usize, object: &mut Value, state: &mut State) {
    let t = &TYPES[type_index];
    let ensure = |v: &mut Value, key: &str, default: Value| {
        if v.get(key).is_none_or(Value::is_null) {
            v[key] = default;
        }
    };
    let default_pod_spec = |spec: &mut Value| {
        ensure(spec, "restartPolicy", json!("Always"));
        ensure(spec, "dnsPolicy", json!("ClusterFirst"));
        ensure(spec, "terminationGracePeriodSeconds", json!(30));
        for c in spec["containers"].as_array_mut().into_iter().flatten() {
            let latest = c["image"]
                .as_str()
                .is_some_and(|i| !i.contains(':') || i.ends_with(":latest"));
            ensure(
                c,
                "imagePullPolicy",
                json!(if latest { "Always" } else { "IfNotPresent" }),
            );
            ensure(c, "terminationMessagePath", json!("/dev/termination-log"));
            for p in c["ports"].as_array_mut().into_iter().flatten() {
                ensure(p, "protocol", json!("TCP"));
            }
        }
    };
    match (t.group, t.plural) {
        ("apps", "deployments") => {
            let spec = &mut object["spec"];
            ensure(spec, "replicas", json!(1));
            ensure(spec, "revisionHistoryLimit", json!(10));
            ensure(spec, "progressDeadlineSeconds", json!(600));
            ensure(spec, "strategy", json!({"type": "RollingUpdate"}));
            if spec["strategy"]["type"] == "RollingUpdate" {
                ensure(&mut spec["strategy"], "rollingUpdate", json!({}));
                ensure(
                    &mut spec["strategy"]["rollingUpdate"],
                    "maxUnavailable",
                    json!("25%"),
                );
                ensure(
                    &mut spec["strategy"]["rollingUpdate"],
                    "maxSurge",
                    json!("25%"),
                );
            }
            default_pod_spec(&mut spec["template"]["spec"]);
        }
        ("apps", "replicasets") | ("apps", "statefulsets") | ("apps", "daemonsets") => {
            let spec = &mut object["spec"];
            if t.plural != "daemonsets" {
                ensure(spec, "replicas", json!(1));
            }
            if t.plural == "statefulsets" {
                ensure(spec, "podManagementPolicy", json!("OrderedReady"));
                ensure(
                    spec,
                    "updateStrategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
                );
                ensure(spec, "revisionHistoryLimit", json!(10));
            }
            if t.plural == "daemonsets" {
                ensure(
                    spec,
                    "updateStrategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
                );
                ensure(spec, "revisionHistoryLimit", json!(10));
            }
            default_pod_spec(&mut spec["template"]["spec"]);
        }
        ("", "pods") => default_pod_spec(&mut object["spec"]),
        ("", "services") => {
            let spec = &mut object["spec"];
            ensure(spec, "type", json!("ClusterIP"));
            ensure(spec, "sessionAffinity", json!("None"));
            if spec.get("clusterIP").is_none_or(Value::is_null) {
                let n = state.rv % 60_000;
                let ip = format!("10.96.{}.{}", n / 250, n % 250 + 2);
                spec["clusterIP"] = json!(ip);
                spec["clusterIPs"] = json!([ip]);
            }
            for p in spec["ports"].as_array_mut().into_iter().flatten() {
                ensure(p, "protocol", json!("TCP"));
                let port = p["port"].clone();
                ensure(p, "targetPort", port);
            }
        }
        _ => {}
    }
}
