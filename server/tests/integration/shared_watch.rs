//! One watch per cluster across replicas: `topsail serve` processes on PostgreSQL + Redis and
//! one simulated cluster. One replica holds the account's watch lease and watches; the others
//! mirror its cache through Redis and show the same objects — also after Redis loses its data.
//! A holder stopped with SIGTERM hands over at once (a fresh replica's view included, never
//! blank); a holder SIGKILLed is replaced once its lease runs out, the survivor showing what it
//! mirrored meanwhile and then following the cluster with its own watch.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::kubernetes::Sim;
use crate::support::{self, Backend, TopsailProcess, call, eventually};

/// The lease time the replicas run with (`[kubernetes] watch_lease_seconds`).
const LEASE: Duration = Duration::from_secs(2);

fn deployment(replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "shop"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web", "app.kubernetes.io/name": "shop"}},
                "spec": {"containers": [{"name": "main", "image": "registry.local/shop:1"}]}}}})
}

/// Whether the replica watches the account itself (`topsail_cluster_watch_held`), from its
/// `/metrics`.
async fn watches(client: &reqwest::Client, base: &str) -> Option<bool> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("topsail_cluster_watch_held{account=\"sim\"} "))
        .map(|v| v.trim() == "1")
}

/// The `web` Deployment's ready pods as the replica's Infrastructure view shows them.
async fn ready_in_view(client: &reqwest::Client, base: &str) -> Option<i64> {
    let (status, view) = call(
        client,
        base,
        "infrastructure/view",
        json!({"application": "shop"}),
    )
    .await;
    assert_eq!(status, 200, "{view}");
    view["accounts"][0]["namespaces"]
        .as_array()?
        .iter()
        .flat_map(|n| n["clusters"].as_array().cloned().unwrap_or_default())
        .find(|c| c["name"] == "web")
        .and_then(|c| c["ready"].as_i64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_watches_the_other_mirrors_and_takes_over_when_it_dies() {
    let sim = Sim::start().await;
    sim.namespaces(&["shop"]).await;
    let db = support::TestDatabase::create(Backend::Postgres).await;
    let url = db.url.clone().unwrap();
    let prefix = format!("topsail-test-{}", server::ids::long_id());
    let redis_url = support::redis_url();
    let config = db.dir.path().join("topsail.toml");
    std::fs::write(
        &config,
        format!(
            "[kubernetes]\nuse_default_kubeconfig = false\nwatch_lease_seconds = {}\n\n\
             [[kubernetes.accounts]]\nname = \"sim\"\nkubeconfig = \"{}\"\ncontext = \"sim\"\n",
            LEASE.as_secs(),
            sim.kubeconfig.display()
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let env = [
        ("TOPSAIL_DATABASE_URL", url.as_str()),
        ("TOPSAIL_REDIS_URL", redis_url.as_str()),
        ("TOPSAIL_REDIS_KEY_PREFIX", prefix.as_str()),
        ("TOPSAIL_CONFIG", config.as_str()),
    ];
    let (a_dir, b_dir) = (db.dir.path().join("a"), db.dir.path().join("b"));
    let a = TopsailProcess::spawn(&a_dir, &env);
    let client = support::sign_in(&a.base, "admin", &support::initial_admin_password(&a_dir)).await;
    eventually(
        "replica A to take the watch lease",
        Duration::from_secs(15),
        || async { (watches(&client, &a.base).await == Some(true)).then_some(()) },
    )
    .await;
    let b = TopsailProcess::spawn(&b_dir, &env);
    let (status, app) = call(
        &client,
        &a.base,
        "applications/create",
        json!({"input": {"name": "shop", "ownerEmail": "ops@example.com"}}),
    )
    .await;
    assert_eq!(status, 200, "{app}");
    eventually(
        "replica B to mirror the account",
        Duration::from_secs(15),
        || async { (watches(&client, &b.base).await == Some(false)).then_some(()) },
    )
    .await;

    // A change in the cluster: A watches it, B shows it from A's writes.
    let http = sim.http();
    let token = sim.cluster.token.clone().unwrap();
    let apply = |replicas: i64| {
        let (http, token, url) = (http.clone(), token.clone(), sim.cluster.url.clone());
        async move {
            let r = http
                .patch(format!(
                    "{url}/apis/apps/v1/namespaces/shop/deployments/web?fieldManager=test"
                ))
                .bearer_auth(token)
                .header("content-type", "application/apply-patch+yaml")
                .body(deployment(replicas).to_string())
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        }
    };
    apply(2).await;
    eventually(
        "B's view to show A's watch",
        Duration::from_secs(20),
        || async { (ready_in_view(&client, &b.base).await == Some(2)).then_some(()) },
    )
    .await;
    assert_eq!(
        watches(&client, &b.base).await,
        Some(false),
        "B only mirrors while A holds the lease"
    );

    // Redis loses its data (a restart without persistence): the holder notices at its next
    // renewal and writes the account again; B follows again.
    delete_keys_matching(&format!("{prefix}:cache*")).await;
    delete_keys_matching(&format!("{prefix}:watch-lease*")).await;
    apply(3).await;
    eventually(
        "B to follow after Redis lost the cache",
        Duration::from_secs(30),
        || async { (ready_in_view(&client, &b.base).await == Some(3)).then_some(()) },
    )
    .await;

    // A stops as an orchestrator stops a Pod (SIGTERM) while a fresh replica C has joined: A
    // gives its lease up; whichever of B and C takes it over, both show the account throughout —
    // the fresh one's view too.
    let c = TopsailProcess::spawn(&db.dir.path().join("c"), &env);
    eventually(
        "C to mirror the account",
        Duration::from_secs(20),
        || async { (ready_in_view(&client, &c.base).await == Some(3)).then_some(()) },
    )
    .await;
    a.terminate();
    let handover = Instant::now();
    while handover.elapsed() < LEASE * 2 {
        for (name, base) in [("B", &b.base), ("C", &c.base)] {
            assert_eq!(
                ready_in_view(&client, base).await,
                Some(3),
                "{name}'s view during the handover"
            );
        }
    }
    let (holder, survivor) = loop {
        match (
            watches(&client, &b.base).await,
            watches(&client, &c.base).await,
        ) {
            (Some(true), Some(false)) => break (b, c),
            (Some(false), Some(true)) => break (c, b),
            _ => {}
        }
        assert!(
            handover.elapsed() < LEASE * 10,
            "no single replica took the lease over"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // The new holder dies without a word: the survivor keeps what it mirrored, then watches.
    holder.kill_hard();
    let killed = Instant::now();
    assert_eq!(
        ready_in_view(&client, &survivor.base).await,
        Some(3),
        "the view never goes blank"
    );
    // The lease runs out at most LEASE after it was last renewed; the survivor asks every third.
    eventually("the survivor to take the lease", LEASE * 5, || async {
        (watches(&client, &survivor.base).await == Some(true)).then_some(())
    })
    .await;
    eprintln!(
        "taken over {:?} after the holder was killed",
        killed.elapsed()
    );
    apply(4).await;
    eventually(
        "the survivor's own watch to show the scale",
        Duration::from_secs(20),
        || async { (ready_in_view(&client, &survivor.base).await == Some(4)).then_some(()) },
    )
    .await;
    let b = survivor;
    // What B's watch cost shows in its /metrics: the calls to the cluster and the lists.
    let metrics = client
        .get(format!("{}/metrics", b.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        "topsail_outbound_request_duration_seconds_count{target=\"kubernetes\",outcome=\"answered\"}",
        "topsail_cluster_watch_lists_total{account=\"sim\",kind=\"Pod\"}",
        "topsail_infrastructure_cached_objects{account=\"sim\"}",
    ] {
        assert!(metrics.contains(series), "{series} in {metrics}");
    }
    drop(b);
    delete_keys(&prefix).await;
    db.drop().await;
}

/// Removes every Redis key the replicas wrote under `prefix` (queue, leases, cache).
async fn delete_keys(prefix: &str) {
    delete_keys_matching(&format!("{prefix}:*")).await;
}

async fn delete_keys_matching(pattern: &str) {
    let client = redis::Client::open(support::redis_url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(pattern)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_has_one_holder_and_only_the_holder_writes() {
    use server::kubernetes::cache::CacheKey;
    use server::kubernetes::sharing::redis::{Lease, RedisCacheShare};
    let prefix = format!("topsail-test-{}", server::ids::long_id());
    let share = RedisCacheShare::connect(&support::redis_url(), &prefix)
        .await
        .unwrap();
    let ttl = Duration::from_millis(300);
    let mine = |anew| Lease::Held { anew };
    let other = |who: &str| Lease::Other(who.to_owned());
    assert_eq!(share.hold("sim", "a", ttl).await.unwrap(), mine(true));
    assert_eq!(
        share.hold("sim", "b", ttl).await.unwrap(),
        other("a"),
        "held"
    );
    assert_eq!(
        share.hold("sim", "a", ttl).await.unwrap(),
        mine(false),
        "renewed"
    );
    let key = CacheKey {
        account: "sim".into(),
        kind: "Pod".into(),
        namespace: "shop".into(),
        name: "web-1".into(),
    };
    let pod = json!({"metadata": {"name": "web-1", "namespace": "shop"}});
    assert!(share.write("a", &key, Some(&pod)).await.unwrap());
    assert!(
        !share
            .write("b", &key, Some(&json!({"stale": true})))
            .await
            .unwrap(),
        "only the holder writes"
    );
    assert_eq!(
        share.snapshot("sim").await.unwrap(),
        (1, vec![(key.clone(), pod.clone())])
    );
    // Not renewed: it expires and the other replica takes it.
    eventually("the lease to expire", Duration::from_secs(10), || async {
        (share.hold("sim", "b", ttl).await.unwrap() == mine(true)).then_some(())
    })
    .await;
    assert!(
        !share.write("a", &key, None).await.unwrap(),
        "a replica that lost the lease cannot overwrite its successor"
    );
    assert!(share.reset("b", "sim", &[]).await.unwrap());
    assert_eq!(share.snapshot("sim").await.unwrap(), (2, vec![]));
    assert!(
        !share.reset("a", "sim", &[]).await.unwrap(),
        "only the holder writes an account whole"
    );
    assert_eq!(share.last_change("sim").await.unwrap(), 2);
    share.release("sim", "a").await.unwrap();
    assert_eq!(
        share.hold("sim", "a", ttl).await.unwrap(),
        other("b"),
        "a cannot give up b's lease"
    );
    share.release("sim", "b").await.unwrap();
    assert_eq!(
        share.hold("sim", "a", ttl).await.unwrap(),
        mine(true),
        "given up: free at once"
    );
    delete_keys(&prefix).await;
}
