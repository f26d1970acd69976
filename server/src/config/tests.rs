use super::*;
use std::collections::HashMap;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

fn file_with(text: &str) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), text).unwrap();
    f
}

#[test]
fn defaults_need_no_file_and_no_environment() {
    let c = load(None, &env_of(&[]), Overrides::default()).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
    assert_eq!(c.data_dir, PathBuf::from("./data"));
    assert!(c.database_url.is_none());
    assert_eq!(c.log_format, LogFormat::Human);
    assert_eq!(c.log_level, "info");
}

#[test]
fn cli_beats_environment_beats_file() {
    let f = file_with("listen = \"127.0.0.1:4000\"\ndata_dir = \"/file\"\nlog_level = \"debug\"\n");
    let env = env_of(&[
        ("TOPSAIL_LISTEN", "127.0.0.1:5000"),
        ("TOPSAIL_DATA_DIR", "/env"),
    ]);
    let c = load(Some(f.path()), &env, Overrides::default()).unwrap();
    assert_eq!(
        (
            c.listen.port(),
            c.data_dir.to_str().unwrap(),
            c.log_level.as_str()
        ),
        (5000, "/env", "debug")
    );
    let cli = Overrides {
        listen: Some("127.0.0.1:6000".parse().unwrap()),
        ..Default::default()
    };
    let c = load(Some(f.path()), &env, cli).unwrap();
    assert_eq!(c.listen.port(), 6000);
}

#[test]
fn a_bad_value_names_the_file_and_the_key() {
    let f = file_with("listen = \"not an address\"\n");
    let err = load(Some(f.path()), &env_of(&[]), Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!(
            "config file {}: key `listen`: ",
            f.path().display()
        )),
        "{err}"
    );
    assert!(err.contains("invalid socket address"), "{err}");
}

#[test]
fn an_unknown_key_is_rejected_by_name() {
    let f = file_with("listen = \"127.0.0.1:1\"\nlisten_port = 3\n");
    let err = load(Some(f.path()), &env_of(&[]), Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `listen_port`"), "{err}");
}

#[test]
fn a_syntax_error_names_the_line() {
    let f = file_with("listen = \"127.0.0.1:1\"\ndata_dir = \n");
    let err = load(Some(f.path()), &env_of(&[]), Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn a_bad_environment_variable_is_named() {
    let err = load(
        None,
        &env_of(&[("TOPSAIL_LOG_FORMAT", "xml")]),
        Overrides::default(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "environment variable TOPSAIL_LOG_FORMAT: expected `human` or `json`, found `xml`"
    );
}

#[test]
fn jenkins_tokens_and_registry_passwords_come_from_the_environment_or_a_file() {
    let token_file = file_with("tok-from-file\n");
    let f = file_with(&format!(
        "[[jenkins.masters]]\nname = \"ci\"\naddress = \"http://ci\"\nusername = \"bot\"\ntoken_env = \"CI_TOKEN\"\n\n[[jenkins.masters]]\nname = \"ci2\"\naddress = \"http://ci2\"\ntoken_file = \"{}\"\n\n[[registries]]\nname = \"local\"\naddress = \"http://127.0.0.1:5000\"\nwebhook_secret_env = \"HOOK\"\n",
        token_file.path().display()
    ));
    let c = load(
        Some(f.path()),
        &env_of(&[("CI_TOKEN", "tok-from-env"), ("HOOK", "s3cret")]),
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(
        c.jenkins.masters[0].token.as_ref().unwrap().expose(),
        "tok-from-env"
    );
    assert_eq!(
        c.jenkins.masters[1].token.as_ref().unwrap().expose(),
        "tok-from-file"
    );
    assert_eq!(
        c.registries[0].webhook_secret.as_ref().unwrap().expose(),
        "s3cret"
    );
    assert!(c.registries[0].password.is_none());
    let shown = c.to_toml();
    assert!(
        !shown.contains("tok-from") && !shown.contains("s3cret"),
        "{shown}"
    );
    let err = load(
        Some(f.path()),
        &env_of(&[("HOOK", "x")]),
        Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.ends_with(
            "key `jenkins.masters[0].token_env`: environment variable CI_TOKEN is not set"
        ),
        "{err}"
    );
}

#[test]
fn secrets_never_print() {
    let env = env_of(&[("DATABASE_URL", "postgres://u:hunter2@db/topsail")]);
    let c = load(None, &env, Overrides::default()).unwrap();
    assert_eq!(
        c.database_url.as_ref().unwrap().expose(),
        "postgres://u:hunter2@db/topsail"
    );
    assert_eq!(c.database_kind(), "postgres");
    for shown in [format!("{c:?}"), c.to_toml()] {
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}

#[test]
fn outbound_and_expression_limits_are_read_and_bad_entries_named() {
    let c = load(None, &env_of(&[]), Overrides::default()).unwrap();
    assert!(c.outbound.allow.is_empty());
    assert_eq!(c.expressions.max_steps, 100_000);
    let f = file_with(
        "[outbound]\nallow = [\"127.0.0.1\", \"10.0.0.0/8\", \"*.internal.example\"]\nmax_redirects = 2\n\n[expressions]\ntimeout_ms = 20\n",
    );
    let c = load(Some(f.path()), &env_of(&[]), Overrides::default()).unwrap();
    assert_eq!(c.outbound.allow.len(), 3);
    assert_eq!(c.outbound.max_redirects, 2);
    assert_eq!(
        c.outbound.max_reply_bytes,
        1024 * 1024,
        "unset keys keep their default"
    );
    assert_eq!(c.expressions.timeout_ms, 20);
    assert_eq!(c.expressions.max_steps, 100_000);
    let bad = file_with("[outbound]\ndeny = [\"not a host!\"]\n");
    let err = load(Some(bad.path()), &env_of(&[]), Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("outbound.deny[0]"), "{err}");
    let unknown = file_with("[expressions]\nmax_step = 1\n");
    assert!(load(Some(unknown.path()), &env_of(&[]), Overrides::default()).is_err());
}

#[test]
fn sidecar_templates_come_from_the_file() {
    let f = file_with(
        r#"
[[sidecar_templates]]
id = "fluent-bit"
label = "Fluent Bit"
parameters = [{ name = "ENV", label = "Environment", default = "test" }]
volume = { name = "logs", appMountPath = "/var/log/app", sidecarMountPath = "/logs" }
container = { name = "fluent-bit", image = "fluent/fluent-bit:3.1" }
"#,
    );
    let c = load(Some(f.path()), &env_of(&[]), Overrides::default()).unwrap();
    assert_eq!(c.sidecar_templates.len(), 1);
    let t = &c.sidecar_templates[0];
    assert_eq!(
        (t.id.as_str(), t.volume.sidecar_mount_path.as_str()),
        ("fluent-bit", "/logs")
    );
    assert_eq!(t.container["image"], "fluent/fluent-bit:3.1");
}

#[test]
fn an_in_cluster_account_comes_from_the_file_or_the_environment() {
    let f = file_with(
        "[[kubernetes.accounts]]\nname = \"here\"\nin_cluster = true\nservice_account_dir = \"/sa\"\nnamespaces = [\"shop\"]\n",
    );
    let c = load(Some(f.path()), &env_of(&[]), Overrides::default()).unwrap();
    let a = &c.kubernetes.accounts[0];
    assert!(a.in_cluster);
    assert_eq!(a.service_account_dir.as_deref(), Some(Path::new("/sa")));
    assert_eq!(a.kubeconfig, None);

    let env = env_of(&[("TOPSAIL_IN_CLUSTER_ACCOUNT", "in-cluster")]);
    let c = load(None, &env, Overrides::default()).unwrap();
    let names: Vec<(&str, bool)> = c
        .kubernetes
        .accounts
        .iter()
        .map(|a| (a.name.as_str(), a.in_cluster))
        .collect();
    assert_eq!(names, [("in-cluster", true)]);
    // An in-cluster account names no kubeconfig: the default one is still read.
    assert!(c.kubernetes.use_default_kubeconfig);
}

#[test]
fn s3_artifact_accounts_read_their_keys_and_need_unique_names() {
    let f = file_with(
        "[[artifacts.s3]]\nname = \"team-bucket\"\nendpoint = \"http://minio:9000\"\naccess_key_id_env = \"MINIO_ID\"\nsecret_access_key_env = \"MINIO_SECRET\"\n",
    );
    let env = env_of(&[("MINIO_ID", "id"), ("MINIO_SECRET", "secret")]);
    let c = load(Some(f.path()), &env, Overrides::default()).unwrap();
    let account = &c.artifacts.s3[0];
    assert_eq!(account.name, "team-bucket");
    assert_eq!(
        account
            .settings()
            .access_key_id
            .map(|s| s.expose().to_owned()),
        Some("id".to_owned())
    );
    let twice = file_with("[[artifacts.s3]]\nname = \"a\"\n\n[[artifacts.s3]]\nname = \"a\"\n");
    let err = load(Some(twice.path()), &env_of(&[]), Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("artifacts.s3[1]"), "{err}");
    let half = file_with("[[artifacts.s3]]\nname = \"a\"\naccess_key_id_env = \"MINIO_ID\"\n");
    let err = load(Some(half.path()), &env, Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("give both"), "{err}");
}
