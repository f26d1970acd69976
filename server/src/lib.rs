//! The Topsail server: configuration, HTTP, and the server layer behind the UI's services.
//!
//! Modules: [`config`] (layered configuration), [`wiring`] (the object graph, built once),
//! [`runtime`] (the supervised background loops), [`store`] (sea-orm storage), the services
//! ([`applications`], [`pipelines`], [`executions`], [`infrastructure`], [`integrations`]),
//! [`http`] (router, request door, Gate, webhooks, streams), [`orchestration`] (the engine),
//! [`events`] (what starts pipelines), [`kubernetes`], [`jenkins`], [`registries`].

// The UI's lazy routes are rendered here as async views: their types nest deeper than rustc's
// default query depth allows.
#![recursion_limit = "256"]

pub mod access;
pub mod applications;
pub mod backups;
pub mod blobs;
pub mod config;
pub mod environments;
pub mod events;
pub mod executions;
pub mod http;
pub mod identity;
pub mod ids;
pub mod infrastructure;
pub mod integrations;
pub mod jenkins;
pub mod kubernetes;
pub mod manifests;
pub mod orchestration;
pub mod outbound;
pub mod pipelines;
pub mod registries;
pub mod runtime;
pub mod store;
pub mod telemetry;
pub mod wiring;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::http::{AppState, Metrics};
use crate::runtime::Supervisor;
use crate::wiring::Wired;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the database: {0}")]
    Database(sea_orm::DbErr),
    #[error("cannot apply database migrations: {0}")]
    Migrate(sea_orm::DbErr),
    #[error("cannot connect to Redis (redis_url): {0}")]
    Redis(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Command(String),
    #[error("cannot set up the first user: {0}")]
    Identity(String),
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

pub use wiring::open_store;

/// A server bound to its address, not yet serving.
pub struct Bound {
    listener: TcpListener,
    /// `/metrics`' own listener, when `metrics_listen` is set.
    metrics_listener: Option<TcpListener>,
    state: AppState,
    wired: Wired,
}

impl Bound {
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Where `/metrics` is served when it has a listener of its own.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests, stops the
    /// background loops (the engine's worker among them) and closes the store.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let closing = self.state.shutdown.clone();
        let shutdown = async move {
            shutdown.await;
            let _ = closing.send(true);
        };
        let mut supervisor = Supervisor::new(self.state.metrics.loops.clone());
        for job in self.wired.background() {
            supervisor.spawn(job);
        }
        // Watch every account's clusters for the Infrastructure view — with Redis, only those
        // whose lease this replica holds, mirroring the others'.
        let infrastructure = self.wired.infrastructure.clone();
        let sharing = match self.wired.sharing.clone() {
            Some(sharing) => Some(sharing.run(self.state.shutdown.subscribe())),
            None => {
                infrastructure.cache.start(&infrastructure.accounts);
                None
            }
        };
        let metrics = self.metrics_listener.map(|listener| {
            let router = http::metrics_router(self.state.clone());
            let mut closing = self.state.shutdown.subscribe();
            tokio::spawn(async move {
                let stop = async move {
                    let _ = closing.wait_for(|closed| *closed).await;
                };
                if let Err(e) = axum::serve(listener, router)
                    .with_graceful_shutdown(stop)
                    .await
                {
                    tracing::warn!(error = %e, "the metrics listener stopped");
                }
            })
        });
        // Execution changes to and from the other replicas.
        let bus = self.wired.bus.clone().map(|bus| {
            events::bus::run(
                bus,
                self.wired.engine.clone(),
                self.state.shutdown.subscribe(),
            )
        });
        let router = http::router(self.state, metrics.is_some());
        let served = axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        if let Some(sharing) = sharing {
            // Gives the leases up, so another replica watches at once.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), sharing).await;
        }
        infrastructure.cache.stop();
        if let Some(metrics) = metrics {
            let _ = metrics.await;
        }
        if let Some(bus) = bus {
            bus.abort();
        }
        supervisor.shutdown().await;
        served.map_err(StartError::Serve)?;
        if let Err(e) = self.wired.store.close().await {
            tracing::warn!(error = %e, "closing the database");
        }
        Ok(())
    }
}

/// Opens storage, applies migrations, builds every part and binds the listen address (port 0
/// picks a free port).
pub async fn bind(config: &Config) -> Result<Bound, StartError> {
    let wired = wiring::wire(config).await?;
    wired
        .accounts
        .ensure_admin(&config.data_dir)
        .await
        .map_err(|e| StartError::Identity(e.to_string()))?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Bind { addr, source })?,
        ),
        None => None,
    };
    if !config
        .site_dir
        .join("pkg")
        .join("topsail_bg.wasm")
        .is_file()
    {
        tracing::warn!(
            site_dir = %config.site_dir.display(),
            "the UI bundle (pkg/topsail_bg.wasm) is not in the site directory: pages render but stay static; build it with `./x build` or set TOPSAIL_SITE_DIR"
        );
    }
    let state = AppState {
        leptos: http::leptos_options(&config.site_dir, addr),
        services: wired.services.clone(),
        metrics: Arc::new(Metrics::default()),
        operations: http::Operations::new(wired.store.clone(), wired.engine.clone()),
        intake: wired.intake.clone(),
        integrations: wired.integrations.clone(),
        infrastructure: wired.infrastructure.clone(),
        environments: wired.environments.clone(),
        accounts: wired.accounts.clone(),
        public_url: config.public_url.clone(),
        webhook_sources: Arc::new(config.webhooks.clone()),
        shutdown: tokio::sync::watch::channel(false).0,
    };
    Ok(Bound {
        listener,
        metrics_listener,
        state,
        wired,
    })
}
