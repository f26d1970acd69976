//! `CompleteExecution`: the run ends with a status from its stages; running stages are
//! canceled. And what an ending leads to: the next waiting run of the pipeline starts, and the
//! pipelines triggered by this one's ending are started.

use std::time::Duration;

use domain::execution::{Execution, Status};

use super::Transition;
use crate::orchestration::messages::Message;

/// Cancels the running stages; returns the messages that tell each to stop what it started.
pub(super) fn cancel_running_stages(
    execution: &mut Execution,
    now: i64,
) -> Vec<(Message, Duration)> {
    let mut stops = Vec::new();
    let id = execution.id.clone();
    for stage in execution
        .stages
        .iter_mut()
        .filter(|s| s.status == Status::Running)
    {
        stops.push((
            Message::StopCanceledStage {
                execution: id.clone(),
                stage: stage.id.clone(),
            },
            Duration::ZERO,
        ));
        stage.status = Status::Canceled;
        stage.end_time = Some(now);
        for task in stage.tasks.iter_mut().filter(|t| !t.status.is_complete()) {
            task.status = Status::Canceled;
            task.end_time = Some(now);
        }
    }
    stops
}

pub fn complete_execution(execution: &mut Execution, message: &Message, now: i64) -> Transition {
    if execution.status.is_complete() {
        return Transition::drop("execution already complete", message);
    }
    let any = |s: Status| execution.stages.iter().any(|st| st.status == s);
    let status = if execution.canceled {
        Status::Canceled
    } else if any(Status::Terminal) {
        Status::Terminal
    } else if !execution.has_nothing_left_to_run() {
        return Transition::drop("stages are still running", message);
    } else if execution
        .stages
        .iter()
        .any(|s| s.status == Status::Stopped && s.flag("completeOtherBranchesThenFail", false))
    {
        Status::Terminal
    } else {
        Status::Succeeded
    };
    let follow_ups = cancel_running_stages(execution, now);
    execution.status = status;
    execution.end_time = Some(now);
    tracing::info!(execution = %execution.id, status = ?status, "execution complete");
    Transition {
        changed: true,
        follow_ups,
    }
}

/// What follows a run that just ended: the next of its pipeline's `waiting` runs starts (with
/// `limitConcurrent`), and the pipelines its ending triggers start.
pub fn after_execution_finished(execution: &Execution, waiting: &[Execution]) -> Vec<Message> {
    let mut next = Vec::new();
    if execution.limit_concurrent
        && let Some(w) = waiting.iter().find(|w| !w.canceled)
    {
        next.push(Message::StartExecution {
            execution: w.id.clone(),
        });
    }
    next.push(Message::StartTriggeredPipelines {
        execution: execution.id.clone(),
    });
    next
}
