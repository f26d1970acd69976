//! What the engine needs from outside, each behind a small trait: where pipelines are read
//! (Front50: the store), how notifications are sent (HTTP), and who starts runs for events
//! (the engine itself, for the event intake). The message sink — where an execution's messages
//! go when it changes — is [`super::executions::MessageSink`].

use async_trait::async_trait;
use domain::pipeline::PipelineDocument;
use domain::triggers::TriggerKind;
use serde_json::{Map, Value};

use super::engine::EngineError;

/// Where pipeline configurations are read.
#[async_trait]
pub trait PipelineSource: Send + Sync + 'static {
    /// The latest version of the pipeline with this id.
    async fn pipeline(&self, id: &str) -> Result<Option<PipelineDocument>, EngineError>;
    /// Every pipeline with at least one trigger of `kind`.
    async fn with_trigger(&self, kind: TriggerKind) -> Result<Vec<PipelineDocument>, EngineError>;
    /// An application's permissions (`None`: no such application).
    async fn permissions(
        &self,
        _application: &str,
    ) -> Result<Option<domain::Permissions>, EngineError> {
        Ok(None)
    }
}

#[async_trait]
impl PipelineSource for crate::store::Store {
    async fn pipeline(&self, id: &str) -> Result<Option<PipelineDocument>, EngineError> {
        match self.get_pipeline_by_id(id).await {
            Ok((_, doc)) => Ok(Some(doc)),
            Err(crate::store::StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn with_trigger(&self, kind: TriggerKind) -> Result<Vec<PipelineDocument>, EngineError> {
        Ok(self.pipelines_with_trigger(kind.as_str()).await?)
    }

    async fn permissions(
        &self,
        application: &str,
    ) -> Result<Option<domain::Permissions>, EngineError> {
        match self.get_application(application).await {
            Ok(app) => Ok(Some(app.permissions)),
            Err(crate::store::StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// Sends a notification's body to its address.
#[async_trait]
pub trait NotificationSender: Send + Sync + 'static {
    /// The status code when the address answered 2xx, else the code (if any) and what went
    /// wrong, in words that carry no secret.
    async fn send(&self, address: &str, body: &Value) -> Result<u16, (Option<u16>, String)>;
}

/// Starts a run of a pipeline for an event.
#[async_trait]
pub trait RunStarter: Send + Sync {
    /// Starts `pipeline` as run `id` with `trigger` (its parameters completed from the
    /// pipeline's defaults); `false` when that run exists already.
    async fn start_run(
        &self,
        pipeline: &PipelineDocument,
        trigger: Map<String, Value>,
        id: &str,
    ) -> Result<bool, EngineError>;
}
