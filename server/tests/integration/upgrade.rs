//! Upgrading in place: a database written by release 0.1 (before users existed; see
//! `tests/fixtures/README.md`) opens with this release, keeps its application, pipeline and
//! running execution, gets its first admin, and the execution moves on to the end.

use std::time::Duration;

use serde_json::json;

use crate::support::{Backend, TestServer, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_0_1_database_upgrades_keeps_everything_and_its_run_finishes() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/release-0.1-sqlite.db");
    let s = TestServer::start_with(Backend::Sqlite, |config| {
        std::fs::create_dir_all(&config.data_dir).unwrap();
        std::fs::copy(&fixture, config.data_dir.join("topsail.db")).unwrap();
    })
    .await;
    // Signing in worked: the upgrade created the first admin (TestServer signed in with it).
    let (code, app, _) = s.call("applications/get", json!({"name": "shop"})).await;
    assert_eq!(code, 200, "{app}");
    assert_eq!(
        (
            app["description"].clone(),
            app["createdBy"].clone(),
            app["permissions"].clone()
        ),
        (json!("the shop"), json!("anonymous"), json!({})),
        "kept as written; no permissions: admins only"
    );
    let (code, pipeline, _) = s
        .call(
            "pipelines/get",
            json!({"application": "shop", "name": "Release"}),
        )
        .await;
    assert_eq!(code, 200, "{pipeline}");
    assert_eq!(pipeline["document"]["stages"].as_array().unwrap().len(), 2);
    let (_, runs, _) = s
        .call("executions/list", json!({"application": "shop"}))
        .await;
    let runs = runs.as_array().unwrap().clone();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let id = runs[0]["id"].as_str().unwrap().to_owned();

    // The run was soaking when 0.1 stopped: it moves on to the judgment, and finishes.
    let stage = eventually("the judgment to wait", Duration::from_secs(20), || async {
        let (_, e, _) = s.call("executions/get", json!({"id": id})).await;
        (e["stages"][1]["status"] == "RUNNING")
            .then(|| e["stages"][1]["id"].as_str().unwrap().to_owned())
    })
    .await;
    let (code, body, _) = s
        .call(
            "executions/judge",
            json!({"id": id, "stage_id": stage, "judgment": "continue"}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let e = eventually("the run to succeed", Duration::from_secs(20), || async {
        let (_, e, _) = s.call("executions/get", json!({"id": id})).await;
        (e["status"] == "SUCCEEDED").then_some(e)
    })
    .await;
    assert_eq!(e["stages"][1]["context"]["lastModifiedBy"], "admin");
    s.stop().await;
}
