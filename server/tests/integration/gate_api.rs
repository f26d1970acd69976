//! The Gate-compatible REST subset under `/gate`, exercised the way the `spin` CLI and scripts
//! call it: tasks for applications, pipeline configs, starting and steering executions.

use crate::support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Backend, TestServer, eventually};

async fn send(s: &TestServer, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}/gate{path}", s.base);
    let mut req = s.client.request(method.parse().unwrap(), url);
    // Like spin, every request says it speaks JSON (even without a body).
    req = match body {
        Some(b) => req.json(&b),
        None => req.header("content-type", "application/json"),
    };
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn task(s: &TestServer, job: Value) -> Value {
    let (status, reference) = send(
        s,
        "POST",
        "/tasks",
        Some(
            json!({"application": job["application"]["name"], "description": "spin", "job": [job]}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{reference}");
    let path = reference["ref"].as_str().unwrap().to_owned();
    let (status, task) = send(s, "GET", &path, None).await;
    assert_eq!(status, 200);
    task
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spin_application_save_get_list_and_delete() {
    let s = TestServer::start(Backend::Sqlite).await;
    let created = task(&s, json!({"type": "createApplication", "application": {"name": "shop", "email": "ops@example.com", "description": "Storefront", "deployTargets": ["staging/shop-test", {"account": "east", "namespace": "shop", "environment": "prod"}]}})).await;
    assert_eq!(created["status"], "SUCCEEDED", "{created}");

    let (status, apps) = send(&s, "GET", "/applications", None).await;
    assert_eq!(status, 200);
    assert_eq!(apps[0]["name"], "shop");
    assert_eq!(apps[0]["email"], "ops@example.com");

    // Saving again updates the application.
    let again = task(&s, json!({"type": "createApplication", "application": {"name": "shop", "email": "platform@example.com"}})).await;
    assert_eq!(again["status"], "SUCCEEDED");
    let (_, app) = send(&s, "GET", "/applications/shop", None).await;
    assert_eq!(
        (app["name"].clone(), app["attributes"]["email"].clone()),
        (json!("shop"), json!("platform@example.com"))
    );
    // A save that does not mention deploy targets (spin does not know them) keeps them, with
    // the environment named where one was given.
    assert_eq!(
        app["attributes"]["deployTargets"],
        json!([{"account": "staging", "namespace": "shop-test"}, {"account": "east", "namespace": "shop", "environment": "prod"}])
    );

    let bad = task(
        &s,
        json!({"type": "createApplication", "application": {"name": "Bad Name", "email": "x"}}),
    )
    .await;
    assert_eq!(bad["status"], "TERMINAL");
    let exception = bad["variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == "exception")
        .unwrap();
    assert!(
        exception["value"]["details"]["error"]
            .as_str()
            .unwrap()
            .contains("lowercase"),
        "{exception}"
    );

    let deleted = task(
        &s,
        json!({"type": "deleteApplication", "application": {"name": "shop"}}),
    )
    .await;
    assert_eq!(deleted["status"], "SUCCEEDED");
    let (status, body) = send(&s, "GET", "/applications/shop", None).await;
    assert_eq!((status, body["status"].clone()), (404, json!(404)));
    let (status, _) = send(&s, "GET", "/tasks/nope", None).await;
    assert_eq!(status, 404);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spin_pipeline_save_get_execute_and_steer() {
    let s = TestServer::start(Backend::Sqlite).await;
    task(&s, json!({"type": "createApplication", "application": {"name": "shop", "email": "ops@example.com"}})).await;
    let pipeline = json!({"application": "shop", "name": "Promote", "keepWaitingPipelines": false, "stages": [
        {"refId": "1", "type": "manualJudgment", "name": "Verify"},
        {"refId": "2", "type": "wait", "name": "Soak", "waitTime": 600, "requisiteStageRefIds": ["1"]}
    ]});
    let (status, _) = send(&s, "POST", "/pipelines", Some(pipeline.clone())).await;
    assert_eq!(status, 200);
    let (_, configs) = send(&s, "GET", "/applications/shop/pipelineConfigs", None).await;
    assert_eq!(configs.as_array().unwrap().len(), 1);
    let (status, config) = send(
        &s,
        "GET",
        "/applications/shop/pipelineConfigs/Promote",
        None,
    )
    .await;
    assert_eq!(
        (status, config["stages"].clone()),
        (200, pipeline["stages"].clone())
    );
    let (status, body) = send(&s, "GET", "/applications/shop/pipelineConfigs/Nope", None).await;
    assert_eq!((status, body["error"].clone()), (404, json!("Not Found")));

    let (status, started) = send(
        &s,
        "POST",
        "/pipelines/shop/Promote",
        Some(json!({"type": "manual", "parameters": {}})),
    )
    .await;
    assert_eq!(status, 202, "{started}");
    let path = started["ref"].as_str().unwrap().to_owned();
    let judgment = eventually("the judgment to wait", Duration::from_secs(20), || async {
        let (_, e) = send(&s, "GET", &path, None).await;
        (e["stages"][0]["status"] == "RUNNING")
            .then(|| e["stages"][0]["id"].as_str().unwrap().to_owned())
    })
    .await;
    let (status, after) = send(
        &s,
        "PATCH",
        &format!("{path}/stages/{judgment}"),
        Some(json!({"judgmentStatus": "continue"})),
    )
    .await;
    assert_eq!(
        (
            status,
            after["stages"][0]["context"]["judgmentStatus"].clone()
        ),
        (200, json!("continue"))
    );
    eventually("the soak to start", Duration::from_secs(20), || async {
        let (_, e) = send(&s, "GET", &path, None).await;
        (e["stages"][1]["status"] == "RUNNING").then_some(())
    })
    .await;
    assert_eq!(send(&s, "PUT", &format!("{path}/pause"), None).await.0, 202);
    eventually("pause", Duration::from_secs(20), || async {
        let (_, e) = send(&s, "GET", &path, None).await;
        (e["status"] == "PAUSED").then_some(())
    })
    .await;
    let (status, body) = send(&s, "PUT", &format!("{path}/pause"), None).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        send(&s, "PUT", &format!("{path}/resume"), None).await.0,
        202
    );
    eventually("resume", Duration::from_secs(20), || async {
        let (_, e) = send(&s, "GET", &path, None).await;
        (e["status"] == "RUNNING").then_some(())
    })
    .await;
    assert_eq!(
        send(&s, "PUT", &format!("{path}/cancel?reason=done"), None)
            .await
            .0,
        202
    );
    let canceled = eventually("cancel", Duration::from_secs(20), || async {
        let (_, e) = send(&s, "GET", &path, None).await;
        (e["status"] == "CANCELED").then_some(e)
    })
    .await;
    assert_eq!(
        (
            canceled["type"].clone(),
            canceled["cancellationReason"].clone()
        ),
        (json!("PIPELINE"), json!("done"))
    );

    let (_, executions) = send(&s, "GET", "/applications/shop/pipelines?limit=5", None).await;
    assert_eq!(executions.as_array().unwrap().len(), 1);
    assert_eq!(
        send(&s, "DELETE", "/pipelines/shop/Promote", None).await.0,
        200
    );
    assert_eq!(
        send(
            &s,
            "GET",
            "/applications/shop/pipelineConfigs/Promote",
            None
        )
        .await
        .0,
        404
    );
    s.stop().await;
}

/// The task log lives in memory: a huge description is kept short, and a task is shown only to
/// whoever submitted it (and admins).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_keep_short_texts_and_belong_to_their_submitter() {
    let s = TestServer::start(Backend::Sqlite).await;
    let huge = "d".repeat(1_500_000);
    let (status, reference) = send(
        &s,
        "POST",
        "/tasks",
        Some(json!({"application": "shop", "description": huge, "job": []})),
    )
    .await;
    assert_eq!(status, 200, "{reference}");
    let path = reference["ref"].as_str().unwrap().to_owned();
    let (status, task) = send(&s, "GET", &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(task["name"].as_str().unwrap().len(), 200);
    assert_eq!(task["user"], "admin");
    let other = s.user_with_roles("other", &["others"]).await;
    let res = other
        .get(format!("{}/gate{path}", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "not someone else's task");
    s.stop().await;
}
