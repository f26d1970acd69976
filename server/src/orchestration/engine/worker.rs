//! The worker: takes deliveries from the queue, gathers what a handler needs from outside
//! (the pipeline's other runs, a task's result, a notification's delivery), lets the handler
//! decide, and commits. A worker carries an execution on by itself: the immediate follow-ups
//! of a message about the same execution are applied in memory, up to and including a step
//! that reaches outside; then one commit, and what is still pending is enqueued leased to this
//! worker and handled next without a trip through `poll`.

use std::collections::VecDeque;
use std::time::Duration;

use tracing::Instrument;

use domain::execution::{Execution, Status};

use super::{Engine, EngineError, STALE_RETRIES};
use crate::orchestration::executions::Commit;
use crate::orchestration::handlers::{self, Concurrency, TaskStep, Transition};
use crate::orchestration::messages::Message;
use crate::orchestration::notifications;
use crate::orchestration::queue::Delivery;
use crate::orchestration::stages::{TaskContext, TaskResult};

/// How many follow-up messages one delivery may lead this worker to handle itself before the
/// rest goes back to the queue (so a task asking to be checked again at once cannot hold a
/// worker forever, and the queue's other work is not starved).
const LOCAL_STEPS: usize = 64;

/// What the outside answered while one delivery was handled: a task's result, a notification's
/// delivery. When the commit finds the execution changed meanwhile, the messages are applied
/// again to the fresh state with these answers instead of asking again.
#[derive(Default)]
struct Answered {
    tasks: Vec<(Message, TaskResult)>,
    sends: Vec<(Message, SendOutcome)>,
}

type SendOutcome = Result<u16, (Option<u16>, String)>;

impl Answered {
    fn task(&self, message: &Message) -> Option<TaskResult> {
        let found = self.tasks.iter().find(|(m, _)| m == message);
        found.map(|(_, r)| r.clone())
    }

    fn sent(&self, message: &Message) -> Option<SendOutcome> {
        let found = self.sends.iter().find(|(m, _)| m == message);
        found.map(|(_, r)| r.clone())
    }
}

/// How long the worker idles when no message is due.
pub const IDLE: Duration = Duration::from_millis(100);

impl Engine {
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

    /// One turn of the worker loop: handles what is due; says how long to wait before the next
    /// turn (none while there is work).
    pub async fn work(&self) -> Duration {
        match self.run_once(16).await {
            Ok(n) if n > 0 => Duration::ZERO,
            Ok(_) => IDLE,
            Err(e) => {
                tracing::error!(error = %e, "engine poll failed");
                IDLE
            }
        }
    }

    /// Handles a delivery and, in this worker, what it leads to at once: an execution moves on
    /// without waiting behind the rest of the queue, each step still committed durably.
    async fn handle(&self, first: &Delivery) -> Result<(), EngineError> {
        let mut local = VecDeque::from([first.clone()]);
        let mut budget = LOCAL_STEPS;
        while let Some(d) = local.pop_front() {
            // Each message's log lines carry its execution: one run's work can be followed
            // across replicas.
            let span = tracing::info_span!("message", kind = d.message.kind(), execution = %d.message.execution());
            // On an error the rest stays leased and is delivered again after the visibility timeout.
            local.extend(self.handle_one(&d, &mut budget).instrument(span).await?);
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
        // What the outside answered is kept across retries: a retry after a concurrent change
        // decides again on the fresh state but does not send or start anything twice.
        let mut answered = Answered::default();
        for _ in 0..STALE_RETRIES {
            let Some(v) = self.executions.load(d.message.execution()).await? else {
                self.queue
                    .dead_letter(d, "the execution does not exist")
                    .await?;
                return Ok(Vec::new());
            };
            let mut execution = v.execution;
            let before = super::endings::Statuses::of(&execution);
            let mut pending = VecDeque::from([d.message.clone()]);
            let mut changed = false;
            let mut later = Vec::new();
            while let Some(message) = pending.pop_front() {
                let transition = self.apply(&mut execution, &message, &mut answered).await?;
                changed |= transition.changed;
                for (next, delay) in transition.follow_ups {
                    if delay.is_zero() && execution.id == next.execution() && next.chains_locally()
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
                    super::endings::record(&before, &execution);
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

    /// One message's transition, plus what an ending leads to and who is told of what changed.
    async fn apply(
        &self,
        execution: &mut Execution,
        message: &Message,
        answered: &mut Answered,
    ) -> Result<Transition, EngineError> {
        let was_complete = execution.status.is_complete();
        let before = notifications::Before::of(execution);
        let mut transition = self.dispatch(execution, message, answered).await?;
        // Whoever listens for what just changed is told, once the change is stored.
        for notify in notifications::events(&before, execution) {
            transition.follow_ups.push((notify, Duration::ZERO));
        }
        if !was_complete && execution.status.is_complete() {
            let waiting = if execution.limit_concurrent {
                self.executions
                    .siblings(execution, &[Status::NotStarted])
                    .await?
            } else {
                Vec::new()
            };
            for next in handlers::after_execution_finished(execution, &waiting) {
                transition = transition.then(next);
            }
        }
        Ok(transition)
    }

    /// Hands the message to its handler, with what the handler needs from outside.
    async fn dispatch(
        &self,
        execution: &mut Execution,
        message: &Message,
        answered: &mut Answered,
    ) -> Result<Transition, EngineError> {
        let now = self.now();
        Ok(match message {
            Message::StartExecution { .. } => {
                let others = if handlers::wait_for_siblings(execution) {
                    Concurrency {
                        running: self
                            .executions
                            .siblings(execution, &[Status::Running, Status::Paused])
                            .await?,
                        waiting: self
                            .executions
                            .siblings(execution, &[Status::NotStarted])
                            .await?,
                    }
                } else {
                    Concurrency::default()
                };
                handlers::start_execution(execution, message, now, &others)
            }
            Message::StartStage { stage, .. } => {
                let startable = execution.status == Status::Running
                    && execution
                        .stage(stage)
                        .is_some_and(|s| execution.is_startable(s));
                let prepared = match execution.stage(stage).filter(|_| startable) {
                    Some(s) => Some(self.prepare_off_thread(execution, s).await),
                    None => None,
                };
                handlers::start_stage(execution, stage, message, now, prepared, |s| {
                    self.stages.get(&s.stage_type).map(|kind| kind.tasks(s))
                })
            }
            Message::RunTask { stage, task, .. } => {
                let result = match handlers::task_step(execution, stage, task, message, now) {
                    TaskStep::Drop(t) => return Ok(t),
                    TaskStep::Decided(result) => result,
                    TaskStep::Run => match answered.task(message) {
                        Some(result) => result,
                        None => {
                            let result = self.run_task(execution, stage, task, now).await;
                            answered.tasks.push((message.clone(), result.clone()));
                            result
                        }
                    },
                };
                handlers::apply_task_result(execution, stage, task, result, now)
            }
            Message::CompleteStage { stage, .. } => {
                handlers::complete_stage(execution, stage, message, now)
            }
            Message::CompleteExecution { .. } => {
                handlers::complete_execution(execution, message, now)
            }
            Message::CancelExecution { .. } => handlers::cancel_execution(execution, message, now),
            Message::PauseExecution { .. } => handlers::pause_execution(execution, message),
            Message::ResumeExecution { .. } => handlers::resume_execution(execution, message),
            Message::RestartStage { stage, .. } => {
                handlers::restart_stage(execution, stage, message)
            }
            Message::StopCanceledStage { stage, .. } => {
                self.stop_canceled_stage(execution, stage, message, now)
                    .await?
            }
            Message::Notify { .. } => {
                let link = self.link(execution);
                let Some(request) = handlers::notification_request(execution, message, &link)
                else {
                    return Ok(Transition::drop("no such notification", message));
                };
                let outcome = match answered.sent(message) {
                    Some(outcome) => outcome,
                    None => {
                        let outcome = self.notifier.send(&request.address, &request.body).await;
                        answered.sends.push((message.clone(), outcome.clone()));
                        outcome
                    }
                };
                handlers::record_notification(execution, request, outcome, now)
            }
            Message::StartTriggeredPipelines { .. } => {
                if let Some(parent) = handlers::ended(execution) {
                    let ended = crate::events::triggers::PipelineEnded(parent.clone());
                    crate::events::intake::receive(self.pipelines.as_ref(), self, &ended).await?;
                }
                Transition::default()
            }
        })
    }

    /// Runs a task through its stage kind (the task exists and runs: `task_step` said so).
    async fn run_task(
        &self,
        execution: &Execution,
        stage_id: &str,
        task_id: &str,
        now: i64,
    ) -> TaskResult {
        let Some(stage) = execution.stage(stage_id) else {
            return TaskResult::Failed {
                message: "no such stage".into(),
            };
        };
        let Some(task) = stage.tasks.iter().find(|t| t.id == task_id) else {
            return TaskResult::Failed {
                message: "no such task".into(),
            };
        };
        match self.stages.get(&stage.stage_type) {
            Some(kind) => {
                use futures_util::FutureExt;
                let run = kind.run_task(TaskContext {
                    execution,
                    stage,
                    task: &task.name,
                    now_ms: now,
                    pipelines: self,
                });
                let span = tracing::info_span!("task", stage = %stage.name, task = %task.name);
                // A panic in a stage's code fails that stage, never the worker.
                let result = match std::panic::AssertUnwindSafe(run.instrument(span))
                    .catch_unwind()
                    .await
                {
                    Ok(result) => result,
                    Err(_) => {
                        tracing::error!(execution = %execution.id, stage = %stage.name, task = %task.name, "a stage's code panicked; the stage fails");
                        TaskResult::Failed {
                            message: format!(
                                "task '{}' failed unexpectedly inside Topsail (a bug; the server log has the details)",
                                task.name
                            ),
                        }
                    }
                };
                let outcome = match &result {
                    TaskResult::Succeeded { .. } => "succeeded",
                    TaskResult::Running { .. } => "running",
                    TaskResult::Failed { .. } => "failed",
                };
                crate::telemetry::global().task_ran(&stage.stage_type, &task.name, outcome);
                result
            }
            None => TaskResult::Failed {
                message: format!("stage type '{}' is not supported", stage.stage_type),
            },
        }
    }

    /// A running stage was canceled: its kind stops what it started elsewhere.
    async fn stop_canceled_stage(
        &self,
        execution: &Execution,
        stage_id: &str,
        message: &Message,
        now: i64,
    ) -> Result<Transition, EngineError> {
        let Some(s) = execution
            .stage(stage_id)
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
                EngineError::Conflict(format!("stopping stage '{}': {reason}", s.name))
            })?;
        }
        Ok(Transition::default())
    }
}
