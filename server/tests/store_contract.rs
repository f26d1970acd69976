//! The storage contract: every backend must behave exactly like this. Each case runs on SQLite
//! and on PostgreSQL, each in its own fresh database.

mod support;

use server::store::{ApplicationRecord, Store, StoreError};

fn record(name: &str) -> ApplicationRecord {
    ApplicationRecord {
        name: name.into(),
        description: format!("{name} description"),
        owner_email: format!("{name}@example.com"),
        team: "platform".into(),
    }
}

async fn created_application_reads_back_as_stored(store: Store) {
    let created = store.insert_application(record("web"), "alice").await.unwrap();
    assert_eq!(created.created_by, "alice");
    assert_eq!(created.updated_by, "alice");
    assert_eq!(created.created_at, created.updated_at);
    let read = store.get_application("web").await.unwrap();
    assert_eq!(read, created);
    assert_eq!(read.description, "web description");
}

async fn list_is_ordered_by_name(store: Store) {
    for name in ["gamma", "alpha", "beta"] {
        store.insert_application(record(name), "alice").await.unwrap();
    }
    let names: Vec<String> = store.list_applications().await.unwrap().into_iter().map(|a| a.name).collect();
    assert_eq!(names, ["alpha", "beta", "gamma"]);
}

async fn a_taken_name_conflicts_and_keeps_the_first(store: Store) {
    store.insert_application(record("web"), "alice").await.unwrap();
    let mut second = record("web");
    second.team = "other".into();
    assert!(matches!(store.insert_application(second, "bob").await, Err(StoreError::Conflict)));
    let kept = store.get_application("web").await.unwrap();
    assert_eq!((kept.team.as_str(), kept.created_by.as_str()), ("platform", "alice"));
    assert_eq!(store.list_applications().await.unwrap().len(), 1);
}

async fn concurrent_creates_of_one_name_have_one_winner(store: Store) {
    let attempts = (0..8).map(|i| {
        let store = store.clone();
        tokio::spawn(async move { store.insert_application(record("race"), &format!("user{i}")).await })
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
    let created = store.insert_application(record("web"), "alice").await.unwrap();
    let changed = ApplicationRecord {
        name: "web".into(),
        description: "new words".into(),
        owner_email: "ops@example.com".into(),
        team: "payments".into(),
    };
    let updated = store.update_application(changed, "bob").await.unwrap();
    assert_eq!(
        (updated.description.as_str(), updated.owner_email.as_str(), updated.team.as_str()),
        ("new words", "ops@example.com", "payments")
    );
    assert_eq!((updated.created_by.as_str(), updated.updated_by.as_str()), ("alice", "bob"));
    assert_eq!(updated.created_at, created.created_at);
    assert!(updated.updated_at >= created.updated_at);
    assert_eq!(store.get_application("web").await.unwrap(), updated);
}

async fn updating_a_missing_application_is_not_found(store: Store) {
    assert!(matches!(store.update_application(record("ghost"), "bob").await, Err(StoreError::NotFound)));
    assert!(store.list_applications().await.unwrap().is_empty());
}

async fn delete_removes_once(store: Store) {
    store.insert_application(record("web"), "alice").await.unwrap();
    store.insert_application(record("api"), "alice").await.unwrap();
    store.delete_application("web").await.unwrap();
    assert!(matches!(store.get_application("web").await, Err(StoreError::NotFound)));
    assert!(matches!(store.delete_application("web").await, Err(StoreError::NotFound)));
    assert_eq!(store.list_applications().await.unwrap().len(), 1);
    // The name is free again.
    store.insert_application(record("web"), "carol").await.unwrap();
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
    let raw = Database::connect(format!("sqlite://{}", file.display())).await.unwrap();
    let row = raw
        .query_one(Statement::from_string(raw.get_database_backend(), "PRAGMA journal_mode"))
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
);
