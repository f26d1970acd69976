//! Infrastructure benchmark: two simulated clusters (the `kubernetes-simulator` binary) with 100
//! Deployments × 10 pods each (200 Deployments, 2,000 pods in all, every one belonging to the
//! application `bench`), watched by a release `topsail` with both as accounts. Measures:
//! - Topsail's resident memory with the accounts connected but empty, and with everything cached;
//! - the infrastructure view's latency (`POST /api/infrastructure/view`, the whole application);
//! - cluster change → browser event: a Deployment is scaled through the cluster's API, and the
//!   time until the server-sent event stream delivers a view showing it.
//!
//! Run with `./x bench` (it builds both binaries in release). Results go to BENCHMARKS.md.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod support;
use support::{EventStream, percentile, rss_kib};

const DEPLOYMENTS_PER_CLUSTER: usize = 100;
const PODS_PER_DEPLOYMENT: usize = 10;
const VIEW_CALLS: usize = 50;
const CHANGES: usize = 30;

fn deployment(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "bench"}},
        "spec": {"replicas": PODS_PER_DEPLOYMENT, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name, "app.kubernetes.io/name": "bench"}},
                "spec": {"containers": [{"name": "main", "image": format!("registry.local/bench/{name}:1"), "ports": [{"containerPort": 8080}]}]}}}})
}

/// Counts the ready pods and reads one cluster's desired count in a view.
fn ready_pods(view: &Value) -> usize {
    view["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["namespaces"].as_array().cloned().unwrap_or_default())
        .flat_map(|n| n["clusters"].as_array().cloned().unwrap_or_default())
        .flat_map(|c| c["serverGroups"].as_array().cloned().unwrap_or_default())
        .flat_map(|g| g["pods"].as_array().cloned().unwrap_or_default())
        .filter(|p| p["health"] == "up")
        .count()
}

fn desired_of(view: &Value, account: &str, cluster: &str) -> Option<i64> {
    let account = view["accounts"]
        .as_array()?
        .iter()
        .find(|a| a["name"] == account)?;
    account["namespaces"]
        .as_array()?
        .iter()
        .flat_map(|n| n["clusters"].as_array().cloned().unwrap_or_default())
        .find(|c| c["name"] == cluster)
        .and_then(|c| c["desired"].as_i64())
}

#[tokio::main]
async fn main() {
    let binary = env!("CARGO_BIN_EXE_topsail");
    let dir = tempfile::tempdir().unwrap();
    let sim = support::clusters(dir.path(), binary);
    let (urls, token) = (&sim.urls, &sim.token);
    let server = support::topsail(dir.path(), binary, &sim, "info").await;
    let (base, pid, http) = (server.base.clone(), server.pid, server.http.clone());
    let created = http
        .post(format!("{base}/api/applications/create"))
        .json(&json!({"input": {"name": "bench", "ownerEmail": "bench@example.com"}}))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    tokio::time::sleep(Duration::from_secs(2)).await; // let the watchers list the empty clusters
    let rss_empty = rss_kib(pid);

    let populate = Instant::now();
    for url in urls {
        for n in 0..DEPLOYMENTS_PER_CLUSTER {
            let name = format!("svc-{n:03}");
            let r = http
                .patch(format!(
                    "{url}/apis/apps/v1/namespaces/default/deployments/{name}?fieldManager=bench"
                ))
                .bearer_auth(token)
                .header("content-type", "application/apply-patch+yaml")
                .body(deployment(&name).to_string())
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        }
    }
    let mut stream = EventStream::open(
        &http,
        format!("{base}/api/infrastructure/stream?application=bench"),
    )
    .await;
    let total = 2 * DEPLOYMENTS_PER_CLUSTER * PODS_PER_DEPLOYMENT;
    loop {
        let view = stream.next("view").await;
        if ready_pods(&view) == total {
            break;
        }
    }
    let synced = populate.elapsed();
    let rss_full = rss_kib(pid);

    let mut view_times = Vec::new();
    let mut view_bytes = 0;
    for _ in 0..VIEW_CALLS {
        let t = Instant::now();
        let body = http
            .post(format!("{base}/api/infrastructure/view"))
            .json(&json!({"application": "bench"}))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        view_times.push(t.elapsed());
        view_bytes = body.len();
    }
    view_times.sort();

    let mut event_times = Vec::new();
    for i in 0..CHANGES {
        let name = format!("svc-{:03}", i % DEPLOYMENTS_PER_CLUSTER);
        let replicas = PODS_PER_DEPLOYMENT as i64 + 1 + (i as i64 % 2);
        let t = Instant::now();
        let r = http
            .patch(format!(
                "{}/apis/apps/v1/namespaces/default/deployments/{name}/scale",
                urls[0]
            ))
            .bearer_auth(token)
            .header("content-type", "application/merge-patch+json")
            .body(json!({"spec": {"replicas": replicas}}).to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        loop {
            let view = stream.next("view").await;
            if desired_of(&view, "sim-1", &name) == Some(replicas) {
                break;
            }
        }
        event_times.push(t.elapsed());
        // Let the rollout it started settle before the next change.
        tokio::time::sleep(Duration::from_millis(400)).await;
        while tokio::time::timeout(Duration::from_millis(300), stream.next("view"))
            .await
            .is_ok()
        {}
    }
    event_times.sort();

    println!(
        "infrastructure: 2 clusters, {} Deployments, {total} pods, all of one application",
        2 * DEPLOYMENTS_PER_CLUSTER
    );
    println!(
        "  populate → all pods ready in the live view: {:.1} s",
        synced.as_secs_f64()
    );
    println!(
        "  topsail RSS: {:.1} MiB with empty clusters, {:.1} MiB with everything cached (+{:.1} MiB)",
        rss_empty as f64 / 1024.0,
        rss_full as f64 / 1024.0,
        (rss_full as f64 - rss_empty as f64) / 1024.0
    );
    println!(
        "  view API ({} calls, {} KB each): p50 {:.1} ms, p95 {:.1} ms",
        VIEW_CALLS,
        view_bytes / 1024,
        percentile(&view_times, 0.5).as_secs_f64() * 1e3,
        percentile(&view_times, 0.95).as_secs_f64() * 1e3
    );
    println!(
        "  cluster change → browser event ({CHANGES} scale changes): p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        percentile(&event_times, 0.5).as_secs_f64() * 1e3,
        percentile(&event_times, 0.95).as_secs_f64() * 1e3,
        event_times.last().unwrap().as_secs_f64() * 1e3
    );
    drop(server);
    drop(sim);
}
