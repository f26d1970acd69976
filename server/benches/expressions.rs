//! The cost of `${…}` expressions as the engine pays it when a stage starts: building the scope
//! over the execution and evaluating each expression, for a typical execution (a small trigger,
//! ten stages) and for one whose trigger carries 1.8 MB (a large webhook payload); plus the
//! blow-up expressions of issue 13, which must be refused quickly.
//!
//! Run with `./x bench` (release). Results go to BENCHMARKS.md.

use std::time::{Duration, Instant};

use domain::execution::{Execution, Stage, Status};
use serde_json::json;
use server::orchestration::expressions::{Scope, evaluate};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{what}: p50 {:?}  p99 {:?}  max {:?}  ({} runs)",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples.last().unwrap(),
        samples.len()
    );
}

fn stage(i: usize) -> Stage {
    let context = json!({
        "account": "test",
        "namespace": "shop-test",
        "manifests": [{"kind": "Deployment", "metadata": {"name": format!("shop-{i}")},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [
                {"name": "app", "image": "registry.local/shop:${trigger.parameters.tag}"}]}}}}],
    });
    Stage {
        id: format!("s{i}").into(),
        ref_id: i.to_string(),
        stage_type: if i == 0 { "jenkins" } else { "deployManifest" }.into(),
        name: if i == 0 {
            "Build".to_owned()
        } else {
            format!("Deploy {i}")
        },
        status: Status::Succeeded,
        requisite_stage_ref_ids: if i == 0 {
            vec![]
        } else {
            vec![(i - 1).to_string()]
        },
        context: context.as_object().cloned().unwrap(),
        outputs: json!({"buildInfo": {"number": 42, "result": "SUCCESS"}})
            .as_object()
            .cloned()
            .unwrap(),
        start_time: Some(1),
        end_time: Some(2),
        tasks: vec![],
    }
}

fn execution(trigger_payload_bytes: usize) -> Execution {
    Execution {
        id: "01BENCH".into(),
        application: "shop".into(),
        pipeline_config_id: Some("p-1".into()),
        name: "Deploy".into(),
        status: Status::Running,
        build_time: 0,
        start_time: Some(0),
        end_time: None,
        trigger: json!({"type": "webhook", "user": "alice",
            "parameters": {"tag": "1.4.2", "env": "Prod", "replicas": 3},
            "payload": {"blob": "x".repeat(trigger_payload_bytes)}}),
        stages: (0..10).map(stage).collect(),
        canceled: false,
        canceled_by: None,
        cancellation_reason: None,
        limit_concurrent: false,
        keep_waiting_pipelines: false,
        notifications: vec![],
        notification_deliveries: vec![],
    }
}

const TYPICAL: &[&str] = &[
    "trigger.parameters.tag",
    "parameters.env.toLowerCase() + '-' + parameters.tag",
    "#stage('Build').outputs.buildInfo.number",
    "execution.stages.size() > 2 ? 'many' : 'few'",
    "#stage('Deploy 3').context.manifests[0].metadata.name",
];

/// Builds the scope and evaluates the typical expressions once each, as a stage start does.
fn stage_start(execution: &Execution) -> Duration {
    let started = Instant::now();
    let scope = Scope::new(execution, execution.stages.last());
    for text in TYPICAL {
        let value = evaluate(text, &scope).expect(text);
        std::hint::black_box(value);
    }
    started.elapsed()
}

fn main() {
    for (what, bytes, runs) in [
        ("typical execution (trigger 0.1 KB, 10 stages)", 100, 2_000),
        ("large trigger (1.8 MB payload, 10 stages)", 1_800_000, 40),
    ] {
        let execution = execution(bytes);
        let samples = (0..runs).map(|_| stage_start(&execution)).collect();
        report(
            &format!("{what}: scope + {} expressions", TYPICAL.len()),
            samples,
        );
    }
    // One expression over the large execution, many times over (the debugger, a long template).
    let execution = execution(1_800_000);
    let scope = Scope::new(&execution, None);
    let text = std::iter::repeat_n("trigger.parameters.tag", 150)
        .collect::<Vec<_>>()
        .join(" + ");
    let started = Instant::now();
    let result = evaluate(&text, &scope);
    println!(
        "150 root reads over the 1.8 MB execution ({} characters): {:?} ({})",
        text.len(),
        started.elapsed(),
        if result.is_ok() { "ok" } else { "refused" }
    );
    let blow_up = format!("'aaaaaaaaaa'{}", ".replace('','aaaaaaaaaa')".repeat(7));
    let started = Instant::now();
    let result = evaluate(&blow_up, &scope);
    println!(
        "blow-up expression ({} characters): {:?} ({})",
        blow_up.len(),
        started.elapsed(),
        match result {
            Ok(_) => "evaluated".to_owned(),
            Err(e) => format!("refused: {e}"),
        }
    );
}
