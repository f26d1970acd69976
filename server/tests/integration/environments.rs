//! The environments board against the Kubernetes simulator: deploys show in their environment
//! with who made them, a cell behind the one before it offers that build, "Promote" finds the
//! pipeline that deploys there and runs the very image, a change made in the cluster shows as
//! drift, a crash loop turns its cell red with the reason, the stream follows the cluster, and a
//! user sees only the applications they may read.

use std::time::Duration;

use serde_json::{Value, json};

use crate::kubernetes::{Sim, deployment, until_execution};
use crate::support::{Backend, TestServer, eventually, next_event};

async fn board(server: &TestServer) -> Value {
    let (code, body) = server.get("/api/environments").await;
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The board's cell of `shop` in `environment`, once `ready` says it is as wanted.
async fn cell_when(
    server: &TestServer,
    environment: &str,
    what: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    eventually(what, Duration::from_secs(20), || async {
        let b = board(server).await;
        let row = b["applications"]
            .as_array()?
            .iter()
            .find(|r| r["application"] == "shop")?
            .clone();
        let cell = row["environments"]
            .as_array()?
            .iter()
            .find(|c| c["environment"] == environment)?
            .clone();
        ready(&cell).then_some(cell)
    })
    .await
}

async fn run(server: &TestServer, pipeline: &str, trigger: Value) -> Value {
    let (code, id, _) = server
        .call(
            "executions/start",
            json!({"application": "shop", "name": pipeline, "trigger": trigger}),
        )
        .await;
    assert_eq!(code, 200, "{id}");
    until_execution(server, id.as_str().unwrap(), &["SUCCEEDED", "TERMINAL"]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_follows_deploys_promotions_drift_and_crash_loops() {
    let sim = Sim::start().await;
    sim.namespaces(&["shop-test", "shop-prod"]).await;
    let account = sim.account("k8s", &[]);
    let server =
        TestServer::start_with(Backend::Sqlite, |c| c.kubernetes.accounts = vec![account]).await;
    let (code, created, _) = server
        .call(
            "applications/create",
            json!({"input": {"name": "shop", "ownerEmail": "team@example.com", "team": "payments",
            "deployTargets": "k8s/shop-test\nk8s/shop-prod", "readRoles": "viewers"}}),
        )
        .await;
    assert_eq!(code, 200, "{created}");
    server.create_application("hidden").await;
    let deploy = |namespace: &str, image: &str| {
        json!({"refId": "1", "type": "deployManifest", "name": format!("Deploy to {namespace}"), "account": "k8s",
            "namespaceOverride": namespace, "manifests": [deployment("web", image, 2)]})
    };
    for (name, stage, parameters) in [
        (
            "to-test",
            deploy("shop-test", "${trigger.parameters.image}"),
            json!([{"name": "image", "default": "registry.local/shop/web:1.0"}]),
        ),
        (
            "to-prod",
            deploy("shop-prod", "registry.local/shop/web:placeholder"),
            json!([]),
        ),
    ] {
        let pipeline = json!({"application": "shop", "name": name, "parameterConfig": parameters, "stages": [stage]});
        let (code, saved, _) = server
            .call("pipelines/save", json!({"pipeline": pipeline}))
            .await;
        assert_eq!(code, 200, "{saved}");
    }

    // Deployed to test: the cell shows the image, health and who deployed it; prod, empty,
    // is offered test's build.
    let done = run(&server, "to-test", json!({"type": "manual"})).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done:#}");
    let test = cell_when(&server, "test", "test to be healthy", |c| {
        c["health"] == "healthy"
    })
    .await;
    let web = &test["workloads"][0];
    assert_eq!(
        (
            web["name"].clone(),
            web["ready"].clone(),
            web["desired"].clone()
        ),
        (json!("web"), json!(2), json!(2))
    );
    assert_eq!(web["images"][0]["tag"], "1.0");
    assert!(
        web["images"][0]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"),
        "{web}"
    );
    assert_eq!(web["deployed"]["executionId"], done["id"]);
    assert_eq!(
        (
            web["deployed"]["user"].clone(),
            web["deployed"]["pipelineName"].clone()
        ),
        (json!("admin"), json!("to-test"))
    );
    let b = board(&server).await;
    assert_eq!(b["environments"], json!(["test", "prod"]));
    let prod = &b["applications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["application"] == "shop")
        .unwrap()["environments"][1];
    assert_eq!(prod["health"], "missing");
    assert_eq!(prod["promotion"]["from"], "test");

    // Promote: the pipeline that deploys to prod, run with test's image as the trigger's artifact.
    let (code, choices, _) = server
        .call(
            "environments/promotion_pipelines",
            json!({"application": "shop", "environment": "prod"}),
        )
        .await;
    assert_eq!(code, 200, "{choices}");
    assert_eq!(
        choices,
        json!([{"id": choices[0]["id"], "name": "to-prod", "stagesBefore": []}])
    );
    let (code, nowhere, _) = server
        .call(
            "environments/promotion_pipelines",
            json!({"application": "shop", "environment": "qa"}),
        )
        .await;
    assert_eq!(code, 404, "{nowhere}");
    let image = &prod["promotion"]["images"][0];
    let artifact = json!({"type": "docker/image", "name": image["repository"], "reference": image["reference"], "version": image["tag"]});
    let promoted = run(
        &server,
        "to-prod",
        json!({"type": "manual", "artifacts": [artifact]}),
    )
    .await;
    assert_eq!(promoted["status"], "SUCCEEDED", "{promoted:#}");
    let prod = cell_when(&server, "prod", "prod to run test's build", |c| {
        c["health"] == "healthy" && c["promotion"].is_null()
    })
    .await;
    assert_eq!(
        prod["workloads"][0]["images"][0]["reference"],
        "registry.local/shop/web:1.0"
    );

    // Following the stream: a scale made in the cluster arrives, and is not drift.
    let mut events = server
        .client_for("admin", &server.admin_password)
        .await
        .get(format!("{}/api/environments/stream", server.base))
        .send()
        .await
        .unwrap();
    let mut buffer = String::new();
    next_event(&mut events, &mut buffer, "board", |_| true).await;
    let http = sim.http();
    let patch = |body: Value| {
        http.patch(format!(
            "{}/apis/apps/v1/namespaces/shop-prod/deployments/web",
            sim.cluster.url
        ))
        .bearer_auth(sim.cluster.token.as_deref().unwrap())
        .header("content-type", "application/merge-patch+json")
        .body(body.to_string())
        .send()
    };
    assert!(
        patch(json!({"spec": {"replicas": 3}}))
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let prod_web = |b: &Value| {
        b["applications"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["application"] == "shop"))
            .map(|r| r["environments"][1]["workloads"][0].clone())
            .unwrap_or_default()
    };
    let scaled = next_event(&mut events, &mut buffer, "board", |b| {
        prod_web(b)["desired"] == 3
    })
    .await;
    assert_eq!(
        prod_web(&scaled)["drift"],
        json!([]),
        "a scale is not drift"
    );

    // An image set by hand in the cluster (all else as it was; a merge patch replaces the whole
    // container list): drift, on the board and in the stream.
    let by_hand = json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "registry.local/shop/web:hotfix", "ports": [{"containerPort": 8080}]}]}}}});
    assert!(patch(by_hand).await.unwrap().status().is_success());
    let drifted = next_event(&mut events, &mut buffer, "board", |b| {
        prod_web(b)["drift"] != json!([])
    })
    .await;
    assert_eq!(
        prod_web(&drifted)["drift"],
        json!(["spec.template.spec.containers[0].image"])
    );

    // A crash-looping build in test: the cell turns crash-looping and says why.
    let crashed = run(
        &server,
        "to-test",
        json!({"type": "manual", "parameters": {"image": "registry.local/shop/web-crash:2"}}),
    )
    .await;
    assert_eq!(crashed["status"], "TERMINAL");
    let red = cell_when(&server, "test", "test to crash-loop", |c| {
        c["health"] == "crashLooping"
    })
    .await;
    assert!(
        red["workloads"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("CrashLoopBackOff"),
        "{red}"
    );

    // Each caller sees what they may read: a viewer of shop, not hidden; nobody signed in, nothing.
    let viewer = server.user_with_roles("vic", &["viewers"]).await;
    let seen: Value = viewer
        .get(format!("{}/api/environments", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = seen["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["application"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["shop"]);
    let all: Vec<String> = board(&server).await["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["application"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(all, ["hidden", "shop"]);
    // Compressed when asked (made once per rendering), and revalidated by its entity tag. The
    // board changes while a pod crash-loops: each check is made on two answers of one rendering
    // (the same tag), polled until two requests in a row saw the same one.
    let fetch = |gzip: bool, if_none_match: Option<String>| {
        let mut request = server
            .client
            .get(format!("{}/api/environments", server.base));
        if gzip {
            request = request.header("accept-encoding", "br, gzip;q=0.8");
        }
        if let Some(tag) = if_none_match {
            request = request.header("if-none-match", tag);
        }
        async move {
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            let headers = r.headers().clone();
            (status, headers, r.bytes().await.unwrap())
        }
    };
    let etag = eventually(
        "a plain and a gzip answer of one rendering",
        Duration::from_secs(20),
        || async {
            let (_, plain_headers, plain) = fetch(false, None).await;
            let (status, headers, gzipped) = fetch(true, None).await;
            assert_eq!(status, 200);
            assert_eq!(headers["content-encoding"], "gzip");
            assert_eq!(headers["vary"], "Accept-Encoding");
            assert!(plain_headers.get("content-encoding").is_none());
            if headers["etag"] != plain_headers["etag"] {
                return None;
            }
            let mut unpacked = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(&gzipped[..]),
                &mut unpacked,
            )
            .unwrap();
            assert_eq!(unpacked, plain.to_vec());
            Some(headers["etag"].to_str().unwrap().to_owned())
        },
    )
    .await;
    eventually(
        "a 304 for the current tag",
        Duration::from_secs(20),
        || async {
            let (_, headers, _) = fetch(false, None).await;
            let tag = headers["etag"].to_str().unwrap().to_owned();
            let (status, again, body) = fetch(true, Some(tag.clone())).await;
            match status {
                304 => {
                    assert!(body.is_empty());
                    Some(())
                }
                // The board changed in between: a new rendering, a new tag.
                200 => {
                    assert_ne!(again["etag"].to_str().unwrap(), tag);
                    None
                }
                other => panic!("{other}"),
            }
        },
    )
    .await;
    // Another caller's board (fewer rows) is another rendering with another tag.
    let theirs = viewer
        .get(format!("{}/api/environments", server.base))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status().as_u16(), 200);
    assert_ne!(theirs.headers()["etag"].to_str().unwrap(), etag);
    let anonymous = reqwest::get(format!("{}/api/environments", server.base))
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let (code, _) = server.get("/api/environments?team=pay&sort=health").await;
    assert_eq!(code, 200);
    let filtered: Value =
        serde_json::from_str(&server.get("/api/environments?team=pay").await.1).unwrap();
    assert_eq!(filtered["applications"].as_array().unwrap().len(), 1);

    // Delivery: two deploys to test (one failed), one to prod; a window that is not offered is a 4xx.
    let (code, delivery, _) = server
        .call(
            "environments/delivery",
            json!({"application": "shop", "window_days": 30}),
        )
        .await;
    assert_eq!(code, 200, "{delivery}");
    assert_eq!(
        delivery["metrics"]["byEnvironment"],
        json!([{"environment": "test", "deploys": 1}, {"environment": "prod", "deploys": 1}])
    );
    assert_eq!(delivery["metrics"]["changeFailureRate"], json!(0.0));
    let (code, bad, _) = server
        .call(
            "environments/delivery",
            json!({"application": "shop", "window_days": 8}),
        )
        .await;
    assert_eq!(code, 422, "{bad}");
    assert_eq!(bad["fields"][0]["field"], "window", "{bad}");
    let (code, overall, _) = server
        .call("environments/metrics", json!({"window_days": 7}))
        .await;
    assert_eq!(code, 200, "{overall}");
    assert_eq!(overall["byEnvironment"][1]["deploys"], 1, "{overall}");
    // The same numbers for Prometheus, one series per application.
    let (_, metrics) = server.get("/metrics").await;
    assert!(
        metrics.contains("topsail_delivery_deploys_per_day{application=\"shop\"} 0.03333"),
        "{metrics}"
    );
    assert!(metrics.contains("topsail_delivery_change_failure_ratio{application=\"shop\"} 0\n"));
    server.stop().await;
}
