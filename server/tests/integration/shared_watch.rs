//! One watch per cluster across replicas: two `topsail serve` processes on PostgreSQL + Redis
//! and one simulated cluster. One replica holds the account's watch lease and watches; the
//! other mirrors its cache through Redis and shows the same objects. When the holder is
//! SIGKILLed the survivor keeps showing what it mirrored, takes the lease once it expires and
//! follows the cluster with its own watch.

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

    // The holder dies without a word: B keeps what it mirrored, then watches by itself.
    a.kill_hard();
    let killed = Instant::now();
    assert_eq!(
        ready_in_view(&client, &b.base).await,
        Some(2),
        "the view never goes blank"
    );
    // The lease runs out at most LEASE after A last renewed it; B asks every third of it.
    eventually("B to take the lease", LEASE * 5, || async {
        (watches(&client, &b.base).await == Some(true)).then_some(())
    })
    .await;
    eprintln!(
        "B took the watch over {:?} after A was killed",
        killed.elapsed()
    );
    apply(3).await;
    eventually(
        "B's own watch to show the scale",
        Duration::from_secs(20),
        || async { (ready_in_view(&client, &b.base).await == Some(3)).then_some(()) },
    )
    .await;
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
    let client = redis::Client::open(support::redis_url()).unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_has_one_holder_and_only_the_holder_writes() {
    use server::kubernetes::cache::CacheKey;
    use server::kubernetes::sharing::redis::RedisCacheShare;
    let prefix = format!("topsail-test-{}", server::ids::long_id());
    let share = RedisCacheShare::connect(&support::redis_url(), &prefix)
        .await
        .unwrap();
    let ttl = Duration::from_millis(300);
    assert_eq!(share.hold("sim", "a", ttl).await.unwrap(), "a");
    assert_eq!(share.hold("sim", "b", ttl).await.unwrap(), "a", "held");
    assert_eq!(share.hold("sim", "a", ttl).await.unwrap(), "a", "renewed");
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
        (share.hold("sim", "b", ttl).await.unwrap() == "b").then_some(())
    })
    .await;
    assert!(
        !share.write("a", &key, None).await.unwrap(),
        "a replica that lost the lease cannot overwrite its successor"
    );
    assert!(share.reset("b", "sim", &[]).await.unwrap());
    assert_eq!(share.snapshot("sim").await.unwrap(), (2, vec![]));
    share.release("sim", "a").await.unwrap();
    assert_eq!(
        share.hold("sim", "a", ttl).await.unwrap(),
        "b",
        "a cannot give up b's lease"
    );
    share.release("sim", "b").await.unwrap();
    assert_eq!(
        share.hold("sim", "a", ttl).await.unwrap(),
        "a",
        "given up: free at once"
    );
    delete_keys(&prefix).await;
}
