//! Orchestration: running pipelines durably (Spinnaker's Orca).
//!
//! Architecture invariant: nothing here knows HTTP, axum or Leptos. Work is driven by messages on
//! a durable [`queue`]; messages carry only ids, handlers are idempotent, and a handler that has
//! to wait asks to be called again later instead of blocking. An execution changes only in
//! [`executions::ExecutionStore`]'s transactions, together with the message that caused it.

pub mod archive;
pub mod artifacts;
pub mod engine;
pub mod execution_window;
pub mod executions;
pub mod expressions;
pub mod handlers;
pub mod messages;
pub mod notifications;
pub mod outbox;
pub mod ports;
pub mod queue;
pub mod sink;
pub mod stages;
