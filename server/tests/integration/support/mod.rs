//! Test helpers: fresh databases per test (SQLite file or a new PostgreSQL database) and a
//! Topsail server on a free port.
#![allow(dead_code)]

pub mod s3;

use std::future::Future;
use std::panic::resume_unwind;
use std::sync::atomic::{AtomicU32, Ordering};

use sea_orm::{ConnectionTrait, Database};
use server::config::{Config, LogFormat};
use server::store::Store;

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// PostgreSQL to create test databases in (`TOPSAIL_TEST_POSTGRES_URL`, default: local trust auth).
/// The Redis server tests use (`./x test` starts one when absent).
pub fn redis_url() -> String {
    std::env::var("TOPSAIL_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A Redis queue under a fresh key prefix of its own.
pub async fn redis_queue() -> server::orchestration::queue::RedisQueue {
    let prefix = format!("topsail-test:{}", server::ids::long_id());
    server::orchestration::queue::RedisQueue::connect(&redis_url(), &prefix)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "Redis at {} is needed for this test (./x test starts it): {e}",
                redis_url()
            )
        })
}

/// Removes the work queue `topsail serve` processes kept under Redis key prefix `prefix`
/// (`TOPSAIL_REDIS_KEY_PREFIX`) once a test is done with them.
pub async fn delete_process_queue(prefix: &str) {
    server::orchestration::queue::RedisQueue::connect(&redis_url(), &format!("{prefix}:queue"))
        .await
        .unwrap()
        .delete_all()
        .await
        .unwrap();
}

pub fn postgres_admin_url() -> String {
    std::env::var("TOPSAIL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn unique_suffix() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub url: Option<String>,
    pub dir: tempfile::TempDir,
    postgres_name: Option<String>,
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => Self {
                url: None,
                dir,
                postgres_name: None,
            },
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let admin = Database::connect(&admin_url).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL at {admin_url} is needed for this test (./x test starts it): {e}")
                });
                let name = format!("topsail_test_{}", unique_suffix());
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .unwrap();
                admin.close().await.unwrap();
                let (base, _) = admin_url.rsplit_once('/').unwrap();
                Self {
                    url: Some(format!("{base}/{name}")),
                    dir,
                    postgres_name: Some(name),
                }
            }
        }
    }

    pub async fn store(&self) -> Store {
        let store = Store::connect(self.url.as_deref(), self.dir.path())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
    }

    pub async fn drop(self) {
        if let Some(name) = &self.postgres_name {
            let admin = Database::connect(&postgres_admin_url()).await.unwrap();
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
                .unwrap();
            admin.close().await.unwrap();
        }
    }
}

/// Runs `body` against a migrated store in a fresh database, then removes the database even if
/// the body panicked (the panic is re-raised).
pub async fn with_store<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let db = TestDatabase::create(backend).await;
    let store = db.store().await;
    let outcome = tokio::spawn(body(store.clone())).await;
    let _ = store.close().await;
    db.drop().await;
    if let Err(e) = outcome {
        resume_unwind(e.into_panic());
    }
}

/// A Topsail server on a free port over its own fresh database.
pub struct TestServer {
    pub base: String,
    pub db: TestDatabase,
    /// Signed in as `admin` (with the password the first start wrote).
    pub client: reqwest::Client,
    pub admin_password: String,
    /// `http://host:port` of `/metrics`' own listener, when `metrics_listen` is set.
    pub metrics_base: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub fn test_config(db: &TestDatabase) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: None,
        data_dir: db.dir.path().join("data"),
        public_url: Some("http://topsail.test".into()),
        site_dir: db.dir.path().join("site"),
        database_url: db.url.clone().map(server::config::Secret::new),
        log_format: LogFormat::Human,
        log_level: "warn".into(),
        queue_visibility_timeout: std::time::Duration::from_secs(60),
        redis_url: None,
        redis_key_prefix: "topsail".into(),
        kubernetes: server::config::KubernetesConfig {
            use_default_kubeconfig: false,
            ..Default::default()
        },
        jenkins: Default::default(),
        registries: Vec::new(),
        auth: Default::default(),
        webhooks: Vec::new(),
        // The tests' receivers listen on this machine; an operator would list them the same way.
        outbound: local_outbound_config(),
        expressions: Default::default(),
        sidecar_templates: Vec::new(),
        blobs: Default::default(),
        artifacts: Default::default(),
    }
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    /// A server whose configuration `adjust` changes first (e.g. to add Kubernetes accounts).
    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let db = TestDatabase::create(backend).await;
        let mut config = test_config(&db);
        adjust(&mut config);
        let bound = server::bind(&config).await.unwrap();
        let base = format!("http://{}", bound.local_addr());
        let metrics_base = bound.metrics_addr().map(|a| format!("http://{a}"));
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            bound
                .serve(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        let admin_password = initial_admin_password(&config.data_dir);
        let client = sign_in(&base, "admin", &admin_password).await;
        Self {
            base,
            db,
            client,
            admin_password,
            metrics_base,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Creates the application `name` (owner `ops@example.com`) as the admin; its answer.
    pub async fn create_application(&self, name: &str) -> serde_json::Value {
        let (code, created, _) = self
            .call(
                "applications/create",
                serde_json::json!({"input": {"name": name, "ownerEmail": "ops@example.com"}}),
            )
            .await;
        assert_eq!(code, 200, "creating application {name}: {created}");
        created
    }

    /// A client signed in as `username` (a session cookie, as a browser holds it).
    pub async fn client_for(&self, username: &str, password: &str) -> reqwest::Client {
        sign_in(&self.base, username, password).await
    }

    /// Adds a local user with `roles` (as the admin) and returns a client signed in as them.
    pub async fn user_with_roles(&self, username: &str, roles: &[&str]) -> reqwest::Client {
        let password = format!("{username}-password-123");
        let (code, body, _) = self
            .call(
                "users/add",
                serde_json::json!({"user": {"username": username, "password": password, "roles": roles.join(",")}}),
            )
            .await;
        assert_eq!(code, 200, "adding user {username}: {body}");
        self.client_for(username, &password).await
    }

    /// Calls a server function as the client `as_client`.
    pub async fn call_as(
        &self,
        as_client: &reqwest::Client,
        endpoint: &str,
        args: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        call(as_client, &self.base, endpoint, args).await
    }

    /// Calls a server function: `POST /api/<endpoint>` with its arguments as JSON.
    pub async fn call(
        &self,
        endpoint: &str,
        args: serde_json::Value,
    ) -> (u16, serde_json::Value, reqwest::header::HeaderMap) {
        let res = self
            .client
            .post(format!("{}/api/{endpoint}", self.base))
            .json(&args)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
        };
        (status, body, headers)
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        self.db.drop().await;
    }
}

/// A `topsail serve` process (the real binary) on a free port.
pub struct TopsailProcess {
    pub child: std::process::Child,
    pub base: String,
}

impl TopsailProcess {
    /// Starts the binary on `data_dir` with extra environment, and waits until it listens.
    pub fn spawn(data_dir: &std::path::Path, env: &[(&str, &str)]) -> Self {
        use std::io::{BufRead, BufReader};
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_topsail"));
        for (k, _) in std::env::vars() {
            if k.starts_with("TOPSAIL_") || k == "DATABASE_URL" {
                command.env_remove(k);
            }
        }
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir);
        command
            .envs(env.iter().copied())
            .env("TOPSAIL_LOG", "info")
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("topsail exited before listening")
                .unwrap();
            if let Some((_, rest)) = line.split_once("listening on ") {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep draining the log so the process never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, base }
    }

    /// SIGTERM, as an orchestrator stops a Pod: the process finishes what it does and exits.
    pub fn terminate(mut self) {
        std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        self.child.wait().unwrap();
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill_hard(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for TopsailProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Calls a server function on `base`.
pub async fn call(
    client: &reqwest::Client,
    base: &str,
    endpoint: &str,
    args: serde_json::Value,
) -> (u16, serde_json::Value) {
    let res = client
        .post(format!("{base}/api/{endpoint}"))
        .json(&args)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// The first admin's password, as the first start wrote it into the data directory.
pub fn initial_admin_password(data_dir: &std::path::Path) -> String {
    let file = data_dir.join("initial-admin-password");
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| {
            panic!(
                "{} should hold the first admin's password: {e}",
                file.display()
            )
        })
        .trim()
        .to_owned()
}

/// Signs in through `POST /auth/login` and returns a client that sends the session cookie.
pub async fn sign_in(base: &str, username: &str, password: &str) -> reqwest::Client {
    let res = reqwest::Client::new()
        .post(format!("{base}/auth/login"))
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204, "signing in as {username}");
    let cookie = res
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.split(';')
                .next()
                .filter(|c| c.starts_with("topsail_session="))
        })
        .expect("a session cookie")
        .to_owned();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::COOKIE,
        reqwest::header::HeaderValue::from_str(&cookie).unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// Polls `check` until it returns `Some`, failing after `deadline`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = std::time::Instant::now() + deadline;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < until,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// Reads a server-sent event stream until an event named `name` whose JSON data passes `check`
/// (15 s deadline); `buffer` carries partial events between calls.
pub async fn next_event(
    events: &mut reqwest::Response,
    buffer: &mut String,
    name: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    let wanted = [format!("event: {name}"), format!("event:{name}")];
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let data: String = block
                .lines()
                .filter_map(|l| l.strip_prefix("data: ").or(l.strip_prefix("data:")))
                .collect();
            if block.lines().any(|l| wanted.iter().any(|w| w == l)) {
                let value: serde_json::Value = serde_json::from_str(&data).unwrap();
                if check(&value) {
                    return value;
                }
            }
        }
        match tokio::time::timeout_at(deadline, events.chunk()).await {
            Ok(Ok(Some(chunk))) => buffer.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!(
                "no matching {name} event before the deadline: {other:?}; buffered: {buffer}"
            ),
        }
    }
}

/// `[outbound]` allowing this machine's loopback addresses, where the tests' receivers listen.
pub fn local_outbound_config() -> server::outbound::OutboundConfig {
    server::outbound::OutboundConfig {
        allow: vec!["127.0.0.1".into(), "::1".into()],
        ..Default::default()
    }
}

/// An outbound client under [`local_outbound_config`].
pub fn local_outbound() -> server::outbound::OutboundClient {
    server::outbound::OutboundClient::new(
        server::outbound::OutboundPolicy::from_config(&local_outbound_config()).unwrap(),
    )
}
