//! Engine throughput: many executions of a 5-stage pipeline of `wait(0)` stages, run by two
//! workers, on SQLite and PostgreSQL with the queue in the database, and on PostgreSQL with the
//! queue in Redis. Reports executions per second, stage-to-stage latency (end of a stage to
//! start of the next), each execution's own duration (its start to its end), and checks none
//! was lost.
//!
//! `cargo bench -p server --bench engine [-- N]` (default N = 200; PostgreSQL from
//! `TOPSAIL_TEST_POSTGRES_URL`, default local trust auth; Redis from `TOPSAIL_TEST_REDIS_URL`,
//! default local). Results go to BENCHMARKS.md.

use std::sync::Arc;
use std::time::Duration;

use domain::execution::Status;
use domain::pipeline::PipelineDocument;
use sea_orm::{ConnectionTrait, Database};
use serde_json::json;
use server::orchestration::engine::Engine;
use server::orchestration::queue::{QueueSettings, RedisQueue, SystemClock};
use server::orchestration::stages::StageRegistry;
use server::store::Store;

const WORKERS: usize = 2;

fn pipeline() -> PipelineDocument {
    let stages: Vec<_> = (1..=5)
        .map(|i| {
            let after: Vec<String> = if i == 1 { vec![] } else { vec![(i - 1).to_string()] };
            json!({"refId": i.to_string(), "type": "wait", "name": format!("Stage {i}"), "waitTime": 0, "requisiteStageRefIds": after})
        })
        .collect();
    PipelineDocument::from_value(
        json!({"application": "bench", "name": "Five waits", "stages": stages}),
    )
    .unwrap()
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Runs `n` executions: all started at once (`batch` = n), or `batch` at a time.
async fn run(label: &str, store: Store, redis: Option<&RedisQueue>, n: usize, batch: usize) {
    let engine = Arc::new(match redis {
        None => Engine::new(
            &store,
            Arc::new(SystemClock),
            QueueSettings::default(),
            StageRegistry::standard(),
        ),
        Some(r) => Engine::with_queue(
            &store,
            Arc::new(r.clone()),
            Arc::new(SystemClock),
            QueueSettings::default(),
            StageRegistry::standard(),
        ),
    });
    let doc = pipeline();
    let mut ids = Vec::with_capacity(n);
    let mut starting = Duration::ZERO;
    let mut first_run_start = None;
    while ids.len() < n {
        let t = std::time::Instant::now();
        for _ in 0..batch.min(n - ids.len()) {
            ids.push(engine.start(&doc, json!({"type": "manual"})).await.unwrap());
        }
        starting += t.elapsed();
        first_run_start.get_or_insert_with(|| chrono::Utc::now().timestamp_millis());
        drain(&engine).await;
    }
    report(
        label,
        &engine,
        &ids,
        starting,
        first_run_start.unwrap_or_default(),
    )
    .await;
}

/// Two workers handle messages until the queue stays empty for a while.
async fn drain(engine: &Arc<Engine>) {
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let engine = engine.clone();
            tokio::spawn(async move {
                let mut idle = 0;
                while idle < 20 {
                    if engine.run_once(16).await.unwrap() == 0 {
                        idle += 1;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    } else {
                        idle = 0;
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
}

/// `starting`: time spent starting the executions; `run_start_ms`: when the workers began.
async fn report(
    label: &str,
    engine: &Engine,
    ids: &[String],
    starting: Duration,
    run_start_ms: i64,
) {
    let n = ids.len();
    let mut latencies = Vec::new();
    let mut durations = Vec::new();
    let mut done = 0;
    let mut last_end = 0;
    for id in ids {
        let e = engine.execution(id).await.unwrap();
        if e.status == Status::Succeeded {
            done += 1;
        }
        last_end = last_end.max(e.end_time.unwrap_or(0));
        if let (Some(start), Some(end)) = (e.start_time, e.end_time) {
            durations.push(end - start);
        }
        for pair in e.stages.windows(2) {
            if let (Some(end), Some(start)) = (pair[0].end_time, pair[1].start_time) {
                latencies.push(start - end);
            }
        }
    }
    // From the first start to the last finish (the workers' idle tail excluded).
    let first_build = engine.execution(&ids[0]).await.unwrap().build_time;
    let wall = Duration::from_millis(u64::try_from(last_end - first_build).unwrap_or(0))
        .max(Duration::from_millis(1));
    // Running alone: from the workers' start to the last finish.
    let running = Duration::from_millis(u64::try_from(last_end - run_start_ms).unwrap_or(0))
        .max(Duration::from_millis(1));
    latencies.sort_unstable();
    durations.sort_unstable();
    println!(
        "{label}: {done}/{n} executions succeeded ({} lost) in {:.2} s (starting them took {:.2} s) = {:.1} executions/s \
         overall, {:.1} executions/s running; \
         stage-to-stage latency p50 {} ms, p99 {} ms, max {} ms; execution start-to-end p50 {} ms, p99 {} ms",
        n - done,
        wall.as_secs_f64(),
        starting.as_secs_f64(),
        n as f64 / wall.as_secs_f64(),
        n as f64 / running.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0),
        percentile(&durations, 0.5),
        percentile(&durations, 0.99),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200);

    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::connect(None, dir.path()).await.unwrap();
    sqlite.migrate().await.unwrap();
    run("SQLite, all at once", sqlite.clone(), None, n, n).await;
    run("SQLite, one at a time", sqlite.clone(), None, 20, 1).await;
    sqlite.close().await.unwrap();

    let admin_url = std::env::var("TOPSAIL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("topsail_bench_{}", std::process::id());
    let admin = Database::connect(&admin_url).await.unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
    let postgres = Store::connect(Some(&url), dir.path()).await.unwrap();
    postgres.migrate().await.unwrap();
    run("PostgreSQL, all at once", postgres.clone(), None, n, n).await;
    run("PostgreSQL, one at a time", postgres.clone(), None, 20, 1).await;
    let redis_url =
        std::env::var("TOPSAIL_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let redis = RedisQueue::connect(&redis_url, &format!("topsail-bench:{}", std::process::id()))
        .await
        .unwrap();
    run(
        "PostgreSQL + Redis queue, all at once",
        postgres.clone(),
        Some(&redis),
        n,
        n,
    )
    .await;
    run(
        "PostgreSQL + Redis queue, one at a time",
        postgres.clone(),
        Some(&redis),
        20,
        1,
    )
    .await;
    redis.delete_all().await.unwrap();
    postgres.close().await.unwrap();
    admin
        .execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
}
