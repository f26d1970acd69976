//! The Executions tab and the execution page: start a pipeline (with its parameters), watch
//! executions (rendered on the server, then live by server-sent events), answer manual
//! judgments, cancel, pause, resume, restart a failed stage, and try expressions against an
//! execution.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde_json::{Map, Value};

use super::{ErrorBanner, format_time};
use crate::api::ApiError;
use crate::api::{
    cancel_execution, evaluate_expression, get_execution, get_pipeline, judge_stage,
    judgment_preview, list_executions, list_pipelines, pause_execution, restart_stage,
    resume_execution, start_execution,
};
use crate::model::execution::{BuildLog, Execution, Stage, StageType, Status};

fn ms_to_text(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| format_time(&t))
        .unwrap_or_default()
}

fn duration_text(start: Option<i64>, end: Option<i64>) -> String {
    match (start, end) {
        (Some(s), Some(e)) if e >= s => {
            let secs = (e - s) / 1000;
            if secs >= 60 {
                format!("{}m {:02}s", secs / 60, secs % 60)
            } else {
                format!("{}.{:01}s", secs, ((e - s) % 1000) / 100)
            }
        }
        (Some(_), None) => "running".into(),
        _ => String::new(),
    }
}

/// Something rendered on the server first and then followed live: the server function's answer
/// until the stream's first event, the stream's newest event after.
pub(crate) struct Live<T: Send + Sync + 'static> {
    initial: Resource<Result<T, ApiError>>,
    live: RwSignal<Option<T>>,
    tick: RwSignal<u32>,
    /// Whether the live stream is up (shown as `data-live` for tests and the curious).
    pub connected: RwSignal<bool>,
}

impl<T: Send + Sync + 'static> Clone for Live<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Live<T> {}

impl<T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static> Live<T> {
    pub fn get(&self) -> Option<Result<T, ApiError>> {
        match self.live.get() {
            Some(value) => Some(Ok(value)),
            None => self.initial.get(),
        }
    }

    /// Asks the server function again (after an action, in case the stream is down).
    pub fn refresh(&self) {
        self.tick.update(|t| *t += 1);
    }
}

/// An application's executions, live.
pub(crate) fn live_executions(app: Memo<String>) -> Live<Vec<Execution>> {
    let tick = RwSignal::new(0u32);
    let live = RwSignal::new(None);
    let connected = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    super::follow_events(
        move || format!("/api/executions/stream?application={}", app.get()),
        "executions",
        live,
        connected,
    );
    let initial = Resource::new(
        move || (app.get(), tick.get()),
        |(app, _)| list_executions(app),
    );
    Live {
        initial,
        live,
        tick,
        connected,
    }
}

/// One execution, live.
fn live_execution(id: Memo<String>) -> Live<Execution> {
    let tick = RwSignal::new(0u32);
    let live = RwSignal::new(None);
    let connected = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    super::follow_events(
        move || format!("/api/executions/stream?execution={}", id.get()),
        "execution",
        live,
        connected,
    );
    let initial = Resource::new(move || (id.get(), tick.get()), |(id, _)| get_execution(id));
    Live {
        initial,
        live,
        tick,
        connected,
    }
}

#[component]
pub fn ExecutionsTab() -> impl IntoView {
    let params = use_params_map();
    let app = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let executions = live_executions(app);
    let refresh = Callback::new(move |()| executions.refresh());

    view! {
        <div data-testid="tab-executions" data-live=move || executions.connected.get().to_string()>
            <StartPipeline app on_started=refresh />
            <Transition fallback=|| view! { <p class="muted">"Loading executions…"</p> }>
                {move || {
                    executions.get().map(|result| match result {
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <div class="empty-state small">
                                <p>{format!("No pipeline of {} has run yet.", app.get())}</p>
                            </div>
                        }.into_any(),
                        Ok(list) => list
                            .into_iter()
                            .map(|execution| view! { <ExecutionCard execution on_change=refresh /> })
                            .collect_view()
                            .into_any(),
                    })
                }}
            </Transition>
        </div>
    }
}

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
fn StartPipeline(app: Memo<String>, on_started: Callback<()>) -> impl IntoView {
    let pipelines = Resource::new(move || app.get(), list_pipelines);
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
                <button type="submit" class="button primary" disabled=move || chosen.get().is_empty() || start.pending().get()>
                    "Start"
                </button>
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

#[component]
fn ExecutionCard(execution: Execution, on_change: Callback<()>) -> impl IntoView {
    let id = execution.id.clone();
    let href = format!(
        "/applications/{}/executions/{}",
        execution.application, execution.id
    );
    let who = execution
        .trigger
        .get("user")
        .and_then(|u| u.as_str())
        .unwrap_or("")
        .to_owned();
    view! {
        <article class="execution" data-execution=id.clone() data-status=execution.status.as_str()>
            <header>
                <a href=href class="execution-link"><strong>{execution.name.clone()}</strong></a>
                <StatusBadge status=execution.status />
                <span class="muted small">{format!("started {} {}", ms_to_text(execution.start_time.or(Some(execution.build_time))), if who.is_empty() { String::new() } else { format!("by {who}") })}</span>
                <ExecutionControls execution=execution.clone() on_change />
            </header>
            <ol class="stages">
                {execution.stages.iter().map(|stage| view! { <StageRow execution=id.clone() stage=stage.clone() on_change /> }).collect_view()}
            </ol>
        </article>
    }
}

#[component]
fn StatusBadge(status: Status) -> impl IntoView {
    view! { <span class=format!("status status-{}", status.as_str())>{status.as_str()}</span> }
}

/// Cancel, pause and resume, as the execution's state allows.
#[component]
fn ExecutionControls(execution: Execution, on_change: Callback<()>) -> impl IntoView {
    let id = execution.id.clone();
    let act = Action::new(move |what: &&'static str| {
        let (id, what) = (id.clone(), *what);
        async move {
            match what {
                "cancel" => cancel_execution(id, None).await,
                "pause" => pause_execution(id).await,
                _ => resume_execution(id).await,
            }
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = act.value().get() {
            on_change.run(());
        }
    });
    let status = execution.status;
    view! {
        <span class="controls">
            {(status == Status::Running).then(|| view! {
                <button class="button small-button" on:click=move |_| { act.dispatch("pause"); }>"Pause"</button>
            })}
            {(status == Status::Paused).then(|| view! {
                <button class="button small-button" on:click=move |_| { act.dispatch("resume"); }>"Resume"</button>
            })}
            {(!status.is_complete()).then(|| view! {
                <button class="button small-button" on:click=move |_| { act.dispatch("cancel"); }>"Cancel"</button>
            })}
            {move || act.value().get().and_then(Result::err).map(|error| view! { <ErrorBanner error /> })}
        </span>
    }
}

/// Who decided a manual judgment, and how ("continue by carol: promote").
fn judgment_text(stage: &Stage) -> Option<String> {
    let j = stage.judgment()?;
    let decision = j.decision.map(|d| d.as_str()).unwrap_or("judged");
    let input = j.input.map(|i| format!(": {i}")).unwrap_or_default();
    Some(format!("{decision} by {}{input}", j.by))
}

fn stage_error(stage: &Stage) -> Option<String> {
    stage.failure().map(str::to_owned)
}

#[component]
fn StageRow(execution: String, stage: Stage, on_change: Callback<()>) -> impl IntoView {
    let (ref_id, status) = (stage.ref_id.clone(), stage.status);
    view! {
        <li class="stage" data-stage=ref_id data-status=status.as_str()>
            <StatusBadge status=status />
            <span class="stage-name">{stage.name.clone()}</span>
            <span class="muted small">{stage.stage_type.to_string()}</span>
            {stage_error(&stage).map(|e| view! { <span class="stage-error">{e}</span> })}
            <JudgmentButtons execution stage=stage.clone() on_change />
        </li>
    }
}

/// Continue / Stop for a manual judgment stage that waits for one (nothing otherwise).
#[component]
fn JudgmentButtons(execution: String, stage: Stage, on_change: Callback<()>) -> impl IntoView {
    let awaiting = stage.awaits_judgment();
    let judge = Action::new({
        let (execution, stage_id) = (execution.clone(), stage.id.clone());
        move |judgment: &String| {
            judge_stage(execution.clone(), stage_id.clone(), judgment.clone(), None)
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = judge.value().get() {
            on_change.run(());
        }
    });
    let instructions = stage
        .context
        .get("instructions")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    view! {
        {awaiting.then(|| view! {
            <span class="judgment">
                {instructions.map(|i| view! { <span class="muted">{i}</span> })}
                <button class="button primary small-button" on:click=move |_| { judge.dispatch("continue".into()); }>"Continue"</button>
                <button class="button danger small-button" on:click=move |_| { judge.dispatch("stop".into()); }>"Stop"</button>
            </span>
        })}
        {move || judge.value().get().and_then(Result::err).map(|error| view! { <ErrorBanner error /> })}
    }
}

/// One execution: stages with their tasks and timing, controls, restart of failed stages, and an
/// expression debugger.
#[component]
pub fn ExecutionPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let execution = live_execution(id);
    let refresh = Callback::new(move |()| execution.refresh());
    // Consoles and the selected stage's details live outside the re-rendered execution, so they
    // keep their stream and their open/closed state across updates.
    let consoles = Memo::new(move |_| {
        execution
            .get()
            .and_then(Result::ok)
            .map(|e| builds_of(&e))
            .unwrap_or_default()
    });
    let selected: RwSignal<Option<String>> = RwSignal::new(None);
    // The browser's clock, ticking each second once the page is interactive, for the running
    // stages' elapsed time (the server renders "running").
    let now: RwSignal<Option<i64>> = RwSignal::new(None);
    #[cfg(feature = "hydrate")]
    {
        let tick = move || now.set(Some(js_sys::Date::now() as i64));
        Effect::new(move |_| tick());
        if let Ok(handle) = set_interval_with_handle(tick, std::time::Duration::from_secs(1)) {
            on_cleanup(move || handle.clear());
        }
    }
    let waiting = Memo::new(move |_| {
        execution
            .get()
            .and_then(Result::ok)?
            .stages
            .into_iter()
            .find(|s| s.awaits_judgment())
    });
    let selected_stage = Memo::new(move |_| {
        let id = selected.get()?;
        execution
            .get()
            .and_then(Result::ok)?
            .stages
            .into_iter()
            .find(|s| s.id == id)
    });
    view! {
        <div data-testid="execution-page" data-live=move || execution.connected.get().to_string()>
            <Transition fallback=|| view! { <p class="muted">"Loading the execution…"</p> }>
                {move || execution.get().map(|result| match result {
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    Ok(e) => view! { <ExecutionDetails execution=e on_change=refresh selected now /> }.into_any(),
                })}
            </Transition>
            {move || waiting.get().map(|stage| view! { <JudgmentPanel execution=id.get_untracked() stage on_change=refresh /> }.into_any())}
            {move || selected_stage.get().map(|stage| {
                let application = params.read_untracked().get("name").unwrap_or_default();
                view! { <StageDetails stage application on_close=Callback::new(move |()| selected.set(None)) /> }.into_any()
            })}
            {view! {
                <For each=move || consoles.get() key=|c| c.stage_id.clone() let:console>
                    <BuildConsole execution=id.get_untracked() console />
                </For>
            }.into_any()}
            {view! { <ExpressionDebugger id /> }.into_any()}
        </div>
    }
}

#[component]
fn ExecutionDetails(
    execution: Execution,
    on_change: Callback<()>,
    selected: RwSignal<Option<String>>,
    now: RwSignal<Option<i64>>,
) -> impl IntoView {
    let id = execution.id.clone();
    view! {
        <article class="execution" data-execution=id.clone() data-status=execution.status.as_str()>
            <header>
                <h2>{execution.name.clone()}</h2>
                <StatusBadge status=execution.status />
                <span class="muted small">{format!("{} · {}", ms_to_text(execution.start_time.or(Some(execution.build_time))), duration_text(execution.start_time, execution.end_time))}</span>
                <ExecutionControls execution=execution.clone() on_change />
            </header>
            {execution.canceled_by.clone().map(|by| view! {
                <p class="muted">{format!("Canceled by {by}{}", execution.cancellation_reason.clone().map(|r| format!(": {r}")).unwrap_or_default())}</p>
            })}
            <PipelineGraph execution=execution.clone() selected now />
            <table class="list stages-table" aria-label="Stages">
                <thead><tr><th scope="col">"Stage"</th><th scope="col">"Status"</th><th scope="col">"Tasks"</th><th scope="col">"Time"</th><th></th></tr></thead>
                <tbody>
                    {execution.stages.iter().map(|stage| view! { <StageDetailRow execution=id.clone() stage=stage.clone() on_change /> }).collect_view()}
                </tbody>
            </table>
            {(!execution.notification_deliveries.is_empty()).then(|| view! { <Deliveries deliveries=execution.notification_deliveries.clone() /> })}
        </article>
    }
}

#[component]
fn StageDetailRow(execution: String, stage: Stage, on_change: Callback<()>) -> impl IntoView {
    let failed = matches!(
        stage.status,
        Status::Terminal | Status::Stopped | Status::Canceled | Status::FailedContinue
    );
    let restart = Action::new({
        let (execution, stage_id) = (execution.clone(), stage.id.clone());
        move |()| restart_stage(execution.clone(), stage_id.clone())
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = restart.value().get() {
            on_change.run(());
        }
    });
    view! {
        <tr data-stage=stage.ref_id.clone() data-status=stage.status.as_str()>
            <td>
                <div class="stage-name">{stage.name.clone()}</div>
                <div class="muted small">{stage.stage_type.to_string()}</div>
                {judgment_text(&stage).map(|j| view! { <div class="judgment-by small" data-testid="judgment">{j}</div> })}
                {stage_error(&stage).map(|e| view! { <div class="stage-error">{e}</div> })}
            </td>
            <td><StatusBadge status=stage.status /></td>
            <td>
                <ul class="tasks">
                    {stage.tasks.iter().map(|t| view! {
                        <li data-task=t.name.clone()>
                            <StatusBadge status=t.status />
                            " "{t.name.clone()}
                            <span class="muted small">{format!(" {}", duration_text(t.start_time, t.end_time))}</span>
                        </li>
                    }).collect_view()}
                </ul>
            </td>
            <td class="nowrap">{duration_text(stage.start_time, stage.end_time)}</td>
            <td>
                <JudgmentButtons execution=execution.clone() stage=stage.clone() on_change />
                {failed.then(|| view! {
                    <button class="button small-button" on:click=move |_| { restart.dispatch(()); }>"Restart"</button>
                })}
                {move || restart.value().get().and_then(Result::err).map(|error| view! { <ErrorBanner error /> })}
            </td>
        </tr>
    }
}

/// A manual judgment that waits: its instructions, the choices, Continue / Stop, and what the
/// deploy right after it would change in its target compared with what runs there now.
#[component]
fn JudgmentPanel(execution: String, stage: Stage, on_change: Callback<()>) -> impl IntoView {
    let choices: Vec<String> = stage
        .context
        .get("judgmentInputs")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|i| i.get("value").and_then(|v| v.as_str()).map(str::to_owned))
        .collect();
    let input = RwSignal::new(choices.first().cloned().unwrap_or_default());
    let judge = Action::new({
        let (execution, stage_id) = (execution.clone(), stage.id.clone());
        move |judgment: &String| {
            let chosen = Some(input.get_untracked()).filter(|i| !i.is_empty());
            judge_stage(
                execution.clone(),
                stage_id.clone(),
                judgment.clone(),
                chosen,
            )
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = judge.value().get() {
            on_change.run(());
        }
    });
    let preview = Resource::new(
        {
            let (execution, stage_id) = (execution.clone(), stage.id.clone());
            move || (execution.clone(), stage_id.clone())
        },
        |(id, stage_id)| judgment_preview(id, stage_id),
    );
    view! {
        <section class="judgment-panel" data-testid="judgment-panel" data-stage=stage.ref_id.clone()>
            <h2>{format!("Waiting for a judgment: {}", stage.name)}</h2>
            {stage.context.get("instructions").and_then(|v| v.as_str()).map(|i| view! { <p class="instructions">{i.to_owned()}</p> })}
            <div class="inline-form">
                {(!choices.is_empty()).then(|| view! {
                    <label for="judgment-input">"Choice"</label>
                    <select id="judgment-input" on:change=move |ev| input.set(event_target_value(&ev))>
                        {choices.iter().map(|c| view! { <option value=c.clone()>{c.clone()}</option> }).collect_view()}
                    </select>
                })}
                <button class="button primary" on:click=move |_| { judge.dispatch("continue".into()); }>"Continue"</button>
                <button class="button danger" on:click=move |_| { judge.dispatch("stop".into()); }>"Stop"</button>
            </div>
            {move || judge.value().get().and_then(Result::err).map(|error| view! { <ErrorBanner error /> })}
            <h3>"What the next deploy changes"</h3>
            <Transition fallback=|| view! { <p class="muted">"Comparing with what runs now…"</p> }>
                {move || preview.get().map(|r| match r {
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p class="muted">"No deploy follows this judgment."</p> }.into_any(),
                    Ok(list) => list.into_iter().map(|p| {
                        let header = format!("{} · {}/{} {}", p.stage, p.account, p.namespace, p.object);
                        let body = match (&p.note, p.exists) {
                            (Some(note), _) => view! { <p class="muted">{format!("No preview: {note}")}</p> }.into_any(),
                            (None, false) => view! { <p class="muted">"Does not exist yet: it will be created."</p> }.into_any(),
                            (None, true) if p.changes.is_empty() => view! { <p class="muted">"No change: it runs this already."</p> }.into_any(),
                            (None, true) => view! { <super::Changes changes=p.changes.clone() columns=("Field", "Now", "After") /> }.into_any(),
                        };
                        view! { <div class="planned" data-object=p.object.clone() data-exists=p.exists.to_string()><h4>{header}</h4>{body}</div> }
                    }).collect_view().into_any(),
                })}
            </Transition>
        </section>
    }
}

/// The stage graph: columns by dependency depth, parallel stages stacked, an edge per
/// requisite; each node coloured by status with its time. Clicking a node selects the stage.
#[component]
fn PipelineGraph(
    execution: Execution,
    selected: RwSignal<Option<String>>,
    now: RwSignal<Option<i64>>,
) -> impl IntoView {
    use crate::model::graph::{GraphStage, NODE_HEIGHT, NODE_WIDTH, layout, short_duration};
    let shape: Vec<GraphStage> = execution
        .stages
        .iter()
        .map(|s| GraphStage {
            ref_id: s.ref_id.clone(),
            requisites: s.requisite_stage_ref_ids.clone(),
        })
        .collect();
    let placed = layout(&shape);
    let view_box = format!("0 0 {:.0} {:.0}", placed.width, placed.height);
    let edges = placed.edges.iter().map(|e| {
        let (from, to) = (execution.stages[e.from].ref_id.clone(), execution.stages[e.to].ref_id.clone());
        let done = execution.stages[e.from].status.lets_downstream_run();
        view! { <path class=if done { "edge edge-done" } else { "edge" } d=e.path.clone() data-from=from data-to=to /> }
    }).collect_view();
    let nodes = placed.nodes.iter().map(|n| {
        let stage = &execution.stages[n.index];
        let (start, end) = (stage.start_time, stage.end_time);
        let time = move || match (start, end) {
            (Some(s), Some(e)) => short_duration(e - s),
            (Some(s), None) => now.get().map(|t| short_duration(t - s)).unwrap_or_else(|| "running".to_owned()),
            _ => String::new(),
        };
        let kind = stage.stage_type.clone();
        let name: String = if stage.name.chars().count() > 22 { format!("{}…", stage.name.chars().take(21).collect::<String>()) } else { stage.name.clone() };
        let id = stage.id.clone();
        let status = stage.status;
        let is_selected = {
            let id = id.clone();
            move || selected.get().as_deref() == Some(id.as_str())
        };
        view! {
            <g class=move || format!("node status-{}{}", status.as_str(), if is_selected() { " selected" } else { "" })
                data-stage=stage.ref_id.clone() data-status=stage.status.as_str()
                transform=format!("translate({:.1},{:.1})", n.x, n.y)
                role="button" tabindex="0" aria-label=format!("{} ({})", stage.name, stage.status.as_str())
                on:click={
                    let id = id.clone();
                    move |_| selected.set(Some(id.clone()))
                }
                on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Enter" || ev.key() == " " { selected.set(Some(id.clone())) }>
                <title>{format!("{} · {} · {}", stage.name, stage.stage_type, stage.status.as_str())}</title>
                <rect width=NODE_WIDTH height=NODE_HEIGHT rx="6" />
                <text x="10" y="18" class="node-name">{name}</text>
                <text x="10" y="35" class="node-meta">{move || format!("{kind} {}", time())}</text>
            </g>
        }
    }).collect_view();
    view! {
        <div class="graph" data-testid="graph">
            <svg viewBox=view_box.clone() width=format!("{:.0}", placed.width) height=format!("{:.0}", placed.height) role="img" aria-label="Stage graph">
                <g class="edges">{edges}</g>
                <g class="nodes">{nodes}</g>
            </svg>
        </div>
    }
}

/// A JSON value as a tree: objects and lists fold open (the first level is open).
fn json_tree(key: String, value: &Value, depth: usize) -> AnyView {
    let (children, count): (Vec<(String, &Value)>, String) = match value {
        Value::Object(map) if !map.is_empty() => (map.iter().map(|(k, v)| (k.clone(), v)).collect(), format!("{{{}}}", map.len())),
        Value::Array(items) if !items.is_empty() => (items.iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect(), format!("[{}]", items.len())),
        other => return view! { <span class="tree-leaf"><span class="tree-key">{key}</span>": "<code>{other.to_string()}</code></span> }.into_any(),
    };
    let children = children
        .into_iter()
        .map(|(k, v)| view! { <li>{json_tree(k, v, depth + 1)}</li> })
        .collect_view();
    view! {
        <details open=depth == 0>
            <summary><span class="tree-key">{key}</span>" "<span class="muted small">{count}</span></summary>
            <ul class="tree">{children}</ul>
        </details>
    }
    .into_any()
}

/// Expressions evaluated when the stage started, and their failures.
fn evaluation_summary(stage: &Stage) -> Vec<(String, String)> {
    stage
        .context
        .get("expressionEvaluationSummary")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .flat_map(|(expression, entries)| {
            entries
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |e| {
                    (
                        expression.clone(),
                        e.get("description")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    )
                })
        })
        .collect()
}

/// The workloads a deploy stage wrote: (account, namespace, kind, name).
fn deployed_objects(stage: &Stage) -> Vec<(String, String, String, String)> {
    let account = stage
        .outputs
        .get("deploy.account.name")
        .or_else(|| stage.context.get("account"))
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    stage
        .outputs
        .get("outputs.manifestNamesByNamespace")
        .and_then(|v| v.as_object())
        .into_iter()
        .flatten()
        .flat_map(|(ns, names)| {
            let account = account.clone();
            names
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(move |n| {
                    let (kind, name) = n.as_str()?.split_once(' ')?;
                    matches!(kind, "deployment" | "statefulset" | "daemonset").then(|| {
                        (
                            account.clone(),
                            ns.clone(),
                            kind.to_owned(),
                            name.to_owned(),
                        )
                    })
                })
        })
        .collect()
}

/// A deploy's progress, live from the Infrastructure stream: desired / updated / ready /
/// available as a bar, and the pods.
#[component]
fn DeployProgress(
    application: String,
    objects: Vec<(String, String, String, String)>,
) -> impl IntoView {
    use crate::model::infrastructure::InfrastructureView;
    let view_now: RwSignal<Option<InfrastructureView>> = RwSignal::new(None);
    let connected = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    {
        let url = format!("/api/infrastructure/stream?application={application}");
        super::follow_events(move || url.clone(), "view", view_now, connected);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (&application, connected);
    view! {
        <h3>"Deploy progress"</h3>
        {objects.into_iter().map(|(account, namespace, kind, name)| {
            let label = format!("{account}/{namespace} {kind} {name}");
            let (a, ns, k, n) = (account.clone(), namespace.clone(), kind.clone(), name.clone());
            let cluster = move || view_now.get().and_then(|v| {
                v.accounts.into_iter().find(|x| x.name == a)?.namespaces.into_iter().find(|x| x.name == ns)?
                    .clusters.into_iter().find(|c| c.kind.eq_ignore_ascii_case(&k) && c.name == n)
            });
            view! {
                <div class="deploy-progress" data-object=format!("{kind} {name}")>
                    <div class="muted small">{label}</div>
                    {move || match cluster() {
                        None => view! { <p class="muted small">"Waiting for the live view…"</p> }.into_any(),
                        Some(c) => {
                            let desired = c.desired.max(1);
                            let percent = |x: i64| format!("width: {}%", (x.clamp(0, desired) * 100) / desired);
                            view! {
                                <div class="progress" data-desired=c.desired data-ready=c.ready data-updated=c.updated data-available=c.available
                                    title=format!("desired {} · updated {} · ready {} · available {}", c.desired, c.updated, c.ready, c.available)>
                                    <span class="bar updated" style=percent(c.updated)></span>
                                    <span class="bar ready" style=percent(c.ready)></span>
                                </div>
                                <div class="small">{format!("desired {} · updated {} · ready {} · available {}", c.desired, c.updated, c.ready, c.available)}</div>
                                <div class="pods">
                                    {c.server_groups.iter().flat_map(|g| g.pods.iter()).chain(c.pods.iter())
                                        .map(|p| view! { <span class=p.health.css() title=p.name.clone()></span> }).collect_view()}
                                </div>
                            }.into_any()
                        }
                    }}
                </div>
            }
        }).collect_view()}
    }
}

/// The selected stage: tasks with status and timing, its error in plain words, evaluated
/// expressions' failures, and its context and outputs as trees.
#[component]
fn StageDetails(stage: Stage, application: String, on_close: Callback<()>) -> impl IntoView {
    let mut config = stage.context.clone();
    for key in stage.outputs.keys() {
        config.remove(key);
    }
    let evaluation = evaluation_summary(&stage);
    let deployed = deployed_objects(&stage);
    view! {
        <section class="stage-details" data-testid="stage-details" data-stage=stage.ref_id.clone() data-status=stage.status.as_str()>
            <header class="page-header">
                <h2>{stage.name.clone()}" "<StatusBadge status=stage.status /></h2>
                <button class="button small-button" on:click=move |_| on_close.run(())>"Close"</button>
            </header>
            <p class="muted small">{format!("{} · {}", stage.stage_type, duration_text(stage.start_time, stage.end_time))}</p>
            {stage_error(&stage).map(|e| view! { <p class="stage-error" role="alert">{e}</p> })}
            {judgment_text(&stage).map(|j| view! { <p class="judgment-by">{j}</p> })}
            {(!deployed.is_empty()).then(|| view! { <DeployProgress application=application.clone() objects=deployed.clone() /> })}
            <h3>"Tasks"</h3>
            <table class="list" aria-label="Tasks">
                <tbody>
                    {stage.tasks.iter().map(|t| view! {
                        <tr data-task=t.name.clone()>
                            <td>{t.name.clone()}</td>
                            <td><StatusBadge status=t.status /></td>
                            <td class="muted small">{ms_to_text(t.start_time)}</td>
                            <td>{duration_text(t.start_time, t.end_time)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            {(!evaluation.is_empty()).then(|| view! {
                <h3>"Expressions"</h3>
                <ul class="evaluation">
                    {evaluation.into_iter().map(|(field, description)| view! { <li><code>{field}</code>": "{description}</li> }).collect_view()}
                </ul>
            })}
            <h3>"Outputs"</h3>
            {if stage.outputs.is_empty() {
                view! { <p class="muted">"None yet."</p> }.into_any()
            } else {
                json_tree("outputs".into(), &Value::Object(stage.outputs.clone()), 0)
            }}
            <h3>"Context"</h3>
            {json_tree("context".into(), &Value::Object(config), 0)}
        </section>
    }
}

/// The run's notifications and how each went.
#[component]
fn Deliveries(deliveries: Vec<crate::model::execution::NotificationDelivery>) -> impl IntoView {
    view! {
        <section class="deliveries">
            <h2>"Notifications"</h2>
            <table class="list" aria-label="Notifications">
                <thead><tr><th scope="col">"Event"</th><th scope="col">"To"</th><th scope="col">"Attempts"</th><th scope="col">"State"</th></tr></thead>
                <tbody>
                    {deliveries.into_iter().map(|d| {
                        let about = match &d.stage { Some(stage) => format!("{} ({stage})", d.event), None => d.event.clone() };
                        let outcome = match (&d.error, d.status_code) {
                            (Some(e), _) => format!("{}: {e}", d.state.as_str()),
                            (None, Some(code)) => format!("{} ({code})", d.state.as_str()),
                            (None, None) => d.state.as_str().to_owned(),
                        };
                        view! {
                            <tr data-delivery=d.event.clone() data-state=d.state.as_str()>
                                <td>{about}</td>
                                <td><span class="muted small">{d.kind.clone()}</span>" "{d.address.clone()}</td>
                                <td>{d.attempts}</td>
                                <td>{outcome}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

/// A build a stage started (a `jenkins` stage once its build has a number).
#[derive(Clone, Debug, PartialEq)]
struct BuildRef {
    stage_id: String,
    stage: String,
    number: u64,
    url: Option<String>,
}

fn builds_of(execution: &Execution) -> Vec<BuildRef> {
    execution
        .stages
        .iter()
        .filter(|s| s.stage_type == StageType::Jenkins)
        .filter_map(|s| {
            let info = s.build_info()?;
            Some(BuildRef {
                stage_id: s.id.clone(),
                stage: s.name.clone(),
                number: info.number,
                url: info.url,
            })
        })
        .collect()
}

/// A build's console log, following it while it runs.
#[component]
fn BuildConsole(execution: String, console: BuildRef) -> impl IntoView {
    let log: RwSignal<Option<BuildLog>> = RwSignal::new(None);
    let connected = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    {
        let url = format!(
            "/api/builds/log/stream?execution={execution}&stage={}",
            console.stage_id
        );
        super::follow_events(move || url.clone(), "log", log, connected);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = &execution;
    let title = format!("Console: {} (build #{})", console.stage, console.number);
    view! {
        <section class="console" data-stage-id=console.stage_id.clone() data-live=move || connected.get().to_string()
            data-running=move || log.get().map(|l| l.more.to_string()).unwrap_or_default()>
            <h2>
                {title}
                {console.url.map(|url| view! { " " <a class="small" href=url target="_blank" rel="noopener">"open in Jenkins"</a> })}
            </h2>
            {move || log.get().filter(|l| l.truncated).map(|_| view! { <p class="muted small">"Showing the end of a long log."</p> })}
            <pre data-testid="console">{move || log.get().map(|l| l.text).unwrap_or_else(|| "Loading the console…".into())}</pre>
        </section>
    }
}

#[component]
fn ExpressionDebugger(id: Memo<String>) -> impl IntoView {
    let expression = RwSignal::new(String::new());
    let evaluate =
        Action::new(move |text: &String| evaluate_expression(id.get_untracked(), text.clone()));
    view! {
        <section class="debugger">
            <h2>"Try an expression"</h2>
            <form class="inline-form" on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                evaluate.dispatch(expression.get_untracked());
            }>
                <label for="expression" class="visually-hidden">"Expression"</label>
                <input id="expression" placeholder="${trigger.parameters.branch}" prop:value=expression
                    on:input=move |ev| expression.set(event_target_value(&ev)) />
                <button type="submit" class="button">"Evaluate"</button>
            </form>
            <pre class="result" data-testid="expression-result">
                {move || evaluate.value().get().map(|r| match r {
                    Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
                    Err(e) => e.field_errors().first().map(|f| format!("error: {}", f.message)).unwrap_or_else(|| format!("error: {e}")),
                })}
            </pre>
        </section>
    }
}
