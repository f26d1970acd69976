//! The identity door over HTTP: deny by default, sign-in and sign-out, cookie flags, idle
//! expiry, throttling, cross-site refusals, and the audit log of it all.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Backend, TestServer, eventually};

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn audit(s: &TestServer, query: &str) -> Vec<Value> {
    let res = s
        .client
        .get(format!("{}/api/audit/export?{query}", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    res.text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_identity_only_public_routes_answer() {
    let s = TestServer::start(Backend::Sqlite).await;
    let anon = no_redirects();
    let page = anon
        .get(format!("{}/applications/shop?tab=executions", s.base))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(
        page.headers()["location"],
        "/login?next=%2Fapplications%2Fshop%3Ftab%3Dexecutions"
    );
    let api = anon
        .post(format!("{}/api/applications/list", s.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    assert_eq!(
        api.json::<Value>().await.unwrap(),
        json!({"error": "unauthenticated"})
    );
    for path in [
        "/gate/applications",
        "/api/executions/stream?application=shop",
        "/api/builds/masters",
    ] {
        let res = anon.get(format!("{}{path}", s.base)).send().await.unwrap();
        assert_eq!(res.status(), 401, "{path}");
    }
    for path in ["/healthz", "/readyz", "/metrics", "/auth/methods"] {
        let res = anon.get(format!("{}{path}", s.base)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    let methods: Value = anon
        .get(format!("{}/auth/methods", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(methods, json!({"password": true, "oidc": null}));
    // A forged or unknown bearer token is nobody.
    let forged = anon
        .get(format!("{}/gate/applications", s.base))
        .bearer_auth("tps_not-a-real-token")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_have_safe_cookies_end_at_sign_out_and_are_audited() {
    let s = TestServer::start(Backend::Sqlite).await;
    let login = |proto: Option<&'static str>| {
        let (base, password) = (s.base.clone(), s.admin_password.clone());
        async move {
            let mut r = reqwest::Client::new()
                .post(format!("{base}/auth/login"))
                .json(&json!({"username": "admin", "password": password}));
            if let Some(p) = proto {
                r = r.header("x-forwarded-proto", p);
            }
            r.send().await.unwrap()
        }
    };
    let plain = login(None).await;
    assert_eq!(plain.status(), 204);
    let cookie = plain.headers()["set-cookie"].to_str().unwrap().to_owned();
    for part in ["topsail_session=", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    let behind_tls = login(Some("https")).await;
    assert!(
        behind_tls.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("; Secure")
    );

    let me = |c: reqwest::Client| {
        let base = s.base.clone();
        async move {
            c.get(format!("{base}/gate/auth/user"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let session = s.client_for("admin", &s.admin_password).await;
    assert_eq!(me(session.clone()).await, 200);
    let out = session
        .post(format!("{}/auth/logout", s.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(me(session).await, 401, "the session ended on the server");

    let wrong = reqwest::Client::new()
        .post(format!("{}/auth/login", s.base))
        .json(&json!({"username": "admin", "password": "not the password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let logins = audit(&s, "action=login").await;
    let actions: Vec<&str> = logins
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.first(), Some(&"login.failure"), "{logins:?}");
    assert!(actions.contains(&"login.success"));
    assert_eq!(logins[0]["target"], "user/admin");
    assert_eq!(logins[0]["address"], "127.0.0.1");
    s.stop().await;
}

/// However busy, a session ends at its absolute age (idle expiry is unit-tested beside the
/// session code: a test polling here would keep the session busy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ends_at_its_absolute_age() {
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.auth.session_max_age = Duration::from_secs(1);
    })
    .await;
    let session = s.client_for("admin", &s.admin_password).await;
    eventually("the session to end", Duration::from_secs(10), || async {
        let res = session
            .post(format!("{}/api/applications/list", s.base))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        (res.status() == 401).then_some(())
    })
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_back_off_even_with_the_right_password() {
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.auth.login_failure_limit = 3;
        c.auth.login_lockout = Duration::from_secs(60);
    })
    .await;
    let attempt = |password: String| {
        let base = s.base.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{base}/auth/login"))
                .json(&json!({"username": "admin", "password": password}))
                .send()
                .await
                .unwrap()
        }
    };
    for _ in 0..3 {
        assert_eq!(attempt("wrong password!".into()).await.status(), 401);
    }
    let locked = attempt(s.admin_password.clone()).await;
    assert_eq!(locked.status(), 429);
    assert!(locked.headers().contains_key("retry-after"));
    let body: Value = locked.json().await.unwrap();
    assert_eq!(body["error"], "throttled");
    assert!(body["retryAfter"].as_u64().unwrap() > 0, "{body}");
    s.stop().await;
}

/// Guesses sent all at once are counted as they arrive: no more passwords are checked than the
/// limit allows, the rest are refused unchecked, and the right password is refused after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_guesses_checks_no_more_than_the_limit() {
    let s = TestServer::start_with(Backend::Postgres, |c| {
        c.auth.login_failure_limit = 4;
        c.auth.login_lockout = Duration::from_secs(60);
    })
    .await;
    let guesses = (0..30).map(|i| {
        let base = s.base.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{base}/auth/login"))
                .json(&json!({"username": "admin", "password": format!("guess number {i}")}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers.iter().filter(|a| **a == 401).count();
    let refused = answers.iter().filter(|a| **a == 429).count();
    assert!(checked <= 4, "{answers:?}");
    assert_eq!(checked + refused, 30, "{answers:?}");
    let after = reqwest::Client::new()
        .post(format!("{}/auth/login", s.base))
        .json(&json!({"username": "admin", "password": s.admin_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 429);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_requests_must_be_json_and_same_origin() {
    let s = TestServer::start(Backend::Sqlite).await;
    let create = |content_type: &'static str, origin: Option<String>| {
        let (client, base) = (s.client.clone(), s.base.clone());
        async move {
            let mut r = client
                .post(format!("{base}/api/applications/create"))
                .header("content-type", content_type)
                .body(r#"{"input": {"name": "shop", "ownerEmail": "team@example.com"}}"#);
            if let Some(o) = origin {
                r = r.header("origin", o);
            }
            r.send().await.unwrap().status().as_u16()
        }
    };
    assert_eq!(create("text/plain", None).await, 415);
    assert_eq!(create("application/x-www-form-urlencoded", None).await, 415);
    assert_eq!(
        create("application/json", Some("http://evil.example".into())).await,
        403
    );
    let host = s.base.clone();
    assert_eq!(create("application/json", Some(host)).await, 200);
    let (code, apps, _) = s.call("applications/list", json!({})).await;
    assert_eq!(
        (code, apps.as_array().unwrap().len()),
        (200, 1),
        "only the same-origin create"
    );
    // A bearer token is not sent by browsers on their own: no origin rule.
    let (code, token, _) = s
        .call("tokens/create", json!({"token": {"name": "ci"}}))
        .await;
    assert_eq!(code, 200, "{token}");
    let token = token["token"].as_str().unwrap().to_owned();
    let res = reqwest::Client::new()
        .post(format!("{}/api/applications/list", s.base))
        .bearer_auth(&token)
        .header("origin", "http://elsewhere.example")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    s.stop().await;
}
