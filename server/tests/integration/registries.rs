//! Registries and docker triggers against the real Distribution registry (Debian's
//! `docker-registry`, what Harbor is built on), with push notifications pointing at Topsail;
//! the bearer-token flow and paging against a small registry front in this file.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use domain::pipeline::PipelineDocument;
use serde_json::{Value, json};
use server::config::{RegistryConfig, Secret};
use server::events::images::ImageEvents;
use server::orchestration::engine::Engine;
use server::orchestration::queue::{QueueSettings, SystemClock};
use server::orchestration::stages::StageRegistry;
use server::registries::{Registries, RegistryClient, RegistryError};

use crate::support::{self, Backend, TestServer, eventually};

/// A `docker-registry` on a free port with its own storage; killed on drop.
pub struct Registry {
    pub url: String,
    pub host: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Registry {
    /// Starts the registry on `port`; with `notify`, push notifications go to that URL with
    /// `Authorization: Bearer <secret>`.
    pub async fn start(port: u16, notify: Option<(&str, &str)>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let notifications = match notify {
            Some((url, secret)) => format!(
                "notifications:\n  endpoints:\n    - name: topsail\n      url: {url}\n      headers:\n        Authorization: [\"Bearer {secret}\"]\n      timeout: 2s\n      threshold: 3\n      backoff: 200ms\n"
            ),
            None => String::new(),
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{notifications}",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (Debian package docker-registry; ./x setup installs it)");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        eventually("the registry to answer", Duration::from_secs(20), || {
            let (http, url) = (http.clone(), url.clone());
            async move {
                http.get(format!("{url}/v2/"))
                    .send()
                    .await
                    .ok()
                    .filter(|r| r.status() == 200)
                    .map(|_| ())
            }
        })
        .await;
        Self {
            host: format!("127.0.0.1:{port}"),
            url,
            child,
            _dir: dir,
        }
    }

    /// Pushes a small real image by the registry HTTP API; returns its digest.
    pub async fn push(&self, repository: &str, tag: &str) -> String {
        let image = jenkins_emulator::script::PushImage {
            registry: self.url.clone(),
            repository: repository.into(),
            tag: tag.into(),
        };
        jenkins_emulator::registry::push(
            &reqwest::Client::new(),
            &image,
            &format!("{repository}:{tag}"),
        )
        .await
        .unwrap()
    }
}

pub fn account(
    name: &str,
    url: &str,
    secret: Option<&str>,
    poll_interval_ms: u64,
) -> RegistryConfig {
    RegistryConfig {
        name: name.into(),
        address: url.into(),
        username: String::new(),
        password_env: None,
        password_file: None,
        password: None,
        webhook_secret_env: None,
        webhook_secret_file: None,
        webhook_secret: secret.map(Secret::new),
        token_hosts: Vec::new(),
        poll_interval_ms,
    }
}

async fn runs(server: &TestServer, app: &str) -> Vec<Value> {
    let (_, list, _) = server
        .call("executions/list", json!({"application": app}))
        .await;
    list.as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_tag_starts_its_pipeline_once_pinned_to_the_digest() {
    let port = free_port();
    let registry_url = format!("http://127.0.0.1:{port}");
    let config = account("local", &registry_url, Some("s3cret"), 0);
    let server = TestServer::start_with(Backend::Sqlite, |c| c.registries = vec![config]).await;
    let registry = Registry::start(
        port,
        Some((
            &format!("{}/webhooks/registry/local", server.base),
            "s3cret",
        )),
    )
    .await;
    server
        .call(
            "applications/create",
            json!({"input": {"name": "shop", "ownerEmail": "team@example.com"}}),
        )
        .await;
    let pipeline = json!({"application": "shop", "name": "On push",
        "triggers": [{"type": "docker", "account": "local", "repository": "shop/web", "tag": "v[0-9.]+", "enabled": true}],
        "stages": [{"refId": "1", "type": "wait", "name": "Wait", "waitTime": 0}]});
    let (code, saved, _) = server
        .call("pipelines/save", json!({"pipeline": pipeline}))
        .await;
    assert_eq!(code, 200, "{saved}");
    let mut bad = json!({"application": "shop", "name": "Bad regex", "triggers": [{"type": "docker", "account": "local", "repository": "x", "tag": "v("}], "stages": []});
    let (code, refused, _) = server
        .call("pipelines/save", json!({"pipeline": bad.take()}))
        .await;
    assert_eq!(code, 422);
    assert_eq!(
        refused["fields"][0]["field"], "triggers[0].tag",
        "{refused}"
    );

    // A tag the trigger does not match, then one it does: notifications arrive in order.
    registry.push("shop/web", "latest").await;
    let digest = registry.push("shop/web", "v1.0").await;
    let run = eventually(
        "the push to start a run",
        Duration::from_secs(20),
        || async { runs(&server, "shop").await.into_iter().next() },
    )
    .await;
    let trigger = &run["trigger"];
    assert_eq!(
        (
            trigger["type"].clone(),
            trigger["tag"].clone(),
            trigger["digest"].clone()
        ),
        (json!("docker"), json!("v1.0"), json!(digest))
    );
    assert_eq!(
        trigger["artifacts"][0]["reference"],
        format!("{}/shop/web@{digest}", registry.host)
    );
    assert_eq!(trigger["artifacts"][0]["type"], "docker/image");
    assert_eq!(
        runs(&server, "shop").await.len(),
        1,
        "'latest' does not match the tag pattern"
    );

    // The registry delivering the same notification again starts nothing twice.
    let again = json!({"events": [{"action": "push", "target": {"repository": "shop/web", "tag": "v1.0", "digest": digest, "mediaType": "application/vnd.oci.image.manifest.v1+json"}}]});
    let post = |auth: Option<&str>, account: &str| {
        let mut r = server
            .client
            .post(format!("{}/webhooks/registry/{account}", server.base))
            .header(
                "content-type",
                "application/vnd.docker.distribution.events.v1+json",
            )
            .body(again.to_string());
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    let response = post(Some("Bearer s3cret"), "local").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap()["executionIds"],
        json!([])
    );
    assert_eq!(
        post(Some("Bearer wrong"), "local").await.unwrap().status(),
        401
    );
    assert_eq!(post(None, "local").await.unwrap().status(), 401);
    assert_eq!(
        post(Some("Bearer s3cret"), "nope").await.unwrap().status(),
        404
    );
    // Harbor's format, with its auth header sent as is.
    let harbor = json!({"type": "PUSH_ARTIFACT", "event_data": {"resources": [{"digest": digest, "tag": "v1.1"}], "repository": {"repo_full_name": "shop/web"}}});
    let r = server
        .client
        .post(format!("{}/webhooks/registry/local", server.base))
        .header("authorization", "s3cret")
        .json(&harbor)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["executionIds"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // skopeo, as a CI job would push: copying v1.0 to v2.0 is a new tag of the same digest.
    let policy = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        policy.path(),
        r#"{"default": [{"type": "insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    let out = Command::new("skopeo")
        .args([
            "--policy",
            policy.path().to_str().unwrap(),
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
        ])
        .arg(format!("docker://{}/shop/web:v1.0", registry.host))
        .arg(format!("docker://{}/shop/web:v2.0", registry.host))
        .output()
        .expect("skopeo (Debian package skopeo; ./x setup installs it)");
    assert!(
        out.status.success(),
        "skopeo copy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let copied = eventually(
        "skopeo's push to start a run",
        Duration::from_secs(20),
        || async {
            runs(&server, "shop")
                .await
                .into_iter()
                .find(|r| r["trigger"]["tag"] == "v2.0")
        },
    )
    .await;
    assert_eq!(copied["trigger"]["digest"], json!(digest), "the same image");

    // The image picker's reads and Gate's tags.
    let get = |path: String| {
        let (client, base) = (server.client.clone(), server.base.clone());
        async move {
            client
                .get(format!("{base}{path}"))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        get("/api/registries/local/repositories".into()).await,
        json!(["shop/web"])
    );
    let mut tags: Vec<String> = serde_json::from_value(
        get("/gate/images/tags?account=local&repository=shop/web".into()).await,
    )
    .unwrap();
    tags.sort();
    assert_eq!(tags, ["latest", "v1.0", "v2.0"]);
    let image = get("/api/registries/local/image?repository=shop/web&tag=v2.0".into()).await;
    assert_eq!(image["image"]["digest"], json!(digest));
    assert_eq!(
        get("/api/registries/local/image?repository=shop/web&tag=nope".into()).await["message"],
        "image 'shop/web:nope' not found"
    );
    let (_, integrations, _) = server.call("integrations/health", json!({})).await;
    assert_eq!(
        integrations,
        json!([{"kind": "registry", "name": "local", "address": registry.url, "healthy": true, "detail": "answers the registry API (v2)"}])
    );
}

#[tokio::test]
async fn polling_starts_new_tags_once_across_restarts() {
    let db = support::TestDatabase::create(Backend::Postgres).await;
    let store = db.store().await;
    let registry = Registry::start(free_port(), None).await;
    let registries = Registries::from_config(&[account("local", &registry.url, None, 1000)]);
    let engine = Arc::new(Engine::new(
        &store,
        Arc::new(SystemClock),
        QueueSettings::default(),
        StageRegistry::standard(),
    ));
    let pipeline = PipelineDocument::from_value(json!({"application": "shop", "name": "On tag",
        "triggers": [{"type": "docker", "account": "local", "repository": format!("{}/shop/api", registry.host)}],
        "stages": [{"refId": "1", "type": "wait", "name": "Wait", "waitTime": 0}]}))
    .unwrap();
    store.save_pipeline(pipeline, "alice").await.unwrap();
    let events = || ImageEvents {
        registries: registries.clone(),
        store: store.clone(),
        engine: engine.clone(),
    };

    assert_eq!(
        events().poll().await.unwrap(),
        0,
        "a repository with no tags yet"
    );
    registry.push("shop/api", "1").await;
    assert_eq!(
        events().poll().await.unwrap(),
        1,
        "a tag pushed after the first look starts a run"
    );
    assert_eq!(events().poll().await.unwrap(), 0);
    let d2 = registry.push("shop/api", "2").await;
    registry.push("shop/other", "9").await;
    // A fresh poller (a restart) finds the tag pushed while nobody looked.
    assert_eq!(events().poll().await.unwrap(), 1);
    let runs = engine.executions("shop", 10).await.unwrap();
    assert_eq!(runs.len(), 2);
    let newest = runs.iter().find(|r| r.trigger["tag"] == "2").unwrap();
    assert_eq!(
        newest.trigger["artifacts"][0]["reference"],
        format!("{}/shop/api@{d2}", registry.host)
    );
    // The webhook reporting a tag the poll already started starts nothing.
    let image = server::registries::Image {
        account: "local".into(),
        registry: registry.host.clone(),
        repository: "shop/api".into(),
        tag: "2".into(),
        digest: Some(d2),
    };
    assert_eq!(
        events().pushed(&[image]).await.unwrap(),
        Vec::<String>::new()
    );
    let _ = store.close().await;
    db.drop().await;
}

/// A registry front demanding bearer tokens from a token service with basic credentials,
/// serving tags in pages of two.
async fn token_registry() -> (String, tokio::task::JoinHandle<()>) {
    use axum::extract::{Query, Request};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use std::collections::HashMap;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let realm = format!("{base}/token");
    let tags = move |headers: HeaderMap,
                     Query(q): Query<HashMap<String, String>>,
                     request: Request| {
        let realm = realm.clone();
        async move {
            if headers.get("authorization").and_then(|v| v.to_str().ok())
                != Some("Bearer good-token")
            {
                let challenge = format!(
                    "Bearer realm=\"{realm}\",service=\"fake\",scope=\"repository:shop/web:pull\""
                );
                return (
                    StatusCode::UNAUTHORIZED,
                    [("www-authenticate", challenge)],
                    "",
                )
                    .into_response();
            }
            let all = ["a", "b", "c", "d", "e"];
            let start = q
                .get("last")
                .and_then(|l| all.iter().position(|t| t == l))
                .map_or(0, |i| i + 1);
            let page: Vec<&str> = all.iter().skip(start).take(2).copied().collect();
            let mut response =
                axum::Json(json!({"name": "shop/web", "tags": page})).into_response();
            if start + 2 < all.len() {
                let next = format!(
                    "<{}?n=2&last={}>; rel=\"next\"",
                    request.uri().path(),
                    page.last().unwrap()
                );
                response.headers_mut().insert("link", next.parse().unwrap());
            }
            response
        }
    };
    let token = |headers: HeaderMap| async move {
        use base64::Engine as _;
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("robot:pw")
        );
        if headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str()) {
            axum::Json(json!({"token": "good-token", "expires_in": 300})).into_response()
        } else {
            StatusCode::UNAUTHORIZED.into_response()
        }
    };
    // Plain basic auth, no token service (as Distribution with htpasswd).
    let basic = |headers: HeaderMap| async move {
        use base64::Engine as _;
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("robot:pw")
        );
        if headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str()) {
            axum::Json(json!({"name": "basic/app", "tags": ["1"]})).into_response()
        } else {
            (
                StatusCode::UNAUTHORIZED,
                [("www-authenticate", "Basic realm=\"registry\"")],
                "",
            )
                .into_response()
        }
    };
    // The same server under another name: a token service and a next page "elsewhere".
    let elsewhere = base.replace("127.0.0.1", "localhost");
    let far_realm = format!("{elsewhere}/token");
    let other_realm = move |headers: HeaderMap| {
        let challenge = format!("Bearer realm=\"{far_realm}\",service=\"fake\"");
        async move {
            if headers.get("authorization").and_then(|v| v.to_str().ok())
                == Some("Bearer good-token")
            {
                return axum::Json(json!({"name": "other/realm", "tags": ["ok"]})).into_response();
            }
            (
                StatusCode::UNAUTHORIZED,
                [("www-authenticate", challenge)],
                "",
            )
                .into_response()
        }
    };
    let far_page = move || {
        let next = format!("<{elsewhere}/v2/far/page/tags/list?last=x>; rel=\"next\"");
        async move {
            let mut response =
                axum::Json(json!({"name": "far/page", "tags": ["x"]})).into_response();
            response.headers_mut().insert("link", next.parse().unwrap());
            response
        }
    };
    let app = axum::Router::new()
        .route("/v2/other/realm/tags/list", axum::routing::get(other_realm))
        .route("/v2/far/page/tags/list", axum::routing::get(far_page))
        .route("/v2/shop/web/tags/list", axum::routing::get(tags))
        .route("/v2/basic/app/tags/list", axum::routing::get(basic))
        .route("/token", axum::routing::get(token));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, task)
}

#[tokio::test]
async fn basic_auth_the_bearer_token_flow_and_paging() {
    let (base, task) = token_registry().await;
    let mut config = account("harbor", &base, None, 0);
    config.username = "robot".into();
    config.password = Some(Secret::new("pw"));
    let client = RegistryClient::new(&config);
    assert_eq!(
        client.tags("shop/web").await.unwrap(),
        ["a", "b", "c", "d", "e"]
    );
    assert_eq!(
        client.tags("basic/app").await.unwrap(),
        ["1"],
        "basic auth straight away"
    );
    let anonymous = RegistryClient::new(&account("anon", &base, None, 0));
    assert_eq!(
        anonymous.tags("basic/app").await.unwrap_err(),
        RegistryError::NotAuthorized {
            account: "anon".into()
        }
    );
    config.password = Some(Secret::new("wrong"));
    let refused = RegistryClient::new(&config)
        .tags("shop/web")
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        RegistryError::NotAuthorized {
            account: "harbor".into()
        }
    );
    assert!(!refused.to_string().contains("wrong"));
    task.abort();
}

/// Names go into request paths only as names, credentials only to the registry's own host (or
/// a listed token service), and pages are followed only on the registry's own address.
#[tokio::test]
async fn names_are_checked_and_credentials_stay_with_the_registry() {
    let (base, task) = token_registry().await;
    let mut config = account("harbor", &base, None, 0);
    config.username = "robot".into();
    config.password = Some(Secret::new("pw"));
    let client = RegistryClient::new(&config);
    for repository in [
        "shop/../../v2/_catalog",
        "shop/web?n=1000",
        "Shop/Web",
        "shop//web",
    ] {
        assert!(
            matches!(
                client.tags(repository).await,
                Err(RegistryError::BadName { .. })
            ),
            "{repository}"
        );
    }
    assert!(matches!(
        client.digest("shop/web", "../../_catalog").await,
        Err(RegistryError::BadName { .. })
    ));
    // A token service on another host gets no credentials (so it answers 401) ...
    assert_eq!(
        client.tags("other/realm").await.unwrap_err(),
        RegistryError::NotAuthorized {
            account: "harbor".into()
        }
    );
    // ... unless the operator listed it.
    config.token_hosts = vec!["localhost".into()];
    let listed = RegistryClient::new(&config);
    assert_eq!(listed.tags("other/realm").await.unwrap(), ["ok"]);
    // A next page on another address is not followed.
    let far = client.tags("far/page").await.unwrap_err();
    assert!(
        matches!(&far, RegistryError::BadAnswer { reason, .. } if reason.contains("another address")),
        "{far:?}"
    );
    task.abort();
}
