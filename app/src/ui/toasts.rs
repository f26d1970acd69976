//! Short notes about finished actions ("Execution canceled"), shown in a corner for a few
//! seconds; failures stay until closed and carry the request id the server logged them under.

use leptos::prelude::*;

use crate::api::ApiError;
use crate::model::AppError;

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Toast {
    id: u32,
    text: String,
    failed: bool,
}

/// The page's toasts.
#[derive(Clone, Copy)]
pub(crate) struct Toasts(RwSignal<Vec<Toast>>);

/// Makes toasts available below (once per page, in the app's body).
pub(crate) fn provide_toasts() -> Toasts {
    let toasts = Toasts(RwSignal::new(Vec::new()));
    provide_context(toasts);
    toasts
}

/// The page's toasts (a detached list outside the app, e.g. in unit tests).
pub(crate) fn toasts() -> Toasts {
    use_context().unwrap_or_else(|| Toasts(RwSignal::new(Vec::new())))
}

impl Toasts {
    /// A success note, gone after six seconds.
    pub fn done(self, text: impl Into<String>) {
        let id = self.push(text.into(), false);
        set_timeout(move || self.close(id), std::time::Duration::from_secs(6));
    }

    /// A failure, kept until closed; an internal error shows its request id.
    pub fn failed(self, what: &str, error: &ApiError) {
        let detail = match &error.0 {
            AppError::Internal { request_id } => {
                format!("something went wrong on the server (request id {request_id})")
            }
            other => other.to_string(),
        };
        self.push(format!("{what}: {detail}"), true);
    }

    fn push(self, text: String, failed: bool) -> u32 {
        let id = self
            .0
            .with_untracked(|t| t.iter().map(|t| t.id).max().unwrap_or(0) + 1);
        self.0.update(|t| t.push(Toast { id, text, failed }));
        id
    }

    fn close(self, id: u32) {
        self.0.update(|t| t.retain(|t| t.id != id));
    }
}

/// Where toasts appear (announced to screen readers as they come).
#[component]
pub(crate) fn ToastRegion(toasts: Toasts) -> impl IntoView {
    view! {
        <div class="toasts" role="region" aria-label="Notifications" aria-live="polite" data-testid="toasts">
            <For each=move || toasts.0.get() key=|t| t.id let:toast>
                <div class=if toast.failed { "toast failed" } else { "toast" } data-testid="toast">
                    <span>{toast.text.clone()}</span>
                    <button class="toast-close" aria-label="Close" on:click=move |_| toasts.close(toast.id)>"×"</button>
                </div>
            </For>
        </div>
    }
}
