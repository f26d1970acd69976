//! The remote API calls of a [`JenkinsClient`]: the version (a health check), jobs through
//! folders, a job's parameters, triggering a build and following its queue item, builds,
//! console logs, artifacts, and stopping or cancelling a build.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{JenkinsClient, job_path, message_of, text_of, urlencoding};
use crate::jenkins::model::{
    Artifact, BuildInfo, JenkinsError, JobDetails, JobSummary, LogChunk, ParameterDefinition,
    QueueState,
};

const BUILD_FIELDS: &str =
    "number,url,building,result,duration,timestamp,artifacts[fileName,displayPath,relativePath]";

fn build_info(v: &Value) -> Option<BuildInfo> {
    Some(BuildInfo {
        number: v.get("number")?.as_u64()?,
        url: text_of(v, "url").unwrap_or_default(),
        building: v.get("building").and_then(Value::as_bool).unwrap_or(false),
        result: text_of(v, "result"),
        duration: v.get("duration").and_then(Value::as_u64).unwrap_or(0),
        timestamp: v.get("timestamp").and_then(Value::as_u64).unwrap_or(0),
        artifacts: v
            .get("artifacts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| {
                Some(Artifact {
                    file_name: text_of(a, "fileName")?,
                    display_path: text_of(a, "displayPath"),
                    relative_path: text_of(a, "relativePath")?,
                })
            })
            .collect(),
    })
}

impl JenkinsClient {
    /// The controller's version (its `X-Jenkins` header), as a health check.
    pub async fn version(&self) -> Result<String, JenkinsError> {
        let response = self
            .send(Method::GET, "api/json", &[("tree".into(), "mode".into())])
            .await?;
        if !response.status().is_success() {
            return Err(JenkinsError::Rejected {
                master: self.name.clone(),
                status: response.status().as_u16(),
                message: "the root API did not answer".into(),
            });
        }
        Ok(response
            .headers()
            .get("x-jenkins")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown")
            .to_owned())
    }

    /// Every job, through folders (ten levels deep, as igor reads them).
    pub async fn jobs(&self) -> Result<Vec<JobSummary>, JenkinsError> {
        let mut tree = String::from("name,url,buildable");
        for _ in 0..10 {
            tree = format!("name,url,buildable,jobs[{tree}]");
        }
        let root = self
            .get_json(
                "api/json",
                &[("tree".into(), format!("jobs[{tree}]"))],
                || self.bad("the root has no API"),
            )
            .await?;
        let mut out = Vec::new();
        fn walk(items: &Value, prefix: &str, out: &mut Vec<JobSummary>) {
            for item in items.as_array().into_iter().flatten() {
                let Some(name) = item.get("name").and_then(Value::as_str) else {
                    continue;
                };
                let full = if prefix.is_empty() {
                    name.to_owned()
                } else {
                    format!("{prefix}/{name}")
                };
                match item.get("jobs") {
                    Some(children) => walk(children, &full, out),
                    None => out.push(JobSummary {
                        url: text_of(item, "url").unwrap_or_default(),
                        buildable: item
                            .get("buildable")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                        name: full,
                    }),
                }
            }
        }
        walk(root.get("jobs").unwrap_or(&Value::Null), "", &mut out);
        Ok(out)
    }

    /// A job with its parameter definitions.
    pub async fn job(&self, job: &str) -> Result<JobDetails, JenkinsError> {
        let tree = "name,url,buildable,property[parameterDefinitions[name,type,description,defaultParameterValue[value],choices]]";
        let v = self
            .get_json(
                &format!("{}api/json", job_path(job)),
                &[("tree".into(), tree.into())],
                self.no_job(job),
            )
            .await?;
        let definitions = v
            .get("property")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("parameterDefinitions").and_then(Value::as_array))
            .flatten()
            .filter_map(|d| {
                Some(ParameterDefinition {
                    name: text_of(d, "name")?,
                    kind: text_of(d, "type").unwrap_or_default(),
                    default_value: d
                        .get("defaultParameterValue")
                        .and_then(|dv| text_of(dv, "value")),
                    description: text_of(d, "description").filter(|s| !s.is_empty()),
                    choices: d
                        .get("choices")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|c| c.as_str().map(str::to_owned))
                        .collect(),
                })
            })
            .collect();
        Ok(JobDetails {
            name: job.to_owned(),
            url: text_of(&v, "url").unwrap_or_default(),
            buildable: v.get("buildable").and_then(Value::as_bool).unwrap_or(true),
            parameter_definition_list: definitions,
        })
    }

    /// Queues a build and returns the queue item's id. A job with parameter definitions is
    /// started by `buildWithParameters` (omitted ones take their defaults), one without by
    /// `build` (giving it parameters is an error).
    pub async fn trigger(
        &self,
        job: &str,
        parameters: &BTreeMap<String, String>,
    ) -> Result<u64, JenkinsError> {
        let details = self.job(job).await?;
        if !details.buildable {
            return Err(JenkinsError::Disabled {
                master: self.name.clone(),
                job: job.to_owned(),
            });
        }
        let parameterized = !details.parameter_definition_list.is_empty();
        if !parameterized && !parameters.is_empty() {
            let names = parameters.keys().cloned().collect::<Vec<_>>().join(", ");
            return Err(JenkinsError::NotParameterized {
                master: self.name.clone(),
                job: job.to_owned(),
                names,
            });
        }
        let (path, query): (String, Vec<(String, String)>) = if parameterized {
            (
                format!("{}buildWithParameters", job_path(job)),
                parameters
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        } else {
            (format!("{}build", job_path(job)), Vec::new())
        };
        let response = self.send(Method::POST, &path, &query).await?;
        let status = response.status().as_u16();
        match status {
            // 303: an identical item was already waiting and absorbed this request.
            201 | 303 => {
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                location
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .and_then(|id| id.parse().ok())
                    .ok_or_else(|| self.bad(format!("no queue item in Location '{location}'")))
            }
            404 => Err(self.no_job(job)()),
            409 => Err(JenkinsError::Disabled {
                master: self.name.clone(),
                job: job.to_owned(),
            }),
            _ => Err(JenkinsError::Rejected {
                master: self.name.clone(),
                status,
                message: message_of(&response.text().await.unwrap_or_default()),
            }),
        }
    }

    pub async fn queue_item(&self, id: u64) -> Result<QueueState, JenkinsError> {
        let master = self.name.clone();
        let v = self
            .get_json(
                &format!("queue/item/{id}/api/json"),
                &[("tree".into(), "why,cancelled,executable[number,url]".into())],
                move || JenkinsError::QueueItemGone { master, id },
            )
            .await?;
        if v.get("cancelled").and_then(Value::as_bool) == Some(true) {
            return Ok(QueueState::Cancelled);
        }
        match v.get("executable").filter(|e| e.is_object()) {
            Some(e) => Ok(QueueState::Started {
                number: e
                    .get("number")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| self.bad("an executable without a number"))?,
                url: text_of(e, "url").unwrap_or_default(),
            }),
            None => Ok(QueueState::Waiting {
                why: text_of(&v, "why"),
            }),
        }
    }

    pub async fn build(&self, job: &str, number: u64) -> Result<BuildInfo, JenkinsError> {
        let v = self
            .get_json(
                &format!("{}{number}/api/json", job_path(job)),
                &[("tree".into(), BUILD_FIELDS.into())],
                self.no_build(job, number),
            )
            .await?;
        build_info(&v).ok_or_else(|| self.bad("a build without a number"))
    }

    /// The job's latest builds (up to 100), newest first.
    pub async fn builds(&self, job: &str) -> Result<Vec<BuildInfo>, JenkinsError> {
        let v = self
            .get_json(
                &format!("{}api/json", job_path(job)),
                &[("tree".into(), format!("builds[{BUILD_FIELDS}]"))],
                self.no_job(job),
            )
            .await?;
        Ok(v.get("builds")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(build_info)
            .collect())
    }

    /// The console log from byte `start` on (reference §8).
    pub async fn log(&self, job: &str, number: u64, start: u64) -> Result<LogChunk, JenkinsError> {
        let response = self
            .send(
                Method::GET,
                &format!("{}{number}/logText/progressiveText", job_path(job)),
                &[("start".into(), start.to_string())],
            )
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(self.no_build(job, number)());
        }
        let next = response
            .headers()
            .get("x-text-size")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(start);
        let more = response.headers().contains_key("x-more-data");
        let bytes = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        Ok(LogChunk {
            text: String::from_utf8_lossy(&bytes).into_owned(),
            next,
            more,
        })
    }

    /// An archived file; `Ok(None)` when it is not (yet) there.
    pub async fn artifact(
        &self,
        job: &str,
        number: u64,
        relative_path: &str,
    ) -> Result<Option<Vec<u8>>, JenkinsError> {
        let path: String = relative_path
            .split('/')
            .map(urlencoding)
            .collect::<Vec<_>>()
            .join("/");
        let response = self
            .send(
                Method::GET,
                &format!("{}{number}/artifact/{path}", job_path(job)),
                &[],
            )
            .await?;
        match response.status().as_u16() {
            200 => Ok(Some(
                response
                    .bytes()
                    .await
                    .map_err(|e| self.unreachable(&e))?
                    .to_vec(),
            )),
            404 => Ok(None),
            s => Err(JenkinsError::Rejected {
                master: self.name.clone(),
                status: s,
                message: "reading an artifact".into(),
            }),
        }
    }

    /// Stops a running build (it ends ABORTED a moment later).
    pub async fn stop(&self, job: &str, number: u64) -> Result<(), JenkinsError> {
        let response = self
            .send(
                Method::POST,
                &format!("{}{number}/stop", job_path(job)),
                &[],
            )
            .await?;
        match response.status().as_u16() {
            200..=399 => Ok(()),
            404 => Err(self.no_build(job, number)()),
            s => Err(JenkinsError::Rejected {
                master: self.name.clone(),
                status: s,
                message: message_of(&response.text().await.unwrap_or_default()),
            }),
        }
    }

    /// Cancels a queued build; an item already gone is fine (reference §5).
    pub async fn cancel_queue_item(&self, id: u64) -> Result<(), JenkinsError> {
        let response = self
            .send(
                Method::POST,
                "queue/cancelItem",
                &[("id".into(), id.to_string())],
            )
            .await?;
        match response.status().as_u16() {
            200..=399 | 404 => Ok(()),
            s => Err(JenkinsError::Rejected {
                master: self.name.clone(),
                status: s,
                message: message_of(&response.text().await.unwrap_or_default()),
            }),
        }
    }
}
