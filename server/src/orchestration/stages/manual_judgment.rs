//! `manualJudgment`: waits for a person to continue or stop the pipeline. The judgment is
//! recorded on the stage (`judgmentStatus`, `judgmentInput`, `lastModifiedBy`) by
//! `Engine::judge`, which also wakes this task.

use std::time::Duration;

use async_trait::async_trait;
use domain::execution::StageType;
use serde_json::{Map, Value};

use super::{StageKind, TaskContext, TaskResult};
use domain::execution::{JudgmentDecision, keys};

/// How often an unanswered judgment is looked at again (a judgment also wakes the task at once).
const RECHECK: Duration = Duration::from_secs(30);

pub struct ManualJudgment;

#[async_trait]
impl StageKind for ManualJudgment {
    fn stage_type(&self) -> StageType {
        StageType::ManualJudgment
    }

    async fn run_task(&self, cx: TaskContext<'_>) -> TaskResult {
        let judged_by = cx
            .stage
            .context
            .get(keys::LAST_MODIFIED_BY)
            .cloned()
            .unwrap_or(Value::Null);
        match cx.stage.judgment_decision() {
            Some(decision @ JudgmentDecision::Continue) => {
                let mut outputs = Map::new();
                outputs.insert(keys::JUDGMENT_STATUS.into(), decision.as_str().into());
                outputs.insert(keys::JUDGED_BY.into(), judged_by);
                if let Some(input) = cx.stage.context.get(keys::JUDGMENT_INPUT) {
                    outputs.insert(keys::JUDGMENT_INPUT.into(), input.clone());
                }
                TaskResult::Succeeded { outputs }
            }
            Some(JudgmentDecision::Stop) => TaskResult::Failed {
                message: format!("stopped by {}", judged_by.as_str().unwrap_or("someone")),
            },
            _ => TaskResult::Running {
                check_again_in: RECHECK,
            },
        }
    }
}
