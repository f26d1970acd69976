//! Runaway recursion is bounded: a pipeline that runs itself stops at the nesting limit, and
//! pipelines that would start each other on completion in a circle cannot be saved.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Backend, TestServer, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_that_runs_itself_stops_at_the_nesting_limit() {
    let s = TestServer::start(Backend::Sqlite).await;
    s.create_application("shop").await;
    let (code, saved, _) = s
        .call(
            "pipelines/save",
            json!({"pipeline": {"application": "shop", "name": "Loop", "stages": []}}),
        )
        .await;
    assert_eq!(code, 200, "{saved}");
    let id = saved["id"].as_str().unwrap().to_owned();
    let (code, saved, _) = s
        .call("pipelines/save", json!({"pipeline": {"id": id, "application": "shop", "name": "Loop", "stages": [
            {"refId": "1", "type": "pipeline", "name": "Again", "application": "shop", "pipeline": id, "waitForCompletion": false}]}}))
        .await;
    assert_eq!(code, 200, "{saved}");
    let (code, _, _) = s
        .call("executions/start", json!({"application": "shop", "name": "Loop", "trigger": {"type": "manual", "pipelineDepth": 0}}))
        .await;
    assert_eq!(code, 200);
    // The first run and ten nested ones; the tenth's stage refuses to go deeper.
    let runs: Vec<Value> = eventually("the chain to end", Duration::from_secs(30), || async {
        let (_, runs, _) = s
            .call("executions/list", json!({"application": "shop"}))
            .await;
        let runs = runs.as_array().cloned().unwrap_or_default();
        let ended = runs
            .iter()
            .all(|r| matches!(r["status"].as_str(), Some("SUCCEEDED" | "TERMINAL")));
        (runs.len() == 11 && ended).then_some(runs)
    })
    .await;
    let refused: Vec<&Value> = runs.iter().filter(|r| r["status"] == "TERMINAL").collect();
    assert_eq!(refused.len(), 1, "{runs:?}");
    let why = refused[0]["stages"][0]["context"]["exception"]["details"]["errors"][0].to_string();
    assert!(why.contains("nest more than 10 deep"), "{why}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_that_would_trigger_each_other_in_a_circle_are_refused() {
    let s = TestServer::start(Backend::Sqlite).await;
    s.create_application("shop").await;
    let save = |doc: Value| {
        let s = &s;
        async move { s.call("pipelines/save", json!({"pipeline": doc})).await }
    };
    let (_, a, _) = save(json!({"application": "shop", "name": "A", "stages": []})).await;
    let a = a["id"].as_str().unwrap().to_owned();
    let on = |parent: &str| json!([{"type": "pipeline", "application": "shop", "pipeline": parent, "status": ["successful"], "enabled": true}]);
    let (code, b, _) =
        save(json!({"application": "shop", "name": "B", "triggers": on(&a), "stages": []})).await;
    assert_eq!(code, 200, "{b}");
    let b = b["id"].as_str().unwrap().to_owned();
    let (code, body, _) = save(
        json!({"id": a, "application": "shop", "name": "A", "triggers": on(&b), "stages": []}),
    )
    .await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["fields"][0]["field"], "triggers");
    assert!(
        body["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("A → B → A"),
        "{body}"
    );
    let (code, body, _) = save(
        json!({"id": a, "application": "shop", "name": "A", "triggers": on(&a), "stages": []}),
    )
    .await;
    assert_eq!(code, 422, "its own completion: {body}");
    s.stop().await;
}

/// A stored execution this release cannot read is left out of lists, which stay readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_leaves_out_what_it_cannot_read() {
    use sea_orm::{ConnectionTrait, Database};
    let s = TestServer::start(Backend::Sqlite).await;
    s.create_application("shop").await;
    let (code, _, _) = s
        .call(
            "pipelines/save",
            json!({"pipeline": {"application": "shop", "name": "P", "stages": []}}),
        )
        .await;
    assert_eq!(code, 200);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (_, id, _) = s
            .call(
                "executions/start",
                json!({"application": "shop", "name": "P"}),
            )
            .await;
        ids.push(id.as_str().unwrap().to_owned());
    }
    // Both runs ended first: a run still moving would write its document over the breakage.
    for id in &ids {
        crate::kubernetes::until_execution(&s, id, &["SUCCEEDED"]).await;
    }
    let path = s.db.dir.path().join("data").join("topsail.db");
    let db = Database::connect(format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    db.execute_unprepared(&format!(
        "UPDATE executions SET document = '{{\"broken\": ' WHERE id = '{}'",
        ids[0]
    ))
    .await
    .unwrap();
    db.close().await.unwrap();
    let (code, runs, _) = s
        .call("executions/list", json!({"application": "shop"}))
        .await;
    assert_eq!(code, 200, "{runs}");
    let listed: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [ids[1].as_str()]);
    s.stop().await;
}

/// `levels` of nesting around a number: `[{"k": [{"k": … 1 …}]}]`.
fn nested(levels: usize) -> Value {
    let mut v = json!(1);
    for i in 0..levels {
        v = if i % 2 == 0 {
            json!([v])
        } else {
            json!({ "k": v })
        };
    }
    v
}

/// A stage field nested 124 deep once saved and started, and then no list containing its run
/// could be read (serde_json reads 128 levels; the run adds four). Now such input is refused
/// where it comes in, naming where it was too deep, and nothing of it is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_nested_deeper_than_can_be_read_back_is_refused() {
    let s = TestServer::start(Backend::Sqlite).await;
    s.create_application("shop").await;
    let deep = |levels| {
        json!({"application": "shop", "name": "Deep", "stages": [
            {"refId": "1", "type": "wait", "name": "Wait", "waitTime": 0, "extra": nested(levels)}]})
    };
    // Deeper than the request itself may be read: refused as a body that does not decode.
    let (code, _, _) = s
        .call("pipelines/save", json!({"pipeline": deep(124)}))
        .await;
    assert_eq!(code, 422);
    // Readable as a request, but deeper than a run could be read back: refused by field.
    let pipeline = deep(100);
    let (code, refused, _) = s
        .call("pipelines/save", json!({"pipeline": pipeline}))
        .await;
    assert_eq!(code, 422, "{refused}");
    assert_eq!(
        refused["fields"][0]["message"], "nests deeper than 64 levels",
        "{refused}"
    );
    assert!(
        refused["fields"][0]["field"]
            .as_str()
            .unwrap()
            .ends_with("extra"),
        "{refused}"
    );
    let res = s
        .client
        .post(format!("{}/gate/pipelines", s.base))
        .json(&pipeline)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let (code, _, _) = s
        .call(
            "pipelines/get",
            json!({"application": "shop", "name": "Deep"}),
        )
        .await;
    assert_eq!(code, 404, "nothing was stored");

    // A trigger (here from the API) nested too deep is refused too; a shallow one runs.
    let (code, _, _) = s
        .call(
            "pipelines/save",
            json!({"pipeline": {"application": "shop", "name": "P", "stages": [
                {"refId": "1", "type": "wait", "name": "Wait", "waitTime": 0, "extra": nested(40)}]}}),
        )
        .await;
    assert_eq!(code, 200);
    let (code, refused, _) = s
        .call(
            "executions/start",
            json!({"application": "shop", "name": "P", "trigger": {"type": "manual", "payload": nested(100)}}),
        )
        .await;
    assert_eq!(code, 422, "{refused}");
    assert!(refused.to_string().contains("at most 64"), "{refused}");
    let (code, id, _) = s
        .call(
            "executions/start",
            json!({"application": "shop", "name": "P", "trigger": {"type": "manual", "payload": nested(60)}}),
        )
        .await;
    assert_eq!(code, 200, "{id}");
    eventually("the run to finish", Duration::from_secs(15), || async {
        let (_, e, _) = s.call("executions/get", json!({"id": id})).await;
        (e["status"] == "SUCCEEDED").then_some(())
    })
    .await;
    let (code, runs, _) = s
        .call("executions/list", json!({"application": "shop"}))
        .await;
    assert_eq!((code, runs.as_array().map(Vec::len)), (200, Some(1)));
    s.stop().await;
}
