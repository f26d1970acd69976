//! Discovery, CRUD and the `Status` errors, validation, optimistic concurrency and generation,
//! and pagination with `limit` and `continue`.

use super::*;

#[tokio::test]
async fn discovery_documents_and_unserved_paths() {
    let api = cluster().await;
    let (code, version) = api.get("/version").await;
    assert_eq!((code, version["major"].as_str()), (200, Some("1")));
    let (_, core) = api.get("/api").await;
    assert_eq!(core["versions"], json!(["v1"]));
    assert!(core["serverAddressByClientCIDRs"].is_array());
    let (_, groups) = api.get("/apis").await;
    let names: Vec<&str> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    for g in ["apps", "networking.k8s.io", "autoscaling"] {
        assert!(names.contains(&g), "{g} in {names:?}");
    }
    let (_, apps) = api.get("/apis/apps/v1").await;
    let deployments = apps["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "deployments")
        .unwrap();
    assert_eq!(deployments["kind"], "Deployment");
    assert_eq!(deployments["namespaced"], true);
    assert_eq!(deployments["shortNames"], json!(["deploy"]));
    let scale = apps["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "deployments/scale")
        .unwrap();
    assert_eq!(
        (scale["group"].as_str(), scale["kind"].as_str()),
        (Some("autoscaling"), Some("Scale"))
    );
    let (code, body) = api.get("/apis/nothing/v9/things").await;
    assert_eq!((code, body), (404, json!("404 page not found\n")));
}

#[tokio::test]
async fn create_get_list_and_the_status_errors() {
    let api = cluster().await;
    api.namespace("prod").await;
    let (code, created) = api
        .post(DEPLOYMENTS, deployment("web", "nginx:1.27", 0))
        .await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["metadata"]["generation"], 1);
    assert!(
        created["metadata"]["uid"].is_string()
            && created["metadata"]["resourceVersion"].is_string()
    );
    assert_eq!(
        created["spec"]["strategy"]["rollingUpdate"]["maxSurge"],
        "25%"
    );
    assert_eq!(created["spec"]["revisionHistoryLimit"], 10);
    let (code, again) = api
        .post(DEPLOYMENTS, deployment("web", "nginx:1.27", 0))
        .await;
    assert_eq!(
        (code, again["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );
    assert_eq!(again["message"], "deployments.apps \"web\" already exists");
    let (code, missing) = api.get(&format!("{DEPLOYMENTS}/nope")).await;
    assert_eq!(code, 404);
    assert_eq!(
        missing,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "deployments.apps \"nope\" not found", "reason": "NotFound",
        "details": {"name": "nope", "group": "apps", "kind": "deployments"}, "code": 404})
    );
    let (_, one) = api.get(&format!("{DEPLOYMENTS}/web")).await;
    assert_eq!(
        (one["apiVersion"].as_str(), one["kind"].as_str()),
        (Some("apps/v1"), Some("Deployment"))
    );
    let (_, list) = api
        .get(&format!("{DEPLOYMENTS}?&labelSelector=app%3Dweb"))
        .await;
    assert_eq!(list["kind"], "DeploymentList");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(list["items"][0].get("apiVersion").is_none() && list["items"][0].get("kind").is_none());
    let (code, no_ns) = api
        .post(
            "/apis/apps/v1/namespaces/ghost/deployments",
            deployment("x", "nginx", 1),
        )
        .await;
    assert_eq!(
        (code, no_ns["message"].as_str()),
        (404, Some("namespaces \"ghost\" not found"))
    );
}

#[tokio::test]
async fn validation_failures_are_422_with_causes() {
    let api = cluster().await;
    api.namespace("prod").await;
    let mut bad = deployment("web", "nginx", 1);
    bad["spec"]["selector"] = json!({"matchLabels": {"app": "other"}});
    let (code, body) = api.post(DEPLOYMENTS, bad).await;
    assert_eq!((code, body["reason"].as_str()), (422, Some("Invalid")));
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Deployment.apps \"web\" is invalid: spec.template.metadata.labels"),
        "{body}"
    );
    assert_eq!(body["details"]["kind"], "Deployment");
    let mut zero = deployment("web", "nginx", 1);
    zero["spec"]["strategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}});
    let (code, body) = api.post(DEPLOYMENTS, zero).await;
    assert_eq!(code, 422);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("may not be 0 when `maxSurge` is 0")
    );
    let (code, body) = api.post(DEPLOYMENTS, deployment("Web_1", "nginx", 1)).await;
    assert_eq!(
        (code, body["details"]["causes"][0]["field"].as_str()),
        (422, Some("metadata.name"))
    );
}

#[tokio::test]
async fn optimistic_concurrency_generation_and_no_op_writes() {
    let api = cluster().await;
    api.namespace("prod").await;
    let (_, created) = api.post(DEPLOYMENTS, deployment("web", "nginx:1", 0)).await;
    let path = format!("{DEPLOYMENTS}/web");
    // The controller gives the first template revision 1; a template changed before it has seen
    // the first would itself be revision 1 (as on a real cluster), so the test waits for it.
    api.until(&path, |d| {
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    })
    .await;
    let mut stale = created.clone();
    stale["metadata"]["resourceVersion"] = json!("1");
    let (code, body) = api.put(&path, stale).await;
    assert_eq!((code, body["reason"].as_str()), (409, Some("Conflict")));
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("the object has been modified")
    );
    // The controllers write the Deployment's status meanwhile; a write of what was read a moment
    // earlier may then meet 409, and is read and written again (as clients do).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (current, same) = loop {
        let (_, current) = api.get(&path).await;
        let (code, same) = api.put(&path, current.clone()).await;
        if code == 200 {
            break (current, same);
        }
        assert_eq!(code, 409, "{same}");
        assert!(std::time::Instant::now() < deadline, "409 for 10 s: {same}");
    };
    assert_eq!(
        same["metadata"]["resourceVersion"], current["metadata"]["resourceVersion"],
        "a no-op write keeps the version"
    );
    let mut unconditional = current.clone();
    unconditional["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    unconditional["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    let (code, updated) = api.put(&path, unconditional).await;
    assert_eq!(code, 200);
    assert_eq!(
        updated["metadata"]["generation"].as_i64(),
        current["metadata"]["generation"].as_i64().map(|g| g + 1)
    );
    // The controller records the new revision in an annotation; relabel the object as it is then.
    let updated = api
        .until(&path, |d| {
            d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
        })
        .await;
    let mut labels_only = updated.clone();
    labels_only["metadata"]["labels"]["extra"] = json!("x");
    labels_only["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    let (_, relabelled) = api.put(&path, labels_only).await;
    assert_eq!(
        relabelled["metadata"]["generation"], updated["metadata"]["generation"],
        "labels do not count as desired state"
    );
    let mut renamed = relabelled.clone();
    renamed["metadata"]["name"] = json!("other");
    let (code, body) = api.put(&path, renamed).await;
    assert_eq!(code, 400);
    assert_eq!(
        body["message"],
        "the name of the object (other) does not match the name on the URL (web)"
    );
}

#[tokio::test]
async fn pagination_with_limit_and_continue() {
    let api = cluster().await;
    api.namespace("prod").await;
    for n in 0..5 {
        api.post(
            "/api/v1/namespaces/prod/configmaps",
            json!({"metadata": {"name": format!("c{n}")}}),
        )
        .await;
    }
    let (_, page) = api.get("/api/v1/namespaces/prod/configmaps?&limit=2").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["metadata"]["remainingItemCount"], 3);
    let mut names: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    let mut token = page["metadata"]["continue"].as_str().unwrap().to_owned();
    let first_rv = page["metadata"]["resourceVersion"].clone();
    // A write while paging: the pages still answer at the first page's version, so a watch
    // from there brings it (and whatever else changed among the objects already paged past).
    api.post(
        "/api/v1/namespaces/prod/configmaps",
        json!({"metadata": {"name": "a-late"}}),
    )
    .await;
    loop {
        let (_, next) = api
            .get(&format!(
                "/api/v1/namespaces/prod/configmaps?&limit=2&continue={token}"
            ))
            .await;
        assert_eq!(next["metadata"]["resourceVersion"], first_rv);
        names.extend(
            next["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["metadata"]["name"].as_str().unwrap().to_owned()),
        );
        match next["metadata"]["continue"].as_str() {
            Some(t) => token = t.to_owned(),
            None => break,
        }
    }
    assert_eq!(names, ["c0", "c1", "c2", "c3", "c4"]);
}
