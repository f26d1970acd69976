//! Property tests over what users hand Topsail: expressions (parsed and evaluated), pipeline
//! JSON (validated), manifest YAML (parsed) and webhook payloads (matched against triggers).
//! Each runs a fixed number of generated cases in `./x test` — `TOPSAIL_FUZZ_CASES=<n>` runs
//! more — and asserts that nothing panics and every result stays within its limits. The inputs
//! issue 13 reported are kept below as regression cases.

use std::sync::LazyLock;

use domain::execution::Execution;
use domain::pipeline::PipelineDocument;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use server::events::intake::TriggerEvent;
use server::events::triggers::WebhookReceived;
use server::orchestration::expressions::{ExpressionLimits, Scope, evaluate, evaluate_all};
use server::orchestration::stages::manifests_from_yaml;

fn cases(default: u32) -> u32 {
    std::env::var("TOPSAIL_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn config(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Any JSON, keys drawn partly from what pipelines and triggers use.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "[ -~]{0,12}".prop_map(Value::String),
        "\\$\\{[ -~]{0,16}\\}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "stages",
            "refId",
            "type",
            "name",
            "requisiteStageRefIds",
            "triggers",
            "waitTime",
            "application",
            "parameters",
            "expectedArtifacts",
            "notifications",
            "stageEnabled",
            "manifests",
            "account",
            "source",
            "payloadConstraints",
            "url",
            "customHeaders",
            "judgmentInputs",
            "pipeline",
            "job",
            "id",
            "updateTs",
            "parameterConfig",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z.]{1,8}",
    ]
}

static EXECUTION: LazyLock<Execution> = LazyLock::new(|| {
    serde_json::from_value(json!({
        "id": "e1", "application": "shop", "pipelineConfigId": "p", "name": "Deploy",
        "status": "RUNNING", "buildTime": 0, "startTime": 0, "endTime": null,
        "trigger": {"type": "manual", "user": "ann", "parameters": {"tag": "1.2.3", "n": 3, "list": ["a", "b"]}},
        "stages": [{"id": "s1", "refId": "1", "type": "wait", "name": "Build", "status": "SUCCEEDED",
            "requisiteStageRefIds": [], "context": {"customHeaders": {"Authorization": "Bearer t"}},
            "outputs": {"buildInfo": {"number": 7}}, "startTime": 1, "endTime": 2, "tasks": []}],
        "canceled": false, "canceledBy": null, "cancellationReason": null
    }))
    .unwrap()
});

/// Expressions made of the grammar's own pieces (and then some), so most of them parse.
fn expression() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "trigger",
        "parameters",
        "execution",
        "stages",
        "context",
        "outputs",
        "tag",
        "n",
        "list",
        ".",
        "?.",
        "[",
        "]",
        "(",
        ")",
        "{",
        "}",
        ",",
        "'a'",
        "'x,y'",
        "''",
        "'",
        "0",
        "1",
        "-1",
        "2.5",
        "+",
        "-",
        "*",
        "/",
        "%",
        "==",
        "!=",
        "<",
        ">=",
        "&&",
        "||",
        "!",
        "?",
        ":",
        "?:",
        "and",
        "or",
        "not",
        "true",
        "null",
        "#stage('Build')",
        "#toJson",
        "#readJson",
        "#currentStage()",
        "#judgment('x')",
        "#alphanumerical",
        "toUpperCase()",
        "replace('', 'xyzxyzxyzxyz')",
        "split('')",
        "split(',')",
        "size()",
        "length()",
        "substring(1, 2)",
        "contains('a')",
        "get('tag')",
        "toString()",
        "T(",
        "new ",
        "@",
        " ",
    ]);
    prop_oneof![
        proptest::collection::vec(token, 0..40).prop_map(|t| t.concat()),
        "[ -~]{0,60}",
    ]
}

fn within_limits(value: &Value) {
    let limits = ExpressionLimits::default();
    let size = match value {
        Value::String(s) => s.len(),
        other => other.to_string().len(),
    };
    assert!(size <= limits.max_result_bytes, "a result of {size} bytes");
}

proptest! {
    #![proptest_config(config(2_000))]

    #[test]
    fn expressions_never_panic_and_stay_within_their_limits(text in expression()) {
        let scope = Scope::new(&EXECUTION, EXECUTION.stages.first());
        if let Ok(value) = evaluate(&text, &scope) {
            within_limits(&value);
        }
        let (out, _) = evaluate_all(&json!({"f": format!("x${{{text}}}y")}), &scope);
        within_limits(&out["f"]);
    }
}

proptest! {
    #![proptest_config(config(500))]

    #[test]
    fn pipeline_validation_never_panics(
        stages in proptest::collection::vec(json_value(), 0..5),
        extra in proptest::collection::vec((key(), json_value()), 0..5),
    ) {
        let mut document: Map<String, Value> = extra.into_iter().collect();
        document.insert("application".into(), json!("shop"));
        document.insert("name".into(), json!("P"));
        document.insert("stages".into(), Value::Array(stages));
        let _ = PipelineDocument::from(document).validate();
    }

    #[test]
    fn any_json_as_a_whole_pipeline_is_validated_without_panic(value in json_value()) {
        if let Ok(document) = PipelineDocument::from_value(value) {
            let _ = document.validate();
        }
    }

    #[test]
    fn manifest_yaml_never_panics(text in "[ -~\n\t]{0,200}") {
        if let Ok(documents) = manifests_from_yaml(&text) {
            for d in documents {
                prop_assert!(domain::json_depth::depth(&d) <= domain::json_depth::MAX_INPUT_DEPTH);
            }
        }
    }

    #[test]
    fn webhook_payloads_match_triggers_without_panic(
        payload in json_value(),
        constraints in proptest::collection::vec((key(), "[ -~]{0,10}"), 0..4),
    ) {
        let trigger: Map<String, Value> = json!({"type": "webhook", "source": "ci", "enabled": true,
            "payloadConstraints": constraints.into_iter().map(|(k, v)| (k, Value::String(v))).collect::<Map<String, Value>>()})
            .as_object()
            .cloned()
            .unwrap();
        let pipeline = PipelineDocument::from_value(json!({"application": "shop", "name": "P", "stages": []})).unwrap();
        let event = WebhookReceived { source: "ci".into(), payload, delivery: String::new() };
        let _ = event.fire(&pipeline, &trigger);
    }
}

/// The inputs issue 13 reported, kept as regression cases.
#[test]
fn reported_inputs_are_refused_with_the_limit_they_hit() {
    let scope = Scope::new(&EXECUTION, None);
    let blow_up = format!("'aaaaaaaaaa'{}", ".replace('','aaaaaaaaaa')".repeat(7));
    let err = evaluate(&blow_up, &scope).unwrap_err();
    assert!(err.contains("expressions.max_result_bytes"), "{err}");
    // Splitting what a small replace made stays well within the limits.
    let parts = "'x'.replace('', 'xxxxxxxxxxxxxxxxxxxxxxxxxx').split('')";
    assert_eq!(
        evaluate(parts, &scope).map(|v| v.as_array().map(Vec::len)),
        Ok(Some(55))
    );
    let yaml_bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    assert!(
        manifests_from_yaml(yaml_bomb).is_err(),
        "aliases are bounded"
    );
    let deep_yaml = format!("{}x{}", "[".repeat(100), "]".repeat(100));
    assert!(manifests_from_yaml(&deep_yaml).is_err());
    let deep_stage = {
        let mut v = json!(1);
        for _ in 0..100 {
            v = json!([v]);
        }
        v
    };
    let document = PipelineDocument::from_value(json!({"application": "shop", "name": "P",
        "stages": [{"refId": "1", "type": "wait", "name": "W", "waitTime": 1, "deep": deep_stage}]}))
    .unwrap();
    assert!(
        document
            .validate()
            .iter()
            .any(|p| p.message.contains("nests deeper than 64 levels"))
    );
}
