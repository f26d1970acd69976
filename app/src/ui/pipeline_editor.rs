//! The pipeline editor: the stage graph (add, remove, connect), a form per stage type with
//! inline validation, triggers, parameters and notifications, "Edit as JSON", save (a new
//! version), and the history with diffs and restore. It edits the pipeline JSON itself
//! (`model::editor`), so what the forms do not show is kept; a warning guards unsaved changes.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_params_map};
use serde_json::{Map, Value, json};

use super::ErrorBanner;
use super::format_time;
use crate::api::{get_pipeline, pipeline_diff, pipeline_history, restore_pipeline, save_pipeline};
use crate::model::editor::{
    self, Field, FieldKind, NOTIFICATION_EVENTS, PARAMETER_FIELDS, entries, field_text,
    problems_of, ref_of, requisites_of, set_entries, set_field, stage_fields, stages,
    trigger_fields,
};
use crate::model::graph::{GraphStage, NODE_HEIGHT, NODE_WIDTH, layout};
use crate::model::pipeline::{PipelineDocument, PipelineProblem, Severity};
use crate::model::stage_types::CATALOG;

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
    };
    let dirty = Memo::new(move |_| saved_doc.with(|s| s.as_ref() != Some(&doc.get())));
    let errors = Memo::new(move |_| {
        problems.with(|p| p.iter().filter(|p| p.severity == Severity::Error).count())
    });
    let panel = RwSignal::new(Panel::Stages);
    let save = Action::new(move |d: &Map<String, Value>| save_pipeline(Value::Object(d.clone())));
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(saved)) = save.value().get() {
            let was_new = saved_version.get_untracked().is_none();
            let mut d = doc.get_untracked();
            d.insert("id".into(), json!(saved.id));
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
                    <button class="button primary" disabled=move || !dirty.get() || errors.get() != 0 || save.pending().get()
                        on:click=move |_| { save.dispatch(doc.get_untracked()); }>
                        "Save"
                    </button>
                </div>
            </header>
            // What the last save did, while it still describes what is shown.
            {move || save.value().get().and_then(|r| match r {
                Ok(s) if dirty.get() || saved_version.get() != Some(s.version) => None,
                Ok(s) if s.changed => Some(view! { <div class="banner ok" role="status">{format!("Saved as version {}.", s.version)}</div> }.into_any()),
                Ok(_) => Some(view! { <div class="banner ok" role="status">"Nothing changed."</div> }.into_any()),
                Err(error) => Some(view! { <ErrorBanner error /> }.into_any()),
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
            (!list.is_empty()).then(|| view! {
                <ul class="problems" data-testid="pipeline-problems">
                    {list.into_iter().map(|p| view! { <li class=format!("problem {}", if p.severity == Severity::Error { "error" } else { "warning" })>{p.to_string()}</li> }).collect_view()}
                </ul>
            })
        }}
    }
}

#[component]
fn StagesPanel(state: EditorState) -> impl IntoView {
    let new_type = RwSignal::new("wait".to_owned());
    let add = move |_| {
        let upstream = state.selected.get_untracked();
        let mut added = String::new();
        state.restructure(|d| {
            added = editor::add_stage(d, &new_type.get_untracked(), upstream.as_deref())
        });
        state.selected.set(Some(added));
    };
    view! {
        <div class="stages-panel">
            <EditorGraph state />
            <div class="inline-form add-stage">
                <label for="new-stage-type">"New stage"</label>
                <select id="new-stage-type" on:change=move |ev| new_type.set(event_target_value(&ev))>
                    {CATALOG.iter().map(|t| view! { <option value=t.stage_type selected=t.stage_type == "wait">{t.stage_type}</option> }).collect_view()}
                </select>
                <button class="button" on:click=add>
                    {move || if state.selected.get().is_some() { "Add after the selected stage" } else { "Add stage" }}
                </button>
            </div>
            {move || {
                state.revision.get();
                state.selected.get().map(|r| view! { <StageForm state ref_id=r /> })
            }}
        </div>
    }
}

/// The stage graph as the editor shows it: click to select; problems mark a node.
#[component]
fn EditorGraph(state: EditorState) -> impl IntoView {
    view! {
        <div class="graph" data-testid="editor-graph">
            {move || {
                let list = stages(&state.doc.get());
                let placed = layout(&list.iter().map(|s| GraphStage { ref_id: ref_of(s), requisites: requisites_of(s) }).collect::<Vec<_>>());
                if list.is_empty() {
                    return view! { <p class="muted">"No stages yet: add one below."</p> }.into_any();
                }
                let problems = state.problems.get();
                let edges = placed.edges.iter().map(|e| view! {
                    <path class="edge" d=e.path.clone() data-from=ref_of(&list[e.from]) data-to=ref_of(&list[e.to]) />
                }).collect_view();
                let nodes = placed.nodes.iter().map(|n| {
                    let s = &list[n.index];
                    let r = ref_of(s);
                    let bad = !problems_of(&problems, &r).is_empty();
                    let name = s.get("name").and_then(Value::as_str).unwrap_or("(no name)").to_owned();
                    let kind = s.get("type").and_then(Value::as_str).unwrap_or_default().to_owned();
                    let selected = state.selected.get().as_deref() == Some(r.as_str());
                    let pick = r.clone();
                    let label = format!("stage {name}");
                    view! {
                        <g class=format!("node{}{}", if bad { " invalid" } else { "" }, if selected { " selected" } else { "" })
                            data-stage=r.clone() transform=format!("translate({:.1},{:.1})", n.x, n.y)
                            role="button" tabindex="0" aria-label=label
                            on:click={
                                let pick = pick.clone();
                                move |_| state.selected.set(Some(pick.clone()))
                            }
                            on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Enter" || ev.key() == " " { state.selected.set(Some(pick.clone())) }>
                            <rect width=NODE_WIDTH height=NODE_HEIGHT rx="6" />
                            <text x="10" y="18" class="node-name">{name}</text>
                            <text x="10" y="35" class="node-meta">{format!("{kind}{}", if bad { " · needs attention" } else { "" })}</text>
                        </g>
                    }
                }).collect_view();
                view! {
                    <svg viewBox=format!("0 0 {:.0} {:.0}", placed.width, placed.height) width=format!("{:.0}", placed.width) height=format!("{:.0}", placed.height)>
                        <g class="edges">{edges}</g>
                        <g class="nodes">{nodes}</g>
                    </svg>
                }.into_any()
            }}
        </div>
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
        _ => view! { <input id=id.clone() prop:value=initial autocomplete="off" on:input=move |ev| commit(event_target_value(&ev)) /> }.into_any(),
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

/// The selected stage's form: name, type, upstream stages, the type's fields, its problems.
#[component]
fn StageForm(state: EditorState, ref_id: String) -> impl IntoView {
    let Some(stage) = stages(&state.doc.get_untracked())
        .into_iter()
        .find(|s| ref_of(s) == ref_id)
    else {
        return view! { <p class="muted">"That stage is gone."</p> }.into_any();
    };
    let kind = stage
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let others: Vec<(String, String)> = stages(&state.doc.get_untracked())
        .into_iter()
        .filter(|s| ref_of(s) != ref_id)
        .map(|s| {
            (
                ref_of(&s),
                s.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    let upstream = requisites_of(&stage);
    // Applies `f` to this stage in the document.
    let edit = {
        let ref_id = ref_id.clone();
        move |f: Change<'_>, restructure: bool| -> Result<(), String> {
            let Some(mut s) = stages(&state.doc.get_untracked())
                .into_iter()
                .find(|s| ref_of(s) == ref_id)
            else {
                return Ok(());
            };
            f(&mut s)?;
            let apply = |d: &mut Map<String, Value>| editor::replace_stage(d, &ref_id, s.clone());
            if restructure {
                state.restructure(apply)
            } else {
                state.change(apply)
            }
            Ok(())
        }
    };
    let name_field = Field {
        key: "name",
        label: "Name",
        kind: FieldKind::Text,
        help: "",
    };
    let commit = |field: Field| {
        let edit = edit.clone();
        Callback::new(move |text: String| edit(&|s| set_field(s, &field, &text), false))
    };
    let set_type = {
        let edit = edit.clone();
        move |ev| {
            let t = event_target_value(&ev);
            let _ = edit(
                &|s| {
                    s.insert("type".into(), json!(t));
                    Ok(())
                },
                true,
            );
        }
    };
    let toggle_upstream = {
        let edit = edit.clone();
        move |other: String, on: bool| {
            let _ = edit(
                &|s| {
                    let mut reqs = requisites_of(s);
                    reqs.retain(|r| *r != other);
                    if on {
                        reqs.push(other.clone());
                    }
                    s.insert("requisiteStageRefIds".into(), json!(reqs));
                    Ok(())
                },
                false,
            );
        }
    };
    let remove = {
        let ref_id = ref_id.clone();
        move |_| {
            state.restructure(|d| editor::remove_stage(d, &ref_id));
            state.selected.set(None);
        }
    };
    let problems_here = {
        let ref_id = ref_id.clone();
        move || {
            state
                .problems
                .get()
                .into_iter()
                .filter(|p| !problems_of(std::slice::from_ref(p), &ref_id).is_empty())
                .collect::<Vec<_>>()
        }
    };
    let fields = stage_fields(&kind);
    view! {
        <section class="stage-form" data-testid="stage-form" data-stage=ref_id.clone()>
            <header class="page-header">
                <h2>{format!("Stage {ref_id}")}</h2>
                <button class="button danger small-button" on:click=remove>"Remove stage"</button>
            </header>
            <FieldInput field=name_field initial=field_text(&stage, &name_field) on_commit=commit(name_field) id_prefix="stage-".into() />
            <div class="field">
                <label for="stage-type">"Type"</label>
                <select id="stage-type" on:change=set_type>
                    {CATALOG.iter().map(|t| view! { <option value=t.stage_type selected=t.stage_type == kind>{t.stage_type}</option> }).collect_view()}
                </select>
            </div>
            <fieldset class="field upstream">
                <legend>"Runs after"</legend>
                {if others.is_empty() { Some(view! { <span class="muted small">"No other stages."</span> }) } else { None }}
                {others.into_iter().map(|(r, name)| {
                    let checked = upstream.contains(&r);
                    let toggle = toggle_upstream.clone();
                    let other = r.clone();
                    view! {
                        <label class="check">
                            <input type="checkbox" data-upstream=r.clone() checked=checked on:change=move |ev| toggle(other.clone(), event_target_checked(&ev)) />
                            {format!(" {name} ({r})")}
                        </label>
                    }
                }).collect_view()}
            </fieldset>
            {fields.into_iter().map(|field| view! { <FieldInput field initial=field_text(&stage, &field) on_commit=commit(field) id_prefix="stage-".into() /> }).collect_view()}
            <ul class="problems" data-testid="stage-problems">
                {move || problems_here().into_iter().map(|p| view! {
                    <li class=if p.severity == Severity::Error { "problem error" } else { "problem warning" } data-field=p.field.clone()>{format!("{}: {}", p.field, p.message)}</li>
                }).collect_view()}
            </ul>
        </section>
    }
    .into_any()
}

/// What a list panel edits: its entries' types and fields.
fn entry_fields(key: &str, entry: &Map<String, Value>) -> Vec<Field> {
    match key {
        "triggers" => trigger_fields(
            entry
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        ),
        "parameterConfig" => PARAMETER_FIELDS.to_vec(),
        _ => vec![Field {
            key: "address",
            label: "Address",
            kind: FieldKind::Text,
            help: "The URL to POST to",
        }],
    }
}

fn new_entry(key: &str, kind: &str) -> Map<String, Value> {
    let v = match key {
        "triggers" => json!({"type": kind, "enabled": true}),
        "parameterConfig" => json!({"name": "", "required": false}),
        _ => json!({"type": kind, "address": "", "when": ["pipeline.failed"]}),
    };
    v.as_object().cloned().unwrap_or_default()
}

/// Triggers, parameters or notifications: a card per entry, add and remove.
#[component]
fn ListPanel(state: EditorState, key: &'static str) -> impl IntoView {
    let kinds: Vec<&'static str> = match key {
        "triggers" => crate::model::triggers::TriggerKind::ALL
            .iter()
            .map(|k| k.as_str())
            .collect(),
        "notifications" => crate::model::pipeline::NOTIFICATION_TYPES.to_vec(),
        _ => Vec::new(),
    };
    let new_kind = RwSignal::new(kinds.first().copied().unwrap_or_default().to_owned());
    let add = move |_| {
        state.restructure(|d| {
            let mut list = entries(d, key);
            list.push(new_entry(key, &new_kind.get_untracked()));
            set_entries(d, key, list);
        })
    };
    let title = match key {
        "triggers" => "Triggers",
        "parameterConfig" => "Parameters",
        _ => "Notifications",
    };
    view! {
        <section class="list-panel" data-testid=format!("panel-{key}")>
            <h2>{title}</h2>
            {move || {
                state.revision.get();
                let list = entries(&state.doc.get_untracked(), key);
                if list.is_empty() {
                    return view! { <p class="muted">"None yet."</p> }.into_any();
                }
                list.into_iter().enumerate().map(|(i, entry)| view! { <EntryCard state key index=i entry /> }).collect_view().into_any()
            }}
            <div class="inline-form">
                {(!kinds.is_empty()).then(|| view! {
                    <label for=format!("new-{key}") class="visually-hidden">"Type"</label>
                    <select id=format!("new-{key}") on:change=move |ev| new_kind.set(event_target_value(&ev))>
                        {kinds.iter().map(|k| view! { <option value=*k>{*k}</option> }).collect_view()}
                    </select>
                })}
                <button class="button" on:click=add>{format!("Add {}", match key { "triggers" => "trigger", "parameterConfig" => "parameter", _ => "notification" })}</button>
            </div>
        </section>
    }
}

#[component]
fn EntryCard(
    state: EditorState,
    key: &'static str,
    index: usize,
    entry: Map<String, Value>,
) -> impl IntoView {
    let edit = move |f: Change<'_>| -> Result<(), String> {
        let mut list = entries(&state.doc.get_untracked(), key);
        let Some(e) = list.get_mut(index) else {
            return Ok(());
        };
        f(e)?;
        state.change(|d| set_entries(d, key, list));
        Ok(())
    };
    let remove = move |_| {
        state.restructure(|d| {
            let mut list = entries(d, key);
            if index < list.len() {
                list.remove(index);
            }
            set_entries(d, key, list);
        })
    };
    let kind = entry
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let prefix = format!("{key}-{index}-");
    let fields = entry_fields(key, &entry);
    let enabled_field = Field {
        key: "enabled",
        label: "Enabled",
        kind: FieldKind::Flag,
        help: "",
    };
    let when = entry
        .get("when")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    view! {
        <article class="entry" data-entry=format!("{key}-{index}") data-type=kind.clone()>
            <header class="page-header">
                <h3>{if kind.is_empty() { format!("#{}", index + 1) } else { format!("#{} {kind}", index + 1) }}</h3>
                <button class="button danger small-button" on:click=remove>"Remove"</button>
            </header>
            {(key == "triggers").then(|| view! {
                <FieldInput field=enabled_field initial=entry.get("enabled").and_then(Value::as_bool).unwrap_or(true).to_string()
                    on_commit=Callback::new(move |t: String| edit(&|e| set_field(e, &enabled_field, &t))) id_prefix=prefix.clone() />
            })}
            {fields.into_iter().map(|field| {
                let initial = field_text(&entry, &field);
                view! { <FieldInput field initial on_commit=Callback::new(move |t: String| edit(&|e| editor::set_entry_field(e, &field, &t))) id_prefix=prefix.clone() /> }
            }).collect_view()}
            {(key == "notifications").then(|| view! {
                <fieldset class="field">
                    <legend>"When"</legend>
                    {NOTIFICATION_EVENTS.iter().map(|event| {
                        let event = event.as_str();
                        let checked = when.iter().any(|w| w.as_str() == Some(event));
                        view! {
                            <label class="check">
                                <input type="checkbox" data-event=event checked=checked on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    let _ = edit(&|e| {
                                        let mut list: Vec<Value> = e.get("when").and_then(Value::as_array).cloned().unwrap_or_default();
                                        list.retain(|w| w.as_str() != Some(event));
                                        if on {
                                            list.push(json!(event));
                                        }
                                        e.insert("when".into(), Value::Array(list));
                                        Ok(())
                                    });
                                } />
                                {format!(" {event}")}
                            </label>
                        }
                    }).collect_view()}
                </fieldset>
            })}
        </article>
    }
}

/// The whole pipeline as JSON: edit, check (live), apply.
#[component]
fn JsonPanel(state: EditorState) -> impl IntoView {
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

/// Saved versions, newest first: diff each with the one before, restore one.
#[component]
fn HistoryPanel(
    state: EditorState,
    saved_doc: RwSignal<Option<Map<String, Value>>>,
    saved_version: RwSignal<Option<u32>>,
) -> impl IntoView {
    let id = move || {
        state
            .doc
            .with(|d| d.get("id").and_then(Value::as_str).map(str::to_owned))
    };
    let tick = RwSignal::new(0u32);
    let history = Resource::new(
        move || (id(), tick.get()),
        |(id, _)| async move {
            match id {
                Some(id) => pipeline_history(id).await,
                None => Ok(Vec::new()),
            }
        },
    );
    let diff = Action::new(move |(from, to): &(u32, u32)| {
        let (from, to) = (*from, *to);
        let id = id().unwrap_or_default();
        async move {
            pipeline_diff(id, from, to)
                .await
                .map(|changes| (from, to, changes))
        }
    });
    let restore = Action::new(move |version: &u32| {
        let version = *version;
        let id = id().unwrap_or_default();
        async move {
            restore_pipeline(id, version)
                .await
                .map(|saved| (version, saved))
        }
    });
    Effect::new(move |_| {
        if let Some(Ok((version, saved))) = restore.value().get() {
            // The restored document becomes what the editor shows.
            if let Some(Ok(list)) = history.get_untracked()
                && let Some(v) = list.iter().find(|v| v.version == version)
            {
                let mut d = v.document.as_map().clone();
                d.insert("id".into(), json!(saved.id));
                state.restructure(|doc| *doc = d.clone());
                saved_doc.set(Some(d));
                saved_version.set(Some(saved.version));
            }
            tick.update(|t| *t += 1);
        }
    });
    view! {
        <section class="history" data-testid="history">
            {move || id().is_none().then(|| view! { <p class="muted">"Save the pipeline to start its history."</p> })}
            <Transition fallback=|| ()>
                {move || history.get().map(|r| match r {
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    Ok(list) => view! {
                        <table class="list" aria-label="Versions">
                            <tbody>
                                {list.into_iter().map(|v| view! {
                                    <tr data-version=v.version>
                                        <td>{format!("v{}", v.version)}</td>
                                        <td class="muted small">{format!("{} by {}", format_time(&v.saved_at), v.saved_by)}</td>
                                        <td class="controls">
                                            {(v.version > 1).then(|| view! {
                                                <button class="button small-button" on:click=move |_| { diff.dispatch((v.version - 1, v.version)); }>"Changes"</button>
                                            })}
                                            <button class="button small-button" on:click=move |_| { restore.dispatch(v.version); }>"Restore"</button>
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Transition>
            {move || restore.value().get().map(|r| match r {
                Ok((version, saved)) => view! { <div class="banner ok" role="status">{format!("Version {version} restored as version {}.", saved.version)}</div> }.into_any(),
                Err(error) => view! { <ErrorBanner error /> }.into_any(),
            })}
            {move || diff.value().get().map(|r| match r {
                Err(error) => view! { <ErrorBanner error /> }.into_any(),
                Ok((from, to, changes)) => view! {
                    <h3>{format!("Changes from v{from} to v{to}")}</h3>
                    <div data-testid="diff"><super::Changes changes columns=("Where", "Before", "After") /></div>
                }.into_any(),
            })}
        </section>
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
