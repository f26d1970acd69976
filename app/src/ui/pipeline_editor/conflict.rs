//! A save refused because someone saved the pipeline since the editor loaded it (409, Front50's
//! stale `updateTs`): who did, how their version differs from these edits, and the choice —
//! load theirs (dropping these edits) or overwrite theirs with these.

use leptos::prelude::*;
use serde_json::{Map, Value, json};

use super::EditorState;
use crate::api::get_pipeline;
use crate::model::pipeline::{PipelineDocument, diff};
use crate::ui::ErrorBanner;

#[component]
pub(super) fn ConflictPanel(
    state: EditorState,
    /// The server's message ("… was changed by alice at … since you loaded it …").
    message: String,
    saved_doc: RwSignal<Option<Map<String, Value>>>,
    saved_version: RwSignal<Option<u32>>,
    /// Cleared when the person chose.
    conflict: RwSignal<Option<String>>,
    /// Saves a document (the editor's save action).
    save: Callback<Map<String, Value>>,
) -> impl IntoView {
    // Their version, looked up by the name the editor loaded (a rename is one of the edits).
    let loaded_name = saved_doc
        .get_untracked()
        .or_else(|| Some(state.doc.get_untracked()))
        .and_then(|d| d.get("name").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    let application = state.doc.with_untracked(|d| {
        d.get("application")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    });
    let theirs = LocalResource::new(move || get_pipeline(application.clone(), loaded_name.clone()));
    let reload = move |detail: crate::model::pipeline::PipelineDetail| {
        let d = detail.document.into_map();
        state.restructure(|doc| *doc = d.clone());
        saved_doc.set(Some(d));
        saved_version.set(Some(detail.summary.version));
        conflict.set(None);
    };
    let overwrite = move |their_ts: Value| {
        let mut mine = state.doc.get_untracked();
        mine.insert("updateTs".into(), their_ts);
        conflict.set(None);
        save.run(mine);
    };
    view! {
        <div class="banner error conflict" role="alert" data-testid="save-conflict">
            <p>{message}</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading their version…"</p> }>
                {move || theirs.get().map(|r| match r {
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    Ok(detail) => {
                        let mine = PipelineDocument::from(state.doc.get_untracked());
                        let changes = diff(&detail.document, &mine);
                        let their_ts = detail.document.get("updateTs").cloned().unwrap_or(json!(null));
                        let by = detail.document.get("lastModifiedBy").and_then(Value::as_str).unwrap_or("someone").to_owned();
                        let keep = detail.clone();
                        view! {
                            <p class="small">{format!("Version {} by {by} differs from your edits in {} place(s):", detail.summary.version, changes.len())}</p>
                            <div data-testid="conflict-diff"><crate::ui::Changes changes columns=("Where", "Theirs", "Yours") /></div>
                            <div class="controls">
                                <button class="button" on:click=move |_| reload(keep.clone())>"Load their version"</button>
                                <button class="button primary" on:click=move |_| overwrite(their_ts.clone())>"Overwrite with mine"</button>
                            </div>
                        }.into_any()
                    }
                })}
            </Suspense>
        </div>
    }
}
