//! The patch flavours and their errors, server-side apply, and the `/scale` and `/status` subresources.

use super::*;

#[tokio::test]
async fn patch_flavours_and_their_errors() {
    let api = cluster().await;
    api.namespace("prod").await;
    api.post(DEPLOYMENTS, deployment("web", "nginx:1", 0)).await;
    let path = format!("{DEPLOYMENTS}/web");
    let (code, body) = api.patch(&path, "text/plain", json!({})).await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (415, Some("UnsupportedMediaType"))
    );
    let (code, body) = api
        .patch(
            &format!("{path}?&force=true"),
            "application/merge-patch+json",
            json!({}),
        )
        .await;
    assert_eq!(code, 422);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("force: Forbidden")
    );
    let (code, body) = api
        .patch(
            &path,
            "application/apply-patch+yaml",
            deployment("web", "nginx:1", 0),
        )
        .await;
    assert_eq!(code, 422);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("fieldManager: Required value")
    );
    let (code, _) = api
        .patch(
            &format!("{DEPLOYMENTS}/absent"),
            "application/merge-patch+json",
            json!({}),
        )
        .await;
    assert_eq!(code, 404);
    // Strategic merge keeps the other container; merge patch would replace the list.
    api.patch(&path, "application/strategic-merge-patch+json", json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "envoy:1"}]}}}})).await;
    let (_, d) = api.get(&path).await;
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    api.patch(&path, "application/merge-patch+json", json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:3"}]}}}})).await;
    let (_, d) = api.get(&path).await;
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (code, _) = api
        .patch(
            &path,
            "application/merge-patch+json",
            json!({"metadata": {"resourceVersion": "5"}, "spec": {"replicas": 2}}),
        )
        .await;
    assert_eq!(
        code, 409,
        "a resourceVersion in the patch is a precondition"
    );
}

#[tokio::test]
async fn server_side_apply_creates_owns_conflicts_and_forces() {
    let api = cluster().await;
    api.namespace("prod").await;
    let path = format!("{DEPLOYMENTS}/api?&fieldManager=topsail");
    let (code, created) = api
        .patch(
            &path,
            "application/apply-patch+yaml",
            deployment("api", "api:1", 2),
        )
        .await;
    assert_eq!(code, 201, "{created}");
    let managers: Vec<&str> = created["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert_eq!(managers, ["topsail"]);
    assert_eq!(
        created["metadata"]["managedFields"][0]["operation"],
        "Apply"
    );
    let (code, same) = api
        .patch(
            &path,
            "application/apply-patch+yaml",
            deployment("api", "api:1", 2),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(
        same["metadata"]["generation"], 1,
        "re-applying the same config changes nothing"
    );
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}});
    let cm = "/api/v1/namespaces/prod/configmaps/settings?&fieldManager=topsail";
    let (_, first) = api
        .patch(cm, "application/apply-patch+yaml", config.clone())
        .await;
    let (_, second) = api.patch(cm, "application/apply-patch+yaml", config).await;
    assert_eq!(
        first["metadata"]["resourceVersion"],
        second["metadata"]["resourceVersion"]
    );
    // Someone scales by hand; Topsail's next apply of another replica count conflicts.
    api.patch(
        &format!("{DEPLOYMENTS}/api/scale?&fieldManager=kubectl"),
        "application/merge-patch+json",
        json!({"spec": {"replicas": 5}}),
    )
    .await;
    let (code, conflict) = api
        .patch(
            &path,
            "application/apply-patch+yaml",
            deployment("api", "api:1", 2),
        )
        .await;
    assert_eq!(
        (code, conflict["reason"].as_str()),
        (409, Some("Conflict")),
        "{conflict}"
    );
    assert_eq!(conflict["details"]["causes"][0]["field"], ".spec.replicas");
    assert!(
        conflict["message"]
            .as_str()
            .unwrap()
            .starts_with("Apply failed with 1 conflict: conflict with \"kubectl\"")
    );
    let (code, forced) = api
        .patch(
            &format!("{path}&force=true"),
            "application/apply-patch+yaml",
            deployment("api", "api:1", 2),
        )
        .await;
    assert_eq!((code, forced["spec"]["replicas"].as_i64()), (200, Some(2)));
    let mut wrong = deployment("api", "api:1", 2);
    wrong["apiVersion"] = json!("apps/v2");
    let (code, body) = api
        .patch(&path, "application/apply-patch+yaml", wrong)
        .await;
    assert_eq!(code, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Incorrect version specified in apply patch")
    );
}

#[tokio::test]
async fn scale_and_status_subresources() {
    let api = cluster().await;
    api.namespace("prod").await;
    api.post(DEPLOYMENTS, deployment("web", "nginx:1", 1)).await;
    let (code, scale) = api.get(&format!("{DEPLOYMENTS}/web/scale")).await;
    assert_eq!(
        (code, scale["kind"].as_str(), scale["apiVersion"].as_str()),
        (200, Some("Scale"), Some("autoscaling/v1"))
    );
    assert_eq!(scale["status"]["selector"], "app=web");
    let (code, scaled) = api.put(&format!("{DEPLOYMENTS}/web/scale"), json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {"name": "web"}, "spec": {"replicas": 4}})).await;
    assert_eq!((code, scaled["spec"]["replicas"].as_i64()), (200, Some(4)));
    api.until(&format!("{DEPLOYMENTS}/web"), |d| {
        rolled_out(d) && d["spec"]["replicas"] == 4
    })
    .await;
    // A status write keeps the spec.
    let (_, d) = api.get(&format!("{DEPLOYMENTS}/web")).await;
    let mut tampered = d.clone();
    tampered["spec"]["replicas"] = json!(9);
    let (code, written) = api
        .put(&format!("{DEPLOYMENTS}/web/status"), tampered)
        .await;
    assert_eq!((code, written["spec"]["replicas"].as_i64()), (200, Some(4)));
}
