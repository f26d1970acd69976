//! "Edit as JSON": the whole pipeline as JSON, checked live, applied on request.

use leptos::prelude::*;
use serde_json::Value;

use super::EditorState;
use crate::model::pipeline::{PipelineDocument, Severity};

/// The whole pipeline as JSON: edit, check (live), apply.
#[component]
pub(super) fn JsonPanel(state: EditorState) -> impl IntoView {
    let text = RwSignal::new(
        serde_json::to_string_pretty(&Value::Object(state.doc.get_untracked())).unwrap_or_default(),
    );
    let parsed = Memo::new(move |_| match serde_json::from_str::<Value>(&text.get()) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("the pipeline must be a JSON object".to_owned()),
        Err(e) => Err(format!("not valid JSON: {e}")),
    });
    let apply = move |_| {
        if let Ok(map) = parsed.get_untracked() {
            state.restructure(|d| *d = map);
            state.selected.set(None);
        }
    };
    view! {
        <section class="json-panel">
            <label for="pipeline-json">"Pipeline JSON"</label>
            <textarea id="pipeline-json" rows="28" spellcheck="false" prop:value=text on:input=move |ev| text.set(event_target_value(&ev))></textarea>
            <p class="field-error" data-testid="json-error">
                {move || match parsed.get() {
                    Err(e) => e,
                    Ok(map) => PipelineDocument::from(map).validate().into_iter().filter(|p| p.severity == Severity::Error).map(|p| p.to_string()).collect::<Vec<_>>().join("; "),
                }}
            </p>
            <button class="button" disabled=move || parsed.get().is_err() on:click=apply>"Apply JSON"</button>
        </section>
    }
}
