//! Server functions and operations endpoints over real HTTP: a server on a free port with a fresh
//! database per test.

use crate::support;

use sea_orm::{ConnectionTrait, Database};
use serde_json::json;
use support::{Backend, TestServer};

fn input(name: &str) -> serde_json::Value {
    json!({ "input": { "name": name, "ownerEmail": "ops@example.com", "team": "payments", "description": "shop" } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_lifecycle_over_http() {
    let s = TestServer::start(Backend::Sqlite).await;

    let (status, created, headers) = s.call("applications/create", input("web")).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["name"], "web");
    assert_eq!(created["createdBy"], "admin");
    assert!(headers.get("x-request-id").is_some());

    let (status, list, _) = s.call("applications/list", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);

    let (status, got, _) = s.call("applications/get", json!({ "name": "web" })).await;
    assert_eq!((status, &got), (200, &created));

    let change = json!({ "name": "web", "input": { "name": "web", "ownerEmail": "platform@example.com", "team": "" } });
    let (status, updated, _) = s.call("applications/update", change).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["ownerEmail"], "platform@example.com");
    assert_eq!(updated["team"], "");
    assert_eq!(updated["createdAt"], created["createdAt"]);

    let (status, _, _) = s
        .call("applications/delete", json!({ "name": "web" }))
        .await;
    assert_eq!(status, 200);
    let (status, body, _) = s.call("applications/get", json!({ "name": "web" })).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({ "error": "notFound", "what": "application 'web'" })
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_names_each_field_and_stores_nothing() {
    let s = TestServer::start(Backend::Sqlite).await;
    let bad = json!({ "input": { "name": "Not_A_Label", "ownerEmail": "nobody", "team": "" } });
    let (status, body, _) = s.call("applications/create", bad).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"], "invalid");
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "ownerEmail"]);
    let (_, list, _) = s.call("applications/list", json!({})).await;
    assert_eq!(list, json!([]));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_name_already_exists() {
    let s = TestServer::start(Backend::Sqlite).await;
    assert_eq!(s.call("applications/create", input("web")).await.0, 200);
    let (status, body, _) = s.call("applications/create", input("web")).await;
    assert_eq!(status, 409);
    assert_eq!(
        body,
        json!({ "error": "alreadyExists", "field": "name", "message": "application 'web' already exists" })
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_cannot_change_and_unknown_names_are_not_found() {
    let s = TestServer::start(Backend::Sqlite).await;
    s.call("applications/create", input("web")).await;
    let rename =
        json!({ "name": "web", "input": { "name": "shop", "ownerEmail": "ops@example.com" } });
    let (status, body, _) = s.call("applications/update", rename).await;
    assert_eq!(status, 422);
    assert_eq!(body["fields"][0]["field"], "name");
    for name in ["ghost", "Not Valid"] {
        let (status, _, _) = s.call("applications/get", json!({ "name": name })).await;
        assert_eq!(status, 404, "{name}");
        let (status, _, _) = s.call("applications/delete", json!({ "name": name })).await;
        assert_eq!(status, 404, "{name}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_failure_shows_only_the_request_id() {
    let s = TestServer::start(Backend::Sqlite).await;
    // Break the database underneath the server.
    let path = s.db.dir.path().join("data").join("topsail.db");
    let db = Database::connect(format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    db.execute_unprepared("DROP TABLE applications")
        .await
        .unwrap();
    db.close().await.unwrap();

    let (status, body, headers) = s.call("applications/list", json!({})).await;
    assert_eq!(status, 500);
    let request_id = headers["x-request-id"].to_str().unwrap();
    assert_eq!(
        body,
        json!({ "error": "internal", "requestId": request_id })
    );
    assert!(!body.to_string().contains("applications"), "{body}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_id_from_the_ingress_is_kept_and_security_headers_are_sent() {
    let s = TestServer::start(Backend::Sqlite).await;
    let res = s
        .client
        .get(format!("{}/healthz", s.base))
        .header("x-request-id", "from-nginx-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "from-nginx-42");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_bundle_is_served_precompressed_when_accepted() {
    let s = TestServer::start(Backend::Sqlite).await;
    let pkg = s.db.dir.path().join("site").join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("topsail.js"), "export function hydrate() {}").unwrap();
    std::fs::write(pkg.join("topsail.js.gz"), b"\x1f\x8b pretend gzip").unwrap();
    std::fs::write(pkg.join("topsail.js.br"), b"pretend brotli").unwrap();

    let plain = s
        .client
        .get(format!("{}/pkg/topsail.js", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.text().await.unwrap(), "export function hydrate() {}");

    let gz = s
        .client
        .get(format!("{}/pkg/topsail.js", s.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    assert_eq!(gz.bytes().await.unwrap().as_ref(), b"\x1f\x8b pretend gzip");

    let br = s
        .client
        .get(format!("{}/pkg/topsail.js", s.base))
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(br.headers()["content-encoding"], "br");
    assert_eq!(br.bytes().await.unwrap().as_ref(), b"pretend brotli");

    assert_eq!(
        s.client
            .get(format!("{}/pkg/nothing.js", s.base))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics() {
    let s = TestServer::start(Backend::Sqlite).await;
    assert_eq!(s.get("/healthz").await, (200, "ok\n".to_owned()));
    assert_eq!(s.get("/readyz").await, (200, "ready\n".to_owned()));
    s.call("applications/create", input("web")).await;
    s.call("applications/create", input("web")).await;
    let (status, page) = s.get("/applications/web").await;
    assert_eq!(status, 200);
    assert!(page.contains("web"), "{page}");

    let (status, metrics) = s.get("/metrics").await;
    assert_eq!(status, 200);
    for line in [
        "topsail_http_requests_total{method=\"POST\",route=\"/api/applications/create\",status=\"200\"} 1",
        "topsail_http_requests_total{method=\"POST\",route=\"/api/applications/create\",status=\"409\"} 1",
        "topsail_http_requests_total{method=\"GET\",route=\"/applications/{name}\",status=\"200\"} 1",
        "topsail_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1",
        "topsail_http_request_duration_seconds_count{method=\"POST\",route=\"/api/applications/create\"} 2",
    ] {
        assert!(metrics.contains(line), "missing {line}\n{metrics}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_their_own_listener_are_not_on_the_public_one() {
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    assert_eq!(s.get("/readyz").await.0, 200);
    assert_eq!(
        s.get("/metrics").await.0,
        404,
        "an ingress must not expose it"
    );
    let metrics_base = s.metrics_base.clone().expect("a metrics listener");
    let metrics = reqwest::get(format!("{metrics_base}/metrics"))
        .await
        .unwrap();
    assert_eq!(metrics.status().as_u16(), 200);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(
            "topsail_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1"
        ),
        "{text}"
    );
    // Nothing else is served there.
    let other = reqwest::get(format!("{metrics_base}/readyz"))
        .await
        .unwrap();
    assert_eq!(other.status().as_u16(), 404);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundle_is_served_under_its_build_id_and_kept_for_a_year() {
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        let pkg = c.site_dir.join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::write(pkg.join("build-id"), "0123456789abcdef\n").unwrap();
        std::fs::write(pkg.join("topsail.js"), "export default 1;").unwrap();
        std::fs::write(pkg.join("topsail.css"), "body {}").unwrap();
    })
    .await;
    let get = |path: &str| s.client.get(format!("{}{path}", s.base)).send();
    let cache = |r: &reqwest::Response| {
        r.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let page = get("/applications").await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert_eq!(
        cache(&page).as_deref(),
        Some("no-cache"),
        "pages are revalidated"
    );
    let html = page.text().await.unwrap();
    for file in ["topsail.js", "topsail_bg.wasm", "topsail.css"] {
        assert!(
            html.contains(&format!("/pkg/0123456789abcdef/{file}")),
            "{file} under the build id:\n{html}"
        );
    }
    let js = get("/pkg/0123456789abcdef/topsail.js").await.unwrap();
    assert_eq!(js.status().as_u16(), 200);
    assert_eq!(
        cache(&js).as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    // Not found under the id (another build's file): nothing kept.
    let missing = get("/pkg/0123456789abcdef/split_gone.wasm").await.unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    assert_ne!(
        cache(&missing).as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    // Another build's id is not this bundle.
    assert_eq!(
        get("/pkg/fedcba9876543210/topsail.js")
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    // Unversioned addresses still answer, revalidated.
    let plain = get("/pkg/topsail.js").await.unwrap();
    assert_eq!(plain.status().as_u16(), 200);
    assert_eq!(cache(&plain).as_deref(), Some("no-cache"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_pages_are_404_and_unknown_applications_too() {
    let s = TestServer::start(Backend::Sqlite).await;
    let (status, page) = s.get("/no/such/page").await;
    assert_eq!(status, 404);
    assert!(page.contains("Page not found"));
    let (status, page) = s.get("/applications/ghost/config").await;
    assert_eq!(status, 404);
    assert!(page.contains("No such application"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_the_database_is_gone() {
    let s = TestServer::start(Backend::Postgres).await;
    assert_eq!(s.get("/readyz").await.0, 200);
    let admin = Database::connect(support::postgres_admin_url())
        .await
        .unwrap();
    let name =
        s.db.url
            .as_ref()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
    admin
        .execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
    admin.close().await.unwrap();
    let (status, body) = s.get("/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(body, "not ready: database unreachable\n");
    s.stop().await;
}

/// Arguments that do not decode are the caller's mistake: 422 naming the body, never a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_that_do_not_decode_are_a_422() {
    let s = TestServer::start(Backend::Sqlite).await;
    for (endpoint, args) in [
        ("infrastructure/act", json!({"action": {"restart": {}}})),
        ("applications/get", json!({"name": 42})),
        ("executions/judge", json!({"id": "x"})),
    ] {
        let (code, body, _) = s.call(endpoint, args).await;
        assert_eq!(code, 422, "{endpoint}: {body}");
        assert_eq!(body["error"], "invalid", "{body}");
        assert_eq!(body["fields"][0]["field"], "body", "{body}");
    }
    // JSON nested deeper than can be read back: refused, not stored.
    let deep = format!(
        "{{\"pipeline\": {}1{}}}",
        "{\"a\": ".repeat(300),
        "}".repeat(300)
    );
    let res = s
        .client
        .post(format!("{}/api/pipelines/save", s.base))
        .header("content-type", "application/json")
        .body(deep)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    // A form-encoded body with a token (no cross-site rule applies): still a 4xx, never a 500.
    let (code, token, _) = s
        .call("tokens/create", json!({"token": {"name": "t"}}))
        .await;
    assert_eq!(code, 200);
    let res = reqwest::Client::new()
        .post(format!("{}/api/applications/get", s.base))
        .bearer_auth(token["token"].as_str().unwrap())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=shop")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    // A body over 4 MiB is refused whoever would read it.
    let big = format!(
        "{{\"pipeline\": {{\"description\": \"{}\"}}}}",
        "x".repeat(5 << 20)
    );
    for path in ["/api/pipelines/save", "/gate/pipelines", "/auth/login"] {
        let res = s
            .client
            .post(format!("{}{path}", s.base))
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 413, "{path}");
    }
    s.stop().await;
}
