//! The `deployManifest` stage: manifests from the stage or from an artifact, the run's images
//! bound into them, applied, then waited on until stable; and [`planned_deploy`], the preview
//! of what it would apply.

use async_trait::async_trait;

use crate::outbound::{OutboundClient, OutboundError};
use domain::execution::Stage;
use domain::execution::StageType;
use domain::stage_types::WAIT_FOR_MANIFEST_STABLE as WAIT_STABLE;
use serde_json::{Value, json};

use super::{DeployManifest, account, names_by_namespace, outcome, wait_stable};
use crate::kubernetes::{DeployRequest, ResourceRef};
use crate::orchestration::artifacts;
use crate::orchestration::stages::{StageKind, TaskContext, TaskResult, outputs, text};

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

/// Manifests from an artifact: `embedded/base64` (the reference is the base64 text),
/// `http/file` (the reference is a URL) or `s3/object` (`s3://bucket/key`, read through the S3
/// artifact account it names), as YAML (several documents) or JSON.
async fn manifests_from_artifact(
    cx: &TaskContext<'_>,
    outbound: &OutboundClient,
    s3_artifacts: &crate::blobs::artifacts::S3ArtifactAccounts,
) -> Result<Vec<Value>, TaskResult> {
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
            let shown = domain::redact::url(reference);
            let cannot = |e: OutboundError| {
                failed(format!("cannot fetch the manifest artifact {shown}: {e}"))
            };
            let request = outbound
                .request(reqwest::Method::GET, reference)
                .map_err(cannot)?;
            let response = outbound.send(request).await.map_err(cannot)?;
            if !response.status().is_success() {
                return Err(failed(format!(
                    "fetching the manifest artifact {shown} answered {}",
                    response.status()
                )));
            }
            outbound.read_text(response).await.map_err(cannot)?
        }
        "s3/object" => {
            let account = artifact.get("artifactAccount").and_then(Value::as_str);
            s3_artifacts
                .read_text(account, reference, outbound.max_reply_bytes())
                .await
                .map_err(|e| failed(format!("cannot read the manifest artifact: {e}")))?
        }
        other => {
            return Err(failed(format!(
                "manifest artifacts of type '{other}' are not supported (embedded/base64, http/file, s3/object)"
            )));
        }
    };
    manifests_from_yaml(&text).map_err(|e| failed(format!("the manifest artifact is {e}")))
}

/// Manifests from YAML text (one or more documents; JSON is YAML too), within serde_saphyr's
/// budget (depth, nodes, aliases), none nested deeper than input may be.
pub fn manifests_from_yaml(text: &str) -> Result<Vec<Value>, String> {
    let documents =
        serde_saphyr::from_multiple::<Value>(text).map_err(|e| format!("not valid YAML: {e}"))?;
    for document in &documents {
        domain::json_depth::check_input(document).map_err(|e| format!("a manifest that {e}"))?;
    }
    Ok(documents)
}

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
            "artifact" => {
                match manifests_from_artifact(&cx, &self.0.outbound, &self.0.s3_artifacts).await {
                    Ok(m) => m,
                    Err(failed) => return failed,
                }
            }
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
        let execution = cx.execution;
        let request = DeployRequest {
            account: account.clone(),
            namespace_override,
            application,
            manifests,
            origin: domain::environments::DeployOrigin {
                execution_id: execution.id.to_string(),
                pipeline_id: execution
                    .pipeline_config_id
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                pipeline_name: execution.name.clone(),
                user: execution.trigger["user"]
                    .as_str()
                    .unwrap_or("[anonymous]")
                    .to_owned(),
                time: chrono::Utc::now(),
            },
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
