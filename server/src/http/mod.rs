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
use axum::http::{HeaderValue, Response, header::CACHE_CONTROL};
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

    /// The engine's gauges for `/metrics`, as Prometheus text (an empty string, logged, when
    /// storage does not answer: the other metrics still go out).
    pub async fn engine_gauges(&self) -> String {
        match self.engine.gauges().await {
            Ok((depth, by_status)) => {
                metrics::render_engine(&depth, &by_status, live::open_streams())
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the engine's gauges for /metrics");
                String::new()
            }
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// The options Leptos needs to render pages that load the UI bundle from `site_dir/pkg`: under
/// `/pkg/<build id>/` when the build wrote one (see [`bundle_id`]), else `/pkg/`.
pub fn leptos_options(site_dir: &Path, listen: std::net::SocketAddr) -> LeptosOptions {
    let pkg = match bundle_id(site_dir) {
        Some(id) => format!("pkg/{id}"),
        None => "pkg".to_owned(),
    };
    LeptosOptions::builder()
        .output_name("topsail")
        .site_root(site_dir.to_string_lossy().into_owned())
        .site_pkg_dir(pkg)
        .site_addr(listen)
        .build()
}

/// The UI bundle's build id: `site_dir/pkg/build-id`, a hash of every bundle file written by
/// `./x build`. Pages load the bundle under `/pkg/<id>/`, which browsers may keep for a year: a
/// new release has a new id, so a browser never runs an old bundle against a new server.
pub fn bundle_id(site_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(site_dir.join("pkg").join("build-id")).ok()?;
    let id = text.trim();
    (8..=64)
        .contains(&id.len())
        .then_some(id)
        .filter(|id| id.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned)
}

/// How long browsers and proxies keep a versioned bundle file: a year, never revalidated.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The largest request body any route reads (413 beyond it).
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// `/metrics` alone, for a listener of its own (`metrics_listen`).
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(ops::metrics))
        .with_state(state)
}

/// Every route; `/metrics` among them unless `metrics_elsewhere` (then `metrics_router` serves
/// it on another address).
pub fn router(state: AppState, metrics_elsewhere: bool) -> Router {
    let services = state.services.clone();
    let context = move || provide_context(services.clone());
    let shell_options = state.leptos.clone();
    let routes = generate_route_list(app::App);
    let pkg_dir = Path::new(&*state.leptos.site_root).join("pkg");
    let versioned_pkg =
        (*state.leptos.site_pkg_dir != *"pkg").then(|| format!("/{}", state.leptos.site_pkg_dir));

    let mut router = Router::new();
    if !metrics_elsewhere {
        router = router.route("/metrics", get(ops::metrics));
    }
    router = router
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
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
        // the browser accepts brotli or gzip; see `./x build`. Under its build id, kept for a
        // year (found files only); unversioned, revalidated like pages.
        .nest_service("/pkg", bundle_files(&pkg_dir));
    if let Some(versioned) = versioned_pkg {
        router = router.nest_service(
            &versioned,
            tower_http::set_header::SetResponseHeader::overriding(
                bundle_files(&pkg_dir),
                CACHE_CONTROL,
                |r: &Response<tower_http::services::fs::ServeFileSystemResponseBody>| {
                    r.status()
                        .is_success()
                        .then(|| HeaderValue::from_static(IMMUTABLE))
                },
            ),
        );
    }
    router
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
        // Pages, API answers and unversioned files are revalidated on every use.
        .layer(
            tower_http::set_header::SetResponseHeaderLayer::if_not_present(
                CACHE_CONTROL,
                HeaderValue::from_static("no-cache"),
            ),
        )
        .with_state(state)
}

/// The bundle directory, each file served pre-compressed when the browser accepts it.
fn bundle_files(dir: &Path) -> ServeDir {
    ServeDir::new(dir).precompressed_br().precompressed_gzip()
}
