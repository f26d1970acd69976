//! The simulator against `shared/reference/kubernetes-api.md`, point by point, over HTTP.
//!
//! This file holds the harness (a cluster per test, an HTTP client with the token, waiting for a
//! condition) and shared fixtures; the checks are grouped by topic in the modules beside it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use kubernetes_simulator::{Config, RunningCluster, Timing};
use serde_json::{Value, json};

mod access;
mod dependents;
mod patches;
mod requests;
mod rollouts;
mod watches;

struct Api {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
    _cluster: RunningCluster,
}

async fn cluster_with(token: Option<&str>) -> Api {
    let config = Config {
        token: token.map(str::to_owned),
        timing: Timing {
            pod_ready_after: Duration::from_millis(60),
            slow_ready_after: Duration::from_secs(3),
            crash_every: Duration::from_millis(100),
            nodes: vec!["node-a".into(), "node-b".into()],
        },
        bookmark_every: Duration::from_millis(200),
        tick: Duration::from_millis(20),
        ..Config::default()
    };
    let cluster = kubernetes_simulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    Api {
        base: cluster.url.clone(),
        token: cluster.token.clone(),
        http: reqwest::Client::new(),
        _cluster: cluster,
    }
}

async fn cluster() -> Api {
    cluster_with(None).await
}

impl Api {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("content-type", content_type);
        if let Some(t) = &self.token {
            request = request.bearer_auth(t);
        }
        if let Some(b) = body {
            request = request.body(b.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, "application/json", None)
            .await
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, "application/json", Some(body))
            .await
    }
    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, path, "application/json", Some(body))
            .await
    }
    async fn patch(&self, path: &str, content_type: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PATCH, path, content_type, Some(body))
            .await
    }
    async fn delete(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path, "application/json", body)
            .await
    }
    async fn namespace(&self, name: &str) {
        let (code, _) = self
            .post("/api/v1/namespaces", json!({"metadata": {"name": name}}))
            .await;
        assert_eq!(code, 201);
    }
    /// Polls `path` until `check` holds, for at most 10 s.
    async fn until(&self, path: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, v) = self.get(path).await;
            if check(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting on {path}; last: {v:#}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn deployment(name: &str, image: &str, replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "main", "image": image}]}}}})
}

const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/prod/deployments";

fn rolled_out(d: &Value) -> bool {
    let s = &d["status"];
    let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
    let n = |f: &str| s[f].as_i64().unwrap_or(0);
    s["observedGeneration"] == d["metadata"]["generation"]
        && n("updatedReplicas") == replicas
        && n("replicas") == replicas
        && n("availableReplicas") == replicas
        && n("readyReplicas") == replicas
}
