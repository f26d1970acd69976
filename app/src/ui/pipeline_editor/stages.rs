//! The Stages panel: the stage graph (click to select), adding a stage, and the selected
//! stage's form.

use leptos::prelude::*;
use serde_json::{Map, Value, json};

use super::{Change, EditorState, FieldInput};
use crate::model::editor::{
    self, Field, FieldKind, field_text, problems_of, ref_of, requisites_of, set_field,
    stage_fields, stages,
};
use crate::model::graph::{GraphStage, NODE_HEIGHT, NODE_WIDTH, layout};
use crate::model::pipeline::Severity;
use crate::model::stage_types::CATALOG;

#[component]
pub(super) fn StagesPanel(state: EditorState) -> impl IntoView {
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
                            data-stage=r.clone() transform=format!("translate({},{})", n.x, n.y)
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
                    <svg viewBox=format!("0 0 {} {}", placed.width, placed.height) width=placed.width height=placed.height>
                        <g class="edges">{edges}</g>
                        <g class="nodes">{nodes}</g>
                    </svg>
                }.into_any()
            }}
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
            {fields.into_iter().map(|field| if field.kind == FieldKind::Manifests {
                view! { <super::manifests::StageManifests state ref_id=ref_id.clone() /> }.into_any()
            } else {
                view! { <FieldInput field initial=field_text(&stage, &field) on_commit=commit(field) id_prefix="stage-".into() /> }.into_any()
            }).collect_view()}
            <ul class="problems" data-testid="stage-problems">
                {move || problems_here().into_iter().map(|p| view! {
                    <li class=if p.severity == Severity::Error { "problem error" } else { "problem warning" } data-field=p.field.clone()>{format!("{}: {}", p.field, p.message)}</li>
                }).collect_view()}
            </ul>
        </section>
    }
    .into_any()
}
