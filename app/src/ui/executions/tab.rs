//! The Executions tab: the start form above the application's executions, each a card with
//! its stages.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::live::live_executions;
use super::start::StartPipeline;
use super::{ExecutionControls, JudgmentButtons, StatusBadge, stage_error};
use crate::model::execution::{Execution, Stage};
use crate::ui::{ErrorBanner, TimeMs};

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

#[component]
fn ExecutionCard(execution: Execution, on_change: Callback<()>) -> impl IntoView {
    let id = execution.id.to_string();
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
                <span class="muted small">"started " <TimeMs ms=execution.start_time.or(Some(execution.build_time)) />{if who.is_empty() { String::new() } else { format!(" by {who}") }}</span>
                <ExecutionControls execution=execution.clone() on_change />
            </header>
            <ol class="stages">
                {execution.stages.iter().map(|stage| view! { <StageRow execution=id.clone() stage=stage.clone() on_change /> }).collect_view()}
            </ol>
        </article>
    }
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
