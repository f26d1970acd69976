//! `topsail backup` and `topsail restore`: a SQLite installation in use (users, a token,
//! pipelines with several versions, a finished and a waiting execution) is backed up while it
//! runs, restored into a new PostgreSQL database through the blob store on S3 (a real
//! `moto_server`), and a server on PostgreSQL carries on: same sign-in, same token, same
//! history, and the waiting execution still moves. A cut-short or altered backup restores
//! nothing, and nothing restores over existing data.

use std::process::Command;

use serde_json::{Value, json};
use server::blobs::{BlobStore, FileBlobs};
use server::store::backup::BackupError;

use crate::support::s3::Moto;
use crate::support::{self, Backend, TopsailProcess, call};

fn topsail(data: &std::path::Path, env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_topsail"));
    for (k, _) in std::env::vars() {
        if k.starts_with("TOPSAIL_") || k == "DATABASE_URL" || k.starts_with("AWS_") {
            c.env_remove(k);
        }
    }
    c.arg("--data-dir").arg(data).envs(env.iter().copied());
    c
}

fn run(c: &mut Command) -> (bool, String, String) {
    let out = c.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok((status, body): (u16, Value)) -> Value {
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_installation_moves_to_postgres_through_a_backup_in_s3() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    let moto = Moto::start();
    let s3 = [
        ("TOPSAIL_BLOBS_S3_BUCKET", "backups-test"),
        ("TOPSAIL_BLOBS_S3_ENDPOINT", moto.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];

    // An installation in use, on SQLite.
    let server = TopsailProcess::spawn(&old, &[]);
    let password = support::initial_admin_password(&old);
    let admin = support::sign_in(&server.base, "admin", &password).await;
    let base = &server.base;
    ok(call(
        &admin,
        base,
        "applications/create",
        json!({"input": {"name": "shop", "ownerEmail": "ops@example.com", "deployTargets": "sim/shop-test"}}),
    )
    .await);
    let gate = json!({"application": "shop", "name": "Gate", "stages": [
        {"refId": "1", "type": "manualJudgment", "name": "Go?"}]});
    let saved = ok(call(&admin, base, "pipelines/save", json!({"pipeline": gate})).await);
    let mut second = gate.clone();
    second["id"] = saved["id"].clone();
    second["description"] = json!("second version");
    ok(call(&admin, base, "pipelines/save", json!({"pipeline": second})).await);
    let quick = json!({"application": "shop", "name": "Quick", "stages": [
        {"refId": "1", "type": "wait", "name": "Wait", "waitTime": 0}]});
    ok(call(&admin, base, "pipelines/save", json!({"pipeline": quick})).await);
    let token = ok(call(
        &admin,
        base,
        "tokens/create",
        json!({"token": {"name": "ci"}}),
    )
    .await)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let waiting = ok(call(
        &admin,
        base,
        "executions/start",
        json!({"application": "shop", "name": "Gate"}),
    )
    .await);
    let done = ok(call(
        &admin,
        base,
        "executions/start",
        json!({"application": "shop", "name": "Quick"}),
    )
    .await);
    let status = |client: reqwest::Client, base: String, id: Value| async move {
        ok(call(&client, &base, "executions/get", json!({"id": id})).await)["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    support::eventually(
        "both runs to settle",
        std::time::Duration::from_secs(20),
        || {
            let (admin, base) = (admin.clone(), base.clone());
            let (waiting, done) = (waiting.clone(), done.clone());
            async move {
                let w = status(admin.clone(), base.clone(), waiting).await;
                let d = status(admin, base, done).await;
                (w == "RUNNING" && d == "SUCCEEDED").then_some(())
            }
        },
    )
    .await;

    // Backed up while it runs, into S3.
    let (backed_up, out, err) = run(topsail(&old, &s3).arg("backup"));
    assert!(backed_up, "{out}{err}");
    assert!(
        out.contains("1 applications")
            && out.contains("2 executions")
            && out.contains("3 pipeline_versions"),
        "{out}"
    );
    let key = out
        .split("blob `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("the blob key in {out}"))
        .to_owned();
    assert!(key.starts_with("backups/"), "{key}");
    // A backup to a file never needs the blob storage: it works with S3 unreachable.
    let s3_down = [
        ("TOPSAIL_BLOBS_S3_BUCKET", "backups-test"),
        ("TOPSAIL_BLOBS_S3_ENDPOINT", "http://127.0.0.1:9"),
    ];
    let file = dir.path().join("backup.jsonl");
    let (to_file, out, err) = run(topsail(&old, &s3_down)
        .args(["backup", "--file"])
        .arg(&file));
    assert!(to_file, "{out}{err}");
    assert!(out.contains("2 executions"), "{out}");
    drop(server);

    // Restored into a new PostgreSQL database, which a server then runs on.
    let db = support::TestDatabase::create(Backend::Postgres).await;
    let url = db.url.clone().unwrap();
    let on_postgres = [s3.as_slice(), &[("TOPSAIL_DATABASE_URL", url.as_str())]].concat();
    let (restored, out, err) = run(topsail(&new, &on_postgres).args(["restore", "--blob", &key]));
    assert!(restored, "{out}{err}");
    assert!(out.contains("postgres"), "{out}");
    let server = TopsailProcess::spawn(&new, &[("TOPSAIL_DATABASE_URL", url.as_str())]);
    assert!(
        !new.join("initial-admin-password").exists(),
        "the restored admin is the admin"
    );
    let base = &server.base;
    let admin = support::sign_in(base, "admin", &password).await;
    let by_token = reqwest::Client::new()
        .get(format!("{base}/gate/auth/user"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(by_token.status(), 200, "the token still works");
    let history = ok(call(
        &admin,
        base,
        "pipelines/history",
        json!({"id": saved["id"]}),
    )
    .await);
    assert_eq!(history.as_array().map(Vec::len), Some(2), "{history}");
    assert_eq!(
        status(admin.clone(), base.clone(), done.clone()).await,
        "SUCCEEDED"
    );
    // The waiting run still moves: judged, it finishes.
    let execution = ok(call(&admin, base, "executions/get", json!({"id": waiting})).await);
    let stage = execution["stages"][0]["id"].clone();
    ok(call(
        &admin,
        base,
        "executions/judge",
        json!({"id": waiting, "stage_id": stage, "judgment": "continue"}),
    )
    .await);
    support::eventually(
        "the restored run to finish",
        std::time::Duration::from_secs(20),
        || {
            let (admin, base, waiting) = (admin.clone(), base.clone(), waiting.clone());
            async move { (status(admin, base, waiting).await == "SUCCEEDED").then_some(()) }
        },
    )
    .await;
    // New rows get ids after the restored ones (PostgreSQL's sequences moved on).
    ok(call(
        &admin,
        base,
        "applications/create",
        json!({"input": {"name": "cart", "ownerEmail": "ops@example.com"}}),
    )
    .await);
    drop(server);

    // Never over existing data.
    let (again, out, err) = run(topsail(&new, &on_postgres).args(["restore", "--blob", &key]));
    assert!(!again, "{out}");
    assert!(err.contains("not empty"), "{err}");
    // The file backup restores too (into a new SQLite database).
    let (from_file, out, err) = run(topsail(&dir.path().join("third"), &[])
        .args(["restore", "--file"])
        .arg(&file));
    assert!(
        from_file && out.contains("sqlite") && out.contains("2 executions"),
        "{out}{err}"
    );
    let (missing, _, err) =
        run(topsail(&new, &on_postgres).args(["restore", "--blob", "backups/none.jsonl"]));
    assert!(!missing && err.contains("no such backup"), "{err}");
    db.drop().await;
}

#[tokio::test]
async fn a_cut_short_or_altered_backup_restores_nothing() {
    support::with_store(Backend::Sqlite, |store| async move {
        store
            .insert_application(
                server::store::ApplicationRecord {
                    name: "shop".into(),
                    description: String::new(),
                    owner_email: "ops@example.com".into(),
                    team: String::new(),
                    deploy_targets: Vec::new(),
                    permissions: Default::default(),
                    based_on: None,
                },
                "alice",
            )
            .await
            .unwrap();
        let mut backup = Vec::new();
        store.write_backup(&mut backup).await.unwrap();
        let text = String::from_utf8(backup).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "header, one row, end: {text}");

        let dir = tempfile::tempdir().unwrap();
        let fresh = || async {
            let s = server::store::Store::connect(None, &dir.path().join(server::ids::long_id()))
                .await
                .unwrap();
            s.migrate().await.unwrap();
            s
        };
        let cases = [
            (lines[..2].join("\n"), "ends before its end line"),
            (
                [
                    lines[0],
                    lines[1],
                    &lines[2].replace("\"applications\":1", "\"applications\":2"),
                ]
                .join("\n"),
                "had 2 rows",
            ),
            (
                [
                    lines[0],
                    &lines[1].replace("owner_email", "owner"),
                    lines[2],
                ]
                .join("\n"),
                "not a row of this table",
            ),
            (
                [&lines[0].replace("m2026", "m2099"), lines[1], lines[2]].join("\n"),
                "does not know",
            ),
            (String::new(), "the backup is empty"),
        ];
        for (input, says) in cases {
            let target = fresh().await;
            let error = target
                .restore_backup(&mut input.as_bytes())
                .await
                .unwrap_err();
            assert!(matches!(error, BackupError::Format { .. }), "{error}");
            assert!(error.to_string().contains(says), "{error} (wanted: {says})");
            assert!(
                target.list_applications().await.unwrap().is_empty(),
                "nothing half-written"
            );
        }

        // Whole, it restores; through the blob store on disk too.
        let blobs: std::sync::Arc<dyn BlobStore> =
            std::sync::Arc::new(FileBlobs::new(dir.path().join("blobs")));
        let (place, counts) =
            server::backups::backup(&store, server::backups::Destination::Blobs(&blobs))
                .await
                .unwrap();
        assert_eq!(counts["applications"], 1);
        let target = fresh().await;
        let restored = server::backups::restore(&target, Some(&blobs), &place)
            .await
            .unwrap();
        assert_eq!(restored, counts);
        assert_eq!(target.list_applications().await.unwrap().len(), 1);
    })
    .await;
}
