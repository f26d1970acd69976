//! The outbound policy as a pipeline meets it: under the default `[outbound]`, a webhook stage
//! or a notification aimed at this machine or at a cloud metadata address is refused (the stage
//! fails saying so, the receiver never hears of it); listed in `allow`, the same call goes out.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Backend, TestServer, eventually};

/// A receiver on 127.0.0.1 counting the requests it gets.
async fn receiver() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let counted = counted.clone();
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, hits)
}

async fn run(s: &TestServer, name: &str, url: &str, notify: &str) -> Value {
    let (code, saved, _) = s
        .call("pipelines/save", json!({"pipeline": {"application": "shop", "name": name,
            "notifications": [{"type": "webhook", "address": notify, "when": ["pipeline.starting"]}],
            "stages": [{"refId": "1", "type": "webhook", "name": "Call", "url": url, "method": "POST"}]}}))
        .await;
    assert_eq!(code, 200, "{saved}");
    let (code, id, _) = s
        .call(
            "executions/start",
            json!({"application": "shop", "name": name}),
        )
        .await;
    assert_eq!(code, 200, "{id}");
    eventually("the run to finish", Duration::from_secs(20), || async {
        let (_, e, _) = s.call("executions/get", json!({"id": id})).await;
        let delivered = e["notificationDeliveries"]
            .as_array()
            .is_some_and(|d| !d.is_empty());
        (matches!(e["status"].as_str(), Some("SUCCEEDED" | "TERMINAL")) && delivered).then_some(e)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_and_metadata_addresses_are_refused_by_default() {
    let (base, hits) = receiver().await;
    let s = TestServer::start_with(Backend::Sqlite, |c| c.outbound = Default::default()).await;
    s.create_application("shop").await;
    let e = run(
        &s,
        "Local",
        &format!("{base}/deploy"),
        &format!("{base}/notify"),
    )
    .await;
    assert_eq!(e["status"], "TERMINAL", "{e}");
    let reason = e["stages"][0]["context"]["exception"]["details"]["errors"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        reason,
        "the webhook was not called: address 127.0.0.1 is not allowed by the outbound policy"
    );
    let delivery = &e["notificationDeliveries"][0];
    assert!(
        delivery["error"]
            .as_str()
            .is_some_and(|m| m.contains("not allowed by the outbound policy")),
        "{delivery}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the receiver heard nothing");

    let e = run(
        &s,
        "Metadata",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        &format!("{base}/notify"),
    )
    .await;
    assert_eq!(e["status"], "TERMINAL");
    assert!(
        e["stages"][0]["context"]["exception"]["details"]["errors"][0]
            .as_str()
            .is_some_and(|m| m.contains("address 169.254.169.254 is not allowed")),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listed_addresses_are_called() {
    let (base, hits) = receiver().await;
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.outbound.allow = vec!["127.0.0.0/8".into()];
    })
    .await;
    s.create_application("shop").await;
    let e = run(
        &s,
        "Local",
        &format!("{base}/deploy"),
        &format!("{base}/notify"),
    )
    .await;
    assert_eq!(e["status"], "SUCCEEDED", "{e}");
    assert_eq!(e["notificationDeliveries"][0]["state"], "delivered", "{e}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        2,
        "the stage's call and the notification"
    );
}
