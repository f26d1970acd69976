//! The messages that drive executions. They carry ids only: everything else is read from the
//! store when the message is handled, so a message delivered twice or late does no harm.

use domain::ids::{ExecutionId, StageId};
use domain::notifications::NotificationEvent;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Message {
    StartExecution {
        execution: ExecutionId,
    },
    StartStage {
        execution: ExecutionId,
        stage: StageId,
    },
    RunTask {
        execution: ExecutionId,
        stage: StageId,
        task: String,
    },
    CompleteStage {
        execution: ExecutionId,
        stage: StageId,
    },
    CompleteExecution {
        execution: ExecutionId,
    },
    CancelExecution {
        execution: ExecutionId,
    },
    PauseExecution {
        execution: ExecutionId,
    },
    ResumeExecution {
        execution: ExecutionId,
    },
    RestartStage {
        execution: ExecutionId,
        stage: StageId,
    },
    /// The execution finished: start the pipelines whose pipeline triggers wait for it.
    StartTriggeredPipelines {
        execution: ExecutionId,
    },
    /// A running stage was canceled: tell what it started to stop (a child pipeline, a job).
    StopCanceledStage {
        execution: ExecutionId,
        stage: StageId,
    },
    /// Send notification `target` (of the stage's own list when `own_stage`, else the
    /// pipeline's) about `event`; `attempt` counts from 1.
    Notify {
        execution: ExecutionId,
        event: NotificationEvent,
        stage: Option<StageId>,
        own_stage: bool,
        target: usize,
        attempt: u32,
    },
}

impl Message {
    /// The message's name (Orca's), for logs and spans.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::StartExecution { .. } => "StartExecution",
            Self::StartStage { .. } => "StartStage",
            Self::RunTask { .. } => "RunTask",
            Self::CompleteStage { .. } => "CompleteStage",
            Self::CompleteExecution { .. } => "CompleteExecution",
            Self::CancelExecution { .. } => "CancelExecution",
            Self::PauseExecution { .. } => "PauseExecution",
            Self::ResumeExecution { .. } => "ResumeExecution",
            Self::RestartStage { .. } => "RestartStage",
            Self::StartTriggeredPipelines { .. } => "StartTriggeredPipelines",
            Self::StopCanceledStage { .. } => "StopCanceledStage",
            Self::Notify { .. } => "Notify",
        }
    }

    /// The execution this message is about (every message is about one).
    pub fn execution(&self) -> &str {
        match self {
            Self::StartExecution { execution }
            | Self::StartStage { execution, .. }
            | Self::RunTask { execution, .. }
            | Self::CompleteStage { execution, .. }
            | Self::CompleteExecution { execution }
            | Self::CancelExecution { execution }
            | Self::PauseExecution { execution }
            | Self::ResumeExecution { execution }
            | Self::RestartStage { execution, .. }
            | Self::StartTriggeredPipelines { execution }
            | Self::StopCanceledStage { execution, .. }
            | Self::Notify { execution, .. } => execution,
        }
    }

    /// Whether handling this message acts outside the execution (runs a task, starts other
    /// pipelines, stops what a stage started): its result is committed before anything after
    /// it is handled.
    pub fn reaches_outside(&self) -> bool {
        matches!(
            self,
            Self::RunTask { .. }
                | Self::StartTriggeredPipelines { .. }
                | Self::StopCanceledStage { .. }
                | Self::Notify { .. }
        )
    }

    /// Whether a worker may handle this right after the step that produced it, before that
    /// step is committed. Notifications may not: they tell about stored changes only.
    pub fn chains_locally(&self) -> bool {
        !matches!(self, Self::Notify { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_serialize_as_tagged_ids() {
        let m = Message::RunTask {
            execution: "e1".into(),
            stage: "s1".into(),
            task: "t1".into(),
        };
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(
            json,
            r#"{"type":"runTask","execution":"e1","stage":"s1","task":"t1"}"#
        );
        assert_eq!(serde_json::from_str::<Message>(&json).unwrap(), m);
        assert_eq!(m.execution(), "e1");
    }
}
