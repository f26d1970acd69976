//! The pipeline editor: the stage graph (add, remove, connect), a form per stage type with
//! inline validation, triggers, parameters and notifications, "Edit as JSON", save (a new
//! version), and the history with diffs and restore. It edits the pipeline JSON itself
//! (`model::editor`), so what the forms do not show is kept; a warning guards unsaved changes.

mod conflict;
mod history;
mod json_panel;
mod lists;
mod manifests;

pub(crate) use manifests::stage_setup;
mod stages;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_params_map};
use serde_json::{Map, Value, json};

use super::ErrorBanner;
use crate::api::{get_pipeline, save_pipeline};
use crate::model::editor::{self, Field, FieldKind};
use crate::model::pipeline::{PipelineDocument, PipelineProblem, Severity};

use conflict::ConflictPanel;
use history::HistoryPanel;
use json_panel::JsonPanel;
use lists::ListPanel;
use stages::StagesPanel;

/// A change to one JSON object of the document (a stage, a trigger, …); its error is shown.
type Change<'a> = &'a dyn Fn(&mut Map<String, Value>) -> Result<(), String>;

/// Pipeline names in URLs.
pub fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The editor page: `/applications/:name/pipelines/new` (from the seed template or blank,
/// `?template=blank`) or `/applications/:name/pipelines/edit/:pipeline`.
#[component]
pub fn PipelineEditorPage() -> impl IntoView {
    let params = use_params_map();
    let query = leptos_router::hooks::use_query_map();
    let app = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let pipeline = Memo::new(move |_| params.read().get("pipeline").map(|p| decode(&p)));
    let loaded = Resource::new(
        move || (app.get(), pipeline.get()),
        |(app, pipeline)| async move {
            match pipeline {
                Some(name) => get_pipeline(app, name)
                    .await
                    .map(|d| (d.document.into_map(), Some(d.summary.version))),
                None => Ok((Map::new(), None)),
            }
        },
    );
    view! {
        <Title text="Pipeline editor · Topsail" />
        <crate::ui::pickers::PickerLists />
        <Transition fallback=|| view! { <p class="muted">"Loading the pipeline…"</p> }>
            {move || loaded.get().map(|result| match result {
                Err(error) => view! { <ErrorBanner error /> }.into_any(),
                Ok((document, version)) => {
                    let document = if version.is_none() {
                        let blank = query.read_untracked().get("template").as_deref() == Some("blank");
                        let name = query.read_untracked().get("pipelineName").unwrap_or_else(|| "New pipeline".into());
                        if blank {
                            json!({"application": app.get_untracked(), "name": name, "stages": [], "triggers": []}).as_object().cloned().unwrap_or_default()
                        } else {
                            editor::seed_template(&app.get_untracked(), &name).as_object().cloned().unwrap_or_default()
                        }
                    } else {
                        document
                    };
                    view! { <Editor initial=document version /> }.into_any()
                }
            })}
        </Transition>
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Panel {
    Stages,
    Triggers,
    Parameters,
    Notifications,
    Json,
    History,
}

/// The editor's state, shared by its parts.
#[derive(Clone, Copy)]
struct EditorState {
    doc: RwSignal<Map<String, Value>>,
    /// Bumped when the structure changes (stages or list entries added or removed, JSON applied,
    /// a version restored): forms re-render from the document then, not on every keystroke.
    revision: RwSignal<u32>,
    selected: RwSignal<Option<String>>,
    problems: Memo<Vec<PipelineProblem>>,
    /// How many problems each stage's manifests have (refId → count), as its manifest editor
    /// found them: a pipeline whose manifests have problems is not saved. (A JSON map: the same
    /// signal type as the document, so no new signal code in the editor's bundle.)
    blocked: RwSignal<Map<String, Value>>,
}

impl EditorState {
    fn change(&self, f: impl FnOnce(&mut Map<String, Value>)) {
        self.doc.update(f);
    }

    fn restructure(&self, f: impl FnOnce(&mut Map<String, Value>)) {
        self.doc.update(f);
        self.revision.update(|r| *r += 1);
    }
}

#[component]
fn Editor(initial: Map<String, Value>, version: Option<u32>) -> impl IntoView {
    let doc = RwSignal::new(initial.clone());
    let saved_doc = RwSignal::new(if version.is_some() {
        Some(initial)
    } else {
        None
    });
    let saved_version = RwSignal::new(version);
    let problems = Memo::new(move |_| PipelineDocument::from(doc.get()).validate());
    let state = EditorState {
        doc,
        revision: RwSignal::new(0),
        selected: RwSignal::new(None),
        problems,
        blocked: RwSignal::new(Map::new()),
    };
    let dirty = Memo::new(move |_| saved_doc.with(|s| s.as_ref() != Some(&doc.get())));
    let errors = Memo::new(move |_| {
        let stages: Vec<String> = editor::stages(&doc.get())
            .iter()
            .map(editor::ref_of)
            .collect();
        let in_manifests: u64 = state.blocked.with(|b| {
            b.iter()
                .filter(|(r, _)| stages.contains(r))
                .filter_map(|(_, n)| n.as_u64())
                .sum()
        });
        in_manifests as usize
            + problems.with(|p| p.iter().filter(|p| p.severity == Severity::Error).count())
    });
    let panel = RwSignal::new(Panel::Stages);
    let may_write = super::session::may(crate::model::Access::Write);
    let save = Action::new(move |d: &Map<String, Value>| save_pipeline(Value::Object(d.clone())));
    // Set when a save was refused because someone saved since this editor loaded.
    let conflict = RwSignal::new(None::<String>);
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Err(error)) = save.value().get()
            && let crate::model::AppError::Conflict { message } = &*error
        {
            conflict.set(Some(message.clone()));
        }
        if let Some(Ok(saved)) = save.value().get() {
            let was_new = saved_version.get_untracked().is_none();
            let mut d = doc.get_untracked();
            d.insert("id".into(), json!(saved.id));
            // The next save is based on the version this one made.
            if !saved.update_ts.is_empty() {
                d.insert("updateTs".into(), json!(saved.update_ts));
            }
            doc.set(d.clone());
            saved_doc.set(Some(d.clone()));
            saved_version.set(Some(saved.version));
            if was_new {
                let app = d
                    .get("application")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let name = d
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                navigate(
                    &format!("/applications/{app}/pipelines/edit/{}", encode(&name)),
                    NavigateOptions {
                        replace: true,
                        ..Default::default()
                    },
                );
            }
        }
    });
    #[cfg(feature = "hydrate")]
    {
        let guard = window_event_listener(leptos::ev::beforeunload, move |ev| {
            if dirty.get_untracked() {
                ev.prevent_default();
            }
        });
        on_cleanup(move || guard.remove());
    }
    let name_input = move |ev| {
        let value = event_target_value(&ev);
        state.change(|d| {
            d.insert("name".into(), json!(value));
        });
    };
    let tab = move |p: Panel, label: &'static str| {
        view! {
            <button class=move || if panel.get() == p { "tab active" } else { "tab" } on:click=move |_| panel.set(p)>{label}</button>
        }
    };
    view! {
        <section class="editor" data-testid="pipeline-editor" data-dirty=move || dirty.get().to_string()>
            <header class="page-header">
                <div class="editor-title">
                    <label for="pipeline-name" class="visually-hidden">"Pipeline name"</label>
                    <input id="pipeline-name" class="title-input" prop:value=move || doc.with(|d| d.get("name").and_then(Value::as_str).unwrap_or_default().to_owned()) on:input=name_input />
                    <span class="muted small" data-testid="version">
                        {move || match saved_version.get() {
                            Some(v) => format!("version {v}"),
                            None => "not saved yet".to_owned(),
                        }}
                        {move || dirty.get().then_some(" · unsaved changes")}
                    </span>
                </div>
                <div class="controls">
                    <a class="button" href=move || format!("/applications/{}/pipelines", doc.with(|d| d.get("application").and_then(Value::as_str).unwrap_or_default().to_owned()))>"Back"</a>
                    {move || if may_write.get() {
                        view! {
                            <button class="button primary" disabled=move || !dirty.get() || errors.get() != 0 || save.pending().get()
                                on:click=move |_| { save.dispatch(doc.get_untracked()); }>
                                "Save"
                            </button>
                        }.into_any()
                    } else {
                        view! { <span class="muted small" data-testid="save-not-allowed">"Saving needs WRITE access to this application."</span> }.into_any()
                    }}
                </div>
            </header>
            // What the last save did, while it still describes what is shown.
            {move || save.value().get().and_then(|r| match r {
                Ok(s) if dirty.get() || saved_version.get() != Some(s.version) => None,
                Ok(s) if s.changed => Some(view! { <div class="banner ok" role="status">{format!("Saved as version {}.", s.version)}</div> }.into_any()),
                Ok(_) => Some(view! { <div class="banner ok" role="status">"Nothing changed."</div> }.into_any()),
                // A refused stale save is the conflict panel's to show.
                Err(error) if matches!(&*error, crate::model::AppError::Conflict { .. }) => None,
                Err(error) => Some(view! { <ErrorBanner error /> }.into_any()),
            })}
            {move || conflict.get().map(|message| view! {
                <ConflictPanel state message saved_doc saved_version conflict
                    save=Callback::new(move |d| { save.dispatch(d); }) />
            })}
            <Problems state />
            <nav class="tabs editor-tabs" aria-label="Editor">
                {tab(Panel::Stages, "Stages")}
                {tab(Panel::Triggers, "Triggers")}
                {tab(Panel::Parameters, "Parameters")}
                {tab(Panel::Notifications, "Notifications")}
                {tab(Panel::Json, "Edit as JSON")}
                {tab(Panel::History, "History")}
            </nav>
            {move || match panel.get() {
                Panel::Stages => view! { <StagesPanel state /> }.into_any(),
                Panel::Triggers => view! { <ListPanel state key="triggers" /> }.into_any(),
                Panel::Parameters => view! { <ListPanel state key="parameterConfig" /> }.into_any(),
                Panel::Notifications => view! { <ListPanel state key="notifications" /> }.into_any(),
                Panel::Json => view! { <JsonPanel state /> }.into_any(),
                Panel::History => view! { <HistoryPanel state saved_doc saved_version /> }.into_any(),
            }}
        </section>
    }
}

/// Problems with the pipeline itself (not a stage's): shown above the panels.
#[component]
fn Problems(state: EditorState) -> impl IntoView {
    view! {
        {move || {
            let list: Vec<PipelineProblem> = state.problems.get().into_iter().filter(|p| p.stage.is_none()).collect();
            let stages: Vec<String> = editor::stages(&state.doc.get()).iter().map(editor::ref_of).collect();
            let manifests: Vec<String> = state.blocked.get().into_iter()
                .filter_map(|(r, n)| Some((r, n.as_u64().filter(|n| *n > 0)?)))
                .filter(|(r, _)| stages.contains(r))
                .map(|(r, n)| format!("Stage {r}: its manifests have {n} problem{} (shown in its form)", if n == 1 { "" } else { "s" }))
                .collect();
            (!list.is_empty() || !manifests.is_empty()).then(|| view! {
                <ul class="problems" data-testid="pipeline-problems">
                    {list.into_iter().map(|p| view! { <li class=format!("problem {}", if p.severity == Severity::Error { "error" } else { "warning" })>{p.to_string()}</li> }).collect_view()}
                    {manifests.into_iter().map(|m| view! { <li class="problem error" data-testid="manifest-blocked">{m}</li> }).collect_view()}
                </ul>
            })
        }}
    }
}

/// One input of a form: its text, committed on every change (an error is shown by the field).
#[component]
fn FieldInput(
    field: Field,
    initial: String,
    on_commit: Callback<String, Result<(), String>>,
    #[prop(optional)] id_prefix: String,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let id = format!("{id_prefix}{}", field.key);
    let commit = move |text: String| error.set(on_commit.run(text).err());
    let input = match field.kind {
        FieldKind::Flag => {
            let checked = initial == "true";
            view! { <input type="checkbox" id=id.clone() checked=checked on:change=move |ev| commit(event_target_checked(&ev).to_string()) /> }.into_any()
        }
        FieldKind::LongText | FieldKind::KeyValues | FieldKind::Variables | FieldKind::Json | FieldKind::Manifests => {
            let rows = if matches!(field.kind, FieldKind::Json | FieldKind::Manifests) { 10 } else { 3 };
            view! { <textarea id=id.clone() rows=rows spellcheck="false" prop:value=initial on:input=move |ev| commit(event_target_value(&ev))></textarea> }.into_any()
        }
        _ => view! { <input id=id.clone() list=crate::ui::pickers::picker_for(field.key) prop:value=initial autocomplete="off" on:input=move |ev| commit(event_target_value(&ev)) /> }.into_any(),
    };
    view! {
        <div class="field" data-field-key=field.key>
            <label for=id>{field.label}</label>
            {input}
            {(!field.help.is_empty()).then(|| view! { <span class="muted small">{field.help}</span> })}
            <span class="field-error" data-field=field.key>{move || error.get()}</span>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::{decode, encode};

    #[test]
    fn pipeline_names_survive_urls() {
        for name in ["Deploy", "Deploy to prod", "a/b?c#d", "Überall 100%"] {
            assert_eq!(decode(&encode(name)), name);
        }
        assert_eq!(encode("Deploy to prod"), "Deploy%20to%20prod");
        assert_eq!(decode("plain"), "plain");
    }
}
