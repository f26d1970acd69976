//! Starting a pipeline from the Executions tab: choose one, fill in its parameters (checked with
//! the rules the server applies), start.

use leptos::prelude::*;
use serde_json::{Map, Value};

use crate::api::ApiError;
use crate::api::{get_pipeline, list_pipelines, start_execution};
use crate::model::Access;
use crate::ui::ErrorBanner;
use crate::ui::session::may;

/// One parameter of the chosen pipeline, from its `parameterConfig`.
#[derive(Clone)]
struct ParameterField {
    name: String,
    label: String,
    description: String,
    required: bool,
    options: Vec<String>,
    default: String,
}

fn parameter_fields(document: &Map<String, Value>) -> Vec<ParameterField> {
    let text = |v: Option<&Value>| {
        v.map(|v| {
            v.as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string())
        })
        .unwrap_or_default()
    };
    document
        .get("parameterConfig")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let name = p.get("name")?.as_str()?.to_owned();
            Some(ParameterField {
                label: p
                    .get("label")
                    .and_then(Value::as_str)
                    .filter(|l| !l.is_empty())
                    .unwrap_or(&name)
                    .to_owned(),
                description: text(p.get("description")),
                required: p.get("required").and_then(Value::as_bool).unwrap_or(false),
                options: if p
                    .get("hasOptions")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                {
                    p.get("options")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .map(|o| text(o.get("value")))
                        .collect()
                } else {
                    Vec::new()
                },
                default: text(p.get("default").filter(|d| !d.is_null())),
                name,
            })
        })
        .collect()
}

#[component]
pub(super) fn StartPipeline(app: Memo<String>, on_started: Callback<()>) -> impl IntoView {
    let pipelines = Resource::new(move || app.get(), list_pipelines);
    let may_execute = may(Access::Execute);
    // `?start=<pipeline>` (the Pipelines tab's Start) opens the form on that pipeline.
    let query = leptos_router::hooks::use_query_map();
    let chosen = RwSignal::new(query.read_untracked().get("start").unwrap_or_default());
    let detail = Resource::new(
        move || (app.get(), chosen.get()),
        |(app, name)| async move {
            if name.is_empty() {
                Ok(None)
            } else {
                get_pipeline(app, name).await.map(Some)
            }
        },
    );
    let values = RwSignal::new(Map::<String, Value>::new());
    let start = Action::new(move |(name, parameters): &(String, Map<String, Value>)| {
        let trigger = serde_json::json!({"type": "manual", "parameters": parameters});
        start_execution(app.get_untracked(), name.clone(), Some(trigger))
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = start.value().get() {
            on_started.run(());
        }
    });
    // Checked here first with the same rules the server applies (required, options), so a
    // missing value is shown before anything starts.
    let checked: RwSignal<Vec<(String, String)>> = RwSignal::new(Vec::new());
    let problem = move |name: &str| {
        let field = format!("parameters.{name}");
        checked
            .with(|c| c.iter().find(|(f, _)| *f == field).map(|(_, m)| m.clone()))
            .or_else(|| {
                start.value().get().and_then(Result::err).and_then(|e| {
                    e.field_errors()
                        .into_iter()
                        .find(|f| f.field == field)
                        .map(|f| f.message)
                })
            })
    };
    let banner = move || {
        start
            .value()
            .get()
            .and_then(Result::err)
            .filter(|e: &ApiError| e.field_errors().is_empty())
    };

    view! {
        <form class="start-form" on:submit=move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let name = chosen.get_untracked();
            if !may_execute.get_untracked() {
                return;
            }
            if name.is_empty() {
                return;
            }
            let given = values.get_untracked();
            if let Some(Ok(Some(d))) = detail.get_untracked()
                && let Err(problems) = d.document.resolve_parameters(&given)
            {
                checked.set(problems.into_iter().map(|(n, m)| (format!("parameters.{n}"), m)).collect());
                return;
            }
            checked.set(Vec::new());
            start.dispatch((name, given));
        }>
            <div class="toolbar">
                <label>
                    "Pipeline "
                    <select aria-label="Pipeline to start" prop:value=chosen on:change=move |ev| {
                        values.set(Map::new());
                        checked.set(Vec::new());
                        chosen.set(event_target_value(&ev));
                    }>
                        <option value="">"Choose…"</option>
                        <Transition fallback=|| ()>
                            {move || pipelines.get().map(|r| r.unwrap_or_default().into_iter().map(|p| {
                                let value = p.name.clone();
                                let is_chosen = chosen.get_untracked() == value;
                                view! { <option value=value selected=is_chosen>{p.name}</option> }
                            }).collect_view())}
                        </Transition>
                    </select>
                </label>
                <Transition fallback=|| ()>
                    {move || if may_execute.get() {
                        view! {
                            <button type="submit" class="button primary" disabled=move || chosen.get().is_empty() || start.pending().get()>
                                "Start"
                            </button>
                        }.into_any()
                    } else {
                        view! { <span class="muted small" data-testid="start-not-allowed">"Starting needs EXECUTE access to this application."</span> }.into_any()
                    }}
                </Transition>
            </div>
            <Transition fallback=|| ()>
                {move || detail.get().and_then(Result::ok).flatten().map(|d| {
                    parameter_fields(d.document.as_map()).into_iter().map(|p| {
                        let id = format!("parameter-{}", p.name);
                        let name = p.name.clone();
                        if !p.default.is_empty() {
                            let (n, v) = (name.clone(), p.default.clone());
                            values.update_untracked(|m| { m.entry(n).or_insert(Value::String(v)); });
                        }
                        let value = {
                            let name = name.clone();
                            move || values.with(|m| m.get(&name).and_then(Value::as_str).unwrap_or_default().to_owned())
                        };
                        let set = {
                            let name = name.clone();
                            move |ev| { let v = event_target_value(&ev); values.update(|m| { m.insert(name.clone(), Value::String(v)); }); }
                        };
                        let control = if p.options.is_empty() {
                            view! { <input id=id.clone() prop:value=value on:input=set /> }.into_any()
                        } else {
                            view! {
                                <select id=id.clone() prop:value=value on:change=set>
                                    <option value="">"Choose…"</option>
                                    {p.options.iter().map(|o| view! { <option value=o.clone()>{o.clone()}</option> }).collect_view()}
                                </select>
                            }.into_any()
                        };
                        let problem_name = name.clone();
                        view! {
                            <div class="field parameter">
                                <label for=id>{p.label.clone()}{p.required.then_some(" *")}</label>
                                {control}
                                <div class="hint">{p.description.clone()}</div>
                                <div class="field-error" data-field=format!("parameters.{name}")>{move || problem(&problem_name)}</div>
                            </div>
                        }
                    }).collect_view()
                })}
            </Transition>
            {move || banner().map(|error| view! { <ErrorBanner error /> })}
        </form>
    }
}
