//! The execution engine (Orca): reads an execution, lets the message's handler decide
//! (`super::handlers`, pure functions), and commits the new state together with the settling of
//! its message and the messages that follow (see [`ExecutionStore::commit`]). The worker loop
//! is [`worker`]; starting runs is [`start`]; this module holds the engine's parts and what
//! people ask of executions (cancel, pause, resume, restart, judge, evaluate).
//!
//! Handlers are idempotent: a message for a stage already past the state it expects is dropped
//! (duplicates are normal under at-least-once delivery). Tasks that wait return "check again in
//! N" and are re-run by a delayed message; no thread ever blocks on a pipeline.

mod endings;
mod start;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use domain::execution::{Execution, JudgmentDecision, Stage, Status};
use serde_json::Value;

use super::executions::{Commit, ExecutionChange, ExecutionStore, ExecutionStoreError};
use super::expressions::{ExpressionLimits, Scope, evaluate};
use super::handlers::{self, PreparedStage, may_restart, prepare_stage};
use super::messages::Message;
use super::notifications::HttpNotifier;
use super::outbox::Outbox;
use super::ports::{NotificationSender, PipelineSource};
use super::queue::{Clock, DatabaseQueue, QueueBackend, QueueError, QueueSettings, WorkQueue};
use super::sink::{MessageSink, SameDatabase};
use super::stages::StageRegistry;

/// What can go wrong when asking the engine for something.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0} not found")]
    NotFound(String),
    /// The execution is not in a state that allows this (or cannot run at all).
    #[error("{0}")]
    Conflict(String),
    /// The request itself is wrong, in `field`.
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The storage behind the engine failed (logged, never shown to users).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Executions(#[from] ExecutionStoreError),
    #[error(transparent)]
    Pipelines(#[from] crate::store::StoreError),
}

impl From<QueueError> for EngineError {
    fn from(e: QueueError) -> Self {
        Self::Storage(e.into())
    }
}

impl From<ExecutionStoreError> for EngineError {
    fn from(e: ExecutionStoreError) -> Self {
        Self::Storage(e.into())
    }
}

impl From<crate::store::StoreError> for EngineError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Storage(e.into())
    }
}

/// How often a change retries when another worker changed the same execution meanwhile.
const STALE_RETRIES: usize = 8;

pub struct Engine {
    queue: WorkQueue,
    executions: ExecutionStore,
    stages: StageRegistry,
    pipelines: Arc<dyn PipelineSource>,
    notifier: Arc<dyn NotificationSender>,
    /// Topsail's address as people reach it, for links in notifications (empty: paths).
    public_url: String,
    /// The bounds of a stage's expressions (`[expressions]`).
    expression_limits: ExpressionLimits,
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
        let queue: Arc<dyn QueueBackend> = Arc::new(DatabaseQueue::new(store));
        let sink = Arc::new(SameDatabase {
            queue: queue.clone(),
        });
        Self::assemble(store, queue, sink, clock, settings, stages)
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
        let sink = Arc::new(Outbox {
            queue: backend.clone(),
            clock: clock.clone(),
        });
        Self::assemble(store, backend, sink, clock, settings, stages)
    }

    fn assemble(
        store: &crate::store::Store,
        backend: Arc<dyn QueueBackend>,
        sink: Arc<dyn MessageSink>,
        clock: Arc<dyn Clock>,
        settings: QueueSettings,
        stages: StageRegistry,
    ) -> Self {
        Self {
            queue: WorkQueue::new(backend, clock, settings),
            executions: ExecutionStore::new(store, sink),
            stages,
            pipelines: Arc::new(store.clone()),
            notifier: Arc::new(HttpNotifier::default()),
            public_url: String::new(),
            expression_limits: ExpressionLimits::default(),
        }
    }

    /// Sends notifications through `outbound` (the `[outbound]` policy).
    pub fn with_outbound(mut self, outbound: crate::outbound::OutboundClient) -> Self {
        self.notifier = Arc::new(HttpNotifier::new(outbound));
        self
    }

    /// Bounds every stage's expressions (and the debugger's) by `limits`.
    pub fn with_expression_limits(mut self, limits: ExpressionLimits) -> Self {
        self.expression_limits = limits;
        self
    }

    /// A stage's configuration with its expressions evaluated on a blocking thread, so a costly
    /// expression never holds up the async workers (and the HTTP server on them).
    async fn prepare_off_thread(&self, execution: &Execution, stage: &Stage) -> PreparedStage {
        let (execution, stage) = (execution.clone(), stage.clone());
        let limits = self.expression_limits;
        let fallback = stage.context.clone();
        tokio::task::spawn_blocking(move || prepare_stage(&execution, &stage, limits))
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "evaluating a stage's expressions failed");
                PreparedStage {
                    context: fallback,
                    enabled: true,
                    failure: Some("the stage's expressions could not be evaluated".into()),
                }
            })
    }

    /// What `/metrics` reports of the engine: the work queue's depth and the executions stored
    /// by status.
    pub async fn gauges(
        &self,
    ) -> Result<(super::queue::QueueDepth, Vec<(String, i64)>), EngineError> {
        Ok((
            self.queue.depth().await?,
            self.executions.count_by_status().await?,
        ))
    }

    /// Archives ended executions into `blobs`, and reads archived ones back from there.
    pub fn with_archive(mut self, blobs: Arc<dyn crate::blobs::BlobStore>) -> Self {
        self.executions = self.executions.with_archive(blobs);
        self
    }

    /// Archives ended executions built more than `older_than` ago (one batch); returns how many.
    pub async fn archive_ended(&self, older_than: Duration) -> Result<usize, EngineError> {
        let now = self.queue.clock().now_ms();
        let before = now.saturating_sub(i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX));
        Ok(self.executions.archive_ended(before, now).await?)
    }

    /// Links in notifications point at `public_url` (Topsail's address as people reach it).
    pub fn with_public_url(mut self, public_url: &str) -> Self {
        self.public_url = public_url.to_owned();
        self
    }

    /// Where pipelines are read (the event intake reads the same).
    pub fn pipelines(&self) -> &Arc<dyn PipelineSource> {
        &self.pipelines
    }

    /// The page of an execution, for notifications.
    fn link(&self, e: &Execution) -> String {
        format!(
            "{}/applications/{}/executions/{}",
            self.public_url.trim_end_matches('/'),
            e.application,
            e.id
        )
    }

    fn now(&self) -> i64 {
        self.queue.clock().now_ms()
    }

    /// Moves messages a failed or dead writer left in the outbox to the queue (only with a
    /// queue outside the database). Returns how many moved.
    pub async fn relay_outbox(&self) -> Result<usize, EngineError> {
        Ok(self.executions.relay_outbox().await?)
    }

    pub fn queue(&self) -> &WorkQueue {
        &self.queue
    }

    /// Executions this process creates or changes, as the changes commit, and those other
    /// replicas committed, as the replica event bus hears them (the live views).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<ExecutionChange> {
        self.executions.subscribe()
    }

    /// A change another replica committed (from the replica event bus).
    pub fn heard(&self, id: String, application: String) {
        self.executions.heard(id, application);
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

    /// One page of an application's executions (see [`ExecutionStore::page`]).
    pub async fn executions_page(
        &self,
        application: &str,
        query: &domain::execution_query::ExecutionQuery,
        cursor: Option<&domain::execution_query::Cursor>,
    ) -> Result<domain::execution_query::ExecutionPage, EngineError> {
        Ok(self.executions.page(application, query, cursor).await?)
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
        let prepared = self.prepare_off_thread(&execution, stage).await;
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
            Ok(handlers::request_cancel(execution, by, reason.clone()))
        })
        .await
    }

    /// Pauses a running execution: running tasks stop being run until it is resumed.
    pub async fn pause(&self, id: &str) -> Result<(), EngineError> {
        self.request(
            id,
            |e| {
                (e.status == Status::Running).then(|| Message::PauseExecution {
                    execution: id.into(),
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
                    execution: id.into(),
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
                    .filter(|s| may_restart(s.status))
                    .filter(|_| e.status != Status::Paused)
                    .map(|_| Message::RestartStage {
                        execution: id.into(),
                        stage: stage_id.into(),
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
            .ok_or_else(|| EngineError::Conflict(format!("execution '{id}' {refusal}")))?;
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
                    .then(|| handlers::redrive(execution))
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
        let decision = if proceed {
            JudgmentDecision::Continue
        } else {
            JudgmentDecision::Stop
        };
        self.change(id, |execution| {
            handlers::record_judgment(execution, stage_id, decision, input.as_deref(), by).map(Some)
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
            .unwrap_or(text)
            .to_owned();
        let limits = self.expression_limits;
        // Off the async workers; the scope sees what the API shows (secrets redacted).
        tokio::task::spawn_blocking(move || {
            evaluate(&inner, &Scope::with_limits(&execution, None, limits))
        })
        .await
        .or_else(|e| {
            tracing::error!(error = %e, "evaluating an expression failed");
            Ok(Err("the expression could not be evaluated".into()))
        })
    }

    /// Applies a change a person asked for, retrying when the execution changed meanwhile.
    /// `edit` returns the messages that act on the change (`None`: nothing to change).
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
        Err(EngineError::Conflict(format!(
            "execution '{id}' is too busy to change; try again"
        )))
    }
}
