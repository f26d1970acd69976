//! The composition root: builds Topsail's object graph from the configuration, once, for the
//! server (`serve`) and the command line alike.

use std::sync::Arc;
use std::time::Duration;

use domain::services::Services;

use crate::config::Config;
use crate::events::intake::EventIntake;
use crate::orchestration::engine::Engine;
use crate::orchestration::queue::{QueueSettings, RedisQueue, SystemClock};
use crate::orchestration::stages::StageRegistry;
use crate::outbound::{OutboundClient, OutboundPolicy};
use crate::runtime::{
    BackgroundLoop, CronCheck, EngineWorker, ExecutionArchive, HealthChecks, IdentityPrune,
    JenkinsWatch, OutboxRelay, TagPoll, ZombieCheck,
};
use crate::store::Store;
use crate::{StartError, applications, events, executions, infrastructure, integrations};
use crate::{jenkins, kubernetes, pipelines, registries};

/// Everything a Topsail process is made of.
pub struct Wired {
    pub store: Store,
    pub engine: Arc<Engine>,
    pub services: Services,
    pub infrastructure: Arc<infrastructure::Infrastructure>,
    pub environments: Arc<crate::environments::Environments>,
    pub integrations: Arc<integrations::Integrations>,
    pub intake: EventIntake,
    /// Users, sessions, tokens and the audit log.
    pub accounts: crate::identity::Accounts,
    /// How execution changes reach the other replicas (none for one process on SQLite).
    pub bus: Option<Arc<dyn crate::events::bus::ChangeBus>>,
    /// With Redis: one replica watches each account's clusters, the others mirror its cache.
    pub sharing: Option<Arc<kubernetes::sharing::CacheSharing>>,
    /// Blob storage: `<data_dir>/blobs`, or the S3 bucket of `[blobs]`.
    pub blobs: Arc<dyn crate::blobs::BlobStore>,
    /// Ended executions older than this move to the archive (`[blobs] archive_after`).
    archive_after: Option<Duration>,
    jenkins_poll: Duration,
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

/// Opens storage (migrating it) and builds every part on it. Nothing runs yet.
pub async fn wire(config: &Config) -> Result<Wired, StartError> {
    let store = open_store(config).await?;
    let identity = crate::identity::Accounts::new(store.clone(), config.auth.clone());
    let guard = crate::access::Guard::new(store.clone(), identity.clone());
    let accounts = kubernetes::Accounts::load(&config.kubernetes).await;
    let infrastructure = Arc::new(infrastructure::Infrastructure {
        accounts,
        cache: kubernetes::cache::InfrastructureCache::new(),
        store: store.clone(),
        guard: guard.clone(),
    });
    let jenkins = jenkins::JenkinsMasters::from_config(&config.jenkins);
    let blobs = blob_store(config).await;
    let engine = engine(&store, config, &infrastructure.accounts, &jenkins, &blobs).await?;
    let integrations = Arc::new(integrations::Integrations {
        accounts: infrastructure.accounts.clone(),
        jenkins,
        registries: registries::Registries::from_config(&config.registries),
    });
    let environments = Arc::new(crate::environments::Environments::new(
        infrastructure.clone(),
        engine.clone(),
    ));
    let services = Services {
        applications: Arc::new(applications::Applications::new(
            store.clone(),
            guard.clone(),
        )),
        pipelines: Arc::new(pipelines::Pipelines::new(store.clone(), guard.clone())),
        executions: Arc::new(
            executions::Executions::new(engine.clone(), store.clone(), guard.clone())
                .with_accounts(infrastructure.accounts.clone()),
        ),
        infrastructure: infrastructure.clone(),
        integrations: integrations.clone(),
        identity: Arc::new(identity.clone()),
        manifests: Arc::new(crate::manifests::Manifests {
            accounts: infrastructure.accounts.clone(),
            guard: guard.clone(),
            sidecars: crate::manifests::sidecar_templates(&config.sidecar_templates),
        }),
        environments: environments.clone(),
    };
    let bus = change_bus(&store, config).await?;
    let sharing = match &config.redis_url {
        Some(url) => Some(
            kubernetes::sharing::CacheSharing::connect(
                url.expose(),
                &config.redis_key_prefix,
                infrastructure.cache.clone(),
                infrastructure.accounts.clone(),
                Duration::from_secs(config.kubernetes.watch_lease_seconds),
            )
            .await
            .map_err(StartError::Redis)?,
        ),
        None => None,
    };
    Ok(Wired {
        bus,
        sharing,
        blobs,
        archive_after: config.blobs.archive_after(),
        accounts: identity,
        intake: EventIntake::new(engine.clone()),
        store,
        engine,
        services,
        infrastructure,
        environments,
        integrations,
        jenkins_poll: Duration::from_millis(config.jenkins.poll_interval_ms.max(100)),
    })
}

/// Blob storage: the `[blobs]` S3 bucket (created in the background when missing, so a slow
/// or absent S3 never holds up the start), else files under `<data_dir>/blobs`.
pub async fn blob_store(config: &Config) -> Arc<dyn crate::blobs::BlobStore> {
    use crate::blobs::{BlobStore, FileBlobs, S3Blobs};
    let Some(settings) = config.blobs.s3() else {
        return Arc::new(FileBlobs::new(config.data_dir.join("blobs")));
    };
    let s3 = Arc::new(S3Blobs::new(&settings).await);
    tracing::info!(blobs = %s3.describe(), "blob storage in S3");
    let checking = s3.clone();
    tokio::spawn(async move {
        if let Err(e) = checking.ensure_bucket().await {
            tracing::warn!(error = %e, "blob storage is not usable yet");
        }
    });
    s3
}

/// The blob store for a one-off command: the S3 bucket is checked (and created when missing)
/// before it is used.
pub async fn blob_store_checked(
    config: &Config,
) -> Result<Arc<dyn crate::blobs::BlobStore>, crate::blobs::BlobError> {
    use crate::blobs::{FileBlobs, S3Blobs};
    let Some(settings) = config.blobs.s3() else {
        return Ok(Arc::new(FileBlobs::new(config.data_dir.join("blobs"))));
    };
    let s3 = S3Blobs::new(&settings).await;
    s3.ensure_bucket().await?;
    Ok(Arc::new(s3))
}

/// The replica event bus: Redis pub/sub when `redis_url` is set, else PostgreSQL's
/// `LISTEN`/`NOTIFY` on PostgreSQL; none for SQLite (one process).
async fn change_bus(
    store: &Store,
    config: &Config,
) -> Result<Option<Arc<dyn crate::events::bus::ChangeBus>>, StartError> {
    use crate::events::bus::{PostgresBus, RedisBus};
    if let Some(url) = &config.redis_url {
        let bus = RedisBus::connect(url.expose(), &config.redis_key_prefix)
            .await
            .map_err(StartError::Redis)?;
        return Ok(Some(Arc::new(bus)));
    }
    if store.is_postgres() {
        return Ok(Some(Arc::new(PostgresBus::new(store))));
    }
    Ok(None)
}

/// The execution engine, running on the real clock, with the Kubernetes stages on `accounts`
/// and the Jenkins stage on `jenkins`: its queue in Redis when `redis_url` is set (several
/// replicas), else in the store's database.
async fn engine(
    store: &Store,
    config: &Config,
    accounts: &kubernetes::Accounts,
    jenkins: &jenkins::JenkinsMasters,
    blobs: &Arc<dyn crate::blobs::BlobStore>,
) -> Result<Arc<Engine>, StartError> {
    let settings = QueueSettings {
        visibility_timeout: config.queue_visibility_timeout,
        ..QueueSettings::default()
    };
    let outbound = OutboundPolicy::from_config(&config.outbound)
        .map(OutboundClient::new)
        .map_err(StartError::Command)?;
    let s3_artifacts =
        crate::blobs::artifacts::S3ArtifactAccounts::from_config(&config.artifacts.s3).await;
    let stages = StageRegistry::standard_with(outbound.clone())
        .with_s3_artifacts(Arc::new(s3_artifacts))
        .with_kubernetes(accounts.clone(), Some(store.clone()))
        .with_jenkins(jenkins.clone());
    let public_url = config.public_url.clone().unwrap_or_default();
    let engine = match &config.redis_url {
        None => Engine::new(store, Arc::new(SystemClock), settings, stages),
        Some(url) => {
            let prefix = format!("{}:queue", config.redis_key_prefix);
            let redis = RedisQueue::connect(url.expose(), &prefix)
                .await
                .map_err(|e| StartError::Redis(e.to_string()))?;
            tracing::info!(prefix = %prefix, "work queue in Redis");
            Engine::with_queue(
                store,
                Arc::new(redis),
                Arc::new(SystemClock),
                settings,
                stages,
            )
        }
    };
    Ok(Arc::new(
        engine
            .with_public_url(&public_url)
            .with_archive(blobs.clone())
            .with_outbound(outbound)
            .with_expression_limits(config.expressions),
    ))
}

impl Wired {
    /// The background loops a server runs: the engine's worker and its checks, the account
    /// health checks, and the trigger sources that poll (only those configured).
    pub fn background(&self) -> Vec<Arc<dyn BackgroundLoop>> {
        let mut loops: Vec<Arc<dyn BackgroundLoop>> = vec![
            Arc::new(EngineWorker(self.engine.clone())),
            Arc::new(CronCheck::new(self.engine.clone())),
            Arc::new(OutboxRelay(self.engine.clone())),
            Arc::new(ZombieCheck(self.engine.clone())),
            Arc::new(HealthChecks(self.infrastructure.accounts.clone())),
            Arc::new(IdentityPrune(self.accounts.clone())),
        ];
        if let Some(after) = self.archive_after {
            loops.push(Arc::new(ExecutionArchive {
                engine: self.engine.clone(),
                after,
            }));
        }
        // Jenkins triggers: watch the jobs they name for completed builds.
        if !self.integrations.jenkins.is_empty() {
            loops.push(Arc::new(JenkinsWatch {
                watcher: events::jenkins::BuildWatcher {
                    masters: self.integrations.jenkins.clone(),
                    store: self.store.clone(),
                    engine: self.engine.clone(),
                },
                every: self.jenkins_poll,
            }));
        }
        // Docker triggers: poll watched repositories for new tags (the webhooks' fallback).
        let poll_every = self
            .integrations
            .registries
            .all()
            .map(|r| r.poll_interval)
            .filter(|d| !d.is_zero())
            .min();
        if let Some(every) = poll_every {
            loops.push(Arc::new(TagPoll {
                events: events::images::ImageEvents {
                    registries: self.integrations.registries.clone(),
                    store: self.store.clone(),
                    engine: self.engine.clone(),
                },
                every: every.max(Duration::from_millis(100)),
            }));
        }
        loops
    }
}
