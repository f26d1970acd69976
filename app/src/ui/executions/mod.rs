//! The Executions tab and the execution page: start a pipeline (with its parameters), watch
//! executions (rendered on the server, then live by server-sent events), answer manual
//! judgments, cancel, pause, resume, restart a failed stage, and try expressions against an
//! execution.

mod graph;
mod live;
mod page;
mod stage_details;
mod start;
mod tab;

use leptos::prelude::*;

use super::ErrorBanner;
use super::session::may;
use super::time::duration_for_people;
use leptos_router::hooks::use_navigate;

use super::toasts::toasts;
use crate::api::{
    cancel_execution, judge_stage, pause_execution, rerun_execution, resume_execution,
};
use crate::model::Access;
use crate::model::execution::{Execution, Stage, Status};

pub(crate) use live::live_executions;
pub use page::ExecutionPage;
pub use tab::ExecutionsTab;

fn duration_text(start: Option<i64>, end: Option<i64>) -> String {
    match (start, end) {
        (Some(s), Some(e)) if e >= s => duration_for_people(e - s),
        (Some(_), None) => "running".into(),
        _ => String::new(),
    }
}

#[component]
fn StatusBadge(status: Status) -> impl IntoView {
    view! { <span class=format!("status status-{}", status.as_str())>{status.as_str()}</span> }
}

/// Cancel (confirmed, with a reason), pause, resume and run again, as the execution's state
/// and the caller's EXECUTE access allow. Buttons wait while a request is out; the outcome
/// shows as a toast.
#[component]
fn ExecutionControls(execution: Execution, on_change: Callback<()>) -> impl IntoView {
    let may_execute = may(Access::Execute);
    let toasts = toasts();
    let id = execution.id.to_string();
    let act = Action::new({
        let id = id.clone();
        move |(what, reason): &(&'static str, Option<String>)| {
            let (id, what, reason) = (id.clone(), *what, reason.clone());
            async move {
                let result = match what {
                    "cancel" => cancel_execution(id, reason).await,
                    "pause" => pause_execution(id).await,
                    _ => resume_execution(id).await,
                };
                (what, result)
            }
        }
    });
    Effect::new(move |_| match act.value().get() {
        Some((what, Ok(()))) => {
            toasts.done(match what {
                "cancel" => "Execution canceled",
                "pause" => "Execution paused",
                _ => "Execution resumed",
            });
            on_change.run(());
        }
        Some((what, Err(error))) => {
            toasts.failed(&format!("Could not {what} the execution"), &error)
        }
        None => {}
    });
    let rerun = Action::new({
        let id = id.clone();
        move |()| rerun_execution(id.clone())
    });
    let navigate = use_navigate();
    let application = execution.application.clone();
    Effect::new(move |_| match rerun.value().get() {
        Some(Ok(new_id)) => {
            toasts.done("Started again");
            navigate(
                &format!("/applications/{application}/executions/{new_id}"),
                Default::default(),
            );
        }
        Some(Err(error)) => toasts.failed("Could not run it again", &error),
        None => {}
    });
    let confirming = RwSignal::new(false);
    let reason = RwSignal::new(String::new());
    let busy = move || act.pending().get() || rerun.pending().get();
    let status = execution.status;
    view! {
        <span class="controls">
            {move || (may_execute.get() && status == Status::Running).then(|| view! {
                <button class="button small-button" disabled=busy on:click=move |_| { act.dispatch(("pause", None)); }>"Pause"</button>
            })}
            {move || (may_execute.get() && status == Status::Paused).then(|| view! {
                <button class="button small-button" disabled=busy on:click=move |_| { act.dispatch(("resume", None)); }>"Resume"</button>
            })}
            {move || (may_execute.get() && !status.is_complete()).then(|| view! {
                <button class="button small-button" disabled=busy on:click=move |_| confirming.set(true)>"Cancel"</button>
            })}
            {move || (may_execute.get() && status.is_complete()).then(|| view! {
                <button class="button small-button" disabled=busy title="Start this pipeline again with the same parameters and artifacts"
                    on:click=move |_| { rerun.dispatch(()); }>"Run again"</button>
            })}
            <Show when=move || confirming.get()>
                <div class="confirm-bar" role="alertdialog" aria-label="Cancel this execution?">
                    <span>"Cancel this execution? Running stages are stopped."</span>
                    <input aria-label="Reason" placeholder="Reason (optional)" maxlength="500"
                        prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev)) />
                    <button class="button danger small-button" disabled=busy on:click=move |_| {
                        let why = reason.get_untracked().trim().to_owned();
                        act.dispatch(("cancel", (!why.is_empty()).then_some(why)));
                        confirming.set(false);
                    }>"Cancel execution"</button>
                    <button class="button small-button" on:click=move |_| confirming.set(false)>"Keep running"</button>
                </div>
            </Show>
        </span>
    }
    .into_any()
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

/// Continue / Stop for a manual judgment stage that waits for one, to callers with EXECUTE
/// access (nothing otherwise).
#[component]
fn JudgmentButtons(execution: String, stage: Stage, on_change: Callback<()>) -> impl IntoView {
    let awaiting = stage.awaits_judgment();
    let may_execute = may(Access::Execute);
    let judge = Action::new({
        let (execution, stage_id) = (execution.clone(), stage.id.to_string());
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
                {move || may_execute.get().then(|| view! {
                    <button class="button primary small-button" on:click=move |_| { judge.dispatch("continue".into()); }>"Continue"</button>
                    <button class="button danger small-button" on:click=move |_| { judge.dispatch("stop".into()); }>"Stop"</button>
                })}
            </span>
        })}
        {move || judge.value().get().and_then(Result::err).map(|error| view! { <ErrorBanner error /> })}
    }
    .into_any()
}
