//! Scale-out on one machine, release binaries, PostgreSQL + Redis:
//! - pipeline throughput with 1, 2 and 3 replicas: 300 runs of a five-`wait(0)` pipeline
//!   started through the API, spread over the replicas; from the first start to the last run
//!   finished (read from the database);
//! - watch failover: two replicas and two simulated clusters, a 5 s watch lease; the replica
//!   watching is SIGKILLed, timed until the other says (in `/metrics`) it watches every account;
//!   three times;
//! - backup and restore of 10,000 executions: `topsail backup --file` from PostgreSQL, then
//!   `topsail restore --file` into an empty PostgreSQL database and into SQLite.
//!
//! Needs PostgreSQL (`TOPSAIL_TEST_POSTGRES_URL`) and Redis (`TOPSAIL_TEST_REDIS_URL`) and the
//! release simulator. `cargo bench -p server --bench scale_out` (`./x bench` runs it).

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::json;

mod support;
use support::{Topsail, percentile};

const RUNS: usize = 300;
const BACKUP_EXECUTIONS: usize = 10_000;

struct Pg {
    admin: DatabaseConnection,
    admin_url: String,
}

impl Pg {
    async fn connect() -> Self {
        let admin_url = std::env::var("TOPSAIL_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        Self {
            admin: sea_orm::Database::connect(&admin_url).await.unwrap(),
            admin_url,
        }
    }

    /// A new empty database; its URL.
    async fn database(&self, name: &str) -> String {
        self.admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .unwrap();
        self.admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        format!("{}/{name}", self.admin_url.rsplit_once('/').unwrap().0)
    }

    async fn drop(&self, name: &str) {
        self.admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .unwrap();
    }
}

fn redis_url() -> String {
    std::env::var("TOPSAIL_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

async fn delete_keys(prefix: &str) {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut c)
        .await
        .unwrap();
    if !keys.is_empty() {
        redis::cmd("DEL")
            .arg(keys)
            .query_async::<i64>(&mut c)
            .await
            .unwrap();
    }
}

/// `n` replicas on `env`, the first one creating the admin.
async fn replicas(
    dir: &std::path::Path,
    binary: &str,
    env: &[(&str, &str)],
    n: usize,
) -> Vec<Topsail> {
    let log = "warn,server=warn,topsail=info";
    let first = support::replica(&dir.join("r0"), binary, env, log, None).await;
    let password = std::fs::read_to_string(dir.join("r0/initial-admin-password")).unwrap();
    let mut all = vec![first];
    for i in 1..n {
        all.push(
            support::replica(
                &dir.join(format!("r{i}")),
                binary,
                env,
                log,
                Some(password.trim()),
            )
            .await,
        );
    }
    all
}

async fn call(replica: &Topsail, endpoint: &str, body: serde_json::Value) -> serde_json::Value {
    let r = replica
        .http
        .post(format!("{}/api/{endpoint}", replica.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{endpoint}: {}", r.status());
    r.json().await.unwrap_or(serde_json::Value::Null)
}

fn five_waits() -> serde_json::Value {
    let stages: Vec<_> = (1..=5)
        .map(|i| {
            let after: Vec<String> = if i == 1 { vec![] } else { vec![(i - 1).to_string()] };
            json!({"refId": i.to_string(), "type": "wait", "name": format!("Stage {i}"), "waitTime": 0, "requisiteStageRefIds": after})
        })
        .collect();
    json!({"application": "bench", "name": "Five waits", "stages": stages})
}

async fn throughput(pg: &Pg, binary: &str, n: usize) {
    let name = format!("topsail_scale_{}_{n}", std::process::id());
    let url = pg.database(&name).await;
    let prefix = format!("topsail-scale-{}-{n}", std::process::id());
    let redis = redis_url();
    let env = [
        ("TOPSAIL_DATABASE_URL", url.as_str()),
        ("TOPSAIL_REDIS_URL", redis.as_str()),
        ("TOPSAIL_REDIS_KEY_PREFIX", prefix.as_str()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let all = Arc::new(replicas(dir.path(), binary, &env, n).await);
    call(
        &all[0],
        "applications/create",
        json!({"input": {"name": "bench", "ownerEmail": "bench@example.com"}}),
    )
    .await;
    call(&all[0], "pipelines/save", json!({"pipeline": five_waits()})).await;
    let db = sea_orm::Database::connect(&url).await.unwrap();
    let started = Instant::now();
    // 10 clients start the runs, each on the replicas in turn.
    let clients: Vec<_> = (0..10)
        .map(|c| {
            let all = all.clone();
            tokio::spawn(async move {
                for i in (c..RUNS).step_by(10) {
                    call(
                        &all[i % all.len()],
                        "executions/start",
                        json!({"application": "bench", "name": "Five waits"}),
                    )
                    .await;
                }
            })
        })
        .collect();
    for c in clients {
        c.await.unwrap();
    }
    let all_started = started.elapsed();
    loop {
        let row = db
            .query_one(sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Postgres,
                "SELECT COUNT(*) AS n FROM executions WHERE status = 'SUCCEEDED'",
            ))
            .await
            .unwrap()
            .unwrap();
        let done: i64 = row.try_get("", "n").unwrap();
        if done as usize >= RUNS {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "{done}/{RUNS} after 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let wall = started.elapsed();
    println!(
        "throughput, {n} replica(s): {RUNS} runs × 5 stages in {:.1} s — {:.1} runs/s, {:.0} stages/s (all started after {:.1} s)",
        wall.as_secs_f64(),
        RUNS as f64 / wall.as_secs_f64(),
        (RUNS * 5) as f64 / wall.as_secs_f64(),
        all_started.as_secs_f64()
    );
    drop(db);
    drop(all);
    delete_keys(&prefix).await;
    pg.drop(&name).await;
}

/// Whether `replica` watches every account (from its `/metrics`), or None when unreachable.
async fn watches_all(replica: &Topsail) -> Option<bool> {
    let text = replica
        .http
        .get(format!("{}/metrics", replica.base))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let held: Vec<bool> = text
        .lines()
        .filter_map(|l| l.strip_prefix("topsail_cluster_watch_held{"))
        .map(|l| l.ends_with(" 1"))
        .collect();
    Some(!held.is_empty() && held.iter().all(|h| *h))
}

async fn failover(pg: &Pg, binary: &str) {
    const LEASE_SECONDS: u64 = 5;
    let name = format!("topsail_failover_{}", std::process::id());
    let url = pg.database(&name).await;
    let prefix = format!("topsail-failover-{}", std::process::id());
    let redis = redis_url();
    let dir = tempfile::tempdir().unwrap();
    let clusters = support::clusters(dir.path(), binary);
    let config = dir.path().join("topsail.toml");
    std::fs::write(
        &config,
        format!("[kubernetes]\nwatch_lease_seconds = {LEASE_SECONDS}\n"),
    )
    .unwrap();
    let (config, kubeconfig) = (
        config.display().to_string(),
        clusters.kubeconfig.display().to_string(),
    );
    let env = [
        ("TOPSAIL_DATABASE_URL", url.as_str()),
        ("TOPSAIL_REDIS_URL", redis.as_str()),
        ("TOPSAIL_REDIS_KEY_PREFIX", prefix.as_str()),
        ("TOPSAIL_CONFIG", config.as_str()),
        ("TOPSAIL_KUBECONFIG", kubeconfig.as_str()),
    ];
    let mut live = replicas(dir.path(), binary, &env, 2).await;
    let password = std::fs::read_to_string(dir.path().join("r0/initial-admin-password")).unwrap();
    let mut times = Vec::new();
    for round in 0..3 {
        let holder = loop {
            let mut found = None;
            for (i, r) in live.iter().enumerate() {
                if watches_all(r).await == Some(true) {
                    found = Some(i);
                }
            }
            if let Some(i) = found {
                break i;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // SIGKILL: the lease is never given up.
        drop(live.remove(holder));
        let killed = Instant::now();
        while watches_all(&live[0]).await != Some(true) {
            assert!(
                killed.elapsed() < Duration::from_secs(60),
                "no takeover in 60 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        times.push(killed.elapsed());
        live.push(
            support::replica(
                &dir.path().join(format!("late{round}")),
                binary,
                &env,
                // `listening on` must get through the filter: the bench waits for it.
                "warn,server=warn,topsail=info",
                Some(password.trim()),
            )
            .await,
        );
    }
    times.sort();
    println!(
        "watch failover (lease {LEASE_SECONDS} s, 2 accounts): holder SIGKILLed → the other watches every account: {} (p50 {:.1} s, max {:.1} s)",
        times
            .iter()
            .map(|t| format!("{:.1} s", t.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", "),
        percentile(&times, 0.5).as_secs_f64(),
        times.last().unwrap().as_secs_f64()
    );
    drop(live);
    delete_keys(&prefix).await;
    pg.drop(&name).await;
}

async fn backup_and_restore(pg: &Pg, binary: &str) {
    use domain::pipeline::PipelineDocument;
    use server::orchestration::engine::Engine;
    use server::orchestration::queue::{QueueSettings, SystemClock};
    use server::orchestration::stages::StageRegistry;
    let name = format!("topsail_backup_{}", std::process::id());
    let url = pg.database(&name).await;
    let store = server::store::Store::connect(Some(&url), std::path::Path::new("."))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let engine = Arc::new(Engine::new(
        &store,
        Arc::new(SystemClock),
        QueueSettings::default(),
        StageRegistry::standard(),
    ));
    let doc = PipelineDocument::from_value(five_waits()).unwrap();
    let made = Instant::now();
    for chunk in 0..BACKUP_EXECUTIONS / 500 {
        for _ in 0..500 {
            engine
                .start(&doc, json!({"type": "manual", "user": "bench"}))
                .await
                .unwrap();
        }
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let engine = engine.clone();
                tokio::spawn(async move { while engine.run_once(32).await.unwrap() > 0 {} })
            })
            .collect();
        for w in workers {
            w.await.unwrap();
        }
        if chunk % 5 == 4 {
            eprintln!("  {} executions run", (chunk + 1) * 500);
        }
    }
    eprintln!(
        "  {BACKUP_EXECUTIONS} executions made in {:.0} s",
        made.elapsed().as_secs_f64()
    );
    let _ = store.close().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.jsonl");
    let topsail = |args: &[&str], database: Option<&str>, data: &std::path::Path| {
        let mut command = Command::new(binary);
        command
            .args(args)
            .arg("--data-dir")
            .arg(data)
            .env_remove("DATABASE_URL")
            .env("TOPSAIL_LOG", "warn");
        match database {
            Some(url) => command.env("TOPSAIL_DATABASE_URL", url),
            None => command.env_remove("TOPSAIL_DATABASE_URL"),
        };
        let started = Instant::now();
        let out = command.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            started.elapsed(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        )
    };
    let file_arg = file.display().to_string();
    let (took, said) = topsail(
        &["backup", "--file", &file_arg],
        Some(&url),
        &dir.path().join("a"),
    );
    let size = std::fs::metadata(&file).unwrap().len();
    println!(
        "backup of {BACKUP_EXECUTIONS} executions from PostgreSQL: {:.1} s, {} MiB ({said})",
        took.as_secs_f64(),
        size / 1024 / 1024
    );
    let target = format!("{name}_restored");
    let restored_url = pg.database(&target).await;
    let (took, said) = topsail(
        &["restore", "--file", &file_arg],
        Some(&restored_url),
        &dir.path().join("b"),
    );
    println!(
        "restore into an empty PostgreSQL database: {:.1} s ({said})",
        took.as_secs_f64()
    );
    let (took, said) = topsail(
        &["restore", "--file", &file_arg],
        None,
        &dir.path().join("c"),
    );
    println!("restore into SQLite: {:.1} s ({said})", took.as_secs_f64());
    pg.drop(&target).await;
    pg.drop(&name).await;
}

#[tokio::main]
async fn main() {
    let binary = env!("CARGO_BIN_EXE_topsail");
    let pg = Pg::connect().await;
    // `cargo bench` passes `--bench`; a part's name picks that part alone.
    let only = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .unwrap_or_default();
    if only.is_empty() || only == "throughput" {
        for n in 1..=3 {
            throughput(&pg, binary, n).await;
        }
    }
    if only.is_empty() || only == "failover" {
        failover(&pg, binary).await;
    }
    if only.is_empty() || only == "backup" {
        backup_and_restore(&pg, binary).await;
    }
}
