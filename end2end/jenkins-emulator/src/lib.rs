//! A Jenkins controller emulator for Topsail's tests, built from
//! `shared/reference/jenkins-api.md`: jobs in folders with parameters, the queue, builds that
//! run a script (console lines, result, artifacts, an optional real image push), logs, stop,
//! crumbs and API-token auth, `tree=` and `depth`. Clients talk to it over HTTP exactly as to a
//! real Jenkins. README.md lists every simplification.

pub mod api;
pub mod model;
pub mod registry;
pub mod script;
pub mod tree;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::task::JoinHandle;

pub use script::Script;

/// Wall-clock milliseconds since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[derive(Debug, Default)]
struct Faults {
    latency: Duration,
    fail_next: u32,
    fail_status: u16,
    path_contains: String,
}

/// One emulated controller.
pub struct Jenkins {
    pub state: Mutex<model::State>,
    faults: Mutex<Faults>,
}

impl Jenkins {
    /// Test hook (`POST /__emulator/faults`): `{"latencyMs": 200, "failNext": 2, "status": 503, "pathContains": "api/json"}`.
    pub fn set_faults(&self, spec: &Value) {
        let mut f = self.faults.lock().expect("the faults lock");
        f.latency = Duration::from_millis(spec["latencyMs"].as_u64().unwrap_or(0));
        f.fail_next = spec["failNext"].as_u64().unwrap_or(0) as u32;
        f.fail_status = spec["status"].as_u64().unwrap_or(503) as u16;
        f.path_contains = spec["pathContains"].as_str().unwrap_or_default().to_owned();
    }

    async fn injected_fault(&self, path: &str) -> Option<Response> {
        if path.starts_with("/__emulator/") {
            return None;
        }
        let (latency, fail) = {
            let mut f = self.faults.lock().expect("the faults lock");
            let applies = f.path_contains.is_empty() || path.contains(&f.path_contains);
            let fail = (applies && f.fail_next > 0).then(|| {
                f.fail_next -= 1;
                f.fail_status
            });
            (if applies { f.latency } else { Duration::ZERO }, fail)
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let code = StatusCode::from_u16(fail?).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        Some(
            (
                code,
                [("content-type", "text/html;charset=utf-8")],
                format!("<html><body>injected fault: {code}</body></html>"),
            )
                .into_response(),
        )
    }
}

/// A running emulator; dropping it stops the server and the build ticker.
pub struct RunningJenkins {
    /// Base URL with a trailing slash, as Jenkins' own URLs have.
    pub url: String,
    pub jenkins: Arc<Jenkins>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for RunningJenkins {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Starts an emulator listening on `addr` (port 0 picks a free port).
pub async fn start(script: Script, addr: SocketAddr) -> std::io::Result<RunningJenkins> {
    let jenkins = Arc::new(Jenkins {
        state: Mutex::new(model::State::new(script)),
        faults: Mutex::new(Faults::default()),
    });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let router = Router::new().fallback(serve).with_state(jenkins.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let ticker = {
        let jenkins = jenkins.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client");
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let pushes = jenkins.state.lock().expect("the state lock").tick(now_ms());
                for p in pushes {
                    let (jenkins, http) = (jenkins.clone(), http.clone());
                    tokio::spawn(async move {
                        let info = format!("job={}\nbuild={}\n", p.job, p.number);
                        let outcome = registry::push(&http, &p.push, &info)
                            .await
                            .map(|digest| (p.push.clone(), digest));
                        jenkins.state.lock().expect("the state lock").pushed(
                            &p.job,
                            p.number,
                            outcome,
                            now_ms(),
                        );
                    });
                }
            }
        })
    };
    Ok(RunningJenkins {
        url: format!("http://{local}/"),
        jenkins,
        tasks: vec![server, ticker],
    })
}

async fn serve(
    AxumState(jenkins): AxumState<Arc<Jenkins>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    api::handle(jenkins, method, uri, headers, body, host).await
}
