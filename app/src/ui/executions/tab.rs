//! The Executions tab: the start form above the application's executions, each a card with
//! its stages.

use leptos::prelude::*;
use leptos_router::components::Form;
use leptos_router::hooks::{use_params_map, use_query_map};
use leptos_router::params::ParamsMap;

use super::live::live_executions;
use super::start::StartPipeline;
use super::{ExecutionControls, JudgmentButtons, StatusBadge, stage_error};
use crate::api::{ApiError, query_executions};
use crate::model::execution::{Execution, Stage, Status};
use crate::model::execution_query::{Cursor, ExecutionPage, ExecutionQuery};
use crate::ui::{ErrorBanner, TimeMs};

/// The status filter's choices: label and the statuses it stands for.
const STATUS_CHOICES: [(&str, &str); 5] = [
    ("Running", "RUNNING,PAUSED,NOT_STARTED"),
    ("Succeeded", "SUCCEEDED"),
    ("Failed", "TERMINAL,STOPPED,FAILED_CONTINUE"),
    ("Canceled", "CANCELED"),
    ("Any status", ""),
];
const TRIGGER_CHOICES: [&str; 7] = [
    "manual", "jenkins", "docker", "webhook", "cron", "pipeline", "git",
];
/// What the live list holds (the server's newest executions).
const LIVE_LIST: usize = 50;

/// The filters and page in the address: `?status=RUNNING,PAUSED&pipeline=…&trigger=…&user=…&id=…&before=…`.
pub(crate) fn query_from(q: &ParamsMap) -> ExecutionQuery {
    let text = |k: &str| {
        q.get(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let status =
        |s: &str| serde_json::from_value::<Status>(serde_json::Value::String(s.into())).ok();
    ExecutionQuery {
        statuses: text("status")
            .map(|s| s.split(',').filter_map(status).collect())
            .unwrap_or_default(),
        pipeline: text("pipeline"),
        trigger: text("trigger"),
        user: text("user"),
        id: text("id"),
        before: text("before"),
        limit: None,
    }
}

/// The address of the same filters at page `before`.
fn page_href(q: &ParamsMap, path: &str, before: &str) -> String {
    let mut q = q.clone();
    q.replace("before", before.to_owned());
    format!("{path}{}", q.to_query_string())
}

#[component]
pub fn ExecutionsTab() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let app = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let executions = live_executions(app);
    let refresh = Callback::new(move |()| executions.refresh());
    let filter = Memo::new(move |_| query.with(query_from));
    // A filtered or older page is asked for again whenever the live list changes.
    let changes = RwSignal::new(0u32);
    Effect::new(move |first: Option<()>| {
        executions.track_live();
        if first.is_some() {
            changes.update(|n| *n += 1);
        }
    });
    let page = Resource::new(
        move || (app.get(), filter.get(), changes.get()),
        |(app, filter, _)| async move {
            if filter == ExecutionQuery::default() {
                None
            } else {
                Some(query_executions(app, filter).await)
            }
        },
    );
    // The pipeline names seen, for the filter's suggestions: filled once interactive (the
    // server and the hydrating browser render none).
    let pipelines = RwSignal::new(Vec::<String>::new());
    Effect::new(move |_| {
        let mut names: Vec<String> = executions
            .get()
            .and_then(Result::ok)
            .map(|l| l.into_iter().map(|e| e.name).collect())
            .unwrap_or_default();
        names.sort();
        names.dedup();
        pipelines.set(names);
    });

    view! {
        <div data-testid="tab-executions" data-live=move || executions.connected.get().to_string()>
            <StartPipeline app on_started=refresh />
            <Filters pipelines />
            <Transition fallback=|| view! { <crate::ui::ListSkeleton /> }>
                {move || {
                    let shown: Option<Result<ExecutionPage, ApiError>> = if filter.with(|f| *f == ExecutionQuery::default()) {
                        executions.get().map(|r| r.map(first_page))
                    } else {
                        page.get().flatten()
                    };
                    shown.map(|result| match result {
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                        Ok(page) if page.executions.is_empty() => {
                            let text = if filter.with(|f| *f == ExecutionQuery::default()) {
                                format!("No pipeline of {} has run yet.", app.get_untracked())
                            } else {
                                "No execution matches these filters.".to_owned()
                            };
                            view! { <div class="empty-state small" data-testid="no-executions"><p>{text}</p></div> }.into_any()
                        }
                        Ok(page) => {
                            let count = page.executions.len();
                            let older = page.next.clone().map(|next| {
                                let href = query.with_untracked(|q| page_href(q, &format!("/applications/{}/executions", app.get_untracked()), &next));
                                view! { <a class="button" href=href data-testid="older">"Older executions"</a> }
                            });
                            view! {
                                <p class="muted small" data-testid="execution-count">{crate::ui::plural(count, "execution", "executions")}</p>
                                {page.executions.into_iter().map(|execution| view! { <ExecutionCard execution on_change=refresh /> }).collect_view()}
                                <nav class="pager" aria-label="Pages">{older}</nav>
                            }.into_any()
                        }
                    })
                }}
            </Transition>
        </div>
    }
}

/// The live list as the first page: older ones follow after its last execution.
fn first_page(list: Vec<Execution>) -> ExecutionPage {
    let next = (list.len() >= LIVE_LIST)
        .then(|| {
            list.last()
                .map(|e| Cursor::after(e.build_time, e.id.as_str()).encode())
        })
        .flatten();
    ExecutionPage {
        executions: list,
        next,
    }
}

/// Filters as a plain GET form: they live in the address (a link shows the same list; back and
/// forward step through filters) and work before the page is interactive.
#[component]
fn Filters(pipelines: RwSignal<Vec<String>>) -> impl IntoView {
    let query = use_query_map();
    let value = move |k: &'static str| query.with(|q| q.get(k).unwrap_or_default());
    view! {
        <Form method="GET" action="" attr:class="filters" attr:aria-label="Filter executions">
            <label>"Status "
                <select name="status" prop:value=move || value("status")>
                    {STATUS_CHOICES.iter().map(|(label, v)| view! { <option value=*v selected=move || value("status") == *v>{*label}</option> }).collect_view()}
                </select>
            </label>
            <label>"Pipeline "
                <input name="pipeline" list="pipeline-names" prop:value=move || value("pipeline") placeholder="any" size="14" />
                <datalist id="pipeline-names">
                    {move || pipelines.get().into_iter().map(|n| view! { <option value=n /> }).collect_view()}
                </datalist>
            </label>
            <label>"Trigger "
                <select name="trigger" prop:value=move || value("trigger")>
                    <option value="">"any"</option>
                    {TRIGGER_CHOICES.iter().map(|t| view! { <option value=*t selected=move || value("trigger") == *t>{*t}</option> }).collect_view()}
                </select>
            </label>
            <label>"Started by "<input name="user" prop:value=move || value("user") placeholder="anyone" size="10" /></label>
            <label>"Id "<input name="id" data-search prop:value=move || value("id") placeholder="01J…" size="12" /></label>
            <button type="submit" class="button">"Filter"</button>
            <a class="button" href="?" data-testid="clear-filters">"Clear"</a>
        </Form>
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
