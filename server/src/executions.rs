//! The execution service behind the UI and API: starts pipelines on the engine, reads, cancels
//! and judges executions.

use std::sync::Arc;

use app::model::execution::Execution;
use app::model::{AppError, ApplicationName, RequestContext};
use app::services::ExecutionService;
use async_trait::async_trait;

use crate::applications::internal;
use crate::orchestration::engine::{Engine, EngineError};
use crate::store::{Store, StoreError};

/// How many executions a list shows.
const LIST_LIMIT: u64 = 50;

pub struct Executions {
    engine: Arc<Engine>,
    store: Store,
}

impl Executions {
    pub fn new(engine: Arc<Engine>, store: Store) -> Self {
        Self { engine, store }
    }
}

fn map(rc: &RequestContext, e: EngineError) -> AppError {
    match e {
        EngineError::NotFound(what) => AppError::NotFound { what },
        EngineError::Invalid(message) => AppError::Conflict { message },
        other => internal(rc, &other),
    }
}

#[async_trait]
impl ExecutionService for Executions {
    async fn start(
        &self,
        rc: &RequestContext,
        application: &ApplicationName,
        name: &str,
        trigger: serde_json::Value,
    ) -> Result<String, AppError> {
        let (_, document) = self.store.get_pipeline(application.as_str(), name).await.map_err(|e| match e {
            StoreError::NotFound => AppError::NotFound { what: format!("pipeline '{name}' of application '{application}'") },
            other => internal(rc, &other),
        })?;
        if document.0.get("disabled").and_then(serde_json::Value::as_bool) == Some(true) {
            return Err(AppError::Conflict { message: format!("pipeline '{name}' is disabled") });
        }
        let mut trigger = match trigger {
            serde_json::Value::Object(map) => map,
            _ => return Err(AppError::invalid("trigger", "the trigger must be a JSON object")),
        };
        let given = trigger.get("parameters").and_then(serde_json::Value::as_object).cloned().unwrap_or_default();
        let parameters = document.resolve_parameters(&given).map_err(|problems| AppError::Invalid {
            fields: problems
                .into_iter()
                .map(|(name, message)| app::model::FieldError { field: format!("parameters.{name}"), message })
                .collect(),
        })?;
        trigger.insert("parameters".into(), serde_json::Value::Object(parameters));
        trigger.entry("type").or_insert_with(|| "manual".into());
        trigger.entry("user").or_insert_with(|| rc.caller.audit_name().into());
        let id = self.engine.start(&document, serde_json::Value::Object(trigger)).await.map_err(|e| map(rc, e))?;
        tracing::info!(request_id = %rc.request_id, execution = %id, by = rc.caller.audit_name(), "pipeline started");
        Ok(id)
    }

    async fn get(&self, rc: &RequestContext, id: &str) -> Result<Execution, AppError> {
        self.engine.execution(id).await.map_err(|e| map(rc, e))
    }

    async fn list(&self, rc: &RequestContext, application: &ApplicationName) -> Result<Vec<Execution>, AppError> {
        self.engine.executions(application.as_str(), LIST_LIMIT).await.map_err(|e| map(rc, e))
    }

    async fn cancel(&self, rc: &RequestContext, id: &str, reason: Option<String>) -> Result<(), AppError> {
        self.engine.cancel(id, rc.caller.audit_name(), reason).await.map_err(|e| map(rc, e))
    }

    async fn judge(
        &self,
        rc: &RequestContext,
        id: &str,
        stage_id: &str,
        proceed: bool,
        input: Option<String>,
    ) -> Result<(), AppError> {
        self.engine.judge(id, stage_id, proceed, input, rc.caller.audit_name()).await.map_err(|e| map(rc, e))
    }

    async fn pause(&self, rc: &RequestContext, id: &str) -> Result<(), AppError> {
        self.engine.pause(id).await.map_err(|e| map(rc, e))
    }

    async fn resume(&self, rc: &RequestContext, id: &str) -> Result<(), AppError> {
        self.engine.resume(id).await.map_err(|e| map(rc, e))
    }

    async fn restart_stage(&self, rc: &RequestContext, id: &str, stage_id: &str) -> Result<(), AppError> {
        self.engine.restart_stage(id, stage_id).await.map_err(|e| map(rc, e))
    }

    async fn evaluate(&self, rc: &RequestContext, id: &str, expression: &str) -> Result<serde_json::Value, AppError> {
        match self.engine.evaluate(id, expression).await.map_err(|e| map(rc, e))? {
            Ok(value) => Ok(value),
            Err(reason) => Err(AppError::invalid("expression", &reason)),
        }
    }
}
