//! The `topsail` binary: configuration checks, migrations, start-up and graceful shutdown.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn topsail() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_topsail"));
    for (k, _) in std::env::vars() {
        if k.starts_with("TOPSAIL_") || k == "DATABASE_URL" {
            c.env_remove(k);
        }
    }
    c
}

#[test]
fn config_check_prints_the_effective_config_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("topsail.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:4100\"\nlog_format = \"json\"\n",
    )
    .unwrap();
    let out = topsail()
        .args(["config", "check", "--config"])
        .arg(&file)
        .env("DATABASE_URL", "postgres://topsail:hunter2@db/topsail")
        .env("TOPSAIL_DATA_DIR", "/var/lib/topsail")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("listen = \"127.0.0.1:4100\""), "{stdout}");
    assert!(
        stdout.contains("data_dir = \"/var/lib/topsail\""),
        "{stdout}"
    );
    assert!(stdout.contains("log_format = \"json\""), "{stdout}");
    assert!(stdout.contains("database_url = \"[redacted]\""), "{stdout}");
    assert!(!stdout.contains("hunter2"), "{stdout}");
}

#[test]
fn an_invalid_config_file_exits_non_zero_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "log_format = \"xml\"\n").unwrap();
    let out = topsail()
        .args(["config", "check"])
        .env("TOPSAIL_CONFIG", &file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "config file {}: key `log_format`:",
            file.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("unknown variant `xml`"), "{stderr}");
}

#[test]
fn migrate_creates_the_database_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let out = topsail()
        .arg("migrate")
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("topsail.db").is_file());
}

#[test]
fn serve_starts_answers_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = topsail()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--data-dir",
        ])
        .arg(dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        assert!(Instant::now() < deadline, "no listening line");
        let line = lines
            .next()
            .expect("topsail exited before listening")
            .unwrap();
        let entry: serde_json::Value = serde_json::from_str(&line).expect("JSON log lines");
        if let Some(msg) = entry["fields"]["message"].as_str()
            && let Some(url) = msg.strip_prefix("listening on http://")
        {
            break url.to_owned();
        }
    };
    let body = std::net::TcpStream::connect(&addr).map(|mut s| {
        use std::io::{Read, Write};
        write!(
            s,
            "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    });
    assert!(body.unwrap().contains("ready"));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "topsail did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
}

#[test]
fn pipeline_import_then_export_round_trips_and_bad_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let seed = serde_json::json!([
        {"application": "shop", "name": "Deploy", "stages": [
            {"refId": "1", "type": "wait", "name": "Settle", "waitTime": 1},
            {"refId": "2", "type": "canary", "name": "Canary", "requisiteStageRefIds": ["1"], "analysisType": "realTime"}
        ], "futureField": 42}
    ]);
    let file = dir.path().join("pipelines.json");
    std::fs::write(&file, seed.to_string()).unwrap();

    // Without the application, the import names the problem and fails.
    let out = topsail()
        .args(["pipeline", "import"])
        .arg(&file)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("shop/Deploy: application: application 'shop' does not exist"),
        "{stderr}"
    );

    create_application(&data, "shop");
    let out = topsail()
        .args(["pipeline", "import"])
        .arg(&file)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("shop/Deploy: saved as version 1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("warning: stage 2 (Canary): type: stage type 'canary' is not supported"),
        "{stdout}"
    );

    let out = topsail()
        .args(["pipeline", "export", "shop", "Deploy", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success());
    let exported: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(exported["futureField"], 42);
    assert_eq!(exported["stages"], seed[0]["stages"]);
    assert!(
        exported["lastModifiedBy"]
            .as_str()
            .unwrap()
            .starts_with("cli:")
    );

    // A broken stage is named by stage and field; nothing is saved.
    let mut broken = seed.clone();
    broken[0]["stages"][0]["refId"] = serde_json::json!("");
    std::fs::write(&file, broken.to_string()).unwrap();
    let out = topsail()
        .args(["pipeline", "import"])
        .arg(&file)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("shop/Deploy: stage #1 (Settle): refId: refId is required"),
        "{stderr}"
    );
    let out = topsail()
        .args([
            "pipeline",
            "export",
            "shop",
            "Deploy",
            "--version",
            "2",
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("version 2 of pipeline 'Deploy' not found")
    );
}

/// Creates an application in the SQLite database under `data` (via the library, as the server would).
fn create_application(data: &std::path::Path, name: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = server::store::Store::connect(None, data).await.unwrap();
        store.migrate().await.unwrap();
        let record = server::store::ApplicationRecord {
            name: name.into(),
            description: String::new(),
            owner_email: "ops@example.com".into(),
            team: String::new(),
            deploy_targets: Vec::new(),
            permissions: Default::default(),
            based_on: None,
        };
        store.insert_application(record, "test").await.unwrap();
        store.close().await.unwrap();
    });
}
