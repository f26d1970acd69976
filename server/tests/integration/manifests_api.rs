//! The manifest editor's `manifests/parse` over HTTP, as the browser and scripts call it.

use crate::support;

use serde_json::json;
use support::{Backend, TestServer};

const YAML: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: dubbo-demo-service\nspec:\n  ports:\n    - port: 20880\n    - port: 70000\n      name: extra\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yaml_is_parsed_and_each_problem_placed_on_its_line() {
    let s = TestServer::start(Backend::Sqlite).await;

    let (status, parsed, _) = s.call("manifests/parse", json!({ "yaml": YAML })).await;
    assert_eq!(status, 200, "{parsed}");
    assert_eq!(parsed["manifests"][0]["spec"]["ports"][1]["port"], 70000);
    assert_eq!(
        parsed["problems"],
        json!([
            {"document": 0, "path": "spec.ports[0].name", "line": 7, "message": "is required when a Service has several ports"},
            {"document": 0, "path": "spec.ports[1].port", "line": 8, "message": "70000 is not a port (1 to 65535)"},
        ])
    );

    // The documents as JSON: the same problems, without lines.
    let (status, again, _) = s
        .call(
            "manifests/parse",
            json!({ "manifests": parsed["manifests"] }),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["problems"].as_array().unwrap().len(), 2);
    assert!(again["problems"][0].get("line").is_none());

    // A syntax error is an answer too: the problem on its line.
    let (status, broken, _) = s
        .call(
            "manifests/parse",
            json!({ "yaml": "kind: Service\nmetadata:\n  name: [x\n" }),
        )
        .await;
    assert_eq!(status, 200, "{broken}");
    assert_eq!(broken["manifests"], json!([]));
    assert!(
        broken["problems"][0]["line"]
            .as_u64()
            .is_some_and(|l| l >= 3),
        "{broken}"
    );

    // Input that is not one of the two forms is refused, naming the field.
    for args in [json!({}), json!({ "yaml": "a: 1", "manifests": [] })] {
        let (status, body, _) = s.call("manifests/parse", args).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["fields"][0]["field"], "yaml", "{body}");
    }

    // Nobody signed in: nothing is parsed.
    let anonymous = reqwest::Client::new()
        .post(format!("{}/api/manifests/parse", s.base))
        .json(&json!({ "yaml": YAML }))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_written_as_yaml_and_sidecar_templates_listed() {
    let s = TestServer::start(Backend::Sqlite).await;
    let documents = json!([
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"on": "yes"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "b"}, "spec": {"ports": [{"port": 80}]}},
    ]);
    let (status, rendered, _) = s
        .call("manifests/yaml", json!({ "manifests": documents }))
        .await;
    assert_eq!(status, 200, "{rendered}");
    let yaml = rendered["yaml"].as_str().unwrap();
    assert!(yaml.contains("\n---\n"), "{yaml}");
    let (_, parsed, _) = s.call("manifests/parse", json!({ "yaml": yaml })).await;
    assert_eq!(parsed["manifests"], documents);

    let too_many = vec![json!({"kind": "ConfigMap"}); domain::manifests::MAX_DOCUMENTS + 1];
    let (status, body, _) = s
        .call("manifests/yaml", json!({ "manifests": too_many }))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["fields"][0]["field"], "manifests", "{body}");

    let (status, templates, _) = s.call("manifests/sidecars", json!({})).await;
    assert_eq!(status, 200, "{templates}");
    assert_eq!(templates[0]["id"], "filebeat");
    assert_eq!(templates[0]["volume"]["name"], "app-logs");
    s.stop().await;
}
