//! `StartExecution`: a new run starts its initial stages, or waits while another run of its
//! pipeline is running (`limitConcurrent`). Also how a run is made from its pipeline.

use domain::execution::{Execution, PipelineId, Stage, StageId, StageType, Status};
use domain::pipeline::PipelineDocument;
use serde_json::{Map, Value};

use super::Transition;
use crate::orchestration::messages::Message;

/// The pipeline's other runs, for a run with `limitConcurrent` (empty otherwise).
#[derive(Debug, Default)]
pub struct Concurrency {
    /// Runs that are running or paused.
    pub running: Vec<Execution>,
    /// Runs that wait to start, oldest first.
    pub waiting: Vec<Execution>,
}

/// Whether starting `execution` depends on its pipeline's other runs (so the worker reads them).
pub fn wait_for_siblings(execution: &Execution) -> bool {
    execution.limit_concurrent && execution.status == Status::NotStarted && !execution.canceled
}

pub fn start_execution(
    execution: &mut Execution,
    message: &Message,
    now: i64,
    others: &Concurrency,
) -> Transition {
    if wait_for_siblings(execution) && !others.running.is_empty() {
        // Wait: the running one starts this when it finishes. Unless told to keep every
        // waiting execution, only the newest waits.
        let mut t = Transition::drop(
            "another execution of this pipeline is running; waiting",
            message,
        );
        if !execution.keep_waiting_pipelines {
            for older in &others.waiting {
                if older.build_time <= execution.build_time && !older.canceled {
                    t = t.then(Message::CancelExecution {
                        execution: older.id.clone(),
                    });
                }
            }
        }
        return t;
    }
    if execution.status != Status::NotStarted {
        return Transition::drop("execution already started", message);
    }
    if execution.canceled {
        execution.status = Status::Canceled;
        execution.end_time = Some(now);
        return Transition::changed();
    }
    execution.status = Status::Running;
    execution.start_time = Some(now);
    let id = execution.id.clone();
    let mut t = Transition::changed();
    let initial: Vec<StageId> = execution.initial_stages().map(|s| s.id.clone()).collect();
    if initial.is_empty() {
        return t.then(Message::CompleteExecution { execution: id });
    }
    for stage in initial {
        t = t.then(Message::StartStage {
            execution: id.clone(),
            stage,
        });
    }
    t
}

/// A new run of `pipeline` with `trigger` (its artifacts resolved), not started yet. Refuses a
/// stage type the engine cannot run (`runs`), naming the stage. `stage_id` makes each stage's
/// id from its position.
pub fn new_execution(
    pipeline: &PipelineDocument,
    trigger: Value,
    id: &str,
    now: i64,
    runs: impl Fn(&StageType) -> bool,
    mut stage_id: impl FnMut(usize) -> String,
) -> Result<Execution, String> {
    let mut stages = Vec::new();
    for (i, raw) in pipeline.stages().iter().enumerate() {
        let Some(config) = raw.as_object() else {
            continue;
        };
        let text = |k: &str| {
            config
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let ref_id = match config.get("refId") {
            Some(Value::Number(n)) => n.to_string(),
            _ => text("refId"),
        };
        let stage_type = StageType::parse(&text("type"));
        if !runs(&stage_type) {
            return Err(format!(
                "stage {ref_id} ({}): stage type '{stage_type}' is not supported",
                text("name")
            ));
        }
        let requisites = config
            .get("requisiteStageRefIds")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .or_else(|| v.as_i64().map(|n| n.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        stages.push(Stage {
            id: stage_id(i).into(),
            ref_id,
            stage_type,
            name: text("name"),
            status: Status::NotStarted,
            requisite_stage_ref_ids: requisites,
            context: config.clone(),
            outputs: Map::new(),
            start_time: None,
            end_time: None,
            tasks: Vec::new(),
        });
    }
    Ok(Execution {
        id: id.into(),
        application: pipeline.application().to_owned(),
        pipeline_config_id: pipeline.id().map(PipelineId::from),
        name: pipeline.name().to_owned(),
        status: Status::NotStarted,
        build_time: now,
        start_time: None,
        end_time: None,
        trigger,
        stages,
        canceled: false,
        canceled_by: None,
        cancellation_reason: None,
        limit_concurrent: pipeline.flag("limitConcurrent"),
        keep_waiting_pipelines: pipeline.flag("keepWaitingPipelines"),
        notifications: pipeline.list("notifications").to_vec(),
        notification_deliveries: Vec::new(),
    })
}
