//! HTTP: the UI (server-rendered pages, server functions, static files), operations endpoints,
//! and the request door in front of all of them.

mod auth;
mod builds;
mod door;
mod environments;
mod error;
mod gate;
mod guard;
mod live;
mod logs;
mod metrics;
mod ops;
mod sso;
mod webhooks;

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::middleware;
use axum::routing::get;
use domain::services::Services;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::services::ServeDir;

pub use error::HttpError;
pub use metrics::Metrics;

use crate::events::intake::EventIntake;
use crate::integrations::Integrations;
use crate::orchestration::engine::Engine;
use crate::orchestration::executions::ExecutionChange;
use crate::store::Store;

/// What every handler may use: the services, and the handles operations need. Handlers reach
/// storage and the engine only through these.
#[derive(Clone)]
pub struct AppState {
    pub leptos: LeptosOptions,
    pub services: Services,
    pub metrics: Arc<Metrics>,
    /// Readiness and the executions' change feed.
    pub operations: Operations,
    /// Where webhooks and registry notifications go.
    pub intake: EventIntake,
    /// The configured Jenkins masters and registry accounts (builds, consoles, images).
    pub integrations: Arc<Integrations>,
    /// The Kubernetes accounts and the live cache (the Infrastructure stream).
    pub infrastructure: Arc<crate::infrastructure::Infrastructure>,
    /// The environments board (its stream).
    pub environments: Arc<crate::environments::Environments>,
    /// Who callers are (sessions, tokens) and the audit log.
    pub accounts: crate::identity::Accounts,
    /// Shared secrets of generic webhook sources.
    pub webhook_sources: Arc<Vec<crate::config::WebhookSourceConfig>>,
    /// Topsail's address as people reach it (cross-site checks, secure cookies).
    pub public_url: Option<String>,
    /// Set when the server starts shutting down: long-lived responses (event streams) end so
    /// the graceful shutdown does not wait for them.
    pub shutdown: tokio::sync::watch::Sender<bool>,
}

/// Operations handles: whether storage answers, and what executions change (for streams).
#[derive(Clone)]
pub struct Operations {
    store: Store,
    engine: Arc<Engine>,
}

impl Operations {
    pub fn new(store: Store, engine: Arc<Engine>) -> Self {
        Self { store, engine }
    }

    /// Whether the database answers and every migration is applied.
    pub async fn readiness(&self) -> Result<(), crate::store::NotReady> {
        self.store.readiness().await
    }

    /// Executions this process changes, as the changes commit.
    pub fn execution_changes(&self) -> tokio::sync::broadcast::Receiver<ExecutionChange> {
        self.engine.subscribe()
    }
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

/// The largest request body any route reads (413 beyond it).
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

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
        .route("/auth/login", axum::routing::post(auth::login))
        .route("/auth/logout", axum::routing::post(auth::logout))
        .route("/auth/methods", get(auth::methods))
        .route("/auth/oidc/login", get(sso::login))
        .route("/auth/oidc/callback", get(sso::callback))
        .route("/api/audit/export", get(auth::export_audit))
        .route("/api/infrastructure/stream", get(live::infrastructure))
        .route("/api/environments", get(environments::board))
        .route("/api/environments/stream", get(environments::stream))
        .route("/api/executions/stream", get(live::executions))
        .route("/api/infrastructure/logs/download", get(logs::download))
        .route("/api/builds/log/stream", get(live::build_log))
        .route("/api/builds/masters", get(builds::health))
        .route(
            "/api/registries/{account}/repositories",
            get(builds::repositories),
        )
        .route("/api/registries/{account}/image", get(builds::image))
        .nest(
            "/gate",
            gate::router()
                .route("/auth/user", get(auth::gate_user))
                .layer(axum::Extension(gate::TaskLog::default())),
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
        // Every body is bounded, whoever reads it (axum's extractors and the server functions).
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_REQUEST_BYTES,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), door::door))
        .with_state(state)
}
