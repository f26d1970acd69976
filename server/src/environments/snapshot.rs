//! Building the board's shared snapshot: when it may be answered as it is, and which rows must
//! be made again (the cache's changes name their applications; edits are read every 2 s).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use domain::Application;
use domain::environments::ApplicationEnvironments;
use tokio::sync::broadcast::error::TryRecvError;

use super::{Environments, MAX_AGE, PreviousRows, REBUILD_AFTER, Snapshot, board};
use crate::kubernetes::cache::application_of;

/// Whether a row is made only of what the cache shows (a row with something to promote also
/// counts builds from the delivery history, which changes without the clusters).
fn waits_for_nothing(row: &ApplicationEnvironments) -> bool {
    row.environments.iter().all(|c| c.promotion.is_none())
}

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
        let kept = reusable_rows(
            previous
                .as_deref()
                .map(|p| (&p.applications[..], &p.rows[..])),
            changed.as_ref(),
            &applications,
        );
        // Only time passed (no cluster change, no edit, nothing waiting to be promoted): the
        // previous rows and their renderings hold as they are — the usual case at rest, made
        // without copying a row or reading a single cached object.
        if let Some(p) = &previous
            && kept.len() == p.rows.len()
            && kept.iter().enumerate().all(|(n, k)| *k == Some(n))
        {
            let snapshot = Arc::new(Snapshot {
                cache_version,
                built: Instant::now(),
                read_at,
                applications,
                rows: p.rows.clone(),
                rendered: p.rendered.clone(),
            });
            *self.snapshot.write().expect("the snapshot lock") = Some(snapshot.clone());
            return Ok(snapshot);
        }
        let kept: Vec<Option<ApplicationEnvironments>> = kept
            .into_iter()
            .map(|k| Some(previous.as_ref()?.rows[k?].clone()))
            .collect();
        let accounts: Vec<String> = self
            .infrastructure
            .accounts
            .all()
            .map(|a| a.name.clone())
            .collect();
        // Only the objects of the rows to build are copied out of the cache and grouped (all of
        // them when the cache's changes are not known or there is no previous snapshot).
        let to_build: Option<HashSet<String>> =
            (previous.is_some() && changed.is_some()).then(|| {
                applications
                    .iter()
                    .zip(&kept)
                    .filter(|(_, k)| k.is_none())
                    .map(|(a, _)| a.name.clone())
                    .collect()
            });
        let owned = board::group_by_application(
            accounts.into_iter().map(|a| {
                let objects = match &to_build {
                    Some(wanted) => cache.objects_where(&a, |o| {
                        application_of(o).is_some_and(|app| wanted.contains(&app))
                    }),
                    None => cache.objects(&a),
                };
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
            Some(p) if *p.rows == rows && p.applications == applications => p.rendered.clone(),
            _ => Arc::default(),
        };
        let snapshot = Arc::new(Snapshot {
            cache_version,
            built: Instant::now(),
            read_at,
            applications,
            rows: Arc::new(rows),
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

/// For each application, the index of its row in the previous snapshot when that row still
/// holds: the application is as it was, none of its objects changed and nothing waits to be
/// promoted (promotion counts come from its delivery history, which changes without the
/// clusters). Nothing is reused without a previous snapshot, or when the cache's changes are
/// not all known (`changed` is None).
fn reusable_rows(
    previous: Option<(&[Application], &[ApplicationEnvironments])>,
    changed: Option<&HashSet<String>>,
    applications: &[Application],
) -> Vec<Option<usize>> {
    let (Some((before, rows)), Some(changed)) = (previous, changed) else {
        return vec![None; applications.len()];
    };
    let by_name: PreviousRows = before
        .iter()
        .zip(rows)
        .enumerate()
        .map(|(n, (a, r))| (a.name.as_str(), (n, a, r)))
        .collect();
    applications
        .iter()
        .map(|app| {
            let (n, was, row) = by_name.get(app.name.as_str())?;
            (*was == app && !changed.contains(&app.name) && waits_for_nothing(row)).then_some(*n)
        })
        .collect()
}

#[cfg(test)]
mod tests;
