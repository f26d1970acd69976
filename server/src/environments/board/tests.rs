use serde_json::json;

use super::*;
use crate::kubernetes::operations::{MONIKER_APPLICATION, record_origin};

fn key(account: &str, kind: &str, namespace: &str, name: &str) -> CacheKey {
    CacheKey {
        account: account.into(),
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
    }
}

fn meta(name: &str, namespace: &str, uid: &str, owner: Option<&str>) -> Value {
    let mut m = json!({"name": name, "namespace": namespace, "uid": uid,
        "annotations": {MONIKER_APPLICATION: "shop"}});
    if let Some(o) = owner {
        m["ownerReferences"] = json!([{"uid": o, "controller": true}]);
    }
    m
}

/// A Deployment with its ReplicaSet and pods, as the cache holds them after a rollout.
fn deployment(
    namespace: &str,
    image: &str,
    ready: i64,
    waiting: Option<&str>,
) -> Vec<(CacheKey, Arc<Value>)> {
    let d_uid = format!("{namespace}-d");
    let rs_uid = format!("{namespace}-rs");
    let mut d = json!({"metadata": meta("shop", namespace, &d_uid, None),
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "main", "image": image}]}}},
        "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": ready, "availableReplicas": ready,
            "conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}});
    d["metadata"]["generation"] = json!(1);
    let mut objects = vec![(key("k8s", "Deployment", namespace, "shop"), d)];
    let mut rs = json!({"metadata": meta("shop-1", namespace, &rs_uid, Some(&d_uid)), "spec": {"replicas": 2}});
    rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = json!("1");
    objects.push((key("k8s", "ReplicaSet", namespace, "shop-1"), rs));
    for i in 0..2 {
        let name = format!("shop-1-{i}");
        let state = match waiting {
            Some(reason) if i == 0 => json!({"waiting": {"reason": reason}}),
            _ => json!({"running": {}}),
        };
        objects.push((
            key("k8s", "Pod", namespace, &name),
            json!({"metadata": meta(&name, namespace, &name, Some(&rs_uid)),
                "spec": {"containers": [{"name": "main", "image": image}]},
                "status": {"phase": "Running", "containerStatuses": [{"name": "main", "image": image,
                    "imageID": format!("docker-pullable://{image}@{}", digest_of(image)), "restartCount": 3, "state": state}]}}),
        ));
    }
    objects.into_iter().map(|(k, v)| (k, Arc::new(v))).collect()
}

/// A digest for each image (what the pods report they pulled).
fn digest_of(image: &str) -> String {
    let hex: String = image.bytes().map(|b| format!("{:x}", b % 16)).collect();
    format!("sha256:{hex}")
}

fn app(targets: &str) -> Application {
    Application {
        name: "shop".into(),
        description: String::new(),
        owner_email: "team@example.com".into(),
        team: "payments".into(),
        created_at: chrono::Utc::now(),
        created_by: "ann".into(),
        updated_at: chrono::Utc::now(),
        updated_by: "ann".into(),
        deploy_targets: domain::parse_deploy_targets(targets).unwrap(),
        permissions: domain::Permissions::default(),
    }
}

#[test]
fn each_environment_shows_its_workloads_images_and_health() {
    let mut objects = deployment("shop-test", "registry/shop:1.1", 2, None);
    objects.extend(deployment(
        "shop-prod",
        "registry/shop:1.0",
        1,
        Some("CrashLoopBackOff"),
    ));
    let grouped = group_by_application([("k8s".to_owned(), objects)], None);
    let row = row(
        &app("k8s/shop-test\nk8s/shop-prod"),
        grouped.get("shop"),
        &[],
    );
    let envs: Vec<&str> = row
        .environments
        .iter()
        .map(|c| c.environment.as_str())
        .collect();
    assert_eq!(envs, ["test", "prod"]);
    let test = &row.environments[0].workloads[0];
    assert_eq!(
        (
            test.kind.as_str(),
            test.name.as_str(),
            test.ready,
            test.desired
        ),
        ("Deployment", "shop", 2, 2)
    );
    assert_eq!(test.health, Health::Healthy);
    assert_eq!(test.images[0].tag, "1.1");
    assert_eq!(
        test.images[0].digest,
        digest_of("registry/shop:1.1"),
        "the digest the pods report"
    );
    let prod = &row.environments[1];
    assert_eq!(prod.health, Health::CrashLooping);
    assert!(
        prod.workloads[0].reason.contains("CrashLoopBackOff"),
        "{}",
        prod.workloads[0].reason
    );
    assert_eq!(row.health, Health::CrashLooping);
    let promotion = prod.promotion.as_ref().expect("test runs another build");
    assert_eq!(
        (promotion.from.as_str(), promotion.images[0].tag.as_str()),
        ("test", "1.1")
    );
}

#[test]
fn an_application_without_targets_shows_where_it_runs_and_named_targets_group() {
    let mut objects = deployment("shop-prod", "registry/shop@sha256:aa", 2, None);
    objects.extend(deployment("shop-test", "registry/shop@sha256:aa", 2, None));
    let grouped = group_by_application([("k8s".to_owned(), objects)], None);
    let found = row(&app(""), grouped.get("shop"), &[]);
    let envs: Vec<&str> = found
        .environments
        .iter()
        .map(|c| c.environment.as_str())
        .collect();
    assert_eq!(
        envs,
        ["test", "prod"],
        "in the usual order, from the namespaces"
    );
    assert_eq!(
        found.environments[1].promotion, None,
        "the same build everywhere"
    );
    // Two targets named as one environment: one cell.
    let named = row(
        &app("live: k8s/shop-test\nlive: k8s/shop-prod\nk8s/shop-dr"),
        grouped.get("shop"),
        &[],
    );
    assert_eq!(named.environments.len(), 2);
    assert_eq!(named.environments[0].workloads.len(), 2);
    assert_eq!(
        named.environments[0].targets,
        ["k8s/shop-test", "k8s/shop-prod"]
    );
    assert_eq!(
        named.environments[1].health,
        Health::Missing,
        "nothing in shop-dr"
    );
    assert_eq!(
        named.health,
        Health::Healthy,
        "an empty environment is not the worst"
    );
}

#[test]
fn who_deployed_and_drift_come_from_the_annotations() {
    let mut objects = deployment("shop-test", "registry/shop:1.1", 2, None);
    let mut d = (*objects[0].1).clone();
    let origin = domain::environments::DeployOrigin {
        execution_id: "01E".into(),
        pipeline_id: "p".into(),
        pipeline_name: "deliver".into(),
        user: "ann".into(),
        time: chrono::DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc),
    };
    record_origin(&mut d, &origin);
    // Then somebody set another image by hand.
    d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("registry/shop:hotfix");
    objects[0].1 = Arc::new(d);
    let grouped = group_by_application([("k8s".to_owned(), objects)], None);
    let row = row(&app("k8s/shop-test"), grouped.get("shop"), &[]);
    let w = &row.environments[0].workloads[0];
    assert_eq!(w.deployed.as_ref(), Some(&origin));
    assert_eq!(w.drift, ["spec.template.spec.containers[0].image"]);
    assert_eq!(row.last_deploy.as_ref(), Some(&origin));
}
