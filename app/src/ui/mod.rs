//! Pages and components. Components are small and named for what the user sees.

mod admin;
mod application_form;
mod application_page;
mod applications;
mod delivery;
mod environments;
mod executions;
mod infrastructure;
mod integrations;
mod lazy_pages;
pub mod login;
mod manifest_editor;
mod object_edit;
mod pickers;
mod pipeline_editor;
mod pod_logs;
pub mod session;
mod shortcuts;
pub(crate) mod time;
pub(crate) mod toasts;
mod tokens;
mod url_state;
pub mod user_menu;

pub(crate) use time::{Time, TimeMs, format_time};

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    Lazy, NavigateOptions, SsrMode,
    components::{ParentRoute, Redirect, Route, Router, Routes},
    hooks::{use_location, use_navigate},
    path,
};

use crate::api::ApiError;
use crate::api::list_applications;
use crate::model::{AppError, Application};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="stylesheet" href=format!("/{}/topsail.css", options.site_pkg_dir) />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The list of applications, shared by the switcher and the applications page; bump
/// [`ApplicationsChanged`] after a change so both refetch.
#[derive(Clone, Copy)]
pub(crate) struct ApplicationList(pub Resource<Result<Vec<Application>, ApiError>>);

#[derive(Clone, Copy)]
pub(crate) struct ApplicationsChanged(pub RwSignal<u32>);

impl ApplicationsChanged {
    pub fn notify(self) {
        self.0.update(|n| *n += 1);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Topsail" />
        <Router>
            <Body />
        </Router>
    }
}

/// Everything inside the router. The login page is shown alone: no header, and nothing is asked
/// of the server there (nobody is signed in yet).
#[component]
fn Body() -> impl IntoView {
    // Sign-in and sign-out load the page anew, so this is known for the page's whole life.
    let signed_in_page = use_location().pathname.get_untracked() != "/login";
    let changed = ApplicationsChanged(RwSignal::new(0));
    provide_context(changed);
    provide_context(ApplicationList(Resource::new(
        move || changed.0.get(),
        move |_| async move {
            if signed_in_page {
                list_applications().await
            } else {
                Ok(Vec::new())
            }
        },
    )));
    session::provide_me(signed_in_page);
    time::provide_clock();
    let toasts = toasts::provide_toasts();

    view! {
        {signed_in_page.then(|| view! { <NavBar /> })}
        // `data-hydrated` turns "true" once the browser has hydrated the whole page, lazy routes
        // included (see the `frontend` crate): tests and CSS wait for it.
        <main class="page" data-hydrated="false">
            <Routes fallback=NotFound>
                <Route path=path!("/") view=|| view! { <Redirect path="/applications" /> } />
                <Route path=path!("/login") view={Lazy::<lazy_pages::LoginRoute>::new()} />
                <Route path=path!("/applications") view=applications::ApplicationsPage />
                <Route path=path!("/applications/new") view={Lazy::<lazy_pages::CreateApplicationRoute>::new()} />
                <Route path=path!("/integrations") view={Lazy::<lazy_pages::IntegrationsRoute>::new()} />
                <Route path=path!("/environments") view={Lazy::<lazy_pages::EnvironmentsRoute>::new()} />
                <Route path=path!("/settings/tokens") view={Lazy::<lazy_pages::TokensRoute>::new()} />
                // Whole before sending, so a caller who is not an admin gets a real 403.
                <Route path=path!("/admin/users") view={Lazy::<lazy_pages::UsersRoute>::new()} ssr=SsrMode::Async />
                <Route path=path!("/admin/audit") view={Lazy::<lazy_pages::AuditRoute>::new()} ssr=SsrMode::Async />
                // Rendered whole before sending, so an unknown application answers 404.
                <ParentRoute
                    path=path!("/applications/:name")
                    view={Lazy::<lazy_pages::ApplicationRoute>::new()}
                    ssr=SsrMode::Async
                >
                    <Route path=path!("") view={Lazy::<lazy_pages::InfrastructureRoute>::new()} />
                    <Route path=path!("infrastructure") view={Lazy::<lazy_pages::InfrastructureRoute>::new()} />
                    <Route path=path!("pipelines") view={Lazy::<lazy_pages::PipelinesRoute>::new()} />
                    <Route path=path!("pipelines/new") view={Lazy::<lazy_pages::PipelineEditorRoute>::new()} />
                    <Route path=path!("pipelines/edit/:pipeline") view={Lazy::<lazy_pages::PipelineEditorRoute>::new()} />
                    <Route path=path!("executions") view={Lazy::<lazy_pages::ExecutionsRoute>::new()} />
                    <Route path=path!("executions/:id") view={Lazy::<lazy_pages::ExecutionRoute>::new()} />
                    <Route path=path!("config") view={Lazy::<lazy_pages::ConfigRoute>::new()} />
                    <Route path=path!("delivery") view={Lazy::<lazy_pages::DeliveryRoute>::new()} />
                </ParentRoute>
            </Routes>
        </main>
        <toasts::ToastRegion toasts />
        <shortcuts::Shortcuts />
        <lazy_pages::PrefetchOnIntent />
    }
}

#[component]
fn NavBar() -> impl IntoView {
    view! {
        <header class="navbar">
            <a class="brand" href="/applications">
                <img class="brand-mark" src="/favicon.svg" alt="" width="22" height="22" />
                "Topsail"
            </a>
            <nav aria-label="Main">
                <a href="/applications">"Applications"</a>
                <a href="/environments">"Environments"</a>
                <a href="/integrations">"Integrations"</a>
            </nav>
            <ApplicationSwitcher />
            <user_menu::UserMenu />
        </header>
    }
}

/// The application currently shown, read from the path (`/applications/<name>/...`).
fn current_application(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/applications/")?;
    let name = rest.split('/').next().unwrap_or_default();
    (!name.is_empty() && name != "new").then(|| name.to_owned())
}

#[component]
fn ApplicationSwitcher() -> impl IntoView {
    let ApplicationList(apps) = expect_context();
    let location = use_location();
    let current =
        Memo::new(move |_| current_application(&location.pathname.get()).unwrap_or_default());
    let navigate = use_navigate();
    let on_change = move |ev| {
        let name = event_target_value(&ev);
        if !name.is_empty() {
            navigate(&format!("/applications/{name}"), NavigateOptions::default());
        }
    };
    view! {
        <label class="switcher">
            <span class="visually-hidden">"Switch application"</span>
            <select aria-label="Switch application" on:change=on_change prop:value=current>
                <option value="">"Switch application…"</option>
                <Transition fallback=|| ()>
                    {move || {
                        apps.get()
                            .map(|r| {
                                r.unwrap_or_default()
                                    .into_iter()
                                    .map(|a| {
                                        let selected = a.name == current.get_untracked();
                                        let value = a.name.clone();
                                        view! {
                                            <option value=value selected=selected>
                                                {a.name}
                                            </option>
                                        }
                                    })
                                    .collect_view()
                            })
                    }}
                </Transition>
            </select>
        </label>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found · Topsail" />
        <section class="empty-state">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. It may have been deleted or mistyped."</p>
            <a class="button" href="/applications">"Go to applications"</a>
        </section>
    }
}

/// An error the user should see, in plain words (internal causes appear only as a request id).
/// An ended session says so with the way back in (the browser goes there by itself when a
/// server function answers so, see `ApiError::de`).
#[component]
pub(crate) fn ErrorBanner(error: ApiError) -> impl IntoView {
    let sign_in = matches!(error.0, AppError::Unauthenticated).then(|| {
        let location = use_location();
        let href = move || {
            let search = location.search.get();
            let query = if search.is_empty() { "" } else { "?" };
            session::login_url(&format!("{}{query}{search}", location.pathname.get()))
        };
        view! { " " <a href=href rel="external">"Sign in again"</a> }
    });
    view! {
        <div class="banner error" role="alert">
            {error.to_string()}
            {sign_in}
        </div>
    }
}

/// "1 application", "3 applications".
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Grey bars where a list will be, while it loads (instead of "Loading…").
#[component]
pub(crate) fn ListSkeleton() -> impl IntoView {
    view! {
        <div class="skeleton-list" aria-busy="true" aria-label="Loading">
            <div class="skeleton"></div>
            <div class="skeleton"></div>
            <div class="skeleton"></div>
        </div>
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass through).
pub(crate) fn encode_query_value(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Follows the server-sent events at `url()` (again whenever it changes) in the browser: each
/// event named `event` is parsed into `live`; `connected` says whether the stream is up. An
/// event named `failure` (the server cannot follow what was asked) closes the stream for good.
#[cfg(feature = "hydrate")]
pub(crate) fn follow_events<T>(
    url: impl Fn() -> String + 'static,
    event: &'static str,
    live: RwSignal<Option<T>>,
    connected: RwSignal<bool>,
) where
    T: serde::de::DeserializeOwned + Send + Sync + 'static,
{
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    Effect::new(move |_| {
        let url = url();
        live.set(None);
        let Ok(source) = web_sys::EventSource::new(&url) else {
            return;
        };
        let on_data = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |message: web_sys::MessageEvent| {
                if let Some(text) = message.data().as_string()
                    && let Ok(value) = serde_json::from_str::<T>(&text)
                {
                    live.set(Some(value));
                    connected.set(true);
                }
            },
        );
        let _ = source.add_event_listener_with_callback(event, on_data.as_ref().unchecked_ref());
        let closing = source.clone();
        let on_failure = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            closing.close();
            connected.set(false);
        });
        let _ =
            source.add_event_listener_with_callback("failure", on_failure.as_ref().unchecked_ref());
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| connected.set(false));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let source = send_wrapper::SendWrapper::new((source, on_data, on_failure, on_error));
        on_cleanup(move || source.0.close());
    });
}

/// Changes between two JSON values as a table: where, before, after (text as is, other values
/// as JSON, absent as a dash).
#[component]
pub(crate) fn Changes(
    changes: Vec<crate::model::pipeline::PipelineChange>,
    columns: (&'static str, &'static str, &'static str),
) -> impl IntoView {
    let show = |v: &Option<serde_json::Value>| match v {
        None | Some(serde_json::Value::Null) => "—".to_owned(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => serde_json::to_string(other).unwrap_or_default(),
    };
    view! {
        <table class="list diff" aria-label="Changes">
            <thead><tr><th scope="col">{columns.0}</th><th scope="col">{columns.1}</th><th scope="col">{columns.2}</th></tr></thead>
            <tbody>
                {changes.iter().map(|c| view! {
                    <tr data-path=c.path.clone()><td><code>{c.path.clone()}</code></td><td class="before"><code>{show(&c.before)}</code></td><td class="after"><code>{show(&c.after)}</code></td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// What deploys would change, object by object (the judgment panel, the manifest editor).
#[component]
pub(crate) fn PlannedChanges(list: Vec<crate::model::execution::PlannedChange>) -> impl IntoView {
    list.into_iter()
        .map(|p| {
            let stage = if p.stage.is_empty() { String::new() } else { format!("{} · ", p.stage) };
            let header = format!("{stage}{}/{} {}", p.account, p.namespace, p.object);
            let body = match (&p.note, p.exists) {
                (Some(note), _) => view! { <p class="muted">{format!("No preview: {note}")}</p> }.into_any(),
                (None, false) => view! { <p class="muted">"Does not exist yet: it will be created."</p> }.into_any(),
                (None, true) if p.changes.is_empty() => view! { <p class="muted">"No change: it runs this already."</p> }.into_any(),
                (None, true) => view! { <Changes changes=p.changes.clone() columns=("Field", "Now", "After") /> }.into_any(),
            };
            view! { <div class="planned" data-object=p.object.clone() data-exists=p.exists.to_string()><h4>{header}</h4>{body}</div> }
        })
        .collect_view()
}

#[cfg(test)]
mod tests {
    use super::{current_application, plural};

    #[test]
    fn counts_read_right() {
        assert_eq!(plural(1, "application", "applications"), "1 application");
        assert_eq!(plural(0, "application", "applications"), "0 applications");
        assert_eq!(plural(3, "application", "applications"), "3 applications");
    }

    #[test]
    fn current_application_comes_from_the_path() {
        assert_eq!(
            current_application("/applications/web/config").as_deref(),
            Some("web")
        );
        assert_eq!(
            current_application("/applications/web").as_deref(),
            Some("web")
        );
        assert_eq!(current_application("/applications/new"), None);
        assert_eq!(current_application("/applications"), None);
        assert_eq!(current_application("/elsewhere"), None);
    }
}
