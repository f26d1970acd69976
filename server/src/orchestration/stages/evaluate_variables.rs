//! `evaluateVariables`: makes named values (usually expressions, evaluated when the stage
//! starts) available to later stages as this stage's outputs.

use async_trait::async_trait;
use domain::execution::StageType;
use serde_json::{Map, Value};

use super::{StageKind, TaskContext, TaskResult};

pub struct EvaluateVariables;

#[async_trait]
impl StageKind for EvaluateVariables {
    fn stage_type(&self) -> StageType {
        StageType::EvaluateVariables
    }

    async fn run_task(&self, cx: TaskContext<'_>) -> TaskResult {
        if let Some(failed) = cx
            .stage
            .context
            .get("expressionEvaluationSummary")
            .and_then(Value::as_object)
            && let Some((expression, _)) = failed.iter().next()
        {
            return TaskResult::Failed {
                message: format!("could not evaluate {expression}"),
            };
        }
        let mut outputs = Map::new();
        for variable in cx
            .stage
            .context
            .get("variables")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(key) = variable
                .get("key")
                .and_then(Value::as_str)
                .filter(|k| !k.is_empty())
            else {
                return TaskResult::Failed {
                    message: "every variable needs a key".into(),
                };
            };
            outputs.insert(
                key.to_owned(),
                variable.get("value").cloned().unwrap_or(Value::Null),
            );
        }
        TaskResult::Succeeded { outputs }
    }
}
