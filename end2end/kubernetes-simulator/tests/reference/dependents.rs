//! Deletion with background or foreground cascades, and Endpoints that follow ready pods.

use super::*;

#[tokio::test]
async fn deletes_cascade_in_the_background_or_wait_in_the_foreground() {
    let api = cluster().await;
    api.namespace("prod").await;
    api.post(DEPLOYMENTS, deployment("web", "nginx:1", 2)).await;
    api.until(&format!("{DEPLOYMENTS}/web"), rolled_out).await;
    let (code, status) = api.delete(&format!("{DEPLOYMENTS}/web"), None).await;
    assert_eq!(code, 200);
    assert_eq!(
        (
            status["kind"].as_str(),
            status["status"].as_str(),
            status["details"]["kind"].as_str()
        ),
        (Some("Status"), Some("Success"), Some("deployments"))
    );
    api.until("/api/v1/namespaces/prod/pods", |p| {
        p["items"].as_array().is_some_and(Vec::is_empty)
    })
    .await;
    api.until("/apis/apps/v1/namespaces/prod/replicasets", |p| {
        p["items"].as_array().is_some_and(Vec::is_empty)
    })
    .await;

    api.post(DEPLOYMENTS, deployment("api", "api:1", 1)).await;
    api.until(&format!("{DEPLOYMENTS}/api"), rolled_out).await;
    let (code, marked) = api
        .delete(
            &format!("{DEPLOYMENTS}/api"),
            Some(json!({"propagationPolicy": "Foreground"})),
        )
        .await;
    assert_eq!(code, 200);
    assert!(
        marked["metadata"]["deletionTimestamp"].is_string(),
        "{marked}"
    );
    assert_eq!(
        marked["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
    api.until(&format!("{DEPLOYMENTS}/api"), |d| d["code"] == 404)
        .await;
    let (_, pods) = api.get("/api/v1/namespaces/prod/pods").await;
    assert!(pods["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn services_get_endpoints_from_ready_pods() {
    let api = cluster().await;
    api.namespace("prod").await;
    api.post(DEPLOYMENTS, deployment("web", "nginx:1", 2)).await;
    let (code, svc) = api.post("/api/v1/namespaces/prod/services", json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}})).await;
    assert_eq!(code, 201);
    assert_eq!(svc["spec"]["type"], "ClusterIP");
    assert!(svc["spec"]["clusterIP"].is_string());
    let ep = api
        .until("/api/v1/namespaces/prod/endpoints/web", |e| {
            e["subsets"][0]["addresses"]
                .as_array()
                .is_some_and(|a| a.len() == 2)
        })
        .await;
    assert_eq!(ep["subsets"][0]["ports"][0]["port"], 8080);
    assert_eq!(ep["subsets"][0]["addresses"][0]["targetRef"]["kind"], "Pod");
    api.delete("/api/v1/namespaces/prod/services/web", None)
        .await;
    api.until("/api/v1/namespaces/prod/endpoints/web", |e| {
        e["code"] == 404
    })
    .await;
}
