//! Executions over HTTP with the engine running on the real clock: start, watch, judge, cancel,
//! the errors a person sees, and crash safety (the real binary killed with SIGKILL mid-pipeline).

use crate::support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Backend, TestServer, TopsailProcess, call, eventually};

const DEADLINE: Duration = Duration::from_secs(30);

async fn setup(base: &str, client: &reqwest::Client, stages: Value) {
    let pipeline = json!({"application": "shop", "name": "P", "stages": stages});
    setup_pipeline(base, client, pipeline).await;
}

/// The application `shop` with `pipeline` saved in it.
async fn setup_pipeline(base: &str, client: &reqwest::Client, pipeline: Value) {
    let (status, body) = call(
        client,
        base,
        "applications/create",
        json!({"input": {"name": "shop", "ownerEmail": "ops@example.com"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(
        client,
        base,
        "pipelines/save",
        json!({"pipeline": pipeline}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn execution(base: &str, client: &reqwest::Client, id: &str) -> Value {
    let (status, body) = call(client, base, "executions/get", json!({"id": id})).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn until_status(base: &str, client: &reqwest::Client, id: &str, wanted: &str) -> Value {
    eventually(&format!("execution {wanted}"), DEADLINE, || async {
        let e = execution(base, client, id).await;
        (e["status"] == wanted).then_some(e)
    })
    .await
}

async fn until_stage_running(
    base: &str,
    client: &reqwest::Client,
    id: &str,
    ref_id: &str,
) -> Value {
    eventually(&format!("stage {ref_id} running"), DEADLINE, || async {
        let e = execution(base, client, id).await;
        let stage = e["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["refId"] == ref_id)
            .cloned()
            .unwrap();
        (stage["status"] == "RUNNING").then_some(stage)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_runs_to_success_and_is_listed() {
    let s = TestServer::start(Backend::Sqlite).await;
    setup(&s.base, &s.client, json!([
        {"refId": "1", "type": "wait", "name": "First", "waitTime": 0},
        {"refId": "2", "type": "wait", "name": "Second", "waitTime": 1, "requisiteStageRefIds": ["1"]}
    ]))
    .await;
    let (status, id) = call(
        &s.client,
        &s.base,
        "executions/start",
        json!({"application": "shop", "name": "P"}),
    )
    .await;
    assert_eq!(status, 200, "{id}");
    let id = id.as_str().unwrap().to_owned();
    let done = until_status(&s.base, &s.client, &id, "SUCCEEDED").await;
    assert_eq!(
        done["trigger"],
        json!({"type": "manual", "user": "admin", "parameters": {}})
    );
    assert!(
        done["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|st| st["status"] == "SUCCEEDED")
    );
    let (status, value) = call(
        &s.client,
        &s.base,
        "executions/evaluate",
        json!({"id": id, "expression": "${execution.status.toLowerCase()}"}),
    )
    .await;
    assert_eq!((status, value), (200, json!("succeeded")));
    let (status, body) = call(
        &s.client,
        &s.base,
        "executions/evaluate",
        json!({"id": id, "expression": "T(java.lang.Runtime).getRuntime()"}),
    )
    .await;
    assert_eq!(
        (status, body["fields"][0].clone()),
        (
            422,
            json!({"field": "expression", "message": "type references (T(...)) are not allowed"})
        )
    );
    let (_, list) = call(
        &s.client,
        &s.base,
        "executions/list",
        json!({"application": "shop"}),
    )
    .await;
    assert_eq!(
        list.as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].clone())
            .collect::<Vec<_>>(),
        [json!(id)]
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_judges_and_a_person_cancels() {
    let s = TestServer::start(Backend::Sqlite).await;
    setup(&s.base, &s.client, json!([
        {"refId": "1", "type": "manualJudgment", "name": "Verify", "judgmentInputs": [{"value": "promote"}]},
        {"refId": "2", "type": "wait", "name": "Soak", "waitTime": 600, "requisiteStageRefIds": ["1"]}
    ]))
    .await;
    let (_, id) = call(
        &s.client,
        &s.base,
        "executions/start",
        json!({"application": "shop", "name": "P"}),
    )
    .await;
    let id = id.as_str().unwrap().to_owned();
    let judgment = until_stage_running(&s.base, &s.client, &id, "1").await;
    let (status, body) = call(
        &s.client,
        &s.base,
        "executions/judge",
        json!({"id": id, "stage_id": judgment["id"], "judgment": "maybe"}),
    )
    .await;
    assert_eq!(
        (status, body["fields"][0]["field"].clone()),
        (422, json!("judgment"))
    );
    let (status, _) = call(
        &s.client,
        &s.base,
        "executions/judge",
        json!({"id": id, "stage_id": judgment["id"], "judgment": "continue", "input": "promote"}),
    )
    .await;
    assert_eq!(status, 200);
    let soak = until_stage_running(&s.base, &s.client, &id, "2").await;
    assert_eq!(soak["status"], "RUNNING");
    let e = execution(&s.base, &s.client, &id).await;
    assert_eq!(
        e["stages"][0]["outputs"],
        json!({"judgmentStatus": "continue", "judgedBy": "admin", "judgmentInput": "promote"})
    );

    let (status, _) = call(
        &s.client,
        &s.base,
        "executions/cancel",
        json!({"id": id, "reason": "not today"}),
    )
    .await;
    assert_eq!(status, 200);
    let canceled = until_status(&s.base, &s.client, &id, "CANCELED").await;
    assert_eq!(
        (
            canceled["canceledBy"].clone(),
            canceled["stages"][1]["status"].clone()
        ),
        (json!("admin"), json!("CANCELED"))
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cannot_start_says_why() {
    let s = TestServer::start(Backend::Sqlite).await;
    setup(
        &s.base,
        &s.client,
        json!([{"refId": "1", "type": "bakeManifest", "name": "Bake"}]),
    )
    .await;
    let (status, body) = call(
        &s.client,
        &s.base,
        "executions/start",
        json!({"application": "shop", "name": "P"}),
    )
    .await;
    assert_eq!(
        (status, body["message"].clone()),
        (
            409,
            json!("stage 1 (Bake): stage type 'bakeManifest' is not supported")
        )
    );
    let (_, body) = call(&s.client, &s.base, "pipelines/save", json!({"pipeline": {"application": "shop", "name": "Params",
        "parameterConfig": [{"name": "env", "required": true, "hasOptions": true, "options": [{"value": "test"}]}],
        "stages": [{"refId": "1", "type": "wait", "name": "W", "waitTime": "${parameters.env == 'test' ? 0 : 1}"}]}})).await;
    assert_eq!(body["version"], 1, "{body}");
    let (status, body) = call(&s.client, &s.base, "executions/start", json!({"application": "shop", "name": "Params", "trigger": {"type": "manual", "parameters": {"env": "prod"}}})).await;
    assert_eq!(
        (status, body["fields"][0].clone()),
        (
            422,
            json!({"field": "parameters.env", "message": "parameter 'env' must be one of test"})
        )
    );
    let (status, id) = call(&s.client, &s.base, "executions/start", json!({"application": "shop", "name": "Params", "trigger": {"type": "manual", "parameters": {"env": "test"}}})).await;
    assert_eq!(status, 200, "{id}");
    let done = until_status(&s.base, &s.client, id.as_str().unwrap(), "SUCCEEDED").await;
    assert_eq!(done["stages"][0]["context"]["waitTime"], 0);
    let (status, _) = call(
        &s.client,
        &s.base,
        "executions/start",
        json!({"application": "shop", "name": "Nope"}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &s.client,
        &s.base,
        "executions/get",
        json!({"id": "no-such-execution"}),
    )
    .await;
    assert_eq!(status, 404);
    let (_, body) = call(
        &s.client,
        &s.base,
        "pipelines/save",
        json!({"pipeline": {"application": "shop", "name": "Off", "disabled": true, "stages": []}}),
    )
    .await;
    assert_eq!(body["version"], 1);
    let (status, body) = call(
        &s.client,
        &s.base,
        "executions/start",
        json!({"application": "shop", "name": "Off"}),
    )
    .await;
    assert_eq!(
        (status, body["message"].clone()),
        (409, json!("pipeline 'Off' is disabled"))
    );
    s.stop().await;
}

/// The live stream sends an application's executions and one execution as they change, without
/// the browser asking again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_stream_live() {
    let s = TestServer::start(Backend::Sqlite).await;
    setup(&s.base, &s.client, json!([
        {"refId": "1", "type": "manualJudgment", "name": "Approve", "judgmentInputs": []},
        {"refId": "2", "type": "wait", "name": "After", "waitTime": 0, "requisiteStageRefIds": ["1"]}
    ]))
    .await;
    let mut list = s
        .client
        .get(format!("{}/api/executions/stream?application=shop", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(list.headers()["content-type"], "text/event-stream");
    let mut list_buffer = String::new();
    support::next_event(&mut list, &mut list_buffer, "executions", |v| {
        v == &json!([])
    })
    .await;

    let (_, id) = call(
        &s.client,
        &s.base,
        "executions/start",
        json!({"application": "shop", "name": "P"}),
    )
    .await;
    let id = id.as_str().unwrap().to_owned();
    let waiting = |v: &Value| v["id"] == id.as_str() && v["stages"][0]["status"] == "RUNNING";
    support::next_event(&mut list, &mut list_buffer, "executions", |v| {
        v.as_array().is_some_and(|l| l.iter().any(waiting))
    })
    .await;

    let mut one = s
        .client
        .get(format!("{}/api/executions/stream?execution={id}", s.base))
        .send()
        .await
        .unwrap();
    let mut one_buffer = String::new();
    let e = support::next_event(&mut one, &mut one_buffer, "execution", waiting).await;
    let judgment = e["stages"][0]["id"].as_str().unwrap().to_owned();
    let (status, body) = call(
        &s.client,
        &s.base,
        "executions/judge",
        json!({"id": id, "stage_id": judgment, "judgment": "continue"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let done = support::next_event(&mut one, &mut one_buffer, "execution", |v| {
        v["status"] == "SUCCEEDED"
    })
    .await;
    assert_eq!(done["stages"][1]["status"], "SUCCEEDED");
    support::next_event(&mut list, &mut list_buffer, "executions", |v| {
        v[0]["status"] == "SUCCEEDED"
    })
    .await;

    // What cannot be followed says so.
    let mut missing = s
        .client
        .get(format!(
            "{}/api/executions/stream?execution=no-such-run",
            s.base
        ))
        .send()
        .await
        .unwrap();
    let mut buffer = String::new();
    let failure = support::next_event(&mut missing, &mut buffer, "failure", |_| true).await;
    assert_eq!(
        failure,
        json!({"error": "notFound", "what": "execution 'no-such-run'"})
    );
    let (status, _) = s.get("/api/executions/stream").await;
    assert_eq!(status, 400);
    s.stop().await;
}

/// Kills the server with SIGKILL at several points of a pipeline, restarts it on the same data,
/// and checks the execution finishes with every stage run exactly once: on SQLite with the queue
/// in the database, and on PostgreSQL with the queue in Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_server_mid_pipeline_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    kill_mid_pipeline(
        dir.path(),
        &[("TOPSAIL_QUEUE_VISIBILITY_TIMEOUT_MS", "300")],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_server_on_postgres_and_redis_mid_pipeline_loses_and_doubles_nothing() {
    let db = support::TestDatabase::create(Backend::Postgres).await;
    let prefix = format!("topsail-test-{}", server::ids::long_id());
    let redis_url = support::redis_url();
    let url = db.url.clone().unwrap();
    let env = [
        ("TOPSAIL_QUEUE_VISIBILITY_TIMEOUT_MS", "300"),
        ("TOPSAIL_DATABASE_URL", url.as_str()),
        ("TOPSAIL_REDIS_URL", redis_url.as_str()),
        ("TOPSAIL_REDIS_KEY_PREFIX", prefix.as_str()),
    ];
    kill_mid_pipeline(db.dir.path(), &env).await;
    support::delete_process_queue(&prefix).await;
    db.drop().await;
}

async fn kill_mid_pipeline(data_dir: &std::path::Path, env: &[(&str, &str)]) {
    let mut server = TopsailProcess::spawn(data_dir, env);
    // Sessions live in the database: one sign-in holds across the restarts below.
    let client = crate::support::sign_in(
        &server.base,
        "admin",
        &crate::support::initial_admin_password(data_dir),
    )
    .await;
    setup(&server.base, &client, json!([
        {"refId": "1", "type": "wait", "name": "One", "waitTime": 1},
        {"refId": "2", "type": "wait", "name": "Two", "waitTime": 1, "requisiteStageRefIds": ["1"]},
        {"refId": "3a", "type": "wait", "name": "Three A", "waitTime": 0, "requisiteStageRefIds": ["2"]},
        {"refId": "3b", "type": "wait", "name": "Three B", "waitTime": 1, "requisiteStageRefIds": ["2"]},
        {"refId": "4", "type": "wait", "name": "Four", "waitTime": 0, "requisiteStageRefIds": ["3a", "3b"]}
    ]))
    .await;
    let (status, id) = call(
        &client,
        &server.base,
        "executions/start",
        json!({"application": "shop", "name": "P"}),
    )
    .await;
    assert_eq!(status, 200);
    let id = id.as_str().unwrap().to_owned();

    // Right after the start, then while stage 2 runs, then while the parallel branch runs.
    server.kill_hard();
    for next in ["2", "3b"] {
        server = TopsailProcess::spawn(data_dir, env);
        until_stage_running(&server.base, &client, &id, next).await;
        server.kill_hard();
    }
    server = TopsailProcess::spawn(data_dir, env);
    let done = until_status(&server.base, &client, &id, "SUCCEEDED").await;
    for stage in done["stages"].as_array().unwrap() {
        assert_eq!(stage["status"], "SUCCEEDED", "{stage}");
        assert_eq!(stage["tasks"].as_array().unwrap().len(), 1, "{stage}");
    }
    let (one, two) = (&done["stages"][0], &done["stages"][1]);
    assert!(two["startTime"].as_i64() >= one["endTime"].as_i64());
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_starts_the_pipelines_whose_constraints_it_meets() {
    let s = TestServer::start(Backend::Sqlite).await;
    let (status, body) = call(
        &s.client,
        &s.base,
        "applications/create",
        json!({"input": {"name": "shop", "ownerEmail": "ops@example.com"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let pipeline = json!({"application": "shop", "name": "On push", "parameterConfig": [{"name": "tag", "required": true}],
        "triggers": [{"type": "webhook", "source": "ci", "enabled": true, "payloadConstraints": {"branch": "main"}}],
        "stages": [{"refId": "1", "type": "evaluateVariables", "name": "Tag", "variables": [{"key": "image", "value": "shop:${parameters.tag}"}]}]});
    let (status, body) = call(
        &s.client,
        &s.base,
        "pipelines/save",
        json!({"pipeline": pipeline}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let post = |path: &'static str, body: Value| {
        let client = s.client.clone();
        let url = format!("{}{path}", s.base);
        async move {
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let ignored = post(
        "/webhooks/webhook/ci",
        json!({"branch": "dev", "parameters": {"tag": "9"}}),
    )
    .await;
    assert_eq!(ignored["executionIds"], json!([]));
    let refused = post("/webhooks/webhook/ci", json!({"branch": "main"})).await;
    assert_eq!(refused["executionIds"], json!([]));
    assert!(
        refused["refused"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("parameter 'tag' is required"),
        "{refused}"
    );
    let accepted = post(
        "/gate/webhooks/webhook/ci",
        json!({"branch": "main", "parameters": {"tag": "1.4"}}),
    )
    .await;
    assert_eq!(accepted["eventProcessed"], true);
    let id = accepted["executionIds"][0].as_str().unwrap().to_owned();
    let done = until_status(&s.base, &s.client, &id, "SUCCEEDED").await;
    assert_eq!(done["trigger"]["type"], "webhook");
    assert_eq!(done["trigger"]["payload"]["branch"], "main");
    assert_eq!(done["stages"][0]["outputs"]["image"], "shop:1.4");
    s.stop().await;
}

/// A webhook sender that redelivers (same delivery id) starts one run; a POST without a
/// delivery id is a new event each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_webhook_starts_one_run() {
    let s = TestServer::start(Backend::Sqlite).await;
    let pipeline = json!({"application": "shop", "name": "On push",
        "triggers": [{"type": "webhook", "source": "ci", "enabled": true}],
        "stages": [{"refId": "1", "type": "wait", "name": "W", "waitTime": 0}]});
    setup_pipeline(&s.base, &s.client, pipeline).await;
    let post = |delivery: Option<&'static str>| {
        let mut request = s
            .client
            .post(format!("{}/webhooks/webhook/ci", s.base))
            .json(&json!({"branch": "main"}));
        if let Some(d) = delivery {
            request = request.header("X-GitHub-Delivery", d);
        }
        async move {
            let r = request.send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()["executionIds"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(post(Some("delivery-1")).await, 1);
    assert_eq!(
        post(Some("delivery-1")).await,
        0,
        "the redelivery starts nothing"
    );
    assert_eq!(post(Some("delivery-2")).await, 1);
    assert_eq!(post(None).await, 1);
    assert_eq!(
        post(None).await,
        1,
        "without a delivery id every POST is an event"
    );
    let (_, list) = call(
        &s.client,
        &s.base,
        "executions/list",
        json!({"application": "shop"}),
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 4, "{list}");
    s.stop().await;
}
