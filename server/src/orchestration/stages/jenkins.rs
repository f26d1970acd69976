//! `jenkins` (Spinnaker's shape): `master`, `job` (folders as `a/b`), `parameters` (values may be
//! expressions, evaluated when the stage starts), `waitForCompletion` (default true),
//! `markUnstableAsSuccessful`, `propertyFile`.
//!
//! Tasks: `startJenkinsJob` (queue the build: outputs `queuedBuild`), `waitForJenkinsJobStart`
//! (follow the queue item to its build: `buildInfo` with `number` and `url`), then with
//! `waitForCompletion` `monitorJenkinsJob` (until the build ends: `buildInfo` with `result`,
//! `duration`, `artifacts`) and, with a `propertyFile`, `getJenkinsBuildProperties` (the file's
//! keys become stage outputs, so `${#stage('Build')['context']['IMAGE_TAG']}` reads them; the
//! whole map is also `propertyFileContents`). A canceled stage stops its build, or cancels the
//! queue item if the build has not started.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use domain::execution::StageType;
use domain::execution::{Stage, keys};
use serde_json::{Map, Value, json};

use super::{StageKind, TaskContext, TaskResult, keep_trying, outputs, text};
use crate::jenkins::{
    BuildInfo, JenkinsClient, JenkinsError, JenkinsMasters, QueueState, parse_properties,
};

const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long after a build ends its property file may still be missing (archiving lags).
const PROPERTIES_WITHIN_MS: i64 = 60 * 1000;

pub struct Jenkins {
    pub masters: JenkinsMasters,
}

fn failed(message: impl Into<String>) -> TaskResult {
    TaskResult::Failed {
        message: message.into(),
    }
}

/// A transient failure is tried again for a while; anything else ends the stage.
fn retry_or_fail(cx: &TaskContext<'_>, e: JenkinsError) -> TaskResult {
    if !e.is_transient() {
        return failed(e.to_string());
    }
    keep_trying(cx, CHECK_EVERY, || format!("{e} (gave up after 5 minutes)"))
}

/// The stage's parameters as Jenkins takes them: strings (numbers and booleans written out).
fn parameters(stage: &Stage) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (k, v) in stage
        .context
        .get("parameters")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let value = match v {
            Value::String(s) => s.clone(),
            Value::Null => continue,
            Value::Bool(_) | Value::Number(_) => v.to_string(),
            _ => {
                return Err(format!(
                    "parameter {k} must be text, a number or true/false"
                ));
            }
        };
        out.insert(k.clone(), value);
    }
    Ok(out)
}

fn build_info_json(job: &str, b: &BuildInfo) -> Value {
    let mut v = serde_json::to_value(b).unwrap_or_default();
    v["name"] = json!(job);
    v
}

fn build_number(stage: &Stage) -> Option<u64> {
    stage.build_info().map(|b| b.number)
}

impl Jenkins {
    fn client<'a>(&'a self, stage: &Stage) -> Result<(&'a JenkinsClient, String), TaskResult> {
        let master = text(stage, "master").ok_or_else(|| failed("master is required"))?;
        let job = text(stage, "job")
            .ok_or_else(|| failed("job is required"))?
            .trim_matches('/')
            .to_owned();
        let client = self
            .masters
            .get(master)
            .map_err(|e| failed(e.to_string()))?;
        Ok((client.as_ref(), job))
    }

    async fn start(&self, cx: &TaskContext<'_>, client: &JenkinsClient, job: &str) -> TaskResult {
        let params = match parameters(cx.stage) {
            Ok(p) => p,
            Err(e) => return failed(e),
        };
        match client.trigger(job, &params).await {
            Ok(id) => TaskResult::Succeeded {
                outputs: outputs(vec![("queuedBuild", json!(id))]),
            },
            Err(e) => retry_or_fail(cx, e),
        }
    }

    async fn wait_for_start(
        &self,
        cx: &TaskContext<'_>,
        client: &JenkinsClient,
        job: &str,
    ) -> TaskResult {
        let Some(id) = cx.stage.context.get("queuedBuild").and_then(Value::as_u64) else {
            return failed("the build was never queued");
        };
        match client.queue_item(id).await {
            Ok(QueueState::Started { number, url }) => {
                let info = json!({"name": job, "number": number, "url": url, "building": true, "result": null});
                TaskResult::Succeeded {
                    outputs: outputs(vec![
                        ("buildNumber", json!(number)),
                        (keys::BUILD_INFO, info),
                    ]),
                }
            }
            Ok(QueueState::Waiting { .. }) => TaskResult::Running {
                check_again_in: CHECK_EVERY,
            },
            Ok(QueueState::Cancelled) => failed(format!(
                "the queued build of '{job}' was cancelled in Jenkins"
            )),
            Err(e) => retry_or_fail(cx, e),
        }
    }

    async fn monitor(&self, cx: &TaskContext<'_>, client: &JenkinsClient, job: &str) -> TaskResult {
        let Some(number) = build_number(cx.stage) else {
            return failed("the build never started");
        };
        let b = match client.build(job, number).await {
            Ok(b) => b,
            Err(e) => return retry_or_fail(cx, e),
        };
        if b.building || b.result.is_none() {
            return TaskResult::Running {
                check_again_in: CHECK_EVERY,
            };
        }
        let info = build_info_json(job, &b);
        let done = || TaskResult::Succeeded {
            outputs: outputs(vec![(keys::BUILD_INFO, info.clone())]),
        };
        match b.result.as_deref().unwrap_or_default() {
            "SUCCESS" => done(),
            "UNSTABLE" if cx.stage.flag("markUnstableAsSuccessful", false) => done(),
            "ABORTED" => failed(format!("build #{number} of '{job}' was aborted in Jenkins")),
            other => failed(format!("build #{number} of '{job}' ended {other}")),
        }
    }

    async fn properties(
        &self,
        cx: &TaskContext<'_>,
        client: &JenkinsClient,
        job: &str,
    ) -> TaskResult {
        let Some(file) = text(cx.stage, "propertyFile") else {
            return TaskResult::Succeeded {
                outputs: Map::new(),
            };
        };
        let Some(number) = build_number(cx.stage) else {
            return failed("the build never started");
        };
        let b = match client.build(job, number).await {
            Ok(b) => b,
            Err(e) => return retry_or_fail(cx, e),
        };
        let artifact = b
            .artifacts
            .iter()
            .find(|a| a.file_name == file || a.relative_path == file);
        let bytes = match artifact {
            Some(a) => match client.artifact(job, number, &a.relative_path).await {
                Ok(found) => found,
                Err(e) => return retry_or_fail(cx, e),
            },
            None => None,
        };
        let Some(bytes) = bytes else {
            let ended = b.timestamp as i64 + b.duration as i64;
            if cx.now_ms - ended.max(cx.stage.start_time.unwrap_or(0)) > PROPERTIES_WITHIN_MS {
                return failed(format!(
                    "build #{number} of '{job}' archived no property file '{file}'"
                ));
            }
            return TaskResult::Running {
                check_again_in: CHECK_EVERY,
            };
        };
        match parse_properties(file, &bytes) {
            Ok(map) => {
                let mut out = map.clone();
                out.insert("propertyFileContents".into(), Value::Object(map));
                TaskResult::Succeeded { outputs: out }
            }
            Err(e) => failed(e),
        }
    }
}

#[async_trait]
impl StageKind for Jenkins {
    fn stage_type(&self) -> StageType {
        StageType::Jenkins
    }

    fn tasks(&self, stage: &Stage) -> Vec<&'static str> {
        let mut tasks = vec!["startJenkinsJob", "waitForJenkinsJobStart"];
        if stage.flag("waitForCompletion", true) {
            tasks.push("monitorJenkinsJob");
            if text(stage, "propertyFile").is_some() {
                tasks.push("getJenkinsBuildProperties");
            }
        }
        tasks
    }

    async fn run_task(&self, cx: TaskContext<'_>) -> TaskResult {
        let (client, job) = match self.client(cx.stage) {
            Ok(c) => c,
            Err(failed) => return failed,
        };
        match cx.task {
            "startJenkinsJob" => self.start(&cx, client, &job).await,
            "waitForJenkinsJobStart" => self.wait_for_start(&cx, client, &job).await,
            "monitorJenkinsJob" => self.monitor(&cx, client, &job).await,
            "getJenkinsBuildProperties" => self.properties(&cx, client, &job).await,
            other => failed(format!("unknown task {other}")),
        }
    }

    /// Stops the build this stage started (or cancels its queue item).
    async fn stop(&self, cx: TaskContext<'_>) -> Result<(), String> {
        let Ok((client, job)) = self.client(cx.stage) else {
            return Ok(());
        };
        let finished = cx
            .stage
            .context
            .get(keys::BUILD_INFO)
            .and_then(|b| b.get("building"))
            .and_then(Value::as_bool)
            == Some(false);
        let outcome = match (
            build_number(cx.stage),
            cx.stage.context.get("queuedBuild").and_then(Value::as_u64),
        ) {
            (Some(_), _) if finished => Ok(()),
            (Some(number), _) => client.stop(&job, number).await,
            (None, Some(id)) => {
                // The build may have started since the last look: stop that instead.
                match client.queue_item(id).await {
                    Ok(QueueState::Started { number, .. }) => client.stop(&job, number).await,
                    _ => client.cancel_queue_item(id).await,
                }
            }
            (None, None) => Ok(()),
        };
        match outcome {
            Ok(()) | Err(JenkinsError::NoSuchBuild { .. }) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}
