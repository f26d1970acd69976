//! Starting runs: from a person's request (`start`), for an event (`start_from_event`, the
//! event intake's way in), and from a `pipeline` stage (`PipelineRunner`).

use std::time::Duration;

use async_trait::async_trait;
use domain::execution::Execution;
use domain::pipeline::{PipelineDocument, Severity};
use serde_json::{Map, Value};

use super::{Engine, EngineError};
use crate::orchestration::handlers::new_execution;
use crate::orchestration::messages::Message;
use crate::orchestration::ports::RunStarter;
use crate::orchestration::stages::PipelineRunner;

impl Engine {
    /// Starts a run of `pipeline` with `trigger`; returns the execution id. Refuses a pipeline
    /// with stage types the engine cannot run, before anything starts.
    pub async fn start(
        &self,
        pipeline: &PipelineDocument,
        trigger: Value,
    ) -> Result<String, EngineError> {
        let id = crate::ids::uuid_like();
        self.start_as(pipeline, trigger, &id).await?;
        Ok(id)
    }

    /// Starts a run for an event (a Jenkins build, an image push, …): the trigger's
    /// `parameters` are completed from the pipeline's parameterConfig defaults. `id` derives
    /// from the event, so the same event seen twice (two replicas, a webhook and a poll) starts
    /// one run; `false` when that run exists already.
    pub async fn start_from_event(
        &self,
        pipeline: &PipelineDocument,
        mut trigger: Map<String, Value>,
        id: &str,
    ) -> Result<bool, EngineError> {
        let given = trigger
            .get("parameters")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let parameters = pipeline.resolve_parameters(&given).map_err(|problems| {
            let listed: Vec<String> = problems
                .into_iter()
                .map(|(field, message)| format!("{field}: {message}"))
                .collect();
            EngineError::Invalid {
                field: "parameters".into(),
                message: format!(
                    "the pipeline's parameters are incomplete: {}",
                    listed.join("; ")
                ),
            }
        })?;
        trigger.insert("parameters".into(), Value::Object(parameters));
        self.start_as(pipeline, Value::Object(trigger), id).await
    }

    /// Starts a run with a given id; `false` when a run with that id exists already (so a cause
    /// handled twice starts one run).
    async fn start_as(
        &self,
        pipeline: &PipelineDocument,
        trigger: Value,
        id: &str,
    ) -> Result<bool, EngineError> {
        // Stored pipelines were validated when saved; this guards every other way in.
        if let Some(problem) = pipeline
            .validate()
            .into_iter()
            .find(|p| p.severity == Severity::Error)
        {
            return Err(EngineError::Conflict(problem.to_string()));
        }
        domain::json_depth::check_input(&trigger).map_err(|message| EngineError::Invalid {
            field: "trigger".into(),
            message: format!("the trigger {message}"),
        })?;
        let trigger = self.resolve_artifacts(pipeline, trigger).await?;
        let execution = new_execution(
            pipeline,
            trigger,
            id,
            self.now(),
            |t| self.stages.get(t).is_some(),
            |i| format!("{}-{}", i + 1, crate::ids::short_id()),
        )
        .map_err(EngineError::Conflict)?;
        let first = self.queue.item(
            &Message::StartExecution {
                execution: execution.id.clone(),
            },
            Duration::ZERO,
        );
        let created = self.executions.create(&execution, &first).await?;
        if created {
            tracing::info!(execution = %execution.id, application = %execution.application, pipeline = %execution.name, "execution started");
        }
        Ok(created)
    }

    /// Decides which artifacts (images) this run uses: the pipeline's `expectedArtifacts`
    /// resolved from the trigger, the previous run or defaults, recorded on the trigger.
    async fn resolve_artifacts(
        &self,
        pipeline: &PipelineDocument,
        trigger: Value,
    ) -> Result<Value, EngineError> {
        let expected = pipeline.list("expectedArtifacts");
        let Value::Object(mut trigger) = trigger else {
            return Ok(trigger);
        };
        if expected.is_empty() {
            return Ok(Value::Object(trigger));
        }
        let given = trigger
            .get("artifacts")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let prior = match pipeline.id() {
            Some(id) => self
                .executions
                .latest_of_pipeline(id)
                .await?
                .and_then(|e| {
                    e.trigger
                        .get("resolvedExpectedArtifacts")
                        .and_then(Value::as_array)
                        .cloned()
                })
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let resolved = crate::orchestration::artifacts::resolve(expected, &given, &prior)
            .map_err(EngineError::Conflict)?;
        crate::orchestration::artifacts::record(&mut trigger, resolved);
        Ok(Value::Object(trigger))
    }

    /// Starts the runs that cron triggers scheduled in `(from_ms, to_ms]` (through the event
    /// intake). Returns how many were started.
    pub async fn fire_cron_triggers(&self, from_ms: i64, to_ms: i64) -> Result<usize, EngineError> {
        let tick = crate::events::cron::CronTick { from_ms, to_ms };
        let received = crate::events::intake::receive(self.pipelines.as_ref(), self, &tick).await?;
        Ok(received.started.len())
    }
}

#[async_trait]
impl RunStarter for Engine {
    async fn start_run(
        &self,
        pipeline: &PipelineDocument,
        trigger: Map<String, Value>,
        id: &str,
    ) -> Result<bool, EngineError> {
        self.start_from_event(pipeline, trigger, id).await
    }
}

#[async_trait]
impl PipelineRunner for Engine {
    async fn start_pipeline(
        &self,
        pipeline_id: &str,
        run_id: &str,
        mut trigger: Value,
    ) -> Result<(), String> {
        let doc = match self.pipelines.pipeline(pipeline_id).await {
            Ok(Some(doc)) => doc,
            Ok(None) => return Err(format!("there is no pipeline with id '{pipeline_id}'")),
            Err(e) => return Err(e.to_string()),
        };
        if doc.is_disabled() {
            return Err(format!("the pipeline '{}' is disabled", doc.name()));
        }
        // Another application's pipeline runs only when this application's EXECUTE or WRITE
        // roles may execute it there (a run acts with its application's permissions).
        let parent = trigger
            .pointer("/parentExecution/application")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if doc.application() != parent {
            let own = self.pipelines.permissions(&parent).await;
            let target = self.pipelines.permissions(doc.application()).await;
            let (Ok(Some(own)), Ok(Some(target))) = (own, target) else {
                return Err(format!(
                    "application '{parent}' may not run pipelines of application '{}'",
                    doc.application()
                ));
            };
            let mut roles = own.execute.clone();
            roles.extend(own.write);
            let runner = domain::Caller::User(domain::Identity {
                username: format!("application:{parent}"),
                roles,
                admin: false,
                method: domain::identity::AuthMethod::Local,
            });
            if !target.allow(&runner, domain::Access::Execute) {
                return Err(format!(
                    "application '{parent}' may not run pipelines of application '{}': none of its EXECUTE or WRITE roles has EXECUTE there",
                    doc.application()
                ));
            }
        }
        let given = trigger
            .get("parameters")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let parameters = doc.resolve_parameters(&given).map_err(|problems| {
            problems
                .into_iter()
                .map(|(_, m)| m)
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        trigger["parameters"] = Value::Object(parameters);
        self.start_as(&doc, trigger, run_id)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn execution(&self, id: &str) -> Result<Option<Execution>, String> {
        self.executions
            .load(id)
            .await
            .map(|v| v.map(|v| v.execution))
            .map_err(|e| e.to_string())
    }

    async fn cancel(&self, id: &str, by: &str) -> Result<(), String> {
        match Engine::cancel(self, id, by, None).await {
            Ok(()) | Err(EngineError::NotFound(_)) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}
