//! One application: header, tabs, and the Config tab (edit and delete).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    NavigateOptions,
    components::Outlet,
    hooks::{use_location, use_navigate, use_params_map},
};

use super::application_form::ApplicationForm;
use super::session::may;
use super::toasts::toasts;
use super::url_state::url_state;
use super::{ApplicationsChanged, ErrorBanner, Time, format_time};
use crate::api::ApiError;
use crate::api::{
    delete_application, delete_pipeline, get_application, list_pipelines, update_application,
};
use crate::model::execution::Status;
use crate::model::{Access, AppError, Application, ApplicationInput};

/// The application shown by the current page, for the tabs below it.
#[derive(Clone, Copy)]
pub(crate) struct CurrentApplication(pub Resource<Result<Application, ApiError>>);

const TABS: [(&str, &str); 5] = [
    ("infrastructure", "Infrastructure"),
    ("pipelines", "Pipelines"),
    ("executions", "Executions"),
    ("delivery", "Delivery"),
    ("config", "Config"),
];

/// Which tab a path under `/applications/<name>` shows; the bare address shows Infrastructure.
fn active_tab(path: &str, name: &str) -> &'static str {
    let rest = path
        .strip_prefix(&format!("/applications/{name}"))
        .unwrap_or_default();
    let slug = rest.trim_matches('/').split('/').next().unwrap_or_default();
    TABS.iter()
        .map(|(s, _)| *s)
        .find(|s| *s == slug)
        .unwrap_or("infrastructure")
}

#[component]
pub fn ApplicationPage() -> impl IntoView {
    let params = use_params_map();
    let name = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let changed: ApplicationsChanged = expect_context();
    let app = Resource::new(
        move || (name.get(), changed.0.get()),
        |(name, _)| get_application(name),
    );
    provide_context(CurrentApplication(app));
    let location = use_location();
    let tab = Memo::new(move |_| active_tab(&location.pathname.get(), &name.get()));

    view! {
        <Title text=move || format!("{} · Topsail", name.get()) />
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                app.get()
                    .map(|result| match result {
                        Err(ApiError(AppError::NotFound { .. })) => {
                            view! {
                                <section class="empty-state">
                                    <h1>"No such application"</h1>
                                    <p>{format!("There is no application named “{}”.", name.get())}</p>
                                    <a class="button" href="/applications">"All applications"</a>
                                </section>
                            }
                                .into_any()
                        }
                        Err(e) => view! { <ErrorBanner error=e /> }.into_any(),
                        Ok(a) => {
                            let base = format!("/applications/{}", a.name);
                            view! {
                                <header class="page-header app-header">
                                    <div>
                                        <h1 data-testid="app-title">{a.name.clone()}</h1>
                                        <p class="muted">{a.description.clone()}</p>
                                    </div>
                                    <dl class="facts">
                                        <dt>"Owner"</dt>
                                        <dd>{a.owner_email.clone()}</dd>
                                        <dt>"Team"</dt>
                                        <dd>{if a.team.is_empty() { "—".to_owned() } else { a.team.clone() }}</dd>
                                    </dl>
                                </header>
                                <nav class="tabs" aria-label="Application">
                                    {TABS
                                        .iter()
                                        .map(|(slug, label)| {
                                            let current = move || (tab.get() == *slug).then_some("page");
                                            view! {
                                                <a href=format!("{base}/{slug}") aria-current=current>
                                                    {*label}
                                                </a>
                                            }
                                        })
                                        .collect_view()}
                                </nav>
                            }
                                .into_any()
                        }
                    })
            }}
        </Transition>
        <section class="tab-body">
            <Outlet />
        </section>
    }
}

/// Renders `body` with the current application once it has loaded (errors are shown above).
fn with_application<V: IntoView + 'static>(
    body: impl Fn(Application) -> V + Send + Sync + Clone + 'static,
) -> impl IntoView {
    let CurrentApplication(app) = expect_context();
    view! {
        <Transition fallback=|| ()>
            {move || {
                let body = body.clone();
                app.get().and_then(Result::ok).map(body)
            }}
        </Transition>
    }
}

#[component]
pub fn PipelinesTab() -> impl IntoView {
    let params = use_params_map();
    let name = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let changed = RwSignal::new(0u32);
    let deleting = RwSignal::new(None::<String>);
    let pipelines = Resource::new(
        move || (name.get(), changed.get()),
        |(name, _)| list_pipelines(name),
    );
    let executions = super::executions::live_executions(name);
    let (may_execute, may_write) = (may(Access::Execute), may(Access::Write));
    // Filters for the runs shown (Deck's executions view): by status and by trigger.
    // Both live in the address (`?status=failed&trigger=jenkins`).
    let status_filter = url_state(
        &["status"],
        |q| q.get("status").unwrap_or_default(),
        |s| vec![("status", s.clone())],
    );
    let trigger_filter = url_state(
        &["trigger"],
        |q| q.get("trigger").unwrap_or_default(),
        |s| vec![("trigger", s.clone())],
    );
    let shown = move |e: &crate::model::execution::Execution| {
        let status = status_filter.get();
        let trigger = trigger_filter.get();
        let status_ok = match status.as_str() {
            "" => true,
            "running" => matches!(
                e.status,
                Status::Running | Status::Paused | Status::NotStarted
            ),
            "succeeded" => e.status == Status::Succeeded,
            "failed" => matches!(
                e.status,
                Status::Terminal | Status::Stopped | Status::Canceled
            ),
            _ => true,
        };
        let kind = e
            .trigger
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or("manual");
        status_ok && (trigger.is_empty() || kind == trigger)
    };
    // The newest runs of one pipeline, newest first (live): each a row of stage-coloured bars.
    let recent = move |pipeline: String| {
        move || {
            executions.get().and_then(Result::ok).map(|all| {
                all.into_iter()
                    .filter(|e| e.name == pipeline && shown(e))
                    .take(6)
                    .map(|e| {
                        let href = format!("/applications/{}/executions/{}", e.application, e.id);
                        let trigger = e.trigger.get("type").and_then(|t| t.as_str()).unwrap_or("manual").to_owned();
                        let title = format!("{} · {} · {}", e.status.as_str(), trigger, e.start_time.or(Some(e.build_time)).and_then(chrono::DateTime::from_timestamp_millis).map(|t| format_time(&t)).unwrap_or_default());
                        let segments = e.stages.iter().map(|s| view! {
                            <span class=format!("seg status-{}", s.status.as_str()) title=format!("{} · {}", s.name, s.status.as_str())></span>
                        }).collect_view();
                        view! {
                            <a href=href class=format!("run-bar run status-{}", e.status.as_str()) title=title data-status=e.status.as_str() data-trigger=trigger>
                                {segments}
                            </a>
                        }
                    })
                    .collect_view()
            })
        }
    };
    view! {
        <div data-testid="tab-pipelines">
            <div class="toolbar">
                <Transition fallback=|| ()>
                    {move || may_write.get().then(|| view! {
                        <a class="button primary" href=move || format!("/applications/{}/pipelines/new", name.get())>"New pipeline from the seed template"</a>
                        <a class="button" href=move || format!("/applications/{}/pipelines/new?template=blank", name.get())>"New blank pipeline"</a>
                    })}
                </Transition>
                <label>
                    "Status "
                    <select aria-label="Show runs with status" prop:value=move || status_filter.get() on:change=move |ev| status_filter.set(event_target_value(&ev))>
                        <option value="">"any"</option>
                        <option value="running">"running"</option>
                        <option value="succeeded">"succeeded"</option>
                        <option value="failed">"failed"</option>
                    </select>
                </label>
                <label>
                    "Trigger "
                    <select aria-label="Show runs started by" prop:value=move || trigger_filter.get() on:change=move |ev| trigger_filter.set(event_target_value(&ev))>
                        <option value="">"any"</option>
                        {crate::model::triggers::TriggerKind::ALL.iter().map(|t| view! { <option value=t.as_str()>{t.as_str()}</option> }).collect_view()}
                    </select>
                </label>
            </div>
            <DeletePipelineConfirm application=name deleting on_deleted=Callback::new(move |()| changed.update(|n| *n += 1)) />
            <Transition fallback=|| view! { <crate::ui::ListSkeleton /> }>
                {move || {
                    pipelines.get().map(|result| match result {
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <div class="empty-state small">
                                <h2>"Pipelines"</h2>
                                <p>
                                    {format!("{} has no pipelines yet. ", name.get())}
                                    "Import Spinnaker pipeline JSON with "
                                    <code>"topsail pipeline import FILE"</code>
                                    " or POST it to "
                                    <code>"/api/pipelines/save"</code>
                                    "."
                                </p>
                            </div>
                        }.into_any(),
                        Ok(list) => view! {
                            <table class="list" aria-label="Pipelines">
                                <thead>
                                    <tr>
                                        <th scope="col">"Pipeline"</th>
                                        <th scope="col">"Recent runs"</th>
                                        <th scope="col">"Version"</th>
                                        <th scope="col">"Last changed"</th>
                                        <th></th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {list.into_iter().map(|p| view! {
                                        <tr data-pipeline=p.name.clone()>
                                            <td class="app-name">{p.name.clone()}</td>
                                            <td class="runs">{recent(p.name.clone())}</td>
                                            <td>{format!("v{}", p.version)}</td>
                                            <td class="nowrap"><Time at=p.updated_at />{format!(" by {}", p.updated_by)}</td>
                                            <td class="controls">
                                                {may_execute.get().then(|| view! {
                                                    <a class="button small-button" href=format!("/applications/{}/executions?start={}", p.application, super::pipeline_editor::encode(&p.name))>"Start"</a>
                                                })}
                                                <a class="button small-button" href=format!("/applications/{}/pipelines/edit/{}", p.application, super::pipeline_editor::encode(&p.name))>
                                                    {if may_write.get() { "Edit" } else { "View" }}
                                                </a>
                                                {may_write.get().then(|| {
                                                    let name = p.name.clone();
                                                    view! { <button class="button small-button danger" on:click=move |_| deleting.set(Some(name.clone()))>"Delete"</button> }
                                                })}
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    })
                }}
            </Transition>
        </div>
    }
}

#[component]
pub fn ConfigTab() -> impl IntoView {
    let params = use_params_map();
    let name = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    // Loaded once per application, not on every change: saving refreshes the header but keeps
    // this form, its values and its "Saved." message.
    let initial = Resource::new(move || name.get(), get_application);
    view! {
        <Transition fallback=|| ()>
            {move || initial.get().and_then(Result::ok).map(|app| view! { <ApplicationConfig app /> })}
        </Transition>
    }
}

#[component]
fn ApplicationConfig(app: Application) -> impl IntoView {
    let changed: ApplicationsChanged = expect_context();
    let writable = may(Access::Write);
    let name = app.name.clone();
    let update = Action::new({
        let name = name.clone();
        move |input: &ApplicationInput| update_application(name.clone(), input.clone())
    });
    let saved = Signal::derive(move || matches!(update.value().get(), Some(Ok(_))));
    Effect::new(move |_| {
        if let Some(Ok(_)) = update.value().get() {
            changed.notify();
        }
    });
    let update_error = Signal::derive(move || update.value().get().and_then(Result::err));

    view! {
        <h2>"Settings"</h2>
        {move || saved.get().then(|| view! { <div class="banner ok" role="status">"Saved."</div> })}
        <ApplicationForm
            initial=app.to_input()
            name_editable=false
            submit_label="Save changes"
            pending=update.pending()
            server_error=update_error
            on_submit=Callback::new(move |input| {
                update.dispatch(input);
            })
            locked=Signal::derive(move || !writable.get())
        />
        {with_application(|app| {
            view! {
                <dl class="facts audit">
                    <dt>"Created"</dt>
                    <dd><Time at=app.created_at />{format!(" by {}", app.created_by)}</dd>
                    <dt>"Last changed"</dt>
                    <dd><Time at=app.updated_at />{format!(" by {}", app.updated_by)}</dd>
                </dl>
            }
        })}
        {move || writable.get().then(|| view! { <DeleteApplication name=name.clone() /> })}
    }
    .into_any()
}

#[component]
fn DeleteApplication(name: String) -> impl IntoView {
    let changed: ApplicationsChanged = expect_context();
    let typed = RwSignal::new(String::new());
    let delete = Action::new(|name: &String| delete_application(name.clone()));
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            // Leave first: refreshing while still here would replace this page with "not found".
            navigate("/applications", NavigateOptions::default());
            changed.notify();
        }
    });
    let expected = name.clone();
    let confirmed = move || typed.with(|t| *t == expected);
    let on_delete = {
        let name = name.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            delete.dispatch(name.clone());
        }
    };
    view! {
        <section class="danger-zone">
            <h2>"Delete application"</h2>
            <p>
                "Deleting removes the application from Topsail. It does not touch anything running in "
                "Kubernetes. Type the application's name to confirm."
            </p>
            {move || delete.value().get().and_then(Result::err).map(|error| view! { <ErrorBanner error /> })}
            <form class="inline-form" on:submit=on_delete>
                <label for="confirm-delete" class="visually-hidden">"Application name"</label>
                <input
                    id="confirm-delete"
                    placeholder=name.clone()
                    autocomplete="off"
                    prop:value=typed
                    on:input=move |ev| typed.set(event_target_value(&ev))
                />
                <button
                    type="submit"
                    class="button danger"
                    disabled=move || !confirmed() || delete.pending().get()
                >
                    "Delete application"
                </button>
            </form>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::active_tab;

    #[test]
    fn active_tab_follows_the_path() {
        assert_eq!(active_tab("/applications/web", "web"), "infrastructure");
        assert_eq!(active_tab("/applications/web/", "web"), "infrastructure");
        assert_eq!(
            active_tab("/applications/web/pipelines", "web"),
            "pipelines"
        );
        assert_eq!(
            active_tab("/applications/config/config", "config"),
            "config"
        );
        assert_eq!(
            active_tab("/applications/pipelines", "pipelines"),
            "infrastructure"
        );
        assert_eq!(
            active_tab("/applications/web/executions/abc-123", "web"),
            "executions"
        );
    }
}

/// The confirmation for deleting the pipeline named in `deleting`, then the deletion: the
/// pipeline goes, its executions stay (they are history). Lives outside the pipelines table,
/// which re-renders as runs come and go.
#[component]
fn DeletePipelineConfirm(
    application: Memo<String>,
    deleting: RwSignal<Option<String>>,
    on_deleted: Callback<()>,
) -> impl IntoView {
    let toasts = toasts();
    let delete = Action::new(move |name: &String| {
        let name = name.clone();
        async move {
            (
                delete_pipeline(application.get_untracked(), name.clone()).await,
                name,
            )
        }
    });
    Effect::new(move |_| match delete.value().get() {
        Some((Ok(()), name)) => {
            toasts.done(format!("Pipeline {name} deleted; its executions are kept"));
            on_deleted.run(());
        }
        Some((Err(error), _)) => toasts.failed("Could not delete the pipeline", &error),
        None => {}
    });
    view! {
        {move || deleting.get().map(|name| view! {
            <div class="confirm-bar" role="alertdialog" aria-label="Delete this pipeline?">
                <span>{format!("Delete pipeline {name}? Its executions are kept.")}</span>
                <button class="button danger small-button" disabled=move || delete.pending().get() on:click={
                    let name = name.clone();
                    move |_| { delete.dispatch(name.clone()); deleting.set(None); }
                }>"Delete pipeline"</button>
                <button class="button small-button" on:click=move |_| deleting.set(None)>"Keep it"</button>
            </div>
        })}
    }
    .into_any()
}
