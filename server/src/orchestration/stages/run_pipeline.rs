//! `pipeline`: runs another pipeline (`application`, `pipeline` = its id) with
//! `pipelineParameters`, and by default waits for it (`waitForCompletion`), succeeding or
//! failing as it does. The child run's id derives from this stage, so a retried task never
//! starts it twice.

use std::time::Duration;

use async_trait::async_trait;
use domain::execution::StageType;
use serde_json::{Map, Value, json};

use super::{StageKind, TaskContext, TaskResult};
use domain::execution::Status;

const RECHECK: Duration = Duration::from_secs(5);

/// How deep pipeline stages may nest (a run started by a run started by …).
pub const MAX_PIPELINE_DEPTH: u64 = 10;

pub struct RunPipeline;

fn child_id(cx: &TaskContext<'_>) -> String {
    crate::ids::derived_id(&[&cx.execution.id, &cx.stage.id, "child"])
}

#[async_trait]
impl StageKind for RunPipeline {
    fn stage_type(&self) -> StageType {
        StageType::Pipeline
    }

    async fn stop(&self, cx: TaskContext<'_>) -> Result<(), String> {
        let by = format!("parent execution {}", cx.execution.id);
        cx.pipelines.cancel(&child_id(&cx), &by).await
    }

    async fn run_task(&self, cx: TaskContext<'_>) -> TaskResult {
        let id = child_id(&cx);
        match cx.task {
            "startPipeline" => {
                let Some(pipeline) = cx.stage.context.get("pipeline").and_then(Value::as_str)
                else {
                    return TaskResult::Failed {
                        message: "pipeline must be the id of the pipeline to run".into(),
                    };
                };
                let parameters = cx
                    .stage
                    .context
                    .get("pipelineParameters")
                    .cloned()
                    .unwrap_or_else(|| json!({}));
                // Pipeline stages nest at most MAX_PIPELINE_DEPTH deep (a pipeline that runs
                // itself would otherwise start runs without end).
                let depth = cx
                    .execution
                    .trigger
                    .get("pipelineDepth")
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
                    + 1;
                if depth > MAX_PIPELINE_DEPTH {
                    return TaskResult::Failed {
                        message: format!(
                            "pipeline stages nest more than {MAX_PIPELINE_DEPTH} deep; is a pipeline running itself?"
                        ),
                    };
                }
                let trigger = json!({
                    "pipelineDepth": depth,
                    "type": "pipeline",
                    "user": cx.execution.trigger.get("user").cloned().unwrap_or_else(|| json!("[anonymous]")),
                    "parentExecution": {"id": cx.execution.id, "name": cx.execution.name, "application": cx.execution.application},
                    "parentPipelineStageId": cx.stage.id,
                    "parameters": parameters,
                });
                match cx.pipelines.start_pipeline(pipeline, &id, trigger).await {
                    Ok(()) => {
                        let mut outputs = Map::new();
                        outputs.insert("executionId".into(), json!(id));
                        TaskResult::Succeeded { outputs }
                    }
                    Err(message) => TaskResult::Failed { message },
                }
            }
            _ => {
                if !cx.stage.flag("waitForCompletion", true) {
                    return TaskResult::Succeeded {
                        outputs: Map::new(),
                    };
                }
                match cx.pipelines.execution(&id).await {
                    Ok(Some(child)) if child.status == Status::Succeeded => {
                        let mut outputs = Map::new();
                        outputs.insert("status".into(), json!(child.status.as_str()));
                        TaskResult::Succeeded { outputs }
                    }
                    Ok(Some(child)) if child.status.is_complete() => TaskResult::Failed {
                        message: format!(
                            "the pipeline '{}' ended {}",
                            child.name,
                            child.status.as_str()
                        ),
                    },
                    Ok(Some(_)) => TaskResult::Running {
                        check_again_in: RECHECK,
                    },
                    Ok(None) => TaskResult::Failed {
                        message: "the child pipeline's run is missing".into(),
                    },
                    Err(message) => TaskResult::Failed { message },
                }
            }
        }
    }
}
