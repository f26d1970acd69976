use serde_json::{Value, json};

use super::*;
use crate::parse_deploy_targets;

const HOUR: i64 = 3_600_000;
const T0: i64 = 1_796_000_000_000;

fn stage(
    ref_id: &str,
    stage_type: &str,
    status: &str,
    end_hours: i64,
    context: Value,
    outputs: Value,
) -> Value {
    json!({"id": format!("s{ref_id}"), "refId": ref_id, "type": stage_type, "name": stage_type, "status": status,
        "requisiteStageRefIds": [], "context": context, "outputs": outputs,
        "startTime": T0 + end_hours * HOUR - 60_000, "endTime": T0 + end_hours * HOUR, "tasks": []})
}

fn deployed(namespace: &str, image: &str) -> Value {
    json!({"deploy.account.name": "k8s", "outputs.manifests": [{"kind": "Deployment",
        "metadata": {"name": "shop", "namespace": namespace},
        "spec": {"template": {"spec": {"containers": [{"name": "main", "image": image}]}}}}]})
}

/// The seed flow as it ran: a build, a deploy to test, a judgment, a deploy to prod.
fn seed_run(id: &str, start_hours: i64, digest: &str, judged_by: &str) -> Execution {
    let image = format!("registry/shop@sha256:{digest}");
    serde_json::from_value(json!({
        "id": id, "application": "shop", "pipelineConfigId": "p1", "name": "deliver", "status": "SUCCEEDED",
        "buildTime": T0 + start_hours * HOUR, "startTime": T0, "endTime": T0, "canceled": false,
        "canceledBy": null, "cancellationReason": null,
        "trigger": {"type": "manual", "user": "ann"},
        "stages": [
            stage("1", "jenkins", "SUCCEEDED", start_hours,
                json!({"job": "shop/build", "parameters": {"BRANCH": "main"}}),
                json!({"buildInfo": {"number": 41, "url": "http://ci/job/shop/41/", "timestamp": T0 + (start_hours - 1) * HOUR, "duration": 600_000},
                       "GIT_COMMIT": "9f1c2e", "IMAGE_REF": image})),
            stage("2", "deployManifest", "SUCCEEDED", start_hours + 1, json!({"account": "k8s"}), deployed("shop-test", &image)),
            stage("3", "manualJudgment", "SUCCEEDED", start_hours + 2, json!({"judgmentStatus": "continue"}), json!({"judgedBy": judged_by})),
            stage("4", "deployManifest", "SUCCEEDED", start_hours + 3, json!({"account": "k8s"}), deployed("shop-prod", &image)),
        ]
    }))
    .unwrap()
}

#[test]
fn a_seed_run_is_two_deploys_with_their_build_and_approver() {
    let targets = parse_deploy_targets("k8s/shop-test\nk8s/shop-prod").unwrap();
    let events = deploy_events(&[seed_run("e1", 0, "aa", "bob")], &targets);
    assert_eq!(events.len(), 2);
    let (test, prod) = (&events[0], &events[1]);
    assert_eq!(
        (test.environment.as_str(), prod.environment.as_str()),
        ("test", "prod")
    );
    assert_eq!(
        test.approved_by, None,
        "nobody judged before the test deploy"
    );
    assert_eq!(prod.approved_by.as_deref(), Some("bob"));
    assert_eq!(prod.build, "sha256:aa");
    assert_eq!(prod.location, "k8s/shop-prod");
    let source = prod.source.as_ref().unwrap();
    assert_eq!(
        (
            source.job.as_str(),
            source.number,
            source.commit.as_str(),
            source.branch.as_str()
        ),
        ("shop/build", 41, "9f1c2e", "main")
    );
    assert_eq!(
        source.finished.unwrap().timestamp_millis(),
        T0 - HOUR + 600_000,
        "the build's start plus its duration"
    );
}

#[test]
fn each_build_has_one_path_newest_first() {
    let targets = parse_deploy_targets("k8s/shop-test\nk8s/shop-prod").unwrap();
    let mut second = seed_run("e2", 10, "bb", "carol");
    // The second build's run stopped at the judgment: it reached test only.
    second.stages.truncate(3);
    second.stages[2].status = Status::Terminal;
    let events = deploy_events(&[seed_run("e1", 0, "aa", "bob"), second], &targets);
    let paths = image_paths(&events);
    assert_eq!(paths.len(), 2);
    assert_eq!(paths[0].build, "sha256:bb");
    assert_eq!(
        paths[0]
            .arrivals
            .iter()
            .map(|a| a.environment.as_str())
            .collect::<Vec<_>>(),
        ["test"]
    );
    assert_eq!(
        paths[1]
            .arrivals
            .iter()
            .map(|a| a.environment.as_str())
            .collect::<Vec<_>>(),
        ["test", "prod"]
    );
    assert_eq!(paths[1].arrivals[1].approved_by.as_deref(), Some("bob"));
    let builds = deployed_builds(&events);
    assert_eq!(builds.len(), 3);
    assert_eq!(builds[2].build, "sha256:bb");
}

#[test]
fn failed_deploys_and_rollbacks_are_kept_and_running_ones_are_not() {
    let mut run = seed_run("e1", 0, "aa", "bob");
    run.stages[3].status = Status::Terminal;
    run.stages.push(
        serde_json::from_value(stage(
            "5",
            "undoRolloutManifest",
            "SUCCEEDED",
            5,
            json!({"account": "k8s", "location": "shop-prod", "manifestName": "deployment shop"}),
            json!({}),
        ))
        .unwrap(),
    );
    run.stages.push(
        serde_json::from_value(stage(
            "6",
            "deployManifest",
            "RUNNING",
            6,
            json!({"account": "k8s"}),
            json!({}),
        ))
        .unwrap(),
    );
    let events = deploy_events(&[run], &[]);
    let kinds: Vec<(DeployKind, bool, &str)> = events
        .iter()
        .map(|e| (e.kind, e.succeeded, e.environment.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (DeployKind::Deploy, true, "test"),
            (DeployKind::Deploy, false, "prod"),
            (DeployKind::Rollback, true, "prod")
        ],
        "without targets the environment comes from the namespace"
    );
    assert_eq!(
        deployed_builds(&events).len(),
        1,
        "only succeeded deploys reached anywhere"
    );
}

#[test]
fn images_are_read_wherever_the_kind_keeps_its_pod_spec() {
    let cron = json!({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "a"}]}}}}}});
    let pod = json!({"kind": "Pod", "spec": {"initContainers": [{"image": "init"}], "containers": [{"image": "a"}, {"image": "a"}]}});
    assert_eq!(images_in(&cron), ["a"]);
    assert_eq!(images_in(&pod), ["init", "a"]);
    assert_eq!(
        build_of(&["b:2".into(), "a@sha256:1".into(), "b:2".into()]),
        "b:2 sha256:1"
    );
}
