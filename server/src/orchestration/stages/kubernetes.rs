//! The Kubernetes manifest stages, on the Kubernetes layer:
//!
//! - `deployManifest` (`account`, `namespaceOverride`, `manifests` or a manifest artifact
//!   (`embedded/base64`, `http/file`), `requiredArtifactIds`): binds the run's images into the
//!   manifests, applies them, then waits until they are stable;
//! - `deleteManifest`, `scaleManifest` (`replicas`), `patchManifest` (`patchBody`,
//!   `options.mergeStrategy`), `undoRolloutManifest` (`numRevisionsBack`), each on
//!   `account`/`location`/`manifestName` (`"deployment web"`), waiting where Spinnaker waits;
//! - `findArtifactsFromResource`: the images a resource runs, as `docker/image` artifacts.
//!
//! Outputs follow Spinnaker's names (`outputs.manifestNamesByNamespace`, `outputs.manifests`,
//! `outputs.boundArtifacts`, `deploy.account.name`, `artifacts`) so later stages and
//! expressions read them the same way. Every task is safe to run again after a crash.

use std::time::Duration;

use async_trait::async_trait;
use domain::execution::Stage;
use domain::execution::StageType;
use serde_json::{Map, Value, json};

use super::{StageKind, TaskContext, TaskResult, keep_trying, outputs, text};
use crate::kubernetes::{Accounts, DeployRequest, KubernetesError, ResourceRef, RolloutStatus};
use crate::orchestration::artifacts;

/// How often a waiting task looks at the cluster again.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// Spinnaker's default for waiting until manifests are stable.
const STABLE_WITHIN_MS: i64 = 30 * 60 * 1000;

use domain::stage_types::WAIT_FOR_MANIFEST_STABLE as WAIT_STABLE;

fn account(stage: &Stage) -> Result<&str, TaskResult> {
    text(stage, "account")
        .or_else(|| text(stage, "credentials"))
        .ok_or(TaskResult::Failed {
            message: "account is required".into(),
        })
}

/// A failure worth another try (the cluster did not answer), or the end of the stage.
fn outcome(cx: &TaskContext<'_>, e: KubernetesError) -> TaskResult {
    match e {
        KubernetesError::Unreachable { .. } | KubernetesError::AccountUnavailable { .. } => {
            keep_trying(cx, CHECK_EVERY, || format!("{e} (gave up after 5 minutes)"))
        }
        other => TaskResult::Failed {
            message: other.to_string(),
        },
    }
}

/// The single resource a stage names: `account`, `location` (namespace), `manifestName`.
fn named_resource(stage: &Stage) -> Result<ResourceRef, TaskResult> {
    let account = account(stage)?;
    let name = text(stage, "manifestName").ok_or(TaskResult::Failed {
        message: "manifestName is required".into(),
    })?;
    ResourceRef::parse(account, text(stage, "location"), name).map_err(|e| TaskResult::Failed {
        message: e.to_string(),
    })
}

/// Resources written by this stage, from `outputs.manifestNamesByNamespace`.
fn written(stage: &Stage) -> Result<Vec<ResourceRef>, TaskResult> {
    let account = account(stage)?;
    let mut refs = Vec::new();
    for (namespace, names) in stage
        .context
        .get("outputs.manifestNamesByNamespace")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for name in names
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let ns = (!namespace.is_empty()).then_some(namespace.as_str());
            refs.push(
                ResourceRef::parse(account, ns, name).map_err(|e| TaskResult::Failed {
                    message: e.to_string(),
                })?,
            );
        }
    }
    Ok(refs)
}

fn names_by_namespace(refs: &[ResourceRef]) -> Value {
    let mut by_ns: Map<String, Value> = Map::new();
    for r in refs {
        let entry = by_ns
            .entry(r.namespace.clone().unwrap_or_default())
            .or_insert_with(|| json!([]));
        if let Some(list) = entry.as_array_mut() {
            list.push(json!(format!("{} {}", r.kind.to_ascii_lowercase(), r.name)));
        }
    }
    Value::Object(by_ns)
}

/// Waits until every written resource is stable; fails with the first rollout failure.
async fn wait_stable(accounts: &Accounts, cx: &TaskContext<'_>) -> TaskResult {
    let refs = match written(cx.stage) {
        Ok(r) => r,
        Err(failed) => return failed,
    };
    let mut waiting = Vec::new();
    for r in &refs {
        match accounts.rollout_status(r).await {
            Ok(s) if s.is_settled() => {}
            Ok(RolloutStatus::Failed { reason }) => {
                return TaskResult::Failed {
                    message: format!("{} failed to roll out: {reason}", r.describe()),
                };
            }
            Ok(RolloutStatus::Waiting { message }) => {
                waiting.push(format!("{}: {message}", r.describe()))
            }
            Ok(_) => {}
            Err(e) => return outcome(cx, e),
        }
    }
    if waiting.is_empty() {
        return TaskResult::Succeeded {
            outputs: Map::new(),
        };
    }
    let started = cx.stage.start_time.unwrap_or(cx.now_ms);
    let limit = cx
        .stage
        .context
        .get("stableTimeoutMs")
        .and_then(Value::as_i64)
        .unwrap_or(STABLE_WITHIN_MS);
    if cx.now_ms - started > limit {
        return TaskResult::Failed {
            message: format!(
                "not stable after {} minutes: {}",
                limit / 60_000,
                waiting.join("; ")
            ),
        };
    }
    TaskResult::Running {
        check_again_in: CHECK_EVERY,
    }
}

/// Images the run may bind into manifests: resolved expected artifacts (those named by
/// `requiredArtifactIds` when given) and the trigger's own artifacts.
fn bindable(cx: &TaskContext<'_>) -> Vec<Value> {
    bindable_for(cx.execution, cx.stage)
}

fn bindable_for(execution: &domain::execution::Execution, stage: &Stage) -> Vec<Value> {
    let trigger = &execution.trigger;
    let resolved: Vec<Value> = trigger
        .get("resolvedExpectedArtifacts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let required: Vec<&str> = stage
        .context
        .get("requiredArtifactIds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !required.is_empty() {
        return resolved
            .into_iter()
            .filter(|a| {
                a.get("expectedArtifactId")
                    .and_then(Value::as_str)
                    .is_some_and(|id| required.contains(&id))
            })
            .collect();
    }
    let mut all = resolved;
    all.extend(
        trigger
            .get("artifacts")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    );
    all
}

/// A `List` manifest is its items.
fn flatten(written: &[Value]) -> Vec<Value> {
    let mut manifests = Vec::new();
    for m in written.iter().filter(|m| !m.is_null()) {
        match m.get("kind").and_then(Value::as_str) {
            Some("List") => manifests.extend(
                m.get("items")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
            ),
            _ => manifests.push(m.clone()),
        }
    }
    manifests
}

/// What a `deployManifest` stage (its context already evaluated) would apply: account,
/// namespace override, and the manifests with the run's images bound — as the stage itself
/// does. `Err` says why there is no preview (manifests from an artifact are read only when the
/// stage runs).
pub fn planned_deploy(
    execution: &domain::execution::Execution,
    stage: &Stage,
) -> Result<(String, Option<String>, Vec<Value>), String> {
    let account = text(stage, "account")
        .or_else(|| text(stage, "credentials"))
        .ok_or("the stage names no account")?
        .to_owned();
    if stage.context.get("source").and_then(Value::as_str) == Some("artifact") {
        return Err("its manifests come from an artifact, read when the stage runs".into());
    }
    let mut manifests = flatten(
        stage
            .context
            .get("manifests")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default(),
    );
    let images = bindable_for(execution, stage);
    for m in &mut manifests {
        artifacts::bind_images(m, &images);
    }
    Ok((
        account,
        text(stage, "namespaceOverride").map(str::to_owned),
        manifests,
    ))
}

/// What every Kubernetes stage works on.
pub struct On {
    pub accounts: Accounts,
    /// The applications, to keep each to its deploy targets (None: no check).
    pub store: Option<crate::store::Store>,
}

impl On {
    /// Fails when the run's application names deploy targets and `namespace` in `account` is
    /// not one of them.
    async fn check_target(
        &self,
        cx: &TaskContext<'_>,
        account: &str,
        namespace: &str,
    ) -> Option<TaskResult> {
        let store = self.store.as_ref()?;
        let application = store
            .get_application(&cx.execution.application)
            .await
            .ok()?;
        if application.may_deploy_to(account, namespace) {
            return None;
        }
        let targets: Vec<String> = application
            .deploy_targets
            .iter()
            .map(|t| t.text())
            .collect();
        Some(TaskResult::Failed {
            message: format!(
                "application {} does not deploy to {account}/{namespace}; its deploy targets are {} (change them on its Config tab)",
                application.name,
                targets.join(", ")
            ),
        })
    }

    /// The one resource a stage names (`account`, `location`, `manifestName`), if the
    /// application may touch it.
    async fn named(&self, cx: &TaskContext<'_>) -> Result<ResourceRef, TaskResult> {
        let r = named_resource(cx.stage)?;
        let namespace = match &r.namespace {
            Some(ns) => Some(ns.clone()),
            None => self
                .accounts
                .account(&r.account)
                .ok()
                .map(|a| a.default_namespace.clone()),
        };
        if let Some(ns) = namespace
            && let Some(refused) = self.check_target(cx, &r.account, &ns).await
        {
            return Err(refused);
        }
        Ok(r)
    }
}

impl std::ops::Deref for On {
    type Target = Accounts;

    fn deref(&self) -> &Accounts {
        &self.accounts
    }
}

/// The manifest artifact a `source: artifact` stage names: `manifestArtifact` itself, or the
/// run's artifact whose `expectedArtifactId` (or `id`) is `manifestArtifactId`.
fn manifest_artifact(cx: &TaskContext<'_>) -> Result<Value, TaskResult> {
    if let Some(a) = cx
        .stage
        .context
        .get("manifestArtifact")
        .filter(|a| a.is_object())
    {
        return Ok(a.clone());
    }
    let Some(id) = text(cx.stage, "manifestArtifactId") else {
        return Err(TaskResult::Failed {
            message: "manifestArtifactId is required when source is artifact".into(),
        });
    };
    let trigger = &cx.execution.trigger;
    trigger
        .get("resolvedExpectedArtifacts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .chain(
            trigger
                .get("artifacts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        )
        .find(|a| {
            a.get("expectedArtifactId").and_then(Value::as_str) == Some(id)
                || a.get("id").and_then(Value::as_str) == Some(id)
        })
        .cloned()
        .ok_or_else(|| TaskResult::Failed {
            message: format!("the manifest artifact '{id}' is not among this run's artifacts"),
        })
}

/// Manifests from an artifact: `embedded/base64` (the reference is the base64 text) or
/// `http/file` (the reference is a URL), as YAML (several documents) or JSON.
async fn manifests_from_artifact(cx: &TaskContext<'_>) -> Result<Vec<Value>, TaskResult> {
    let artifact = manifest_artifact(cx)?;
    let kind = artifact
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let reference = artifact
        .get("reference")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let failed = |message: String| TaskResult::Failed { message };
    let text = match kind {
        "embedded/base64" => {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(reference.trim())
                .map_err(|e| {
                    failed(format!(
                        "the embedded/base64 manifest artifact is not base64: {e}"
                    ))
                })?;
            String::from_utf8(bytes).map_err(|_| {
                failed("the embedded/base64 manifest artifact is not UTF-8 text".into())
            })?
        }
        "http/file" => {
            let response = reqwest::Client::new()
                .get(reference)
                .timeout(Duration::from_secs(30))
                .send()
                .await
                .map_err(|e| {
                    failed(format!(
                        "cannot fetch the manifest artifact {reference}: {e}"
                    ))
                })?;
            if !response.status().is_success() {
                return Err(failed(format!(
                    "fetching the manifest artifact {reference} answered {}",
                    response.status()
                )));
            }
            response.text().await.map_err(|e| {
                failed(format!(
                    "cannot read the manifest artifact {reference}: {e}"
                ))
            })?
        }
        other => {
            return Err(failed(format!(
                "manifest artifacts of type '{other}' are not supported (embedded/base64, http/file)"
            )));
        }
    };
    serde_saphyr::from_multiple::<Value>(&text)
        .map_err(|e| failed(format!("the manifest artifact is not valid YAML: {e}")))
}

macro_rules! kubernetes_stage {
    ($name:ident) => {
        pub struct $name(pub On);
    };
}

kubernetes_stage!(DeployManifest);
kubernetes_stage!(DeleteManifest);
kubernetes_stage!(ScaleManifest);
kubernetes_stage!(PatchManifest);
kubernetes_stage!(UndoRolloutManifest);
kubernetes_stage!(FindArtifactsFromResource);

#[async_trait]
impl StageKind for DeployManifest {
    fn stage_type(&self) -> StageType {
        StageType::DeployManifest
    }

    async fn run_task(&self, cx: TaskContext<'_>) -> TaskResult {
        if cx.task == WAIT_STABLE {
            return wait_stable(&self.0, &cx).await;
        }
        let account = match account(cx.stage) {
            Ok(a) => a.to_owned(),
            Err(failed) => return failed,
        };
        let written: Vec<Value> = match cx
            .stage
            .context
            .get("source")
            .and_then(Value::as_str)
            .unwrap_or("text")
        {
            "artifact" => match manifests_from_artifact(&cx).await {
                Ok(m) => m,
                Err(failed) => return failed,
            },
            _ => cx
                .stage
                .context
                .get("manifests")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        };
        let mut manifests = flatten(&written);
        if manifests.is_empty() {
            return TaskResult::Failed {
                message: "manifests is required (at least one manifest)".into(),
            };
        }
        let images = bindable(&cx);
        let mut bound = Vec::new();
        for m in &mut manifests {
            bound.extend(artifacts::bind_images(m, &images));
        }
        let application = cx
            .stage
            .context
            .get("moniker")
            .and_then(|m| m.get("app"))
            .and_then(Value::as_str)
            .unwrap_or(&cx.execution.application)
            .to_owned();
        let namespace_override = text(cx.stage, "namespaceOverride").map(str::to_owned);
        let default_namespace = self
            .0
            .account(&account)
            .map(|a| a.default_namespace.clone())
            .unwrap_or_else(|_| "default".into());
        for m in &manifests {
            let namespace = namespace_override
                .clone()
                .or_else(|| m["metadata"]["namespace"].as_str().map(str::to_owned))
                .unwrap_or_else(|| default_namespace.clone());
            if let Some(refused) = self.0.check_target(&cx, &account, &namespace).await {
                return refused;
            }
        }
        let request = DeployRequest {
            account: account.clone(),
            namespace_override,
            application,
            manifests,
        };
        match self.0.deploy(&request).await {
            Ok(deployed) => {
                let refs: Vec<ResourceRef> = deployed.iter().map(|d| d.resource.clone()).collect();
                let stored: Vec<Value> = deployed.iter().map(|d| d.manifest.clone()).collect();
                let bound_artifacts: Vec<Value> = bound.iter().map(|image| json!({"type": "docker/image", "reference": image, "name": artifacts::repository(image)})).collect();
                TaskResult::Succeeded {
                    outputs: outputs(vec![
                        (
                            "outputs.manifestNamesByNamespace",
                            names_by_namespace(&refs),
                        ),
                        ("outputs.manifests", Value::Array(stored)),
                        ("outputs.boundArtifacts", Value::Array(bound_artifacts)),
                        ("deploy.account.name", json!(account)),
                    ]),
                }
            }
            Err(e) => outcome(&cx, e),
        }
    }
}

#[async_trait]
impl StageKind for DeleteManifest {
    fn stage_type(&self) -> StageType {
        StageType::DeleteManifest
    }

    async fn run_task(&self, cx: TaskContext<'_>) -> TaskResult {
        let r = match self.0.named(&cx).await {
            Ok(r) => r,
            Err(done) => return done,
        };
        match self.0.delete(&r).await {
            Ok(existed) => TaskResult::Succeeded {
                outputs: outputs(vec![
                    (
                        "outputs.manifestNamesByNamespace",
                        names_by_namespace(std::slice::from_ref(&r)),
                    ),
                    ("deleted", json!(existed)),
                ]),
            },
            Err(e) => outcome(&cx, e),
        }
    }
}

#[async_trait]
impl StageKind for ScaleManifest {
    fn stage_type(&self) -> StageType {
        StageType::ScaleManifest
    }

    async fn run_task(&self, cx: TaskContext<'_>) -> TaskResult {
        if cx.task == WAIT_STABLE {
            return wait_stable(&self.0, &cx).await;
        }
        let r = match self.0.named(&cx).await {
            Ok(r) => r,
            Err(done) => return done,
        };
        let Some(replicas) =
            super::number_field(cx.stage, "replicas").and_then(|n| i32::try_from(n).ok())
        else {
            return TaskResult::Failed {
                message: "replicas must be a whole number, 0 or more".into(),
            };
        };
        match self.0.scale(&r, replicas).await {
            Ok(()) => TaskResult::Succeeded {
                outputs: outputs(vec![(
                    "outputs.manifestNamesByNamespace",
                    names_by_namespace(&[r]),
                )]),
            },
            Err(e) => outcome(&cx, e),
        }
    }
}

#[async_trait]
impl StageKind for PatchManifest {
    fn stage_type(&self) -> StageType {
        StageType::PatchManifest
    }

    async fn run_task(&self, cx: TaskContext<'_>) -> TaskResult {
        if cx.task == WAIT_STABLE {
            return wait_stable(&self.0, &cx).await;
        }
        let r = match self.0.named(&cx).await {
            Ok(r) => r,
            Err(done) => return done,
        };
        let strategy = cx
            .stage
            .context
            .get("options")
            .and_then(|o| o.get("mergeStrategy"))
            .and_then(Value::as_str)
            .unwrap_or("strategic");
        let Some(body) = cx.stage.context.get("patchBody") else {
            return TaskResult::Failed {
                message: "patchBody is required".into(),
            };
        };
        // Spinnaker's editor keeps a merge patch as a one-element list.
        let body = match (strategy, body) {
            ("json", b) => b.clone(),
            (_, Value::Array(items)) if items.len() == 1 => items[0].clone(),
            (_, b) => b.clone(),
        };
        match self.0.patch(&r, strategy, &body).await {
            Ok(_) => TaskResult::Succeeded {
                outputs: outputs(vec![(
                    "outputs.manifestNamesByNamespace",
                    names_by_namespace(&[r]),
                )]),
            },
            Err(e) => outcome(&cx, e),
        }
    }
}

#[async_trait]
impl StageKind for UndoRolloutManifest {
    fn stage_type(&self) -> StageType {
        StageType::UndoRolloutManifest
    }

    async fn run_task(&self, cx: TaskContext<'_>) -> TaskResult {
        if cx.task == WAIT_STABLE {
            return wait_stable(&self.0, &cx).await;
        }
        let r = match self.0.named(&cx).await {
            Ok(r) => r,
            Err(done) => return done,
        };
        let back = super::number_field(cx.stage, "numRevisionsBack")
            .unwrap_or(1)
            .max(1) as usize;
        // Going back N revisions from the current one, as Spinnaker counts them; a task run again
        // after a crash finds the revision it chose recorded and does not go back further.
        let target = match cx
            .stage
            .context
            .get("undo.revision")
            .and_then(Value::as_i64)
        {
            Some(chosen) => chosen,
            None => match self.0.revisions(&r).await {
                Ok(revisions) => match revisions.get(back) {
                    Some(rev) => *rev,
                    None => {
                        return TaskResult::Failed {
                            message: format!(
                                "{} has {} revisions; cannot go back {back}",
                                r.describe(),
                                revisions.len()
                            ),
                        };
                    }
                },
                Err(e) => return outcome(&cx, e),
            },
        };
        match self.0.undo(&r, Some(target)).await {
            Ok(restored) => TaskResult::Succeeded {
                outputs: outputs(vec![
                    ("outputs.manifestNamesByNamespace", names_by_namespace(&[r])),
                    ("undo.revision", json!(restored)),
                ]),
            },
            Err(e) => outcome(&cx, e),
        }
    }
}

#[async_trait]
impl StageKind for FindArtifactsFromResource {
    fn stage_type(&self) -> StageType {
        StageType::FindArtifactsFromResource
    }

    async fn run_task(&self, cx: TaskContext<'_>) -> TaskResult {
        let r = match self.0.named(&cx).await {
            Ok(r) => r,
            Err(done) => return done,
        };
        match self.0.images(&r).await {
            Ok(images) => {
                let found: Vec<Value> = images
                    .iter()
                    .map(|image| {
                        let name = artifacts::repository(image);
                        let version = image.strip_prefix(name).unwrap_or_default().trim_start_matches([':', '@']);
                        json!({"type": "docker/image", "name": name, "reference": image, "version": version})
                    })
                    .collect();
                TaskResult::Succeeded {
                    outputs: outputs(vec![
                        ("artifacts", Value::Array(found)),
                        ("manifest.images", json!(images)),
                    ]),
                }
            }
            Err(e) => outcome(&cx, e),
        }
    }
}
