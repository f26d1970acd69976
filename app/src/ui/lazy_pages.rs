//! The pages loaded on demand. Each is a lazy route: in the browser its code sits in its own
//! wasm chunk (`split_*.wasm`, see `./x build`), fetched when the route is first shown — or
//! earlier, when a link to it is hovered or the browser is idle (`prefetch_pages`). The server
//! renders them as any other page and lists the chunks a page needs, so hydrating a page that
//! was opened directly waits for nothing more than its own chunk.
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
lazy_page!(IntegrationsRoute => super::integrations::IntegrationsPage);
lazy_page!(TokensRoute => super::tokens::TokensPage);
lazy_page!(UsersRoute => super::admin::UsersPage);
lazy_page!(AuditRoute => super::admin::AuditPage);
lazy_page!(
    /// Sign-in: visited once in a while, not worth carrying on every page.
    LoginRoute => super::login::LoginPage
);
lazy_page!(CreateApplicationRoute => super::applications::CreateApplicationPage);
