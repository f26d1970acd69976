//! The Kubernetes layer (kube-rs through a kubeconfig) against the simulator, over HTTP, as it
//! would talk to a real cluster.

use std::path::PathBuf;
use std::time::Duration;

use kubernetes_simulator::{Config as SimConfig, RunningCluster, Timing};
use serde_json::{Value, json};
use server::config::{KubernetesAccountConfig, KubernetesConfig};
use server::kubernetes::{
    AccountHealth, Accounts, DeployRequest, KubernetesError, ResourceRef, RolloutStatus,
};

pub struct Sim {
    pub cluster: RunningCluster,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

impl Sim {
    pub async fn start() -> Self {
        let config = SimConfig {
            token: Some(format!("token-{}", std::process::id())),
            // HTTPS, verified against the CA in the kubeconfig, as with a real cluster.
            https: true,
            timing: Timing {
                pod_ready_after: Duration::from_millis(80),
                slow_ready_after: Duration::from_secs(2),
                crash_every: Duration::from_millis(100),
                nodes: vec!["node-a".into()],
            },
            tick: Duration::from_millis(20),
            ..SimConfig::default()
        };
        let cluster = kubernetes_simulator::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig.yaml");
        std::fs::write(&kubeconfig, cluster.kubeconfig("sim", "default")).unwrap();
        Self {
            cluster,
            dir,
            kubeconfig,
        }
    }

    /// An HTTP client that trusts the cluster's certificate authority.
    pub fn http(&self) -> reqwest::Client {
        let ca = reqwest::Certificate::from_pem(self.cluster.ca_pem.as_deref().unwrap().as_bytes())
            .unwrap();
        reqwest::Client::builder()
            .add_root_certificate(ca)
            .build()
            .unwrap()
    }

    /// Creates namespaces straight through the API.
    pub async fn namespaces(&self, names: &[&str]) {
        let http = self.http();
        for n in names {
            let r = http
                .post(format!("{}/api/v1/namespaces", self.cluster.url))
                .bearer_auth(self.cluster.token.as_deref().unwrap())
                .header("content-type", "application/json")
                .body(json!({"metadata": {"name": n}}).to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 201);
        }
    }

    pub async fn faults(&self, spec: Value) {
        self.http()
            .post(format!("{}/simulator/faults", self.cluster.url))
            .body(spec.to_string())
            .send()
            .await
            .unwrap();
    }

    pub fn account(&self, name: &str, namespaces: &[&str]) -> KubernetesAccountConfig {
        KubernetesAccountConfig {
            name: name.into(),
            kubeconfig: Some(self.kubeconfig.clone()),
            context: Some("sim".into()),
            namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
            ..KubernetesAccountConfig::default()
        }
    }

    pub async fn accounts(&self, namespaces: &[&str]) -> Accounts {
        Accounts::load(&KubernetesConfig {
            accounts: vec![self.account("test", namespaces)],
            kubeconfigs: vec![],
            use_default_kubeconfig: false,
            ..KubernetesConfig::default()
        })
        .await
    }
}

pub fn deployment(name: &str, image: &str, replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "main", "image": image, "ports": [{"containerPort": 8080}]}]}}}})
}

pub fn service(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
}

pub fn deploy_request(namespace: &str, manifests: Vec<Value>) -> DeployRequest {
    DeployRequest {
        account: "test".into(),
        namespace_override: Some(namespace.into()),
        application: "shop".into(),
        manifests,
        origin: domain::environments::DeployOrigin {
            execution_id: String::new(),
            pipeline_id: String::new(),
            pipeline_name: String::new(),
            user: "integration-test".into(),
            time: chrono::Utc::now(),
        },
    }
}

pub fn web(namespace: &str) -> ResourceRef {
    ResourceRef::parse("test", Some(namespace), "deployment web").unwrap()
}

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_come_from_kubeconfig_contexts_and_fail_alone() {
    let sim = Sim::start().await;
    let other = Sim::start().await;
    let both = sim.dir.path().join("both.yaml");
    std::fs::write(
        &both,
        kubernetes_simulator::kubeconfig(&[
            ("east", &sim.cluster, "default"),
            ("west", &other.cluster, "default"),
        ]),
    )
    .unwrap();
    let broken = sim.dir.path().join("broken.yaml");
    std::fs::write(&broken, "this: [is not a kubeconfig").unwrap();
    let unreachable = sim.dir.path().join("unreachable.yaml");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    std::fs::write(&unreachable, format!("apiVersion: v1\nkind: Config\ncurrent-context: gone\nclusters:\n- name: gone\n  cluster:\n    server: {closed}\nusers:\n- name: gone\n  user: {{}}\ncontexts:\n- name: gone\n  context:\n    cluster: gone\n    user: gone\n")).unwrap();
    let config = KubernetesConfig {
        accounts: vec![
            KubernetesAccountConfig {
                name: "prod".into(),
                kubeconfig: Some(both.clone()),
                context: Some("west".into()),
                namespaces: vec!["shop".into()],
                ..KubernetesAccountConfig::default()
            },
            KubernetesAccountConfig {
                name: "gone".into(),
                kubeconfig: Some(unreachable),
                context: None,
                namespaces: vec![],
                ..KubernetesAccountConfig::default()
            },
            KubernetesAccountConfig {
                name: "typo".into(),
                kubeconfig: Some(both.clone()),
                context: Some("north".into()),
                namespaces: vec![],
                ..KubernetesAccountConfig::default()
            },
        ],
        kubeconfigs: vec![both, broken],
        use_default_kubeconfig: false,
        ..KubernetesConfig::default()
    };
    let accounts = Accounts::load(&config).await;
    accounts.check_all(Duration::from_secs(3)).await;
    let summaries = accounts.summaries();
    let by_name = |n: &str| {
        summaries
            .iter()
            .find(|s| s.name == n)
            .unwrap_or_else(|| panic!("{n} in {summaries:?}"))
            .clone()
    };
    assert!(
        matches!(by_name("east").health, AccountHealth::Healthy { .. }),
        "{summaries:?}"
    );
    assert!(matches!(
        by_name("west").health,
        AccountHealth::Healthy { .. }
    ));
    let prod = by_name("prod");
    assert_eq!(
        (prod.context.as_str(), prod.default_namespace.as_str()),
        ("west", "shop")
    );
    assert!(
        matches!(by_name("gone").health, AccountHealth::Unreachable { .. }),
        "{:?}",
        by_name("gone")
    );
    match by_name("typo").health {
        AccountHealth::Misconfigured { message } => {
            assert!(message.contains("has no context `north`"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    match by_name("broken").health {
        AccountHealth::Misconfigured { message } => {
            assert!(message.starts_with("cannot read kubeconfig"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    // An operation on a broken account is a clear error; the others still work.
    let r = ResourceRef::parse("typo", None, "deployment web").unwrap();
    let err = accounts.get(&r).await.unwrap_err();
    assert!(
        matches!(err, KubernetesError::AccountUnavailable { .. }),
        "{err}"
    );
    assert_eq!(
        accounts
            .get(&ResourceRef::parse("east", Some("default"), "deployment web").unwrap())
            .await
            .unwrap(),
        None
    );
    let err = accounts
        .get(&ResourceRef::parse("prod", Some("kube-system"), "deployment web").unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Kubernetes account `prod` may not use namespace `kube-system` (allowed: shop)"
    );
    assert!(matches!(
        accounts.account("nobody"),
        Err(KubernetesError::UnknownAccount(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_applies_labels_waits_until_stable_and_is_idempotent() {
    let sim = Sim::start().await;
    sim.namespaces(&["shop-test"]).await;
    let accounts = sim.accounts(&["shop-test"]).await;
    let deployed = accounts
        .deploy(&deploy_request(
            "shop-test",
            vec![deployment("web", "shop/web:1.0", 3), service("web")],
        ))
        .await
        .unwrap();
    assert_eq!(deployed.len(), 2);
    let d = &deployed[0].manifest;
    assert_eq!(d["metadata"]["namespace"], "shop-test");
    assert_eq!(
        d["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "topsail"
    );
    assert_eq!(d["metadata"]["labels"]["app.kubernetes.io/name"], "shop");
    assert_eq!(
        d["metadata"]["annotations"]["moniker.spinnaker.io/application"],
        "shop"
    );
    assert_eq!(
        d["metadata"]["annotations"]["moniker.spinnaker.io/cluster"],
        "deployment web"
    );
    assert_eq!(
        d["spec"]["template"]["metadata"]["annotations"]["moniker.spinnaker.io/application"],
        "shop"
    );
    assert_eq!(d["metadata"]["managedFields"][0]["manager"], "topsail");
    assert_eq!(deployed[1].resource.kind, "Service");

    let status = accounts.wait_stable(&web("shop-test"), WAIT).await.unwrap();
    assert_eq!(status, RolloutStatus::Stable);
    let svc = ResourceRef::parse("test", Some("shop-test"), "service web").unwrap();
    assert_eq!(
        accounts.wait_stable(&svc, WAIT).await.unwrap(),
        RolloutStatus::Stable
    );

    // The same deploy again rolls nothing out: the template is unchanged, so there is no new
    // revision. (It is recorded — who deployed it and when are annotations, and a Deployment's
    // generation counts annotation changes too, as the API server's does.)
    let again = accounts
        .deploy(&deploy_request(
            "shop-test",
            vec![deployment("web", "shop/web:1.0", 3)],
        ))
        .await
        .unwrap();
    assert_eq!(
        again[0].manifest["spec"]["template"],
        deployed[0].manifest["spec"]["template"]
    );
    accounts.wait_stable(&web("shop-test"), WAIT).await.unwrap();
    assert_eq!(
        accounts.revisions(&web("shop-test")).await.unwrap(),
        [1],
        "no new revision"
    );
    assert_eq!(
        accounts.images(&web("shop-test")).await.unwrap(),
        ["shop/web:1.0"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_image_rolls_out_and_undo_brings_the_old_one_back() {
    let sim = Sim::start().await;
    sim.namespaces(&["prod"]).await;
    let accounts = sim.accounts(&[]).await;
    for image in ["web:1", "web:2", "web:3"] {
        accounts
            .deploy(&deploy_request("prod", vec![deployment("web", image, 2)]))
            .await
            .unwrap();
        accounts.wait_stable(&web("prod"), WAIT).await.unwrap();
    }
    // Back one revision (to web:2), then to revision 1 by number.
    assert_eq!(accounts.undo(&web("prod"), None).await.unwrap(), 2);
    accounts.wait_stable(&web("prod"), WAIT).await.unwrap();
    assert_eq!(accounts.images(&web("prod")).await.unwrap(), ["web:2"]);
    assert_eq!(accounts.undo(&web("prod"), Some(1)).await.unwrap(), 1);
    accounts.wait_stable(&web("prod"), WAIT).await.unwrap();
    assert_eq!(accounts.images(&web("prod")).await.unwrap(), ["web:1"]);
    let d = accounts.get(&web("prod")).await.unwrap().unwrap();
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "5"
    );
    let err = accounts.undo(&web("prod"), Some(42)).await.unwrap_err();
    assert!(
        err.to_string().contains("unable to find revision 42"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_pause_resume_restart_and_delete() {
    let sim = Sim::start().await;
    sim.namespaces(&["prod"]).await;
    let accounts = sim.accounts(&[]).await;
    accounts
        .deploy(&deploy_request("prod", vec![deployment("web", "web:1", 1)]))
        .await
        .unwrap();
    accounts.wait_stable(&web("prod"), WAIT).await.unwrap();
    accounts.scale(&web("prod"), 4).await.unwrap();
    accounts.wait_stable(&web("prod"), WAIT).await.unwrap();
    let d = accounts.get(&web("prod")).await.unwrap().unwrap();
    assert_eq!(
        (
            d["spec"]["replicas"].as_i64(),
            d["status"]["readyReplicas"].as_i64()
        ),
        (Some(4), Some(4))
    );

    accounts.set_paused(&web("prod"), true).await.unwrap();
    assert_eq!(
        accounts.wait_stable(&web("prod"), WAIT).await.unwrap(),
        RolloutStatus::Paused
    );
    accounts.set_paused(&web("prod"), false).await.unwrap();
    accounts.restart(&web("prod")).await.unwrap();
    accounts.wait_stable(&web("prod"), WAIT).await.unwrap();
    let d = accounts.get(&web("prod")).await.unwrap().unwrap();
    assert!(
        d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_string()
    );
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2",
        "a restart is a new revision"
    );

    assert!(accounts.delete(&web("prod")).await.unwrap());
    assert!(
        !accounts.delete(&web("prod")).await.unwrap(),
        "deleting again is fine"
    );
    assert_eq!(accounts.get(&web("prod")).await.unwrap(), None);
    assert!(matches!(
        accounts.rollout_status(&web("prod")).await,
        Err(KubernetesError::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_rollouts_say_why() {
    let sim = Sim::start().await;
    sim.namespaces(&["prod"]).await;
    let accounts = sim.accounts(&[]).await;
    accounts
        .deploy(&deploy_request(
            "prod",
            vec![deployment("web", "registry.local/crashloop:1", 2)],
        ))
        .await
        .unwrap();
    match accounts.wait_stable(&web("prod"), WAIT).await.unwrap_err() {
        KubernetesError::RolloutFailed { resource, reason } => {
            assert_eq!(resource, "deployment prod/web");
            assert!(
                reason.contains("container main: CrashLoopBackOff"),
                "{reason}"
            );
        }
        other => panic!("{other}"),
    }
    let api = ResourceRef::parse("test", Some("prod"), "deployment api").unwrap();
    accounts
        .deploy(&deploy_request(
            "prod",
            vec![deployment("api", "registry.local/does-not-exist:1", 1)],
        ))
        .await
        .unwrap();
    let err = accounts.wait_stable(&api, WAIT).await.unwrap_err();
    assert!(
        err.to_string().contains("ImagePull") || err.to_string().contains("ErrImagePull"),
        "{err}"
    );

    let mut slow = deployment("slow", "registry.local/never-ready:1", 1);
    slow["spec"]["progressDeadlineSeconds"] = json!(1);
    accounts
        .deploy(&deploy_request("prod", vec![slow]))
        .await
        .unwrap();
    let r = ResourceRef::parse("test", Some("prod"), "deployment slow").unwrap();
    let err = accounts.wait_stable(&r, WAIT).await.unwrap_err();
    assert!(
        err.to_string().contains("ProgressDeadlineExceeded"),
        "{err}"
    );

    let hold = ResourceRef::parse("test", Some("prod"), "deployment hold").unwrap();
    accounts
        .deploy(&deploy_request(
            "prod",
            vec![deployment("hold", "registry.local/never-ready:2", 1)],
        ))
        .await
        .unwrap();
    match accounts
        .wait_stable(&hold, Duration::from_millis(600))
        .await
        .unwrap_err()
    {
        KubernetesError::RolloutTimeout { last, .. } => assert!(
            last.contains("0 of 1 updated replicas are available"),
            "{last}"
        ),
        other => panic!("{other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_and_rejections_are_explained() {
    let sim = Sim::start().await;
    sim.namespaces(&["prod"]).await;
    let accounts = sim.accounts(&[]).await;
    sim.faults(json!({"failNext": 3, "status": 503, "pathContains": "deployments"}))
        .await;
    accounts
        .deploy(&deploy_request("prod", vec![deployment("web", "web:1", 1)]))
        .await
        .unwrap();
    sim.faults(json!({"failNext": 100, "status": 500, "pathContains": "deployments"}))
        .await;
    match accounts.get(&web("prod")).await.unwrap_err() {
        KubernetesError::Unreachable {
            attempts, resource, ..
        } => assert_eq!((attempts, resource.as_str()), (5, "deployment prod/web")),
        other => panic!("{other}"),
    }
    sim.faults(json!({})).await;

    let mut bad = deployment("bad", "web:1", 1);
    bad["spec"]["selector"] = json!({"matchLabels": {"app": "other"}});
    match accounts
        .deploy(&deploy_request("prod", vec![bad]))
        .await
        .unwrap_err()
    {
        KubernetesError::Rejected {
            resource,
            code,
            message,
            ..
        } => {
            assert_eq!((resource.as_str(), code), ("deployment prod/bad", 422));
            assert!(
                message.contains("`selector` does not match template `labels`"),
                "{message}"
            );
        }
        other => panic!("{other}"),
    }
    let err = accounts
        .deploy(&deploy_request("prod", vec![json!({"kind": "Deployment"})]))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid manifest: manifest 1 needs apiVersion, kind and metadata.name"
    );
    let widget =
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
    let err = accounts
        .deploy(&deploy_request("prod", vec![widget]))
        .await
        .unwrap_err();
    assert!(matches!(err, KubernetesError::Unsupported { .. }), "{err}");
    // Nothing half-written: the first manifest of a batch with a bad second one is not applied.
    let batch = vec![
        deployment("first", "web:1", 1),
        json!({"apiVersion": "v1", "kind": "Service"}),
    ];
    accounts
        .deploy(&deploy_request("prod", batch))
        .await
        .unwrap_err();
    assert_eq!(
        accounts
            .get(&ResourceRef::parse("test", Some("prod"), "deployment first").unwrap())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_into_a_missing_namespace_carries_what_the_cluster_said() {
    let sim = Sim::start().await;
    let accounts = sim.accounts(&[]).await;
    let err = accounts
        .deploy(&deploy_request(
            "app-test",
            vec![deployment("web", "web:1", 1)],
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, KubernetesError::NotFound { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "deployment app-test/web: namespaces \"app-test\" not found"
    );
}

/// Reads server-sent events until `check` accepts a `view` event's data, or the deadline passes.
async fn next_view(
    events: &mut reqwest::Response,
    buffer: &mut String,
    check: impl Fn(&Value) -> bool,
) -> Value {
    crate::support::next_event(events, buffer, "view", check).await
}

fn pods_in(view: &Value, cluster: &str) -> Vec<Value> {
    view["accounts"][0]["namespaces"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|ns| ns["clusters"].as_array().cloned().unwrap_or_default())
        .filter(|c| c["name"] == cluster)
        .flat_map(|c| c["serverGroups"].as_array().cloned().unwrap_or_default())
        .flat_map(|g| g["pods"].as_array().cloned().unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_infrastructure_view_follows_the_cluster_live() {
    use crate::support::{Backend, TestServer};
    let sim = Sim::start().await;
    sim.namespaces(&["shop-test"]).await;
    let account = sim.account("test", &["shop-test"]);
    let server =
        TestServer::start_with(Backend::Sqlite, |c| c.kubernetes.accounts = vec![account]).await;
    let (code, _, _) = server
        .call(
            "applications/create",
            json!({"input": {"name": "shop", "ownerEmail": "team@example.com"}}),
        )
        .await;
    assert!(code == 200 || code == 201, "{code}");

    let mut events = server
        .client
        .get(format!(
            "{}/api/infrastructure/stream?application=shop",
            server.base
        ))
        .send()
        .await
        .unwrap();
    let mut buffer = String::new();
    let first = next_view(&mut events, &mut buffer, |_| true).await;
    assert_eq!(first["application"], "shop");
    assert_eq!(first["accounts"][0]["name"], "test");

    // Deploy outside the server (as a pipeline would): the view shows the pods turning ready.
    let accounts = sim.accounts(&["shop-test"]).await;
    accounts
        .deploy(&deploy_request(
            "shop-test",
            vec![deployment("web", "shop/web:1", 2), service("web")],
        ))
        .await
        .unwrap();
    let ready = next_view(&mut events, &mut buffer, |v| {
        let pods = pods_in(v, "web");
        pods.len() == 2 && pods.iter().all(|p| p["health"] == "up")
    })
    .await;
    let ns = &ready["accounts"][0]["namespaces"][0];
    assert_eq!(ns["name"], "shop-test");
    assert_eq!(ns["clusters"][0]["moniker"], "deployment web");
    assert_eq!(ns["loadBalancers"][0]["kind"], "Service");
    // An action through the API: scale to 3, seen without asking again.
    let target = json!({"application": "shop", "account": "test", "namespace": "shop-test", "kind": "Deployment", "name": "web"});
    let (code, said, _) = server
        .call(
            "infrastructure/act",
            json!({"action": {"action": "scale", "target": target, "replicas": 3}}),
        )
        .await;
    assert_eq!(
        (code, said.as_str()),
        (200, Some("Scale deployment web to 3: done"))
    );
    next_view(&mut events, &mut buffer, |v| {
        pods_in(v, "web")
            .iter()
            .filter(|p| p["health"] == "up")
            .count()
            == 3
    })
    .await;
    // The watch survives a forced 410: a change after it still arrives.
    sim.http()
        .post(format!("{}/simulator/expire-watches", sim.cluster.url))
        .send()
        .await
        .unwrap();
    accounts.scale(&web("shop-test"), 1).await.unwrap();
    next_view(&mut events, &mut buffer, |v| pods_in(v, "web").len() == 1).await;
    // A crash-looping image shows red, with its reason.
    accounts
        .deploy(&deploy_request(
            "shop-test",
            vec![deployment("worker", "shop/crashloop:1", 1)],
        ))
        .await
        .unwrap();
    let crashing = next_view(&mut events, &mut buffer, |v| {
        pods_in(v, "worker").iter().any(|p| p["health"] == "down")
    })
    .await;
    let pod = pods_in(&crashing, "worker")[0].clone();
    assert_eq!(pod["reason"], "CrashLoopBackOff");

    // Details and logs are read live.
    let pod_ref = json!({"application": "shop", "account": "test", "namespace": "shop-test", "kind": "Pod", "name": pod["name"]});
    let (code, details, _) = server
        .call("infrastructure/details", json!({"object": pod_ref}))
        .await;
    assert_eq!(code, 200, "{details}");
    assert!(
        details["yaml"]
            .as_str()
            .unwrap()
            .contains("image: shop/crashloop:1")
    );
    assert!(
        details["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["reason"] == "BackOff"),
        "{details}"
    );
    let (code, logs, _) = server
        .call("infrastructure/logs", json!({"pod": pod_ref}))
        .await;
    assert_eq!(code, 200);
    assert!(
        logs.as_str()
            .unwrap()
            .contains("the image is marked to crash"),
        "{logs}"
    );
    // Errors name what failed.
    let missing = json!({"application": "shop", "account": "test", "namespace": "shop-test", "kind": "Deployment", "name": "nope"});
    let (code, err, _) = server
        .call(
            "infrastructure/act",
            json!({"action": {"action": "restart", "target": missing}}),
        )
        .await;
    assert_eq!(code, 404, "{err}");
    let elsewhere = json!({"application": "shop", "account": "test", "namespace": "kube-system", "kind": "Deployment", "name": "web"});
    let (code, err, _) = server
        .call(
            "infrastructure/act",
            json!({"action": {"action": "delete", "target": elsewhere}}),
        )
        .await;
    assert_eq!(code, 422, "{err}");
    server.stop().await;
}

/// `kubernetes-validate` (PyPI, installed by `./x setup`), strict, against Kubernetes 1.33.
fn validate(dir: &std::path::Path, manifests: &[Value]) -> (bool, String) {
    let mut files = Vec::new();
    for (i, m) in manifests.iter().enumerate() {
        let path = dir.join(format!("manifest-{i}.json"));
        std::fs::write(&path, serde_json::to_string_pretty(m).unwrap()).unwrap();
        files.push(path);
    }
    let output = std::process::Command::new("kubernetes-validate")
        .args(["--strict", "--no-warn", "-k", "1.33.0"])
        .args(&files)
        .output()
        .expect("kubernetes-validate must be installed (./x setup installs it from PyPI)");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[test]
fn the_manifests_topsail_writes_pass_strict_schema_validation() {
    use server::kubernetes::operations::prepare;
    let dir = tempfile::tempdir().unwrap();
    let ingress = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web"},
        "spec": {"rules": [{"host": "shop.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}});
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"mode": "test"}});
    let written: Vec<Value> = [
        deployment("web", "shop/web:1", 3),
        service("web"),
        ingress,
        config,
    ]
    .iter()
    .map(|m| prepare(m, "shop", Some("shop-test")))
    .collect();
    let (ok, output) = validate(dir.path(), &written);
    assert!(ok, "{output}");
    // The check can fail: an unknown field is rejected.
    let mut wrong = written[0].clone();
    wrong["spec"]["replicaz"] = json!(3);
    let (ok, output) = validate(dir.path(), &[wrong]);
    assert!(!ok, "strict validation accepted an unknown field: {output}");
}

pub async fn until_execution(
    server: &crate::support::TestServer,
    id: &str,
    done: &[&str],
) -> Value {
    crate::support::eventually(
        &format!("execution {id} to end"),
        Duration::from_secs(60),
        || async {
            let (_, e, _) = server.call("executions/get", json!({"id": id})).await;
            done.contains(&e["status"].as_str().unwrap_or_default())
                .then_some(e)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_deploys_the_triggers_image_then_scales_undoes_finds_and_deletes() {
    use crate::support::{Backend, TestServer};
    let sim = Sim::start().await;
    sim.namespaces(&["shop-test"]).await;
    let account = sim.account("test", &["shop-test"]);
    let server =
        TestServer::start_with(Backend::Sqlite, |c| c.kubernetes.accounts = vec![account]).await;
    server
        .call(
            "applications/create",
            json!({"input": {"name": "shop", "ownerEmail": "team@example.com"}}),
        )
        .await;
    let manifest = deployment("web", "registry.local/shop/web:placeholder", 2);
    // The second deploy changes the pod template (the trigger's image is bound into it again).
    let mut second = deployment("web", "registry.local/shop/web:2.0", 2);
    second["spec"]["template"]["spec"]["containers"][0]["env"] =
        json!([{"name": "MODE", "value": "two"}]);
    let stages = json!([
        {"refId": "1", "type": "deployManifest", "name": "Deploy", "account": "test", "namespaceOverride": "shop-test",
         "source": "text", "manifests": [manifest, service("web")], "requiredArtifactIds": ["image"]},
        {"refId": "2", "requisiteStageRefIds": ["1"], "type": "deployManifest", "name": "Deploy again", "account": "test",
         "namespaceOverride": "shop-test", "manifests": [second]},
        {"refId": "3", "requisiteStageRefIds": ["2"], "type": "scaleManifest", "name": "Scale", "account": "test",
         "location": "shop-test", "manifestName": "deployment web", "replicas": 3},
        {"refId": "4", "requisiteStageRefIds": ["3"], "type": "undoRolloutManifest", "name": "Undo", "account": "test",
         "location": "shop-test", "manifestName": "deployment web", "numRevisionsBack": 1},
        {"refId": "5", "requisiteStageRefIds": ["4"], "type": "findArtifactsFromResource", "name": "Find", "account": "test",
         "location": "shop-test", "manifestName": "deployment web"},
        {"refId": "6", "requisiteStageRefIds": ["5"], "type": "deleteManifest", "name": "Delete", "account": "test",
         "location": "shop-test", "manifestName": "service web"}
    ]);
    let pipeline = json!({"application": "shop", "name": "Deploy", "stages": stages, "expectedArtifacts": [
        {"id": "image", "displayName": "web image", "matchArtifact": {"type": "docker/image", "name": "registry.local/shop/web"}}]});
    let (code, saved, _) = server
        .call("pipelines/save", json!({"pipeline": pipeline}))
        .await;
    assert_eq!(code, 200, "{saved}");
    let trigger = json!({"type": "manual", "artifacts": [{"type": "docker/image", "name": "registry.local/shop/web",
        "reference": "registry.local/shop/web:1.4.2", "version": "1.4.2"}]});
    let (code, id, _) = server
        .call(
            "executions/start",
            json!({"application": "shop", "name": "Deploy", "trigger": trigger}),
        )
        .await;
    assert_eq!(code, 200, "{id}");
    let done = until_execution(&server, id.as_str().unwrap(), &["SUCCEEDED", "TERMINAL"]).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done:#}");
    let stage = |ref_id: &str| {
        done["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["refId"] == ref_id)
            .unwrap()
            .clone()
    };
    let deploy = stage("1");
    assert_eq!(
        deploy["outputs"]["outputs.manifestNamesByNamespace"],
        json!({"shop-test": ["deployment web", "service web"]})
    );
    assert_eq!(
        deploy["outputs"]["outputs.boundArtifacts"][0]["reference"],
        "registry.local/shop/web:1.4.2"
    );
    assert_eq!(
        deploy["outputs"]["outputs.manifests"][0]["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.local/shop/web:1.4.2"
    );
    let tasks: Vec<&str> = deploy["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tasks, ["deployManifest", "waitForManifestStable"]);
    assert_eq!(
        stage("2")["outputs"]["outputs.boundArtifacts"][0]["reference"],
        "registry.local/shop/web:1.4.2"
    );
    // Undo went back from revision 2 (with MODE) to 1; Find reports the trigger's image.
    assert_eq!(stage("4")["outputs"]["undo.revision"], 1);
    assert_eq!(
        stage("5")["outputs"]["artifacts"],
        json!([{"type": "docker/image", "name": "registry.local/shop/web",
        "reference": "registry.local/shop/web:1.4.2", "version": "1.4.2"}])
    );
    let accounts = sim.accounts(&["shop-test"]).await;
    let d = accounts.get(&web("shop-test")).await.unwrap().unwrap();
    assert_eq!(
        (
            d["spec"]["replicas"].as_i64(),
            d["status"]["readyReplicas"].as_i64()
        ),
        (Some(3), Some(3))
    );
    assert!(
        d["spec"]["template"]["spec"]["containers"][0]
            .get("env")
            .is_none(),
        "{d:#}"
    );
    assert_eq!(
        accounts
            .get(&ResourceRef::parse("test", Some("shop-test"), "service web").unwrap())
            .await
            .unwrap(),
        None
    );

    // A crash-looping image fails the deploy stage, saying why.
    let bad = json!({"application": "shop", "name": "Bad", "stages": [{"refId": "1", "type": "deployManifest", "name": "Deploy",
        "account": "test", "namespaceOverride": "shop-test", "manifests": [deployment("api", "registry.local/crashloop:1", 1)]}]});
    server
        .call("pipelines/save", json!({"pipeline": bad}))
        .await;
    let (_, id, _) = server
        .call(
            "executions/start",
            json!({"application": "shop", "name": "Bad"}),
        )
        .await;
    let failed = until_execution(&server, id.as_str().unwrap(), &["SUCCEEDED", "TERMINAL"]).await;
    assert_eq!(failed["status"], "TERMINAL");
    let message = failed["stages"][0]["context"]["exception"]["details"]["errors"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("deployment shop-test/api failed to roll out")
            && message.contains("CrashLoopBackOff"),
        "{failed:#}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_deploys_only_to_its_deploy_targets() {
    use crate::support::{Backend, TestServer};
    let sim = Sim::start().await;
    sim.namespaces(&["shop-test", "shop-prod"]).await;
    let account = sim.account("test", &[]);
    let server =
        TestServer::start_with(Backend::Sqlite, |c| c.kubernetes.accounts = vec![account]).await;
    let (code, bad, _) = server.call("applications/create", json!({"input": {"name": "shop", "ownerEmail": "team@example.com", "deployTargets": "test"}})).await;
    assert_eq!(
        (code, bad["fields"][0]["field"].as_str()),
        (422, Some("deployTargets")),
        "{bad}"
    );
    let (code, app, _) = server
        .call("applications/create", json!({"input": {"name": "shop", "ownerEmail": "team@example.com", "deployTargets": "test/shop-test\nghost/elsewhere"}}))
        .await;
    assert_eq!(code, 200, "{app}");
    assert_eq!(
        app["deployTargets"],
        json!([{"account": "test", "namespace": "shop-test"}, {"account": "ghost", "namespace": "elsewhere"}])
    );

    // The view lists the targets, even before anything runs there, and says an unknown account is one.
    let (_, view, _) = server
        .call("infrastructure/view", json!({"application": "shop"}))
        .await;
    let accounts: Vec<(&str, &str)> = view["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["health"].as_str().unwrap()))
        .collect();
    assert_eq!(
        accounts.iter().map(|a| a.0).collect::<Vec<_>>(),
        ["test", "ghost"]
    );
    assert_eq!(accounts[1].1, "misconfigured");
    assert_eq!(view["accounts"][0]["namespaces"][0]["name"], "shop-test");

    let deploy_to = |namespace: &str| {
        json!({"application": "shop", "name": format!("to-{namespace}"), "stages": [{"refId": "1", "type": "deployManifest",
        "name": "Deploy", "account": "test", "namespaceOverride": namespace, "manifests": [deployment("web", "web:1", 1)]}]})
    };
    for ns in ["shop-test", "shop-prod"] {
        let (code, saved, _) = server
            .call("pipelines/save", json!({"pipeline": deploy_to(ns)}))
            .await;
        assert_eq!(code, 200, "{saved}");
    }
    let (_, id, _) = server
        .call(
            "executions/start",
            json!({"application": "shop", "name": "to-shop-test"}),
        )
        .await;
    assert_eq!(
        until_execution(&server, id.as_str().unwrap(), &["SUCCEEDED", "TERMINAL"]).await["status"],
        "SUCCEEDED"
    );
    let (_, id, _) = server
        .call(
            "executions/start",
            json!({"application": "shop", "name": "to-shop-prod"}),
        )
        .await;
    let refused = until_execution(&server, id.as_str().unwrap(), &["SUCCEEDED", "TERMINAL"]).await;
    assert_eq!(refused["status"], "TERMINAL");
    let message = refused["stages"][0]["context"]["exception"]["details"]["errors"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.starts_with("application shop does not deploy to test/shop-prod; its deploy targets are test/shop-test, ghost/elsewhere"), "{message}");
    let accounts = sim.accounts(&[]).await;
    assert_eq!(
        accounts.get(&web("shop-prod")).await.unwrap(),
        None,
        "nothing was written to shop-prod"
    );
    server.stop().await;
}

/// The seed pipeline: deploy the trigger's image to the test namespace, a person approves, the
/// same image (by digest) goes to the prod namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_pipeline_promotes_the_tested_image_after_approval() {
    use crate::support::{Backend, TestServer};
    let sim = Sim::start().await;
    sim.namespaces(&["shop-test", "shop-prod"]).await;
    let account = sim.account("test", &[]);
    let server =
        TestServer::start_with(Backend::Sqlite, |c| c.kubernetes.accounts = vec![account]).await;
    server
        .call("applications/create", json!({"input": {"name": "shop", "ownerEmail": "team@example.com", "deployTargets": "test/shop-test\ntest/shop-prod"}}))
        .await;
    let deploy = |ref_id: &str, after: Vec<&str>, namespace: &str| {
        json!({"refId": ref_id, "requisiteStageRefIds": after, "type": "deployManifest",
        "name": format!("Deploy to {namespace}"), "account": "test", "namespaceOverride": namespace,
        "manifests": [deployment("web", "registry.local/shop/web:latest", 2)], "requiredArtifactIds": ["image"]})
    };
    let pipeline = json!({"application": "shop", "name": "Seed", "expectedArtifacts": [{"id": "image", "displayName": "web image",
        "matchArtifact": {"type": "docker/image", "name": "registry.local/shop/web"}}],
    "stages": [
        deploy("1", vec![], "shop-test"),
        {"refId": "2", "requisiteStageRefIds": ["1"], "type": "manualJudgment", "name": "Approve", "judgmentInputs": [{"value": "promote"}]},
        deploy("3", vec!["2"], "shop-prod")
    ]});
    let (code, saved, _) = server
        .call("pipelines/save", json!({"pipeline": pipeline}))
        .await;
    assert_eq!(code, 200, "{saved}");
    let digest = "registry.local/shop/web@sha256:4f0c1c3ee6a5b0f2d6c1a3b8e9d7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9";
    let trigger = json!({"type": "manual", "artifacts": [{"type": "docker/image", "name": "registry.local/shop/web", "version": "1.4.2", "reference": digest}]});
    let (_, id, _) = server
        .call(
            "executions/start",
            json!({"application": "shop", "name": "Seed", "trigger": trigger}),
        )
        .await;
    let id = id.as_str().unwrap().to_owned();
    let judgment =
        crate::support::eventually("the judgment to wait", Duration::from_secs(60), || async {
            let (_, e, _) = server.call("executions/get", json!({"id": id})).await;
            e["stages"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["refId"] == "2" && s["status"] == "RUNNING")
                .cloned()
        })
        .await;
    let accounts = sim.accounts(&[]).await;
    let images = |ns: &'static str| {
        let accounts = accounts.clone();
        async move { accounts.images(&web(ns)).await.ok() }
    };
    assert_eq!(
        images("shop-test").await,
        Some(vec![digest.to_owned()]),
        "the test namespace runs the trigger's image"
    );
    assert_eq!(
        images("shop-prod").await,
        None,
        "nothing in prod before the approval"
    );
    let (code, _, _) = server.call("executions/judge", json!({"id": id, "stage_id": judgment["id"], "judgment": "continue", "input": "promote"})).await;
    assert_eq!(code, 200);
    let done = until_execution(&server, &id, &["SUCCEEDED", "TERMINAL"]).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done:#}");
    assert_eq!(
        images("shop-prod").await,
        Some(vec![digest.to_owned()]),
        "prod runs the very image that was tested"
    );
    let bound = |ref_id: &str| {
        done["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["refId"] == ref_id)
            .unwrap()["outputs"]["outputs.boundArtifacts"]
            .clone()
    };
    assert_eq!(
        bound("1"),
        bound("3"),
        "the execution shows both deploys bound the same artifact"
    );
    let d = accounts.get(&web("shop-prod")).await.unwrap().unwrap();
    assert_eq!(d["status"]["readyReplicas"], 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_come_from_embedded_and_http_artifacts() {
    use crate::support::{Backend, TestServer};
    let yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: main\n        image: registry.local/shop/web:1.0\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n  - port: 80\n    targetPort: 8080\n";
    // A file server for the http/file artifact.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let files = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().route(
        "/manifests/web.yaml",
        axum::routing::get(move || async move { yaml }),
    );
    let file_server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let sim = Sim::start().await;
    sim.namespaces(&["shop-test", "shop-prod"]).await;
    let account = sim.account("test", &[]);
    let server =
        TestServer::start_with(Backend::Sqlite, |c| c.kubernetes.accounts = vec![account]).await;
    server
        .call(
            "applications/create",
            json!({"input": {"name": "shop", "ownerEmail": "team@example.com"}}),
        )
        .await;
    use base64::Engine;
    let embedded = base64::engine::general_purpose::STANDARD.encode(yaml);
    let pipeline = json!({"application": "shop", "name": "From artifacts",
    "expectedArtifacts": [{"id": "manifest", "matchArtifact": {"type": "embedded/base64", "name": "web-manifests"},
        "useDefaultArtifact": true, "defaultArtifact": {"type": "embedded/base64", "name": "web-manifests", "reference": embedded}}],
    "stages": [
        {"refId": "1", "type": "deployManifest", "name": "Embedded", "account": "test", "namespaceOverride": "shop-test",
         "source": "artifact", "manifestArtifactId": "manifest"},
        {"refId": "2", "type": "deployManifest", "name": "Over HTTP", "account": "test", "namespaceOverride": "shop-prod",
         "source": "artifact", "manifestArtifact": {"type": "http/file", "reference": format!("{files}/manifests/web.yaml")}},
        {"refId": "3", "requisiteStageRefIds": ["1", "2"], "type": "deployManifest", "name": "Missing", "account": "test", "namespaceOverride": "shop-prod",
         "source": "artifact", "manifestArtifact": {"type": "http/file", "reference": format!("{files}/manifests/nope.yaml")}}
    ]});
    let (code, saved, _) = server
        .call("pipelines/save", json!({"pipeline": pipeline}))
        .await;
    assert_eq!(code, 200, "{saved}");
    let (_, id, _) = server
        .call(
            "executions/start",
            json!({"application": "shop", "name": "From artifacts"}),
        )
        .await;
    let done = until_execution(&server, id.as_str().unwrap(), &["SUCCEEDED", "TERMINAL"]).await;
    let stage = |r: &str| {
        done["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["refId"] == r)
            .unwrap()
            .clone()
    };
    for (r, ns) in [("1", "shop-test"), ("2", "shop-prod")] {
        assert_eq!(stage(r)["status"], "SUCCEEDED", "{done:#}");
        assert_eq!(
            stage(r)["outputs"]["outputs.manifestNamesByNamespace"],
            json!({ns: ["deployment web", "service web"]})
        );
    }
    assert_eq!(stage("3")["status"], "TERMINAL");
    let message = stage("3")["context"]["exception"]["details"]["errors"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("answered 404"), "{message}");
    let accounts = sim.accounts(&[]).await;
    assert_eq!(
        accounts.images(&web("shop-prod")).await.unwrap(),
        ["registry.local/shop/web:1.0"]
    );
    server.stop().await;
    file_server.abort();
}

/// The judgment panel's preview: what the deploy after the judgment would change in prod.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_judgment_previews_what_the_next_deploy_changes() {
    use crate::support::{Backend, TestServer};
    let sim = Sim::start().await;
    sim.namespaces(&["shop-prod"]).await;
    let accounts = sim.accounts(&[]).await;
    accounts
        .deploy(&deploy_request(
            "shop-prod",
            vec![deployment("web", "registry.local/shop/web:1.0", 3)],
        ))
        .await
        .unwrap();
    let account = sim.account("test", &[]);
    let server =
        TestServer::start_with(Backend::Sqlite, |c| c.kubernetes.accounts = vec![account]).await;
    server
        .call(
            "applications/create",
            json!({"input": {"name": "shop", "ownerEmail": "team@example.com"}}),
        )
        .await;
    let pipeline = json!({"application": "shop", "name": "Promote", "expectedArtifacts": [{"id": "image", "matchArtifact": {"type": "docker/image", "name": "registry.local/shop/web"}}],
    "stages": [
        {"refId": "1", "type": "manualJudgment", "name": "Approve"},
        {"refId": "2", "requisiteStageRefIds": ["1"], "type": "deployManifest", "name": "Deploy to prod", "account": "test", "namespaceOverride": "shop-prod",
         "manifests": [deployment("web", "registry.local/shop/web:placeholder", 2), service("web")], "requiredArtifactIds": ["image"]}
    ]});
    let (code, saved, _) = server
        .call("pipelines/save", json!({"pipeline": pipeline}))
        .await;
    assert_eq!(code, 200, "{saved}");
    let digest = "registry.local/shop/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let trigger = json!({"type": "manual", "artifacts": [{"type": "docker/image", "name": "registry.local/shop/web", "reference": digest}]});
    let (_, id, _) = server
        .call(
            "executions/start",
            json!({"application": "shop", "name": "Promote", "trigger": trigger}),
        )
        .await;
    let id = id.as_str().unwrap().to_owned();
    let judgment =
        crate::support::eventually("the judgment to wait", Duration::from_secs(30), || async {
            let (_, e, _) = server.call("executions/get", json!({"id": id})).await;
            e["stages"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["refId"] == "1" && s["status"] == "RUNNING")
                .cloned()
        })
        .await;
    let (code, preview, _) = server
        .call(
            "executions/judgment_preview",
            json!({"id": id, "stage_id": judgment["id"]}),
        )
        .await;
    assert_eq!(code, 200, "{preview}");
    let planned = preview.as_array().unwrap();
    assert_eq!(planned.len(), 2, "{preview:#}");
    let web = &planned[0];
    assert_eq!(
        (
            web["object"].clone(),
            web["namespace"].clone(),
            web["exists"].clone()
        ),
        (json!("deployment web"), json!("shop-prod"), json!(true))
    );
    let change = |path: &str| {
        web["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["path"] == path)
            .cloned()
    };
    assert_eq!(
        change("spec.replicas"),
        Some(json!({"path": "spec.replicas", "before": 3, "after": 2}))
    );
    assert_eq!(
        change("spec.template.spec.containers[0].image"),
        Some(
            json!({"path": "spec.template.spec.containers[0].image", "before": "registry.local/shop/web:1.0", "after": digest})
        ),
        "the image that would go to prod is the run's, bound as the deploy will bind it"
    );
    assert_eq!(
        web["changes"].as_array().unwrap().len(),
        2,
        "fields the manifest does not set are not shown: {web:#}"
    );
    assert_eq!(
        (planned[1]["object"].clone(), planned[1]["exists"].clone()),
        (json!("service web"), json!(false))
    );
    // Once judged, there is nothing to preview.
    server
        .call(
            "executions/judge",
            json!({"id": id, "stage_id": judgment["id"], "judgment": "continue"}),
        )
        .await;
    let refused = crate::support::eventually(
        "the judgment to be settled",
        Duration::from_secs(30),
        || async {
            let (code, body, _) = server
                .call(
                    "executions/judgment_preview",
                    json!({"id": id, "stage_id": judgment["id"]}),
                )
                .await;
            (code != 200).then_some((code, body))
        },
    )
    .await;
    assert_eq!(
        refused,
        (
            409,
            json!({"error": "conflict", "message": "stage 'Approve' is not waiting for a judgment"})
        )
    );
    server.stop().await;
}
