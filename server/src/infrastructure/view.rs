//! Building an application's view from the cache: namespaces, clusters (Deployments and their
//! ReplicaSets), pods and load balancers, as pure functions of the cached objects.

use std::collections::HashMap;
use std::sync::Arc;

use domain::infrastructure::{
    ClusterView, LoadBalancerView, NamespaceView, PodHealth, PodView, ServerGroupView,
};
use serde_json::Value;

use crate::kubernetes::cache::{CacheKey, application_of};
use crate::kubernetes::operations::{images_of, revision};
use crate::kubernetes::rollout::{RolloutStatus, n, pod_failure, status_of};

fn uid(v: &Value) -> &str {
    v["metadata"]["uid"].as_str().unwrap_or_default()
}

fn name(v: &Value) -> String {
    v["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn owner(v: &Value) -> Option<&str> {
    v["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|o| o["controller"] == Value::Bool(true))
        .and_then(|o| o["uid"].as_str())
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

fn pod_view(pod: &Value) -> PodView {
    let statuses: Vec<&Value> = pod["status"]["containerStatuses"]
        .as_array()
        .map(|s| s.iter().collect())
        .unwrap_or_default();
    let restarts = statuses.iter().map(|s| n(&s["restartCount"])).sum();
    let reason = statuses
        .iter()
        .find_map(|s| {
            s["state"]["waiting"]["reason"]
                .as_str()
                .or(s["state"]["terminated"]["reason"].as_str())
        })
        .or(pod["status"]["reason"].as_str())
        .map(str::to_owned);
    let ready = is_ready(pod);
    let failing =
        pod_failure(std::slice::from_ref(pod)).is_some() || pod["status"]["phase"] == "Failed";
    PodView {
        name: name(pod),
        phase: pod["status"]["phase"]
            .as_str()
            .unwrap_or("Pending")
            .to_owned(),
        ready,
        restarts,
        node: pod["spec"]["nodeName"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        created: pod["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        reason: if ready { None } else { reason },
        health: if ready {
            PodHealth::Up
        } else if failing {
            PodHealth::Down
        } else {
            PodHealth::Starting
        },
        containers: pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_owned))
            .collect(),
    }
}

fn selector_matches(selector: &serde_json::Map<String, Value>, labels: &Value) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Builds the view of one application from cached objects of one account.
pub fn namespaces_of(application: &str, objects: &[(CacheKey, Arc<Value>)]) -> Vec<NamespaceView> {
    let mut by_ns: std::collections::BTreeMap<String, Vec<(&CacheKey, &Value)>> =
        Default::default();
    for (k, v) in objects {
        by_ns.entry(k.namespace.clone()).or_default().push((k, v));
    }
    let mut namespaces = Vec::new();
    for (ns, items) in by_ns {
        let of_kind = |kind: &str| -> Vec<&Value> {
            items
                .iter()
                .filter(|(k, _)| k.kind == kind)
                .map(|(_, v)| *v)
                .collect()
        };
        let mine = |v: &&Value| application_of(v).as_deref() == Some(application);
        let pods = of_kind("Pod");
        let sets = of_kind("ReplicaSet");
        // Children by their controlling owner's uid, so each workload finds its own at once.
        let mut pods_by_owner: HashMap<&str, Vec<&Value>> = HashMap::new();
        for p in &pods {
            if let Some(o) = owner(p) {
                pods_by_owner.entry(o).or_default().push(p);
            }
        }
        let mut sets_by_owner: HashMap<&str, Vec<&Value>> = HashMap::new();
        for rs in &sets {
            if let Some(o) = owner(rs) {
                sets_by_owner.entry(o).or_default().push(rs);
            }
        }
        let owned_pods = |owner_uid: &str| -> Vec<&Value> {
            pods_by_owner.get(owner_uid).cloned().unwrap_or_default()
        };
        let pods_of = |owner_uid: &str| -> Vec<PodView> {
            let mut p: Vec<PodView> = owned_pods(owner_uid).into_iter().map(pod_view).collect();
            p.sort_by(|a, b| a.name.cmp(&b.name));
            p
        };
        let server_group = |rs: &Value| ServerGroupView {
            name: name(rs),
            revision: revision(rs),
            images: images_of(rs),
            desired: n(&rs["spec"]["replicas"]),
            ready: n(&rs["status"]["readyReplicas"]),
            available: n(&rs["status"]["availableReplicas"]),
            pods: pods_of(uid(rs)),
        };
        let mut clusters = Vec::new();
        for kind in ["Deployment", "StatefulSet", "DaemonSet"] {
            for w in of_kind(kind).into_iter().filter(mine) {
                let own_sets = sets_by_owner.get(uid(w)).cloned().unwrap_or_default();
                let mut groups: Vec<ServerGroupView> =
                    own_sets.iter().map(|rs| server_group(rs)).collect();
                groups.sort_by_key(|g| std::cmp::Reverse(g.revision.unwrap_or(0)));
                let newest_pods: Vec<&Value> = match kind {
                    "Deployment" => own_sets
                        .iter()
                        .max_by_key(|rs| revision(rs).unwrap_or(0))
                        .map(|rs| owned_pods(uid(rs)).into_iter().collect())
                        .unwrap_or_default(),
                    _ => owned_pods(uid(w)).into_iter().collect(),
                };
                let (state, message) = match status_of(kind, w, &newest_pods) {
                    RolloutStatus::Stable => ("stable", String::new()),
                    RolloutStatus::Paused => ("paused", "rollout paused".to_owned()),
                    RolloutStatus::Waiting { message } => ("progressing", message),
                    RolloutStatus::Failed { reason } => ("failed", reason),
                };
                let status = &w["status"];
                let (desired, ready, updated, available) = match kind {
                    "DaemonSet" => (
                        n(&status["desiredNumberScheduled"]),
                        n(&status["numberReady"]),
                        n(&status["updatedNumberScheduled"]),
                        n(&status["numberAvailable"]),
                    ),
                    _ => (
                        w["spec"]["replicas"].as_i64().unwrap_or(1),
                        n(&status["readyReplicas"]),
                        n(&status["updatedReplicas"]),
                        n(&status["availableReplicas"]),
                    ),
                };
                clusters.push(ClusterView {
                    kind: kind.to_owned(),
                    name: name(w),
                    moniker: w["metadata"]["annotations"]["moniker.spinnaker.io/cluster"]
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| format!("{} {}", kind.to_ascii_lowercase(), name(w))),
                    desired,
                    ready,
                    updated,
                    available,
                    revision: revision(w),
                    images: images_of(w),
                    state: state.to_owned(),
                    message,
                    server_groups: groups,
                    pods: if kind == "Deployment" {
                        Vec::new()
                    } else {
                        pods_of(uid(w))
                    },
                });
            }
        }
        // ReplicaSets nobody owns are clusters of their own.
        let owners: std::collections::HashSet<&str> = items.iter().map(|(_, v)| uid(v)).collect();
        for rs in sets
            .iter()
            .copied()
            .filter(mine)
            .filter(|rs| owner(rs).is_none_or(|o| !owners.contains(o)))
        {
            let group = server_group(rs);
            clusters.push(ClusterView {
                kind: "ReplicaSet".into(),
                name: group.name.clone(),
                moniker: format!("replicaset {}", group.name),
                desired: group.desired,
                ready: group.ready,
                updated: group.desired,
                available: group.available,
                revision: None,
                images: group.images.clone(),
                state: if group.available >= group.desired {
                    "stable".into()
                } else {
                    "progressing".into()
                },
                message: String::new(),
                server_groups: vec![group],
                pods: Vec::new(),
            });
        }
        let mut load_balancers = Vec::new();
        let services = of_kind("Service");
        let routed = |svc: &Value| -> Vec<PodView> {
            let selector = svc["spec"]["selector"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            let mut p: Vec<PodView> = pods
                .iter()
                .filter(|p| selector_matches(&selector, &p["metadata"]["labels"]))
                .map(|p| pod_view(p))
                .collect();
            p.sort_by(|a, b| a.name.cmp(&b.name));
            p
        };
        for svc in services.iter().copied().filter(mine) {
            let ports: Vec<String> = svc["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let target = match &p["targetPort"] {
                        Value::Null => p["port"].to_string(),
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    format!("{}→{target}", p["port"])
                })
                .collect();
            load_balancers.push(LoadBalancerView {
                kind: "Service".into(),
                name: name(svc),
                detail: format!(
                    "{} {} {}",
                    svc["spec"]["type"].as_str().unwrap_or("ClusterIP"),
                    svc["spec"]["clusterIP"].as_str().unwrap_or("-"),
                    ports.join(", ")
                ),
                pods: routed(svc),
            });
        }
        for ing in of_kind("Ingress").into_iter().filter(mine) {
            let rules = ing["spec"]["rules"].as_array().cloned().unwrap_or_default();
            let hosts: Vec<String> = rules
                .iter()
                .map(|r| r["host"].as_str().unwrap_or("*").to_owned())
                .collect();
            let backends: Vec<String> = rules
                .iter()
                .flat_map(|r| r["http"]["paths"].as_array().cloned().unwrap_or_default())
                .filter_map(|p| p["backend"]["service"]["name"].as_str().map(str::to_owned))
                .chain(
                    ing["spec"]["defaultBackend"]["service"]["name"]
                        .as_str()
                        .map(str::to_owned),
                )
                .collect();
            let mut pods: Vec<PodView> = services
                .iter()
                .filter(|s| backends.contains(&name(s)))
                .flat_map(|s| routed(s))
                .collect();
            pods.dedup_by(|a, b| a.name == b.name);
            load_balancers.push(LoadBalancerView {
                kind: "Ingress".into(),
                name: name(ing),
                detail: format!("{} → {}", hosts.join(", "), backends.join(", ")),
                pods,
            });
        }
        if !clusters.is_empty() || !load_balancers.is_empty() {
            namespaces.push(NamespaceView {
                name: ns,
                clusters,
                load_balancers,
            });
        }
    }
    namespaces
}
