//! The stages on one named resource (`account`, `location`, `manifestName`):
//! `deleteManifest`, `scaleManifest`, `patchManifest`, `undoRolloutManifest` and
//! `findArtifactsFromResource`.

use async_trait::async_trait;
use domain::execution::StageType;
use domain::stage_types::WAIT_FOR_MANIFEST_STABLE as WAIT_STABLE;
use serde_json::{Value, json};

use super::{
    DeleteManifest, FindArtifactsFromResource, PatchManifest, ScaleManifest, UndoRolloutManifest,
    names_by_namespace, outcome, wait_stable,
};
use crate::kubernetes::{KubernetesError, ResourceRef};
use crate::orchestration::artifacts;
use crate::orchestration::stages::{StageKind, TaskContext, TaskResult, number_field, outputs};

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
        let Some(replicas) = number_field(cx.stage, "replicas").and_then(|n| i32::try_from(n).ok())
        else {
            return TaskResult::Failed {
                message: "replicas must be a whole number, 0 or more".into(),
            };
        };
        let changed = self.0.scale(&r, replicas).await;
        changed_one(&cx, r, changed)
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
        let changed = self.0.patch(&r, strategy, &body).await.map(drop);
        changed_one(&cx, r, changed)
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
        let back = number_field(cx.stage, "numRevisionsBack")
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

/// What a stage that changed one named object answers: the object by namespace, or what went
/// wrong (retried while the cluster does not answer).
fn changed_one(
    cx: &TaskContext<'_>,
    r: ResourceRef,
    changed: Result<(), KubernetesError>,
) -> TaskResult {
    match changed {
        Ok(()) => TaskResult::Succeeded {
            outputs: outputs(vec![(
                "outputs.manifestNamesByNamespace",
                names_by_namespace(&[r]),
            )]),
        },
        Err(e) => outcome(cx, e),
    }
}
