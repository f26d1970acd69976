//! Pipeline executions in Spinnaker's shape: an execution has stages, a stage has tasks, each
//! with a status and start/end times (epoch milliseconds).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub use crate::ids::{ExecutionId, PipelineId, StageId};
pub use crate::stage_types::StageType;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    NotStarted,
    Running,
    Paused,
    Succeeded,
    /// Failed, but the pipeline was told to go on (`continuePipeline`).
    FailedContinue,
    /// Failed and failing the pipeline.
    Terminal,
    Canceled,
    Skipped,
    /// Failed and halting its branch only.
    Stopped,
}

impl Status {
    /// Spinnaker's name for the status, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotStarted => "NOT_STARTED",
            Self::Running => "RUNNING",
            Self::Paused => "PAUSED",
            Self::Succeeded => "SUCCEEDED",
            Self::FailedContinue => "FAILED_CONTINUE",
            Self::Terminal => "TERMINAL",
            Self::Canceled => "CANCELED",
            Self::Skipped => "SKIPPED",
            Self::Stopped => "STOPPED",
        }
    }

    /// The thing will not change any more.
    pub fn is_complete(self) -> bool {
        matches!(
            self,
            Self::Succeeded
                | Self::FailedContinue
                | Self::Terminal
                | Self::Canceled
                | Self::Skipped
                | Self::Stopped
        )
    }

    /// Stages after one that ended like this may start.
    pub fn lets_downstream_run(self) -> bool {
        matches!(self, Self::Succeeded | Self::FailedContinue | Self::Skipped)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: String,
    pub name: String,
    pub status: Status,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    pub id: StageId,
    pub ref_id: String,
    #[serde(rename = "type")]
    pub stage_type: StageType,
    pub name: String,
    pub status: Status,
    pub requisite_stage_ref_ids: Vec<String>,
    /// The stage's configuration (its JSON from the pipeline) plus what tasks record.
    pub context: Map<String, Value>,
    /// What later stages may read.
    pub outputs: Map<String, Value>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub tasks: Vec<Task>,
}

/// Context and output keys the engine and stages write and the UI, expressions and
/// notifications read (Spinnaker's names, so expressions written for Spinnaker read them too).
pub mod keys {
    /// `{"details": {"errors": [reason]}}`: why the stage failed.
    pub const EXCEPTION: &str = "exception";
    /// `continue` or `stop`, once a person judged.
    pub const JUDGMENT_STATUS: &str = "judgmentStatus";
    /// The choice a person picked with the judgment.
    pub const JUDGMENT_INPUT: &str = "judgmentInput";
    /// Who judged (context).
    pub const LAST_MODIFIED_BY: &str = "lastModifiedBy";
    /// Who judged (outputs, once the stage went on).
    pub const JUDGED_BY: &str = "judgedBy";
    /// A Jenkins build: `name`, `number`, `url`, `building`, `result`, ...
    pub const BUILD_INFO: &str = "buildInfo";
    /// Expressions that failed when the stage started, by expression.
    pub const EXPRESSION_SUMMARY: &str = "expressionEvaluationSummary";

    /// What a run writes into a stage's context (besides outputs): cleared on restart.
    pub const RUN_STATE: &[&str] = &[
        EXCEPTION,
        EXPRESSION_SUMMARY,
        JUDGMENT_STATUS,
        JUDGMENT_INPUT,
        LAST_MODIFIED_BY,
    ];
}

/// A person's decision at a manual judgment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JudgmentDecision {
    Continue,
    Stop,
}

impl JudgmentDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Continue => "continue",
            Self::Stop => "stop",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "continue" => Some(Self::Continue),
            "stop" => Some(Self::Stop),
            _ => None,
        }
    }
}

/// A judgment as recorded on its stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judgment {
    pub decision: Option<JudgmentDecision>,
    pub by: String,
    pub input: Option<String>,
}

/// The Jenkins build a stage started, as far as it is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildInfo {
    pub number: u64,
    pub url: Option<String>,
}

impl Stage {
    /// A boolean stage option, with its default when absent.
    pub fn flag(&self, key: &str, default: bool) -> bool {
        self.context
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(default)
    }

    fn context_text(&self, key: &str) -> Option<&str> {
        self.context.get(key).and_then(Value::as_str)
    }

    /// Why the stage failed, when it did.
    pub fn failure(&self) -> Option<&str> {
        self.context
            .get(keys::EXCEPTION)
            .and_then(|e| e.pointer("/details/errors/0"))
            .and_then(Value::as_str)
    }

    /// Records why the stage failed.
    pub fn record_failure(&mut self, reason: &str) {
        self.context.insert(
            keys::EXCEPTION.into(),
            json!({ "details": { "errors": [reason] } }),
        );
    }

    /// The decision recorded on a manual judgment stage (not yet acted on, or acted on).
    pub fn judgment_decision(&self) -> Option<JudgmentDecision> {
        self.context_text(keys::JUDGMENT_STATUS)
            .and_then(JudgmentDecision::parse)
    }

    /// Records a person's judgment (the stage's task acts on it).
    pub fn record_judgment(&mut self, decision: JudgmentDecision, by: &str, input: Option<&str>) {
        self.context
            .insert(keys::JUDGMENT_STATUS.into(), json!(decision.as_str()));
        self.context
            .insert(keys::LAST_MODIFIED_BY.into(), json!(by));
        if let Some(input) = input {
            self.context
                .insert(keys::JUDGMENT_INPUT.into(), json!(input));
        }
    }

    /// Who judged, how and with which choice, once someone did.
    pub fn judgment(&self) -> Option<Judgment> {
        let by = self
            .outputs
            .get(keys::JUDGED_BY)
            .or_else(|| self.context.get(keys::LAST_MODIFIED_BY))?
            .as_str()?;
        Some(Judgment {
            decision: self.judgment_decision(),
            by: by.to_owned(),
            input: self
                .outputs
                .get(keys::JUDGMENT_INPUT)
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }

    /// Whether this is a manual judgment waiting for a person.
    pub fn awaits_judgment(&self) -> bool {
        self.stage_type == StageType::ManualJudgment && self.status == Status::Running
    }

    /// The Jenkins build this stage started (`buildInfo`, or the older `buildNumber`).
    pub fn build_info(&self) -> Option<BuildInfo> {
        let info = self.context.get(keys::BUILD_INFO);
        let number = info
            .and_then(|b| b.get("number"))
            .and_then(Value::as_u64)
            .or_else(|| self.context.get("buildNumber").and_then(Value::as_u64))?;
        Some(BuildInfo {
            number,
            url: info
                .and_then(|b| b.get("url"))
                .and_then(Value::as_str)
                .filter(|u| !u.is_empty())
                .map(str::to_owned),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub id: ExecutionId,
    pub application: String,
    pub pipeline_config_id: Option<PipelineId>,
    pub name: String,
    pub status: Status,
    pub build_time: i64,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub trigger: Value,
    pub stages: Vec<Stage>,
    pub canceled: bool,
    pub canceled_by: Option<String>,
    pub cancellation_reason: Option<String>,
    /// Only one execution of the pipeline runs at a time; later ones wait (`NOT_STARTED`).
    #[serde(default)]
    pub limit_concurrent: bool,
    /// With `limit_concurrent`: keep every waiting execution (else only the newest waits).
    #[serde(default)]
    pub keep_waiting_pipelines: bool,
    /// The pipeline's notifications, as configured when the run started.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<Value>,
    /// Every notification sent (or being retried) for this run, latest attempt each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notification_deliveries: Vec<NotificationDelivery>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeliveryState {
    Delivered,
    /// Failed; another attempt is scheduled.
    Retrying,
    /// Failed every attempt (the pipeline went on regardless).
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retrying => "retrying",
            Self::Failed => "failed",
        }
    }
}

/// One notification of a run: what it was about, where it went, and how its last attempt went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationDelivery {
    pub event: String,
    /// The stage it is about, if any (id and name).
    pub stage_id: Option<String>,
    pub stage: Option<String>,
    /// Configured on the stage (else on the pipeline), as entry `target` of that list.
    pub own_stage: bool,
    pub target: usize,
    /// `webhook` or `slack`.
    pub kind: String,
    /// The address without its path.
    pub address: String,
    pub attempts: u32,
    pub state: DeliveryState,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    /// When the last attempt was made (epoch ms).
    pub at: i64,
}

impl Execution {
    pub fn stage(&self, id: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.id == id)
    }

    pub fn stage_mut(&mut self, id: &str) -> Option<&mut Stage> {
        self.stages.iter_mut().find(|s| s.id == id)
    }

    pub fn stage_by_ref(&self, ref_id: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.ref_id == ref_id)
    }

    /// Stages that depend on nothing: where an execution begins.
    pub fn initial_stages(&self) -> impl Iterator<Item = &Stage> {
        self.stages
            .iter()
            .filter(|s| s.requisite_stage_ref_ids.is_empty())
    }

    /// Stages that list `ref_id` among their requisites.
    pub fn downstream_of<'a>(&'a self, ref_id: &'a str) -> impl Iterator<Item = &'a Stage> + 'a {
        self.stages
            .iter()
            .filter(move |s| s.requisite_stage_ref_ids.iter().any(|r| r == ref_id))
    }

    /// A stage that has not started and whose requisites all ended in a way that lets it run.
    pub fn is_startable(&self, stage: &Stage) -> bool {
        stage.status == Status::NotStarted
            && stage.requisite_stage_ref_ids.iter().all(|r| {
                self.stage_by_ref(r)
                    .is_some_and(|u| u.status.lets_downstream_run())
            })
    }

    /// Nothing runs and nothing more can start.
    pub fn has_nothing_left_to_run(&self) -> bool {
        !self
            .stages
            .iter()
            .any(|s| s.status == Status::Running || self.is_startable(s))
    }
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn status_names_match_the_json() {
        for s in [
            Status::NotStarted,
            Status::FailedContinue,
            Status::Terminal,
            Status::Stopped,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}

/// The console log of a build a stage started, as the execution page shows it: the whole log
/// so far (or its end, when `truncated`), and whether it is still being written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildLog {
    pub text: String,
    pub more: bool,
    pub truncated: bool,
}

/// What a deploy after a manual judgment would change in one object of its target: the fields
/// the manifest sets, as they are now and as they would be (`exists: false`: it would be
/// created).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedChange {
    /// The deploy stage's name.
    pub stage: String,
    pub account: String,
    pub namespace: String,
    /// `deployment web`.
    pub object: String,
    pub exists: bool,
    pub changes: Vec<crate::pipeline::PipelineChange>,
    /// Why the preview could not be made for this stage (cluster unreachable, manifests from an
    /// artifact), in plain words.
    pub note: Option<String>,
}
