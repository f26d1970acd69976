//! Outbound notifications through a running server: pipeline and stage notifications, manual
//! judgment events, a Slack-compatible message, retries, and a receiver that never answers well
//! not failing the pipeline.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{Backend, TestServer, eventually};

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(String, Value)>>>,
    flaky_calls: Arc<Mutex<u32>>,
}

/// `/ok/*` records; `/flaky` fails twice, then records; `/down` always answers 503.
async fn receiver() -> (String, Receiver) {
    let r = Receiver::default();
    let ok = |State(r): State<Receiver>, Path(name): Path<String>, Json(body): Json<Value>| async move {
        r.got.lock().unwrap().push((name, body));
        StatusCode::OK
    };
    let flaky = |State(r): State<Receiver>, Json(body): Json<Value>| async move {
        let mut calls = r.flaky_calls.lock().unwrap();
        *calls += 1;
        if *calls <= 2 {
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
        r.got.lock().unwrap().push(("flaky".into(), body));
        StatusCode::OK
    };
    let app = axum::Router::new()
        .route("/ok/{name}", axum::routing::post(ok))
        .route("/flaky", axum::routing::post(flaky))
        .route(
            "/down",
            axum::routing::post(|| async { StatusCode::SERVICE_UNAVAILABLE }),
        )
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, r)
}

fn events_to(r: &Receiver, name: &str) -> Vec<Value> {
    r.got
        .lock()
        .unwrap()
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, b)| b.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_and_stages_notify_with_retries_that_never_fail_the_run() {
    let (base, r) = receiver().await;
    let server = TestServer::start(Backend::Sqlite).await;
    server
        .call(
            "applications/create",
            json!({"input": {"name": "shop", "ownerEmail": "team@example.com"}}),
        )
        .await;
    let pipeline = json!({"application": "shop", "name": "Release",
    "notifications": [
        {"type": "webhook", "address": format!("{base}/ok/pipeline"), "when": ["pipeline.starting", "pipeline.complete", "pipeline.failed"]},
        {"type": "slack", "address": format!("{base}/flaky"), "when": ["pipeline.complete"], "message": {"pipeline.complete": {"text": "Release shipped"}}},
        {"type": "webhook", "address": format!("{base}/down"), "when": ["pipeline.complete"]}
    ],
    "stages": [
        {"refId": "1", "type": "manualJudgment", "name": "Approve", "instructions": "Check the test environment",
         "sendNotifications": true,
         "notifications": [{"type": "webhook", "address": format!("{base}/ok/judgment"), "when": ["manualJudgment", "manualJudgmentContinue"]}]},
        {"refId": "2", "requisiteStageRefIds": ["1"], "type": "wait", "name": "Settle", "waitTime": 0}
    ]});
    let (code, saved, _) = server
        .call("pipelines/save", json!({"pipeline": pipeline}))
        .await;
    assert_eq!(code, 200, "{saved}");
    let (_, id, _) = server
        .call(
            "executions/start",
            json!({"application": "shop", "name": "Release"}),
        )
        .await;
    let id = id.as_str().unwrap().to_owned();

    let waiting = eventually(
        "the judgment notification",
        Duration::from_secs(15),
        || async { events_to(&r, "judgment").into_iter().next() },
    )
    .await;
    assert_eq!(waiting["event"], "manualJudgment");
    assert_eq!(waiting["instructions"], "Check the test environment");
    assert_eq!(waiting["stage"]["name"], "Approve");
    assert_eq!(
        waiting["link"],
        format!("http://topsail.test/applications/shop/executions/{id}")
    );
    let (_, e, _) = server.call("executions/get", json!({"id": id})).await;
    let stage_id = e["stages"][0]["id"].as_str().unwrap().to_owned();
    let (code, _, _) = server
        .call(
            "executions/judge",
            json!({"id": id, "stage_id": stage_id, "judgment": "continue"}),
        )
        .await;
    assert_eq!(code, 200);

    let complete = eventually(
        "the pipeline.complete notification",
        Duration::from_secs(15),
        || async {
            events_to(&r, "pipeline")
                .into_iter()
                .find(|b| b["event"] == "pipeline.complete")
        },
    )
    .await;
    assert_eq!(
        (
            complete["status"].clone(),
            complete["application"].clone(),
            complete["pipeline"].clone()
        ),
        (json!("SUCCEEDED"), json!("shop"), json!("Release"))
    );
    let pipeline_events: Vec<Value> = events_to(&r, "pipeline")
        .iter()
        .map(|b| b["event"].clone())
        .collect();
    assert_eq!(
        pipeline_events,
        [json!("pipeline.starting"), json!("pipeline.complete")]
    );
    let judgment_events: Vec<Value> = events_to(&r, "judgment")
        .iter()
        .map(|b| b["event"].clone())
        .collect();
    assert_eq!(
        judgment_events,
        [json!("manualJudgment"), json!("manualJudgmentContinue")]
    );

    // The flaky receiver gets the Slack-shaped message on the third attempt.
    let slack = eventually(
        "the retried Slack message",
        Duration::from_secs(20),
        || async { events_to(&r, "flaky").into_iter().next() },
    )
    .await;
    assert_eq!(
        slack["text"],
        format!(
            "Release shipped — <http://topsail.test/applications/shop/executions/{id}|execution {id}> (SUCCEEDED)"
        )
    );

    // Every delivery is visible on the execution; the receiver that is down did not fail the run.
    let e = eventually(
        "the deliveries to be recorded",
        Duration::from_secs(20),
        || async {
            let (_, e, _) = server.call("executions/get", json!({"id": id})).await;
            let deliveries = e["notificationDeliveries"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let flaky_done = deliveries
                .iter()
                .any(|d| d["kind"] == "slack" && d["state"] == "delivered");
            let down_retried = deliveries.iter().any(|d| {
                d["target"] == 2 && d["state"] == "retrying" && d["attempts"].as_u64() >= Some(2)
            });
            (flaky_done && down_retried).then_some(e)
        },
    )
    .await;
    assert_eq!(e["status"], "SUCCEEDED");
    let deliveries = e["notificationDeliveries"].as_array().unwrap();
    let slack = deliveries.iter().find(|d| d["kind"] == "slack").unwrap();
    assert_eq!(
        (slack["attempts"].clone(), slack["statusCode"].clone()),
        (json!(3), json!(200))
    );
    assert_eq!(
        slack["address"],
        format!("{base}/…"),
        "the path (often the secret) is not shown"
    );
    let down = deliveries
        .iter()
        .find(|d| d["target"] == 2 && d["ownStage"] == false)
        .unwrap();
    assert_eq!(
        (down["statusCode"].clone(), down["error"].clone()),
        (json!(503), json!("answered 503 Service Unavailable"))
    );
    assert_eq!(
        deliveries
            .iter()
            .filter(|d| d["state"] == "delivered")
            .count(),
        5,
        "{deliveries:#?}"
    );
}
