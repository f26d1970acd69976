//! Deployment rollouts: RollingUpdate and rollback, Recreate, and rollouts that fail on crash loops
//! or unpullable images.

use super::*;

#[tokio::test]
async fn a_deployment_rolls_out_updates_and_rolls_back() {
    let api = cluster().await;
    api.namespace("prod").await;
    let path = format!("{DEPLOYMENTS}/web");
    let (code, _) = api.post(DEPLOYMENTS, deployment("web", "nginx:1", 3)).await;
    assert_eq!(code, 201);
    let d = api.until(&path, rolled_out).await;
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    let progressing = d["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Progressing")
        .unwrap()
        .clone();
    assert_eq!(progressing["reason"], "NewReplicaSetAvailable");
    let available = d["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Available")
        .unwrap()
        .clone();
    assert_eq!(
        (available["status"].as_str(), available["reason"].as_str()),
        (Some("True"), Some("MinimumReplicasAvailable"))
    );
    let (_, sets) = api
        .get("/apis/apps/v1/namespaces/prod/replicasets?&labelSelector=app%3Dweb")
        .await;
    let first = sets["items"][0].clone();
    let rs_name = first["metadata"]["name"].as_str().unwrap().to_owned();
    let hash = first["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(rs_name, format!("web-{hash}"));
    assert_eq!(
        first["metadata"]["ownerReferences"][0]["uid"],
        d["metadata"]["uid"]
    );
    assert_eq!(
        first["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"],
        "4"
    );
    let (_, pods) = api
        .get(&format!(
            "/api/v1/namespaces/prod/pods?&labelSelector=pod-template-hash%3D{hash}"
        ))
        .await;
    assert_eq!(pods["items"].as_array().unwrap().len(), 3);
    assert!(
        pods["items"][0]["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{rs_name}-"))
    );

    // A new image: a second ReplicaSet at revision 2, never more than replicas + surge pods.
    let (code, _) = api
        .patch(&path, "application/strategic-merge-patch+json", json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:2"}]}}}}))
        .await;
    assert_eq!(code, 200);
    let d = api
        .until(&path, |d| {
            rolled_out(d)
                && d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
        })
        .await;
    assert_eq!(d["metadata"]["generation"], 2);
    let (_, sets) = api
        .get("/apis/apps/v1/namespaces/prod/replicasets?&labelSelector=app%3Dweb")
        .await;
    let items = sets["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let old = items
        .iter()
        .find(|rs| rs["metadata"]["name"] == json!(rs_name))
        .unwrap();
    assert_eq!(old["spec"]["replicas"], 0);

    // `kubectl rollout undo`: JSON patch the old template back, as kubectl 1.32 sends it (with
    // `creationTimestamp: null`); the old ReplicaSet becomes revision 3, no third one is made.
    let mut template = old["spec"]["template"].clone();
    template["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("pod-template-hash");
    template["metadata"]["creationTimestamp"] = Value::Null;
    let (code, _) = api
        .patch(
            &path,
            "application/json-patch+json",
            json!([{"op": "replace", "path": "/spec/template", "value": template}]),
        )
        .await;
    assert_eq!(code, 200);
    api.until(&path, |d| {
        rolled_out(d) && d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    })
    .await;
    let (_, back) = api
        .get(&format!(
            "/apis/apps/v1/namespaces/prod/replicasets/{rs_name}"
        ))
        .await;
    assert_eq!(
        back["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );
    assert_eq!(
        back["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"],
        "1"
    );
    assert_eq!(back["spec"]["replicas"], 3);
    let (_, sets) = api
        .get("/apis/apps/v1/namespaces/prod/replicasets?&labelSelector=app%3Dweb")
        .await;
    assert_eq!(sets["items"].as_array().unwrap().len(), 2, "{sets}");
}

#[tokio::test]
async fn recreate_scales_old_pods_away_before_new_ones_start() {
    let api = cluster().await;
    api.namespace("prod").await;
    let mut d = deployment("batch", "worker:1", 2);
    d["spec"]["strategy"] = json!({"type": "Recreate"});
    api.post(DEPLOYMENTS, d).await;
    let path = format!("{DEPLOYMENTS}/batch");
    api.until(&path, rolled_out).await;
    api.patch(&path, "application/merge-patch+json", json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "worker:2"}]}}}})).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, pods) = api
            .get("/api/v1/namespaces/prod/pods?&labelSelector=app%3Dbatch")
            .await;
        let images: Vec<&str> = pods["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["spec"]["containers"][0]["image"].as_str().unwrap())
            .collect();
        assert!(
            !(images.contains(&"worker:1") && images.contains(&"worker:2")),
            "old and new pods together: {images:?}"
        );
        if images == ["worker:2", "worker:2"] {
            break;
        }
        assert!(Instant::now() < deadline, "{images:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn crash_looping_and_unpullable_images_fail_the_rollout() {
    let api = cluster().await;
    api.namespace("prod").await;
    let mut d = deployment("bad", "registry.local/crashloop:1", 1);
    d["spec"]["progressDeadlineSeconds"] = json!(1);
    api.post(DEPLOYMENTS, d).await;
    let pods = api
        .until(
            "/api/v1/namespaces/prod/pods?&labelSelector=app%3Dbad",
            |p| {
                p["items"][0]["status"]["containerStatuses"][0]["restartCount"]
                    .as_i64()
                    .unwrap_or(0)
                    >= 2
            },
        )
        .await;
    let status = &pods["items"][0]["status"]["containerStatuses"][0];
    assert_eq!(status["state"]["waiting"]["reason"], "CrashLoopBackOff");
    assert_eq!(status["ready"], false);
    let d = api
        .until(&format!("{DEPLOYMENTS}/bad"), |d| {
            d["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["reason"] == "ProgressDeadlineExceeded")
        })
        .await;
    let progressing = d["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Progressing")
        .unwrap()
        .clone();
    assert_eq!(progressing["status"], "False");
    api.post(
        DEPLOYMENTS,
        deployment("ghost", "registry.local/does-not-exist:1", 1),
    )
    .await;
    api.until(
        "/api/v1/namespaces/prod/pods?&labelSelector=app%3Dghost",
        |p| {
            p["items"][0]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
                == "ImagePullBackOff"
        },
    )
    .await;
    let (_, events) = api
        .get("/api/v1/namespaces/prod/events?&fieldSelector=reason%3DBackOff")
        .await;
    assert!(!events["items"].as_array().unwrap().is_empty());
}
