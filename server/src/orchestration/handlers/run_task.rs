//! `RunTask`: one run of a stage's current task. Deciding whether it runs (and what a timeout
//! or an execution window decides instead) and applying its result are pure; running the
//! task itself is the stage kind's, called by the worker in between.

use std::time::Duration;

use domain::execution::{Execution, Status};
use serde_json::{Map, Value};

use super::Transition;
use crate::orchestration::execution_window;
use crate::orchestration::messages::Message;
use crate::orchestration::stages::TaskResult;

/// What to do with a `RunTask` message.
#[derive(Debug, PartialEq)]
pub enum TaskStep {
    /// Nothing: the message is stale.
    Drop(Transition),
    /// The engine decides without running the task (a timeout, an execution window).
    Decided(TaskResult),
    /// The stage kind runs the task.
    Run,
}

fn timeout_of(execution: &Execution, stage_id: &str) -> Option<(i64, i64)> {
    let stage = execution.stage(stage_id)?;
    let limit = stage
        .context
        .get("stageTimeoutMs")
        .and_then(Value::as_i64)?;
    Some((limit, stage.start_time?))
}

pub fn task_step(
    execution: &Execution,
    stage_id: &str,
    task_id: &str,
    message: &Message,
    now: i64,
) -> TaskStep {
    if execution.status != Status::Running {
        return TaskStep::Drop(Transition::drop("execution is not running", message));
    }
    let Some(stage) = execution.stage(stage_id) else {
        return TaskStep::Drop(Transition::drop("no such stage", message));
    };
    let Some(task) = stage.tasks.iter().find(|t| t.id == task_id) else {
        return TaskStep::Drop(Transition::drop("no such task", message));
    };
    if stage.status != Status::Running || task.status.is_complete() {
        return TaskStep::Drop(Transition::drop("task is not running", message));
    }
    if let Some((limit, start)) = timeout_of(execution, stage_id)
        && now - start > limit
    {
        return TaskStep::Decided(TaskResult::Failed {
            message: format!("the stage timed out after {limit} ms"),
        });
    }
    if task.name == execution_window::TASK {
        return TaskStep::Decided(match execution_window::wait_from(&stage.context, now) {
            None => TaskResult::Succeeded {
                outputs: Map::new(),
            },
            Some(wait) => TaskResult::Running {
                check_again_in: wait,
            },
        });
    }
    TaskStep::Run
}

/// Records a task's result: run it again later, go on to the next task, or complete the stage.
/// The stage and task exist and run ([`task_step`] said so).
pub fn apply_task_result(
    execution: &mut Execution,
    stage_id: &str,
    task_id: &str,
    result: TaskResult,
    now: i64,
) -> Transition {
    let timeout = timeout_of(execution, stage_id);
    let execution_id = execution.id.clone();
    let complete = Message::CompleteStage {
        execution: execution_id.clone(),
        stage: stage_id.into(),
    };
    let Some(stage) = execution.stage_mut(stage_id) else {
        return Transition::default();
    };
    let Some(index) = stage.tasks.iter().position(|t| t.id == task_id) else {
        return Transition::default();
    };
    let task = &mut stage.tasks[index];
    if task.status == Status::NotStarted {
        task.status = Status::Running;
        task.start_time = Some(now);
    }
    match result {
        TaskResult::Running { check_again_in } => {
            // A stage with a timeout is looked at again no later than when it runs out.
            let check_again_in = match timeout {
                Some((limit, start)) => {
                    let left = u64::try_from(start + limit + 1 - now).unwrap_or(0);
                    check_again_in.min(Duration::from_millis(left))
                }
                None => check_again_in,
            };
            let again = Message::RunTask {
                execution: execution_id,
                stage: stage_id.into(),
                task: task_id.to_owned(),
            };
            Transition::changed().then_after(again, check_again_in)
        }
        TaskResult::Succeeded { outputs } => {
            task.status = Status::Succeeded;
            task.end_time = Some(now);
            for (k, v) in outputs {
                stage.context.insert(k.clone(), v.clone());
                stage.outputs.insert(k, v);
            }
            let next = match stage.tasks.get(index + 1) {
                Some(next) => Message::RunTask {
                    execution: execution_id,
                    stage: stage_id.into(),
                    task: next.id.clone(),
                },
                None => complete,
            };
            Transition::changed().then(next)
        }
        TaskResult::Failed { message: reason } => {
            task.status = Status::Terminal;
            task.end_time = Some(now);
            stage.record_failure(&reason);
            Transition::changed().then(complete)
        }
    }
}
