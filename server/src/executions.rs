//! The execution service behind the UI and API: starts pipelines on the engine, reads, cancels
//! and judges executions.

use std::sync::Arc;

use async_trait::async_trait;
use domain::execution::{Execution, PlannedChange, StageId, StageType, Status};
use domain::execution_query::{ExecutionPage, ExecutionQuery};
use domain::services::ExecutionService;
use domain::{AppError, ApplicationName, RequestContext};
use serde_json::{Value, json};

use crate::access::Guard;
use crate::applications::internal;
use crate::orchestration::engine::{Engine, EngineError};
use crate::store::{Store, StoreError};
use domain::Access;

/// How many executions a list shows.
const LIST_LIMIT: u64 = 50;

pub struct Executions {
    engine: Arc<Engine>,
    store: Store,
    guard: Guard,
    /// The Kubernetes accounts, for judgment previews (none: no previews).
    accounts: Option<crate::kubernetes::Accounts>,
}

impl Executions {
    pub fn new(engine: Arc<Engine>, store: Store, guard: Guard) -> Self {
        Self {
            engine,
            store,
            guard,
            accounts: None,
        }
    }

    /// The execution `id`, if the caller has `access` to its application.
    async fn authorized(
        &self,
        rc: &RequestContext,
        id: &str,
        access: Access,
    ) -> Result<Execution, AppError> {
        rc.caller.signed_in()?;
        let execution = self.engine.execution(id).await.map_err(|e| map(rc, e))?;
        self.guard
            .application(rc, &execution.application, access)
            .await?;
        Ok(execution)
    }

    /// Records a control on an execution in the audit log.
    async fn audit(&self, rc: &RequestContext, action: &str, e: &Execution, summary: Value) {
        let target = format!("application/{}/execution/{}", e.application, e.id);
        let mut summary = summary;
        if let Some(map) = summary.as_object_mut() {
            map.insert("pipeline".into(), json!(e.name));
        }
        self.guard.record(rc, action, &target, summary).await;
    }

    pub fn with_accounts(mut self, accounts: crate::kubernetes::Accounts) -> Self {
        self.accounts = Some(accounts);
        self
    }

    /// What one deploy stage would change: each manifest against the live object, on the
    /// fields the manifest sets.
    async fn plan(
        &self,
        rc: &RequestContext,
        application: &domain::Application,
        execution: &Execution,
        stage: &domain::execution::Stage,
    ) -> Vec<PlannedChange> {
        let unplanned = |note: String| PlannedChange {
            stage: stage.name.clone(),
            account: String::new(),
            namespace: String::new(),
            object: String::new(),
            exists: false,
            changes: Vec::new(),
            note: Some(note),
        };
        let (account, namespace_override, manifests) =
            match crate::orchestration::stages::planned_deploy(execution, stage) {
                Ok(p) => p,
                Err(note) => return vec![unplanned(note)],
            };
        let Some(accounts) = &self.accounts else {
            return vec![unplanned("no Kubernetes accounts are configured".into())];
        };
        let deploy = crate::manifests::preview::Deploy {
            stage: &stage.name,
            account: &account,
            namespace_override,
            manifests,
            dry_run: false,
        };
        crate::manifests::preview::plan(accounts, rc, application, deploy).await
    }
}

/// The trigger of a run started again: the original's (parameters, artifacts, build), marked
/// as a re-run of `id`. Who starts it is set by `start`; a run started by another pipeline
/// becomes a manual one (a person cannot claim to be a pipeline).
fn rerun_trigger(original: &Value, id: &str) -> Value {
    let mut trigger = original.as_object().cloned().unwrap_or_default();
    if trigger.get("type").and_then(Value::as_str) == Some("pipeline") {
        trigger.insert("type".into(), "manual".into());
        trigger.remove("parentExecution");
        trigger.remove("parentPipelineStageId");
    }
    trigger.insert("rerunOf".into(), id.into());
    Value::Object(trigger)
}

fn map(rc: &RequestContext, e: EngineError) -> AppError {
    match e {
        EngineError::NotFound(what) => AppError::NotFound { what },
        EngineError::Conflict(message) => AppError::Conflict { message },
        EngineError::Invalid { field, message } => AppError::invalid(&field, &message),
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
        self.guard
            .application(rc, application.as_str(), Access::Execute)
            .await?;
        let (_, document) = self
            .store
            .get_pipeline(application.as_str(), name)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => AppError::NotFound {
                    what: format!("pipeline '{name}' of application '{application}'"),
                },
                other => internal(rc, &other),
            })?;
        if document.is_disabled() {
            return Err(AppError::Conflict {
                message: format!("pipeline '{name}' is disabled"),
            });
        }
        let mut trigger = match trigger {
            serde_json::Value::Object(map) => map,
            _ => {
                return Err(AppError::invalid(
                    "trigger",
                    "the trigger must be a JSON object",
                ));
            }
        };
        let given = trigger
            .get("parameters")
            .and_then(serde_json::Value::as_object)
            .cloned()
            .unwrap_or_default();
        let parameters =
            document
                .resolve_parameters(&given)
                .map_err(|problems| AppError::Invalid {
                    fields: problems
                        .into_iter()
                        .map(|(name, message)| domain::FieldError {
                            field: format!("parameters.{name}"),
                            message,
                        })
                        .collect(),
                })?;
        trigger.insert("parameters".into(), serde_json::Value::Object(parameters));
        trigger.entry("type").or_insert_with(|| "manual".into());
        if trigger.get("type").and_then(Value::as_str) == Some("pipeline") {
            return Err(AppError::invalid(
                "trigger.type",
                "a run started by a person cannot claim to be started by another pipeline",
            ));
        }
        trigger.remove("pipelineDepth");
        // Who started it is who signed in, whatever the request says.
        trigger.insert("user".into(), rc.caller.audit_name().into());
        let id = self
            .engine
            .start(&document, serde_json::Value::Object(trigger))
            .await
            .map_err(|e| map(rc, e))?;
        tracing::info!(request_id = %rc.request_id, execution = %id, by = rc.caller.audit_name(), "pipeline started");
        let target = format!("application/{application}/execution/{id}");
        self.guard
            .record(rc, "execution.start", &target, json!({"pipeline": name}))
            .await;
        Ok(id)
    }

    async fn get(&self, rc: &RequestContext, id: &str) -> Result<Execution, AppError> {
        let mut e = self.authorized(rc, id, Access::Read).await?;
        domain::redact::execution(&mut e);
        Ok(e)
    }

    async fn list(
        &self,
        rc: &RequestContext,
        application: &ApplicationName,
    ) -> Result<Vec<Execution>, AppError> {
        self.guard
            .application(rc, application.as_str(), Access::Read)
            .await?;
        let mut list = self
            .engine
            .executions(application.as_str(), LIST_LIMIT)
            .await
            .map_err(|e| map(rc, e))?;
        list.iter_mut().for_each(domain::redact::execution);
        Ok(list)
    }

    async fn rerun(&self, rc: &RequestContext, id: &str) -> Result<String, AppError> {
        // The stored run, not the redacted one: its secrets go back into the new run as they
        // came, and never through the caller.
        let e = self.authorized(rc, id, Access::Execute).await?;
        let application =
            ApplicationName::parse(&e.application).map_err(|_| AppError::NotFound {
                what: format!("application of execution '{id}'"),
            })?;
        let trigger = rerun_trigger(&e.trigger, id);
        self.start(rc, &application, &e.name, trigger).await
    }

    async fn query(
        &self,
        rc: &RequestContext,
        application: &ApplicationName,
        query: &ExecutionQuery,
    ) -> Result<ExecutionPage, AppError> {
        let cursor = query.validate()?;
        self.guard
            .application(rc, application.as_str(), Access::Read)
            .await?;
        let mut page = self
            .engine
            .executions_page(application.as_str(), query, cursor.as_ref())
            .await
            .map_err(|e| map(rc, e))?;
        page.executions
            .iter_mut()
            .for_each(domain::redact::execution);
        Ok(page)
    }

    async fn cancel(
        &self,
        rc: &RequestContext,
        id: &str,
        reason: Option<String>,
    ) -> Result<(), AppError> {
        let e = self.authorized(rc, id, Access::Execute).await?;
        self.engine
            .cancel(id, rc.caller.audit_name(), reason.clone())
            .await
            .map_err(|e| map(rc, e))?;
        self.audit(rc, "execution.cancel", &e, json!({"reason": reason}))
            .await;
        Ok(())
    }

    async fn judge(
        &self,
        rc: &RequestContext,
        id: &str,
        stage_id: &str,
        proceed: bool,
        input: Option<String>,
    ) -> Result<(), AppError> {
        let e = self.authorized(rc, id, Access::Execute).await?;
        self.engine
            .judge(id, stage_id, proceed, input.clone(), rc.caller.audit_name())
            .await
            .map_err(|e| map(rc, e))?;
        let stage = e.stage(stage_id).map(|s| s.name.clone());
        let judgment = if proceed { "continue" } else { "stop" };
        let summary = json!({"stage": stage, "judgment": judgment, "input": input});
        self.audit(rc, "execution.judge", &e, summary).await;
        Ok(())
    }

    async fn pause(&self, rc: &RequestContext, id: &str) -> Result<(), AppError> {
        let e = self.authorized(rc, id, Access::Execute).await?;
        self.engine.pause(id).await.map_err(|e| map(rc, e))?;
        self.audit(rc, "execution.pause", &e, json!({})).await;
        Ok(())
    }

    async fn resume(&self, rc: &RequestContext, id: &str) -> Result<(), AppError> {
        let e = self.authorized(rc, id, Access::Execute).await?;
        self.engine.resume(id).await.map_err(|e| map(rc, e))?;
        self.audit(rc, "execution.resume", &e, json!({})).await;
        Ok(())
    }

    async fn restart_stage(
        &self,
        rc: &RequestContext,
        id: &str,
        stage_id: &str,
    ) -> Result<(), AppError> {
        let e = self.authorized(rc, id, Access::Execute).await?;
        self.engine
            .restart_stage(id, stage_id)
            .await
            .map_err(|e| map(rc, e))?;
        let stage = e.stage(stage_id).map(|s| s.name.clone());
        self.audit(rc, "execution.restart", &e, json!({"stage": stage}))
            .await;
        Ok(())
    }

    async fn evaluate(
        &self,
        rc: &RequestContext,
        id: &str,
        expression: &str,
    ) -> Result<serde_json::Value, AppError> {
        self.authorized(rc, id, Access::Read).await?;
        match self
            .engine
            .evaluate(id, expression)
            .await
            .map_err(|e| map(rc, e))?
        {
            Ok(value) => Ok(value),
            Err(reason) => Err(AppError::invalid("expression", &reason)),
        }
    }

    async fn judgment_preview(
        &self,
        rc: &RequestContext,
        id: &str,
        stage_id: &str,
    ) -> Result<Vec<PlannedChange>, AppError> {
        let execution = self.authorized(rc, id, Access::Read).await?;
        let application = self
            .guard
            .application(rc, &execution.application, Access::Read)
            .await?;
        let Some(judgment) = execution
            .stage(stage_id)
            .filter(|s| s.stage_type == StageType::ManualJudgment)
        else {
            return Err(AppError::NotFound {
                what: format!("manual judgment stage {stage_id} of execution {id}"),
            });
        };
        if judgment.status != Status::Running {
            return Err(AppError::Conflict {
                message: format!("stage '{}' is not waiting for a judgment", judgment.name),
            });
        }
        let next: Vec<StageId> = execution
            .downstream_of(&judgment.ref_id)
            .filter(|s| s.stage_type == StageType::DeployManifest)
            .map(|s| s.id.clone())
            .collect();
        let mut out = Vec::new();
        for stage_id in next {
            let (execution, stage) = self
                .engine
                .preview_stage(id, &stage_id)
                .await
                .map_err(|e| map(rc, e))?;
            out.extend(self.plan(rc, &application, &execution, &stage).await);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn a_rerun_keeps_the_trigger_and_says_what_it_reruns() {
        let jenkins = json!({"type": "jenkins", "user": "[anonymous]", "buildNumber": 42,
            "parameters": {"env": "test"}, "artifacts": [{"type": "docker/image", "reference": "r/a@sha256:1"}]});
        let again = super::rerun_trigger(&jenkins, "01JX");
        assert_eq!(again["type"], "jenkins");
        assert_eq!(again["buildNumber"], 42);
        assert_eq!(again["parameters"], json!({"env": "test"}));
        assert_eq!(again["artifacts"][0]["reference"], "r/a@sha256:1");
        assert_eq!(again["rerunOf"], "01JX");
        let child = json!({"type": "pipeline", "parentExecution": {"id": "P"}, "parameters": {}});
        let again = super::rerun_trigger(&child, "01JY");
        assert_eq!(again["type"], "manual");
        assert!(again.get("parentExecution").is_none());
    }
}
