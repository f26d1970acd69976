//! HTTP: the UI (server-rendered pages, server functions, static files), operations endpoints,
//! and the request door in front of all of them.

mod builds;
mod door;
mod gate;
mod live;
mod metrics;
mod ops;
mod webhooks;

use std::path::Path;
use std::sync::Arc;

use domain::services::Services;
use axum::Router;
use axum::extract::FromRef;
use axum::middleware;
use axum::routing::get;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::services::ServeDir;

pub use metrics::Metrics;

use crate::store::Store;

/// What every handler may use.
#[derive(Clone)]
pub struct AppState {
    pub leptos: LeptosOptions,
    pub store: Store,
    pub services: Services,
    pub metrics: Arc<Metrics>,
    pub infrastructure: Arc<crate::infrastructure::Infrastructure>,
    /// The execution engine, for the live executions stream.
    pub engine: Arc<crate::orchestration::engine::Engine>,
    /// The configured Jenkins masters (jobs, health, console logs).
    pub jenkins: crate::jenkins::JenkinsMasters,
    /// The configured registry accounts (push notifications, tags, digests).
    pub registries: crate::registries::Registries,
    /// Set when the server starts shutting down: long-lived responses (event streams) end so
    /// the graceful shutdown does not wait for them.
    pub shutdown: tokio::sync::watch::Sender<bool>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// The options Leptos needs to render pages that load the UI bundle from `site_dir/pkg`.
pub fn leptos_options(site_dir: &Path, listen: std::net::SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("topsail")
        .site_root(site_dir.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(listen)
        .build()
}

pub fn router(state: AppState) -> Router {
    let services = state.services.clone();
    let context = move || provide_context(services.clone());
    let shell_options = state.leptos.clone();
    let routes = generate_route_list(app::App);
    let pkg_dir = Path::new(&*state.leptos.site_root).join(&*state.leptos.site_pkg_dir);

    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route(
            "/webhooks/webhook/{source}",
            axum::routing::post(webhooks::webhook),
        )
        .route(
            "/webhooks/registry/{account}",
            axum::routing::post(webhooks::registry),
        )
        .route("/api/infrastructure/stream", get(live::infrastructure))
        .route("/api/executions/stream", get(live::executions))
        .route("/api/builds/log/stream", get(live::build_log))
        .route("/api/builds/masters", get(builds::health))
        .route(
            "/api/registries/{account}/repositories",
            get(builds::repositories),
        )
        .route("/api/registries/{account}/image", get(builds::image))
        .nest(
            "/gate",
            gate::router().layer(axum::Extension(gate::TaskLog::default())),
        )
        // The UI bundle, served pre-compressed (`<file>.br` / `<file>.gz` beside each file) when
        // the browser accepts brotli or gzip; see `./x build`.
        .nest_service(
            "/pkg",
            ServeDir::new(pkg_dir)
                .precompressed_br()
                .precompressed_gzip(),
        )
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            app::shell(shell_options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, app::shell))
        .route_layer(middleware::from_fn(door::tag_route))
        .layer(middleware::from_fn_with_state(state.clone(), door::door))
        .with_state(state)
}
