//! The engine's message handlers as pure functions of (execution, message, now) and, where a
//! handler needs to know something from outside (the pipeline's other runs, a task's result,
//! a notification's delivery), of that fact, gathered by the worker beforehand. Each returns
//! a [`Transition`]: whether the execution changed and which messages follow. No I/O here, so
//! each is unit-tested without a database (Orca's `*Handler`s, one module per message).
//!
//! A handler that receives a message for a stage already past the state it expects drops it
//! (duplicates are normal under at-least-once delivery).

mod complete_execution;
mod complete_stage;
mod controls;
mod notify;
mod run_task;
mod start_execution;
mod start_stage;
mod transition;
mod triggered;

#[cfg(test)]
mod tests;

pub use complete_execution::{after_execution_finished, complete_execution};
pub use complete_stage::complete_stage;
pub use controls::{
    cancel_execution, may_restart, pause_execution, record_judgment, redrive, request_cancel,
    restart_stage, resume_execution,
};
pub use notify::{NotificationRequest, notification_request, record_notification};
pub use run_task::{TaskStep, apply_task_result, task_step};
pub use start_execution::{Concurrency, new_execution, start_execution, wait_for_siblings};
pub use start_stage::{PreparedStage, prepare_stage, start_stage};
pub use transition::Transition;
pub use triggered::ended;
