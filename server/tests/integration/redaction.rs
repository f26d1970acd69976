//! Secrets a pipeline carries (a webhook stage's `Authorization` header, credentials in URLs,
//! a chat webhook's path) are used, but never shown: not in execution answers, not to the
//! expression debugger.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Backend, TestServer, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_and_url_secrets_are_used_but_not_shown() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/{*rest}",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let record = record.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                record.lock().unwrap().push(auth);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let s = TestServer::start(Backend::Sqlite).await;
    s.create_application("shop").await;
    let hook = format!("{base}/services/T0/B0/chat-secret").replace("http://", "http://ci:pw-456@");
    let call = format!("{base}/deploy?api_key=k-123&env=prod");
    let (code, saved, _) = s
        .call("pipelines/save", json!({"pipeline": {"application": "shop", "name": "P",
            "notifications": [{"type": "webhook", "address": hook, "when": ["pipeline.complete"]}],
            "stages": [{"refId": "1", "type": "webhook", "name": "Call", "url": call, "method": "POST",
                "customHeaders": {"Authorization": "Bearer tok-789", "X-Env": "prod"}}]}}))
        .await;
    assert_eq!(code, 200, "{saved}");
    let (_, id, _) = s
        .call(
            "executions/start",
            json!({"application": "shop", "name": "P"}),
        )
        .await;
    let e: Value = eventually("the run to finish", Duration::from_secs(20), || async {
        let (_, e, _) = s.call("executions/get", json!({"id": id})).await;
        (e["status"] == "SUCCEEDED").then_some(e)
    })
    .await;
    assert!(
        seen.lock().unwrap().contains(&"Bearer tok-789".to_owned()),
        "the secret was used: {:?}",
        seen.lock().unwrap()
    );
    let shown = e.to_string();
    for secret in ["tok-789", "pw-456", "k-123", "chat-secret"] {
        assert!(!shown.contains(secret), "{secret} shown: {shown}");
    }
    assert_eq!(e["stages"][0]["context"]["customHeaders"]["X-Env"], "prod");
    let (_, listed, _) = s
        .call("executions/list", json!({"application": "shop"}))
        .await;
    assert!(!listed.to_string().contains("tok-789"));
    let (code, value, _) = s
        .call("executions/evaluate", json!({"id": id, "expression": "${execution.stages[0].context.customHeaders.Authorization}"}))
        .await;
    assert_eq!((code, value), (200, json!("[redacted]")));
    s.stop().await;
}

/// A pipeline's own secrets are shown redacted too (get, Gate's pipelineConfigs, history);
/// saving the document back as shown keeps them, and the run still uses them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_secrets_are_shown_redacted_and_kept_when_saved_back() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let record = record.clone();
        async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            record.lock().unwrap().push(auth);
            axum::http::StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let s = TestServer::start(Backend::Sqlite).await;
    s.create_application("shop").await;
    let hook = format!("{base}/services/T0/B0/chat-secret");
    let (code, saved, _) = s
        .call("pipelines/save", json!({"pipeline": {"application": "shop", "name": "P",
            "notifications": [{"type": "webhook", "address": hook, "when": ["pipeline.complete"]}],
            "stages": [{"refId": "1", "type": "webhook", "name": "Call", "url": format!("{base}/deploy"), "method": "POST",
                "customHeaders": {"Authorization": "Bearer tok-789"}}]}}))
        .await;
    assert_eq!(code, 200, "{saved}");
    let (_, detail, _) = s
        .call("pipelines/get", json!({"application": "shop", "name": "P"}))
        .await;
    let shown = detail["document"].clone();
    for secret in ["tok-789", "chat-secret"] {
        assert!(
            !shown.to_string().contains(secret),
            "{secret} shown: {shown}"
        );
    }
    let gate = s
        .client
        .get(format!("{}/gate/applications/shop/pipelineConfigs", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!gate.contains("tok-789"), "{gate}");

    // Saved back as shown, with another change: the secrets stay.
    let mut edited = shown.clone();
    edited["description"] = json!("edited");
    let (code, body, _) = s.call("pipelines/save", json!({"pipeline": edited})).await;
    assert_eq!(code, 200, "{body}");
    let (_, history, _) = s
        .call("pipelines/history", json!({"id": saved["id"]}))
        .await;
    assert!(!history.to_string().contains("tok-789"));
    let (_, id, _) = s
        .call(
            "executions/start",
            json!({"application": "shop", "name": "P"}),
        )
        .await;
    eventually("the run to finish", Duration::from_secs(20), || async {
        let (_, e, _) = s.call("executions/get", json!({"id": id})).await;
        let delivered = e["notificationDeliveries"][0]["state"] == "delivered";
        (e["status"] == "SUCCEEDED" && delivered).then_some(())
    })
    .await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.first().map(String::as_str),
        Some("Bearer tok-789"),
        "{seen:?}"
    );
    assert_eq!(
        seen.len(),
        2,
        "the stage's call and the notification to the kept address"
    );
    s.stop().await;
}
