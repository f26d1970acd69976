use std::collections::HashSet;

use domain::Application;
use domain::environments::{ApplicationEnvironments, Promotion};

use super::reusable_rows;
use crate::environments::board;

fn application(name: &str) -> Application {
    Application {
        name: name.into(),
        description: String::new(),
        owner_email: "team@example.com".into(),
        team: "payments".into(),
        created_at: chrono::Utc::now(),
        created_by: "ann".into(),
        updated_at: chrono::Utc::now(),
        updated_by: "ann".into(),
        deploy_targets: domain::parse_deploy_targets(&format!("k8s/{name}-test\nk8s/{name}-prod"))
            .unwrap(),
        permissions: domain::Permissions::default(),
    }
}

fn rows_of(applications: &[Application]) -> Vec<ApplicationEnvironments> {
    applications
        .iter()
        .map(|a| board::row(a, None, &[]))
        .collect()
}

fn names(names: &[&str]) -> HashSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn when_only_time_passed_every_row_is_kept_in_place() {
    let applications: Vec<Application> = ["a", "b", "c"].map(application).into();
    let rows = rows_of(&applications);
    assert_eq!(
        reusable_rows(
            Some((&applications, &rows)),
            Some(&HashSet::new()),
            &applications
        ),
        vec![Some(0), Some(1), Some(2)]
    );
}

#[test]
fn rows_of_changed_edited_new_or_promotable_applications_are_built_again() {
    let before: Vec<Application> = ["a", "b", "c", "d", "e"].map(application).into();
    let mut rows = rows_of(&before);
    // `d` waits to be promoted: its count of builds ahead comes from the delivery history.
    rows[3].environments[1].promotion = Some(Promotion {
        from: "test".into(),
        images: Vec::new(),
        builds_ahead: 1,
    });
    let mut now = before.clone();
    now[2].owner_email = "someone-else@example.com".into(); // `c` edited
    now.remove(0); // `a` deleted
    now.push(application("f")); // `f` created
    // `b` kept at its old index; `c` edited, `d` promotable, `e` kept; `f` new.
    assert_eq!(
        reusable_rows(Some((&before, &rows)), Some(&names(&[])), &now),
        vec![Some(1), None, None, Some(4), None]
    );
    // One of `e`'s objects changed in a cluster.
    assert_eq!(
        reusable_rows(Some((&before, &rows)), Some(&names(&["e"])), &now),
        vec![Some(1), None, None, None, None]
    );
}

#[test]
fn nothing_is_reused_without_a_previous_snapshot_or_when_changes_were_missed() {
    let applications: Vec<Application> = ["a", "b"].map(application).into();
    let rows = rows_of(&applications);
    assert_eq!(
        reusable_rows(None, Some(&HashSet::new()), &applications),
        vec![None, None]
    );
    // More changes than the channel held: which applications changed is not known.
    assert_eq!(
        reusable_rows(Some((&applications, &rows)), None, &applications),
        vec![None, None]
    );
}
