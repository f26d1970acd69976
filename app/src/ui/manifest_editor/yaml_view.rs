//! The YAML view: the documents as text with line numbers, each problem marked on its line.

use leptos::prelude::*;

use crate::model::manifests::ManifestProblem;

/// The text area with its line numbers. `initial` is what it opens with; every change goes to
/// `on_input`. Gutter and text scroll together (one scrolling box; the text area is as tall as
/// its text).
#[component]
pub(super) fn YamlView(
    initial: String,
    text: RwSignal<String>,
    problems: RwSignal<Vec<ManifestProblem>>,
    on_input: Callback<String>,
) -> impl IntoView {
    let lines = move || text.with(|t| t.split('\n').count().max(1));
    view! {
        <div class="yaml-editor" data-testid="yaml-view">
            <ol class="gutter" aria-hidden="true">
                {move || {
                    let problems = problems.get();
                    (1..=lines()).map(|n| {
                        let here: Vec<String> = problems.iter().filter(|p| p.line == Some(n as u32)).map(|p| p.message.clone()).collect();
                        let class = if here.is_empty() { "" } else { "has-problem" };
                        view! { <li data-line=n class=class title=here.join("\n")>{n}</li> }
                    }).collect_view()
                }}
            </ol>
            <label for="mf-yaml" class="visually-hidden">"Manifests as YAML"</label>
            <textarea id="mf-yaml" spellcheck="false" wrap="off" rows=move || lines() + 1 prop:value=initial
                on:input=move |ev| on_input.run(event_target_value(&ev))></textarea>
        </div>
        <ul class="problems" data-testid="yaml-problems">
            {move || problems.get().into_iter().map(|p| {
                let at = match p.line { Some(l) => format!("line {l}"), None => format!("document {}", p.document + 1) };
                let path = if p.path.is_empty() { String::new() } else { format!(" · {}", p.path) };
                view! { <li class="problem error" data-line=p.line.unwrap_or(0)>{format!("{at}{path}: {}", p.message)}</li> }
            }).collect_view()}
        </ul>
    }
    .into_any()
}
