//! `StartTriggeredPipelines`: a run that ended starts the pipelines whose pipeline triggers
//! wait for it — through the event intake, like every other trigger source
//! (`events::intake`, event `PipelineEnded`).

use domain::execution::Execution;

/// The run, when it has ended (only then are pipelines triggered by it).
pub fn ended(execution: &Execution) -> Option<&Execution> {
    execution.status.is_complete().then_some(execution)
}
