//! `manualJudgment`: waits for a person to continue or stop the pipeline. The judgment is
//! recorded on the stage (`judgmentStatus`, `judgmentInput`, `lastModifiedBy`) by
//! `Engine::judge`, which also wakes this task.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::{StageKind, TaskContext, TaskResult};
use domain::execution::Stage;

/// How often an unanswered judgment is looked at again (a judgment also wakes the task at once).
const RECHECK: Duration = Duration::from_secs(30);

pub struct ManualJudgment;

#[async_trait]
impl StageKind for ManualJudgment {
    fn name(&self) -> &'static str {
        "manualJudgment"
    }

    fn tasks(&self, _stage: &Stage) -> Vec<&'static str> {
        vec!["waitForJudgment"]
    }

    async fn run_task(&self, cx: TaskContext<'_>) -> TaskResult {
        let judged_by = cx
            .stage
            .context
            .get("lastModifiedBy")
            .cloned()
            .unwrap_or(Value::Null);
        match cx
            .stage
            .context
            .get("judgmentStatus")
            .and_then(Value::as_str)
        {
            Some("continue") => {
                let mut outputs = Map::new();
                outputs.insert("judgmentStatus".into(), "continue".into());
                outputs.insert("judgedBy".into(), judged_by);
                if let Some(input) = cx.stage.context.get("judgmentInput") {
                    outputs.insert("judgmentInput".into(), input.clone());
                }
                TaskResult::Succeeded { outputs }
            }
            Some("stop") => TaskResult::Failed {
                message: format!("stopped by {}", judged_by.as_str().unwrap_or("someone")),
            },
            _ => TaskResult::Running {
                check_again_in: RECHECK,
            },
        }
    }
}
