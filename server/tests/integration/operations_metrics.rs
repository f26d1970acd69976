//! `/metrics` beyond HTTP: the work queue by state, executions by status and open event
//! streams, as a waiting run and a live page come and go; and the Grafana dashboard in
//! `deploy/grafana/` asks only for metrics the server exports.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{self, Backend, TestServer, eventually};

fn exported(metrics: &str) -> BTreeSet<String> {
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_the_queue_executions_and_live_pages() {
    let s = TestServer::start(Backend::Sqlite).await;
    let (status, body, _) = s
        .call(
            "applications/create",
            json!({"input": {"name": "shop", "ownerEmail": "ops@example.com"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let pipeline = json!({"application": "shop", "name": "Gate", "stages": [
        {"refId": "1", "type": "manualJudgment", "name": "Go?"}]});
    let (status, body, _) = s
        .call("pipelines/save", json!({"pipeline": pipeline}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, id, _) = s
        .call(
            "executions/start",
            json!({"application": "shop", "name": "Gate"}),
        )
        .await;
    assert_eq!(status, 200, "{id}");

    let mut stream = s
        .client
        .get(format!("{}/api/executions/stream?application=shop", s.base))
        .send()
        .await
        .unwrap();
    let mut buffer = String::new();
    support::next_event(&mut stream, &mut buffer, "executions", |_: &Value| true).await;
    let metrics = eventually(
        "the waiting run and the open page in /metrics",
        Duration::from_secs(20),
        || async {
            let (_, m) = s.get("/metrics").await;
            (m.contains("topsail_executions{status=\"RUNNING\"} 1\n")
                && m.contains("topsail_event_stream_clients 1\n"))
            .then_some(m)
        },
    )
    .await;
    for state in ["ready", "scheduled", "in_flight", "dead"] {
        assert!(
            metrics.contains(&format!("topsail_queue_messages{{state=\"{state}\"}} ")),
            "{state}: {metrics}"
        );
    }
    drop(stream);
    eventually(
        "the closed page to leave /metrics",
        Duration::from_secs(20),
        || async {
            let (_, m) = s.get("/metrics").await;
            m.contains("topsail_event_stream_clients 0\n").then_some(())
        },
    )
    .await;

    // Every metric the dashboard's queries name is one the server exports.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../deploy/grafana/topsail-dashboard.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let names = exported(&metrics);
    let mut asked = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if !word.starts_with("topsail_") {
                    continue;
                }
                let family = word
                    .strip_suffix("_bucket")
                    .or_else(|| word.strip_suffix("_sum"))
                    .or_else(|| word.strip_suffix("_count"))
                    .unwrap_or(word);
                asked += 1;
                assert!(
                    names.contains(family),
                    "panel `{}` asks for {word}, which /metrics does not export ({names:?})",
                    panel["title"]
                );
            }
        }
    }
    assert!(asked >= 10, "the dashboard queries {asked} metrics");
    s.stop().await;
}
