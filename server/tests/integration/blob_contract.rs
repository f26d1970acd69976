//! One contract for every blob store: the directory under `data_dir` and S3 (a real S3 API,
//! `moto_server`). Each case runs against both; S3 alone has the outage cases.

use std::sync::Arc;

use server::blobs::{BlobError, BlobStore, FileBlobs, S3Blobs, S3Settings};
use server::config::Secret;

use crate::support::s3::{Moto, Relay};

/// What must outlive a test's store (its directory, its S3 server).
type Fixture = Box<dyn std::any::Any + Send>;

async fn s3_at(endpoint: &str, bucket: &str) -> S3Blobs {
    S3Blobs::new(&S3Settings {
        bucket: bucket.into(),
        prefix: "topsail/".into(),
        endpoint: Some(endpoint.into()),
        region: Some("eu-west-1".into()),
        access_key_id: Some(Secret::new("testing")),
        secret_access_key: Some(Secret::new("testing")),
    })
    .await
}

async fn file_store() -> (Arc<dyn BlobStore>, Fixture) {
    let dir = tempfile::tempdir().unwrap();
    (
        Arc::new(FileBlobs::new(dir.path().join("blobs"))),
        Box::new(dir),
    )
}

async fn s3_store() -> (Arc<dyn BlobStore>, Fixture) {
    let moto = Moto::start();
    let s3 = s3_at(&moto.url, "topsail-blobs").await;
    s3.ensure_bucket().await.unwrap();
    s3.ensure_bucket()
        .await
        .expect("an existing bucket is fine");
    (Arc::new(s3), Box::new(moto))
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod file {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _fixture) = super::file_store().await;
                super::$case(store).await;
            })*
        }
        mod s3 {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _fixture) = super::s3_store().await;
                super::$case(store).await;
            })*
        }
    };
}

contract!(
    what_is_put_reads_back_and_a_put_replaces,
    a_missing_key_is_none_and_deleting_it_is_fine,
    listing_is_by_prefix_and_sorted,
    bad_keys_are_refused_alike,
    a_large_blob_reads_back_whole,
);

async fn what_is_put_reads_back_and_a_put_replaces(store: Arc<dyn BlobStore>) {
    store
        .put("backups/one.jsonl", b"first".to_vec())
        .await
        .unwrap();
    assert_eq!(
        store.get("backups/one.jsonl").await.unwrap().as_deref(),
        Some(&b"first"[..])
    );
    store
        .put("backups/one.jsonl", b"second".to_vec())
        .await
        .unwrap();
    assert_eq!(
        store.get("backups/one.jsonl").await.unwrap().as_deref(),
        Some(&b"second"[..])
    );
    store.put("empty", Vec::new()).await.unwrap();
    assert_eq!(store.get("empty").await.unwrap(), Some(Vec::new()));
}

async fn a_missing_key_is_none_and_deleting_it_is_fine(store: Arc<dyn BlobStore>) {
    assert_eq!(store.get("nothing/here").await.unwrap(), None);
    store.delete("nothing/here").await.unwrap();
    store.put("a/b", b"x".to_vec()).await.unwrap();
    store.delete("a/b").await.unwrap();
    assert_eq!(store.get("a/b").await.unwrap(), None);
    assert_eq!(store.list("a/").await.unwrap(), Vec::<String>::new());
}

async fn listing_is_by_prefix_and_sorted(store: Arc<dyn BlobStore>) {
    for key in ["b/2", "a/1", "b/1", "b/deeper/3", "bb/4"] {
        store.put(key, key.as_bytes().to_vec()).await.unwrap();
    }
    assert_eq!(
        store.list("b/").await.unwrap(),
        ["b/1", "b/2", "b/deeper/3"]
    );
    assert_eq!(
        store.list("").await.unwrap(),
        ["a/1", "b/1", "b/2", "b/deeper/3", "bb/4"]
    );
    assert!(matches!(
        store.list("b").await,
        Err(BlobError::InvalidKey { .. })
    ));
}

async fn bad_keys_are_refused_alike(store: Arc<dyn BlobStore>) {
    for bad in ["", "../escape", "a//b", ".hidden", "a b"] {
        let refused = store.put(bad, b"x".to_vec()).await.unwrap_err();
        assert!(
            matches!(refused, BlobError::InvalidKey { .. }),
            "{bad}: {refused}"
        );
        assert!(matches!(
            store.get(bad).await,
            Err(BlobError::InvalidKey { .. })
        ));
    }
}

async fn a_large_blob_reads_back_whole(store: Arc<dyn BlobStore>) {
    let big: Vec<u8> = (0..6 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    store.put("big/blob", big.clone()).await.unwrap();
    assert_eq!(store.get("big/blob").await.unwrap(), Some(big));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_down_is_a_clear_error_and_nothing_stored_is_lost() {
    let moto = Moto::start();
    let relay = Relay::start(&moto.url).await;
    let s3 = s3_at(&relay.url, "outage").await;
    s3.ensure_bucket().await.unwrap();
    s3.put("kept", b"before the outage".to_vec()).await.unwrap();

    relay.set_down(true);
    let failed = s3.put("during", b"x".to_vec()).await.unwrap_err();
    let message = failed.to_string();
    assert!(matches!(failed, BlobError::Unavailable { .. }), "{message}");
    assert!(
        message.contains("s3://outage/topsail/"),
        "names the bucket: {message}"
    );
    assert!(
        message.contains("writing during"),
        "names the call: {message}"
    );
    assert!(!message.contains("testing"), "no credentials: {message}");
    assert!(s3.get("kept").await.is_err());

    relay.set_down(false);
    assert_eq!(
        s3.get("kept").await.unwrap().as_deref(),
        Some(&b"before the outage"[..])
    );
    assert_eq!(
        s3.get("during").await.unwrap(),
        None,
        "a failed put wrote nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_s3_outage_is_retried() {
    let moto = Moto::start();
    let relay = Relay::start(&moto.url).await;
    let s3 = s3_at(&relay.url, "flaky").await;
    s3.ensure_bucket().await.unwrap();
    // Two connections refused: the SDK's third attempt gets through.
    relay.fail_next(2);
    s3.put("retried", b"made it".to_vec()).await.unwrap();
    assert_eq!(
        s3.get("retried").await.unwrap().as_deref(),
        Some(&b"made it"[..])
    );
}
