//! The identity door's cost per request: resolving a session cookie and an API token to a
//! caller (SHA-256 of the secret, the session or token row, the user row), on SQLite in a
//! temporary data directory, as every request pays it; and one application permission check
//! (the application row plus the role match) as every service call pays it.
//!
//! Run with `./x bench` (release). Results go to BENCHMARKS.md.

use std::time::{Duration, Instant};

use domain::identity::{AuthMethod, NewToken, NewUser};
use domain::services::IdentityService;
use domain::{Access, Caller, Identity, RequestContext};
use server::access::Guard;
use server::identity::Accounts;
use server::store::{ApplicationRecord, Store};

const CALLS: usize = 5_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{what}: p50 {:?}  p99 {:?}  max {:?}  ({} calls)",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples.last().unwrap(),
        samples.len()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(None, dir.path()).await.unwrap();
    store.migrate().await.unwrap();
    let accounts = Accounts::new(store.clone(), Default::default());
    let admin = RequestContext::local(
        "bench",
        Caller::User(Identity {
            username: "bench-admin".into(),
            roles: Vec::new(),
            admin: true,
            method: AuthMethod::Local,
        }),
    );
    accounts
        .add_user(
            &admin,
            NewUser {
                username: "alice".into(),
                password: "alice-password-123".into(),
                admin: false,
                roles: "releasers".into(),
            },
        )
        .await
        .unwrap();
    let (secret, _) = accounts
        .login("alice", "alice-password-123", "127.0.0.1")
        .await
        .unwrap();
    let token = accounts
        .create_token(
            &admin,
            NewToken {
                name: "bench".into(),
                username: "alice".into(),
                expires_in_days: None,
            },
        )
        .await
        .unwrap()
        .token;
    store
        .insert_application(
            ApplicationRecord {
                name: "shop".into(),
                description: String::new(),
                owner_email: "team@example.com".into(),
                team: String::new(),
                deploy_targets: Vec::new(),
                permissions: domain::Permissions {
                    execute: vec!["releasers".into()],
                    ..Default::default()
                },
                based_on: None,
            },
            "bench",
        )
        .await
        .unwrap();

    let mut samples = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        let found = accounts.session_caller(&secret).await.unwrap();
        samples.push(t.elapsed());
        assert!(found.is_some());
    }
    report("session cookie → caller", samples);

    let mut samples = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        let found = accounts.token_caller(&token).await.unwrap();
        samples.push(t.elapsed());
        assert!(found.is_some());
    }
    report("API token → caller", samples);

    let guard = Guard::new(store.clone(), accounts.clone());
    let alice = RequestContext::local(
        "bench",
        Caller::User(accounts.session_caller(&secret).await.unwrap().unwrap()),
    );
    let mut samples = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        let app = guard.application(&alice, "shop", Access::Execute).await;
        samples.push(t.elapsed());
        assert!(app.is_ok());
    }
    report("EXECUTE check on an application", samples);
    store.close().await.unwrap();
}
