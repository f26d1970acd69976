use domain::AppError;
use domain::manifests::{MAX_DOCUMENTS, ManifestInput};
use serde_json::{Value, json};

use super::parse;

const WORKLOAD: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: dubbo-demo-service
  annotations:
    team.example.com/owner: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: dubbo}
  template:
    metadata:
      labels: {app: dubbo}
    spec:
      containers:
        - name: app
          image: registry.example.com/dubbo:1.0
          x-note: kept
          resources:
            requests: {cpu: 500m, memory: 1Gi}
            limits:
              cpu: 250m
              memory: 1GB
---
apiVersion: v1
kind: Service
metadata: {name: dubbo-demo-service}
spec:
  selector: {app: dubbo}
  ports: [{port: 20880}]
";

fn yaml(text: &str) -> domain::manifests::ParsedManifests {
    parse(ManifestInput::Yaml(text.to_owned())).unwrap()
}

#[test]
fn problems_show_on_their_field_and_line() {
    let parsed = yaml(WORKLOAD);
    assert_eq!(parsed.manifests.len(), 2);
    let shown: Vec<(usize, &str, Option<u32>)> = parsed
        .problems
        .iter()
        .map(|p| (p.document, p.path.as_str(), p.line))
        .collect();
    assert_eq!(
        shown,
        [
            (
                0,
                "spec.template.spec.containers[0].resources.limits.memory",
                Some(23)
            ),
            (
                0,
                "spec.template.spec.containers[0].resources.limits.cpu",
                Some(22)
            ),
        ],
        "{:?}",
        parsed.problems
    );
    assert!(
        parsed.problems[0]
            .message
            .contains("'1GB' is not a quantity")
    );
    assert_eq!(
        parsed.problems[1].message,
        "the limit (250m) is less than the request (500m)"
    );
}

#[test]
fn unknown_fields_and_annotations_are_kept_and_unknown_ones_warned_about() {
    let parsed = yaml(WORKLOAD);
    let workload = &parsed.manifests[0];
    assert_eq!(
        workload["metadata"]["annotations"]["team.example.com/owner"],
        json!("shop")
    );
    assert_eq!(
        workload["spec"]["template"]["spec"]["containers"][0]["x-note"],
        json!("kept")
    );
    let warnings: Vec<(&str, Option<u32>)> = parsed
        .warnings
        .iter()
        .map(|w| (w.path.as_str(), w.line))
        .collect();
    assert_eq!(
        warnings,
        [("spec.template.spec.containers[0].x-note", Some(18))]
    );
    // The same documents sent as JSON come back as they were sent.
    let again = parse(ManifestInput::Manifests(parsed.manifests.clone())).unwrap();
    assert_eq!(again.manifests, parsed.manifests);
    assert_eq!(again.problems.len(), 2);
    assert!(again.problems.iter().all(|p| p.line.is_none()));
}

#[test]
fn a_syntax_error_is_a_problem_on_its_line_and_document() {
    let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [b\n";
    let parsed = yaml(text);
    assert!(parsed.manifests.is_empty());
    assert_eq!(parsed.problems.len(), 1, "{:?}", parsed.problems);
    let problem = &parsed.problems[0];
    assert_eq!(problem.document, 1, "{problem:?}");
    assert!(problem.line.is_some_and(|l| l >= 8), "{problem:?}");
    assert!(
        problem.message.starts_with("not valid YAML: "),
        "{problem:?}"
    );
}

#[test]
fn comments_are_warned_about() {
    let parsed = yaml(
        "# the settings\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: '1'}\n",
    );
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    assert_eq!(parsed.warnings.len(), 1);
    assert!(
        parsed.warnings[0]
            .message
            .starts_with("comments are not kept")
    );
}

#[test]
fn what_cannot_be_taken_is_refused_naming_the_field() {
    let many = vec![
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}});
        MAX_DOCUMENTS + 1
    ];
    let field = |e: AppError| e.field_errors()[0].field.clone();
    assert_eq!(
        field(parse(ManifestInput::Manifests(many)).unwrap_err()),
        "manifests"
    );
    let big = format!(
        "data: '{}'\n",
        "x".repeat(domain::manifests::MAX_YAML_BYTES)
    );
    assert_eq!(field(parse(ManifestInput::Yaml(big)).unwrap_err()), "yaml");
    let mut deep = json!("leaf");
    for _ in 0..200 {
        deep = json!({ "a": deep });
    }
    let deep = parse(ManifestInput::Manifests(vec![deep])).unwrap_err();
    assert_eq!(field(deep), "manifests");
}

#[test]
fn a_document_that_is_not_a_mapping_is_a_problem() {
    let parsed = parse(ManifestInput::Manifests(vec![json!(["a"]), Value::Null])).unwrap();
    let documents: Vec<usize> = parsed.problems.iter().map(|p| p.document).collect();
    assert_eq!(documents, [0, 1]);
}

#[test]
fn rendered_yaml_reads_back_as_the_same_documents() {
    // Strings YAML would otherwise read as something else, keys with dots and slashes, nesting.
    let documents = vec![
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tricky",
            "annotations": {"team.example.com/owner": "pay", "x-empty": ""}},
            "data": {"yes": "yes", "number": "0x1F", "octal": "0o17", "float": "1e3", "inf": ".inf",
                "null": "null", "colon": "a: b", "hash": "a #b", "dash": "- x", "multi": "line 1\nline 2\n",
                "quote": "it's \"quoted\"", "spaces": " padded ", "unicode": "Überall ✓", "tilde": "~"}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 2, "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
                "template": {"spec": {"containers": [{"name": "web", "image": "${trigger.artifacts[0].reference}",
                    "args": [], "env": [{"name": "E", "value": "1"}], "x-build": {"nested": [[1, 2], {}]}}],
                    "volumes": [{"name": "logs", "emptyDir": {}}]}}}}),
    ];
    let text = super::yaml::render(&documents).unwrap();
    assert_eq!(text.matches("\n---\n").count(), 1, "{text}");
    let parsed = parse(ManifestInput::Yaml(text.clone())).unwrap();
    assert_eq!(parsed.manifests, documents, "{text}");
}

#[test]
fn configured_sidecar_templates_add_to_and_replace_the_built_in_ones() {
    use domain::manifests::sidecars::built_in;
    let mut filebeat = built_in().into_iter().find(|t| t.id == "filebeat").unwrap();
    filebeat.label = "Filebeat (our image)".into();
    let mut fluent = filebeat.clone();
    fluent.id = "fluent-bit".into();
    fluent.label = "Fluent Bit".into();
    let all = super::sidecar_templates(&[filebeat, fluent]);
    let labels: Vec<&str> = all.iter().map(|t| t.label.as_str()).collect();
    assert_eq!(labels, ["Filebeat (our image)", "Fluent Bit"]);
}
