//! A Kubernetes API server simulator for Topsail's tests, built from
//! `shared/reference/kubernetes-api.md`: discovery, CRUD with the real concurrency and error
//! rules, list/watch, the four patch flavours, and the controllers that make Deployments roll
//! out. Clients talk to it over HTTP exactly as to a real cluster; kube-rs is the client Topsail
//! uses. README.md lists every simplification.

pub mod api;
pub mod controllers;
pub mod objects;
pub mod patch;
pub mod resources;
pub mod selectors;
pub mod store;
pub mod tls;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::{Notify, broadcast};
use tokio::task::JoinHandle;

/// The shortest pause between two controller passes.
const MIN_CONTROLLER_PAUSE: std::time::Duration = std::time::Duration::from_millis(2);
/// The longest pause after a pass: a pass that took minutes (thousands of pods created at once)
/// must not leave the cluster as long without controllers.
const MAX_CONTROLLER_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);
/// How often the controllers look at a cluster at rest.
const IDLE_TICK: std::time::Duration = std::time::Duration::from_secs(1);

pub use controllers::Timing;

/// How a simulated cluster behaves.
#[derive(Clone, Debug)]
pub struct Config {
    /// Bearer token every API request must carry; None accepts anonymous requests.
    pub token: Option<String>,
    /// Serve HTTPS with a certificate authority made at start-up (in the kubeconfig); plain
    /// HTTP when false (for debugging with curl).
    pub https: bool,
    pub timing: Timing,
    /// How many changes are kept for watches that resume from a resourceVersion.
    pub history_limit: usize,
    /// How often a watch that asked for bookmarks gets one.
    pub bookmark_every: Duration,
    /// How often the controllers run when nothing wakes them.
    pub tick: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            token: None,
            https: false,
            timing: Timing::default(),
            history_limit: 20_000,
            bookmark_every: Duration::from_secs(10),
            tick: Duration::from_millis(50),
        }
    }
}

#[derive(Debug, Default)]
struct Faults {
    latency: Duration,
    fail_next: u32,
    fail_status: u16,
    path_contains: String,
}

/// One simulated cluster's shared state.
pub struct Cluster {
    pub(crate) state: Mutex<store::State>,
    pub(crate) token: Option<String>,
    pub(crate) changed: Notify,
    pub(crate) bookmark_every: Duration,
    faults: Mutex<Faults>,
}

impl Cluster {
    /// Test hook: `{"latencyMs": 200, "failNext": 3, "status": 503, "pathContains": "deployments"}`.
    pub(crate) fn set_faults(&self, spec: &Value) {
        let mut f = self.faults.lock().expect("the faults lock");
        f.latency = Duration::from_millis(spec["latencyMs"].as_u64().unwrap_or(0));
        f.fail_next = spec["failNext"].as_u64().unwrap_or(0) as u32;
        f.fail_status = spec["status"].as_u64().unwrap_or(503) as u16;
        f.path_contains = spec["pathContains"].as_str().unwrap_or_default().to_owned();
    }

    pub(crate) async fn injected_fault(&self, path: &str) -> Option<Response> {
        let (latency, fail) = {
            let mut f = self.faults.lock().expect("the faults lock");
            let applies = f.path_contains.is_empty() || path.contains(&f.path_contains);
            let fail = if applies && f.fail_next > 0 {
                f.fail_next -= 1;
                Some(f.fail_status)
            } else {
                None
            };
            (if applies { f.latency } else { Duration::ZERO }, fail)
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let code = fail?;
        let reason = match code {
            429 => "TooManyRequests",
            500 => "InternalError",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            _ => "InternalError",
        };
        let e = store::ApiError::new(
            code,
            reason,
            format!("injected fault: the simulator answers {code}"),
        );
        let mut response = (
            StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            [("content-type", "application/json")],
            e.status().to_string(),
        )
            .into_response();
        if code == 429 {
            response
                .headers_mut()
                .insert("retry-after", "1".parse().expect("a header value"));
        }
        Some(response)
    }
}

/// A running simulated cluster; dropping it stops the server and its controllers.
pub struct RunningCluster {
    pub url: String,
    pub token: Option<String>,
    /// The certificate authority clients must trust (PEM), when serving HTTPS.
    pub ca_pem: Option<String>,
    pub cluster: Arc<Cluster>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for RunningCluster {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl RunningCluster {
    /// A kubeconfig with one context for this cluster.
    pub fn kubeconfig(&self, context: &str, namespace: &str) -> String {
        kubeconfig(&[(context, self, namespace)])
    }
}

/// A kubeconfig naming several clusters, one context each; the first is the current context.
pub fn kubeconfig(contexts: &[(&str, &RunningCluster, &str)]) -> String {
    let mut clusters = String::new();
    let mut users = String::new();
    let mut ctxs = String::new();
    for (name, c, namespace) in contexts {
        clusters.push_str(&format!(
            "- name: {name}\n  cluster:\n    server: {}\n",
            c.url
        ));
        if let Some(ca) = &c.ca_pem {
            use base64::Engine;
            let data = base64::engine::general_purpose::STANDARD.encode(ca);
            clusters.push_str(&format!("    certificate-authority-data: {data}\n"));
        }
        match &c.token {
            Some(t) => users.push_str(&format!("- name: {name}\n  user:\n    token: {t}\n")),
            None => users.push_str(&format!("- name: {name}\n  user: {{}}\n")),
        }
        ctxs.push_str(&format!("- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n    namespace: {namespace}\n"));
    }
    let current = contexts.first().map(|c| c.0).unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Config\npreferences: {{}}\ncurrent-context: {current}\nclusters:\n{clusters}users:\n{users}contexts:\n{ctxs}"
    )
}

/// Starts a cluster listening on `addr` (port 0 picks a free port).
pub async fn start(config: Config, addr: SocketAddr) -> std::io::Result<RunningCluster> {
    let (sender, _) = broadcast::channel(4096);
    let mut state = store::State::new(config.history_limit, sender);
    objects::seed(&mut state);
    let cluster = Arc::new(Cluster {
        state: Mutex::new(state),
        token: config.token.clone(),
        changed: Notify::new(),
        bookmark_every: config.bookmark_every,
        faults: Mutex::new(Faults::default()),
    });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let router = Router::new().fallback(serve).with_state(cluster.clone());
    let (url, ca_pem, server) = if config.https {
        let tls = tls::make().map_err(std::io::Error::other)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config.clone());
        let server = tokio::spawn(serve_https(listener, acceptor, router));
        (format!("https://{local}"), Some(tls.ca_pem), server)
    } else {
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        (format!("http://{local}"), None, server)
    };
    let controllers = {
        let cluster = cluster.clone();
        let timing = config.timing.clone();
        let tick = config.tick;
        tokio::spawn(async move {
            let mut memory = controllers::Memory::default();
            let mut next_tick = tick;
            loop {
                tokio::select! {
                    _ = cluster.changed.notified() => {}
                    _ = tokio::time::sleep(next_tick) => {}
                }
                let started = std::time::Instant::now();
                let busy = {
                    let mut state = cluster.state.lock().expect("the store lock");
                    let before = state.rv;
                    controllers::reconcile(&mut state, &timing, &mut memory);
                    state.rv != before || memory.waiting_on_time()
                };
                // A pass that changed nothing, with no pod waiting on the clock, leaves the
                // cluster at rest: the next pass comes with the next request, or after
                // IDLE_TICK for what moves with time alone (progress deadlines).
                next_tick = if busy { tick } else { IDLE_TICK };
                // A pass over a large store is followed by a pause as long as itself (at most
                // MAX_CONTROLLER_PAUSE), in which requests are served and changes gather for the
                // next pass (back-to-back passes let one write in each).
                let pause = started
                    .elapsed()
                    .clamp(MIN_CONTROLLER_PAUSE, MAX_CONTROLLER_PAUSE);
                tokio::time::sleep(pause).await;
            }
        })
    };
    Ok(RunningCluster {
        url,
        token: config.token,
        ca_pem,
        cluster,
        tasks: vec![server, controllers],
    })
}

/// Accepts TLS connections and serves each with the router (HTTP/1.1).
async fn serve_https(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    router: Router,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let (acceptor, router) = (acceptor.clone(), router.clone());
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(router);
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .http1_only()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
        });
    }
}

async fn serve(
    AxumState(cluster): AxumState<Arc<Cluster>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    api::handle(cluster, method, uri, headers, body).await
}
