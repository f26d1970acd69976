//! `checkPreconditions`: every `expression` precondition must be true (the expressions were
//! evaluated when the stage started), else the stage fails with the failing check named.

use async_trait::async_trait;
use domain::execution::StageType;
use serde_json::Value;

use super::{StageKind, TaskContext, TaskResult};

pub struct CheckPreconditions;

#[async_trait]
impl StageKind for CheckPreconditions {
    fn stage_type(&self) -> StageType {
        StageType::CheckPreconditions
    }

    async fn run_task(&self, cx: TaskContext<'_>) -> TaskResult {
        for (i, check) in cx
            .stage
            .context
            .get("preconditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let kind = check
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("expression");
            if kind != "expression" {
                return TaskResult::Failed {
                    message: format!(
                        "precondition {} has type '{kind}', which is not supported",
                        i + 1
                    ),
                };
            }
            let expression = check.pointer("/context/expression");
            if expression != Some(&Value::Bool(true)) {
                let message = check
                    .pointer("/context/failureMessage")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| {
                        format!(
                            "precondition {} is not true (it is {})",
                            i + 1,
                            expression.cloned().unwrap_or(Value::Null)
                        )
                    });
                return TaskResult::Failed { message };
            }
        }
        TaskResult::Succeeded {
            outputs: Default::default(),
        }
    }
}
