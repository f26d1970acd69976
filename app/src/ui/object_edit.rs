//! "Edit" on the Infrastructure tab: the manifest editor on a live object (without its status
//! and what the API server keeps for itself); "Apply" hands the edit to the tab, which asks for
//! confirmation and runs it as a task (audited like every action). Inside the editor's split
//! (`manifest_editor::Opening::Object`).

use leptos::prelude::*;
use serde_json::Value;

use super::manifest_editor::{ManifestEditor, Setup};
use crate::model::infrastructure::ObjectRef;

#[component]
pub(crate) fn EditObject(
    object: ObjectRef,
    manifest: Value,
    on_apply: Callback<Value>,
    on_close: Callback<()>,
) -> impl IntoView {
    let documents = RwSignal::new(vec![manifest.clone()]);
    let problems = RwSignal::new(0usize);
    let setup = Setup {
        initial: vec![manifest],
        application: object.application.clone(),
        account: Signal::stored(object.account.clone()),
        namespace: Signal::stored(Some(object.namespace.clone())),
        artifacts: Vec::new(),
        on_change: Callback::new(move |d| documents.set(d)),
        on_bind: None,
        on_problems: Some(Callback::new(move |n| problems.set(n))),
    };
    let refusal = move || {
        let n = documents.with(Vec::len);
        if n != 1 {
            Some(format!("Edit applies one object; there are {n}."))
        } else if problems.get() > 0 {
            Some("Fix the problems first.".to_owned())
        } else {
            None
        }
    };
    view! {
        <section class="edit-object" data-testid="edit-object">
            <h4>{format!("Edit {} {}", object.kind, object.name)}</h4>
            <ManifestEditor setup />
            <div class="controls">
                <button type="button" class="button primary" disabled=move || refusal().is_some()
                    on:click=move |_| if let Some(m) = documents.get_untracked().into_iter().next() { on_apply.run(m) }>"Apply"</button>
                <button type="button" class="button" on:click=move |_| on_close.run(())>"Cancel"</button>
                <span class="muted small">{refusal}</span>
            </div>
        </section>
    }
}
