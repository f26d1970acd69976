//! The execution page: the execution with its graph and stages, the judgment that waits, the
//! selected stage's details, build consoles, notifications and the expression debugger.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::graph::PipelineGraph;
use super::live::live_execution;
use super::stage_details::StageDetails;
use super::{
    ExecutionControls, JudgmentButtons, StatusBadge, duration_text, judgment_text, stage_error,
};
use crate::api::{evaluate_expression, judge_stage, judgment_preview, restart_stage};
use crate::model::Access;
use crate::model::execution::{BuildLog, Execution, Stage, StageType, Status};
use crate::ui::session::may;
use crate::ui::url_state::url_state;
use crate::ui::{ErrorBanner, TimeMs};

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
    // Filled once the page is interactive (the consoles stream in the browser; the server and
    // the hydrating browser render none).
    let consoles = RwSignal::new(Vec::new());
    Effect::new(move |_| {
        let now = execution
            .get()
            .and_then(Result::ok)
            .map(|e| builds_of(&e))
            .unwrap_or_default();
        if consoles.with_untracked(|c| *c != now) {
            consoles.set(now);
        }
    });
    // The selected stage (its refId) is in the address: `?stage=deploy`.
    let selected = url_state(
        &["stage"],
        |q| q.get("stage"),
        |s| s.iter().map(|v| ("stage", v.clone())).collect(),
    );
    // The browser's clock (once the page is interactive), for the running stages' elapsed
    // time (the server renders "running").
    let now = crate::ui::time::clock();
    view! {
        <div data-testid="execution-page" data-live=move || execution.connected.get().to_string()>
            <Transition fallback=|| view! { <p class="muted">"Loading the execution…"</p> }>
                {move || execution.get().map(|result| match result {
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    Ok(e) => view! { <ExecutionDetails execution=e on_change=refresh selected now /> }.into_any(),
                })}
            </Transition>
            // Inside a Transition, so the server renders the panel exactly when the browser does.
            <Transition fallback=|| ()>
                {move || {
                    let stage = execution
                        .get()
                        .and_then(Result::ok)?
                        .stages
                        .into_iter()
                        .find(|s| s.awaits_judgment())?;
                    Some(view! { <JudgmentPanel execution=id.get_untracked() stage on_change=refresh /> }.into_any())
                }}
            </Transition>
            // Inside a Transition too: a deep link (`?stage=`) renders the details on the server.
            <Transition fallback=|| ()>
                {move || execution.loaded().then(|| {
                    // Made here, under the Transition: it reads the execution as the page does.
                    let selected_stage = Memo::new(move |_| {
                        let id = selected.get()?;
                        execution.get().and_then(Result::ok)?.stages.into_iter().find(|s| s.ref_id == id)
                    });
                    move || selected_stage.get().map(|stage| {
                        let application = params.read_untracked().get("name").unwrap_or_default();
                        view! { <StageDetails stage application on_close=Callback::new(move |()| selected.set(None)) /> }.into_any()
                    })
                })}
            </Transition>
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
    let id = execution.id.to_string();
    // "Show this image's path": the build its deploys used, on the application's Delivery tab.
    let image_path = crate::model::delivery::deploy_events(std::slice::from_ref(&execution), &[])
        .into_iter()
        .find(|d| !d.build.is_empty())
        .map(|d| {
            format!(
                "/applications/{}/delivery?build={}",
                execution.application,
                super::super::encode_query_value(&d.build)
            )
        });
    view! {
        <article class="execution" data-execution=id.clone() data-status=execution.status.as_str()>
            <header>
                <h2>{execution.name.clone()}</h2>
                <StatusBadge status=execution.status />
                <span class="muted small"><TimeMs ms=execution.start_time.or(Some(execution.build_time)) />{format!(" · {}", duration_text(execution.start_time, execution.end_time))}</span>
                <ExecutionControls execution=execution.clone() on_change />
                {image_path.map(|href| view! { <a class="small" href=href>"Show this image's path"</a> })}
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
    .into_any()
}

#[component]
fn StageDetailRow(execution: String, stage: Stage, on_change: Callback<()>) -> impl IntoView {
    let failed = matches!(
        stage.status,
        Status::Terminal | Status::Stopped | Status::Canceled | Status::FailedContinue
    );
    let may_execute = may(Access::Execute);
    let restart = Action::new({
        let (execution, stage_id) = (execution.clone(), stage.id.to_string());
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
                {move || (failed && may_execute.get()).then(|| view! {
                    <button class="button small-button" on:click=move |_| { restart.dispatch(()); }>"Restart"</button>
                })}
                {move || restart.value().get().and_then(Result::err).map(|error| view! { <ErrorBanner error /> })}
            </td>
        </tr>
    }
    .into_any()
}

/// A manual judgment that waits: its instructions, the choices, Continue / Stop, and what the
/// deploy right after it would change in its target compared with what runs there now.
#[component]
fn JudgmentPanel(execution: String, stage: Stage, on_change: Callback<()>) -> impl IntoView {
    let may_execute = may(Access::Execute);
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
        let (execution, stage_id) = (execution.clone(), stage.id.to_string());
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
            let (execution, stage_id) = (execution.clone(), stage.id.to_string());
            move || (execution.clone(), stage_id.clone())
        },
        |(id, stage_id)| judgment_preview(id, stage_id),
    );
    view! {
        <section class="judgment-panel" data-testid="judgment-panel" data-stage=stage.ref_id.clone()>
            <h2>{format!("Waiting for a judgment: {}", stage.name)}</h2>
            {stage.context.get("instructions").and_then(|v| v.as_str()).map(|i| view! { <p class="instructions">{i.to_owned()}</p> })}
            <Transition fallback=|| ()>
                {move || if may_execute.get() {
                    let choices = choices.clone();
                    view! {
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
                    }.into_any()
                } else {
                    view! { <p class="muted" data-testid="judgment-not-allowed">"Judging needs EXECUTE access to this application."</p> }.into_any()
                }}
            </Transition>
            {move || judge.value().get().and_then(Result::err).map(|error| view! { <ErrorBanner error /> })}
            <h3>"What the next deploy changes"</h3>
            <Transition fallback=|| view! { <p class="muted">"Comparing with what runs now…"</p> }>
                {move || preview.get().map(|r| match r {
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p class="muted">"No deploy follows this judgment."</p> }.into_any(),
                    Ok(list) => view! { <crate::ui::PlannedChanges list /> }.into_any(),
                })}
            </Transition>
        </section>
    }
    .into_any()
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
                stage_id: s.id.to_string(),
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
        crate::ui::follow_events(move || url.clone(), "log", log, connected);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = &execution;
    let title = format!("Console: {} (build #{})", console.stage, console.number);
    // Follow mode (on by default): the console stays scrolled to its newest line.
    let follow = RwSignal::new(true);
    let pre = NodeRef::<leptos::html::Pre>::new();
    Effect::new(move |_| {
        log.track();
        if follow.get_untracked()
            && let Some(pre) = pre.get()
        {
            // After the new text is in the page.
            request_animation_frame(move || pre.set_scroll_top(pre.scroll_height()));
        }
    });
    view! {
        <section class="console" data-stage-id=console.stage_id.clone() data-live=move || connected.get().to_string()
            data-running=move || log.get().map(|l| l.more.to_string()).unwrap_or_default()>
            <h2>
                {title}
                {console.url.map(|url| view! { " " <a class="small" href=url target="_blank" rel="noopener">"open in Jenkins"</a> })}
            </h2>
            {move || log.get().filter(|l| l.truncated).map(|_| view! { <p class="muted small">"Showing the end of a long log."</p> })}
            <label class="small"><input type="checkbox" prop:checked=follow on:change=move |ev| follow.set(event_target_checked(&ev)) />" Follow"</label>
            <pre data-testid="console" node_ref=pre>{move || log.get().map(|l| l.text).unwrap_or_else(|| "Loading the console…".into())}</pre>
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
