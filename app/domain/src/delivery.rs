//! Delivery history, read from stored executions (the executions are the record; nothing else
//! is kept): each deploy of an image to an environment with where the image came from and who
//! approved it; from it, the path of each image to production and the delivery metrics
//! (deployment frequency, lead time, change failure rate, time to restore).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::environments::{DeployTarget, DeployedBuild, ImageView, derive_environment};
use crate::execution::{Execution, Stage, StageType, Status};

pub mod metrics;

/// Where a build came from: the CI job and build, and the commit and branch when the build
/// reported them (as a parameter or a build property).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildSource {
    pub job: String,
    pub number: u64,
    pub url: String,
    pub commit: String,
    pub branch: String,
    /// When the build finished (Jenkins' start time plus its duration).
    pub finished: Option<DateTime<Utc>>,
}

/// What a deploy did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeployKind {
    /// A `deployManifest` stage.
    Deploy,
    /// An `undoRolloutManifest` stage: back to an earlier revision.
    Rollback,
}

/// One deploy stage that ended, as the history keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployEvent {
    pub execution_id: String,
    pub pipeline_name: String,
    pub user: String,
    pub environment: String,
    /// `account/namespace`.
    pub location: String,
    pub kind: DeployKind,
    pub images: Vec<String>,
    /// The images' identities (digest, else reference), sorted and joined by spaces, as the
    /// board's cells name what they run.
    pub build: String,
    pub time: DateTime<Utc>,
    pub succeeded: bool,
    pub source: Option<BuildSource>,
    /// Who let it through the last manual judgment before it in its execution.
    pub approved_by: Option<String>,
}

fn text(v: Option<&Value>) -> &str {
    v.and_then(Value::as_str).unwrap_or_default()
}

fn at(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

/// The containers' images of a manifest (workload, pod or pod template), init containers first.
pub fn images_in(object: &Value) -> Vec<String> {
    let spec = [
        &object["spec"]["template"]["spec"],
        &object["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        &object["spec"],
    ]
    .into_iter()
    .find(|s| s["containers"].is_array());
    let mut images: Vec<String> = Vec::new();
    for list in ["initContainers", "containers"] {
        for c in spec.and_then(|s| s[list].as_array()).into_iter().flatten() {
            if let Some(image) = c["image"].as_str()
                && !images.iter().any(|i| i == image)
            {
                images.push(image.to_owned());
            }
        }
    }
    images
}

/// The build identity of a set of images, as [`DeployEvent::build`].
pub fn build_of(images: &[String]) -> String {
    let mut ids: Vec<String> = images
        .iter()
        .map(|i| ImageView::parse(i, None).identity().to_owned())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.join(" ")
}

/// The environment of `account/namespace`: the application's target there, else derived.
fn environment_of(targets: &[DeployTarget], account: &str, namespace: &str) -> String {
    targets
        .iter()
        .find(|t| t.account == account && t.namespace == namespace)
        .map(DeployTarget::environment)
        .unwrap_or_else(|| derive_environment(account, namespace))
}

const COMMIT_KEYS: &[&str] = &["GIT_COMMIT", "COMMIT", "GIT_SHA", "SHA"];
const BRANCH_KEYS: &[&str] = &["GIT_BRANCH", "BRANCH", "BRANCH_NAME"];

/// The first of `keys` any of `maps` has, as text.
fn first_of<'a>(keys: &[&str], maps: &[&'a Value]) -> &'a str {
    keys.iter()
        .find_map(|k| maps.iter().find_map(|m| m.get(*k).and_then(Value::as_str)))
        .unwrap_or_default()
}

/// Where the execution's image came from: its last Jenkins stage that ran a build (its build
/// properties and parameters name the commit and branch), else a Jenkins trigger's build.
fn source_of(execution: &Execution) -> Option<BuildSource> {
    let from_stage = execution
        .stages
        .iter()
        .filter(|s| s.stage_type == StageType::Jenkins)
        .filter_map(|s| {
            Some((
                s,
                s.outputs.get("buildInfo").or(s.context.get("buildInfo"))?,
            ))
        })
        .next_back();
    let outputs;
    let (info, job, maps): (&Value, &str, Vec<&Value>) = match from_stage {
        Some((s, info)) => {
            outputs = Value::Object(s.outputs.clone());
            let mut maps = vec![&outputs];
            maps.extend(s.context.get("parameters"));
            (info, text(s.context.get("job")), maps)
        }
        None => {
            let trigger = &execution.trigger;
            let info = trigger.get("buildInfo")?;
            let mut maps: Vec<&Value> = info.get("properties").into_iter().collect();
            maps.extend(trigger.get("properties"));
            maps.extend(trigger.get("parameters"));
            (info, text(trigger.get("job")), maps)
        }
    };
    let number = info.get("number").and_then(Value::as_u64)?;
    let started = info.get("timestamp").and_then(Value::as_i64);
    let duration = info.get("duration").and_then(Value::as_i64).unwrap_or(0);
    Some(BuildSource {
        job: job.to_owned(),
        number,
        url: text(info.get("url")).to_owned(),
        commit: first_of(COMMIT_KEYS, &maps).to_owned(),
        branch: first_of(BRANCH_KEYS, &maps).to_owned(),
        finished: started.and_then(|s| at(s + duration)),
    })
}

/// Who let the run through the last manual judgment that ended before `before` (epoch ms).
fn approver(execution: &Execution, before: i64) -> Option<String> {
    execution
        .stages
        .iter()
        .filter(|s| s.stage_type == StageType::ManualJudgment && s.status == Status::Succeeded)
        .filter(|s| s.end_time.is_some_and(|e| e <= before))
        .max_by_key(|s| s.end_time)
        .and_then(Stage::judgment)
        .map(|j| j.by)
}

/// Every deploy and rollback stage that ended, in the executions given, oldest first.
pub fn deploy_events(executions: &[Execution], targets: &[DeployTarget]) -> Vec<DeployEvent> {
    let mut events = Vec::new();
    for e in executions {
        let source = source_of(e);
        for s in &e.stages {
            let kind = match s.stage_type {
                StageType::DeployManifest => DeployKind::Deploy,
                StageType::UndoRolloutManifest => DeployKind::Rollback,
                _ => continue,
            };
            let succeeded = s.status == Status::Succeeded;
            let failed = matches!(
                s.status,
                Status::Terminal | Status::FailedContinue | Status::Stopped
            );
            let Some(end) = s.end_time.filter(|_| succeeded || failed) else {
                continue;
            };
            let Some(time) = at(end) else { continue };
            let account = Some(text(s.outputs.get("deploy.account.name")))
                .filter(|a| !a.is_empty())
                .unwrap_or(text(s.context.get("account")));
            let manifests: Vec<&Value> = s
                .outputs
                .get("outputs.manifests")
                .and_then(Value::as_array)
                .map(|m| m.iter().collect())
                .unwrap_or_default();
            let namespace = manifests
                .iter()
                .find_map(|m| m["metadata"]["namespace"].as_str())
                .or(s.context.get("namespaceOverride").and_then(Value::as_str))
                .or(s.context.get("location").and_then(Value::as_str))
                .unwrap_or_default();
            if namespace.is_empty() {
                continue;
            }
            let mut images: Vec<String> = Vec::new();
            for m in &manifests {
                for i in images_in(m) {
                    if !images.contains(&i) {
                        images.push(i);
                    }
                }
            }
            events.push(DeployEvent {
                execution_id: e.id.to_string(),
                pipeline_name: e.name.clone(),
                user: text(e.trigger.get("user")).to_owned(),
                environment: environment_of(targets, account, namespace),
                location: format!("{account}/{namespace}"),
                kind,
                build: build_of(&images),
                images,
                time,
                succeeded,
                source: source.clone(),
                approved_by: approver(e, s.start_time.unwrap_or(end)),
            });
        }
    }
    events.sort_by_key(|d| d.time);
    events
}

/// The builds that reached each environment (succeeded deploys with images), for the board's
/// promotion counts.
pub fn deployed_builds(events: &[DeployEvent]) -> Vec<DeployedBuild> {
    events
        .iter()
        .filter(|d| d.succeeded && d.kind == DeployKind::Deploy && !d.build.is_empty())
        .map(|d| DeployedBuild {
            environment: d.environment.clone(),
            build: d.build.clone(),
            time: d.time,
        })
        .collect()
}

/// A build reaching an environment, on the image's path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arrival {
    pub environment: String,
    pub time: DateTime<Utc>,
    pub execution_id: String,
    pub pipeline_name: String,
    pub user: String,
    pub approved_by: Option<String>,
}

/// One build's path: where it came from and when it reached each environment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImagePath {
    pub build: String,
    pub images: Vec<String>,
    pub source: Option<BuildSource>,
    /// The first time it reached each environment, in the order it did.
    pub arrivals: Vec<Arrival>,
    /// The environments it runs in now (filled from the board).
    #[serde(default)]
    pub running_in: Vec<String>,
}

/// Each build's path, newest build first (by its first arrival anywhere).
pub fn image_paths(events: &[DeployEvent]) -> Vec<ImagePath> {
    let mut paths: Vec<ImagePath> = Vec::new();
    for d in events
        .iter()
        .filter(|d| d.succeeded && d.kind == DeployKind::Deploy && !d.build.is_empty())
    {
        let arrival = Arrival {
            environment: d.environment.clone(),
            time: d.time,
            execution_id: d.execution_id.clone(),
            pipeline_name: d.pipeline_name.clone(),
            user: d.user.clone(),
            approved_by: d.approved_by.clone(),
        };
        match paths.iter_mut().find(|p| p.build == d.build) {
            Some(p) => {
                if p.source.is_none() {
                    p.source.clone_from(&d.source);
                }
                if !p.arrivals.iter().any(|a| a.environment == d.environment) {
                    p.arrivals.push(arrival);
                }
            }
            None => paths.push(ImagePath {
                build: d.build.clone(),
                images: d.images.clone(),
                source: d.source.clone(),
                arrivals: vec![arrival],
                running_in: Vec::new(),
            }),
        }
    }
    paths.reverse();
    paths
}

/// An application's delivery: its environments in order, each build's path (newest first) and
/// its metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationDelivery {
    pub application: String,
    pub environments: Vec<String>,
    pub paths: Vec<ImagePath>,
    pub metrics: metrics::DeliveryMetrics,
}

/// A pipeline that deploys to an environment, as "Promote" offers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotionPipeline {
    pub id: String,
    pub name: String,
    /// Stages that run before its deploy there (a build would make a new image, not promote
    /// this one: the dialog says so).
    pub stages_before: Vec<String>,
}

/// Whether a `deployManifest` stage (its configuration) deploys to `account/namespace`: its
/// account (empty: any) and its namespace override or its manifests' namespace.
pub fn deploys_to(stage: &serde_json::Map<String, Value>, account: &str, namespace: &str) -> bool {
    if stage.get("type").and_then(Value::as_str) != Some("deployManifest") {
        return false;
    }
    let stage_account = text(stage.get("account"));
    if !stage_account.is_empty() && stage_account != account {
        return false;
    }
    match stage
        .get("namespaceOverride")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        Some(ns) => ns == namespace,
        None => stage
            .get("manifests")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|m| m["metadata"]["namespace"].as_str() == Some(namespace)),
    }
}

#[cfg(test)]
mod tests;
