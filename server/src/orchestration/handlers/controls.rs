//! People's controls: cancel, pause, resume, restart a stage, judge — both the change a
//! person's request makes at once (recorded with the message that acts on it) and the
//! handlers of those messages. And `redrive`, what sets a stuck execution moving again.

use domain::execution::{Execution, JudgmentDecision, Status, keys};

use super::Transition;
use super::complete_execution::cancel_running_stages;
use crate::orchestration::engine::EngineError;
use crate::orchestration::messages::Message;

/// A request to cancel: marks the run and returns the message that cancels it (`None`: it has
/// ended, nothing to do).
pub fn request_cancel(
    execution: &mut Execution,
    by: &str,
    reason: Option<String>,
) -> Option<Vec<Message>> {
    if execution.status.is_complete() {
        return None;
    }
    execution.canceled = true;
    execution.canceled_by = Some(by.to_owned());
    execution.cancellation_reason = reason;
    Some(vec![Message::CancelExecution {
        execution: execution.id.clone(),
    }])
}

/// Records a person's judgment on a waiting manual judgment stage; returns the message that
/// wakes its task.
pub fn record_judgment(
    execution: &mut Execution,
    stage_id: &str,
    decision: JudgmentDecision,
    input: Option<&str>,
    by: &str,
) -> Result<Vec<Message>, EngineError> {
    let id = execution.id.clone();
    let stage = execution
        .stage_mut(stage_id)
        .ok_or_else(|| EngineError::NotFound(format!("stage '{stage_id}'")))?;
    if !stage.awaits_judgment() {
        return Err(EngineError::Conflict(format!(
            "stage '{}' is not waiting for a judgment",
            stage.name
        )));
    }
    // A judgment is taken once: whoever comes second learns who decided, and how.
    if let (Some(decided), Some(judgment)) = (stage.judgment_decision(), stage.judgment()) {
        return Err(EngineError::Conflict(format!(
            "stage '{}' was already judged: {} by {}",
            stage.name,
            decided.as_str(),
            judgment.by
        )));
    }
    let choices: Vec<&str> = stage
        .context
        .get("judgmentInputs")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|i| i.get("value").and_then(|v| v.as_str()))
        .collect();
    if let Some(input) = input
        && !choices.is_empty()
        && !choices.contains(&input)
    {
        return Err(EngineError::Invalid {
            field: "judgmentInput".into(),
            message: format!("'{input}' is not one of {}", choices.join(", ")),
        });
    }
    stage.record_judgment(decision, by, input);
    let task = stage
        .tasks
        .iter()
        .find(|t| t.status == Status::Running)
        .map(|t| t.id.clone());
    Ok(task
        .map(|task| Message::RunTask {
            execution: id,
            stage: stage_id.into(),
            task,
        })
        .into_iter()
        .collect())
}

pub fn cancel_execution(execution: &mut Execution, message: &Message, now: i64) -> Transition {
    if execution.status.is_complete() {
        return Transition::drop("execution already complete", message);
    }
    execution.canceled = true;
    let follow_ups = cancel_running_stages(execution, now);
    execution.status = Status::Canceled;
    execution.end_time = Some(now);
    tracing::info!(execution = %execution.id, by = ?execution.canceled_by, "execution canceled");
    Transition {
        changed: true,
        follow_ups,
    }
}

/// The messages that make an execution move again from where it is: run the current task of
/// every running stage, start what may start, or complete the execution.
pub fn redrive(execution: &Execution) -> Vec<Message> {
    let id = execution.id.clone();
    let mut messages = Vec::new();
    for stage in execution
        .stages
        .iter()
        .filter(|s| s.status == Status::Running)
    {
        messages.push(match stage.tasks.iter().find(|t| !t.status.is_complete()) {
            Some(task) => Message::RunTask {
                execution: id.clone(),
                stage: stage.id.clone(),
                task: task.id.clone(),
            },
            None => Message::CompleteStage {
                execution: id.clone(),
                stage: stage.id.clone(),
            },
        });
    }
    for stage in execution
        .stages
        .iter()
        .filter(|s| execution.is_startable(s))
    {
        messages.push(Message::StartStage {
            execution: id.clone(),
            stage: stage.id.clone(),
        });
    }
    if messages.is_empty() {
        messages.push(Message::CompleteExecution { execution: id });
    }
    messages
}

pub fn pause_execution(execution: &mut Execution, message: &Message) -> Transition {
    if execution.status != Status::Running {
        return Transition::drop("execution is not running", message);
    }
    execution.status = Status::Paused;
    tracing::info!(execution = %execution.id, "execution paused");
    Transition::changed()
}

pub fn resume_execution(execution: &mut Execution, message: &Message) -> Transition {
    if execution.status != Status::Paused {
        return Transition::drop("execution is not paused", message);
    }
    execution.status = Status::Running;
    tracing::info!(execution = %execution.id, "execution resumed");
    redrive(execution)
        .into_iter()
        .fold(Transition::changed(), Transition::then)
}

/// Whether a stage ended in a way it may be restarted from.
pub fn may_restart(status: Status) -> bool {
    matches!(
        status,
        Status::Terminal | Status::Stopped | Status::Canceled | Status::FailedContinue
    )
}

/// Resets a failed stage and every stage after it, and runs it again.
pub fn restart_stage(execution: &mut Execution, stage_id: &str, message: &Message) -> Transition {
    let Some(stage) = execution.stage(stage_id) else {
        return Transition::drop("no such stage", message);
    };
    if !may_restart(stage.status) {
        return Transition::drop("stage has not failed", message);
    }
    // The stage and everything downstream of it, transitively.
    let mut reset = vec![stage.ref_id.clone()];
    let mut i = 0;
    while i < reset.len() {
        let downstream: Vec<String> = execution
            .downstream_of(&reset[i])
            .map(|s| s.ref_id.clone())
            .collect();
        for r in downstream {
            if !reset.contains(&r) {
                reset.push(r);
            }
        }
        i += 1;
    }
    for s in execution
        .stages
        .iter_mut()
        .filter(|s| reset.contains(&s.ref_id))
    {
        s.status = Status::NotStarted;
        s.start_time = None;
        s.end_time = None;
        s.tasks.clear();
        // What the last run recorded in the context goes, so the stage decides afresh.
        for key in s.outputs.keys() {
            s.context.remove(key);
        }
        for key in keys::RUN_STATE {
            s.context.remove(*key);
        }
        s.outputs.clear();
    }
    execution.status = Status::Running;
    execution.end_time = None;
    execution.canceled = false;
    tracing::info!(execution = %execution.id, stage = stage_id, "stage restarted");
    Transition::changed().then(Message::StartStage {
        execution: execution.id.clone(),
        stage: stage_id.into(),
    })
}
