//! The Topsail server: configuration, HTTP, and the server layer behind the UI's services.
//!
//! Modules: [`config`] (layered configuration), [`store`] (sea-orm storage), [`applications`]
//! (the application service), [`http`] (router, request door, operations endpoints),
//! [`orchestration`] (the durable work queue pipelines run on).

pub mod applications;
pub mod config;
pub mod events;
pub mod executions;
pub mod http;
pub mod ids;
pub mod infrastructure;
pub mod integrations;
pub mod jenkins;
pub mod kubernetes;
pub mod orchestration;
pub mod pipelines;
pub mod registries;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use domain::services::Services;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::http::{AppState, Metrics};
use crate::orchestration::engine::Engine;
use crate::orchestration::queue::{QueueSettings, RedisQueue, SystemClock};
use crate::orchestration::stages::StageRegistry;
use crate::store::Store;

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
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

/// Opens the database and applies pending migrations.
pub async fn open_store(config: &Config) -> Result<Store, StartError> {
    let url = config.database_url.as_ref().map(|s| s.expose());
    let store = Store::connect(url, &config.data_dir)
        .await
        .map_err(StartError::Database)?;
    store.migrate().await.map_err(StartError::Migrate)?;
    Ok(store)
}

/// The execution engine, running on the real clock, with the Kubernetes stages on `accounts`
/// and the Jenkins stage on `jenkins`: its queue in Redis when `redis_url` is set (several
/// replicas), else in the store's database.
pub async fn engine(
    store: &Store,
    config: &Config,
    accounts: &kubernetes::Accounts,
    jenkins: &jenkins::JenkinsMasters,
) -> Result<Arc<Engine>, StartError> {
    let settings = QueueSettings {
        visibility_timeout: config.queue_visibility_timeout,
        ..QueueSettings::default()
    };
    let stages = StageRegistry::standard()
        .with_kubernetes(accounts.clone(), Some(store.clone()))
        .with_jenkins(jenkins.clone());
    let public_url = config.public_url.clone().unwrap_or_default();
    let Some(url) = &config.redis_url else {
        return Ok(Arc::new(
            Engine::new(store, Arc::new(SystemClock), settings, stages)
                .with_public_url(&public_url),
        ));
    };
    let prefix = format!("{}:queue", config.redis_key_prefix);
    let redis = RedisQueue::connect(url.expose(), &prefix)
        .await
        .map_err(|e| StartError::Redis(e.to_string()))?;
    tracing::info!(prefix = %prefix, "work queue in Redis");
    Ok(Arc::new(
        Engine::with_queue(
            store,
            Arc::new(redis),
            Arc::new(SystemClock),
            settings,
            stages,
        )
        .with_public_url(&public_url),
    ))
}

/// The services behind the UI's server functions (also used by the command line).
pub fn services(
    store: &Store,
    engine: Arc<Engine>,
    infrastructure: Arc<infrastructure::Infrastructure>,
    integrations: integrations::Integrations,
) -> Services {
    Services {
        applications: Arc::new(applications::Applications::new(store.clone())),
        pipelines: Arc::new(pipelines::Pipelines::new(store.clone())),
        executions: Arc::new(
            executions::Executions::new(engine, store.clone())
                .with_accounts(infrastructure.accounts.clone()),
        ),
        infrastructure,
        integrations: Arc::new(integrations),
    }
}

/// Kubernetes accounts from the configuration, with nothing watched yet.
pub async fn kubernetes(config: &Config, store: &Store) -> Arc<infrastructure::Infrastructure> {
    let accounts = kubernetes::Accounts::load(&config.kubernetes).await;
    Arc::new(infrastructure::Infrastructure {
        accounts,
        cache: kubernetes::cache::InfrastructureCache::new(),
        store: store.clone(),
    })
}

/// A server bound to its address, not yet serving.
pub struct Bound {
    listener: TcpListener,
    state: AppState,
    engine: Arc<Engine>,
    infrastructure: Arc<infrastructure::Infrastructure>,
    jenkins_poll: std::time::Duration,
}

impl Bound {
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests and closes the store.
    /// The execution engine runs alongside, until the same shutdown.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let store = self.state.store.clone();
        let jenkins = self.state.jenkins.clone();
        let registries = self.state.registries.clone();
        let closing = self.state.shutdown.clone();
        let shutdown = async move {
            shutdown.await;
            let _ = closing.send(true);
        };
        let router = http::router(self.state);
        let (stop_engine, engine_stopped) = tokio::sync::watch::channel(false);
        let engine = tokio::spawn(self.engine.clone().run(engine_stopped));
        // Watch every account's clusters for the Infrastructure view; check account health.
        self.infrastructure
            .cache
            .start(&self.infrastructure.accounts);
        let health = infrastructure::spawn_health_checks(
            self.infrastructure.accounts.clone(),
            std::time::Duration::from_secs(30),
        );
        // Jenkins triggers: watch the jobs they name for completed builds.
        let watcher = (!jenkins.is_empty()).then(|| {
            events::jenkins::BuildWatcher {
                masters: jenkins.clone(),
                store: store.clone(),
                engine: self.engine.clone(),
            }
            .spawn(self.jenkins_poll)
        });
        // Docker triggers: poll watched repositories for new tags (the webhooks' fallback).
        let poll_every = registries
            .all()
            .map(|r| r.poll_interval)
            .filter(|d| !d.is_zero())
            .min();
        let tag_poller = poll_every.map(|every| {
            events::images::ImageEvents {
                registries: registries.clone(),
                store: store.clone(),
                engine: self.engine.clone(),
            }
            .spawn(every.max(std::time::Duration::from_millis(100)))
        });
        let served = axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await;
        health.abort();
        for task in [watcher, tag_poller].into_iter().flatten() {
            task.abort();
        }
        self.infrastructure.cache.stop();
        let _ = stop_engine.send(true);
        let _ = engine.await;
        served.map_err(StartError::Serve)?;
        if let Err(e) = store.close().await {
            tracing::warn!(error = %e, "closing the database");
        }
        Ok(())
    }
}

/// Opens storage, applies migrations and binds the listen address (port 0 picks a free port).
pub async fn bind(config: &Config) -> Result<Bound, StartError> {
    let store = open_store(config).await?;
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
    let infrastructure = kubernetes(config, &store).await;
    let jenkins = jenkins::JenkinsMasters::from_config(&config.jenkins);
    let engine = engine(&store, config, &infrastructure.accounts, &jenkins).await?;
    let registries = registries::Registries::from_config(&config.registries);
    let integrations = integrations::Integrations {
        jenkins: jenkins.clone(),
        registries: registries.clone(),
    };
    let services = services(&store, engine.clone(), infrastructure.clone(), integrations);
    let state = AppState {
        leptos: http::leptos_options(&config.site_dir, addr),
        store,
        services,
        metrics: Arc::new(Metrics::default()),
        infrastructure: infrastructure.clone(),
        engine: engine.clone(),
        jenkins,
        registries,
        shutdown: tokio::sync::watch::channel(false).0,
    };
    let jenkins_poll = std::time::Duration::from_millis(config.jenkins.poll_interval_ms.max(100));
    Ok(Bound {
        listener,
        state,
        engine,
        infrastructure,
        jenkins_poll,
    })
}
