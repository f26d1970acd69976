//! Decisions are taken once: of many people judging one stage at the same moment, exactly one
//! is accepted; the others learn who decided.

use std::time::Duration;

use serde_json::json;

use crate::support::{Backend, TestServer, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_judgments_make_exactly_one_decision() {
    let s = TestServer::start(Backend::Sqlite).await;
    s.create_application("shop").await;
    let (code, saved, _) = s
        .call(
            "pipelines/save",
            json!({"pipeline": {"application": "shop", "name": "P", "stages": [
            {"refId": "1", "type": "manualJudgment", "name": "Approve",
             "judgmentInputs": [{"value": "promote"}, {"value": "hold"}]}]}}),
        )
        .await;
    assert_eq!(code, 200, "{saved}");
    let (_, id, _) = s
        .call(
            "executions/start",
            json!({"application": "shop", "name": "P"}),
        )
        .await;
    let id = id.as_str().unwrap().to_owned();
    let stage = eventually("the judgment to wait", Duration::from_secs(15), || async {
        let (_, e, _) = s.call("executions/get", json!({"id": id})).await;
        (e["stages"][0]["status"] == "RUNNING")
            .then(|| e["stages"][0]["id"].as_str().unwrap().to_owned())
    })
    .await;
    let (code, body, _) = s
        .call(
            "executions/judge",
            json!({"id": id, "stage_id": stage, "judgment": "continue", "input": "yolo"}),
        )
        .await;
    assert_eq!(code, 422, "an input that is not offered: {body}");

    let mut calls = Vec::new();
    for i in 0..50 {
        let (client, base, id, stage) =
            (s.client.clone(), s.base.clone(), id.clone(), stage.clone());
        calls.push(tokio::spawn(async move {
            let judgment = if i % 2 == 0 { "continue" } else { "stop" };
            let res = client
                .post(format!("{base}/api/executions/judge"))
                .json(
                    &json!({"id": id, "stage_id": stage, "judgment": judgment, "input": "promote"}),
                )
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }));
    }
    let mut accepted = 0;
    for call in calls {
        let (code, body) = call.await.unwrap();
        match code {
            200 => accepted += 1,
            409 => assert!(
                body.contains("already judged")
                    || body.contains("not waiting")
                    || body.contains("too busy"),
                "{body}"
            ),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(accepted, 1);
    s.stop().await;
}
