//! The Executions tab: start a pipeline, watch its executions (refreshed every two seconds),
//! answer manual judgments, cancel.

use std::time::Duration;

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{ErrorBanner, format_time};
use crate::api::{cancel_execution, judge_stage, list_executions, list_pipelines, start_execution};
use crate::model::execution::{Execution, Stage, Status};

fn ms_to_text(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis).map(|t| format_time(&t)).unwrap_or_default()
}

#[component]
pub fn ExecutionsTab() -> impl IntoView {
    let params = use_params_map();
    let app = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let tick = RwSignal::new(0u32);
    // Browser only (effects do not run on the server): refresh while the tab is open.
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(move || tick.update(|t| *t += 1), Duration::from_secs(2)) {
            on_cleanup(move || handle.clear());
        }
    });
    let refresh = move || tick.update(|t| *t += 1);
    let executions = Resource::new(move || (app.get(), tick.get()), |(app, _)| list_executions(app));

    view! {
        <div data-testid="tab-executions">
            <StartPipeline app on_started=Callback::new(move |()| refresh()) />
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
                            .map(|execution| view! { <ExecutionCard execution on_change=Callback::new(move |()| refresh()) /> })
                            .collect_view()
                            .into_any(),
                    })
                }}
            </Transition>
        </div>
    }
}

#[component]
fn StartPipeline(app: Memo<String>, on_started: Callback<()>) -> impl IntoView {
    let pipelines = Resource::new(move || app.get(), list_pipelines);
    let chosen = RwSignal::new(String::new());
    let start = Action::new(move |name: &String| start_execution(app.get_untracked(), name.clone(), None));
    Effect::new(move |_| {
        if let Some(Ok(_)) = start.value().get() {
            on_started.run(());
        }
    });
    view! {
        <form class="toolbar" on:submit=move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let name = chosen.get_untracked();
            if !name.is_empty() {
                start.dispatch(name);
            }
        }>
            <label>
                "Pipeline "
                <select aria-label="Pipeline to start" on:change=move |ev| chosen.set(event_target_value(&ev)) prop:value=chosen>
                    <option value="">"Choose…"</option>
                    <Transition fallback=|| ()>
                        {move || pipelines.get().map(|r| r.unwrap_or_default().into_iter().map(|p| {
                            let value = p.name.clone();
                            view! { <option value=value>{p.name}</option> }
                        }).collect_view())}
                    </Transition>
                </select>
            </label>
            <button type="submit" class="button primary" disabled=move || chosen.get().is_empty() || start.pending().get()>
                "Start"
            </button>
            {move || start.value().get().and_then(Result::err).map(|error| view! { <ErrorBanner error /> })}
        </form>
    }
}

#[component]
fn ExecutionCard(execution: Execution, on_change: Callback<()>) -> impl IntoView {
    let id = execution.id.clone();
    let running = !execution.status.is_complete();
    let cancel = Action::new({
        let id = id.clone();
        move |()| cancel_execution(id.clone(), None)
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = cancel.value().get() {
            on_change.run(());
        }
    });
    let who = execution.trigger.get("user").and_then(|u| u.as_str()).unwrap_or("").to_owned();
    view! {
        <article class="execution" data-execution=id.clone() data-status=execution.status.as_str()>
            <header>
                <strong>{execution.name.clone()}</strong>
                <span class=format!("status status-{}", execution.status.as_str())>{execution.status.as_str()}</span>
                <span class="muted small">{format!("started {} {}", ms_to_text(execution.start_time.or(Some(execution.build_time))), if who.is_empty() { String::new() } else { format!("by {who}") })}</span>
                {running.then(|| view! {
                    <button class="button small-button" on:click=move |_| { cancel.dispatch(()); }>"Cancel"</button>
                })}
            </header>
            <ol class="stages">
                {execution.stages.iter().map(|stage| view! { <StageRow execution=id.clone() stage=stage.clone() on_change /> }).collect_view()}
            </ol>
        </article>
    }
}

#[component]
fn StageRow(execution: String, stage: Stage, on_change: Callback<()>) -> impl IntoView {
    let awaiting_judgment = stage.stage_type == "manualJudgment" && stage.status == Status::Running;
    let judge = Action::new({
        let (execution, stage_id) = (execution.clone(), stage.id.clone());
        move |judgment: &String| judge_stage(execution.clone(), stage_id.clone(), judgment.clone(), None)
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = judge.value().get() {
            on_change.run(());
        }
    });
    let error = stage
        .context
        .get("exception")
        .and_then(|e| e.pointer("/details/errors/0"))
        .and_then(|m| m.as_str())
        .map(str::to_owned);
    let instructions = stage.context.get("instructions").and_then(|v| v.as_str()).map(str::to_owned);
    view! {
        <li class="stage" data-stage=stage.ref_id.clone() data-status=stage.status.as_str()>
            <span class=format!("status status-{}", stage.status.as_str())>{stage.status.as_str()}</span>
            <span class="stage-name">{stage.name.clone()}</span>
            <span class="muted small">{stage.stage_type.clone()}</span>
            {error.map(|e| view! { <span class="stage-error">{e}</span> })}
            {awaiting_judgment.then(|| view! {
                <span class="judgment">
                    {instructions.map(|i| view! { <span class="muted">{i}</span> })}
                    <button class="button primary small-button" on:click=move |_| { judge.dispatch("continue".into()); }>"Continue"</button>
                    <button class="button danger small-button" on:click=move |_| { judge.dispatch("stop".into()); }>"Stop"</button>
                </span>
            })}
        </li>
    }
}
