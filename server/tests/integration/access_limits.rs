//! The edges of access: what a token may not do, roles a user may not hand out, another
//! application's pipelines, and sign-in input that can never reach the database.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Backend, TestServer, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_cannot_make_tokens_and_users_grant_only_their_own_roles() {
    let s = TestServer::start(Backend::Sqlite).await;
    let (code, created, _) = s
        .call("tokens/create", json!({"token": {"name": "ci"}}))
        .await;
    assert_eq!(code, 200, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    let by_token = |endpoint: &'static str, args: Value| {
        let (base, token) = (s.base.clone(), token.clone());
        async move {
            reqwest::Client::new()
                .post(format!("{base}/api/{endpoint}"))
                .bearer_auth(token)
                .json(&args)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        by_token("tokens/create", json!({"token": {"name": "more"}})).await,
        403
    );
    assert_eq!(
        by_token(
            "users/password",
            json!({"username": "admin", "password": "a-new-password-123"})
        )
        .await,
        403
    );
    assert_eq!(
        by_token("applications/list", json!({})).await,
        200,
        "but it works for the rest"
    );

    let dev = s.user_with_roles("dev", &["developers"]).await;
    let (code, body) = s
        .call_as(
            &dev,
            "applications/create",
            json!({"input": {"name": "mine", "ownerEmail": "dev@example.com",
            "readRoles": "developers", "writeRoles": "developers, deployers"}}),
        )
        .await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["fields"][0]["field"], "permissions.WRITE");
    let (code, body) = s
        .call_as(
            &dev,
            "applications/create",
            json!({"input": {"name": "mine", "ownerEmail": "dev@example.com",
            "readRoles": "developers", "writeRoles": "developers"}}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_stage_runs_another_applications_pipeline_only_with_execute_there() {
    let s = TestServer::start(Backend::Sqlite).await;
    for (name, execute) in [
        ("front", "front-team"),
        ("back", "back-team"),
        ("shared", "front-team"),
    ] {
        let (code, body, _) = s
            .call(
                "applications/create",
                json!({"input": {"name": name, "ownerEmail": "x@example.com",
                "executeRoles": execute}}),
            )
            .await;
        assert_eq!(code, 200, "{body}");
        let (code, saved, _) = s
            .call(
                "pipelines/save",
                json!({"pipeline": {"application": name, "name": "Child",
                "stages": [{"refId": "1", "type": "wait", "name": "W", "waitTime": 0}]}}),
            )
            .await;
        assert_eq!(code, 200, "{saved}");
    }
    for (target, expected) in [("back", "TERMINAL"), ("shared", "SUCCEEDED")] {
        let (_, p, _) = s
            .call(
                "pipelines/get",
                json!({"application": target, "name": "Child"}),
            )
            .await;
        let child = p["summary"]["id"].as_str().unwrap().to_owned();
        let (code, saved, _) = s
            .call("pipelines/save", json!({"pipeline": {"application": "front", "name": format!("Run {target}"),
                "stages": [{"refId": "1", "type": "pipeline", "name": "Run", "application": target, "pipeline": child}]}}))
            .await;
        assert_eq!(code, 200, "{saved}");
        let (code, id, _) = s
            .call(
                "executions/start",
                json!({"application": "front", "name": format!("Run {target}")}),
            )
            .await;
        assert_eq!(code, 200, "{id}");
        let done = eventually("the run to end", Duration::from_secs(20), || async {
            let (_, e, _) = s.call("executions/get", json!({"id": id})).await;
            matches!(e["status"].as_str(), Some("SUCCEEDED" | "TERMINAL")).then_some(e)
        })
        .await;
        assert_eq!(done["status"], expected, "{target}: {done}");
        if expected == "TERMINAL" {
            let why = done["stages"][0]["context"]["exception"]["details"]["errors"][0].to_string();
            assert!(
                why.contains("may not run pipelines of application 'back'"),
                "{why}"
            );
        }
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_input_that_cannot_be_a_user_is_a_plain_refusal() {
    let s = TestServer::start(Backend::Postgres).await;
    for username in ["x".repeat(300), "nul\u{0}byte".into(), "".into()] {
        let res = reqwest::Client::new()
            .post(format!("{}/auth/login", s.base))
            .json(&json!({"username": username, "password": "whatever-it-is"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{username:?}");
    }
    let res = reqwest::Client::new()
        .post(format!("{}/auth/login", s.base))
        .json(&json!({"user": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422, "a body that is not a sign-in");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_id_cannot_move_to_another_application() {
    let s = TestServer::start(Backend::Sqlite).await;
    for name in ["one", "two"] {
        let (code, _, _) = s
            .call(
                "applications/create",
                json!({"input": {"name": name, "ownerEmail": "x@example.com"}}),
            )
            .await;
        assert_eq!(code, 200);
    }
    let (_, saved, _) = s
        .call(
            "pipelines/save",
            json!({"pipeline": {"application": "one", "name": "P", "stages": []}}),
        )
        .await;
    let (code, body, _) = s
        .call("pipelines/save", json!({"pipeline": {"id": saved["id"], "application": "two", "name": "P", "stages": []}}))
        .await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["fields"][0]["field"], "id");
    let (_, still, _) = s
        .call("pipelines/list", json!({"application": "one"}))
        .await;
    assert_eq!(still.as_array().unwrap().len(), 1);
    s.stop().await;
}
