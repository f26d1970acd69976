//! Building the board's shared snapshot: when it may be answered as it is, and which rows must
//! be made again (the cache's changes name their applications; edits are read every 2 s).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use domain::Application;
use domain::environments::ApplicationEnvironments;
use tokio::sync::broadcast::error::TryRecvError;

use super::{Environments, MAX_AGE, PreviousRows, REBUILD_AFTER, Snapshot, board};

impl Environments {
    /// The newest snapshot, if any.
    pub(super) fn held(&self) -> Option<Arc<Snapshot>> {
        self.snapshot.read().expect("the snapshot lock").clone()
    }

    /// Whether a snapshot may be answered as it is.
    fn fresh(&self, s: &Snapshot) -> bool {
        let age = s.built.elapsed();
        age < MAX_AGE
            && (s.cache_version == self.infrastructure.cache.version() || age < REBUILD_AFTER)
    }

    pub(super) async fn current(&self) -> Result<Arc<Snapshot>, String> {
        let held = self.held();
        if let Some(s) = &held {
            if self.fresh(s) {
                return Ok(s.clone());
            }
            // Only old — no cluster changed since it was built: one caller builds the next
            // while the others are answered from this one (an application's edit shows a
            // moment later, never a reader kept waiting behind the rebuild).
            if s.cache_version == self.infrastructure.cache.version() {
                let Ok(_building) = self.rebuilding.try_lock() else {
                    return Ok(s.clone());
                };
                return match self.held() {
                    Some(s) if self.fresh(&s) => Ok(s),
                    _ => self.rebuild().await,
                };
            }
        }
        // The clusters changed: everyone waits for the snapshot that shows it.
        let _building = self.rebuilding.lock().await;
        match self.held() {
            Some(s) if self.fresh(&s) => Ok(s),
            _ => self.rebuild().await,
        }
    }

    /// The applications whose cached objects changed since the last call, or None when that
    /// is not known (more changes than the channel holds, or no channel).
    fn changed_applications(&self) -> Option<HashSet<String>> {
        let mut changes = self.changes.lock().expect("the changes lock");
        let (mut changed, mut lost) = (HashSet::new(), false);
        loop {
            match changes.try_recv() {
                Ok(c) => {
                    if let Some(app) = &c.application {
                        changed.insert(app.clone());
                    }
                }
                Err(TryRecvError::Lagged(_)) => lost = true,
                Err(TryRecvError::Empty) => return (!lost).then_some(changed),
                Err(TryRecvError::Closed) => return None,
            }
        }
    }

    /// Builds the next snapshot (the caller holds `rebuilding`): only the rows of applications
    /// whose objects changed, that were edited (the applications are read again when the
    /// snapshot is 2 s old: edits announce nothing) or that wait to be promoted are built again;
    /// every row when the cache's changes were not all seen.
    async fn rebuild(&self) -> Result<Arc<Snapshot>, String> {
        let started = Instant::now();
        let cache = &self.infrastructure.cache;
        // The version first: a change announced after it is built again next time.
        let cache_version = cache.version();
        let changed = self.changed_applications();
        let previous = self.held();
        let (applications, read_at) = match previous.as_ref() {
            Some(p) if p.read_at.elapsed() < MAX_AGE => (p.applications.clone(), p.read_at),
            _ => (
                Arc::new(
                    self.infrastructure
                        .store
                        .list_applications()
                        .await
                        .map_err(|e| e.to_string())?,
                ),
                Instant::now(),
            ),
        };
        // The previous row of an application still holds when the application is as it was,
        // none of its objects changed and nothing waits to be promoted (promotion counts come
        // from its delivery history, which changes without the cluster).
        let reusable: Option<(PreviousRows, &HashSet<String>)> = match (&previous, &changed) {
            (Some(p), Some(changed)) => Some((
                p.applications
                    .iter()
                    .zip(&p.rows)
                    .map(|(a, r)| (a.name.as_str(), (a, r)))
                    .collect(),
                changed,
            )),
            _ => None,
        };
        let unchanged = |app: &Application| -> Option<ApplicationEnvironments> {
            let (before, changed) = reusable.as_ref()?;
            let (was, row) = before.get(app.name.as_str())?;
            (*was == app
                && !changed.contains(&app.name)
                && row.environments.iter().all(|c| c.promotion.is_none()))
            .then(|| (*row).clone())
        };
        let accounts: Vec<String> = self
            .infrastructure
            .accounts
            .all()
            .map(|a| a.name.clone())
            .collect();
        // Only the objects of the rows to build are grouped (all of them without a previous
        // snapshot to reuse).
        let kept: Vec<Option<ApplicationEnvironments>> =
            applications.iter().map(unchanged).collect();
        let to_build: Option<HashSet<String>> = reusable.as_ref().map(|_| {
            applications
                .iter()
                .zip(&kept)
                .filter(|(_, k)| k.is_none())
                .map(|(a, _)| a.name.clone())
                .collect()
        });
        let owned = board::group_by_application(
            accounts.into_iter().map(|a| {
                let objects = cache.objects(&a);
                (a, objects)
            }),
            to_build.as_ref(),
        );
        let mut rows = Vec::with_capacity(applications.len());
        let mut built = 0;
        for (app, kept) in applications.iter().zip(kept) {
            if let Some(row) = kept {
                rows.push(row);
                continue;
            }
            built += 1;
            let mine = owned.get(&app.name);
            let first = board::row(app, mine, &[]);
            // Only a row with something to promote needs its history.
            let row = if first.environments.iter().any(|c| c.promotion.is_some()) {
                board::row(app, mine, &self.history(app).await)
            } else {
                first
            };
            rows.push(row);
        }
        // Nothing changed on the board (only time passed, or a change it does not show): the
        // renderings made so far still hold.
        let rendered = match previous {
            Some(p) if p.rows == rows && p.applications == applications => p.rendered.clone(),
            _ => Arc::default(),
        };
        let snapshot = Arc::new(Snapshot {
            cache_version,
            built: Instant::now(),
            read_at,
            applications,
            rows,
            rendered,
        });
        *self.snapshot.write().expect("the snapshot lock") = Some(snapshot.clone());
        tracing::debug!(
            applications = snapshot.applications.len(),
            rows_built = built,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "environments snapshot built"
        );
        Ok(snapshot)
    }
}
