//! Pipeline configurations over HTTP: save (import), get (export), history, diff, restore,
//! delete, and the validation messages a person sees.

use crate::support;

use serde_json::{Value, json};
use support::{Backend, TestServer};

async fn server_with_app(name: &str) -> TestServer {
    let s = TestServer::start(Backend::Sqlite).await;
    let (status, body, _) = s
        .call(
            "applications/create",
            json!({ "input": { "name": name, "ownerEmail": "ops@example.com" } }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    s
}

fn seed(app: &str) -> Value {
    json!({
        "application": app,
        "name": "Deploy",
        "keepWaitingPipelines": false,
        "limitConcurrent": true,
        "stages": [
            {"refId": "1", "type": "wait", "name": "Settle", "waitTime": 5},
            {"refId": "2", "type": "manualJudgment", "name": "Verify", "requisiteStageRefIds": ["1"],
             "judgmentInputs": [{"value": "promote"}], "instructions": "Check the test namespace"},
            {"refId": "3", "type": "bakeManifest", "name": "Bake", "requisiteStageRefIds": ["2"],
             "templateRenderer": "HELM3", "outputName": "shop"}
        ],
        "triggers": [{"type": "manual", "enabled": true}],
        "appConfig": {},
        "schema": "1"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_and_export_keep_the_document_verbatim() {
    let s = server_with_app("shop").await;
    let (status, saved, _) = s
        .call("pipelines/save", json!({ "pipeline": seed("shop") }))
        .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(
        (saved["version"].as_u64(), saved["changed"].as_bool()),
        (Some(1), Some(true))
    );
    let warnings = saved["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0]["stage"], "stage 3 (Bake)");
    assert!(
        warnings[0]["message"]
            .as_str()
            .unwrap()
            .contains("'bakeManifest' is not supported")
    );

    let (status, detail, _) = s
        .call(
            "pipelines/get",
            json!({ "application": "shop", "name": "Deploy" }),
        )
        .await;
    assert_eq!(status, 200);
    let mut exported = detail["document"].as_object().unwrap().clone();
    assert_eq!(exported.remove("id").unwrap(), saved["id"]);
    assert_eq!(exported.remove("lastModifiedBy").unwrap(), "admin");
    assert!(exported.remove("updateTs").is_some());
    assert_eq!(
        Value::Object(exported),
        seed("shop"),
        "everything else comes back exactly as saved"
    );

    let (_, list, _) = s
        .call("pipelines/list", json!({ "application": "shop" }))
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "Deploy");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_pipelines_are_refused_naming_stage_and_field() {
    let s = server_with_app("shop").await;
    let mut bad = seed("shop");
    bad["stages"][0]["waitTime"] = json!(null);
    bad["stages"][1]["requisiteStageRefIds"] = json!(["7"]);
    let (status, body, _) = s.call("pipelines/save", json!({ "pipeline": bad })).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["fields"],
        json!([
            {"field": "stage 1 (Settle): waitTime", "message": "waitTime is required for a wait stage"},
            {"field": "stage 2 (Verify): requisiteStageRefIds", "message": "refers to stage '7', which does not exist"}
        ])
    );
    let (status, body, _) = s
        .call("pipelines/save", json!({ "pipeline": seed("nowhere") }))
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["fields"][0],
        json!({"field": "application", "message": "application 'nowhere' does not exist"})
    );
    let mut cron = seed("shop");
    cron["triggers"] = json!([{"type": "cron", "cronExpression": "0 0 25 * * ?"}]);
    let (status, body, _) = s.call("pipelines/save", json!({ "pipeline": cron })).await;
    assert_eq!(
        (status, body["fields"][0]["field"].clone()),
        (422, json!("triggers[0]"))
    );
    let (status, _, _) = s
        .call("pipelines/save", json!({ "pipeline": [1, 2] }))
        .await;
    assert_eq!(status, 422);
    let (_, list, _) = s
        .call("pipelines/list", json!({ "application": "shop" }))
        .await;
    assert_eq!(list, json!([]), "nothing half-written");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_diff_and_restore() {
    let s = server_with_app("shop").await;
    let (_, v1, _) = s
        .call("pipelines/save", json!({ "pipeline": seed("shop") }))
        .await;
    let id = v1["id"].as_str().unwrap().to_owned();
    let mut changed = seed("shop");
    changed["stages"][0]["waitTime"] = json!(30);
    changed["description"] = json!("slower");
    let (_, v2, _) = s
        .call("pipelines/save", json!({ "pipeline": changed }))
        .await;
    assert_eq!(v2["version"], 2);

    let (status, history, _) = s.call("pipelines/history", json!({ "id": id })).await;
    assert_eq!(status, 200);
    let versions: Vec<u64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [2, 1]);

    let (_, changes, _) = s
        .call("pipelines/diff", json!({ "id": id, "from": 1, "to": 2 }))
        .await;
    assert_eq!(
        changes,
        json!([
            {"path": "description", "before": null, "after": "slower"},
            {"path": "stages[refId=1].waitTime", "before": 5, "after": 30}
        ])
    );

    let (status, restored, _) = s
        .call("pipelines/restore", json!({ "id": id, "version": 1 }))
        .await;
    assert_eq!(status, 200, "{restored}");
    assert_eq!(restored["version"], 3);
    let (_, detail, _) = s
        .call(
            "pipelines/get",
            json!({ "application": "shop", "name": "Deploy" }),
        )
        .await;
    assert_eq!(detail["document"]["stages"][0]["waitTime"], 5);
    assert!(detail["document"].get("description").is_none());
    let (_, back, _) = s
        .call("pipelines/diff", json!({ "id": id, "from": 1, "to": 3 }))
        .await;
    assert_eq!(back, json!([]));

    let (status, _, _) = s
        .call("pipelines/diff", json!({ "id": id, "from": 1, "to": 9 }))
        .await;
    assert_eq!(status, 404);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_with_pipelines_cannot_be_deleted_until_they_are() {
    let s = server_with_app("shop").await;
    s.call("pipelines/save", json!({ "pipeline": seed("shop") }))
        .await;
    let (status, body, _) = s
        .call("applications/delete", json!({ "name": "shop" }))
        .await;
    assert_eq!(status, 409);
    assert_eq!(
        body["message"],
        "application 'shop' still has 1 pipeline(s); delete them first"
    );
    let (status, _, _) = s
        .call(
            "pipelines/delete",
            json!({ "application": "shop", "name": "Deploy" }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _, _) = s
        .call(
            "pipelines/get",
            json!({ "application": "shop", "name": "Deploy" }),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _, _) = s
        .call("applications/delete", json!({ "name": "shop" }))
        .await;
    assert_eq!(status, 200);
    s.stop().await;
}
