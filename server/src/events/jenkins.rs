//! Jenkins triggers: `{"type": "jenkins", "master": "ci", "job": "team/build", "propertyFile":
//! "build.properties"}` starts the pipeline when a build of that job completes successfully.
//!
//! The watched jobs are polled; where each was last read is a cursor in the database
//! (`jenkins:<master>:<job>` → the highest build number below which every build has been
//! handled), so a restart neither misses nor repeats a build. The first look at a job only
//! records where it stands. A run's id derives from the pipeline, the trigger and the build, so
//! several replicas polling the same job start it once.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use domain::execution::keys;
use domain::pipeline::PipelineDocument;
use domain::triggers::TriggerKind;
use serde_json::{Map, Value, json};

use super::intake::{Firing, TriggerEvent};
use crate::jenkins::{BuildInfo, JenkinsClient, JenkinsMasters, parse_properties};
use crate::orchestration::engine::{Engine, EngineError};
use crate::orchestration::ports::PipelineSource;
use crate::store::Store;

pub struct BuildWatcher {
    pub masters: JenkinsMasters,
    pub store: Store,
    pub engine: Arc<Engine>,
}

use super::triggers::{enabled_triggers, text};

fn job_of(t: &Map<String, Value>) -> Option<String> {
    text(t, "job").map(|j| j.trim_matches('/').to_owned())
}

/// What a completed build leaves for a pipeline.
struct Completed<'a> {
    master: &'a str,
    job: &'a str,
    build: &'a BuildInfo,
}

impl BuildWatcher {
    /// One pass over every watched job. Returns how many runs were started.
    pub async fn check(&self) -> Result<usize, EngineError> {
        let docs = self.store.with_trigger(TriggerKind::Jenkins).await?;
        let watched: BTreeSet<(String, String)> = docs
            .iter()
            .flat_map(|d| enabled_triggers(d, "jenkins"))
            .filter_map(|(_, t)| Some((text(t, "master")?.to_owned(), job_of(t)?)))
            .collect();
        let mut started = 0;
        for (master, job) in watched {
            let Ok(client) = self.masters.get(&master) else {
                tracing::warn!(%master, "a jenkins trigger names a master that is not configured");
                continue;
            };
            match self.check_job(client, &master, &job).await {
                Ok(n) => started += n,
                Err(e) => {
                    tracing::warn!(%master, %job, error = %e, "checking a Jenkins job for new builds failed")
                }
            }
        }
        Ok(started)
    }

    async fn check_job(
        &self,
        client: &JenkinsClient,
        master: &str,
        job: &str,
    ) -> Result<usize, String> {
        let source = format!("jenkins:{master}:{job}");
        let mut builds = client.builds(job).await.map_err(|e| e.to_string())?;
        builds.sort_by_key(|b| b.number);
        let completed = |b: &BuildInfo| !b.building && b.result.is_some();
        let cursor = self
            .store
            .cursor(&source)
            .await
            .map_err(|e| e.to_string())?
            .and_then(|c| c.parse::<u64>().ok());
        let Some(mut cursor) = cursor else {
            // First look: record where the job stands, start nothing.
            let settled = settled_up_to(&builds, 0, completed);
            self.store
                .set_cursor(&source, &settled.to_string())
                .await
                .map_err(|e| e.to_string())?;
            return Ok(0);
        };
        let mut started = 0;
        for b in builds.iter().filter(|b| b.number > cursor && completed(b)) {
            started += self
                .fire(
                    client,
                    &Completed {
                        master,
                        job,
                        build: b,
                    },
                )
                .await?;
        }
        let settled = settled_up_to(&builds, cursor, completed);
        if settled > cursor {
            cursor = settled;
            self.store
                .set_cursor(&source, &cursor.to_string())
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(started)
    }

    /// Starts every pipeline whose trigger waits for this build. An error (a property file not
    /// readable yet) leaves the cursor where it is, so the build is looked at again.
    async fn fire(&self, client: &JenkinsClient, c: &Completed<'_>) -> Result<usize, String> {
        let event = BuildCompleted {
            watcher: self,
            client,
            build: c,
        };
        let received = super::intake::receive(&self.store, self.engine.as_ref(), &event)
            .await
            .map_err(|e| e.to_string())?;
        for id in &received.started {
            tracing::info!(master = c.master, job = c.job, build = c.build.number, execution = %id, "a Jenkins build started a pipeline");
        }
        Ok(received.started.len())
    }

    async fn properties(
        &self,
        client: &JenkinsClient,
        c: &Completed<'_>,
        file: &str,
    ) -> Result<Map<String, Value>, String> {
        let Some(artifact) = c
            .build
            .artifacts
            .iter()
            .find(|a| a.file_name == file || a.relative_path == file)
        else {
            tracing::warn!(job = c.job, build = c.build.number, %file, "the build archived no such property file");
            return Ok(Map::new());
        };
        match client.artifact(c.job, c.build.number, &artifact.relative_path).await.map_err(|e| e.to_string())? {
            Some(bytes) => parse_properties(file, &bytes).or_else(|e| {
                tracing::warn!(job = c.job, build = c.build.number, error = %e, "the property file cannot be read");
                Ok(Map::new())
            }),
            None => Err(format!("the property file {file} of build {} is not there yet", c.build.number)),
        }
    }
}

/// A build of a watched job completed.
struct BuildCompleted<'a> {
    watcher: &'a BuildWatcher,
    client: &'a JenkinsClient,
    build: &'a Completed<'a>,
}

#[async_trait]
impl TriggerEvent for BuildCompleted<'_> {
    fn kind(&self) -> TriggerKind {
        TriggerKind::Jenkins
    }

    fn key(&self) -> Vec<String> {
        let c = self.build;
        vec![
            c.master.to_owned(),
            c.job.to_owned(),
            c.build.number.to_string(),
        ]
    }

    /// Fires on a successful build of the trigger's master and job.
    fn fire(&self, _: &PipelineDocument, t: &Map<String, Value>) -> Vec<Firing> {
        let c = self.build;
        if c.build.result.as_deref() != Some("SUCCESS")
            || text(t, "master") != Some(c.master)
            || job_of(t).as_deref() != Some(c.job)
        {
            return Vec::new();
        }
        let mut trigger = t.clone();
        let mut build_info = serde_json::to_value(c.build).unwrap_or_default();
        build_info["name"] = json!(c.job);
        trigger.insert("user".into(), json!("[jenkins]"));
        trigger.insert("buildNumber".into(), json!(c.build.number));
        trigger.insert(keys::BUILD_INFO.into(), build_info);
        Firing::once(trigger)
    }

    /// The trigger's property file, read from the build's artifacts.
    async fn complete(
        &self,
        trigger: &Map<String, Value>,
        run: &mut Map<String, Value>,
    ) -> Result<(), String> {
        if let Some(file) = text(trigger, "propertyFile") {
            let properties = self
                .watcher
                .properties(self.client, self.build, file)
                .await?;
            run.insert("properties".into(), Value::Object(properties));
        }
        Ok(())
    }
}

/// The highest number n ≥ `from` such that every build in (from, n] is completed.
fn settled_up_to(builds: &[BuildInfo], from: u64, completed: impl Fn(&BuildInfo) -> bool) -> u64 {
    let mut n = from;
    for b in builds.iter().filter(|b| b.number > from) {
        if !completed(b) {
            break;
        }
        n = b.number;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(number: u64, building: bool) -> BuildInfo {
        BuildInfo {
            number,
            url: String::new(),
            building,
            result: (!building).then(|| "SUCCESS".into()),
            duration: 0,
            timestamp: 0,
            artifacts: vec![],
        }
    }

    #[test]
    fn the_cursor_stops_below_the_first_running_build() {
        let done = |x: &BuildInfo| !x.building;
        assert_eq!(
            settled_up_to(
                &[b(3, false), b(4, false), b(5, true), b(6, false)],
                2,
                done
            ),
            4
        );
        assert_eq!(settled_up_to(&[b(3, false), b(4, false)], 4, done), 4);
        assert_eq!(settled_up_to(&[], 0, done), 0);
        assert_eq!(settled_up_to(&[b(1, true)], 0, done), 0);
    }
}
