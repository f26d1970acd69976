//! Cross-replica event latency: two release replicas on one PostgreSQL database, sharing
//! execution changes by PostgreSQL `LISTEN`/`NOTIFY` (no Redis) and by Redis pub/sub. A browser's
//! stream on replica B follows an application while runs start on replica A; measured: start
//! answered on A → B's stream sends a list holding the new run.
//!
//! Needs PostgreSQL (`TOPSAIL_TEST_POSTGRES_URL`, default postgres://postgres@127.0.0.1:5432/postgres)
//! and Redis (`TOPSAIL_TEST_REDIS_URL`, default redis://127.0.0.1:6379). Run with `./x bench`.

use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait;
use serde_json::json;

mod support;
use support::{EventStream, percentile};

const RUNS: usize = 40;

#[tokio::main]
async fn main() {
    let binary = env!("CARGO_BIN_EXE_topsail");
    let admin = std::env::var("TOPSAIL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let redis =
        std::env::var("TOPSAIL_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    for (label, with_redis) in [("PostgreSQL LISTEN/NOTIFY", false), ("Redis pub/sub", true)] {
        let name = format!("topsail_bench_{}", std::process::id());
        let server = sea_orm::Database::connect(&admin).await.unwrap();
        server
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
        let prefix = format!("topsail-bench-{}", std::process::id());
        let mut env = vec![("TOPSAIL_DATABASE_URL", url.as_str())];
        if with_redis {
            env.extend([
                ("TOPSAIL_REDIS_URL", redis.as_str()),
                ("TOPSAIL_REDIS_KEY_PREFIX", prefix.as_str()),
            ]);
        }
        let dir = tempfile::tempdir().unwrap();
        let a = support::replica(
            &dir.path().join("a"),
            binary,
            &env,
            "warn,server=info,topsail=info",
            None,
        )
        .await;
        let password =
            std::fs::read_to_string(dir.path().join("a/initial-admin-password")).unwrap();
        let b = support::replica(
            &dir.path().join("b"),
            binary,
            &env,
            "warn,server=info,topsail=info",
            Some(password.trim()),
        )
        .await;
        let call = |endpoint: &str, body: serde_json::Value| {
            a.http
                .post(format!("{}/api/{endpoint}", a.base))
                .json(&body)
                .send()
        };
        let ok = |r: reqwest::Response| {
            assert!(r.status().is_success(), "{}", r.status());
            r
        };
        ok(call(
            "applications/create",
            json!({"input": {"name": "shop", "ownerEmail": "bench@example.com"}}),
        )
        .await
        .unwrap());
        ok(call(
            "pipelines/save",
            json!({"pipeline": {"application": "shop", "name": "Gate",
            "stages": [{"refId": "1", "type": "manualJudgment", "name": "Go?"}]}}),
        )
        .await
        .unwrap());
        let mut stream = EventStream::open(
            &b.http,
            format!("{}/api/executions/stream?application=shop", b.base),
        )
        .await;
        stream.next("executions").await;
        let mut latencies = Vec::new();
        for _ in 0..RUNS {
            let answer = ok(call(
                "executions/start",
                json!({"application": "shop", "name": "Gate"}),
            )
            .await
            .unwrap());
            let started = Instant::now();
            let id: String = answer.json().await.unwrap();
            loop {
                let list = stream.next("executions").await;
                if list
                    .as_array()
                    .is_some_and(|l| l.iter().any(|e| e["id"] == id.as_str()))
                {
                    break;
                }
            }
            latencies.push(started.elapsed());
            // Let the burst settle, so each run is measured alone.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        latencies.sort();
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        println!(
            "replica event bus ({label}): run started on A → on B's stream, {RUNS} runs: p50 {} p95 {} max {}",
            ms(percentile(&latencies, 0.5)),
            ms(percentile(&latencies, 0.95)),
            ms(*latencies.last().unwrap())
        );
        drop((stream, a, b));
        server
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .unwrap();
        if with_redis {
            server::orchestration::queue::RedisQueue::connect(&redis, &format!("{prefix}:queue"))
                .await
                .unwrap()
                .delete_all()
                .await
                .unwrap();
        }
    }
}
