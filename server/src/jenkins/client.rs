//! One Jenkins controller over its remote API (`shared/reference/jenkins-api.md`): basic auth
//! with an API token, crumbs when a controller asks for them, retries with backoff on 5xx and
//! timeouts, and errors that say what is wrong.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value;

use crate::config::{JenkinsMasterConfig, Secret};

/// What can go wrong talking to Jenkins. The messages are safe to show to users.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JenkinsError {
    #[error("no Jenkins master named '{0}' is configured")]
    NoSuchMaster(String),
    #[error("Jenkins '{master}' has no job '{job}'")]
    NoSuchJob { master: String, job: String },
    #[error("Jenkins '{master}' has no build {number} of '{job}'")]
    NoSuchBuild {
        master: String,
        job: String,
        number: u64,
    },
    #[error("Jenkins '{master}' no longer knows queue item {id}")]
    QueueItemGone { master: String, id: u64 },
    #[error("Jenkins '{master}' refused the credentials (check the user and API token)")]
    NotAuthorized { master: String },
    #[error("Jenkins '{master}' does not allow this: {detail}")]
    Forbidden { master: String, detail: String },
    #[error("job '{job}' on Jenkins '{master}' is disabled")]
    Disabled { master: String, job: String },
    #[error(
        "job '{job}' on Jenkins '{master}' has no parameters defined, but parameters were given: {names}"
    )]
    NotParameterized {
        master: String,
        job: String,
        names: String,
    },
    #[error("Jenkins '{master}' refused the request ({status}): {message}")]
    Rejected {
        master: String,
        status: u16,
        message: String,
    },
    #[error("Jenkins '{master}' cannot be reached: {reason}")]
    Unreachable { master: String, reason: String },
    #[error("Jenkins '{master}' answered {status}")]
    ServerError { master: String, status: u16 },
    #[error("Jenkins '{master}' sent an answer Topsail does not understand: {reason}")]
    BadAnswer { master: String, reason: String },
}

impl JenkinsError {
    /// Worth trying again later (the controller or the network had a problem).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::ServerError { .. })
    }
}

/// A parameter as a job defines it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParameterDefinition {
    pub name: String,
    /// Jenkins' type name, e.g. `StringParameterDefinition`.
    #[serde(rename = "type")]
    pub kind: String,
    pub default_value: Option<String>,
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSummary {
    /// Full name, folders joined with `/`.
    pub name: String,
    pub url: String,
    pub buildable: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobDetails {
    pub name: String,
    pub url: String,
    pub buildable: bool,
    pub parameter_definition_list: Vec<ParameterDefinition>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    pub file_name: String,
    pub display_path: Option<String>,
    pub relative_path: String,
}

/// A build as Spinnaker's `buildInfo` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildInfo {
    pub number: u64,
    pub url: String,
    pub building: bool,
    /// Null until set; may be set while still building (never infer completion from it).
    pub result: Option<String>,
    pub duration: u64,
    pub timestamp: u64,
    pub artifacts: Vec<Artifact>,
}

/// Where a queued build is.
#[derive(Clone, Debug, PartialEq)]
pub enum QueueState {
    /// Still queued (quiet period, blocked, waiting for an executor), or left but its build not
    /// created yet.
    Waiting {
        why: Option<String>,
    },
    Started {
        number: u64,
        url: String,
    },
    Cancelled,
}

/// A piece of a running build's console log.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogChunk {
    pub text: String,
    /// Where the next read starts.
    pub next: u64,
    /// The log is still being written.
    pub more: bool,
}

struct Crumb {
    field: String,
    value: String,
    cookie: Option<String>,
}

const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const BUILD_FIELDS: &str =
    "number,url,building,result,duration,timestamp,artifacts[fileName,displayPath,relativePath]";

pub struct JenkinsClient {
    pub name: String,
    /// With a trailing slash.
    pub address: String,
    username: String,
    token: Option<Secret>,
    http: reqwest::Client,
    crumb: Mutex<Option<Crumb>>,
    backoff: Duration,
}

/// `job/a/job/b/` for `a/b`, each segment percent-encoded (reference §1).
pub fn job_path(job: &str) -> String {
    job.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| format!("job/{}/", urlencoding(s)))
        .collect()
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn text_of(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

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

/// Jenkins' error pages are HTML; the message is in the first `<p>` (or the text itself).
fn message_of(body: &str) -> String {
    let inner = body
        .split_once("<p>")
        .and_then(|(_, rest)| rest.split_once("</p>"))
        .map(|(m, _)| m)
        .unwrap_or(body);
    inner.trim().chars().take(300).collect()
}

impl JenkinsClient {
    pub fn new(config: &JenkinsMasterConfig) -> Self {
        let http = Self::http_client(Duration::from_secs(30));
        let address = if config.address.ends_with('/') {
            config.address.clone()
        } else {
            format!("{}/", config.address)
        };
        Self {
            name: config.name.clone(),
            address,
            username: config.username.clone(),
            token: config.token.clone(),
            http,
            crumb: Mutex::new(None),
            backoff: FIRST_BACKOFF,
        }
    }

    /// Shorter backoff, for tests.
    pub fn with_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    /// How long one request may take (default 30 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.http = Self::http_client(timeout);
        self
    }

    fn http_client(timeout: Duration) -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("topsail/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with default settings builds")
    }

    fn unreachable(&self, e: &reqwest::Error) -> JenkinsError {
        let reason = if e.is_timeout() {
            "timed out".to_owned()
        } else if e.is_connect() {
            "connection refused or failed".to_owned()
        } else {
            e.to_string()
        };
        JenkinsError::Unreachable {
            master: self.name.clone(),
            reason,
        }
    }

    fn bad(&self, reason: impl Into<String>) -> JenkinsError {
        JenkinsError::BadAnswer {
            master: self.name.clone(),
            reason: reason.into(),
        }
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
    ) -> reqwest::RequestBuilder {
        let mut r = self
            .http
            .request(method.clone(), format!("{}{}", self.address, path))
            .query(query);
        if !self.username.is_empty() {
            r = r.basic_auth(&self.username, self.token.as_ref().map(Secret::expose));
        }
        if method == Method::POST
            && let Some(c) = self.crumb.lock().expect("the crumb lock").as_ref()
        {
            r = r.header(c.field.as_str(), c.value.as_str());
            if let Some(cookie) = &c.cookie {
                r = r.header("cookie", cookie.as_str());
            }
        }
        r
    }

    /// Sends with retries: GETs on any 5xx or transport failure; POSTs only when the request
    /// cannot have been acted on (no connection, 503), so a build is never queued twice.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
    ) -> Result<reqwest::Response, JenkinsError> {
        let mut attempt = 0;
        let mut crumb_refreshed = false;
        loop {
            attempt += 1;
            let outcome = self.request(method.clone(), path, query).send().await;
            let retryable = match &outcome {
                Err(e) => method == Method::GET || e.is_connect(),
                Ok(r) => {
                    r.status().is_server_error()
                        && (method == Method::GET || r.status() == StatusCode::SERVICE_UNAVAILABLE)
                }
            };
            if retryable && attempt < ATTEMPTS {
                tokio::time::sleep(self.backoff * 2u32.pow(attempt - 1)).await;
                continue;
            }
            let response = outcome.map_err(|e| self.unreachable(&e))?;
            let status = response.status();
            if status == StatusCode::FORBIDDEN && method == Method::POST && !crumb_refreshed {
                let body = response.text().await.unwrap_or_default();
                if body.contains("crumb") {
                    crumb_refreshed = true;
                    self.fetch_crumb().await?;
                    attempt = 0;
                    continue;
                }
                return Err(JenkinsError::Forbidden {
                    master: self.name.clone(),
                    detail: message_of(&body),
                });
            }
            return match status.as_u16() {
                401 => Err(JenkinsError::NotAuthorized {
                    master: self.name.clone(),
                }),
                403 => Err(JenkinsError::Forbidden {
                    master: self.name.clone(),
                    detail: message_of(&response.text().await.unwrap_or_default()),
                }),
                s if s >= 500 => Err(JenkinsError::ServerError {
                    master: self.name.clone(),
                    status: s,
                }),
                _ => Ok(response),
            };
        }
    }

    /// Asks the crumb issuer for a crumb, keeping the session cookie it is bound to. A 404
    /// means the controller issues none.
    async fn fetch_crumb(&self) -> Result<(), JenkinsError> {
        let response = self
            .request(Method::GET, "crumbIssuer/api/json", &[])
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        if response.status() == StatusCode::NOT_FOUND {
            *self.crumb.lock().expect("the crumb lock") = None;
            return Ok(());
        }
        if !response.status().is_success() {
            return Err(JenkinsError::Rejected {
                master: self.name.clone(),
                status: response.status().as_u16(),
                message: "the crumb issuer refused".into(),
            });
        }
        let cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .collect::<Vec<_>>()
            .join("; ");
        let v: Value = response.json().await.map_err(|e| self.bad(e.to_string()))?;
        let (Some(field), Some(value)) = (text_of(&v, "crumbRequestField"), text_of(&v, "crumb"))
        else {
            return Err(self.bad("the crumb issuer gave no crumb"));
        };
        *self.crumb.lock().expect("the crumb lock") = Some(Crumb {
            field,
            value,
            cookie: (!cookie.is_empty()).then_some(cookie),
        });
        Ok(())
    }

    async fn get_json(
        &self,
        path: &str,
        query: &[(String, String)],
        missing: impl FnOnce() -> JenkinsError,
    ) -> Result<Value, JenkinsError> {
        let response = self.send(Method::GET, path, query).await?;
        match response.status().as_u16() {
            200 => response.json().await.map_err(|e| self.bad(e.to_string())),
            404 => Err(missing()),
            s => Err(JenkinsError::Rejected {
                master: self.name.clone(),
                status: s,
                message: message_of(&response.text().await.unwrap_or_default()),
            }),
        }
    }

    fn no_job(&self, job: &str) -> impl FnOnce() -> JenkinsError + use<> {
        let (master, job) = (self.name.clone(), job.to_owned());
        move || JenkinsError::NoSuchJob { master, job }
    }

    fn no_build(&self, job: &str, number: u64) -> impl FnOnce() -> JenkinsError + use<> {
        let (master, job) = (self.name.clone(), job.to_owned());
        move || JenkinsError::NoSuchBuild {
            master,
            job,
            number,
        }
    }

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

/// Reads a properties file the way igor does, by its name: `.json` as JSON, `.yml`/`.yaml` as
/// YAML, anything else as Java properties. The result is a flat or nested JSON object.
pub fn parse_properties(
    file_name: &str,
    bytes: &[u8],
) -> Result<serde_json::Map<String, Value>, String> {
    let text = String::from_utf8_lossy(bytes);
    let lower = file_name.to_ascii_lowercase();
    let value: Value = if lower.ends_with(".json") {
        serde_json::from_str(&text).map_err(|e| format!("{file_name} is not valid JSON: {e}"))?
    } else if lower.ends_with(".yml") || lower.ends_with(".yaml") {
        serde_saphyr::from_str(&text).map_err(|e| format!("{file_name} is not valid YAML: {e}"))?
    } else {
        Value::Object(java_properties(&text))
    };
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(format!("{file_name} does not hold keys and values")),
    }
}

/// `key=value`, `key: value` or `key value`; `#` and `!` comments; `\` line continuations and
/// the common escapes.
fn java_properties(text: &str) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    let mut logical = String::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        let continued = line.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1;
        logical.push_str(if continued {
            &line[..line.len() - 1]
        } else {
            line
        });
        if continued {
            continue;
        }
        let entry = std::mem::take(&mut logical);
        let mut key = String::new();
        let mut chars = entry.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => key.push(unescape(chars.next().unwrap_or('\\'))),
                '=' | ':' => break,
                c if c.is_whitespace() => {
                    while chars.peek().is_some_and(|c| c.is_whitespace()) {
                        chars.next();
                    }
                    if matches!(chars.peek(), Some('=') | Some(':')) {
                        chars.next();
                    }
                    break;
                }
                c => key.push(c),
            }
        }
        let rest: String = chars.collect();
        let mut value = String::new();
        let mut it = rest.trim_start().chars();
        while let Some(c) = it.next() {
            value.push(if c == '\\' {
                unescape(it.next().unwrap_or('\\'))
            } else {
                c
            });
        }
        if !key.is_empty() {
            map.insert(key, Value::String(value));
        }
    }
    map
}

fn unescape(c: char) -> char {
    match c {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn properties_in_three_formats() {
        let p = parse_properties(
            "build.properties",
            b"# built\nIMAGE_TAG=main-7\nCOMMIT : abc123\nNOTE long \\\n  text\nPATH=a\\=b\n\n",
        )
        .unwrap();
        assert_eq!(
            Value::Object(p),
            json!({"IMAGE_TAG": "main-7", "COMMIT": "abc123", "NOTE": "long text", "PATH": "a=b"})
        );
        assert_eq!(
            parse_properties("b.json", br#"{"tag": "v1", "n": 2}"#).unwrap()["n"],
            json!(2)
        );
        assert_eq!(
            parse_properties("b.yaml", b"tag: v1\nlist: [a, b]\n").unwrap()["list"],
            json!(["a", "b"])
        );
        assert!(
            parse_properties("b.json", b"[1]")
                .unwrap_err()
                .contains("does not hold keys")
        );
        assert!(
            parse_properties("b.json", b"{")
                .unwrap_err()
                .contains("not valid JSON")
        );
    }

    #[test]
    fn job_paths_walk_folders() {
        assert_eq!(job_path("team/build image"), "job/team/job/build%20image/");
        assert_eq!(job_path("app"), "job/app/");
    }

    #[test]
    fn error_pages_give_their_message() {
        assert_eq!(
            message_of(
                "<html><body><h2>HTTP ERROR 400</h2><p>app is not parameterized</p></body></html>"
            ),
            "app is not parameterized"
        );
        assert_eq!(message_of("plain"), "plain");
    }
}
