//! The Triggers, Parameters and Notifications panels: a card per entry, add and remove.

use leptos::prelude::*;
use serde_json::{Map, Value, json};

use super::{Change, EditorState, FieldInput};
use crate::model::editor::{
    self, Field, FieldKind, NOTIFICATION_EVENTS, PARAMETER_FIELDS, entries, field_text,
    set_entries, set_field, trigger_fields,
};

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
pub(super) fn ListPanel(state: EditorState, key: &'static str) -> impl IntoView {
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
