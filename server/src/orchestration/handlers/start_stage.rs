//! `StartStage`: a stage whose upstream stages are done starts: its expressions are evaluated
//! (once), `stageEnabled` decides whether it runs, and its tasks are laid out.

use domain::execution::{Execution, Stage, Status, Task, keys};
use serde_json::{Map, Value, json};

use super::Transition;
use super::complete_stage::after_stage_finished;
use crate::orchestration::execution_window;
use crate::orchestration::expressions::{ExpressionLimits, Scope, evaluate, evaluate_all};
use crate::orchestration::messages::Message;

/// Starts stage `stage_id`; `tasks` are the tasks its kind runs (`None`: the engine cannot run
/// its type, and the stage fails). `prepared` is the stage with its expressions evaluated when
/// the caller did that already (off the async workers); else it is done here.
pub fn start_stage(
    execution: &mut Execution,
    stage_id: &str,
    message: &Message,
    now: i64,
    prepared: Option<PreparedStage>,
    tasks: impl FnOnce(&Stage) -> Option<Vec<&'static str>>,
) -> Transition {
    if execution.status != Status::Running {
        return Transition::drop("execution is not running", message);
    }
    let Some(stage) = execution.stage(stage_id) else {
        return Transition::drop("no such stage", message);
    };
    if !execution.is_startable(stage) {
        return Transition::drop("stage already started or not ready", message);
    }
    // Expressions are evaluated once, when the stage starts.
    let prepared =
        prepared.unwrap_or_else(|| prepare_stage(execution, stage, ExpressionLimits::default()));
    let tasks = tasks(stage);
    let execution_id = execution.id.clone();
    let complete = Message::CompleteStage {
        execution: execution_id.clone(),
        stage: stage_id.into(),
    };
    let stage = execution.stage_mut(stage_id).expect("found above");
    stage.start_time = Some(now);
    stage.context = prepared.context;
    if !prepared.enabled {
        stage.status = Status::Skipped;
        stage.end_time = Some(now);
        let ref_id = stage.ref_id.clone();
        return after_stage_finished(execution, &ref_id, Transition::changed());
    }
    stage.status = Status::Running;
    if let Some(reason) = prepared.failure {
        fail_stage(stage, &reason);
        return Transition::changed().then(complete);
    }
    let Some(tasks) = tasks else {
        let reason = format!("stage type '{}' is not supported", stage.stage_type);
        fail_stage(stage, &reason);
        return Transition::changed().then(complete);
    };
    let window = execution_window::is_restricted(&stage.context).then_some(execution_window::TASK);
    stage.tasks = window
        .into_iter()
        .chain(tasks)
        .enumerate()
        .map(|(i, name)| Task {
            id: (i + 1).to_string(),
            name: name.to_owned(),
            status: Status::NotStarted,
            start_time: None,
            end_time: None,
        })
        .collect();
    let next = match stage.tasks.first() {
        Some(first) => Message::RunTask {
            execution: execution_id,
            stage: stage_id.into(),
            task: first.id.clone(),
        },
        None => complete,
    };
    Transition::changed().then(next)
}

/// Marks a stage that could not even run as failed (its tasks never started).
fn fail_stage(stage: &mut Stage, reason: &str) {
    stage.record_failure(reason);
    stage.tasks = vec![Task {
        id: "1".into(),
        name: "unsupported".into(),
        status: Status::Terminal,
        start_time: None,
        end_time: None,
    }];
}

/// A stage's configuration with its expressions evaluated, whether it is enabled, and the reason
/// it must fail (an expression in a required field that could not be evaluated).
pub struct PreparedStage {
    pub context: Map<String, Value>,
    pub enabled: bool,
    pub failure: Option<String>,
}

pub fn prepare_stage(
    execution: &Execution,
    stage: &Stage,
    limits: ExpressionLimits,
) -> PreparedStage {
    let scope = Scope::with_limits(execution, Some(stage), limits);
    let mut raw = stage.context.clone();
    raw.remove(keys::EXPRESSION_SUMMARY);
    let condition = raw.remove("stageEnabled");
    let (evaluated, failures) = evaluate_all(&Value::Object(raw), &scope);
    let mut context = match evaluated {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut summary = Map::new();
    let error = |description: String| json!([{ "description": description, "level": "ERROR" }]);
    for f in &failures {
        summary.insert(
            f.expression.clone(),
            error(format!("Failed to evaluate [{}] {}", f.field, f.reason)),
        );
    }
    let mut enabled = true;
    if let Some(condition) = condition {
        if let Some(text) = condition.get("expression").and_then(Value::as_str) {
            let text = text.trim();
            let inner = text
                .strip_prefix("${")
                .and_then(|t| t.strip_suffix('}'))
                .unwrap_or(text);
            match evaluate(inner, &scope) {
                Ok(Value::Bool(b)) => enabled = b,
                Ok(other) => {
                    let problem = format!("stageEnabled must be true or false, not {other}");
                    summary.insert(text.to_owned(), error(problem));
                }
                Err(reason) => {
                    let problem = format!("Failed to evaluate [stageEnabled] {reason}");
                    summary.insert(text.to_owned(), error(problem));
                }
            }
        }
        context.insert("stageEnabled".into(), condition);
    }
    let required = stage
        .stage_type
        .info()
        .map(|t| t.required)
        .unwrap_or_default();
    let failure = failures
        .iter()
        .find(|f| {
            required.iter().any(|r| {
                f.field == *r
                    || f.field.starts_with(&format!("{r}."))
                    || f.field.starts_with(&format!("{r}["))
            })
        })
        .map(|f| format!("could not evaluate {}: {}", f.field, f.reason));
    if !summary.is_empty() {
        context.insert(keys::EXPRESSION_SUMMARY.into(), Value::Object(summary));
    }
    PreparedStage {
        context,
        enabled,
        failure,
    }
}
