//! A handler's decision.

use std::time::Duration;

use crate::orchestration::messages::Message;

/// Whether the execution changed, and what to enqueue (each with its delay).
#[derive(Debug, Default, PartialEq)]
pub struct Transition {
    pub changed: bool,
    pub follow_ups: Vec<(Message, Duration)>,
}

impl Transition {
    /// Nothing changes: the message is dropped (logged at debug level).
    pub fn drop(reason: &str, message: &Message) -> Self {
        tracing::debug!(?message, "dropping message: {reason}");
        Self::default()
    }

    /// The execution changed.
    pub fn changed() -> Self {
        Self {
            changed: true,
            follow_ups: Vec::new(),
        }
    }

    /// `message` follows at once.
    pub fn then(mut self, message: Message) -> Self {
        self.follow_ups.push((message, Duration::ZERO));
        self
    }

    /// `message` follows after `delay`.
    pub fn then_after(mut self, message: Message, delay: Duration) -> Self {
        self.follow_ups.push((message, delay));
        self
    }

    /// The messages that follow, without their delays (for tests and logs).
    pub fn messages(&self) -> Vec<&Message> {
        self.follow_ups.iter().map(|(m, _)| m).collect()
    }
}
