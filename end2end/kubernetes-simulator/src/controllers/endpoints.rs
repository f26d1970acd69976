//! The Endpoints controller: each Service's ready and not-ready pod addresses.

use serde_json::{Value, json};

use crate::objects::Part;
use crate::resources::index_of;
use crate::selectors::LabelSelector;
use crate::store::{Key, State, name_of, uid_of};

use super::pods::pod_is_ready;
use super::{create_internal, write};

pub(super) fn sync_endpoints(state: &mut State, key: &Key) {
    let Some(svc) = state.objects.get(key).cloned() else {
        return;
    };
    let Some(selector) = svc["spec"]["selector"]
        .as_object()
        .filter(|s| !s.is_empty())
    else {
        return;
    };
    let selector = LabelSelector::from_object(&json!({"matchLabels": selector}));
    let ns = &key.1;
    let pods: Vec<Value> = state
        .of_type(index_of("", "pods"), Some(ns))
        .filter(|(_, p)| {
            selector.matches(p["metadata"]["labels"].as_object())
                && p["status"]["podIP"].is_string()
        })
        .map(|(_, p)| p.clone())
        .collect();
    let address = |p: &Value| {
        json!({"ip": p["status"]["podIP"], "nodeName": p["spec"]["nodeName"],
            "targetRef": {"kind": "Pod", "namespace": ns, "name": name_of(p), "uid": uid_of(p)}})
    };
    let ready: Vec<Value> = pods
        .iter()
        .filter(|p| pod_is_ready(p))
        .map(address)
        .collect();
    let not_ready: Vec<Value> = pods
        .iter()
        .filter(|p| !pod_is_ready(p))
        .map(address)
        .collect();
    let ports: Vec<Value> = svc["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let port = p["targetPort"].as_i64().or(p["port"].as_i64()).unwrap_or(0);
            let mut e = json!({"port": port, "protocol": p["protocol"]});
            if let Some(n) = p["name"].as_str() {
                e["name"] = json!(n);
            }
            e
        })
        .collect();
    let mut subset = json!({"ports": ports});
    if !ready.is_empty() {
        subset["addresses"] = json!(ready);
    }
    if !not_ready.is_empty() {
        subset["notReadyAddresses"] = json!(not_ready);
    }
    let subsets = if ready.is_empty() && not_ready.is_empty() {
        json!([])
    } else {
        json!([subset])
    };
    let ep_type = index_of("", "endpoints");
    let name = key.2.clone();
    match state.get(ep_type, ns, &name).cloned() {
        Some(mut ep) => {
            ep["subsets"] = subsets;
            write(state, &(ep_type, ns.clone(), name), ep, Part::Main);
        }
        None => {
            let labels = svc["metadata"]["labels"].clone();
            create_internal(
                state,
                ep_type,
                ns,
                json!({"metadata": {"name": name, "labels": if labels.is_null() { json!({}) } else { labels },
                "annotations": {"simulator.topsail.dev/managed": "true"}}, "subsets": subsets}),
            );
        }
    }
}

pub(super) fn remove_orphaned_endpoints(state: &mut State) {
    let svc_type = index_of("", "services");
    let gone: Vec<Key> = state
        .of_type(index_of("", "endpoints"), None)
        .filter(|(k, ep)| {
            ep["metadata"]["annotations"]["simulator.topsail.dev/managed"] == "true"
                && state.get(svc_type, &k.1, &k.2).is_none()
        })
        .map(|(k, _)| k.clone())
        .collect();
    for k in gone {
        state.remove(&k);
    }
}
