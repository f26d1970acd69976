//! Environments board benchmark: 1,000 applications × 3 environments over two simulated
//! clusters (`test` and `staging` on sim-1, `prod` on sim-2), each a Deployment of 4 pods —
//! 3,000 Deployments and 12,000 pods — watched by a release `topsail`. Measures:
//! - resident memory with the clusters connected but empty, and with everything cached;
//! - `GET /api/environments` (the whole board, gzip as browsers ask) with 100 clients at once,
//!   20 requests each, and uncompressed by one client;
//! - the server-rendered `/environments` page (what a browser gets first);
//! - cluster change → board event: a Deployment is scaled through the cluster's API, and the
//!   time until `/api/environments/stream` sends a board showing it.
//!
//! Run with `./x bench` (it builds both binaries in release). Results go to BENCHMARKS.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod support;
use support::{EventStream, percentile, rss_kib};

const APPLICATIONS: usize = 1000;
const PODS: i64 = 4;
const CLIENTS: usize = 100;
const REQUESTS_PER_CLIENT: usize = 20;
const CHANGES: usize = 20;
/// (namespace, cluster index)
const ENVIRONMENTS: [(&str, usize); 3] = [("test", 0), ("staging", 0), ("prod", 1)];

fn name(i: usize) -> String {
    format!("app-{i:04}")
}

fn deployment(app: &str, replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": app, "labels": {"app.kubernetes.io/name": app}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}},
            "template": {"metadata": {"labels": {"app": app, "app.kubernetes.io/name": app}},
                "spec": {"containers": [{"name": "main", "image": format!("registry.local/{app}:1")}]}}}})
}

/// Healthy workloads on a board.
fn healthy(board: &Value) -> usize {
    board["applications"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["environments"].as_array().cloned().unwrap_or_default())
        .flat_map(|c| c["workloads"].as_array().cloned().unwrap_or_default())
        .filter(|w| w["health"] == "healthy")
        .count()
}

#[tokio::main]
async fn main() {
    let binary = env!("CARGO_BIN_EXE_topsail");
    let dir = tempfile::tempdir().unwrap();
    let sim = support::clusters(dir.path(), binary);
    let (urls, token) = (&sim.urls, &sim.token);
    let cluster = reqwest::Client::new();
    for (namespace, c) in ENVIRONMENTS {
        let r = cluster
            .post(format!("{}/api/v1/namespaces", urls[c]))
            .bearer_auth(token)
            .json(&json!({"metadata": {"name": namespace}}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    let server = support::topsail(dir.path(), binary, &sim, "warn,server=info,topsail=info").await;
    let (base, pid, http) = (server.base.clone(), server.pid, server.http.clone());

    let populate = Instant::now();
    for i in 0..APPLICATIONS {
        let app = name(i);
        let targets = "sim-1/test\nsim-1/staging\nsim-2/prod";
        let r = http
            .post(format!("{base}/api/applications/create"))
            .json(&json!({"input": {"name": app, "ownerEmail": "bench@example.com", "team": format!("team-{}", i % 20), "deployTargets": targets}}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
    let rss_empty = rss_kib(pid);
    for (namespace, c) in ENVIRONMENTS {
        for i in 0..APPLICATIONS {
            let app = name(i);
            let r = cluster
                .patch(format!(
                    "{}/apis/apps/v1/namespaces/{namespace}/deployments/{app}?fieldManager=bench",
                    urls[c]
                ))
                .bearer_auth(token)
                .header("content-type", "application/apply-patch+yaml")
                .body(deployment(&app, PODS).to_string())
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        }
    }
    let mut stream = EventStream::open(&http, format!("{base}/api/environments/stream")).await;
    let workloads = APPLICATIONS * ENVIRONMENTS.len();
    loop {
        let board = stream.next("board").await;
        if healthy(&board) == workloads {
            break;
        }
    }
    let synced = populate.elapsed();
    let rss_full = rss_kib(pid);

    // 100 clients at once, each reading the whole board 20 times.
    let http = Arc::new(http);
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (http, base) = (http.clone(), base.clone());
        clients.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut body = Default::default();
            for _ in 0..REQUESTS_PER_CLIENT {
                let t = Instant::now();
                // As a browser asks: the answer compressed (the time is until its last byte;
                // unpacking it is the client's).
                let r = http
                    .get(format!("{base}/api/environments"))
                    .header("accept-encoding", "gzip")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.headers()["content-encoding"], "gzip");
                body = r.bytes().await.unwrap();
                times.push(t.elapsed());
            }
            (times, body)
        }));
    }
    let mut board_times = Vec::new();
    let mut compressed = Default::default();
    for c in clients {
        let (times, body) = c.await.unwrap();
        board_times.extend(times);
        compressed = body;
    }
    let wall = started.elapsed();
    let mut json = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&compressed[..]),
        &mut json,
    )
    .unwrap();
    let board: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(
        healthy(&board),
        workloads,
        "the compressed board is the board"
    );
    let unpack = Instant::now();
    for _ in 0..10 {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&compressed[..]), &mut out)
            .unwrap();
    }
    let unpack = unpack.elapsed() / 10;
    // Without compression (a script that does not ask for it).
    let mut plain_times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let body = http
            .get(format!("{base}/api/environments"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        plain_times.push(t.elapsed());
        assert_eq!(body.len(), json.len());
    }
    plain_times.sort();
    board_times.sort();
    let rss_loaded = rss_kib(pid);

    // The page as the server renders it (a browser's first paint).
    let mut page_times = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let html = http
            .get(format!("{base}/environments"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        page_times.push(t.elapsed());
        assert!(
            html.contains("app-0999"),
            "the page lists every application"
        );
    }
    page_times.sort();

    // Cluster change → board event.
    let (mut event_times, mut answer_times) = (Vec::new(), Vec::new());
    for i in 0..CHANGES {
        let app = name(i * 37 % APPLICATIONS);
        let replicas = PODS + 1 + (i as i64 % 2);
        let t = Instant::now();
        let r = cluster
            .patch(format!(
                "{}/apis/apps/v1/namespaces/prod/deployments/{app}/scale",
                urls[1]
            ))
            .bearer_auth(token)
            .header("content-type", "application/merge-patch+json")
            .body(json!({"spec": {"replicas": replicas}}).to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        answer_times.push(t.elapsed());
        loop {
            let board = stream.next("board").await;
            let desired = board["applications"]
                .as_array()
                .and_then(|rows| rows.iter().find(|r| r["application"] == app.as_str()))
                .map(|r| r["environments"][2]["workloads"][0]["desired"].clone());
            if desired == Some(json!(replicas)) {
                break;
            }
        }
        event_times.push(t.elapsed());
    }
    event_times.sort();
    answer_times.sort();

    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    println!(
        "environments: {APPLICATIONS} applications × {} environments, 2 clusters, {} Deployments, {} pods",
        ENVIRONMENTS.len(),
        workloads,
        workloads as i64 * PODS
    );
    println!(
        "  everything on the board, healthy, after {:.1} s",
        synced.as_secs_f64()
    );
    println!(
        "  memory: {} MiB with the applications and empty clusters, {} MiB with everything cached, {} MiB after the load",
        rss_empty / 1024,
        rss_full / 1024,
        rss_loaded / 1024
    );
    println!(
        "  GET /api/environments (gzip), {CLIENTS} clients × {REQUESTS_PER_CLIENT}: p50 {} p95 {} p99 {} max {} ({:.0} requests/s, {} KiB each, {} KiB unpacked in {})",
        ms(percentile(&board_times, 0.5)),
        ms(percentile(&board_times, 0.95)),
        ms(percentile(&board_times, 0.99)),
        ms(*board_times.last().unwrap()),
        board_times.len() as f64 / wall.as_secs_f64(),
        compressed.len() / 1024,
        json.len() / 1024,
        ms(unpack)
    );
    println!(
        "  GET /api/environments uncompressed, one client × 20: p50 {} max {}",
        ms(percentile(&plain_times, 0.5)),
        ms(*plain_times.last().unwrap())
    );
    println!(
        "  /environments rendered by the server: p50 {} max {}",
        ms(percentile(&page_times, 0.5)),
        ms(*page_times.last().unwrap())
    );
    println!(
        "  the cluster's answer to the scale: p50 {} p95 {} max {}",
        ms(percentile(&answer_times, 0.5)),
        ms(percentile(&answer_times, 0.95)),
        ms(*answer_times.last().unwrap())
    );
    println!(
        "  cluster change → board event: p50 {} p95 {} max {} (the board stream was reopened {} times)",
        ms(percentile(&event_times, 0.5)),
        ms(percentile(&event_times, 0.95)),
        ms(*event_times.last().unwrap()),
        stream.reconnects
    );
}
