//! Building the board from the watch-fed cache, as pure functions: the cached objects are
//! grouped by application once (so the board costs one pass over the cache, not one per
//! application), then each application's workloads are read per deploy target.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use domain::Application;
use domain::environments::{
    ApplicationEnvironments, DeployTarget, DeployedBuild, EnvironmentCell, Health, ImageView,
    WorkloadStatus, mark_promotions, rank, worst,
};
use serde_json::Value;

use crate::kubernetes::cache::{CacheKey, application_of};
use crate::kubernetes::operations::{drift_of, images_of, origin_of};
use crate::kubernetes::rollout::{RolloutStatus, n, pod_failure, status_of};

/// The kinds that are workloads on the board.
const WORKLOADS: &[&str] = &["Deployment", "StatefulSet", "DaemonSet"];

/// One application's cached objects: account → objects.
pub type Owned = BTreeMap<String, Vec<(CacheKey, Arc<Value>)>>;

/// Groups every account's cached objects by the application they belong to (only those of
/// the `wanted` applications, when given).
pub fn group_by_application(
    accounts: impl IntoIterator<Item = (String, Vec<(CacheKey, Arc<Value>)>)>,
    wanted: Option<&HashSet<String>>,
) -> HashMap<String, Owned> {
    let mut by_app: HashMap<String, Owned> = HashMap::new();
    for (account, objects) in accounts {
        for (key, object) in objects {
            if let Some(app) = application_of(&object)
                && wanted.is_none_or(|w| w.contains(&app))
            {
                by_app
                    .entry(app)
                    .or_default()
                    .entry(account.clone())
                    .or_default()
                    .push((key, object));
            }
        }
    }
    by_app
}

/// An application's deploy targets, or, when it names none, where its workloads run (each in
/// the environment its namespace names, in the usual order).
pub fn targets_of(app: &Application, owned: Option<&Owned>) -> Vec<DeployTarget> {
    if !app.deploy_targets.is_empty() {
        return app.deploy_targets.clone();
    }
    let mut found: Vec<DeployTarget> = Vec::new();
    for (account, objects) in owned.into_iter().flatten() {
        for (k, _) in objects {
            if WORKLOADS.contains(&k.kind.as_str())
                && !found
                    .iter()
                    .any(|t| t.account == *account && t.namespace == k.namespace)
            {
                found.push(DeployTarget {
                    account: account.clone(),
                    namespace: k.namespace.clone(),
                    environment: String::new(),
                });
            }
        }
    }
    found.sort_by_key(|t| (rank(&t.environment()).unwrap_or(u8::MAX), t.location()));
    found
}

/// One application's row: a cell per environment, in the order of its targets.
pub fn row(
    app: &Application,
    owned: Option<&Owned>,
    history: &[DeployedBuild],
) -> ApplicationEnvironments {
    let targets = targets_of(app, owned);
    let mut cells: Vec<EnvironmentCell> = Vec::new();
    for target in &targets {
        let environment = target.environment();
        let workloads = workloads_in(owned, &target.account, &target.namespace);
        match cells.iter_mut().find(|c| c.environment == environment) {
            Some(cell) => {
                cell.targets.push(target.location());
                cell.workloads.extend(workloads);
            }
            None => cells.push(EnvironmentCell {
                environment,
                targets: vec![target.location()],
                workloads,
                health: Health::Missing,
                promotion: None,
            }),
        }
    }
    for cell in &mut cells {
        cell.health = cell
            .workloads
            .iter()
            .map(|w| w.health)
            .max()
            .unwrap_or(Health::Missing);
    }
    mark_promotions(&mut cells, history);
    let last_deploy = cells
        .iter()
        .filter_map(EnvironmentCell::last_deploy)
        .max_by_key(|d| d.time)
        .cloned();
    ApplicationEnvironments {
        application: app.name.clone(),
        owner_email: app.owner_email.clone(),
        team: app.team.clone(),
        health: worst(&cells),
        last_deploy,
        environments: cells,
    }
}

fn uid(v: &Value) -> &str {
    v["metadata"]["uid"].as_str().unwrap_or_default()
}

fn controller(v: &Value) -> Option<&str> {
    v["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|o| o["controller"] == Value::Bool(true))
        .and_then(|o| o["uid"].as_str())
}

fn revision(v: &Value) -> i64 {
    crate::kubernetes::operations::revision(v).unwrap_or(0)
}

/// The workloads of the application in one namespace of one account.
fn workloads_in(owned: Option<&Owned>, account: &str, namespace: &str) -> Vec<WorkloadStatus> {
    let Some(objects) = owned.and_then(|o| o.get(account)) else {
        return Vec::new();
    };
    let here: Vec<(&CacheKey, &Value)> = objects
        .iter()
        .filter(|(k, _)| k.namespace == namespace)
        .map(|(k, v)| (k, v.as_ref()))
        .collect();
    let mut by_owner: HashMap<&str, Vec<&Value>> = HashMap::new();
    for (k, v) in &here {
        if matches!(k.kind.as_str(), "Pod" | "ReplicaSet")
            && let Some(o) = controller(v)
        {
            by_owner.entry(o).or_default().push(v);
        }
    }
    let mut workloads = Vec::new();
    for (k, w) in &here {
        if !WORKLOADS.contains(&k.kind.as_str()) {
            continue;
        }
        let owned_by = |o: &str| by_owner.get(o).cloned().unwrap_or_default();
        // The pods of the current revision (a Deployment's newest ReplicaSet).
        let pods: Vec<&Value> = if k.kind == "Deployment" {
            owned_by(uid(w))
                .into_iter()
                .max_by_key(|rs| revision(rs))
                .map(|rs| owned_by(uid(rs)))
                .unwrap_or_default()
        } else {
            owned_by(uid(w))
        };
        workloads.push(workload(account, namespace, &k.kind, w, &pods));
    }
    workloads.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
    workloads
}

/// The digest the pods report for `image` (`…@sha256:…` in a container status's `imageID`).
fn reported_digest<'a>(pods: &[&'a Value], image: &str) -> Option<&'a str> {
    pods.iter()
        .flat_map(|p| {
            p["status"]["containerStatuses"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .filter(|s| s["image"].as_str() == Some(image))
        .find_map(|s| {
            let id = s["imageID"].as_str()?;
            id.rsplit_once('@')
                .map(|(_, d)| d)
                .filter(|d| d.starts_with("sha256:"))
        })
}

fn workload(
    account: &str,
    namespace: &str,
    kind: &str,
    object: &Value,
    pods: &[&Value],
) -> WorkloadStatus {
    let status = &object["status"];
    let (desired, ready) = match kind {
        "DaemonSet" => (
            n(&status["desiredNumberScheduled"]),
            n(&status["numberReady"]),
        ),
        _ => (
            object["spec"]["replicas"].as_i64().unwrap_or(1),
            n(&status["readyReplicas"]),
        ),
    };
    let crash = pod_failure(pods).filter(|r| r.contains("CrashLoopBackOff"));
    let (health, reason) = match (crash, status_of(kind, object, pods)) {
        (Some(reason), _) => (Health::CrashLooping, reason),
        (None, RolloutStatus::Failed { reason }) => (Health::Degraded, reason),
        (None, RolloutStatus::Waiting { message }) => (Health::Progressing, message),
        (None, RolloutStatus::Paused) => (Health::Progressing, "rollout paused".to_owned()),
        (None, RolloutStatus::Stable) if ready < desired => {
            (Health::Degraded, format!("{ready} of {desired} ready"))
        }
        (None, RolloutStatus::Stable) => (Health::Healthy, String::new()),
    };
    WorkloadStatus {
        account: account.to_owned(),
        namespace: namespace.to_owned(),
        kind: kind.to_owned(),
        name: object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        images: images_of(object)
            .iter()
            .map(|i| ImageView::parse(i, reported_digest(pods, i)))
            .collect(),
        ready,
        desired,
        health,
        reason,
        deployed: origin_of(object),
        drift: drift_of(object),
    }
}

#[cfg(test)]
mod tests;
