//! `wait`: waits `waitTime` seconds from the stage's start, without holding a thread.

use std::time::Duration;

use async_trait::async_trait;
use domain::execution::StageType;

use super::{StageKind, TaskContext, TaskResult, number_field};

pub struct Wait;

#[async_trait]
impl StageKind for Wait {
    fn stage_type(&self) -> StageType {
        StageType::Wait
    }

    async fn run_task(&self, cx: TaskContext<'_>) -> TaskResult {
        let Some(seconds) = number_field(cx.stage, "waitTime") else {
            return TaskResult::Failed {
                message: "waitTime must be a whole number of seconds".into(),
            };
        };
        let started = cx.stage.start_time.unwrap_or(cx.now_ms);
        let due =
            started.saturating_add(i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX));
        if cx.now_ms >= due {
            TaskResult::Succeeded {
                outputs: Default::default(),
            }
        } else {
            TaskResult::Running {
                check_again_in: Duration::from_millis(u64::try_from(due - cx.now_ms).unwrap_or(0)),
            }
        }
    }
}
