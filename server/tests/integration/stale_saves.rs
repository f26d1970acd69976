//! Saves carry the version they were based on (Front50's `updateTs`): a save based on an older
//! version than the stored one is refused with 409 naming who changed it, nothing of it is
//! stored; a save without `updateTs` overwrites, as before; every version has its own updateTs.

use serde_json::{Value, json};

use crate::support::{Backend, TestServer};

async fn gate(s: &TestServer, method: &str, path: &str, body: Value) -> (u16, Value) {
    let res = s
        .client
        .request(method.parse().unwrap(), format!("{}/gate{path}", s.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn wait_stage(ref_id: &str, seconds: u64) -> Value {
    json!({"refId": ref_id, "type": "wait", "name": format!("Wait {ref_id}"), "waitTime": seconds})
}

async fn pipeline(s: &TestServer) -> Value {
    let (_, detail, _) = s
        .call("pipelines/get", json!({"application": "shop", "name": "P"}))
        .await;
    detail["document"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_save_based_on_an_older_version_is_refused() {
    let s = TestServer::start(Backend::Sqlite).await;
    s.create_application("shop").await;
    let (code, first, _) = s
        .call("pipelines/save", json!({"pipeline": {"application": "shop", "name": "P", "stages": [wait_stage("1", 1)]}}))
        .await;
    assert_eq!(code, 200, "{first}");
    // Two people open the same version.
    let loaded = pipeline(&s).await;
    assert_eq!(loaded["updateTs"], first["updateTs"]);
    let mut mine = loaded.clone();
    mine["stages"][0]["waitTime"] = json!(2);
    let mut theirs = loaded.clone();
    theirs["stages"][0]["waitTime"] = json!(3);

    let (code, saved, _) = s.call("pipelines/save", json!({"pipeline": mine})).await;
    assert_eq!(code, 200, "{saved}");
    assert_ne!(
        saved["updateTs"], first["updateTs"],
        "each version has its own updateTs"
    );
    let (code, refused, _) = s.call("pipelines/save", json!({"pipeline": theirs})).await;
    assert_eq!(code, 409, "{refused}");
    let message = refused["message"].as_str().unwrap_or_default();
    assert!(message.contains("changed by admin"), "{refused}");
    assert_eq!(
        pipeline(&s).await["stages"][0]["waitTime"],
        2,
        "the stale save stored nothing"
    );

    // Through Gate, the same.
    let (code, _) = gate(&s, "POST", "/pipelines", theirs.clone()).await;
    assert_eq!(code, 409);
    // Based on the stored version, it goes through; the answer's updateTs is the next base.
    let mut again = theirs.clone();
    again["updateTs"] = saved["updateTs"].clone();
    let (code, next, _) = s
        .call("pipelines/save", json!({"pipeline": again.clone()}))
        .await;
    assert_eq!(code, 200, "{next}");
    again["stages"][0]["waitTime"] = json!(4);
    again["updateTs"] = next["updateTs"].clone();
    let (code, _, _) = s
        .call("pipelines/save", json!({"pipeline": again.clone()}))
        .await;
    assert_eq!(
        code, 200,
        "a second save from the same editor is based on the first"
    );
    // Without updateTs, a save overwrites (as scripts did before).
    let mut blind = theirs;
    blind.as_object_mut().unwrap().remove("updateTs");
    blind["stages"][0]["waitTime"] = json!(5);
    let (code, _) = gate(&s, "POST", "/pipelines", blind).await;
    assert_eq!(code, 200);
    assert_eq!(pipeline(&s).await["stages"][0]["waitTime"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_update_based_on_an_older_version_is_refused() {
    let s = TestServer::start(Backend::Sqlite).await;
    let created = s.create_application("shop").await;
    let loaded_ts = chrono::DateTime::parse_from_rfc3339(created["updatedAt"].as_str().unwrap())
        .unwrap()
        .timestamp_millis()
        .to_string();
    let input = |description: &str, update_ts: &str| {
        json!({"name": "shop", "input": {"name": "shop", "ownerEmail": "ops@example.com",
            "description": description, "updateTs": update_ts}})
    };
    let (code, body, _) = s
        .call("applications/update", input("first", &loaded_ts))
        .await;
    assert_eq!(code, 200, "{body}");
    let (code, refused, _) = s
        .call("applications/update", input("second", &loaded_ts))
        .await;
    assert_eq!(code, 409, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("changed by admin")
    );
    let (_, now, _) = s.call("applications/get", json!({"name": "shop"})).await;
    assert_eq!(now["description"], "first");
    // Gate's updateApplication task with the stale updateTs fails; with none it overwrites.
    let job = |update_ts: Option<&str>| {
        let mut app = json!({"name": "shop", "email": "ops@example.com", "description": "gate"});
        if let Some(ts) = update_ts {
            app["updateTs"] = json!(ts);
        }
        json!({"application": "shop", "description": "update", "job": [{"type": "updateApplication", "application": app}]})
    };
    let (code, reference) = gate(&s, "POST", "/tasks", job(Some(&loaded_ts))).await;
    assert_eq!(code, 200);
    let (_, task) = gate(&s, "GET", reference["ref"].as_str().unwrap(), Value::Null).await;
    assert_eq!(task["status"], "TERMINAL", "{task}");
    let (code, reference) = gate(&s, "POST", "/tasks", job(None)).await;
    assert_eq!(code, 200);
    let (_, task) = gate(&s, "GET", reference["ref"].as_str().unwrap(), Value::Null).await;
    assert_eq!(task["status"], "SUCCEEDED", "{task}");
    let (_, now, _) = s.call("applications/get", json!({"name": "shop"})).await;
    assert_eq!(now["description"], "gate");
}
