//! `topsail user …` and `topsail token …` against a data directory, then used against a running
//! server: a user added on the command line signs in, a token created there works as a bearer
//! token, `reset-password` replaces the first admin's password, and everything is audited.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

fn topsail(data: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_topsail"));
    for (k, _) in std::env::vars() {
        if k.starts_with("TOPSAIL_") || k == "DATABASE_URL" {
            c.env_remove(k);
        }
    }
    c.arg("--data-dir").arg(data).env("USER", "ops");
    c
}

fn run(c: &mut Command, stdin: &str) -> (bool, String, String) {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_tokens_from_the_command_line_work_against_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ok, out, err) = run(
        topsail(&data).args([
            "user",
            "add",
            "alice",
            "--role",
            "releasers",
            "--role",
            "viewers",
        ]),
        "alice-password-1234\n",
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("added alice"), "{out}");
    let (ok, _, err) = run(
        topsail(&data).args(["user", "add", "bob", "--role", "bad role!"]),
        "bob-password-1234\n",
    );
    assert!(!ok, "a bad role is refused");
    assert!(err.contains("roles"), "{err}");
    let (ok, _, err) = run(topsail(&data).args(["user", "add", "carol"]), "short\n");
    assert!(!ok && err.contains("password"), "{err}");
    let (ok, token, err) = run(
        topsail(&data).args([
            "token",
            "create",
            "--user",
            "alice",
            "--name",
            "ci",
            "--expires",
            "30d",
        ]),
        "",
    );
    assert!(ok, "{err}");
    let token = token.trim().to_owned();
    assert!(token.starts_with("tps_"), "{token}");
    let (ok, list, _) = run(topsail(&data).args(["user", "list"]), "");
    assert!(
        ok && list.contains("alice") && list.contains("releasers,viewers"),
        "{list}"
    );

    // A user existed before the first start: no initial admin is made.
    let server = crate::support::TopsailProcess::spawn(&data, &[]);
    assert!(!data.join("initial-admin-password").exists());
    let alice = crate::support::sign_in(&server.base, "alice", "alice-password-1234").await;
    let me: Value = alice
        .get(format!("{}/gate/auth/user", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["username"].clone(), me["roles"].clone()),
        (json!("alice"), json!(["releasers", "viewers"]))
    );
    let by_token = reqwest::Client::new()
        .get(format!("{}/gate/auth/user", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(by_token.status(), 200);

    // Revoked on the command line, the token stops working at once.
    let (ok, list, _) = run(topsail(&data).args(["token", "list"]), "");
    assert!(ok, "{list}");
    let id = list.split_whitespace().next().unwrap().to_owned();
    let (ok, _, err) = run(topsail(&data).args(["token", "revoke", &id]), "");
    assert!(ok, "{err}");
    let by_token = reqwest::Client::new()
        .get(format!("{}/gate/auth/user", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(by_token.status(), 401);

    // A new random password, printed once; the old sessions end.
    let (ok, password, err) = run(topsail(&data).args(["user", "reset-password", "alice"]), "");
    assert!(ok, "{err}");
    let ended = alice
        .get(format!("{}/gate/auth/user", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 401, "the old session ended");
    crate::support::sign_in(&server.base, "alice", password.trim()).await;
    drop(server);
}
