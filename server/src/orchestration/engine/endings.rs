//! Stages and executions that a commit ended, measured for `/metrics` (their durations by type
//! and status).

use std::collections::HashMap;
use std::time::Duration;

use domain::execution::{Execution, Status};

/// The statuses an execution had before a message was applied.
pub struct Statuses {
    execution: Status,
    stages: HashMap<String, Status>,
}

impl Statuses {
    pub fn of(execution: &Execution) -> Self {
        Self {
            execution: execution.status,
            stages: execution
                .stages
                .iter()
                .map(|s| (s.id.as_str().to_owned(), s.status))
                .collect(),
        }
    }
}

/// Records what ended between `before` and the committed `after`.
pub fn record(before: &Statuses, after: &Execution) {
    let telemetry = crate::telemetry::global();
    let took = |start: Option<i64>, end: Option<i64>| {
        Some(Duration::from_millis(u64::try_from(end? - start?).ok()?))
    };
    for stage in &after.stages {
        let was_complete = before
            .stages
            .get(stage.id.as_str())
            .is_some_and(|s| s.is_complete());
        if stage.status.is_complete()
            && !was_complete
            && let Some(took) = took(stage.start_time, stage.end_time)
        {
            telemetry.stage_ended(&stage.stage_type, stage.status.as_str(), took);
        }
    }
    if after.status.is_complete()
        && !before.execution.is_complete()
        && let Some(took) = took(after.start_time, after.end_time)
    {
        telemetry.execution_ended(after.status.as_str(), took);
    }
}
