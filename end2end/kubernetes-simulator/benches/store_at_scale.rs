//! The simulator holding the environments board's cluster: `DEPLOYMENTS` Deployments of 4 pods
//! in one cluster (default 2,000: 2,000 ReplicaSets and 8,000 pods, sim-1 of
//! `server/benches/environments.rs`). Measures, in this process:
//! - how long until every Deployment is available, from the first apply;
//! - the cluster at rest: CPU the process uses and objects written in 5 s with nothing asked;
//! - a scale through the API: its answer, the watch event of the Deployment, and the Deployment
//!   reporting the new pod ready.
//!
//! `cargo bench -p kubernetes-simulator --bench store_at_scale` (set `DEPLOYMENTS` to change the
//! size). Results go to BENCHMARKS.md.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

const PODS: i64 = 4;
const SCALES: usize = 20;

/// CPU time this process has used (user + system), from /proc.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command (which may hold spaces): utime is the 12th, stime the 13th.
    let rest = &stat[stat.rfind(')').expect("the command's end") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // The kernel's USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn deployment(name: &str, replicas: i64) -> String {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": format!("registry.local/{name}:1")}]}}}})
    .to_string()
}

/// The list's resourceVersion and how many Deployments report every replica available.
async fn available(http: &reqwest::Client, url: &str) -> (u64, usize) {
    let list: Value = http
        .get(format!("{url}/apis/apps/v1/namespaces/bench/deployments"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap();
    let ready = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["status"]["availableReplicas"] == d["spec"]["replicas"])
        .count();
    (rv, ready)
}

#[tokio::main]
async fn main() {
    let deployments: usize = std::env::var("DEPLOYMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let mut config = kubernetes_simulator::Config::default();
    config.timing.pod_ready_after = Duration::from_millis(200);
    let cluster = kubernetes_simulator::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let url = cluster.url.clone();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{url}/api/v1/namespaces"))
        .json(&json!({"metadata": {"name": "bench"}}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    let started = Instant::now();
    let mut apply_times = Vec::new();
    for i in 0..deployments {
        let name = format!("app-{i:04}");
        let t = Instant::now();
        let r = http
            .patch(format!(
                "{url}/apis/apps/v1/namespaces/bench/deployments/{name}?fieldManager=bench"
            ))
            .header("content-type", "application/apply-patch+yaml")
            .body(deployment(&name, PODS))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        apply_times.push(t.elapsed());
    }
    let applied = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        let (_, ready) = available(&http, &url).await;
        if ready == deployments {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{ready} of {deployments} available after 30 minutes"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let settled = started.elapsed();
    apply_times.sort();

    // At rest: let what moves with time finish, then watch the process for 5 s.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rv_before, _) = available(&http, &url).await;
    let cpu_before = cpu_time();
    let rest = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let rest_cpu = cpu_time() - cpu_before;
    let rest_wall = rest.elapsed();
    let (rv_after, _) = available(&http, &url).await;

    // Scales: the answer, the Deployment's watch event, and the new pod ready.
    let watch = http
        .get(format!(
            "{url}/apis/apps/v1/namespaces/bench/deployments?watch=true&resourceVersion={rv_after}"
        ))
        .send()
        .await
        .unwrap();
    let mut events = watch.bytes_stream();
    let mut buffer = Vec::new();
    let (mut answers, mut watched, mut ready) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..SCALES {
        let name = format!("app-{:04}", i * 37 % deployments);
        let replicas = PODS + 1 + (i as i64 % 2);
        let t = Instant::now();
        let r = http
            .patch(format!(
                "{url}/apis/apps/v1/namespaces/bench/deployments/{name}/scale"
            ))
            .header("content-type", "application/merge-patch+json")
            .body(json!({"spec": {"replicas": replicas}}).to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        answers.push(t.elapsed());
        let (mut seen, mut done) = (false, false);
        while !done {
            let line = loop {
                if let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buffer.drain(..=end).collect();
                    break line;
                }
                let chunk = tokio::time::timeout(Duration::from_secs(60), events.next())
                    .await
                    .expect("a watch event within a minute")
                    .expect("the watch stays open")
                    .unwrap();
                buffer.extend_from_slice(&chunk);
            };
            let event: Value = serde_json::from_slice(&line).unwrap();
            let d = &event["object"];
            if d["metadata"]["name"] != name.as_str() || d["spec"]["replicas"] != replicas {
                continue;
            }
            if !seen {
                seen = true;
                watched.push(t.elapsed());
            }
            if d["status"]["availableReplicas"] == replicas {
                ready.push(t.elapsed());
                done = true;
            }
        }
    }
    for v in [&mut answers, &mut watched, &mut ready] {
        v.sort();
    }
    let line = |what: &str, v: &[Duration]| {
        println!(
            "  {what}: p50 {} p95 {} max {}",
            ms(percentile(v, 0.5)),
            ms(percentile(v, 0.95)),
            ms(*v.last().unwrap())
        )
    };
    println!(
        "simulator: {deployments} Deployments × {PODS} pods in one cluster ({} pods)",
        deployments as i64 * PODS
    );
    println!(
        "  applied in {:.1} s (each apply p50 {} p99 {}), all available after {:.1} s",
        applied.as_secs_f64(),
        ms(percentile(&apply_times, 0.5)),
        ms(percentile(&apply_times, 0.99)),
        settled.as_secs_f64()
    );
    println!(
        "  at rest: {:.0} % of one core, {} objects written in {:.1} s",
        rest_cpu.as_secs_f64() / rest_wall.as_secs_f64() * 100.0,
        rv_after - rv_before,
        rest_wall.as_secs_f64()
    );
    line("scale answered", &answers);
    line("scale → the Deployment's watch event", &watched);
    line("scale → the new pod available", &ready);
}
