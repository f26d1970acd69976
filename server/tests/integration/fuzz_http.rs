//! Generated request bodies against the routes that take JSON (Gate's and the server
//! functions'): whatever arrives, the answer is never a 5xx and the server keeps serving.
//! `TOPSAIL_FUZZ_CASES=<n>` sends more.

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

use crate::support::{Backend, TestServer};

fn body() -> impl Strategy<Value = Value> {
    let leaf = proptest::prop_oneof![
        proptest::strategy::Just(Value::Null),
        proptest::bool::ANY.prop_map(Value::Bool),
        proptest::num::i64::ANY.prop_map(|n| json!(n)),
        "[ -~]{0,10}".prop_map(Value::String),
    ];
    let keys = proptest::sample::select(vec![
        "application",
        "name",
        "stages",
        "refId",
        "type",
        "job",
        "description",
        "id",
        "trigger",
        "parameters",
        "input",
        "pipeline",
        "user",
        "expression",
        "updateTs",
        "triggers",
        "ownerEmail",
        "email",
        "permissions",
        "artifacts",
        "waitTime",
        "judgmentInput",
    ]);
    leaf.prop_recursive(5, 40, 6, move |inner| {
        proptest::prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((keys.clone(), inner), 0..6).prop_map(|entries| {
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect(),
                )
            }),
        ]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_bodies_never_make_a_server_error() {
    let s = TestServer::start(Backend::Sqlite).await;
    s.create_application("shop").await;
    let routes = [
        "/gate/pipelines",
        "/gate/tasks",
        "/gate/pipelines/shop/P",
        "/gate/pipelines/start",
        "/gate/webhooks/webhook/ci",
        "/api/pipelines/save",
        "/api/applications/create",
        "/api/applications/update",
        "/api/executions/start",
        "/api/executions/judge",
        "/api/executions/evaluate",
    ];
    let cases: usize = std::env::var("TOPSAIL_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(40);
    let mut runner = TestRunner::deterministic();
    let strategy = body();
    for case in 0..cases {
        let value = strategy.new_tree(&mut runner).unwrap().current();
        let route = routes[case % routes.len()];
        let res = s
            .client
            .post(format!("{}{route}", s.base))
            .json(&value)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        assert!(status < 500, "{route} answered {status} to {value}: {text}");
    }
    let (code, _) = s.get("/healthz").await;
    assert_eq!(code, 200);
    s.stop().await;
}
