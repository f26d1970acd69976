//! The applications list and the create page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    NavigateOptions,
    hooks::{use_navigate, use_query_map},
};

use super::application_form::ApplicationForm;
use super::{ApplicationList, ApplicationsChanged, ErrorBanner, Time, encode_query_value, plural};
use crate::api::create_application;
use crate::api::environments::application_statuses;
use crate::model::environments::ApplicationStatus;
use crate::model::{Application, ApplicationInput};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SortOrder {
    Name,
    RecentlyUpdated,
}

impl SortOrder {
    fn from_query(raw: Option<&str>) -> Self {
        match raw {
            Some("updated") => Self::RecentlyUpdated,
            _ => Self::Name,
        }
    }

    fn as_query(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::RecentlyUpdated => "updated",
        }
    }
}

/// The applications that match `filter` (name, owner, team or description, case-insensitive),
/// in the chosen order.
fn visible_applications(all: &[Application], filter: &str, order: SortOrder) -> Vec<Application> {
    let needle = filter.trim().to_lowercase();
    let mut shown: Vec<Application> = all
        .iter()
        .filter(|a| {
            needle.is_empty()
                || [&a.name, &a.owner_email, &a.team, &a.description]
                    .iter()
                    .any(|field| field.to_lowercase().contains(&needle))
        })
        .cloned()
        .collect();
    match order {
        SortOrder::Name => shown.sort_by(|a, b| a.name.cmp(&b.name)),
        SortOrder::RecentlyUpdated => shown.sort_by(|a, b| {
            b.updated_at
                .cmp(&a.updated_at)
                .then_with(|| a.name.cmp(&b.name))
        }),
    }
    shown
}

/// The list's address for a filter and order, so a reload or a shared link restores both.
fn list_url(filter: &str, order: SortOrder) -> String {
    let mut query = Vec::new();
    if !filter.is_empty() {
        query.push(format!("q={}", encode_query_value(filter)));
    }
    if order != SortOrder::Name {
        query.push(format!("sort={}", order.as_query()));
    }
    if query.is_empty() {
        "/applications".to_owned()
    } else {
        format!("/applications?{}", query.join("&"))
    }
}

#[component]
pub fn ApplicationsPage() -> impl IntoView {
    let ApplicationList(apps) = expect_context();
    // Health and last deploy, from the environments board's data.
    let statuses = Resource::new(|| (), |_| application_statuses());
    let query = use_query_map();
    let filter = Memo::new(move |_| query.read().get("q").unwrap_or_default());
    let order = Memo::new(move |_| SortOrder::from_query(query.read().get("sort").as_deref()));
    let navigate = use_navigate();
    let go = move |filter: String, order: SortOrder| {
        navigate(
            &list_url(&filter, order),
            NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            },
        );
    };
    let go_filter = go.clone();
    let on_filter = move |ev| go_filter(event_target_value(&ev), order.get_untracked());
    let on_sort = move |ev| {
        let order = SortOrder::from_query(Some(event_target_value(&ev).as_str()));
        go(filter.get_untracked(), order)
    };

    view! {
        <Title text="Applications · Topsail" />
        <header class="page-header">
            <h1>"Applications"</h1>
            <a class="button primary" href="/applications/new">"Create application"</a>
        </header>
        <div class="toolbar">
            <input
                type="search"
                class="filter"
                placeholder="Filter by name, owner, team or description"
                aria-label="Filter applications"
                data-search
                prop:value=filter
                on:input=on_filter
            />
            <label class="sort">
                "Sort by "
                <select aria-label="Sort applications" on:change=on_sort prop:value=move || order.get().as_query()>
                    <option value="name" selected=move || order.get() == SortOrder::Name>"Name"</option>
                    <option value="updated" selected=move || order.get() == SortOrder::RecentlyUpdated>
                        "Recently updated"
                    </option>
                </select>
            </label>
        </div>
        <Transition fallback=|| view! { <crate::ui::ListSkeleton /> }>
            {move || {
                apps.get()
                    .map(|result| match result {
                        Err(e) => view! { <ErrorBanner error=e /> }.into_any(),
                        Ok(all) if all.is_empty() => view! { <NoApplications /> }.into_any(),
                        Ok(all) => {
                            let shown = visible_applications(&all, &filter.get(), order.get());
                            let statuses = statuses.get().and_then(Result::ok).unwrap_or_default();
                            view! { <ApplicationsTable shown statuses filter=filter.get() total=all.len() /> }
                                .into_any()
                        }
                    })
            }}
        </Transition>
    }
}

/// First run: the three steps that matter, instead of an empty table.
#[component]
fn NoApplications() -> impl IntoView {
    // The clusters Topsail can reach, asked for once the page is interactive (checking them
    // may take seconds; the page does not wait).
    let clusters: RwSignal<Option<Vec<crate::model::integrations::IntegrationHealth>>> =
        RwSignal::new(None);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            let all = crate::api::integrations_health().await.unwrap_or_default();
            clusters.set(Some(
                all.into_iter().filter(|i| i.kind == "kubernetes").collect(),
            ));
        });
    });
    view! {
        <section class="empty-state first-run" data-testid="no-applications">
            <h2>"Welcome to Topsail"</h2>
            <p>"An application groups the pipelines and the Kubernetes workloads of one service. Three steps to your first deployment:"</p>
            <ol class="first-steps">
                <li data-step="cluster">
                    <strong>"Connect a cluster. "</strong>
                    {move || match clusters.get() {
                        None => view! { <span class="muted">"Looking for the Kubernetes accounts…"</span> }.into_any(),
                        Some(list) if list.is_empty() => view! {
                            <span>"No Kubernetes account is configured yet: add one under "<code>"[[kubernetes.accounts]]"</code>" (a kubeconfig and its context) and restart."</span>
                        }.into_any(),
                        Some(list) => view! {
                            <span>{format!("{} found: ", plural(list.len(), "Kubernetes account", "Kubernetes accounts"))}</span>
                            <ul class="found-accounts">
                                {list.into_iter().map(|a| view! {
                                    <li data-account=a.name.clone()>
                                        <code>{a.name.clone()}</code>" "
                                        <span class=if a.healthy { "status status-SUCCEEDED" } else { "status status-TERMINAL" }>{if a.healthy { "reachable" } else { "unreachable" }}</span>
                                        " "<span class="muted small">{a.detail.clone()}</span>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                    }}
                </li>
                <li data-step="application">
                    <strong>"Create an application"</strong>" for your service, with the accounts and namespaces it deploys to. "
                    <a class="button primary" href="/applications/new">"Create your first application"</a>
                </li>
                <li data-step="pipeline">
                    <strong>"Start from the seed-flow template: "</strong>
                    "in the application, Pipelines → New pipeline builds with Jenkins, deploys to test, waits for a person's approval and promotes the same image to production."
                </li>
            </ol>
        </section>
    }
}

#[component]
fn ApplicationsTable(
    shown: Vec<Application>,
    statuses: Vec<ApplicationStatus>,
    filter: String,
    total: usize,
) -> impl IntoView {
    if shown.is_empty() {
        return view! {
            <p class="empty-state small">
                {format!("No application matches “{filter}” ({total} in all).")}
            </p>
        }
        .into_any();
    }
    let count = if shown.len() == total {
        plural(total, "application", "applications")
    } else {
        format!(
            "{} of {}",
            shown.len(),
            plural(total, "application", "applications")
        )
    };
    view! {
        <p class="muted count">{count}</p>
        <table class="list" aria-label="Applications">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Owner"</th>
                    <th scope="col">"Team"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Updated"</th>
                </tr>
            </thead>
            <tbody>
                {shown
                    .into_iter()
                    .map(|a| {
                        let href = format!("/applications/{}", a.name);
                        let key = a.name.clone();
                        let status = statuses.iter().find(|s| s.application == a.name).cloned();
                        let health = status.as_ref().map(|s| s.health.label());
                        view! {
                            <tr data-app=key>
                                <td>
                                    <a href=href class="app-name">{a.name}</a>
                                    <div class="muted small">{a.description}</div>
                                </td>
                                <td>{a.owner_email}</td>
                                <td>{a.team}</td>
                                <td class="status" data-health=health>
                                    {status.map(|s| view! {
                                        <span class=s.health.css()></span>
                                        " " {s.health.label()}
                                        {s.last_deploy.map(|d| view! { <div class="muted small">"deployed "<Time at=d.time />" by "{d.user}</div> })}
                                    })}
                                </td>
                                <td class="nowrap"><Time at=a.updated_at /></td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
pub fn CreateApplicationPage() -> impl IntoView {
    let changed: ApplicationsChanged = expect_context();
    let create = Action::new(|input: &ApplicationInput| create_application(input.clone()));
    let navigate = use_navigate();
    let outcome = Signal::derive(move || create.value().get().and_then(Result::err));
    Effect::new(move |_| {
        if let Some(Ok(app)) = create.value().get() {
            changed.notify();
            navigate(
                &format!("/applications/{}", app.name),
                NavigateOptions::default(),
            );
        }
    });
    let super::session::Me(me) = expect_context();
    view! {
        <Title text="Create application · Topsail" />
        <header class="page-header">
            <h1>"Create application"</h1>
        </header>
        // The creator's roles are offered for all three kinds of access.
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || me.get().map(|me| {
                let roles = me.map(|m| m.roles.join(", ")).unwrap_or_default();
                let initial = ApplicationInput {
                    read_roles: roles.clone(),
                    execute_roles: roles.clone(),
                    write_roles: roles,
                    ..ApplicationInput::default()
                };
                view! {
                    <ApplicationForm
                        initial
                        name_editable=true
                        submit_label="Create application"
                        pending=create.pending()
                        server_error=outcome
                        on_submit=Callback::new(move |input| {
                            create.dispatch(input);
                        })
                    />
                }
            })}
        </Transition>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn app(name: &str, team: &str, updated_minute: u32) -> Application {
        let t = Utc
            .with_ymd_and_hms(2026, 11, 26, 9, updated_minute, 0)
            .unwrap();
        Application {
            name: name.into(),
            description: String::new(),
            owner_email: format!("{name}@example.com"),
            team: team.into(),
            created_at: t,
            created_by: "anonymous".into(),
            updated_at: t,
            updated_by: "anonymous".into(),
            deploy_targets: Vec::new(),
            permissions: Default::default(),
        }
    }

    #[test]
    fn filter_matches_any_text_field_case_insensitively() {
        let all = [
            app("web", "Payments", 1),
            app("api", "core", 2),
            app("worker", "payments", 3),
        ];
        let names = |v: Vec<Application>| v.into_iter().map(|a| a.name).collect::<Vec<_>>();
        assert_eq!(
            names(visible_applications(&all, "PAY", SortOrder::Name)),
            ["web", "worker"]
        );
        assert_eq!(
            names(visible_applications(&all, "api@", SortOrder::Name)),
            ["api"]
        );
        assert_eq!(
            names(visible_applications(&all, " ", SortOrder::Name)),
            ["api", "web", "worker"]
        );
        assert_eq!(
            names(visible_applications(&all, "", SortOrder::RecentlyUpdated)),
            ["worker", "api", "web"]
        );
    }

    #[test]
    fn list_url_keeps_filter_and_order() {
        assert_eq!(list_url("", SortOrder::Name), "/applications");
        assert_eq!(
            list_url("a b&c", SortOrder::RecentlyUpdated),
            "/applications?q=a%20b%26c&sort=updated"
        );
        assert_eq!(
            SortOrder::from_query(Some("updated")),
            SortOrder::RecentlyUpdated
        );
        assert_eq!(SortOrder::from_query(Some("bogus")), SortOrder::Name);
    }
}
