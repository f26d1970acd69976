use super::*;
use domain::execution::Status;
use serde_json::json;

fn stage(ref_id: &str, name: &str, stage_type: &str, context: Value, outputs: Value) -> Stage {
    Stage {
        id: format!("s{ref_id}").into(),
        ref_id: ref_id.into(),
        stage_type: stage_type.into(),
        name: name.into(),
        status: Status::Succeeded,
        requisite_stage_ref_ids: vec![],
        context: context.as_object().cloned().unwrap_or_default(),
        outputs: outputs.as_object().cloned().unwrap_or_default(),
        start_time: None,
        end_time: None,
        tasks: vec![],
    }
}

fn execution() -> Execution {
    Execution {
        id: "exec-1".into(),
        application: "shop".into(),
        pipeline_config_id: Some("p-1".into()),
        name: "Deploy".into(),
        status: Status::Running,
        build_time: 0,
        start_time: Some(0),
        end_time: None,
        trigger: json!({"type": "manual", "user": "alice", "parameters": {"branch": "Main", "replicas": 3, "tags": ["a", "b"]}}),
        stages: vec![
            stage(
                "1",
                "Build",
                "jenkins",
                json!({"IMAGE_TAG": "1.2.3"}),
                json!({"buildInfo": {"number": 42}}),
            ),
            stage(
                "2",
                "Verify",
                "manualJudgment",
                json!({"judgmentInput": "promote"}),
                json!({}),
            ),
        ],
        canceled: false,
        canceled_by: None,
        cancellation_reason: None,
        limit_concurrent: false,
        keep_waiting_pipelines: false,
        notifications: vec![],
        notification_deliveries: vec![],
    }
}

fn eval(text: &str) -> Result<Value, String> {
    let e = execution();
    let current = e.stages[1].clone();
    evaluate(text, &Scope::new(&e, Some(&current)))
}

#[test]
fn property_index_and_parameter_access() {
    assert_eq!(eval("trigger.parameters.branch"), Ok(json!("Main")));
    assert_eq!(eval("parameters.replicas"), Ok(json!(3)));
    assert_eq!(eval("parameters['tags'][1]"), Ok(json!("b")));
    assert_eq!(eval("execution.id"), Ok(json!("exec-1")));
    assert_eq!(eval("trigger.user"), Ok(json!("alice")));
    assert_eq!(eval("parameters['missing']"), Ok(Value::Null));
    assert_eq!(
        eval("parameters.missing"),
        Err("no property 'missing'".into())
    );
    assert_eq!(
        eval("parameters.missing?.deeper"),
        Err("no property 'missing'".into())
    );
    assert_eq!(eval("trigger?.nothing"), Ok(Value::Null));
}

#[test]
fn operators_follow_spel() {
    assert_eq!(eval("parameters.replicas * 2 + 1"), Ok(json!(7)));
    assert_eq!(eval("(1 + 2) * 3 == 9 && !false"), Ok(json!(true)));
    assert_eq!(
        eval("parameters.replicas > 2 and parameters.branch != 'dev'"),
        Ok(json!(true))
    );
    assert_eq!(
        eval("parameters.replicas >= 4 or not true"),
        Ok(json!(false))
    );
    assert_eq!(
        eval("parameters.branch == 'Main' ? 'prod' : 'test'"),
        Ok(json!("prod"))
    );
    assert_eq!(
        eval("parameters['nope'] ?: 'fallback'"),
        Ok(json!("fallback"))
    );
    assert_eq!(eval("'v' + parameters.replicas"), Ok(json!("v3")));
    assert_eq!(eval("7 / 2"), Ok(json!(3)));
    assert_eq!(eval("7 % 0"), Err("division by zero".into()));
    assert_eq!(eval("'it''s'"), Ok(json!("it's")));
    assert_eq!(eval("{1, 2, 3}.size()"), Ok(json!(3)));
    assert_eq!(eval("-parameters.replicas"), Ok(json!(-3)));
    assert!(
        eval("parameters.replicas && true")
            .unwrap_err()
            .contains("expected true or false")
    );
}

#[test]
fn allowlisted_methods() {
    assert_eq!(eval("parameters.branch.toLowerCase()"), Ok(json!("main")));
    assert_eq!(
        eval("parameters.branch.toUpperCase().startsWith('MA')"),
        Ok(json!(true))
    );
    assert_eq!(eval("'a,b,c'.split(',')[2]"), Ok(json!("c")));
    assert_eq!(eval("' x '.trim().length()"), Ok(json!(1)));
    assert_eq!(eval("'release-1.2'.substring(8)"), Ok(json!("1.2")));
    assert_eq!(
        eval("'release-1.2'.replace('-', '/')"),
        Ok(json!("release/1.2"))
    );
    assert_eq!(
        eval("parameters.tags.contains('a') && !parameters.tags.isEmpty()"),
        Ok(json!(true))
    );
    assert_eq!(
        eval("parameters.replicas.toString() + 'x'"),
        Ok(json!("3x"))
    );
    assert_eq!(
        eval("'abc'.endsWith('c') && 'abc'.contains('b')"),
        Ok(json!(true))
    );
    assert_eq!(
        eval("parameters.branch.getBytes()"),
        Err("method 'getBytes' is not allowed on a string".into())
    );
}

#[test]
fn helper_functions() {
    assert_eq!(
        eval("#stage('Build')['context']['IMAGE_TAG']"),
        Ok(json!("1.2.3"))
    );
    assert_eq!(
        eval("#stage('Build').outputs.buildInfo.number"),
        Ok(json!(42))
    );
    assert_eq!(eval("#stageByRefId('1').name"), Ok(json!("Build")));
    assert_eq!(eval("#judgment('Verify')"), Ok(json!("promote")));
    assert_eq!(eval("#currentStage().name"), Ok(json!("Verify")));
    assert_eq!(eval("#toJson(parameters.tags)"), Ok(json!("[\"a\",\"b\"]")));
    assert_eq!(
        eval("#alphanumerical('feature/ABC-12')"),
        Ok(json!("featureABC12"))
    );
    assert_eq!(eval("#readJson('{\"a\": [1]}').a[0]"), Ok(json!(1)));
    assert_eq!(eval("#trigger.user"), Ok(json!("alice")));
    assert_eq!(eval("#stage('Nope')"), Err("no stage named 'Nope'".into()));
    assert_eq!(eval("#exec('x')"), Err("unknown function #exec".into()));
}

#[test]
fn injection_payloads_from_the_advisories_are_refused() {
    let cases = [
        (
            "T(java.lang.Runtime).getRuntime().exec('id')",
            "type references (T(...)) are not allowed",
        ),
        (
            "T (java.lang.System).getenv()",
            "type references (T(...)) are not allowed",
        ),
        (
            "new java.lang.ProcessBuilder({'id'}).start()",
            "creating objects (new ...) is not allowed",
        ),
        (
            "@environment.getProperty('x')",
            "bean references (@...) are not allowed",
        ),
        (
            "''.getClass().forName('java.lang.Runtime')",
            "class access is not allowed",
        ),
        ("parameters.class", "class access is not allowed"),
        ("''.class.classLoader", "class access is not allowed"),
        (
            "#fromUrl('http://169.254.169.254/latest/meta-data')",
            "reading URLs is not allowed",
        ),
        (
            "#jsonFromUrl('file:///etc/passwd')",
            "reading URLs is not allowed",
        ),
        (
            "#propertiesFromUrl('http://x')",
            "reading URLs is not allowed",
        ),
        ("#this.getClass()", "class access is not allowed"),
        ("#root", "#this and #root are not available"),
    ];
    for (payload, message) in cases {
        let got = eval(payload).unwrap_err();
        assert!(
            got == message || (message.contains("class") && got.contains("class")),
            "{payload}: {got}"
        );
    }
    // The same words inside text are harmless.
    assert_eq!(
        eval("'T(x) and new things @ home'"),
        Ok(json!("T(x) and new things @ home"))
    );
}

#[test]
fn evaluation_is_bounded() {
    let deep = format!("{}1{}", "(".repeat(40), ")".repeat(40));
    assert!(eval(&deep).unwrap_err().contains("nests deeper"));
    let long = "1+".repeat(3000) + "1";
    assert!(eval(&long).unwrap_err().contains("longer than"));
    let doubling = "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' + 'x'";
    assert!(eval(doubling).is_ok());
    let big = format!("'{}' + '{}'", "x".repeat(2000), "y".repeat(2000));
    assert_eq!(eval(&big).unwrap().as_str().unwrap().len(), 4000);
    assert!(
        eval("1 +").unwrap_err().contains("expression")
            || eval("1 +").unwrap_err().contains("unexpected")
    );
}

#[test]
fn templates_keep_types_and_report_failures_by_field() {
    let e = execution();
    let scope = Scope::new(&e, None);
    let config = json!({
        "replicas": "${parameters.replicas}",
        "image": "shop:${#stage('Build').context.IMAGE_TAG}",
        "labels": {"branch": "${parameters.branch.toLowerCase()}"},
        "broken": "${parameters.nothing}",
        "plain": "no expressions",
        "list": ["${1 + 1}", "x"]
    });
    let (out, failures) = evaluate_all(&config, &scope);
    assert_eq!(out["replicas"], json!(3));
    assert_eq!(out["image"], json!("shop:1.2.3"));
    assert_eq!(out["labels"]["branch"], json!("main"));
    assert_eq!(out["broken"], json!("${parameters.nothing}"));
    assert_eq!(out["list"], json!([2, "x"]));
    assert_eq!(
        failures,
        vec![ExpressionFailure {
            field: "broken".into(),
            expression: "${parameters.nothing}".into(),
            reason: "no property 'nothing'".into()
        }]
    );
    let (_, unclosed) = evaluate_all(&json!({"x": "${oops"}), &scope);
    assert_eq!(unclosed[0].reason, "unclosed ${");
    let (nested, none) = evaluate_all(&json!("${ {1,2}.size() }"), &scope);
    assert_eq!((nested, none.len()), (json!(2), 0));
}

fn eval_with(text: &str, limits: ExpressionLimits) -> Result<Value, String> {
    let e = execution();
    evaluate(text, &Scope::with_limits(&e, None, limits))
}

#[test]
fn growth_is_refused_before_it_is_built_and_names_the_limit() {
    let blow_up = format!("'aaaaaaaaaa'{}", ".replace('','aaaaaaaaaa')".repeat(7));
    let err = eval(&blow_up).unwrap_err();
    assert_eq!(
        err,
        "the result would be larger than 262144 bytes (expressions.max_result_bytes)"
    );
    let small = ExpressionLimits {
        max_result_bytes: 100,
        ..ExpressionLimits::default()
    };
    for grows in [
        "'x'.replace('', 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy')",
        "'abcdefghijklmnopqrstuvwxyz0123456789abcdefghij'.toUpperCase()",
        "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' + 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'",
        "#toJson({'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 'c'})",
        "{'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'}.toString()",
        "'a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a'.split(',')",
    ] {
        let err = eval_with(grows, small).unwrap_err();
        assert!(
            err.contains("expressions.max_result_bytes"),
            "{grows}: {err}"
        );
    }
    // Within the limit the same operations work.
    assert_eq!(
        eval_with("'ab'.replace('', '-')", small),
        Ok(json!("-a-b-"))
    );
}

#[test]
fn steps_and_time_are_bounded() {
    let few_steps = ExpressionLimits {
        max_steps: 10,
        ..ExpressionLimits::default()
    };
    let err = eval_with("1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1", few_steps).unwrap_err();
    assert_eq!(
        err,
        "the expression takes more than 10 steps (expressions.max_steps)"
    );
    // Building text costs a step per KiB: 32 KiB through two case changes is 64+ steps.
    let grown = "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'.replace('x', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx').replace('x', 'xxxxxxxxxxxxxxxx').toUpperCase().toLowerCase()";
    let err = eval_with(
        grown,
        ExpressionLimits {
            max_steps: 40,
            ..ExpressionLimits::default()
        },
    )
    .unwrap_err();
    assert!(err.contains("expressions.max_steps"), "{err}");
    let no_time = ExpressionLimits {
        timeout_ms: 0,
        ..ExpressionLimits::default()
    };
    let long_walk = std::iter::repeat_n("parameters.replicas", 100)
        .collect::<Vec<_>>()
        .join(" + ");
    assert_eq!(
        eval_with(&long_walk, no_time),
        Err("the expression takes longer than 0 ms (expressions.timeout_ms)".into())
    );
}

#[test]
fn roots_show_what_the_api_shows() {
    let mut e = execution();
    e.stages[0].context.insert(
        "customHeaders".into(),
        json!({"Authorization": "Bearer s3cret", "X-Trace": "on"}),
    );
    e.trigger["callback"] = json!("https://bot:hunter2@hooks.example/done");
    let scope = Scope::new(&e, None);
    let header = evaluate(
        "#stage('Build').context.customHeaders.Authorization",
        &scope,
    );
    assert_ne!(header, Ok(json!("Bearer s3cret")));
    assert_eq!(
        evaluate("#stage('Build').context.customHeaders['X-Trace']", &scope),
        Ok(json!("on"))
    );
    let url = evaluate("trigger.callback", &scope).unwrap();
    assert!(!url.as_str().unwrap().contains("hunter2"), "{url}");
    let whole = evaluate("#toJson(execution)", &scope).unwrap();
    assert!(!whole.as_str().unwrap().contains("s3cret"));
}

#[test]
fn a_large_trigger_is_read_in_place() {
    let mut e = execution();
    e.trigger["payload"] = json!({"blob": "x".repeat(2 * 1024 * 1024)});
    let scope = Scope::new(&e, None);
    // Reading around the large value is cheap, many times over.
    let reads = std::iter::repeat_n("trigger.parameters.branch", 120)
        .collect::<Vec<_>>()
        .join(" + ");
    assert_eq!(
        evaluate(&reads, &scope).unwrap().as_str().unwrap().len(),
        120 * 4
    );
    // The large value itself is more than a result may be.
    assert!(
        evaluate("trigger.payload.blob", &scope)
            .unwrap_err()
            .contains("expressions.max_result_bytes")
    );
    assert_eq!(
        evaluate("trigger.payload.blob.length()", &scope),
        Ok(json!(2 * 1024 * 1024))
    );
}
