//! The storage contract: every backend must behave exactly like this. Each case runs on SQLite
//! and on PostgreSQL, each in its own fresh database.

use crate::support;

use domain::pipeline::PipelineDocument;
use serde_json::json;
use server::store::{ApplicationRecord, Store, StoreError};

fn record(name: &str) -> ApplicationRecord {
    ApplicationRecord {
        name: name.into(),
        description: format!("{name} description"),
        owner_email: format!("{name}@example.com"),
        team: "platform".into(),
        deploy_targets: vec![domain::DeployTarget {
            account: "staging".into(),
            namespace: format!("{name}-test"),
            // Named, so the contract shows the environment is kept.
            environment: "qa".into(),
        }],
        permissions: domain::Permissions {
            read: vec!["viewers".into()],
            write: vec!["owners".into()],
            ..Default::default()
        },
        based_on: None,
    }
}

async fn created_application_reads_back_as_stored(store: Store) {
    let created = store
        .insert_application(record("web"), "alice")
        .await
        .unwrap();
    assert_eq!(created.created_by, "alice");
    assert_eq!(created.updated_by, "alice");
    assert_eq!(created.created_at, created.updated_at);
    let read = store.get_application("web").await.unwrap();
    assert_eq!(read, created);
    assert_eq!(read.description, "web description");
    assert_eq!(
        (read.permissions.read, read.permissions.write),
        (vec!["viewers".to_owned()], vec!["owners".to_owned()])
    );
}

async fn list_is_ordered_by_name(store: Store) {
    for name in ["gamma", "alpha", "beta"] {
        store
            .insert_application(record(name), "alice")
            .await
            .unwrap();
    }
    let names: Vec<String> = store
        .list_applications()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["alpha", "beta", "gamma"]);
}

async fn a_taken_name_conflicts_and_keeps_the_first(store: Store) {
    store
        .insert_application(record("web"), "alice")
        .await
        .unwrap();
    let mut second = record("web");
    second.team = "other".into();
    assert!(matches!(
        store.insert_application(second, "bob").await,
        Err(StoreError::Conflict)
    ));
    let kept = store.get_application("web").await.unwrap();
    assert_eq!(
        (kept.team.as_str(), kept.created_by.as_str()),
        ("platform", "alice")
    );
    assert_eq!(store.list_applications().await.unwrap().len(), 1);
}

async fn concurrent_creates_of_one_name_have_one_winner(store: Store) {
    let attempts = (0..8).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .insert_application(record("race"), &format!("user{i}"))
                .await
        })
    });
    let mut won = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(_) => won += 1,
            Err(StoreError::Conflict) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(won, 1);
}

async fn update_changes_fields_and_who_changed_them(store: Store) {
    let created = store
        .insert_application(record("web"), "alice")
        .await
        .unwrap();
    let changed = ApplicationRecord {
        name: "web".into(),
        description: "new words".into(),
        owner_email: "ops@example.com".into(),
        team: "payments".into(),
        deploy_targets: vec![],
        permissions: Default::default(),
        based_on: None,
    };
    assert_eq!(created.deploy_targets.len(), 1, "deploy targets are stored");
    let updated = store.update_application(changed, "bob").await.unwrap();
    assert_eq!(
        (
            updated.description.as_str(),
            updated.owner_email.as_str(),
            updated.team.as_str()
        ),
        ("new words", "ops@example.com", "payments")
    );
    assert!(
        updated.deploy_targets.is_empty(),
        "deploy targets change with the rest"
    );
    assert_eq!(
        (updated.created_by.as_str(), updated.updated_by.as_str()),
        ("alice", "bob")
    );
    assert_eq!(updated.created_at, created.created_at);
    assert!(updated.updated_at >= created.updated_at);
    assert_eq!(store.get_application("web").await.unwrap(), updated);
}

async fn updating_a_missing_application_is_not_found(store: Store) {
    assert!(matches!(
        store.update_application(record("ghost"), "bob").await,
        Err(StoreError::NotFound)
    ));
    assert!(store.list_applications().await.unwrap().is_empty());
}

async fn delete_removes_once(store: Store) {
    store
        .insert_application(record("web"), "alice")
        .await
        .unwrap();
    store
        .insert_application(record("api"), "alice")
        .await
        .unwrap();
    store.delete_application("web").await.unwrap();
    assert!(matches!(
        store.get_application("web").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_application("web").await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.list_applications().await.unwrap().len(), 1);
    // The name is free again.
    store
        .insert_application(record("web"), "carol")
        .await
        .unwrap();
}

fn pipeline(app: &str, name: &str, wait: u64) -> PipelineDocument {
    PipelineDocument::from_value(json!({
        "application": app,
        "name": name,
        "stages": [{"refId": "1", "type": "wait", "name": "Wait", "waitTime": wait}],
        "customThing": {"kept": ["as", "written"]}
    }))
    .unwrap()
}

async fn a_saved_pipeline_reads_back_verbatim_with_bookkeeping(store: Store) {
    let saved = store
        .save_pipeline(pipeline("shop", "Deploy", 5), "alice")
        .await
        .unwrap();
    assert_eq!((saved.version, saved.changed), (1, true));
    assert_eq!(saved.id.len(), 36);
    let (summary, doc) = store.get_pipeline("shop", "Deploy").await.unwrap();
    assert_eq!(
        (
            summary.id.as_str(),
            summary.version,
            summary.updated_by.as_str()
        ),
        (saved.id.as_str(), 1, "alice")
    );
    assert_eq!(
        doc.as_map()["customThing"],
        json!({"kept": ["as", "written"]})
    );
    assert_eq!(doc.as_map()["id"], json!(saved.id));
    assert_eq!(doc.as_map()["lastModifiedBy"], json!("alice"));
    assert!(
        doc.as_map()["updateTs"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .is_ok()
    );
    assert_eq!(store.get_pipeline_by_id(&saved.id).await.unwrap().1, doc);
}

async fn every_changing_save_is_a_new_version(store: Store) {
    let first = store
        .save_pipeline(pipeline("shop", "Deploy", 5), "alice")
        .await
        .unwrap();
    // The same content again (by name, without id) stores nothing new.
    let same = store
        .save_pipeline(pipeline("shop", "Deploy", 5), "bob")
        .await
        .unwrap();
    assert_eq!(
        (same.id.as_str(), same.version, same.changed),
        (first.id.as_str(), 1, false)
    );
    let second = store
        .save_pipeline(pipeline("shop", "Deploy", 10), "bob")
        .await
        .unwrap();
    assert_eq!(
        (second.id.as_str(), second.version, second.changed),
        (first.id.as_str(), 2, true)
    );
    let history = store.pipeline_versions(&first.id).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|v| (v.version, v.saved_by.as_str()))
            .collect::<Vec<_>>(),
        [(2, "bob"), (1, "alice")]
    );
    assert_eq!(
        history[1].document.as_map()["stages"][0]["waitTime"],
        json!(5)
    );
    assert_eq!(
        store.pipeline_version(&first.id, 1).await.unwrap(),
        history[1]
    );
    assert!(matches!(
        store.pipeline_version(&first.id, 3).await,
        Err(StoreError::NotFound)
    ));
}

async fn saving_by_id_renames_and_a_taken_name_conflicts(store: Store) {
    let a = store
        .save_pipeline(pipeline("shop", "A", 1), "alice")
        .await
        .unwrap();
    store
        .save_pipeline(pipeline("shop", "B", 1), "alice")
        .await
        .unwrap();
    let (_, mut doc) = store.get_pipeline("shop", "A").await.unwrap();
    doc.set("name", json!("Renamed"));
    let renamed = store.save_pipeline(doc.clone(), "alice").await.unwrap();
    assert_eq!((renamed.id.as_str(), renamed.version), (a.id.as_str(), 2));
    doc.set("name", json!("B"));
    doc.set("updateTs", json!(renamed.update_ts.to_string()));
    assert!(matches!(
        store.save_pipeline(doc, "alice").await,
        Err(StoreError::Conflict)
    ));
    let names: Vec<String> = store
        .list_pipelines("shop")
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["B", "Renamed"]);
    // A failed save leaves no trace in the history.
    assert_eq!(store.pipeline_versions(&a.id).await.unwrap().len(), 2);
}

async fn a_save_based_on_an_older_version_is_refused(store: Store) {
    store
        .insert_application(record("shop"), "alice")
        .await
        .unwrap();
    let first = store
        .save_pipeline(pipeline("shop", "A", 1), "alice")
        .await
        .unwrap();
    let (_, loaded) = store.get_pipeline("shop", "A").await.unwrap();
    let mut mine = loaded.clone();
    mine.set("description", json!("mine"));
    let second = store.save_pipeline(mine, "bob").await.unwrap();
    assert!(
        second.update_ts > first.update_ts,
        "each version its own updateTs"
    );
    let mut theirs = loaded;
    theirs.set("description", json!("theirs"));
    match store.save_pipeline(theirs.clone(), "carol").await {
        Err(StoreError::ChangedSince { by, .. }) => assert_eq!(by, "bob"),
        other => panic!("expected ChangedSince, got {other:?}"),
    }
    let (summary, _) = store.get_pipeline("shop", "A").await.unwrap();
    assert_eq!(summary.version, 2, "nothing of the stale save was stored");
    theirs.set("updateTs", json!(second.update_ts));
    assert_eq!(
        store.save_pipeline(theirs, "carol").await.unwrap().version,
        3
    );

    let app = store.get_application("shop").await.unwrap();
    let loaded_ms = app.updated_at.timestamp_millis();
    let change = |description: &str, based_on| ApplicationRecord {
        description: description.into(),
        based_on,
        ..record("shop")
    };
    store
        .update_application(change("one", Some(loaded_ms)), "bob")
        .await
        .unwrap();
    match store
        .update_application(change("two", Some(loaded_ms)), "carol")
        .await
    {
        Err(StoreError::ChangedSince { by, .. }) => assert_eq!(by, "bob"),
        other => panic!("expected ChangedSince, got {other:?}"),
    }
    assert_eq!(
        store.get_application("shop").await.unwrap().description,
        "one"
    );
    store
        .update_application(change("three", None), "carol")
        .await
        .unwrap();
}

async fn sign_in_attempts_are_counted_in_one_statement(store: Store) {
    let store = &store;
    let count = |now| async move {
        store
            .count_login_attempt("user:ann", now, 1_000)
            .await
            .map(|(n, _)| n)
    };
    assert_eq!(count(10_000).await.unwrap(), 1);
    assert_eq!(count(10_500).await.unwrap(), 2);
    store.release_login_attempt("user:ann").await.unwrap();
    assert_eq!(count(10_600).await.unwrap(), 2);
    // Outside the window the count starts again.
    assert_eq!(count(12_000).await.unwrap(), 1);
    store.lock_login("user:ann", 99_000).await.unwrap();
    assert_eq!(store.locked_until("user:ann").await.unwrap(), 99_000);
    let (_, locked) = store
        .count_login_attempt("user:ann", 12_050, 1_000)
        .await
        .unwrap();
    assert_eq!(locked, 99_000, "an attempt counted after a lock sees it");
    assert_eq!(
        count(12_100).await.unwrap(),
        2,
        "a lock starts the count again"
    );
    // Attempts at the same moment each count.
    let all = futures_util::future::join_all((0..20).map(|_| count(12_200))).await;
    let mut seen: Vec<i32> = all.into_iter().map(Result::unwrap).collect();
    seen.sort();
    assert_eq!(seen, (3..=22).collect::<Vec<_>>());
}

async fn an_imported_id_is_kept(store: Store) {
    let mut doc = pipeline("shop", "Imported", 1);
    doc.set("id", json!("0b1f5a7e-0000-4000-8000-000000000001"));
    let saved = store.save_pipeline(doc, "alice").await.unwrap();
    assert_eq!(saved.id, "0b1f5a7e-0000-4000-8000-000000000001");
}

async fn pipelines_belong_to_their_application_and_delete_with_their_history(store: Store) {
    let kept = store
        .save_pipeline(pipeline("shop", "Deploy", 1), "alice")
        .await
        .unwrap();
    let gone = store
        .save_pipeline(pipeline("other", "Deploy", 1), "alice")
        .await
        .unwrap();
    store
        .save_pipeline(pipeline("other", "Deploy", 2), "alice")
        .await
        .unwrap();
    assert_eq!(store.count_pipelines("other").await.unwrap(), 1);
    store.delete_pipeline("other", "Deploy").await.unwrap();
    assert!(matches!(
        store.get_pipeline("other", "Deploy").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.pipeline_versions(&gone.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_pipeline("other", "Deploy").await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.get_pipeline("shop", "Deploy").await.unwrap().0.id,
        kept.id
    );
}

async fn a_trigger_cursor_is_recorded_and_replaced(store: Store) {
    assert_eq!(store.cursor("jenkins:ci:team/app").await.unwrap(), None);
    store.set_cursor("jenkins:ci:team/app", "7").await.unwrap();
    store.set_cursor("jenkins:ci:other", "1").await.unwrap();
    store.set_cursor("jenkins:ci:team/app", "9").await.unwrap();
    assert_eq!(
        store
            .cursor("jenkins:ci:team/app")
            .await
            .unwrap()
            .as_deref(),
        Some("9")
    );
    assert_eq!(
        store.cursor("jenkins:ci:other").await.unwrap().as_deref(),
        Some("1")
    );
}

async fn migrations_are_idempotent_and_leave_the_store_ready(store: Store) {
    store.readiness().await.unwrap();
    store.migrate().await.unwrap();
    store.readiness().await.unwrap();
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode() {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let db = support::TestDatabase::create(support::Backend::Sqlite).await;
    let store = db.store().await;
    let file = db.dir.path().join("topsail.db");
    let raw = Database::connect(format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    let row = raw
        .query_one(Statement::from_string(
            raw.get_database_backend(),
            "PRAGMA journal_mode",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<String>(0).unwrap(), "wal");
    raw.close().await.unwrap();
    store.close().await.unwrap();
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    crate::support::with_store(crate::support::Backend::Sqlite, super::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    crate::support::with_store(crate::support::Backend::Postgres, super::$case).await;
                }
            )*
        }
    };
}

contract!(
    created_application_reads_back_as_stored,
    list_is_ordered_by_name,
    a_taken_name_conflicts_and_keeps_the_first,
    concurrent_creates_of_one_name_have_one_winner,
    update_changes_fields_and_who_changed_them,
    updating_a_missing_application_is_not_found,
    delete_removes_once,
    migrations_are_idempotent_and_leave_the_store_ready,
    a_saved_pipeline_reads_back_verbatim_with_bookkeeping,
    every_changing_save_is_a_new_version,
    saving_by_id_renames_and_a_taken_name_conflicts,
    a_save_based_on_an_older_version_is_refused,
    sign_in_attempts_are_counted_in_one_statement,
    an_imported_id_is_kept,
    pipelines_belong_to_their_application_and_delete_with_their_history,
    a_trigger_cursor_is_recorded_and_replaced,
);

/// Replicas starting together on an empty PostgreSQL database: each migrates, one at a time
/// under the migration lock, and every migration is applied exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_migrating_one_empty_database_at_once_do_not_race() {
    use sea_orm::ConnectionTrait;
    let db = support::TestDatabase::create(support::Backend::Postgres).await;
    let url = db.url.clone().unwrap();
    let replicas = (0..6).map(|_| {
        let (url, dir) = (url.clone(), db.dir.path().to_owned());
        tokio::spawn(async move {
            let store = Store::connect(Some(&url), &dir).await.unwrap();
            let migrated = store.migrate().await;
            let _ = store.close().await;
            migrated
        })
    });
    for migrated in futures_util::future::join_all(replicas).await {
        migrated
            .unwrap()
            .expect("every replica's migration succeeds");
    }
    let store = db.store().await;
    store.readiness().await.expect("nothing pending");
    drop(store);
    let conn = sea_orm::Database::connect(&url).await.unwrap();
    let counts = conn
        .query_all(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT version, count(*) AS n FROM topsail_migrations GROUP BY version",
        ))
        .await
        .unwrap();
    assert!(!counts.is_empty());
    for row in counts {
        let n: i64 = row.try_get("", "n").unwrap();
        assert_eq!(n, 1, "each migration recorded once");
    }
    conn.close().await.unwrap();
    db.drop().await;
}
