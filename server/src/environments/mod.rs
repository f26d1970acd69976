//! The environments board: for every application, what runs in each of its environments, how
//! healthy it is, who deployed it, whether it drifted from what Topsail applied and what waits
//! to be promoted — read from the watch-fed infrastructure cache, never from the clusters.
//!
//! The whole board is built once and shared (a snapshot), rebuilt when the cache has changed
//! and the snapshot is older than [`REBUILD_AFTER`], or when it is older than [`MAX_AGE`]
//! (application edits); each caller then sees the rows they may read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use domain::delivery::metrics::{DeliveryMetrics, Tally, WINDOWS_DAYS};
use domain::delivery::{
    ApplicationDelivery, DeployEvent, PromotionPipeline, deploy_events, deployed_builds,
    deploys_to, image_paths,
};
use domain::environments::{
    ApplicationEnvironments, BoardFilter, DeployedBuild, EnvironmentBoard, merge_orders,
};
use domain::services::EnvironmentService;
use domain::{Access, AppError, Application, ApplicationName, RequestContext};

use tokio::sync::broadcast;

use crate::infrastructure::Infrastructure;
use crate::kubernetes::cache::CacheChange;
use crate::orchestration::engine::Engine;

pub mod board;
mod gauges;
pub mod rendered;
mod snapshot;

use rendered::RenderedBoard;

/// A snapshot is not rebuilt for cache changes more often than this (a busy cluster changes
/// many times a second; the board shows changes within this much).
pub const REBUILD_AFTER: Duration = Duration::from_millis(100);
/// Nor kept longer than this (application edits do not announce themselves to the cache).
pub const MAX_AGE: Duration = Duration::from_secs(2);
/// How many of an application's newest executions its delivery history reads.
pub const HISTORY_EXECUTIONS: u64 = 200;
/// How long an application's delivery history is kept before it is read again (a change this
/// process commits drops it at once).
const HISTORY_TTL: Duration = Duration::from_secs(30);

/// An application's deploys and when they were read.
type History = (Instant, Arc<Vec<DeployEvent>>);

struct Snapshot {
    cache_version: u64,
    built: Instant,
    /// When `applications` were read from the store (a cluster change alone reuses them).
    read_at: Instant,
    applications: Arc<Vec<Application>>,
    /// Shared with the next snapshot when nothing on the board changed.
    rows: Arc<Vec<ApplicationEnvironments>>,
    /// The board as JSON per (what the caller's roles may read, filter): callers with the same
    /// roles share one rendering, made once however many ask at the same moment, and kept by
    /// the next snapshot when it holds the same rows.
    rendered: Arc<Mutex<HashMap<RenderKey, Rendering>>>,
}

/// One rendering of a snapshot's board, made by the first caller who needs it.
type Rendering = Arc<tokio::sync::OnceCell<Arc<RenderedBoard>>>;

/// Whose board a rendering is: the caller's roles (sorted), whether an admin, and the filter.
type RenderKey = (Vec<String>, bool, BoardFilter);

/// A snapshot's rows by application name: their index, the application they were built for
/// and the row.
type PreviousRows<'a> = HashMap<&'a str, (usize, &'a Application, &'a ApplicationEnvironments)>;

/// At most this many renderings are kept per snapshot.
const MAX_RENDERED: usize = 64;

pub struct Environments {
    infrastructure: Arc<Infrastructure>,
    engine: Arc<Engine>,
    /// The newest snapshot; read without waiting while the next one is built.
    snapshot: std::sync::RwLock<Option<Arc<Snapshot>>>,
    /// Held by the one caller building the next snapshot.
    rebuilding: tokio::sync::Mutex<()>,
    /// The cache's changes since the last build: only their applications' rows are built again.
    changes: Mutex<broadcast::Receiver<Arc<CacheChange>>>,
    gauges: tokio::sync::Mutex<Option<(Instant, String)>>,
    histories: Mutex<HashMap<String, History>>,
}

impl Environments {
    pub fn new(infrastructure: Arc<Infrastructure>, engine: Arc<Engine>) -> Self {
        let changes = Mutex::new(infrastructure.cache.subscribe());
        Self {
            infrastructure,
            engine,
            snapshot: std::sync::RwLock::new(None),
            rebuilding: tokio::sync::Mutex::new(()),
            changes,
            gauges: tokio::sync::Mutex::new(None),
            histories: Mutex::default(),
        }
    }

    /// Forgets an application's delivery history (an execution of it changed).
    pub fn forget_history(&self, application: &str) {
        self.histories
            .lock()
            .expect("the histories lock")
            .remove(application);
    }

    /// The application's deploys, oldest first, from its newest executions (kept a while).
    async fn events(&self, app: &Application) -> Result<Arc<Vec<DeployEvent>>, String> {
        if let Some((at, h)) = self
            .histories
            .lock()
            .expect("the histories lock")
            .get(&app.name)
            && at.elapsed() < HISTORY_TTL
        {
            return Ok(h.clone());
        }
        let executions = self
            .engine
            .executions(&app.name, HISTORY_EXECUTIONS)
            .await
            .map_err(|e| e.to_string())?;
        let read = Arc::new(deploy_events(&executions, &app.deploy_targets));
        self.histories
            .lock()
            .expect("the histories lock")
            .insert(app.name.clone(), (Instant::now(), read.clone()));
        Ok(read)
    }

    /// The builds that reached each of the application's environments.
    async fn history(&self, app: &Application) -> Vec<DeployedBuild> {
        match self.events(app).await {
            Ok(events) => deployed_builds(&events),
            Err(e) => {
                // Promotion counts fall back to "at least one"; the board still shows.
                tracing::warn!(application = %app.name, error = %e, "reading the delivery history");
                Vec::new()
            }
        }
    }

    /// The board as JSON (what `GET /api/environments` and its stream send), rendered (and
    /// compressed, when asked) once per snapshot for callers with the same roles and filter.
    pub async fn board_json(
        &self,
        rc: &RequestContext,
        filter: &BoardFilter,
    ) -> Result<Arc<RenderedBoard>, AppError> {
        rc.caller.signed_in()?;
        let snapshot = self.snapshot(rc).await?;
        let key = match rc.caller.identity() {
            Some(i) => {
                let mut roles = i.roles.clone();
                roles.sort();
                (roles, i.admin, filter.clone())
            }
            None => (Vec::new(), false, filter.clone()),
        };
        let rendering = {
            let mut rendered = snapshot.rendered.lock().expect("the rendered lock");
            if rendered.len() >= MAX_RENDERED && !rendered.contains_key(&key) {
                rendered.clear();
            }
            rendered.entry(key).or_default().clone()
        };
        rendering
            .get_or_try_init(|| async {
                let started = Instant::now();
                let board = self.board_of(rc, &snapshot, filter);
                let rendered = serde_json::to_string(&board)
                    .map(|json| Arc::new(RenderedBoard::new(json)))
                    .map_err(|e| crate::applications::internal(rc, &e));
                tracing::debug!(
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "environments board rendered"
                );
                rendered
            })
            .await
            .cloned()
    }

    /// The rows of `snapshot` the caller may read, filtered and sorted.
    fn board_of(
        &self,
        rc: &RequestContext,
        snapshot: &Snapshot,
        filter: &BoardFilter,
    ) -> EnvironmentBoard {
        let accounts = &self.infrastructure.accounts;
        let mut readable = HashMap::new();
        let mut applications = Vec::new();
        for (app, row) in snapshot.applications.iter().zip(snapshot.rows.iter()) {
            if !app.permissions.allow(&rc.caller, Access::Read) || !filter.matches(row) {
                continue;
            }
            let mut row = row.clone();
            // As the Infrastructure tab: accounts closed to the caller's roles are left out.
            for cell in &mut row.environments {
                cell.workloads.retain(|w| {
                    *readable.entry(w.account.clone()).or_insert_with(|| {
                        accounts.allow_caller(&w.account, &rc.caller, Access::Read)
                    })
                });
            }
            applications.push(row);
        }
        filter.sort(&mut applications);
        let environments = merge_orders(
            applications
                .iter()
                .map(|r| {
                    r.environments
                        .iter()
                        .map(|c| c.environment.clone())
                        .collect()
                })
                .collect::<Vec<Vec<String>>>()
                .iter()
                .map(Vec::as_slice),
        );
        EnvironmentBoard {
            environments,
            applications,
        }
    }

    /// The production environment of a row: its last environment, else `prod`.
    fn production(row: Option<&ApplicationEnvironments>) -> String {
        row.and_then(|r| r.environments.last())
            .map(|c| c.environment.clone())
            .unwrap_or_else(|| "prod".to_owned())
    }

    fn window(window_days: u32) -> Result<u32, AppError> {
        if WINDOWS_DAYS.contains(&window_days) {
            Ok(window_days)
        } else {
            Err(AppError::invalid(
                "window",
                &format!(
                    "must be one of {} days",
                    WINDOWS_DAYS
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        }
    }

    /// The shared snapshot, rebuilt if stale.
    async fn snapshot(&self, rc: &RequestContext) -> Result<Arc<Snapshot>, AppError> {
        self.current()
            .await
            .map_err(|e| crate::applications::internal(rc, &e))
    }
}

#[async_trait]
impl EnvironmentService for Environments {
    async fn board(
        &self,
        rc: &RequestContext,
        filter: &BoardFilter,
    ) -> Result<EnvironmentBoard, AppError> {
        rc.caller.signed_in()?;
        let snapshot = self.snapshot(rc).await?;
        Ok(self.board_of(rc, &snapshot, filter))
    }

    async fn delivery(
        &self,
        rc: &RequestContext,
        application: &ApplicationName,
        window_days: u32,
    ) -> Result<ApplicationDelivery, AppError> {
        let window_days = Self::window(window_days)?;
        let app = self
            .infrastructure
            .guard
            .application(rc, application.as_str(), Access::Read)
            .await?;
        let snapshot = self.snapshot(rc).await?;
        let row = snapshot.rows.iter().find(|r| r.application == app.name);
        let events = self
            .events(&app)
            .await
            .map_err(|e| crate::applications::internal(rc, &e))?;
        let production = Self::production(row);
        let mut paths = image_paths(&events);
        for path in &mut paths {
            path.running_in = row
                .into_iter()
                .flat_map(|r| &r.environments)
                .filter(|c| {
                    c.build().join(" ") == path.build
                        || c.workloads
                            .iter()
                            .flat_map(|w| &w.images)
                            .any(|i| path.images.contains(&i.reference))
                })
                .map(|c| c.environment.clone())
                .collect();
        }
        Ok(ApplicationDelivery {
            application: app.name.clone(),
            environments: row
                .map(|r| {
                    r.environments
                        .iter()
                        .map(|c| c.environment.clone())
                        .collect()
                })
                .unwrap_or_default(),
            paths,
            metrics: domain::delivery::metrics::compute(
                &events,
                &production,
                window_days,
                chrono::Utc::now(),
            ),
        })
    }

    async fn overall(
        &self,
        rc: &RequestContext,
        window_days: u32,
    ) -> Result<DeliveryMetrics, AppError> {
        let window_days = Self::window(window_days)?;
        rc.caller.signed_in()?;
        let snapshot = self.snapshot(rc).await?;
        let now = chrono::Utc::now();
        let mut all = Tally::default();
        for (app, row) in snapshot.applications.iter().zip(snapshot.rows.iter()) {
            if !app.permissions.allow(&rc.caller, Access::Read) {
                continue;
            }
            let events = self
                .events(app)
                .await
                .map_err(|e| crate::applications::internal(rc, &e))?;
            all.add(Tally::count(
                &events,
                &Self::production(Some(row)),
                window_days,
                now,
            ));
        }
        Ok(all.finish("production", window_days))
    }

    async fn promotion_pipelines(
        &self,
        rc: &RequestContext,
        application: &ApplicationName,
        environment: &str,
    ) -> Result<Vec<PromotionPipeline>, AppError> {
        let app = self
            .infrastructure
            .guard
            .application(rc, application.as_str(), Access::Execute)
            .await?;
        let store = &self.infrastructure.store;
        let snapshot = self.snapshot(rc).await?;
        let targets: Vec<(String, String)> = snapshot
            .rows
            .iter()
            .find(|r| r.application == app.name)
            .and_then(|r| r.environments.iter().find(|c| c.environment == environment))
            .map(|c| {
                c.targets
                    .iter()
                    .filter_map(|t| t.split_once('/'))
                    .map(|(a, n)| (a.to_owned(), n.to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        if targets.is_empty() {
            return Err(AppError::NotFound {
                what: format!("environment '{environment}' of application '{}'", app.name),
            });
        }
        let summaries = store
            .list_pipelines(&app.name)
            .await
            .map_err(|e| crate::applications::internal(rc, &e))?;
        let mut found = Vec::new();
        for summary in summaries {
            let Ok((_, document)) = store.get_pipeline(&app.name, &summary.name).await else {
                continue;
            };
            if document.is_disabled() {
                continue;
            }
            let stages = document.stages();
            let Some(deploy) = stages.iter().find(|s| {
                s.as_object()
                    .is_some_and(|s| targets.iter().any(|(a, n)| deploys_to(s, a, n)))
            }) else {
                continue;
            };
            found.push(PromotionPipeline {
                id: summary.id.clone(),
                name: summary.name.clone(),
                stages_before: stages_before(stages, deploy),
            });
        }
        // Those that deploy there first (no build before it) are what a promotion wants.
        found.sort_by_key(|p| p.stages_before.len());
        Ok(found)
    }
}

/// The names of the stages that run before `deploy` (its requisites, transitively).
fn stages_before(stages: &[serde_json::Value], deploy: &serde_json::Value) -> Vec<String> {
    let ref_of = |s: &serde_json::Value| s["refId"].as_str().unwrap_or_default().to_owned();
    let mut wanted: Vec<String> = deploy["requisiteStageRefIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    let mut seen: Vec<String> = Vec::new();
    while let Some(r) = wanted.pop() {
        if seen.contains(&r) {
            continue;
        }
        if let Some(s) = stages.iter().find(|s| ref_of(s) == r) {
            wanted.extend(
                s["requisiteStageRefIds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_str().map(str::to_owned)),
            );
        }
        seen.push(r);
    }
    stages
        .iter()
        .filter(|s| seen.contains(&ref_of(s)))
        .map(|s| s["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}
