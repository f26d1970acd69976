//! `s3/object` manifest artifacts (Spinnaker's artifact type): a deployManifest reads its
//! manifests from an S3 bucket (a real S3 API: moto) through the artifact account the artifact
//! names, and deploys them to the simulated cluster; a missing object and an unknown account
//! fail the stage with what to fix.

use serde_json::json;
use server::blobs::{BlobStore, S3Blobs, S3Settings};
use server::config::{S3ArtifactAccountConfig, Secret};

use crate::kubernetes::{Sim, until_execution, web};
use crate::support::s3::Moto;
use crate::support::{Backend, TestServer};

const YAML: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: main\n        image: registry.local/shop/web:2.0\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_reads_its_manifests_from_an_s3_object() {
    let moto = Moto::start();
    let credentials = || Some(Secret::new("testing"));
    // The bucket as a team's build would fill it.
    let bucket = S3Blobs::new(&S3Settings {
        bucket: "manifests".into(),
        prefix: String::new(),
        endpoint: Some(moto.url.clone()),
        region: Some("eu-west-1".into()),
        access_key_id: credentials(),
        secret_access_key: credentials(),
    })
    .await;
    bucket.ensure_bucket().await.unwrap();
    bucket
        .put("shop/web.yml", YAML.as_bytes().to_vec())
        .await
        .unwrap();

    let sim = Sim::start().await;
    sim.namespaces(&["shop-test"]).await;
    let account = sim.account("test", &[]);
    let s3_account = S3ArtifactAccountConfig {
        name: "team-bucket".into(),
        endpoint: Some(moto.url.clone()),
        region: Some("eu-west-1".into()),
        access_key_id: credentials(),
        secret_access_key: credentials(),
        ..S3ArtifactAccountConfig::default()
    };
    let server = TestServer::start_with(Backend::Sqlite, |c| {
        c.kubernetes.accounts = vec![account];
        c.artifacts.s3 = vec![s3_account];
    })
    .await;
    server
        .call(
            "applications/create",
            json!({"input": {"name": "shop", "ownerEmail": "team@example.com"}}),
        )
        .await;
    let from = |reference: &str, account: &str| json!({"type": "s3/object", "name": reference, "reference": reference, "artifactAccount": account});
    let pipeline = json!({"application": "shop", "name": "From S3", "stages": [
        {"refId": "1", "type": "deployManifest", "name": "From the bucket", "account": "test",
         "namespaceOverride": "shop-test", "source": "artifact",
         "manifestArtifact": from("s3://manifests/shop/web.yml", "team-bucket")},
        {"refId": "2", "requisiteStageRefIds": ["1"], "type": "deployManifest", "name": "Missing object",
         "account": "test", "namespaceOverride": "shop-test", "source": "artifact",
         "manifestArtifact": from("s3://manifests/shop/nope.yml", "team-bucket"),
         "continuePipeline": true, "failPipeline": false},
        {"refId": "3", "requisiteStageRefIds": ["2"], "type": "deployManifest", "name": "Unknown account",
         "account": "test", "namespaceOverride": "shop-test", "source": "artifact",
         "manifestArtifact": from("s3://manifests/shop/web.yml", "elsewhere")}
    ]});
    let (code, saved, _) = server
        .call("pipelines/save", json!({"pipeline": pipeline}))
        .await;
    assert_eq!(code, 200, "{saved}");
    let (_, id, _) = server
        .call(
            "executions/start",
            json!({"application": "shop", "name": "From S3"}),
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
    let error = |r: &str| {
        stage(r)["context"]["exception"]["details"]["errors"][0]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(stage("1")["status"], "SUCCEEDED", "{done:#}");
    assert_eq!(
        stage("1")["outputs"]["outputs.manifestNamesByNamespace"],
        json!({"shop-test": ["deployment web"]})
    );
    assert_eq!(stage("2")["status"], "FAILED_CONTINUE", "{done:#}");
    assert!(
        error("2").contains("s3://manifests/shop/nope.yml does not exist"),
        "{}",
        error("2")
    );
    assert_eq!(stage("3")["status"], "TERMINAL");
    assert!(
        error("3")
            .contains("no S3 artifact account is named 'elsewhere' (configured: team-bucket)"),
        "{}",
        error("3")
    );
    let accounts = sim.accounts(&[]).await;
    assert_eq!(
        accounts.images(&web("shop-test")).await.unwrap(),
        ["registry.local/shop/web:2.0"]
    );
    server.stop().await;
}
