use chrono::TimeZone;

use super::*;

#[test]
fn environments_come_from_the_namespace_suffix_unless_given() {
    let env = |account: &str, namespace: &str| derive_environment(account, namespace);
    assert_eq!(env("staging", "shop-test"), "test");
    assert_eq!(env("east", "shop-production"), "prod");
    assert_eq!(env("east", "shop-stage"), "staging");
    assert_eq!(env("east", "prod"), "prod");
    assert_eq!(
        env("prod", "shop"),
        "prod",
        "the account, when it names one"
    );
    assert_eq!(env("east", "shop-blue"), "shop-blue", "else the namespace");
    let targets = parse_deploy_targets("sandbox: lab/shop-blue\nprod/shop-prod").unwrap();
    assert_eq!(targets[0].environment(), "sandbox");
    assert_eq!(targets[1].environment(), "prod");
    assert_eq!(
        targets.iter().map(DeployTarget::text).collect::<Vec<_>>(),
        ["sandbox: lab/shop-blue", "prod/shop-prod"]
    );
}

#[test]
fn deploy_target_text_round_trips_and_names_the_bad_part() {
    let text = "test: staging/shop-test\n prod : east/shop ,staging/shop-test";
    let targets = parse_deploy_targets(text).unwrap();
    assert_eq!(targets.len(), 2, "a location listed twice is kept once");
    let again: Vec<String> = targets.iter().map(DeployTarget::text).collect();
    assert_eq!(again, ["test: staging/shop-test", "prod: east/shop"]);
    assert_eq!(parse_deploy_targets(&again.join("\n")).unwrap(), targets);
    assert!(
        parse_deploy_targets("Prod!: east/shop")
            .unwrap_err()
            .message
            .contains("the environment must be")
    );
    assert!(
        parse_deploy_targets("prod: east")
            .unwrap_err()
            .message
            .contains("write account/namespace")
    );
    // Stored before environments existed: no `environment` key.
    let old: DeployTarget =
        serde_json::from_str(r#"{"account": "a", "namespace": "shop-prod"}"#).unwrap();
    assert_eq!(old.environment(), "prod");
    assert_eq!(
        serde_json::to_string(&old).unwrap(),
        r#"{"account":"a","namespace":"shop-prod"}"#
    );
}

fn order(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn columns_keep_every_applications_order() {
    let a = order(&["test", "prod"]);
    let b = order(&["test", "canary", "prod"]);
    let c = order(&["staging"]);
    let d = order(&["sandbox"]);
    let merged = merge_orders([a.as_slice(), b.as_slice(), c.as_slice(), d.as_slice()]);
    // `staging` goes before the first column that sits later on the way to production.
    assert_eq!(merged, ["test", "canary", "staging", "prod", "sandbox"]);
    assert_eq!(merge_orders(Vec::<&[String]>::new()), Vec::<String>::new());
}

#[test]
fn images_split_into_repository_tag_and_digest() {
    let i = ImageView::parse(
        "registry:5000/shop/web:1.2",
        Some("sha256:abcdef0123456789"),
    );
    assert_eq!(
        (i.repository.as_str(), i.tag.as_str(), i.short_digest()),
        ("registry:5000/shop/web", "1.2", "abcdef012345")
    );
    let pinned = ImageView::parse("registry:5000/shop/web@sha256:99", Some("sha256:11"));
    assert_eq!(
        (
            pinned.repository.as_str(),
            pinned.tag.as_str(),
            pinned.digest.as_str()
        ),
        ("registry:5000/shop/web", "", "sha256:99"),
        "the reference's own digest wins"
    );
    let bare = ImageView::parse("nginx", None);
    assert_eq!(
        (bare.repository.as_str(), bare.identity()),
        ("nginx", "nginx")
    );
}

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 10, minute, 0).unwrap()
}

fn cell(environment: &str, digest: &str, health: Health) -> EnvironmentCell {
    let workloads = if digest.is_empty() {
        Vec::new()
    } else {
        vec![WorkloadStatus {
            account: "a".into(),
            namespace: format!("shop-{environment}"),
            kind: "Deployment".into(),
            name: "shop".into(),
            images: vec![ImageView::parse(&format!("shop@{digest}"), None)],
            ready: 1,
            desired: 1,
            health,
            reason: String::new(),
            deployed: Some(DeployOrigin {
                execution_id: "e".into(),
                pipeline_id: "p".into(),
                pipeline_name: "deploy".into(),
                user: "ann".into(),
                time: at(0),
            }),
            drift: Vec::new(),
        }]
    };
    EnvironmentCell {
        environment: environment.into(),
        targets: vec![format!("a/shop-{environment}")],
        workloads,
        health,
        promotion: None,
    }
}

fn deployed(environment: &str, build: &str, minute: u32) -> DeployedBuild {
    DeployedBuild {
        environment: environment.into(),
        build: build.into(),
        time: at(minute),
    }
}

#[test]
fn a_cell_behind_the_environment_before_it_offers_that_build() {
    let mut cells = vec![
        cell("test", "sha256:c3", Health::Healthy),
        cell("prod", "sha256:a1", Health::Healthy),
    ];
    let history = [
        deployed("test", "sha256:a1", 1),
        deployed("prod", "sha256:a1", 2),
        deployed("test", "sha256:b2", 3),
        deployed("test", "sha256:b2", 4),
        deployed("test", "sha256:c3", 5),
    ];
    mark_promotions(&mut cells, &history);
    assert_eq!(
        cells[0].promotion, None,
        "the first environment has nothing before it"
    );
    let p = cells[1].promotion.as_ref().unwrap();
    assert_eq!((p.from.as_str(), p.builds_ahead), ("test", 2));
    assert_eq!(p.images[0].digest, "sha256:c3");

    // The same build everywhere: nothing to promote. No history: one build ahead.
    let mut same = vec![
        cell("test", "sha256:a1", Health::Healthy),
        cell("prod", "sha256:a1", Health::Healthy),
    ];
    mark_promotions(&mut same, &history);
    assert_eq!(same[1].promotion, None);
    let mut unknown = vec![
        cell("test", "sha256:c3", Health::Healthy),
        cell("prod", "sha256:zz", Health::Healthy),
    ];
    mark_promotions(&mut unknown, &[]);
    assert_eq!(unknown[1].promotion.as_ref().unwrap().builds_ahead, 1);
    // Nothing runs before: nothing to offer.
    let mut empty = vec![
        cell("test", "", Health::Missing),
        cell("prod", "sha256:a1", Health::Healthy),
    ];
    mark_promotions(&mut empty, &history);
    assert_eq!(empty[1].promotion, None);
}

#[test]
fn the_worst_health_ignores_environments_where_nothing_runs() {
    let cells = vec![
        cell("test", "sha256:c3", Health::CrashLooping),
        cell("prod", "", Health::Missing),
    ];
    assert_eq!(worst(&cells), Health::CrashLooping);
    assert_eq!(worst(&cells[1..]), Health::Missing);
    assert_eq!(
        worst(&[
            cell("a", "x", Health::Progressing),
            cell("b", "y", Health::Healthy)
        ]),
        Health::Progressing
    );
}

fn row(name: &str, team: &str, cells: Vec<EnvironmentCell>) -> ApplicationEnvironments {
    ApplicationEnvironments {
        application: name.into(),
        owner_email: format!("{name}@example.com"),
        team: team.into(),
        health: worst(&cells),
        last_deploy: cells
            .iter()
            .filter_map(EnvironmentCell::last_deploy)
            .max_by_key(|d| d.time)
            .cloned(),
        environments: cells,
    }
}

#[test]
fn the_filter_matches_name_owner_and_team_and_sorts() {
    let mut rows = vec![
        row(
            "web",
            "Payments",
            vec![cell("test", "sha256:1", Health::Healthy)],
        ),
        row(
            "api",
            "payments",
            vec![cell("test", "sha256:1", Health::CrashLooping)],
        ),
        row("batch", "data", vec![cell("test", "", Health::Missing)]),
    ];
    let filter = |q: &str, team: &str| BoardFilter {
        q: q.into(),
        team: team.into(),
        ..BoardFilter::default()
    };
    let names = |f: &BoardFilter, rows: &[ApplicationEnvironments]| -> Vec<String> {
        rows.iter()
            .filter(|r| f.matches(r))
            .map(|r| r.application.clone())
            .collect()
    };
    assert_eq!(names(&filter("", "PAY"), &rows), ["web", "api"]);
    assert_eq!(names(&filter("a", ""), &rows), ["api", "batch"]);
    let mut by_health = BoardFilter {
        sort: BoardSort::Health,
        ..BoardFilter::default()
    };
    by_health.sort(&mut rows);
    assert_eq!(
        names(&BoardFilter::default(), &rows),
        ["api", "web", "batch"]
    );
    by_health.sort = BoardSort::parse("lastDeploy");
    by_health.sort(&mut rows);
    assert_eq!(rows[2].application, "batch", "never deployed goes last");
    BoardFilter::default().sort(&mut rows);
    assert_eq!(
        names(&BoardFilter::default(), &rows),
        ["api", "batch", "web"]
    );
}
