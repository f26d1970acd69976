//! The execution archive: ended executions past their age move whole to blob storage and their
//! rows keep a summary; reading one brings it back whole, a running one is never archived, a
//! restarted one is whole in its row again, and an archive that cannot be read is an error (never
//! a summary passed off as the execution). Then the same through a real server, whose archive
//! loop runs on `TOPSAIL_BLOBS_ARCHIVE_AFTER`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::execution::Status;
use domain::pipeline::PipelineDocument;
use serde_json::{Value, json};
use server::blobs::{BlobError, BlobStore, FileBlobs};
use server::orchestration::archive::blob_key;
use server::orchestration::engine::Engine;
use server::orchestration::queue::{ManualClock, QueueSettings, SystemClock};
use server::orchestration::stages::StageRegistry;

use crate::support::{self, Backend, TopsailProcess, call, eventually};

fn notes() -> String {
    "release notes ".repeat(300)
}

/// Blob storage whose reads fail (S3 down), writes going to `inner`.
struct Unreadable(Arc<dyn BlobStore>);

#[async_trait]
impl BlobStore for Unreadable {
    fn describe(&self) -> String {
        "unreadable".into()
    }
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), BlobError> {
        self.0.put(key, bytes).await
    }
    async fn get(&self, _: &str) -> Result<Option<Vec<u8>>, BlobError> {
        Err(BlobError::Unavailable {
            store: "s3://archive".into(),
            message: "connection refused".into(),
        })
    }
    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        self.0.delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        self.0.list(prefix).await
    }
}

async fn archive_on(backend: Backend) {
    let db = support::TestDatabase::create(backend).await;
    let store = db.store().await;
    let blobs: Arc<dyn BlobStore> = Arc::new(FileBlobs::new(db.dir.path().join("blobs")));
    let clock = ManualClock::starting_at(1_800_000_000_000);
    let engine = Engine::new(
        &store,
        Arc::new(clock.clone()),
        QueueSettings::default(),
        StageRegistry::standard(),
    )
    .with_archive(blobs.clone());
    let start = |stages: Value| {
        let doc = PipelineDocument::from_value(
            json!({"application": "shop", "name": "P", "stages": stages}),
        )
        .unwrap();
        let engine = &engine;
        async move {
            engine
                .start(&doc, json!({"type": "manual", "user": "alice"}))
                .await
                .unwrap()
        }
    };
    let judged = start(json!([
        {"refId": "1", "type": "wait", "name": "Wait", "waitTime": 0, "notes": notes()},
        {"refId": "2", "type": "manualJudgment", "name": "Go?", "requisiteStageRefIds": ["1"]}
    ]))
    .await;
    let waiting = start(json!([
        {"refId": "1", "type": "manualJudgment", "name": "Go?", "notes": notes()}
    ]))
    .await;
    engine.run_until_idle().await.unwrap();
    let gate = engine.execution(&judged).await.unwrap().stages[1]
        .id
        .clone();
    engine
        .judge(&judged, &gate, false, None, "bob")
        .await
        .unwrap();
    engine.run_until_idle().await.unwrap();
    let whole = engine.execution(&judged).await.unwrap();
    assert_eq!(whole.status, Status::Terminal);

    assert_eq!(
        engine
            .archive_ended(Duration::from_secs(3600))
            .await
            .unwrap(),
        0,
        "nothing is old enough yet"
    );
    clock.advance(Duration::from_secs(7200));
    assert_eq!(
        engine
            .archive_ended(Duration::from_secs(3600))
            .await
            .unwrap(),
        1,
        "only the ended execution"
    );
    assert_eq!(
        engine
            .archive_ended(Duration::from_secs(3600))
            .await
            .unwrap(),
        0,
        "nothing twice"
    );
    let listed = engine.executions("shop", 10).await.unwrap();
    let row = |id: &str| listed.iter().find(|e| e.id.as_str() == id).unwrap().clone();
    assert!(
        !row(&judged).stages[0].context.contains_key("notes"),
        "the row keeps a summary"
    );
    assert_eq!(row(&judged).status, Status::Terminal);
    assert!(
        row(&waiting).stages[0].context.contains_key("notes"),
        "a running execution stays whole"
    );
    assert!(
        blobs
            .get(&blob_key("shop", &judged))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        engine.execution(&judged).await.unwrap(),
        whole,
        "read back whole from the archive"
    );

    // S3 down: reading the archived execution fails, and says why.
    let blind = Engine::new(
        &store,
        Arc::new(SystemClock),
        QueueSettings::default(),
        StageRegistry::standard(),
    )
    .with_archive(Arc::new(Unreadable(blobs.clone())));
    let error = blind.execution(&judged).await.unwrap_err().to_string();
    assert!(
        error.contains("archive") && error.contains("connection refused"),
        "{error}"
    );

    // Restarted, it is whole in its row again.
    engine.restart_stage(&judged, &gate).await.unwrap();
    engine.run_until_idle().await.unwrap();
    let listed = engine.executions("shop", 10).await.unwrap();
    let again = listed.iter().find(|e| e.id.as_str() == judged).unwrap();
    assert_eq!(again.status, Status::Running);
    assert_eq!(again.stages[0].context["notes"], json!(notes()));

    store.close().await.unwrap();
    db.drop().await;
}

#[tokio::test]
async fn archived_executions_read_back_whole_on_sqlite() {
    archive_on(Backend::Sqlite).await;
}

#[tokio::test]
async fn archived_executions_read_back_whole_on_postgres() {
    archive_on(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_archives_ended_executions_past_their_age() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = TopsailProcess::spawn(&data, &[("TOPSAIL_BLOBS_ARCHIVE_AFTER", "1s")]);
    let admin = support::sign_in(
        &server.base,
        "admin",
        &support::initial_admin_password(&data),
    )
    .await;
    let base = &server.base;
    let ok = |(status, body): (u16, Value)| {
        assert_eq!(status, 200, "{body}");
        body
    };
    ok(call(
        &admin,
        base,
        "applications/create",
        json!({"input": {"name": "shop", "ownerEmail": "ops@example.com"}}),
    )
    .await);
    let pipeline = json!({"application": "shop", "name": "Quick", "stages": [
        {"refId": "1", "type": "wait", "name": "Wait", "waitTime": 0, "notes": notes()}]});
    ok(call(
        &admin,
        base,
        "pipelines/save",
        json!({"pipeline": pipeline}),
    )
    .await);
    let id = ok(call(
        &admin,
        base,
        "executions/start",
        json!({"application": "shop", "name": "Quick"}),
    )
    .await);
    let id = id.as_str().unwrap().to_owned();
    let archived = data.join("blobs").join(blob_key("shop", &id));
    eventually(
        "the archive loop to archive the run",
        Duration::from_secs(40),
        || async { archived.exists().then_some(()) },
    )
    .await;
    let execution = ok(call(&admin, base, "executions/get", json!({"id": id})).await);
    assert_eq!(execution["status"], "SUCCEEDED");
    assert_eq!(execution["stages"][0]["context"]["notes"], json!(notes()));
    drop(server);
}
