//! One Jenkins controller over its remote API (`shared/reference/jenkins-api.md`): basic auth
//! with an API token, crumbs when a controller asks for them, retries with backoff on 5xx and
//! timeouts, and errors that say what is wrong.
//!
//! The transport (requests, retries, crumbs) is here; the calls themselves are in `api`.

mod api;

use std::sync::Mutex;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::model::JenkinsError;
use crate::config::{JenkinsMasterConfig, Secret};

struct Crumb {
    field: String,
    value: String,
    cookie: Option<String>,
}

const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

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
            let started = std::time::Instant::now();
            let outcome = tracing::Instrument::instrument(
                self.request(method.clone(), path, query).send(),
                tracing::debug_span!("outbound", target = "jenkins", %method, path),
            )
            .await;
            crate::telemetry::global().outbound(
                crate::telemetry::Target::Jenkins,
                match &outcome {
                    Ok(r) => crate::telemetry::Outcome::of_status(r.status().as_u16()),
                    Err(_) => crate::telemetry::Outcome::Unreachable,
                },
                started.elapsed(),
            );
            let retryable = match &outcome {
                Err(e) => method == Method::GET || e.is_connect(),
                Ok(r) => {
                    r.status().is_server_error()
                        && (method == Method::GET || r.status() == StatusCode::SERVICE_UNAVAILABLE)
                }
            };
            if retryable && attempt < ATTEMPTS {
                crate::telemetry::global().outbound_retry(crate::telemetry::Target::Jenkins);
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
