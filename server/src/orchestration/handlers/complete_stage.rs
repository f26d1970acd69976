//! `CompleteStage`: a stage whose tasks are done ends with a status from its tasks and failure
//! options; what may start next starts, or the execution completes.

use domain::execution::{Execution, Stage, StageId, Status};

use super::Transition;
use crate::orchestration::messages::Message;

/// The status a finished stage ends with, from its tasks and its failure options.
fn finished_stage_status(stage: &Stage) -> Status {
    if stage.tasks.iter().any(|t| t.status == Status::Canceled) {
        return Status::Canceled;
    }
    if stage.tasks.iter().all(|t| t.status == Status::Succeeded) {
        return Status::Succeeded;
    }
    if stage.flag("continuePipeline", false) {
        Status::FailedContinue
    } else if stage.flag("completeOtherBranchesThenFail", false)
        || !stage.flag("failPipeline", true)
    {
        Status::Stopped
    } else {
        Status::Terminal
    }
}

pub fn complete_stage(
    execution: &mut Execution,
    stage_id: &str,
    message: &Message,
    now: i64,
) -> Transition {
    let Some(stage) = execution.stage_mut(stage_id) else {
        return Transition::drop("no such stage", message);
    };
    if stage.status != Status::Running {
        return Transition::drop("stage is not running", message);
    }
    let status = finished_stage_status(stage);
    stage.status = status;
    stage.end_time = Some(now);
    let ref_id = stage.ref_id.clone();
    if status == Status::Terminal {
        return Transition::changed().then(Message::CompleteExecution {
            execution: execution.id.clone(),
        });
    }
    after_stage_finished(execution, &ref_id, Transition::changed())
}

/// After a stage ended in a way that lets the pipeline go on: start what now may start, and
/// complete the execution when nothing is left.
pub(super) fn after_stage_finished(
    execution: &Execution,
    ref_id: &str,
    mut t: Transition,
) -> Transition {
    let id = execution.id.clone();
    let startable: Vec<StageId> = execution
        .downstream_of(ref_id)
        .filter(|d| execution.is_startable(d))
        .map(|d| d.id.clone())
        .collect();
    for stage in startable {
        t = t.then(Message::StartStage {
            execution: id.clone(),
            stage,
        });
    }
    if execution.has_nothing_left_to_run() {
        t = t.then(Message::CompleteExecution { execution: id });
    }
    t
}
