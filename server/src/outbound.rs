//! The outbound policy: one rule for every request to an address a *user* gave (the webhook
//! stage and its status polling, notifications, `http/file` manifest artifacts), so a pipeline
//! cannot make Topsail call its own loopback services or a cloud metadata address
//! (server-side request forgery).
//!
//! By default loopback, link-local (169.254.0.0/16, fe80::/10 — cloud metadata lives there),
//! unspecified and multicast addresses are refused; `[outbound] allow` lists hosts and networks
//! that are allowed anyway, `deny` lists more that are refused. The check runs on the addresses
//! a host name *resolves to* (so a name pointing at 127.0.0.1 is refused too), on address
//! literals in the URL, and again at every redirect; redirects are bounded, replies are read up
//! to a size cap, every request has a timeout. Accounts the operator configured (Kubernetes,
//! Jenkins, registries, the identity provider) do not go through here.

use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Method, RequestBuilder, Response, Url};
use serde::{Deserialize, Serialize};

/// `[outbound]` in the configuration file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundConfig {
    /// Hosts (`hooks.example.com`, `*.example.com`), addresses or networks (`10.1.0.0/16`)
    /// allowed even where the default refuses them (e.g. `127.0.0.1` for a local receiver).
    pub allow: Vec<String>,
    /// Hosts, addresses or networks refused besides the default ones; wins over `allow`.
    pub deny: Vec<String>,
    /// Redirects followed at most (each one checked again).
    pub max_redirects: usize,
    /// The largest reply read; a larger one fails the request.
    pub max_reply_bytes: usize,
    /// The time a whole request may take.
    pub timeout_secs: u64,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            deny: Vec::new(),
            max_redirects: 5,
            max_reply_bytes: 1024 * 1024,
            timeout_secs: 30,
        }
    }
}

/// Why an outbound request did not happen or failed; the text is what a stage shows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("address {0} is not allowed by the outbound policy")]
    AddressRefused(IpAddr),
    #[error("host {0} is not allowed by the outbound policy")]
    HostRefused(String),
    #[error("{0:?} is not an http(s) URL")]
    NotHttp(String),
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    #[error("the reply is larger than {0} bytes")]
    TooLarge(usize),
    #[error("timed out")]
    TimedOut,
    #[error("cannot connect: {0}")]
    CannotConnect(String),
    #[error("request failed: {0}")]
    Failed(String),
}

/// One `allow`/`deny` entry.
#[derive(Clone, Debug, PartialEq)]
enum Rule {
    /// `example.com` (that host) or `*.example.com` (its subdomains).
    Host(String),
    Net(IpNet),
}

impl Rule {
    fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim().to_ascii_lowercase();
        if text.is_empty() {
            return Err("an empty entry".into());
        }
        if let Ok(net) = text.parse::<IpNet>() {
            return Ok(Rule::Net(net));
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Rule::Net(IpNet::from(ip)));
        }
        let name = text.strip_prefix("*.").unwrap_or(&text);
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(format!(
                "{text:?} is neither a host name, an address nor a network"
            ));
        }
        Ok(Rule::Host(text))
    }

    fn matches_host(&self, host: &str) -> bool {
        match self {
            Rule::Host(pattern) => match pattern.strip_prefix("*.") {
                Some(domain) => host.len() > domain.len() && host.ends_with(&format!(".{domain}")),
                None => pattern == host,
            },
            Rule::Net(_) => false,
        }
    }

    fn matches_ip(&self, ip: IpAddr) -> bool {
        matches!(self, Rule::Net(net) if net.contains(&ip))
    }
}

/// The rules, checked for each host and each address it resolves to.
#[derive(Debug)]
pub struct OutboundPolicy {
    allow: Vec<Rule>,
    deny: Vec<Rule>,
    max_redirects: usize,
    max_reply_bytes: usize,
    timeout: Duration,
}

impl OutboundPolicy {
    /// The policy of `[outbound]`; an entry that is not a host, address or network is named.
    pub fn from_config(config: &OutboundConfig) -> Result<Self, String> {
        let rules = |list: &[String], key: &str| {
            list.iter()
                .enumerate()
                .map(|(i, r)| Rule::parse(r).map_err(|e| format!("outbound.{key}[{i}]: {e}")))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self {
            allow: rules(&config.allow, "allow")?,
            deny: rules(&config.deny, "deny")?,
            max_redirects: config.max_redirects,
            max_reply_bytes: config.max_reply_bytes,
            timeout: Duration::from_secs(config.timeout_secs.max(1)),
        })
    }

    /// Whether a host name (before resolution) may be called.
    fn check_host(&self, host: &str) -> Result<(), OutboundError> {
        let host = normalize(host);
        if self.deny.iter().any(|r| r.matches_host(&host)) {
            return Err(OutboundError::HostRefused(host));
        }
        Ok(())
    }

    /// Whether `ip` (what `host` resolved to, or a literal) may be called.
    fn check_address(&self, host: &str, ip: IpAddr) -> Result<(), OutboundError> {
        let host = normalize(host);
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        if self.deny.iter().any(|r| r.matches_ip(ip)) {
            return Err(OutboundError::AddressRefused(ip));
        }
        if self
            .allow
            .iter()
            .any(|r| r.matches_ip(ip) || r.matches_host(&host))
        {
            return Ok(());
        }
        if refused_by_default(ip) {
            return Err(OutboundError::AddressRefused(ip));
        }
        Ok(())
    }

    /// Whether a URL may be requested as written: http(s), its host not denied, an address
    /// literal allowed. (Names are checked again once resolved.)
    fn check_url(&self, url: &Url) -> Result<(), OutboundError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OutboundError::NotHttp(url.to_string()));
        }
        let Some(host) = url.host_str() else {
            return Err(OutboundError::NotHttp(url.to_string()));
        };
        match host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            Ok(ip) => self.check_address("", ip),
            Err(_) => self.check_host(host),
        }
    }
}

fn normalize(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Loopback, link-local, unspecified, multicast (and IPv4 broadcast).
fn refused_by_default(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Resolves names and keeps only the addresses the policy allows.
struct PolicyResolver(Arc<OutboundPolicy>);

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            policy.check_host(&host)?;
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match policy.check_address(&host, a.ip()) {
                    Ok(()) => true,
                    Err(e) => {
                        refusal.get_or_insert(e);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), refusal) {
                (true, Some(refusal)) => Err(Box::new(refusal) as Box<dyn StdError + Send + Sync>),
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

/// The HTTP client for user-given URLs. Cheap to clone.
#[derive(Clone, Debug)]
pub struct OutboundClient {
    http: reqwest::Client,
    policy: Arc<OutboundPolicy>,
}

impl OutboundClient {
    pub fn new(policy: OutboundPolicy) -> Self {
        let policy = Arc::new(policy);
        let redirects = policy.clone();
        let http = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("topsail/", env!("CARGO_PKG_VERSION")))
            // A proxy would resolve names itself, past the policy.
            .no_proxy()
            .dns_resolver(Arc::new(PolicyResolver(policy.clone())))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > redirects.max_redirects {
                    let too_many = OutboundError::TooManyRedirects(redirects.max_redirects);
                    return attempt.error(too_many);
                }
                match redirects.check_url(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(refused) => attempt.error(refused),
                }
            }))
            .build()
            .expect("an HTTP client with these settings builds");
        Self { http, policy }
    }

    /// A client under the default policy (`[outbound]` left out).
    pub fn with_defaults() -> Self {
        Self::new(
            OutboundPolicy::from_config(&OutboundConfig::default())
                .expect("the default outbound policy is valid"),
        )
    }

    /// A request to `url`, refused before anything is sent when the URL itself is not allowed.
    pub fn request(&self, method: Method, url: &str) -> Result<RequestBuilder, OutboundError> {
        let parsed = Url::parse(url).map_err(|_| OutboundError::NotHttp(url.to_owned()))?;
        self.policy.check_url(&parsed)?;
        Ok(self.http.request(method, parsed))
    }

    /// Sends a request made by [`OutboundClient::request`]; a refusal anywhere on the way
    /// (resolution, a redirect) comes back as such.
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, OutboundError> {
        use crate::telemetry::{Outcome, Target, global};
        use tracing::Instrument;
        let started = std::time::Instant::now();
        let sent = request
            .send()
            .instrument(tracing::debug_span!("outbound", target = "webhook"))
            .await;
        let outcome = match &sent {
            Ok(r) => Outcome::of_status(r.status().as_u16()),
            Err(_) => Outcome::Unreachable,
        };
        global().outbound(Target::Webhook, outcome, started.elapsed());
        sent.map_err(|e| explain(&e))
    }

    /// The largest reply (or artifact) read.
    pub fn max_reply_bytes(&self) -> usize {
        self.policy.max_reply_bytes
    }

    /// The reply's body, up to the policy's size cap.
    pub async fn read(&self, mut response: Response) -> Result<Vec<u8>, OutboundError> {
        let cap = self.policy.max_reply_bytes;
        if response.content_length().is_some_and(|n| n as usize > cap) {
            return Err(OutboundError::TooLarge(cap));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| explain(&e))? {
            if body.len() + chunk.len() > cap {
                return Err(OutboundError::TooLarge(cap));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// The reply's body as text (lossy UTF-8), up to the size cap.
    pub async fn read_text(&self, response: Response) -> Result<String, OutboundError> {
        let bytes = self.read(response).await?;
        Ok(String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }
}

/// What went wrong, the policy's refusal first when it was one.
fn explain(e: &reqwest::Error) -> OutboundError {
    let mut source: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(cause) = source {
        if let Some(refusal) = cause.downcast_ref::<OutboundError>() {
            return refusal.clone();
        }
        source = cause.source();
    }
    if e.is_timeout() {
        OutboundError::TimedOut
    } else if e.is_connect() {
        OutboundError::CannotConnect(innermost(e))
    } else {
        OutboundError::Failed(innermost(e))
    }
}

/// The innermost cause's text: without the URL reqwest adds to its own (it may carry
/// credentials).
fn innermost(e: &reqwest::Error) -> String {
    let mut plain = String::from("the request failed");
    let mut source: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(cause) = source {
        plain = cause.to_string();
        source = cause.source();
    }
    plain
}

#[cfg(test)]
mod tests;
