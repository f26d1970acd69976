//! Triggers fire once, however many replicas hear the event: three `topsail serve` replicas on
//! one PostgreSQL database and one Redis queue, each running its own cron check, Jenkins poll
//! and registry tag poll, and each receiving the same webhook delivery. Every cron fire time,
//! completed build, pushed tag and delivery starts exactly one execution (run ids derive from
//! the event; the database keeps the first).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use server::orchestration::engine::Engine;
use server::orchestration::queue::{QueueSettings, SystemClock};
use server::orchestration::stages::StageRegistry;

use crate::jenkins::{self, TOKEN};
use crate::registries::{Registry, free_port};
use crate::support::{self, Backend, TopsailProcess, call, eventually};

const REPLICAS: usize = 3;
/// Cron runs to see before counting: the cron check runs every 5 s on each replica, so by then
/// each replica has checked the same fire times more than once and polled Jenkins and the
/// registry many times after the builds and pushes.
const CRON_RUNS: usize = 10;

fn pipeline(name: &str, trigger: Value) -> Value {
    json!({"application": "shop", "name": name, "triggers": [trigger],
        "stages": [{"refId": "1", "type": "wait", "name": "Wait", "waitTime": 0}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_start_one_run_per_event() {
    let db = support::TestDatabase::create(Backend::Postgres).await;
    let url = db.url.clone().unwrap();
    let prefix = format!("topsail-test-{}", server::ids::long_id());
    let redis_url = support::redis_url();
    let ci = jenkins::emulator(json!([])).await;
    let registry = Registry::start(free_port(), None).await;
    let config = db.dir.path().join("topsail.toml");
    std::fs::write(
        &config,
        format!(
            "[jenkins]\npoll_interval_ms = 250\n[[jenkins.masters]]\nname = \"ci\"\naddress = \"{}\"\nusername = \"ci-bot\"\ntoken_env = \"TEST_JENKINS_TOKEN\"\n\n[[registries]]\nname = \"local\"\naddress = \"{}\"\npoll_interval_ms = 250\n",
            ci.url, registry.url
        ),
    )
    .unwrap();
    let env = [
        ("TOPSAIL_CONFIG", config.to_str().unwrap()),
        ("TEST_JENKINS_TOKEN", TOKEN),
        ("TOPSAIL_DATABASE_URL", url.as_str()),
        ("TOPSAIL_REDIS_URL", redis_url.as_str()),
        ("TOPSAIL_REDIS_KEY_PREFIX", prefix.as_str()),
    ];
    let replicas: Vec<TopsailProcess> = (0..REPLICAS)
        .map(|i| TopsailProcess::spawn(&db.dir.path().join(format!("r{i}")), &env))
        .collect();
    let first = &replicas[0].base;
    let client = support::sign_in(
        first,
        "admin",
        &support::initial_admin_password(&db.dir.path().join("r0")),
    )
    .await;
    let ok = |(status, body): (u16, Value)| {
        assert_eq!(status, 200, "{body}");
        body
    };
    ok(call(
        &client,
        first,
        "applications/create",
        json!({"input": {"name": "shop", "ownerEmail": "ops@example.com"}}),
    )
    .await);
    for p in [
        pipeline(
            "Every second",
            json!({"type": "cron", "cronExpression": "* * * * * ?", "enabled": true}),
        ),
        pipeline(
            "On build",
            json!({"type": "jenkins", "master": "ci", "job": "plain", "enabled": true}),
        ),
        pipeline(
            "On push",
            json!({"type": "docker", "account": "local", "repository": "shop/web", "enabled": true}),
        ),
        pipeline(
            "On hook",
            json!({"type": "webhook", "source": "release", "enabled": true}),
        ),
    ] {
        ok(call(&client, first, "pipelines/save", json!({"pipeline": p})).await);
    }

    // The first look at a job or repository only records where it stands: wait for it.
    let store = db.store().await;
    for source in ["jenkins:ci:plain", "docker:local:shop/web"] {
        eventually(
            &format!("a replica to look at {source}"),
            Duration::from_secs(20),
            || async { store.cursor(source).await.unwrap() },
        )
        .await;
    }
    let jenkins = jenkins::client(&ci);
    let builds = [
        jenkins::completed_build(&jenkins, "plain", &[]).await,
        jenkins::completed_build(&jenkins, "plain", &[]).await,
    ];
    let pushed = [
        registry.push("shop/web", "v1").await,
        registry.push("shop/web", "v2").await,
    ];
    // The same delivery reaches every replica (a sender retrying through a load balancer);
    // a second delivery is a second event.
    let web = reqwest::Client::new();
    for (delivery, to) in [("d-1", &replicas[..]), ("d-2", &replicas[..1])] {
        for r in to {
            let res = web
                .post(format!("{}/webhooks/webhook/release", r.base))
                .header("x-delivery-id", delivery)
                .json(&json!({"delivery": delivery}))
                .send()
                .await
                .unwrap();
            assert!(res.status().is_success(), "{}", res.status());
        }
    }

    let engine = Engine::new(
        &store,
        Arc::new(SystemClock),
        QueueSettings::default(),
        StageRegistry::standard(),
    );
    let runs = eventually(
        "the cron runs and every other trigger's runs",
        Duration::from_secs(60),
        || async {
            let runs = engine.executions("shop", 500).await.unwrap();
            let by_type = |t: &str| runs.iter().filter(|r| r.trigger["type"] == t).count();
            (by_type("cron") >= CRON_RUNS
                && by_type("jenkins") >= builds.len()
                && by_type("docker") >= pushed.len()
                && by_type("webhook") >= 2)
                .then_some(runs)
        },
    )
    .await;

    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for r in &runs {
        let t = &r.trigger;
        let event = match t["type"].as_str().unwrap() {
            "cron" => t["fireTime"].to_string(),
            "jenkins" => t["buildNumber"].to_string(),
            "docker" => format!("{}@{}", t["tag"], t["digest"]),
            "webhook" => t["payload"]["delivery"].to_string(),
            other => panic!("an unexpected trigger type {other}"),
        };
        *seen
            .entry((t["type"].as_str().unwrap().to_owned(), event))
            .or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "events that started more than one run: {twice:?}"
    );
    let events = |kind: &str| {
        seen.keys()
            .filter(|(k, _)| k == kind)
            .map(|(_, e)| e.clone())
            .collect::<Vec<_>>()
    };
    let mut built: Vec<String> = builds.iter().map(u64::to_string).collect();
    built.sort();
    assert_eq!(events("jenkins"), built);
    assert_eq!(
        events("docker"),
        vec![
            format!("\"v1\"@\"{}\"", pushed[0]),
            format!("\"v2\"@\"{}\"", pushed[1])
        ]
    );
    assert_eq!(events("webhook"), vec!["\"d-1\"", "\"d-2\""]);
    drop(replicas);
    store.close().await.unwrap();
    support::delete_process_queue(&prefix).await;
    db.drop().await;
}
