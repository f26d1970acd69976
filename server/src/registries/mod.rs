//! Docker registries (Spinnaker's Igor, for images): accounts speaking the Registry HTTP API v2
//! (Distribution, Harbor, and the clouds' registries). Anonymous, basic, or the bearer-token
//! flow (a 401 names a token service; the token is fetched with the account's credentials and
//! kept until it expires). Repositories and tags are read with paging; a tag resolves to its
//! digest. Answers are kept for a few seconds, so an image picker does not hammer the registry.

use crate::telemetry::{self, Outcome, Target};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde::Serialize;
use serde_json::Value;

use crate::config::{RegistryConfig, Secret};

mod names;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegistryError {
    #[error("no registry account named '{0}' is configured")]
    NoSuchAccount(String),
    #[error("registry '{account}' has no {what}")]
    NotFound { account: String, what: String },
    #[error("registry '{account}' refused the credentials")]
    NotAuthorized { account: String },
    #[error("registry '{account}' cannot be reached: {reason}")]
    Unreachable { account: String, reason: String },
    #[error("registry '{account}' answered {status}")]
    ServerError { account: String, status: u16 },
    #[error("registry '{account}' sent an answer Topsail does not understand: {reason}")]
    BadAnswer { account: String, reason: String },
    /// A repository or tag that is not one (refused before any request).
    #[error("{reason}")]
    BadName { account: String, reason: String },
}

/// An image: repository, tag and digest, and the `docker/image` artifact it becomes.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    pub account: String,
    /// The registry host as images name it (`harbor.example.com`, `127.0.0.1:5000`).
    pub registry: String,
    pub repository: String,
    pub tag: String,
    pub digest: Option<String>,
}

impl Image {
    /// The artifact a trigger hands to the pipeline: named by registry and repository, pinned
    /// to the digest when known (so what was tested is what is deployed).
    pub fn artifact(&self) -> Value {
        let name = format!("{}/{}", self.registry, self.repository);
        let reference = match &self.digest {
            Some(d) => format!("{name}@{d}"),
            None => format!("{name}:{}", self.tag),
        };
        serde_json::json!({
            "type": "docker/image", "name": name, "version": self.tag, "reference": reference,
            "metadata": {"registry": self.registry, "tag": self.tag, "digest": self.digest},
        })
    }
}

/// How long listings and digests are kept.
const KEEP_FOR: Duration = Duration::from_secs(10);
const PAGE: usize = 100;
const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

pub struct RegistryClient {
    pub name: String,
    /// Base URL without a trailing slash.
    pub address: String,
    /// The host (and port) images name.
    pub host: String,
    username: String,
    password: Option<Secret>,
    /// The shared secret incoming push notifications must carry.
    webhook_secret: Option<Secret>,
    /// Hosts (lower case) of token services the credentials may be sent to, besides the
    /// registry's own.
    token_hosts: Vec<String>,
    pub poll_interval: Duration,
    http: reqwest::Client,
    /// Bearer tokens by scope, with when they expire.
    tokens: Mutex<HashMap<String, (String, Instant)>>,
    cache: Mutex<HashMap<String, (Instant, Value)>>,
}

/// `Bearer realm="…",service="…",scope="…"` as key/values.
fn challenge(header: &str) -> Option<BTreeMap<String, String>> {
    let rest = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))?;
    let mut out = BTreeMap::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let (key, after) = s.split_once('=')?;
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            after.split_once(',').unwrap_or((after, ""))
        };
        out.insert(key.trim().to_ascii_lowercase(), value.to_owned());
        s = remaining.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
    }
    Some(out)
}

impl RegistryClient {
    pub fn new(config: &RegistryConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("topsail/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with default settings builds");
        let address = config.address.trim_end_matches('/').to_owned();
        let host = address.split("://").nth(1).unwrap_or(&address).to_owned();
        let token_hosts = config
            .token_hosts
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        Self {
            name: config.name.clone(),
            address,
            host,
            username: config.username.clone(),
            password: config.password.clone(),
            webhook_secret: config.webhook_secret.clone(),
            token_hosts,
            poll_interval: Duration::from_millis(config.poll_interval_ms),
            http,
            tokens: Mutex::new(HashMap::new()),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Whether an incoming notification's `Authorization` header carries this account's secret
    /// (`Bearer <secret>`, or the secret itself as Harbor sends it). No secret: never.
    pub fn accepts_webhook(&self, authorization: Option<&str>) -> bool {
        let (Some(secret), Some(given)) = (&self.webhook_secret, authorization) else {
            return false;
        };
        let given = given.trim();
        let given = given.strip_prefix("Bearer ").unwrap_or(given);
        constant_time_eq(given.as_bytes(), secret.expose().as_bytes())
    }

    fn unreachable(&self, e: &reqwest::Error) -> RegistryError {
        RegistryError::Unreachable {
            account: self.name.clone(),
            reason: if e.is_timeout() {
                "timed out".into()
            } else {
                e.to_string()
            },
        }
    }

    fn repository_path(&self, repository: &str) -> Result<String, RegistryError> {
        names::repository_path(repository).map_err(|reason| RegistryError::BadName {
            account: self.name.clone(),
            reason,
        })
    }

    fn bad(&self, reason: impl Into<String>) -> RegistryError {
        RegistryError::BadAnswer {
            account: self.name.clone(),
            reason: reason.into(),
        }
    }

    async fn token_for(&self, params: &BTreeMap<String, String>) -> Result<String, RegistryError> {
        let scope = params.get("scope").cloned().unwrap_or_default();
        if let Some((token, until)) = self.tokens.lock().expect("the token lock").get(&scope)
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let realm = params
            .get("realm")
            .ok_or_else(|| self.bad("a bearer challenge without a realm"))?;
        let mut request = self.http.get(realm);
        let realm_host = reqwest::Url::parse(realm)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
        let registry_host = self
            .host
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        // The account's credentials go only to the registry's own host, or to a token service
        // the operator listed; elsewhere the token is asked for anonymously.
        let trusted = realm_host
            .as_ref()
            .is_some_and(|h| *h == registry_host || self.token_hosts.contains(h));
        let query: Vec<(&str, &String)> = ["service", "scope"]
            .iter()
            .filter_map(|k| params.get(*k).map(|v| (*k, v)))
            .collect();
        request = request.query(&query);
        if !self.username.is_empty() && !trusted {
            tracing::warn!(account = %self.name, realm = %domain::redact::url(realm), "the registry's token service is on another host and not in token_hosts; asking for a token without credentials");
        }
        if !self.username.is_empty() && trusted {
            request =
                request.basic_auth(&self.username, self.password.as_ref().map(Secret::expose));
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        if matches!(
            response.status(),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) {
            return Err(RegistryError::NotAuthorized {
                account: self.name.clone(),
            });
        }
        if !response.status().is_success() {
            return Err(RegistryError::ServerError {
                account: self.name.clone(),
                status: response.status().as_u16(),
            });
        }
        let body: Value = response.json().await.map_err(|e| self.bad(e.to_string()))?;
        let token = body
            .get("token")
            .or_else(|| body.get("access_token"))
            .and_then(Value::as_str)
            .ok_or_else(|| self.bad("the token service gave no token"))?
            .to_owned();
        // Expire a little early; 60 s is the specification's default lifetime.
        let lifetime = body
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(60)
            .saturating_sub(5)
            .max(1);
        self.tokens.lock().expect("the token lock").insert(
            scope,
            (
                token.clone(),
                Instant::now() + Duration::from_secs(lifetime),
            ),
        );
        Ok(token)
    }

    /// Sends a request, answering a bearer challenge once. Retries transport failures and 5xx
    /// twice with a short backoff.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        accept: Option<&str>,
    ) -> Result<reqwest::Response, RegistryError> {
        // Paths only: what `names` made of a repository and tag, or a checked next page.
        let url = format!("{}{path}", self.address);
        let mut bearer: Option<String> = None;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.http.request(method.clone(), &url);
            if let Some(a) = accept {
                request = request.header("accept", a);
            }
            request = match &bearer {
                Some(token) => request.bearer_auth(token),
                None if !self.username.is_empty() => {
                    request.basic_auth(&self.username, self.password.as_ref().map(Secret::expose))
                }
                None => request,
            };
            let started = std::time::Instant::now();
            let sent = tracing::Instrument::instrument(
                request.send(),
                tracing::debug_span!("outbound", target = "registry", %method, path),
            )
            .await;
            telemetry::global().outbound(
                Target::Registry,
                match &sent {
                    Ok(r) => Outcome::of_status(r.status().as_u16()),
                    Err(_) => Outcome::Unreachable,
                },
                started.elapsed(),
            );
            let response = match sent {
                Ok(r) => r,
                Err(e) if attempt < 3 => {
                    telemetry::global().outbound_retry(Target::Registry);
                    tracing::debug!(account = %self.name, error = %e, "registry request failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                    continue;
                }
                Err(e) => return Err(self.unreachable(&e)),
            };
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && bearer.is_none() {
                let params = response
                    .headers()
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    .and_then(challenge);
                if let Some(params) = params {
                    bearer = Some(self.token_for(&params).await?);
                    attempt = 0;
                    continue;
                }
            }
            if status.is_server_error() && attempt < 3 {
                telemetry::global().outbound_retry(Target::Registry);
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                continue;
            }
            return match status.as_u16() {
                401 | 403 => Err(RegistryError::NotAuthorized {
                    account: self.name.clone(),
                }),
                s if s >= 500 => Err(RegistryError::ServerError {
                    account: self.name.clone(),
                    status: s,
                }),
                _ => Ok(response),
            };
        }
    }

    fn cached(&self, key: &str) -> Option<Value> {
        let cache = self.cache.lock().expect("the cache lock");
        cache
            .get(key)
            .filter(|(at, _)| at.elapsed() < KEEP_FOR)
            .map(|(_, v)| v.clone())
    }

    fn remember(&self, key: String, value: Value) {
        let mut cache = self.cache.lock().expect("the cache lock");
        cache.retain(|_, (at, _)| at.elapsed() < KEEP_FOR);
        cache.insert(key, (Instant::now(), value));
    }

    /// Follows `Link` headers, collecting `field` from each page.
    async fn paged(
        &self,
        first: String,
        field: &str,
        missing: impl Fn() -> RegistryError,
    ) -> Result<Vec<String>, RegistryError> {
        let mut out = Vec::new();
        let mut next = Some(first);
        while let Some(path) = next.take() {
            let response = self.send(reqwest::Method::GET, &path, None).await?;
            if response.status() == StatusCode::NOT_FOUND {
                return Err(missing());
            }
            next = match response.headers().get("link").and_then(|v| v.to_str().ok()) {
                Some(link) => names::next_page(link, &self.address).map_err(|e| self.bad(e))?,
                None => None,
            };
            let body: Value = response.json().await.map_err(|e| self.bad(e.to_string()))?;
            out.extend(
                body.get(field)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_owned)),
            );
        }
        Ok(out)
    }

    /// Every repository (`_catalog`; Harbor and most registries allow it to accounts with rights).
    pub async fn repositories(&self) -> Result<Vec<String>, RegistryError> {
        let key = "repositories".to_owned();
        if let Some(Value::Array(v)) = self.cached(&key) {
            return Ok(v
                .into_iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect());
        }
        let account = self.name.clone();
        let list = self
            .paged(format!("/v2/_catalog?n={PAGE}"), "repositories", || {
                RegistryError::NotFound {
                    account: account.clone(),
                    what: "catalog".into(),
                }
            })
            .await?;
        self.remember(key, serde_json::json!(list));
        Ok(list)
    }

    /// A repository's tags, in the registry's order (kept for a few seconds).
    pub async fn tags(&self, repository: &str) -> Result<Vec<String>, RegistryError> {
        if let Some(Value::Array(v)) = self.cached(&format!("tags:{repository}")) {
            return Ok(v
                .into_iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect());
        }
        self.fresh_tags(repository).await
    }

    /// A repository's tags as the registry has them now (for polling).
    pub async fn fresh_tags(&self, repository: &str) -> Result<Vec<String>, RegistryError> {
        let key = format!("tags:{repository}");
        let path = self.repository_path(repository)?;
        let account = self.name.clone();
        let what = format!("repository '{repository}'");
        let list = self
            .paged(format!("/v2/{path}/tags/list?n={PAGE}"), "tags", || {
                RegistryError::NotFound {
                    account: account.clone(),
                    what: what.clone(),
                }
            })
            .await?;
        self.remember(key, serde_json::json!(list));
        Ok(list)
    }

    /// The digest a tag points at now.
    pub async fn digest(&self, repository: &str, tag: &str) -> Result<String, RegistryError> {
        let key = format!("digest:{repository}:{tag}");
        if let Some(Value::String(d)) = self.cached(&key) {
            return Ok(d);
        }
        let path = self.repository_path(repository)?;
        let reference = names::reference_path(tag).map_err(|reason| RegistryError::BadName {
            account: self.name.clone(),
            reason,
        })?;
        let response = self
            .send(
                reqwest::Method::HEAD,
                &format!("/v2/{path}/manifests/{reference}"),
                Some(MANIFEST_TYPES),
            )
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(RegistryError::NotFound {
                account: self.name.clone(),
                what: format!("image '{repository}:{tag}'"),
            });
        }
        let digest = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| self.bad("no Docker-Content-Digest"))?
            .to_owned();
        self.remember(key, Value::String(digest.clone()));
        Ok(digest)
    }

    /// Whether the registry answers (`GET /v2/`).
    pub async fn check(&self) -> Result<(), RegistryError> {
        let response = self.send(reqwest::Method::GET, "/v2/", None).await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(RegistryError::ServerError {
                account: self.name.clone(),
                status: response.status().as_u16(),
            })
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The configured registry accounts.
#[derive(Clone, Default)]
pub struct Registries {
    clients: Arc<BTreeMap<String, Arc<RegistryClient>>>,
}

impl Registries {
    pub fn from_config(config: &[RegistryConfig]) -> Self {
        Self {
            clients: Arc::new(
                config
                    .iter()
                    .map(|c| (c.name.clone(), Arc::new(RegistryClient::new(c))))
                    .collect(),
            ),
        }
    }

    pub fn get(&self, name: &str) -> Result<&Arc<RegistryClient>, RegistryError> {
        self.clients
            .get(name)
            .ok_or_else(|| RegistryError::NoSuchAccount(name.to_owned()))
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<RegistryClient>> {
        self.clients.values()
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges() {
        let c = challenge(r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:shop/web:pull""#).unwrap();
        assert_eq!(c["realm"], "https://auth.example/token");
        assert_eq!(c["scope"], "repository:shop/web:pull");
        assert!(challenge("Basic realm=x").is_none());
    }

    #[test]
    fn an_image_becomes_a_digest_pinned_artifact() {
        let image = Image {
            account: "local".into(),
            registry: "127.0.0.1:5000".into(),
            repository: "shop/web".into(),
            tag: "1.2".into(),
            digest: Some("sha256:ab".into()),
        };
        let a = image.artifact();
        assert_eq!(a["name"], "127.0.0.1:5000/shop/web");
        assert_eq!(a["reference"], "127.0.0.1:5000/shop/web@sha256:ab");
        assert_eq!(a["version"], "1.2");
        assert!(
            constant_time_eq(b"abc", b"abc")
                && !constant_time_eq(b"abc", b"abd")
                && !constant_time_eq(b"ab", b"abc")
        );
    }
}
