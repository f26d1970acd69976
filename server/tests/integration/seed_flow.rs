//! The seed flow end to end, every part real or a faithful fixture over HTTP: a push to the
//! real registry starts the pipeline → the Jenkins emulator builds with image name, branch and
//! commit and pushes the image to the registry → that digest is deployed to the test namespace
//! of the Kubernetes simulator → a person approves → the same digest goes to prod. A manual run
//! with another branch is then stopped at the judgment, and prod keeps what was approved.

use std::time::Duration;

use serde_json::{Value, json};

use crate::jenkins::master;
use crate::kubernetes::{Sim, deployment};
use crate::registries::{Registry, account, free_port};
use crate::support::{Backend, TestServer, eventually};

fn stage<'a>(e: &'a Value, ref_id: &str) -> &'a Value {
    e["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["refId"] == ref_id)
        .unwrap()
}

async fn execution(server: &TestServer, id: &str) -> Value {
    server.call("executions/get", json!({"id": id})).await.1
}

async fn waiting_for_judgment(server: &TestServer, id: &str) -> Value {
    eventually(
        "the run to wait for a judgment",
        Duration::from_secs(60),
        || async {
            let e = execution(server, id).await;
            assert!(
                !["TERMINAL", "CANCELED"].contains(&e["status"].as_str().unwrap_or_default()),
                "{e:#}"
            );
            (stage(&e, "3")["status"] == "RUNNING").then_some(e)
        },
    )
    .await
}

async fn ended(server: &TestServer, id: &str) -> Value {
    eventually("the run to end", Duration::from_secs(60), || async {
        let e = execution(server, id).await;
        ["SUCCEEDED", "TERMINAL", "CANCELED"]
            .contains(&e["status"].as_str().unwrap_or_default())
            .then_some(e)
    })
    .await
}

fn image_in(e: &Value, ref_id: &str) -> Value {
    stage(e, ref_id)["outputs"]["outputs.manifests"][0]["spec"]["template"]["spec"]["containers"][0]
        ["image"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_builds_deploys_to_test_and_after_approval_the_same_digest_to_prod() {
    let port = free_port();
    let registry_url = format!("http://127.0.0.1:{port}");
    let host = format!("127.0.0.1:{port}");
    let build_job = json!([{"name": "shop/build", "parameters": [{"name": "IMAGE"}, {"name": "BRANCH", "default": "main"}, {"name": "COMMIT"}],
        "build": {"durationMs": 400, "console": ["git checkout ${COMMIT} (${BRANCH})", "docker build -t ${IMAGE} ."],
                  "pushImage": {"registry": registry_url, "repository": "${IMAGE}", "tag": "${BRANCH}-${COMMIT}"},
                  "artifacts": [{"path": "build.properties", "content": format!("IMAGE_TAG=${{IMAGE_TAG}}\nIMAGE_REF={host}/${{IMAGE}}@${{IMAGE_DIGEST}}\n")}]}}]);
    let jenkins = crate::jenkins::emulator(build_job).await;
    let sim = Sim::start().await;
    sim.namespaces(&["shop-test", "shop-prod"]).await;
    let (jenkins_master, k8s) = (master("ci", &jenkins), sim.account("k8s", &[]));
    let registry_account = account("local", &registry_url, Some("hook-secret"), 0);
    let server = TestServer::start_with(Backend::Postgres, |c| {
        c.jenkins.masters = vec![jenkins_master];
        c.kubernetes.accounts = vec![k8s];
        c.registries = vec![registry_account];
    })
    .await;
    let registry = Registry::start(
        port,
        Some((
            &format!("{}/webhooks/registry/local", server.base),
            "hook-secret",
        )),
    )
    .await;
    server
        .call("applications/create", json!({"input": {"name": "shop", "ownerEmail": "team@example.com", "deployTargets": "k8s/shop-test\nk8s/shop-prod"}}))
        .await;

    let built = "${#stage('Build')['context']['IMAGE_REF']}";
    let deploy = |ref_id: &str, after: &str, namespace: &str| {
        json!({"refId": ref_id, "requisiteStageRefIds": [after], "type": "deployManifest",
        "name": format!("Deploy to {namespace}"), "account": "k8s", "namespaceOverride": namespace, "manifests": [deployment("web", built, 2)]})
    };
    let pipeline = json!({"application": "shop", "name": "Seed",
    "parameterConfig": [{"name": "branch", "default": "main"}, {"name": "commit", "default": "c0ffee1"}],
    "triggers": [{"type": "docker", "account": "local", "repository": "shop/base", "enabled": true}],
    "stages": [
        {"refId": "1", "type": "jenkins", "name": "Build", "master": "ci", "job": "shop/build", "propertyFile": "build.properties",
         "parameters": {"IMAGE": "shop/web", "BRANCH": "${trigger.parameters.branch}", "COMMIT": "${trigger.parameters.commit}"}},
        deploy("2", "1", "shop-test"),
        {"refId": "3", "requisiteStageRefIds": ["2"], "type": "manualJudgment", "name": "Promote to prod?", "judgmentInputs": [{"value": "promote"}]},
        deploy("4", "3", "shop-prod")
    ]});
    let (code, saved, _) = server
        .call("pipelines/save", json!({"pipeline": pipeline}))
        .await;
    assert_eq!(code, 200, "{saved}");

    // A new base image is pushed: the registry tells Topsail, and the seed pipeline starts.
    registry.push("shop/base", "2026.11").await;
    let id = eventually(
        "the push to start the pipeline",
        Duration::from_secs(20),
        || async {
            let (_, list, _) = server
                .call("executions/list", json!({"application": "shop"}))
                .await;
            list.as_array()
                .and_then(|l| l.first())
                .map(|e| e["id"].as_str().unwrap().to_owned())
        },
    )
    .await;
    let at_judgment = waiting_for_judgment(&server, &id).await;
    let build = stage(&at_judgment, "1");
    assert_eq!(
        build["outputs"]["IMAGE_TAG"], "main-c0ffee1",
        "built from the branch and commit"
    );
    let client = server::registries::RegistryClient::new(&account("local", &registry_url, None, 0));
    let digest = client.digest("shop/web", "main-c0ffee1").await.unwrap();
    let pinned = format!("{host}/shop/web@{digest}");
    assert_eq!(
        build["outputs"]["IMAGE_REF"],
        json!(pinned),
        "the image the build pushed, by digest"
    );
    assert_eq!(image_in(&at_judgment, "2"), json!(pinned));
    let accounts = sim.accounts(&[]).await;
    let running = |ns: &'static str| {
        let accounts = accounts.clone();
        async move {
            accounts
                .images(
                    &server::kubernetes::ResourceRef::parse("test", Some(ns), "deployment web")
                        .unwrap(),
                )
                .await
                .ok()
        }
    };
    assert_eq!(running("shop-test").await, Some(vec![pinned.clone()]));
    assert_eq!(
        running("shop-prod").await,
        None,
        "nothing in prod before the approval"
    );

    let (code, _, _) = server.call("executions/judge", json!({"id": id, "stage_id": stage(&at_judgment, "3")["id"], "judgment": "continue", "input": "promote"})).await;
    assert_eq!(code, 200);
    let done = ended(&server, &id).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done:#}");
    assert_eq!(
        image_in(&done, "4"),
        json!(pinned),
        "prod gets the very digest that was tested"
    );
    assert_eq!(running("shop-prod").await, Some(vec![pinned.clone()]));

    // A manual run of another branch: built and deployed to test, then stopped at the judgment.
    let trigger =
        json!({"type": "manual", "parameters": {"branch": "feature-x", "commit": "abc1234"}});
    let (_, second, _) = server
        .call(
            "executions/start",
            json!({"application": "shop", "name": "Seed", "trigger": trigger}),
        )
        .await;
    let second = second.as_str().unwrap().to_owned();
    let at_judgment = waiting_for_judgment(&server, &second).await;
    let other_digest = client
        .digest("shop/web", "feature-x-abc1234")
        .await
        .unwrap();
    let other = format!("{host}/shop/web@{other_digest}");
    assert_ne!(other, pinned);
    assert_eq!(running("shop-test").await, Some(vec![other]));
    server
        .call(
            "executions/judge",
            json!({"id": second, "stage_id": stage(&at_judgment, "3")["id"], "judgment": "stop"}),
        )
        .await;
    assert_eq!(ended(&server, &second).await["status"], "TERMINAL");
    assert_eq!(
        running("shop-prod").await,
        Some(vec![pinned]),
        "prod keeps what was approved"
    );

    // The build's own push (shop/web) started nothing: two runs in all.
    let (_, list, _) = server
        .call("executions/list", json!({"application": "shop"}))
        .await;
    assert_eq!(list.as_array().unwrap().len(), 2);

    // The environments board: test runs the second build, prod the approved one, one build
    // behind; who deployed it is on each cell.
    let board = eventually(
        "the board to show both deploys",
        Duration::from_secs(10),
        || async {
            let (code, body) = server.get("/api/environments").await;
            assert_eq!(code, 200, "{body}");
            let board: Value = serde_json::from_str(&body).unwrap();
            let row = board["applications"][0].clone();
            let digest_in =
                |i: usize| row["environments"][i]["workloads"][0]["images"][0]["digest"].clone();
            (digest_in(0) == json!(other_digest) && digest_in(1) == json!(digest)).then_some(board)
        },
    )
    .await;
    assert_eq!(board["environments"], json!(["test", "prod"]));
    let prod = &board["applications"][0]["environments"][1];
    assert_eq!(prod["workloads"][0]["deployed"]["executionId"], json!(id));
    assert_eq!(prod["workloads"][0]["deployed"]["pipelineName"], "Seed");
    assert_eq!(prod["workloads"][0]["drift"], json!([]));
    assert_eq!(prod["promotion"]["from"], "test");
    assert_eq!(prod["promotion"]["buildsAhead"], 1);
    assert_eq!(
        prod["promotion"]["images"][0]["digest"],
        json!(other_digest)
    );
    // Each build's path, with where it came from and who approved it.
    let (code, delivery, _) = server
        .call(
            "environments/delivery",
            json!({"application": "shop", "window_days": 7}),
        )
        .await;
    assert_eq!(code, 200, "{delivery}");
    let paths = delivery["paths"].as_array().unwrap();
    assert_eq!(paths.len(), 2);
    let approved = &paths[1];
    assert_eq!(approved["build"], json!(digest));
    assert_eq!(approved["source"]["job"], "shop/build");
    assert_eq!(
        (
            approved["source"]["commit"].clone(),
            approved["source"]["branch"].clone()
        ),
        (json!("c0ffee1"), json!("main"))
    );
    let arrivals: Vec<&str> = approved["arrivals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["environment"].as_str().unwrap())
        .collect();
    assert_eq!(arrivals, ["test", "prod"]);
    assert_eq!(approved["arrivals"][1]["approvedBy"], "admin");
    assert_eq!(approved["runningIn"], json!(["prod"]));
    assert_eq!(paths[0]["runningIn"], json!(["test"]));
    let metrics = &delivery["metrics"];
    assert_eq!(metrics["production"], "prod");
    assert_eq!(metrics["changeFailureRate"], json!(0.0));
    assert!(metrics["leadTimeSeconds"].as_i64().is_some(), "{metrics}");
    server.stop().await;
}
