//! The pages loaded on demand. Each is a lazy route: in the browser its code sits in its own
//! wasm modules (`split_*.wasm` and the `chunk_*.wasm` it shares, fetched as one pack on a first
//! visit, see `./x build`), fetched when the route is first shown — or earlier, when the
//! pointer rests on a link to it or the link gets the keyboard focus or a touch
//! ([`PrefetchOnIntent`]). The server renders them as any other page and lists the modules a
//! page needs, so hydrating a page that was opened directly waits for nothing more than those.
//!
//! What stays in the first bundle: the shell, the navigation and the applications list.

use leptos::prelude::*;
use leptos_router::{LazyRoute, lazy_route};

/// A lazy route showing `$component`, under the name `$route`.
macro_rules! lazy_page {
    ($(#[$doc:meta])* $route:ident => $component:path) => {
        $(#[$doc])*
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> AnyView {
                view! { <$component /> }.into_any()
            }
        }
    };
}

lazy_page!(
    /// The page around an application's tabs (header, tabs, its deploy targets).
    ApplicationRoute => super::application_page::ApplicationPage
);
lazy_page!(InfrastructureRoute => super::infrastructure::InfrastructureTab);
lazy_page!(PipelinesRoute => super::application_page::PipelinesTab);
lazy_page!(PipelineEditorRoute => super::pipeline_editor::PipelineEditorPage);
lazy_page!(ExecutionsRoute => super::executions::ExecutionsTab);
lazy_page!(ExecutionRoute => super::executions::ExecutionPage);
lazy_page!(ConfigRoute => super::application_page::ConfigTab);
lazy_page!(DeliveryRoute => super::delivery::DeliveryTab);
lazy_page!(EnvironmentsRoute => super::environments::EnvironmentsPage);
lazy_page!(IntegrationsRoute => super::integrations::IntegrationsPage);
lazy_page!(TokensRoute => super::tokens::TokensPage);
lazy_page!(UsersRoute => super::admin::UsersPage);
lazy_page!(AuditRoute => super::admin::AuditPage);
lazy_page!(
    /// Sign-in: visited once in a while, not worth carrying on every page.
    LoginRoute => super::login::LoginPage
);
lazy_page!(CreateApplicationRoute => super::applications::CreateApplicationPage);

/// The lazy routes a path shows (the application page comes with each of its tabs and pages).
// Used in the browser (and the tests) only.
#[cfg_attr(not(any(feature = "hydrate", test)), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LazyPage {
    Application,
    Infrastructure,
    Pipelines,
    PipelineEditor,
    Executions,
    Execution,
    Config,
    Delivery,
    Environments,
    Integrations,
    Tokens,
    Users,
    Audit,
    Login,
    CreateApplication,
}

/// The lazy routes showing `path` (as the router in `ui/mod.rs` maps it); none for the pages in
/// the first bundle and for paths outside the UI.
#[cfg_attr(not(any(feature = "hydrate", test)), allow(dead_code))]
pub(crate) fn pages_for(path: &str) -> Vec<LazyPage> {
    use LazyPage::*;
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["login"] => vec![Login],
        ["integrations"] => vec![Integrations],
        ["environments"] => vec![Environments],
        ["settings", "tokens"] => vec![Tokens],
        ["admin", "users"] => vec![Users],
        ["admin", "audit"] => vec![Audit],
        ["applications", "new"] => vec![CreateApplication],
        ["applications", name, rest @ ..] if !name.is_empty() => {
            let tab = match rest {
                [] | [""] | ["infrastructure"] => Infrastructure,
                ["pipelines"] => Pipelines,
                ["pipelines", "new"] | ["pipelines", "edit", _] => PipelineEditor,
                ["executions"] => Executions,
                ["executions", _] => Execution,
                ["config"] => Config,
                ["delivery"] => Delivery,
                _ => return Vec::new(),
            };
            vec![Application, tab]
        }
        _ => Vec::new(),
    }
}

/// Fetches the code of `pages` (all in one go, so their modules come as one pack).
#[cfg(feature = "hydrate")]
async fn preload(pages: Vec<LazyPage>) {
    use LazyPage::*;
    let loads = pages
        .into_iter()
        .map(|page| -> std::pin::Pin<Box<dyn Future<Output = ()>>> {
            match page {
                Application => Box::pin(ApplicationRoute::preload()),
                Infrastructure => Box::pin(InfrastructureRoute::preload()),
                Pipelines => Box::pin(PipelinesRoute::preload()),
                PipelineEditor => Box::pin(PipelineEditorRoute::preload()),
                Executions => Box::pin(ExecutionsRoute::preload()),
                Execution => Box::pin(ExecutionRoute::preload()),
                Config => Box::pin(ConfigRoute::preload()),
                Delivery => Box::pin(DeliveryRoute::preload()),
                Environments => Box::pin(EnvironmentsRoute::preload()),
                Integrations => Box::pin(IntegrationsRoute::preload()),
                Tokens => Box::pin(TokensRoute::preload()),
                Users => Box::pin(UsersRoute::preload()),
                Audit => Box::pin(AuditRoute::preload()),
                Login => Box::pin(LoginRoute::preload()),
                CreateApplication => Box::pin(CreateApplicationRoute::preload()),
            }
        });
    futures::future::join_all(loads).await;
}

/// Starts fetching a page's code as soon as the user shows the intent to open it: the pointer
/// over a link to it, the link focused from the keyboard, or touched. (Not when the browser is
/// merely idle: that would fetch pages nobody opens, on every visit.)
#[component]
pub(crate) fn PrefetchOnIntent() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let asked = StoredValue::new(std::collections::HashSet::<String>::new());
        let on_intent = move |target: Option<web_sys::EventTarget>| {
            let Some(link) = target
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|e| e.closest("a[href]").ok().flatten())
                .and_then(|e| e.dyn_into::<web_sys::HtmlAnchorElement>().ok())
            else {
                return;
            };
            let same_site = window().location().origin().ok() == Some(link.origin());
            let path = link.pathname();
            if !same_site
                || !asked
                    .try_update_value(|a| a.insert(path.clone()))
                    .unwrap_or(false)
            {
                return;
            }
            let pages = pages_for(&path);
            if !pages.is_empty() {
                leptos::task::spawn_local(preload(pages));
            }
        };
        let over = window_event_listener(leptos::ev::pointerover, move |ev| on_intent(ev.target()));
        let focus = window_event_listener(leptos::ev::focusin, move |ev| on_intent(ev.target()));
        let touch = window_event_listener(leptos::ev::touchstart, move |ev| on_intent(ev.target()));
        on_cleanup(move || {
            over.remove();
            focus.remove();
            touch.remove();
        });
    }
}

#[cfg(test)]
mod tests {
    use super::LazyPage::*;
    use super::pages_for;

    #[test]
    fn paths_map_to_the_routes_the_router_shows() {
        assert_eq!(pages_for("/applications"), vec![]);
        assert_eq!(pages_for("/applications/new"), vec![CreateApplication]);
        assert_eq!(
            pages_for("/applications/shop"),
            vec![Application, Infrastructure]
        );
        assert_eq!(
            pages_for("/applications/shop/infrastructure"),
            vec![Application, Infrastructure]
        );
        assert_eq!(
            pages_for("/applications/shop/pipelines"),
            vec![Application, Pipelines]
        );
        assert_eq!(
            pages_for("/applications/shop/pipelines/new"),
            vec![Application, PipelineEditor]
        );
        assert_eq!(
            pages_for("/applications/shop/pipelines/edit/Deploy"),
            vec![Application, PipelineEditor]
        );
        assert_eq!(
            pages_for("/applications/shop/executions"),
            vec![Application, Executions]
        );
        assert_eq!(
            pages_for("/applications/shop/executions/01J"),
            vec![Application, Execution]
        );
        assert_eq!(
            pages_for("/applications/shop/config"),
            vec![Application, Config]
        );
        assert_eq!(
            pages_for("/applications/shop/delivery"),
            vec![Application, Delivery]
        );
        assert_eq!(pages_for("/environments"), vec![Environments]);
        assert_eq!(pages_for("/applications/shop/nothing"), vec![]);
        assert_eq!(pages_for("/integrations"), vec![Integrations]);
        assert_eq!(pages_for("/settings/tokens"), vec![Tokens]);
        assert_eq!(pages_for("/admin/users"), vec![Users]);
        assert_eq!(pages_for("/admin/audit"), vec![Audit]);
        assert_eq!(pages_for("/login"), vec![Login]);
        assert_eq!(pages_for("/api/applications"), vec![]);
        assert_eq!(pages_for("/pkg/topsail.js"), vec![]);
    }
}
