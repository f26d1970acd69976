//! Watches: resuming, bookmarks, filtered watches and expiry.

use super::*;

async fn read_lines(response: reqwest::Response, count: usize, within: Duration) -> Vec<Value> {
    let mut stream = response.bytes_stream();
    let mut buffer = Vec::new();
    let mut lines = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    while lines.len() < count {
        let chunk = match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(c))) => c,
            _ => break,
        };
        buffer.extend_from_slice(&chunk);
        while let Some(i) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=i).collect();
            lines.push(serde_json::from_slice(&line).unwrap());
        }
    }
    lines
}

#[tokio::test]
async fn watches_resume_bookmark_filter_and_expire() {
    let api = cluster().await;
    api.namespace("prod").await;
    api.post(
        "/api/v1/namespaces/prod/configmaps",
        json!({"metadata": {"name": "a", "labels": {"team": "x"}}, "data": {"k": "1"}}),
    )
    .await;
    let (_, list) = api.get("/api/v1/namespaces/prod/configmaps").await;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();

    // From the list's version: only later changes, newline-delimited, then bookmarks.
    let url = format!(
        "{}/api/v1/namespaces/prod/configmaps?&watch=true&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=5",
        api.base
    );
    let watch = api.http.get(url).send().await.unwrap();
    assert_eq!(watch.status().as_u16(), 200);
    api.post(
        "/api/v1/namespaces/prod/configmaps",
        json!({"metadata": {"name": "b"}, "data": {}}),
    )
    .await;
    api.patch(
        "/api/v1/namespaces/prod/configmaps/a",
        "application/merge-patch+json",
        json!({"data": {"k": "2"}}),
    )
    .await;
    api.delete("/api/v1/namespaces/prod/configmaps/b", None)
        .await;
    let lines = read_lines(watch, 4, Duration::from_secs(5)).await;
    let kinds: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["ADDED", "MODIFIED", "DELETED", "BOOKMARK"],
        "{lines:#?}"
    );
    assert_eq!(lines[0]["object"]["kind"], "ConfigMap");
    assert_eq!(lines[3]["object"]["apiVersion"], "v1");
    assert!(lines[3]["object"]["metadata"]["resourceVersion"].is_string());

    // Version 0: synthetic ADDED for what exists. A label selector turns "stops matching" into DELETED.
    let url = format!(
        "{}/api/v1/namespaces/prod/configmaps?&watch=true&resourceVersion=0&labelSelector=team%3Dx",
        api.base
    );
    let watch = api.http.get(url).send().await.unwrap();
    api.patch(
        "/api/v1/namespaces/prod/configmaps/a",
        "application/merge-patch+json",
        json!({"metadata": {"labels": {"team": "y"}}}),
    )
    .await;
    let lines = read_lines(watch, 2, Duration::from_secs(5)).await;
    assert_eq!(
        lines
            .iter()
            .map(|l| l["type"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["ADDED", "DELETED"]
    );

    // sendInitialEvents: current state, then a bookmark marking its end.
    let url = format!(
        "{}/api/v1/namespaces/prod/configmaps?&watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true",
        api.base
    );
    let lines = read_lines(
        api.http.get(url).send().await.unwrap(),
        2,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(lines[1]["type"], "BOOKMARK");
    assert_eq!(
        lines[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );

    // Forced expiry: open watches get ERROR 410, and old versions are refused the same way.
    let url = format!(
        "{}/api/v1/namespaces/prod/configmaps?&watch=true&resourceVersion={rv}",
        api.base
    );
    let watch = api.http.get(&url).send().await.unwrap();
    api.http
        .post(format!("{}/simulator/expire-watches", api.base))
        .send()
        .await
        .unwrap();
    let lines = read_lines(watch, 10, Duration::from_secs(5)).await;
    let last = lines.last().unwrap();
    assert_eq!(
        (
            last["type"].as_str(),
            last["object"]["code"].as_i64(),
            last["object"]["reason"].as_str()
        ),
        (Some("ERROR"), Some(410), Some("Expired"))
    );
    let lines = read_lines(
        api.http.get(&url).send().await.unwrap(),
        10,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0]["object"]["message"]
            .as_str()
            .unwrap()
            .starts_with("too old resource version")
    );

    // timeoutSeconds ends the stream without an error.
    let url = format!(
        "{}/api/v1/namespaces/prod/configmaps?&watch=true&resourceVersion={}&timeoutSeconds=1",
        api.base,
        api.get("/api/v1/namespaces/prod/configmaps").await.1["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
    );
    let started = Instant::now();
    let lines = read_lines(
        api.http.get(url).send().await.unwrap(),
        1,
        Duration::from_secs(5),
    )
    .await;
    assert!(lines.is_empty() && started.elapsed() < Duration::from_secs(4));
}
