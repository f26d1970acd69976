//! A webhook source with a shared secret: deliveries without it (or with a wrong signature) are
//! refused with 401 and start nothing; signed ones start their pipelines. Webhooks need no
//! signed-in user (they are for other systems), also under Gate's prefix.

use serde_json::{Value, json};

use crate::support::{Backend, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_deliveries_with_the_sources_secret_start_pipelines() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("github-secret");
    std::fs::write(&secret_file, "s3cret\n").unwrap();
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.webhooks = vec![
            server::config::WebhookSourceConfig {
                source: "github".into(),
                secret_env: None,
                secret_file: None,
                secret: Some(server::config::Secret::new("s3cret")),
                signature_header: Some("X-Hub-Signature-256".into()),
                token_header: "X-Webhook-Token".into(),
            },
            server::config::WebhookSourceConfig {
                source: "gitlab".into(),
                secret_env: None,
                secret_file: Some(secret_file.clone()),
                secret: Some(server::config::Secret::new("s3cret")),
                signature_header: None,
                token_header: "X-Gitlab-Token".into(),
            },
        ];
    })
    .await;
    let (code, _, _) = s
        .call(
            "applications/create",
            json!({"input": {"name": "shop", "ownerEmail": "ops@example.com"}}),
        )
        .await;
    assert_eq!(code, 200);
    for source in ["github", "gitlab"] {
        let (code, body, _) = s
            .call(
                "pipelines/save",
                json!({"pipeline": {"application": "shop", "name": format!("On {source}"),
                "triggers": [{"type": "webhook", "source": source, "enabled": true}],
                "stages": [{"refId": "1", "type": "wait", "name": "W", "waitTime": 0}]}}),
            )
            .await;
        assert_eq!(code, 200, "{body}");
    }
    let anon = reqwest::Client::new();
    let body = br#"{"ref":"main"}"#.to_vec();
    let post = |path: &'static str, headers: Vec<(&'static str, String)>| {
        let (anon, url, body) = (anon.clone(), format!("{}{path}", s.base), body.clone());
        async move {
            let mut r = anon
                .post(url)
                .header("content-type", "application/json")
                .body(body);
            for (k, v) in headers {
                r = r.header(k, v);
            }
            let res = r.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let signature = format!(
        "sha256={}",
        server::identity::secrets::hmac_sha256_hex(b"s3cret", &body)
    );
    let (code, _) = post("/webhooks/webhook/github", vec![]).await;
    assert_eq!(code, 401, "unsigned");
    let (code, _) = post(
        "/webhooks/webhook/github",
        vec![("X-Hub-Signature-256", "sha256=00".into())],
    )
    .await;
    assert_eq!(code, 401, "wrong signature");
    let (code, answer) = post(
        "/gate/webhooks/webhook/github",
        vec![("X-Hub-Signature-256", signature)],
    )
    .await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(
        answer["executionIds"].as_array().unwrap().len(),
        1,
        "{answer}"
    );
    let (code, _) = post(
        "/webhooks/webhook/gitlab",
        vec![("X-Gitlab-Token", "nope".into())],
    )
    .await;
    assert_eq!(code, 401);
    let (code, answer) = post(
        "/webhooks/webhook/gitlab",
        vec![("X-Gitlab-Token", "s3cret".into())],
    )
    .await;
    assert_eq!(
        (code, answer["executionIds"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{answer}"
    );
    let (_, runs, _) = s
        .call("executions/list", json!({"application": "shop"}))
        .await;
    assert_eq!(
        runs.as_array().unwrap().len(),
        2,
        "refused deliveries started nothing"
    );
    s.stop().await;
}
