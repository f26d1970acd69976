//! The execution engine: one handler per message type, each reading the execution, deciding,
//! and committing the new state together with the settling of its message and the messages that
//! follow (see [`ExecutionStore::commit`]).
//!
//! Handlers are idempotent: a message for a stage already past the state it expects is dropped
//! (duplicates are normal under at-least-once delivery). Tasks that wait return "check again in
//! N" and are re-run by a delayed message; no thread ever blocks on a pipeline.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use domain::execution::{
    Execution, JudgmentDecision, Stage, StageType, Status, Task, keys,
};
use domain::notifications::NotificationEvent;
use domain::pipeline::{PipelineDocument, Severity};
use serde_json::{Map, Value, json};

use super::executions::{Commit, ExecutionStore, ExecutionStoreError};
use super::expressions::{Scope, evaluate, evaluate_all};
use super::messages::Message;
use super::notifications::{self, Notifier};
use super::outbox::Outbox;
use super::queue::{
    Clock, DatabaseQueue, Delivery, QueueBackend, QueueError, QueueSettings, WorkQueue,
};
use super::stages::{PipelineRunner, StageRegistry, TaskContext, TaskResult};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Store(#[from] ExecutionStoreError),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
}

/// A handler's decision: whether the execution changed, and what to enqueue.
#[derive(Default)]
struct Transition {
    changed: bool,
    follow_ups: Vec<(Message, Duration)>,
}

impl Transition {
    fn drop(reason: &str, message: &Message) -> Self {
        tracing::debug!(?message, "dropping message: {reason}");
        Self::default()
    }

    fn then(mut self, message: Message) -> Self {
        self.follow_ups.push((message, Duration::ZERO));
        self
    }
}

/// How often a handler retries when another worker changed the same execution meanwhile.
const STALE_RETRIES: usize = 8;

/// How many follow-up messages one delivery may lead this worker to handle itself before the
/// rest goes back to the queue (so a task asking to be checked again at once cannot hold a
/// worker forever, and the queue's other work is not starved).
const LOCAL_STEPS: usize = 64;

pub struct Engine {
    queue: WorkQueue,
    executions: ExecutionStore,
    stages: StageRegistry,
    store: crate::store::Store,
    notifier: Notifier,
}

fn now_of(queue: &WorkQueue) -> i64 {
    queue.clock().now_ms()
}

impl Engine {
    /// The engine on the store's database (executions and queue in one database, so every
    /// change commits together with its message).
    pub fn new(
        store: &crate::store::Store,
        clock: Arc<dyn Clock>,
        settings: QueueSettings,
        stages: StageRegistry,
    ) -> Self {
        let queue = WorkQueue::new(Arc::new(DatabaseQueue::new(store)), clock, settings);
        Self {
            queue,
            executions: ExecutionStore::new(store),
            stages,
            store: store.clone(),
            notifier: Notifier::default(),
        }
    }

    /// Links in notifications point at `public_url` (Topsail's address as people reach it).
    pub fn with_public_url(mut self, public_url: &str) -> Self {
        self.notifier.public_url = public_url.to_owned();
        self
    }

    /// The engine on a queue outside the database (Redis, shared by several replicas): each
    /// change reaches the queue through the outbox (see [`super::outbox`]).
    pub fn with_queue(
        store: &crate::store::Store,
        backend: Arc<dyn QueueBackend>,
        clock: Arc<dyn Clock>,
        settings: QueueSettings,
        stages: StageRegistry,
    ) -> Self {
        let queue = WorkQueue::new(backend.clone(), clock.clone(), settings);
        let outbox = Outbox {
            queue: backend,
            clock,
        };
        Self {
            queue,
            executions: ExecutionStore::with_outbox(store, outbox),
            stages,
            store: store.clone(),
            notifier: Notifier::default(),
        }
    }

    /// Moves messages a failed or dead writer left in the outbox to the queue (only with a
    /// queue outside the database). Returns how many moved.
    pub async fn relay_outbox(&self) -> Result<usize, EngineError> {
        Ok(self.executions.relay_outbox().await?)
    }

    pub fn queue(&self) -> &WorkQueue {
        &self.queue
    }

    /// Executions this process creates or changes, as the changes commit (the live views).
    pub fn subscribe(
        &self,
    ) -> tokio::sync::broadcast::Receiver<super::executions::ExecutionChange> {
        self.executions.subscribe()
    }

    pub async fn execution(&self, id: &str) -> Result<Execution, EngineError> {
        let found = self.executions.load(id).await?;
        found
            .map(|v| v.execution)
            .ok_or_else(|| EngineError::NotFound(format!("execution '{id}'")))
    }

    pub async fn executions(
        &self,
        application: &str,
        limit: u64,
    ) -> Result<Vec<Execution>, EngineError> {
        Ok(self.executions.list(application, limit).await?)
    }

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

    /// Starts a run for an event (a Jenkins build, an image push): the trigger's `parameters`
    /// are completed from the pipeline's parameterConfig defaults. `id` derives from the event,
    /// so the same event seen twice (two replicas, a webhook and a poll) starts one run;
    /// `false` when that run exists already.
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
            EngineError::Invalid(format!(
                "the pipeline's parameters are incomplete: {}",
                listed.join("; ")
            ))
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
            return Err(EngineError::Invalid(problem.to_string()));
        }
        let trigger = self.resolve_artifacts(pipeline, trigger).await?;
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
            if self.stages.get(&stage_type).is_none() {
                return Err(EngineError::Invalid(format!(
                    "stage {ref_id} ({}): stage type '{stage_type}' is not supported",
                    text("name")
                )));
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
                id: format!("{}-{}", i + 1, crate::ids::short_id()),
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
        let execution = Execution {
            id: id.to_owned(),
            application: pipeline.application().to_owned(),
            pipeline_config_id: pipeline.id().map(str::to_owned),
            name: pipeline.name().to_owned(),
            status: Status::NotStarted,
            build_time: now_of(&self.queue),
            start_time: None,
            end_time: None,
            trigger,
            stages,
            canceled: false,
            canceled_by: None,
            cancellation_reason: None,
            limit_concurrent: pipeline
                .0
                .get("limitConcurrent")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            keep_waiting_pipelines: pipeline
                .0
                .get("keepWaitingPipelines")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            notifications: pipeline
                .0
                .get("notifications")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            notification_deliveries: Vec::new(),
        };
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
        let expected = pipeline
            .0
            .get("expectedArtifacts")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
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
        let resolved =
            super::artifacts::resolve(&expected, &given, &prior).map_err(EngineError::Invalid)?;
        super::artifacts::record(&mut trigger, resolved);
        Ok(Value::Object(trigger))
    }

    /// Starts every pipeline whose pipeline trigger waits for `parent` to end as it did. Child
    /// ids derive from the parent and the pipeline, so handling this twice starts nothing twice.
    async fn start_triggered_pipelines(&self, parent: &Execution) -> Result<(), EngineError> {
        let candidates = self
            .store
            .pipelines_with_trigger("pipeline")
            .await
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        for doc in candidates {
            let Some(mut trigger) = crate::events::triggers::pipeline_trigger_for(&doc, parent)
            else {
                continue;
            };
            match doc.resolve_parameters(&Map::new()) {
                Ok(parameters) => trigger["parameters"] = Value::Object(parameters),
                Err(problems) => {
                    tracing::warn!(
                        pipeline = doc.name(),
                        ?problems,
                        "a pipeline trigger fired but the pipeline's parameters are incomplete"
                    );
                    continue;
                }
            }
            let id = crate::ids::derived_id(&[&parent.id, doc.id().unwrap_or_default()]);
            match self.start_as(&doc, trigger, &id).await {
                Ok(_) => {}
                Err(EngineError::Invalid(reason)) => {
                    tracing::warn!(pipeline = doc.name(), %reason, "a triggered pipeline cannot start")
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Starts the runs that cron triggers scheduled in `(from_ms, to_ms]`. Each run's id derives
    /// from the pipeline, the trigger and the fire time, so replicas checking the same window (or
    /// a check repeated after a restart) start each run once. Returns how many were started.
    pub async fn fire_cron_triggers(&self, from_ms: i64, to_ms: i64) -> Result<usize, EngineError> {
        let candidates = self
            .store
            .pipelines_with_trigger("cron")
            .await
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        let mut started = 0;
        for doc in candidates {
            for (i, t) in crate::events::triggers::enabled_triggers(&doc, "cron") {
                for fire in crate::events::cron::fires_between(t, from_ms, to_ms) {
                    let Ok(parameters) = doc.resolve_parameters(&Map::new()) else {
                        tracing::warn!(
                            pipeline = doc.name(),
                            "a cron trigger fired but the pipeline's parameters are incomplete"
                        );
                        continue;
                    };
                    let mut run_trigger = t.clone();
                    run_trigger.insert("user".into(), json!("[cron]"));
                    run_trigger.insert("fireTime".into(), json!(fire));
                    run_trigger.insert("parameters".into(), Value::Object(parameters));
                    let id = crate::ids::derived_id(&[
                        doc.id().unwrap_or_default(),
                        &i.to_string(),
                        &fire.to_string(),
                    ]);
                    match self.start_as(&doc, Value::Object(run_trigger), &id).await {
                        Ok(true) => started += 1,
                        Ok(false) => {}
                        Err(EngineError::Invalid(reason)) => {
                            tracing::warn!(pipeline = doc.name(), %reason, "a cron-triggered pipeline cannot start")
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(started)
    }

    /// A stage as it would start now: its configuration with expressions evaluated against the
    /// execution as it stands (for previews; failures stay in `expressionEvaluationSummary`).
    pub async fn preview_stage(
        &self,
        id: &str,
        stage_id: &str,
    ) -> Result<(Execution, Stage), EngineError> {
        let execution = self.execution(id).await?;
        let stage = execution
            .stage(stage_id)
            .ok_or_else(|| EngineError::NotFound(format!("stage {stage_id} of execution {id}")))?;
        let prepared = prepare_stage(&execution, stage);
        let mut stage = stage.clone();
        stage.context = prepared.context;
        Ok((execution, stage))
    }

    /// Asks a running execution to stop: running stages are canceled and waiting tasks stop.
    pub async fn cancel(
        &self,
        id: &str,
        by: &str,
        reason: Option<String>,
    ) -> Result<(), EngineError> {
        self.change(id, |execution| {
            if execution.status.is_complete() {
                return Ok(None);
            }
            execution.canceled = true;
            execution.canceled_by = Some(by.to_owned());
            execution.cancellation_reason = reason.clone();
            Ok(Some(vec![Message::CancelExecution {
                execution: id.to_owned(),
            }]))
        })
        .await
    }

    /// Pauses a running execution: running tasks stop being run until it is resumed.
    pub async fn pause(&self, id: &str) -> Result<(), EngineError> {
        self.request(
            id,
            |e| {
                (e.status == Status::Running).then(|| Message::PauseExecution {
                    execution: id.to_owned(),
                })
            },
            "is not running",
        )
        .await
    }

    pub async fn resume(&self, id: &str) -> Result<(), EngineError> {
        self.request(
            id,
            |e| {
                (e.status == Status::Paused).then(|| Message::ResumeExecution {
                    execution: id.to_owned(),
                })
            },
            "is not paused",
        )
        .await
    }

    /// Runs a failed or canceled stage (and everything after it) again.
    pub async fn restart_stage(&self, id: &str, stage_id: &str) -> Result<(), EngineError> {
        self.request(
            id,
            |e| {
                e.stage(stage_id)
                    .filter(|s| {
                        matches!(
                            s.status,
                            Status::Terminal
                                | Status::Stopped
                                | Status::Canceled
                                | Status::FailedContinue
                        )
                    })
                    .filter(|_| e.status != Status::Paused)
                    .map(|_| Message::RestartStage {
                        execution: id.to_owned(),
                        stage: stage_id.to_owned(),
                    })
            },
            "has no failed stage with that id to restart",
        )
        .await
    }

    /// Enqueues a control message after checking the execution can take it now.
    async fn request(
        &self,
        id: &str,
        decide: impl Fn(&Execution) -> Option<Message>,
        refusal: &str,
    ) -> Result<(), EngineError> {
        let execution = self.execution(id).await?;
        let message = decide(&execution)
            .ok_or_else(|| EngineError::Invalid(format!("execution '{id}' {refusal}")))?;
        self.queue.push(&message, Duration::ZERO).await?;
        Ok(())
    }

    /// Finds running executions with no message on the queue (lost to a bug or dead-lettered)
    /// and puts them back on track. Returns how many were found.
    pub async fn recover_zombies(&self) -> Result<usize, EngineError> {
        let zombies = self.executions.running_without_messages().await?;
        for id in &zombies {
            tracing::warn!(execution = %id, "running execution had no queued message; re-driving it");
            self.change(id, |execution| {
                Ok((execution.status == Status::Running)
                    .then(|| redrive(execution))
                    .filter(|m| !m.is_empty()))
            })
            .await?;
        }
        Ok(zombies.len())
    }

    /// Records a person's judgment on a running manual judgment stage and wakes its task.
    pub async fn judge(
        &self,
        id: &str,
        stage_id: &str,
        proceed: bool,
        input: Option<String>,
        by: &str,
    ) -> Result<(), EngineError> {
        self.change(id, |execution| {
            let stage = execution
                .stage_mut(stage_id)
                .ok_or_else(|| EngineError::NotFound(format!("stage '{stage_id}'")))?;
            if !stage.awaits_judgment() {
                return Err(EngineError::Invalid(format!(
                    "stage '{}' is not waiting for a judgment",
                    stage.name
                )));
            }
            let decision = if proceed {
                JudgmentDecision::Continue
            } else {
                JudgmentDecision::Stop
            };
            stage.record_judgment(decision, by, input.as_deref());
            let task = stage
                .tasks
                .iter()
                .find(|t| t.status == Status::Running)
                .map(|t| t.id.clone());
            Ok(Some(
                task.map(|task| Message::RunTask {
                    execution: id.to_owned(),
                    stage: stage_id.to_owned(),
                    task,
                })
                .into_iter()
                .collect(),
            ))
        })
        .await
    }

    /// Evaluates `expression` (with or without `${}`) against an execution: the UI's debugger.
    pub async fn evaluate(
        &self,
        id: &str,
        expression: &str,
    ) -> Result<Result<Value, String>, EngineError> {
        let execution = self.execution(id).await?;
        let text = expression.trim();
        let inner = text
            .strip_prefix("${")
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(text);
        Ok(evaluate(inner, &Scope::new(&execution, None)))
    }

    /// Applies a change a person asked for, retrying when the execution changed meanwhile.
    async fn change(
        &self,
        id: &str,
        mut edit: impl FnMut(&mut Execution) -> Result<Option<Vec<Message>>, EngineError>,
    ) -> Result<(), EngineError> {
        for _ in 0..STALE_RETRIES {
            let v = self
                .executions
                .load(id)
                .await?
                .ok_or_else(|| EngineError::NotFound(format!("execution '{id}'")))?;
            let mut execution = v.execution;
            let Some(messages) = edit(&mut execution)? else {
                return Ok(());
            };
            let items: Vec<_> = messages
                .iter()
                .map(|m| self.queue.item(m, Duration::ZERO))
                .collect();
            if self
                .executions
                .update(&execution, v.version, &items)
                .await?
                == Commit::Done
            {
                return Ok(());
            }
        }
        Err(EngineError::Invalid(format!(
            "execution '{id}' is too busy to change; try again"
        )))
    }

    /// Handles up to `max` due messages; returns how many were handled.
    pub async fn run_once(&self, max: usize) -> Result<usize, EngineError> {
        let deliveries = self.queue.poll(max).await?;
        for d in &deliveries {
            if let Err(e) = self.handle(d).await {
                // The message stays leased and is delivered again after the visibility timeout.
                tracing::error!(message = ?d.message, attempt = d.attempt, error = %e, "handling a queue message failed");
            }
        }
        Ok(deliveries.len())
    }

    /// Handles messages until none is due (tests move the clock between calls).
    pub async fn run_until_idle(&self) -> Result<usize, EngineError> {
        let mut total = 0;
        loop {
            let n = self.run_once(16).await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    /// Runs until `shutdown` turns true: handles due messages, idling briefly when there are none.
    pub async fn run(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        const IDLE: Duration = Duration::from_millis(100);
        const ZOMBIE_CHECK: Duration = Duration::from_secs(30);
        const CRON_CHECK: Duration = Duration::from_secs(5);
        const OUTBOX_CHECK: Duration = Duration::from_secs(5);
        let mut next_zombie_check = tokio::time::Instant::now();
        let mut next_outbox_check = tokio::time::Instant::now() + OUTBOX_CHECK;
        let mut next_cron_check = tokio::time::Instant::now() + CRON_CHECK;
        // Cron fire times are checked from start-up on: missed ones are not replayed.
        let mut cron_checked_until = now_of(&self.queue);
        loop {
            if *shutdown.borrow() {
                return;
            }
            if tokio::time::Instant::now() >= next_cron_check {
                next_cron_check += CRON_CHECK;
                let now = now_of(&self.queue);
                match self.fire_cron_triggers(cron_checked_until, now).await {
                    Ok(_) => cron_checked_until = now,
                    Err(e) => tracing::error!(error = %e, "cron check failed"),
                }
            }
            if tokio::time::Instant::now() >= next_outbox_check {
                next_outbox_check += OUTBOX_CHECK;
                if let Err(e) = self.relay_outbox().await {
                    tracing::error!(error = %e, "moving messages from the outbox failed");
                }
            }
            if tokio::time::Instant::now() >= next_zombie_check {
                next_zombie_check += ZOMBIE_CHECK;
                if let Err(e) = self.recover_zombies().await {
                    tracing::error!(error = %e, "zombie check failed");
                }
            }
            let busy = match self.run_once(16).await {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::error!(error = %e, "engine poll failed");
                    false
                }
            };
            if !busy {
                tokio::select! {
                    _ = tokio::time::sleep(IDLE) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }

    /// Handles a delivery and, in this worker, what it leads to at once: an execution moves on
    /// without waiting behind the rest of the queue, each step still committed durably.
    async fn handle(&self, first: &Delivery) -> Result<(), EngineError> {
        let mut local = VecDeque::from([first.clone()]);
        let mut budget = LOCAL_STEPS;
        while let Some(d) = local.pop_front() {
            // On an error the rest stays leased and is delivered again after the visibility timeout.
            local.extend(self.handle_one(&d, &mut budget).await?);
        }
        Ok(())
    }

    /// Handles one delivery: applies its message and the immediate follow-ups about the same
    /// execution in memory, up to and including a step that reaches outside (a task), then
    /// commits the new state, settles the delivery and enqueues what follows, in one step.
    /// Immediate follow-ups left over are enqueued leased to this worker and returned, so it
    /// handles them next; if it dies, they are delivered again when their lease runs out.
    async fn handle_one(
        &self,
        d: &Delivery,
        budget: &mut usize,
    ) -> Result<Vec<Delivery>, EngineError> {
        if self.executions.already_settled(&d.id, d.lease()).await? {
            tracing::debug!(message = ?d.message, "dropping a message handled before");
            return Ok(Vec::new());
        }
        for _ in 0..STALE_RETRIES {
            let Some(v) = self.executions.load(d.message.execution()).await? else {
                self.queue
                    .dead_letter(d, "the execution does not exist")
                    .await?;
                return Ok(Vec::new());
            };
            let mut execution = v.execution;
            let mut pending = VecDeque::from([d.message.clone()]);
            let mut changed = false;
            let mut later = Vec::new();
            while let Some(message) = pending.pop_front() {
                let transition = self.apply(&mut execution, &message).await?;
                changed |= transition.changed;
                for (next, delay) in transition.follow_ups {
                    if delay.is_zero() && next.execution() == execution.id && next.chains_locally()
                    {
                        pending.push_back(next);
                    } else {
                        later.push((next, delay));
                    }
                }
                if message.reaches_outside() {
                    break;
                }
            }
            let mut items: Vec<_> = later
                .iter()
                .map(|(m, delay)| self.queue.item(m, *delay))
                .collect();
            let mut claimed = Vec::new();
            let mut spent = 0;
            for message in &pending {
                if spent < *budget {
                    spent += 1;
                    let (item, delivery) = self.queue.claimed_item(message);
                    items.push(item);
                    claimed.push(delivery);
                } else {
                    items.push(self.queue.item(message, Duration::ZERO));
                }
            }
            let save = changed.then_some((&execution, v.version));
            match self
                .executions
                .commit(save, &d.id, d.lease(), &items)
                .await?
            {
                Commit::Done => {
                    *budget -= spent;
                    return Ok(claimed);
                }
                Commit::LeaseLost => return Ok(Vec::new()),
                Commit::Stale => continue,
            }
        }
        tracing::warn!(message = ?d.message, "execution kept changing; the message will be handled again");
        Ok(Vec::new())
    }

    async fn apply(
        &self,
        execution: &mut Execution,
        message: &Message,
    ) -> Result<Transition, EngineError> {
        let now = now_of(&self.queue);
        let was_complete = execution.status.is_complete();
        let before = notifications::Before::of(execution);
        let mut transition = self.apply_message(execution, message, now).await?;
        // Whoever listens for what just changed is told, once the change is stored.
        for notify in notifications::events(&before, execution) {
            transition.follow_ups.push((notify, Duration::ZERO));
        }
        if !was_complete && execution.status.is_complete() {
            // An execution that just finished lets the next waiting one of its pipeline start...
            if execution.limit_concurrent {
                let waiting = self
                    .executions
                    .siblings(execution, &[Status::NotStarted])
                    .await?;
                if let Some(next) = waiting.iter().find(|w| !w.canceled) {
                    transition = transition.then(Message::StartExecution {
                        execution: next.id.clone(),
                    });
                }
            }
            // ...and the pipelines triggered by its ending start.
            transition = transition.then(Message::StartTriggeredPipelines {
                execution: execution.id.clone(),
            });
        }
        Ok(transition)
    }

    async fn apply_message(
        &self,
        execution: &mut Execution,
        message: &Message,
        now: i64,
    ) -> Result<Transition, EngineError> {
        Ok(match message {
            Message::StartExecution { .. } => {
                if execution.limit_concurrent
                    && execution.status == Status::NotStarted
                    && !execution.canceled
                {
                    let running = self
                        .executions
                        .siblings(execution, &[Status::Running, Status::Paused])
                        .await?;
                    if !running.is_empty() {
                        // Wait: the running one starts this when it finishes. Unless told to
                        // keep every waiting execution, only the newest waits.
                        let mut t = Transition::drop(
                            "another execution of this pipeline is running; waiting",
                            message,
                        );
                        if !execution.keep_waiting_pipelines {
                            for older in self
                                .executions
                                .siblings(execution, &[Status::NotStarted])
                                .await?
                            {
                                if older.build_time <= execution.build_time && !older.canceled {
                                    t = t.then(Message::CancelExecution {
                                        execution: older.id,
                                    });
                                }
                            }
                        }
                        return Ok(t);
                    }
                }
                start_execution(execution, message, now)
            }
            Message::StartStage { stage, .. } => self.start_stage(execution, stage, message, now),
            Message::RunTask { stage, task, .. } => {
                self.run_task(execution, stage, task, message, now).await
            }
            Message::CompleteStage { stage, .. } => complete_stage(execution, stage, message, now),
            Message::CompleteExecution { .. } => complete_execution(execution, message, now),
            Message::CancelExecution { .. } => cancel_execution(execution, message, now),
            Message::PauseExecution { .. } => pause_execution(execution, message),
            Message::ResumeExecution { .. } => resume_execution(execution, message),
            Message::RestartStage { stage, .. } => restart_stage(execution, stage, message),
            Message::StopCanceledStage { stage, .. } => {
                let Some(s) = execution
                    .stage(stage)
                    .filter(|s| s.status == Status::Canceled)
                else {
                    return Ok(Transition::drop("stage is not canceled", message));
                };
                if let Some(kind) = self.stages.get(&s.stage_type) {
                    let cx = TaskContext {
                        execution,
                        stage: s,
                        task: "",
                        now_ms: now,
                        pipelines: self,
                    };
                    kind.stop(cx).await.map_err(|reason| {
                        EngineError::Invalid(format!("stopping stage '{}': {reason}", s.name))
                    })?;
                }
                Transition::default()
            }
            Message::Notify {
                event,
                stage,
                own_stage,
                target,
                attempt,
                ..
            } => {
                self.notify(
                    execution,
                    message,
                    *event,
                    stage.as_deref(),
                    *own_stage,
                    *target,
                    *attempt,
                    now,
                )
                .await
            }
            Message::StartTriggeredPipelines { .. } => {
                if execution.status.is_complete() {
                    self.start_triggered_pipelines(execution).await?;
                }
                Transition::default()
            }
        })
    }

    /// Sends one notification and records the attempt; a failure schedules the next attempt
    /// (or gives up) and never touches how the run goes.
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        execution: &mut Execution,
        message: &Message,
        event: NotificationEvent,
        stage_id: Option<&str>,
        own_stage: bool,
        target: usize,
        attempt: u32,
        now: i64,
    ) -> Transition {
        use domain::execution::{DeliveryState, NotificationDelivery};
        let stage = stage_id.and_then(|id| execution.stage(id));
        let list = if own_stage {
            stage
                .map(notifications::stage_notifications)
                .unwrap_or_default()
        } else {
            execution.notifications.clone()
        };
        let Some(config) = list.get(target) else {
            return Transition::drop("no such notification", message);
        };
        let kind = config
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("webhook")
            .to_owned();
        let address = config
            .get("address")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned();
        let custom = config
            .get("message")
            .and_then(|m| m.get(event.as_str()))
            .and_then(|m| m.get("text"))
            .and_then(Value::as_str);
        let body = notifications::payload(
            &kind,
            event,
            execution,
            stage,
            &self.notifier.link(execution),
            custom,
        );
        let stage_name = stage.map(|s| s.name.clone());
        let (state, retry, status_code, error) = match self.notifier.send(&address, &body).await {
            Ok(code) => (DeliveryState::Delivered, None, Some(code), None),
            Err((code, reason)) => {
                let (state, retry) = notifications::after_failure(attempt);
                tracing::warn!(execution = %execution.id, %event, attempt, address = %notifications::shown_address(&address), %reason, "a notification was not delivered");
                (state, retry, code, Some(reason))
            }
        };
        notifications::record(
            execution,
            NotificationDelivery {
                event: event.to_string(),
                stage_id: stage_id.map(str::to_owned),
                stage: stage_name,
                own_stage,
                target,
                kind,
                address: notifications::shown_address(&address),
                attempts: attempt,
                state,
                status_code,
                error,
                at: now,
            },
        );
        let mut t = Transition {
            changed: true,
            ..Default::default()
        };
        if let (
            Some(delay),
            Message::Notify {
                execution,
                event,
                stage,
                own_stage,
                target,
                ..
            },
        ) = (retry, message)
        {
            let again = Message::Notify {
                execution: execution.clone(),
                event: *event,
                stage: stage.clone(),
                own_stage: *own_stage,
                target: *target,
                attempt: attempt + 1,
            };
            t.follow_ups.push((again, delay));
        }
        t
    }

    fn start_stage(
        &self,
        execution: &mut Execution,
        stage_id: &str,
        message: &Message,
        now: i64,
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
        let prepared = prepare_stage(execution, stage);
        let tasks = self
            .stages
            .get(&stage.stage_type)
            .map(|kind| kind.tasks(stage));
        let execution_id = execution.id.clone();
        let complete = Message::CompleteStage {
            execution: execution_id.clone(),
            stage: stage_id.to_owned(),
        };
        let stage = execution.stage_mut(stage_id).expect("found above");
        stage.start_time = Some(now);
        stage.context = prepared.context;
        if !prepared.enabled {
            stage.status = Status::Skipped;
            stage.end_time = Some(now);
            let ref_id = stage.ref_id.clone();
            return after_stage_finished(
                execution,
                &ref_id,
                Transition {
                    changed: true,
                    ..Default::default()
                },
            );
        }
        stage.status = Status::Running;
        if let Some(reason) = prepared.failure {
            fail_stage(stage, &reason);
            return Transition {
                changed: true,
                ..Default::default()
            }
            .then(complete);
        }
        let Some(tasks) = tasks else {
            fail_stage(
                stage,
                &format!("stage type '{}' is not supported", stage.stage_type),
            );
            return Transition {
                changed: true,
                ..Default::default()
            }
            .then(complete);
        };
        let window = super::execution_window::is_restricted(&stage.context)
            .then_some(super::execution_window::TASK);
        stage.tasks = window
            .into_iter()
            .chain(tasks)
            .enumerate()
            .map(|(i, name)| Task {
                id: (i + 1).to_string(),
                name: (*name).to_owned(),
                status: Status::NotStarted,
                start_time: None,
                end_time: None,
            })
            .collect();
        let next = match stage.tasks.first() {
            Some(first) => Message::RunTask {
                execution: execution_id,
                stage: stage_id.to_owned(),
                task: first.id.clone(),
            },
            None => complete,
        };
        Transition {
            changed: true,
            ..Default::default()
        }
        .then(next)
    }

    async fn run_task(
        &self,
        execution: &mut Execution,
        stage_id: &str,
        task_id: &str,
        message: &Message,
        now: i64,
    ) -> Transition {
        if execution.status != Status::Running {
            return Transition::drop("execution is not running", message);
        }
        let Some(stage) = execution.stage(stage_id) else {
            return Transition::drop("no such stage", message);
        };
        let Some(task) = stage.tasks.iter().find(|t| t.id == task_id) else {
            return Transition::drop("no such task", message);
        };
        if stage.status != Status::Running || task.status.is_complete() {
            return Transition::drop("task is not running", message);
        }
        let complete = Message::CompleteStage {
            execution: execution.id.clone(),
            stage: stage_id.to_owned(),
        };

        let timeout = stage.context.get("stageTimeoutMs").and_then(Value::as_i64);
        let result = match (timeout, stage.start_time) {
            (Some(limit), Some(start)) if now - start > limit => TaskResult::Failed {
                message: format!("the stage timed out after {limit} ms"),
            },
            _ if task.name == super::execution_window::TASK => {
                match super::execution_window::wait_from(&stage.context, now) {
                    None => TaskResult::Succeeded {
                        outputs: Map::new(),
                    },
                    Some(wait) => TaskResult::Running {
                        check_again_in: wait,
                    },
                }
            }
            _ => match self.stages.get(&stage.stage_type) {
                Some(kind) => {
                    kind.run_task(TaskContext {
                        execution,
                        stage,
                        task: &task.name,
                        now_ms: now,
                        pipelines: self,
                    })
                    .await
                }
                None => TaskResult::Failed {
                    message: format!("stage type '{}' is not supported", stage.stage_type),
                },
            },
        };

        let execution_id = execution.id.clone();
        let stage = execution.stage_mut(stage_id).expect("found above");
        let index = stage
            .tasks
            .iter()
            .position(|t| t.id == task_id)
            .expect("found above");
        let task = &mut stage.tasks[index];
        if task.status == Status::NotStarted {
            task.status = Status::Running;
            task.start_time = Some(now);
        }
        match result {
            TaskResult::Running { check_again_in } => {
                // A stage with a timeout is looked at again no later than when it runs out.
                let check_again_in = match (timeout, stage.start_time) {
                    (Some(limit), Some(start)) => {
                        let left = u64::try_from(start + limit + 1 - now).unwrap_or(0);
                        check_again_in.min(Duration::from_millis(left))
                    }
                    _ => check_again_in,
                };
                let again = Message::RunTask {
                    execution: execution_id,
                    stage: stage_id.to_owned(),
                    task: task_id.to_owned(),
                };
                Transition {
                    changed: true,
                    follow_ups: vec![(again, check_again_in)],
                }
            }
            TaskResult::Succeeded { outputs } => {
                task.status = Status::Succeeded;
                task.end_time = Some(now);
                for (k, v) in outputs {
                    stage.context.insert(k.clone(), v.clone());
                    stage.outputs.insert(k, v);
                }
                let next = match stage.tasks.get(index + 1) {
                    Some(next) => Message::RunTask {
                        execution: execution_id,
                        stage: stage_id.to_owned(),
                        task: next.id.clone(),
                    },
                    None => complete,
                };
                Transition {
                    changed: true,
                    ..Default::default()
                }
                .then(next)
            }
            TaskResult::Failed { message: reason } => {
                task.status = Status::Terminal;
                task.end_time = Some(now);
                stage.record_failure(&reason);
                Transition {
                    changed: true,
                    ..Default::default()
                }
                .then(complete)
            }
        }
    }
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

fn start_execution(execution: &mut Execution, message: &Message, now: i64) -> Transition {
    if execution.status != Status::NotStarted {
        return Transition::drop("execution already started", message);
    }
    if execution.canceled {
        execution.status = Status::Canceled;
        execution.end_time = Some(now);
        return Transition {
            changed: true,
            ..Default::default()
        };
    }
    execution.status = Status::Running;
    execution.start_time = Some(now);
    let id = execution.id.clone();
    let mut t = Transition {
        changed: true,
        ..Default::default()
    };
    let initial: Vec<String> = execution.initial_stages().map(|s| s.id.clone()).collect();
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

/// The status a finished stage ends with, from its tasks and its failure options.
fn finished_stage_status(stage: &Stage) -> Status {
    if stage.tasks.iter().any(|t| t.status == Status::Canceled) {
        return Status::Canceled;
    }
    if stage.tasks.iter().all(|t| t.status == Status::Succeeded) {
        return Status::Succeeded;
    }
    if stage.flag("continuePipeline", false) {
        Status::FailedContinue
    } else if stage.flag("completeOtherBranchesThenFail", false)
        || !stage.flag("failPipeline", true)
    {
        Status::Stopped
    } else {
        Status::Terminal
    }
}

fn complete_stage(
    execution: &mut Execution,
    stage_id: &str,
    message: &Message,
    now: i64,
) -> Transition {
    let Some(stage) = execution.stage_mut(stage_id) else {
        return Transition::drop("no such stage", message);
    };
    if stage.status != Status::Running {
        return Transition::drop("stage is not running", message);
    }
    let status = finished_stage_status(stage);
    stage.status = status;
    stage.end_time = Some(now);
    let ref_id = stage.ref_id.clone();
    let t = Transition {
        changed: true,
        ..Default::default()
    };
    if status == Status::Terminal {
        return t.then(Message::CompleteExecution {
            execution: execution.id.clone(),
        });
    }
    after_stage_finished(execution, &ref_id, t)
}

/// After a stage ended in a way that lets the pipeline go on: start what now may start, and
/// complete the execution when nothing is left.
fn after_stage_finished(execution: &Execution, ref_id: &str, mut t: Transition) -> Transition {
    let id = execution.id.clone();
    let startable: Vec<String> = execution
        .downstream_of(ref_id)
        .filter(|d| execution.is_startable(d))
        .map(|d| d.id.clone())
        .collect();
    for stage in startable {
        t = t.then(Message::StartStage {
            execution: id.clone(),
            stage,
        });
    }
    if execution.has_nothing_left_to_run() {
        t = t.then(Message::CompleteExecution { execution: id });
    }
    t
}

/// A stage's configuration with its expressions evaluated, whether it is enabled, and the reason
/// it must fail (an expression in a required field that could not be evaluated).
struct PreparedStage {
    context: Map<String, Value>,
    enabled: bool,
    failure: Option<String>,
}

fn prepare_stage(execution: &Execution, stage: &Stage) -> PreparedStage {
    let scope = Scope::new(execution, Some(stage));
    let mut raw = stage.context.clone();
    raw.remove("expressionEvaluationSummary");
    let condition = raw.remove("stageEnabled");
    let (evaluated, failures) = evaluate_all(&Value::Object(raw), &scope);
    let mut context = match evaluated {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut summary = Map::new();
    for f in &failures {
        summary.insert(
            f.expression.clone(),
            json!([{ "description": format!("Failed to evaluate [{}] {}", f.field, f.reason), "level": "ERROR" }]),
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
                    summary.insert(text.to_owned(), json!([{ "description": format!("stageEnabled must be true or false, not {other}"), "level": "ERROR" }]));
                }
                Err(reason) => {
                    summary.insert(text.to_owned(), json!([{ "description": format!("Failed to evaluate [stageEnabled] {reason}"), "level": "ERROR" }]));
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
        context.insert("expressionEvaluationSummary".into(), Value::Object(summary));
    }
    PreparedStage {
        context,
        enabled,
        failure,
    }
}

/// Cancels the running stages; returns the messages that tell each to stop what it started.
fn cancel_running_stages(execution: &mut Execution, now: i64) -> Vec<(Message, Duration)> {
    let mut stops = Vec::new();
    let id = execution.id.clone();
    for stage in execution
        .stages
        .iter_mut()
        .filter(|s| s.status == Status::Running)
    {
        stops.push((
            Message::StopCanceledStage {
                execution: id.clone(),
                stage: stage.id.clone(),
            },
            Duration::ZERO,
        ));
        stage.status = Status::Canceled;
        stage.end_time = Some(now);
        for task in stage.tasks.iter_mut().filter(|t| !t.status.is_complete()) {
            task.status = Status::Canceled;
            task.end_time = Some(now);
        }
    }
    stops
}

fn complete_execution(execution: &mut Execution, message: &Message, now: i64) -> Transition {
    if execution.status.is_complete() {
        return Transition::drop("execution already complete", message);
    }
    let any = |s: Status| execution.stages.iter().any(|st| st.status == s);
    let status = if execution.canceled {
        Status::Canceled
    } else if any(Status::Terminal) {
        Status::Terminal
    } else if !execution.has_nothing_left_to_run() {
        return Transition::drop("stages are still running", message);
    } else if execution
        .stages
        .iter()
        .any(|s| s.status == Status::Stopped && s.flag("completeOtherBranchesThenFail", false))
    {
        Status::Terminal
    } else {
        Status::Succeeded
    };
    let follow_ups = cancel_running_stages(execution, now);
    execution.status = status;
    execution.end_time = Some(now);
    tracing::info!(execution = %execution.id, status = ?status, "execution complete");
    Transition {
        changed: true,
        follow_ups,
    }
}

fn cancel_execution(execution: &mut Execution, message: &Message, now: i64) -> Transition {
    if execution.status.is_complete() {
        return Transition::drop("execution already complete", message);
    }
    execution.canceled = true;
    let follow_ups = cancel_running_stages(execution, now);
    execution.status = Status::Canceled;
    execution.end_time = Some(now);
    tracing::info!(execution = %execution.id, by = ?execution.canceled_by, "execution canceled");
    Transition {
        changed: true,
        follow_ups,
    }
}

/// The messages that make an execution move again from where it is: run the current task of
/// every running stage, start what may start, or complete the execution.
fn redrive(execution: &Execution) -> Vec<Message> {
    let id = execution.id.clone();
    let mut messages = Vec::new();
    for stage in execution
        .stages
        .iter()
        .filter(|s| s.status == Status::Running)
    {
        messages.push(match stage.tasks.iter().find(|t| !t.status.is_complete()) {
            Some(task) => Message::RunTask {
                execution: id.clone(),
                stage: stage.id.clone(),
                task: task.id.clone(),
            },
            None => Message::CompleteStage {
                execution: id.clone(),
                stage: stage.id.clone(),
            },
        });
    }
    for stage in execution
        .stages
        .iter()
        .filter(|s| execution.is_startable(s))
    {
        messages.push(Message::StartStage {
            execution: id.clone(),
            stage: stage.id.clone(),
        });
    }
    if messages.is_empty() {
        messages.push(Message::CompleteExecution { execution: id });
    }
    messages
}

fn pause_execution(execution: &mut Execution, message: &Message) -> Transition {
    if execution.status != Status::Running {
        return Transition::drop("execution is not running", message);
    }
    execution.status = Status::Paused;
    tracing::info!(execution = %execution.id, "execution paused");
    Transition {
        changed: true,
        ..Default::default()
    }
}

fn resume_execution(execution: &mut Execution, message: &Message) -> Transition {
    if execution.status != Status::Paused {
        return Transition::drop("execution is not paused", message);
    }
    execution.status = Status::Running;
    tracing::info!(execution = %execution.id, "execution resumed");
    Transition {
        changed: true,
        follow_ups: redrive(execution)
            .into_iter()
            .map(|m| (m, Duration::ZERO))
            .collect(),
    }
}

/// Resets a failed stage and every stage after it, and runs it again.
fn restart_stage(execution: &mut Execution, stage_id: &str, message: &Message) -> Transition {
    let Some(stage) = execution.stage(stage_id) else {
        return Transition::drop("no such stage", message);
    };
    if !matches!(
        stage.status,
        Status::Terminal | Status::Stopped | Status::Canceled | Status::FailedContinue
    ) {
        return Transition::drop("stage has not failed", message);
    }
    // The stage and everything downstream of it, transitively.
    let mut reset = vec![stage.ref_id.clone()];
    let mut i = 0;
    while i < reset.len() {
        let downstream: Vec<String> = execution
            .downstream_of(&reset[i])
            .map(|s| s.ref_id.clone())
            .collect();
        for r in downstream {
            if !reset.contains(&r) {
                reset.push(r);
            }
        }
        i += 1;
    }
    for s in execution
        .stages
        .iter_mut()
        .filter(|s| reset.contains(&s.ref_id))
    {
        s.status = Status::NotStarted;
        s.start_time = None;
        s.end_time = None;
        s.tasks.clear();
        // What the last run recorded in the context goes, so the stage decides afresh.
        for key in s.outputs.keys() {
            s.context.remove(key);
        }
        for key in keys::RUN_STATE {
            s.context.remove(*key);
        }
        s.outputs.clear();
    }
    execution.status = Status::Running;
    execution.end_time = None;
    execution.canceled = false;
    tracing::info!(execution = %execution.id, stage = stage_id, "stage restarted");
    Transition {
        changed: true,
        ..Default::default()
    }
    .then(Message::StartStage {
        execution: execution.id.clone(),
        stage: stage_id.to_owned(),
    })
}

#[async_trait::async_trait]
impl PipelineRunner for Engine {
    async fn start_pipeline(
        &self,
        pipeline_id: &str,
        run_id: &str,
        mut trigger: Value,
    ) -> Result<(), String> {
        let (_, doc) = self
            .store
            .get_pipeline_by_id(pipeline_id)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::NotFound => {
                    format!("there is no pipeline with id '{pipeline_id}'")
                }
                other => other.to_string(),
            })?;
        if doc.0.get("disabled").and_then(Value::as_bool) == Some(true) {
            return Err(format!("the pipeline '{}' is disabled", doc.name()));
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
