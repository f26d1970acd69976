//! What notifications are sent on (Spinnaker's Echo event names, as pipelines write them in a
//! notification's `when`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NotificationEvent {
    #[serde(rename = "pipeline.starting")]
    PipelineStarting,
    #[serde(rename = "pipeline.complete")]
    PipelineComplete,
    #[serde(rename = "pipeline.failed")]
    PipelineFailed,
    #[serde(rename = "stage.starting")]
    StageStarting,
    #[serde(rename = "stage.complete")]
    StageComplete,
    #[serde(rename = "stage.failed")]
    StageFailed,
    /// A manual judgment waits for a person.
    #[serde(rename = "manualJudgment")]
    ManualJudgment,
    #[serde(rename = "manualJudgmentContinue")]
    ManualJudgmentContinue,
    #[serde(rename = "manualJudgmentStop")]
    ManualJudgmentStop,
}

impl NotificationEvent {
    pub const ALL: [Self; 9] = [
        Self::PipelineStarting,
        Self::PipelineComplete,
        Self::PipelineFailed,
        Self::StageStarting,
        Self::StageComplete,
        Self::StageFailed,
        Self::ManualJudgment,
        Self::ManualJudgmentContinue,
        Self::ManualJudgmentStop,
    ];

    /// The events of a whole pipeline (what a pipeline's own notifications offer).
    pub const PIPELINE: [Self; 3] = [
        Self::PipelineStarting,
        Self::PipelineComplete,
        Self::PipelineFailed,
    ];

    /// The name as written in `when`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PipelineStarting => "pipeline.starting",
            Self::PipelineComplete => "pipeline.complete",
            Self::PipelineFailed => "pipeline.failed",
            Self::StageStarting => "stage.starting",
            Self::StageComplete => "stage.complete",
            Self::StageFailed => "stage.failed",
            Self::ManualJudgment => "manualJudgment",
            Self::ManualJudgmentContinue => "manualJudgmentContinue",
            Self::ManualJudgmentStop => "manualJudgmentStop",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == text)
    }

    /// What happened, in words that follow the subject ("pipeline 'x' failed").
    pub fn words(self) -> &'static str {
        match self {
            Self::PipelineStarting | Self::StageStarting => "started",
            Self::PipelineComplete | Self::StageComplete => "succeeded",
            Self::PipelineFailed | Self::StageFailed => "failed",
            Self::ManualJudgment => "is waiting for a judgment",
            Self::ManualJudgmentContinue => "was approved",
            Self::ManualJudgmentStop => "was stopped by judgment",
        }
    }
}

impl std::fmt::Display for NotificationEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_and_write_as_spinnaker_names() {
        for e in NotificationEvent::ALL {
            assert_eq!(NotificationEvent::parse(e.as_str()), Some(e));
            assert_eq!(
                serde_json::to_value(e).unwrap(),
                serde_json::Value::String(e.as_str().into())
            );
        }
        assert_eq!(NotificationEvent::parse("pipeline.paused"), None);
    }
}
