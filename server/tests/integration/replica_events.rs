//! The replica event bus with real processes: two `topsail serve` replicas on one PostgreSQL
//! database, sharing execution changes by `LISTEN`/`NOTIFY` (without Redis) or Redis pub/sub.
//! A browser's stream on replica B shows what replica A commits as it happens — long before the
//! streams' 10 s safety re-check would have found it.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{self, Backend, TopsailProcess, call, next_event};

/// Well under the 10 s safety re-check: only the bus delivers this fast.
const HEARD_WITHIN: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_change_on_one_replica_reaches_streams_on_another() {
    let db = support::TestDatabase::create(Backend::Postgres).await;
    let url = db.url.clone().unwrap();
    replicas_share_changes(db.dir.path(), &[("TOPSAIL_DATABASE_URL", url.as_str())]).await;
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_a_change_on_one_replica_reaches_streams_on_another() {
    let db = support::TestDatabase::create(Backend::Postgres).await;
    let url = db.url.clone().unwrap();
    let prefix = format!("topsail-test-{}", server::ids::long_id());
    let redis_url = support::redis_url();
    replicas_share_changes(
        db.dir.path(),
        &[
            ("TOPSAIL_DATABASE_URL", url.as_str()),
            ("TOPSAIL_REDIS_URL", redis_url.as_str()),
            ("TOPSAIL_REDIS_KEY_PREFIX", prefix.as_str()),
        ],
    )
    .await;
    support::delete_process_queue(&prefix).await;
    db.drop().await;
}

async fn replicas_share_changes(dir: &std::path::Path, env: &[(&str, &str)]) {
    let (a_dir, b_dir) = (dir.join("a"), dir.join("b"));
    let a = TopsailProcess::spawn(&a_dir, env);
    let b = TopsailProcess::spawn(&b_dir, env);
    // Sessions live in the database: signed in on A is signed in on B.
    let client = support::sign_in(&a.base, "admin", &support::initial_admin_password(&a_dir)).await;
    let ok = |(status, body): (u16, Value)| {
        assert_eq!(status, 200, "{body}");
        body
    };
    ok(call(
        &client,
        &a.base,
        "applications/create",
        json!({"input": {"name": "shop", "ownerEmail": "ops@example.com"}}),
    )
    .await);
    let pipeline = json!({"application": "shop", "name": "Gate", "stages": [
        {"refId": "1", "type": "manualJudgment", "name": "Go?"}]});
    ok(call(
        &client,
        &a.base,
        "pipelines/save",
        json!({"pipeline": pipeline}),
    )
    .await);

    let mut stream = client
        .get(format!("{}/api/executions/stream?application=shop", b.base))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    let mut buffer = String::new();
    next_event(&mut stream, &mut buffer, "executions", |list| {
        list.as_array().is_some_and(Vec::is_empty)
    })
    .await;

    // Started on A: B's stream lists it.
    let started = Instant::now();
    let id = ok(call(
        &client,
        &a.base,
        "executions/start",
        json!({"application": "shop", "name": "Gate"}),
    )
    .await);
    let id = id.as_str().unwrap().to_owned();
    let status_on_b = |list: &Value, want: &str| {
        list.as_array().is_some_and(|l| {
            l.iter()
                .any(|e| e["id"] == id.as_str() && e["status"] == want)
        })
    };
    next_event(&mut stream, &mut buffer, "executions", |l| {
        status_on_b(l, "RUNNING")
    })
    .await;
    let heard = started.elapsed();
    assert!(heard < HEARD_WITHIN, "B heard of the start after {heard:?}");

    // Judged on A: B's stream shows it finish.
    let execution = ok(call(&client, &a.base, "executions/get", json!({"id": id})).await);
    let stage = execution["stages"][0]["id"].as_str().unwrap().to_owned();
    let judged = Instant::now();
    ok(call(
        &client,
        &a.base,
        "executions/judge",
        json!({"id": id, "stage_id": stage, "judgment": "continue"}),
    )
    .await);
    next_event(&mut stream, &mut buffer, "executions", |l| {
        status_on_b(l, "SUCCEEDED")
    })
    .await;
    let heard = judged.elapsed();
    assert!(heard < HEARD_WITHIN, "B heard of the end after {heard:?}");
    drop((a, b));
}
