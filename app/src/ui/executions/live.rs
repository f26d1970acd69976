//! Executions followed live: rendered on the server first, then kept up to date by
//! server-sent events.

use leptos::prelude::*;

use crate::api::ApiError;
use crate::api::{get_execution, list_executions};
use crate::model::execution::Execution;

/// Something rendered on the server first and then followed live: the server function's answer
/// until the stream's first event, the stream's newest event after.
pub(crate) struct Live<T: Send + Sync + 'static> {
    initial: Resource<Result<T, ApiError>>,
    live: RwSignal<Option<T>>,
    tick: RwSignal<u32>,
    /// Whether the live stream is up (shown as `data-live` for tests and the curious).
    pub connected: RwSignal<bool>,
}

impl<T: Send + Sync + 'static> Clone for Live<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Live<T> {}

impl<T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static> Live<T> {
    pub fn get(&self) -> Option<Result<T, ApiError>> {
        match self.live.get() {
            Some(value) => Some(Ok(value)),
            None => self.initial.get(),
        }
    }

    /// Whether the server function has answered. Read inside a `Transition`, it makes the
    /// server wait for the answer and the browser render what the server rendered.
    pub fn loaded(&self) -> bool {
        self.initial.with(|v| v.is_some())
    }

    /// Subscribes the running effect to the live stream's events.
    pub fn track_live(&self) {
        self.live.track();
    }

    /// Asks the server function again (after an action, in case the stream is down).
    pub fn refresh(&self) {
        self.tick.update(|t| *t += 1);
    }
}

/// An application's executions, live.
pub(crate) fn live_executions(app: Memo<String>) -> Live<Vec<Execution>> {
    let tick = RwSignal::new(0u32);
    let live = RwSignal::new(None);
    let connected = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    crate::ui::follow_events(
        move || format!("/api/executions/stream?application={}", app.get()),
        "executions",
        live,
        connected,
    );
    let initial = Resource::new(
        move || (app.get(), tick.get()),
        |(app, _)| list_executions(app),
    );
    Live {
        initial,
        live,
        tick,
        connected,
    }
}

/// One execution, live.
pub(super) fn live_execution(id: Memo<String>) -> Live<Execution> {
    let tick = RwSignal::new(0u32);
    let live = RwSignal::new(None);
    let connected = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    crate::ui::follow_events(
        move || format!("/api/executions/stream?execution={}", id.get()),
        "execution",
        live,
        connected,
    );
    let initial = Resource::new(move || (id.get(), tick.get()), |(id, _)| get_execution(id));
    Live {
        initial,
        live,
        tick,
        connected,
    }
}
