//! The simulator against `shared/reference/kubernetes-api.md`, point by point, over HTTP.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use kubernetes_simulator::{Config, RunningCluster, Timing};
use serde_json::{Value, json};

struct Api {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
    _cluster: RunningCluster,
}

async fn cluster_with(token: Option<&str>) -> Api {
    let config = Config {
        token: token.map(str::to_owned),
        timing: Timing {
            pod_ready_after: Duration::from_millis(60),
            slow_ready_after: Duration::from_secs(3),
            crash_every: Duration::from_millis(100),
            nodes: vec!["node-a".into(), "node-b".into()],
        },
        bookmark_every: Duration::from_millis(200),
        tick: Duration::from_millis(20),
        ..Config::default()
    };
    let cluster = kubernetes_simulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    Api {
        base: cluster.url.clone(),
        token: cluster.token.clone(),
        http: reqwest::Client::new(),
        _cluster: cluster,
    }
}

async fn cluster() -> Api {
    cluster_with(None).await
}

impl Api {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("content-type", content_type);
        if let Some(t) = &self.token {
            request = request.bearer_auth(t);
        }
        if let Some(b) = body {
            request = request.body(b.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, "application/json", None)
            .await
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, "application/json", Some(body))
            .await
    }
    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, path, "application/json", Some(body))
            .await
    }
    async fn patch(&self, path: &str, content_type: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PATCH, path, content_type, Some(body))
            .await
    }
    async fn delete(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path, "application/json", body)
            .await
    }
    async fn namespace(&self, name: &str) {
        let (code, _) = self
            .post("/api/v1/namespaces", json!({"metadata": {"name": name}}))
            .await;
        assert_eq!(code, 201);
    }
    /// Polls `path` until `check` holds, for at most 10 s.
    async fn until(&self, path: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, v) = self.get(path).await;
            if check(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting on {path}; last: {v:#}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn deployment(name: &str, image: &str, replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "main", "image": image}]}}}})
}

const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/prod/deployments";

fn rolled_out(d: &Value) -> bool {
    let s = &d["status"];
    let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
    let n = |f: &str| s[f].as_i64().unwrap_or(0);
    s["observedGeneration"] == d["metadata"]["generation"]
        && n("updatedReplicas") == replicas
        && n("replicas") == replicas
        && n("availableReplicas") == replicas
        && n("readyReplicas") == replicas
}

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
    let (_, current) = api.get(&path).await;
    let (code, same) = api.put(&path, current.clone()).await;
    assert_eq!(code, 200);
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

    // `kubectl rollout undo`: JSON patch the old template back; the old ReplicaSet becomes revision 3.
    let mut template = old["spec"]["template"].clone();
    template["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("pod-template-hash");
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
    loop {
        let (_, next) = api
            .get(&format!(
                "/api/v1/namespaces/prod/configmaps?&limit=2&continue={token}"
            ))
            .await;
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

#[tokio::test]
async fn bearer_tokens_faults_and_logs() {
    let api = cluster_with(Some("s3cret")).await;
    let anonymous = reqwest::get(format!("{}/api/v1/namespaces", api.base))
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(
        (body["kind"].as_str(), body["reason"].as_str()),
        (Some("Status"), Some("Unauthorized"))
    );
    assert_eq!(
        reqwest::get(format!("{}/version", api.base))
            .await
            .unwrap()
            .status()
            .as_u16(),
        200,
        "/version is public"
    );
    let (code, _) = api.get("/api/v1/namespaces").await;
    assert_eq!(code, 200);
    api.http
        .post(format!("{}/simulator/faults", api.base))
        .body(json!({"failNext": 2, "status": 503}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(api.get("/api/v1/namespaces").await.0, 503);
    let (code, body) = api.get("/api/v1/namespaces").await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (503, Some("ServiceUnavailable"))
    );
    assert_eq!(api.get("/api/v1/namespaces").await.0, 200);

    api.namespace("prod").await;
    api.post(DEPLOYMENTS, deployment("web", "registry.local/web:7", 1))
        .await;
    let pods = api
        .until("/api/v1/namespaces/prod/pods", |p| {
            p["items"][0]["status"]["phase"] == "Running"
        })
        .await;
    let name = pods["items"][0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, log) = api
        .get(&format!("/api/v1/namespaces/prod/pods/{name}/log"))
        .await;
    assert_eq!(code, 200);
    let log = log.as_str().unwrap();
    assert!(
        log.contains(&name) && log.contains("registry.local/web:7"),
        "{log}"
    );
    let (code, _) = api
        .get(&format!(
            "/api/v1/namespaces/prod/pods/{name}/log?&container=nope"
        ))
        .await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn https_with_a_certificate_authority_in_the_kubeconfig() {
    let config = Config {
        https: true,
        token: Some("t0ken".into()),
        ..Config::default()
    };
    let cluster = kubernetes_simulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    assert!(cluster.url.starts_with("https://127.0.0.1:"));
    let ca = cluster.ca_pem.clone().unwrap();
    let kubeconfig = cluster.kubeconfig("sim", "default");
    assert!(
        kubeconfig.contains("certificate-authority-data: "),
        "{kubeconfig}"
    );
    // A client that does not trust the simulator's CA is refused at the handshake.
    let untrusting = reqwest::Client::builder().build().unwrap();
    assert!(
        untrusting
            .get(format!("{}/version", cluster.url))
            .send()
            .await
            .is_err()
    );
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
        .build()
        .unwrap();
    let version = trusting
        .get(format!("{}/version", cluster.url))
        .bearer_auth("t0ken")
        .send()
        .await
        .unwrap();
    assert_eq!(version.status().as_u16(), 200);
    let anonymous = trusting
        .get(format!("{}/api/v1/namespaces", cluster.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
}
