//! The four delivery metrics (DORA's), computed from the deploy history over a window:
//! - **deployment frequency**: succeeded deploys per environment (and per day in production);
//! - **lead time**: from the build finishing to the image running in production (median);
//! - **change failure rate**: the share of production deploys that failed — the deploy or its
//!   wait for stability failed, a rollback followed before the next deploy, or a fix followed
//!   within [`FIX_WITHIN`]: a deploy that brought back a build production ran before, or whose
//!   build went straight to production without the other environments;
//! - **time to restore**: from a failed change to the next succeeded production deploy or
//!   rollback (median).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{DeployEvent, DeployKind};

/// A production deploy followed by a fix (see the module) within this long was a failed change.
pub const FIX_WITHIN: Duration = Duration::hours(1);

/// The windows the UI offers.
pub const WINDOWS_DAYS: &[u32] = &[7, 30, 90];

/// Deploys to one environment in the window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentDeploys {
    pub environment: String,
    pub deploys: u32,
}

/// One day of the production chart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Day {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub deploys: u32,
    pub failures: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryMetrics {
    pub window_days: u32,
    pub production: String,
    pub by_environment: Vec<EnvironmentDeploys>,
    /// Succeeded production deploys per day over the window.
    pub deploys_per_day: f64,
    /// Median seconds from build to production; `None` without a production deploy whose build
    /// is known.
    pub lead_time_seconds: Option<i64>,
    /// Failed changes over production deploys; `None` without production deploys.
    pub change_failure_rate: Option<f64>,
    /// Median seconds to restore; `None` without a restored failure.
    pub time_to_restore_seconds: Option<i64>,
    /// Production deploys and failed changes per day, oldest first (one entry per day).
    pub days: Vec<Day>,
}

fn median(mut values: Vec<i64>) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2
    })
}

/// Whether `next` fixed what went before it: it brought back a build production ran before, or
/// its build went straight to production (a hotfix), not through the other environments first.
fn is_fix(
    events: &[DeployEvent],
    production: &str,
    before: &[&DeployEvent],
    next: &DeployEvent,
) -> bool {
    let earlier = before[..before.len().saturating_sub(1)]
        .iter()
        .any(|e| e.succeeded && e.build == next.build);
    let went_through = events.iter().any(|e| {
        e.environment != production && e.succeeded && e.build == next.build && e.time < next.time
    });
    earlier || !went_through
}

/// What one application's history adds to the metrics; several add up to the overall ones.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    by_environment: Vec<EnvironmentDeploys>,
    prod_deploys: u32,
    prod_succeeded: u32,
    failures: u32,
    lead_times: Vec<i64>,
    restore_times: Vec<i64>,
    days: Vec<Day>,
}

impl Tally {
    /// Counts `events` (one application's, oldest first, as [`super::deploy_events`] gives
    /// them) over the `window_days` before `now`, `production` being its production
    /// environment.
    pub fn count(
        events: &[DeployEvent],
        production: &str,
        window_days: u32,
        now: DateTime<Utc>,
    ) -> Self {
        let since = now - Duration::days(i64::from(window_days));
        let in_window = |d: &&DeployEvent| d.time > since && d.time <= now;
        let mut t = Tally {
            days: (0..window_days)
                .rev()
                .map(|back| Day {
                    day: (now - Duration::days(i64::from(back)))
                        .date_naive()
                        .to_string(),
                    deploys: 0,
                    failures: 0,
                })
                .collect(),
            ..Tally::default()
        };
        for d in events
            .iter()
            .filter(in_window)
            .filter(|d| d.succeeded && d.kind == DeployKind::Deploy)
        {
            t.add_deploys(&d.environment, 1);
        }
        // Every production event, window or not: what follows a deploy decides whether it
        // failed.
        let prod: Vec<&DeployEvent> = events
            .iter()
            .filter(|d| d.environment == production)
            .collect();
        for (i, d) in prod.iter().enumerate() {
            if d.kind != DeployKind::Deploy || !in_window(d) {
                continue;
            }
            t.prod_deploys += 1;
            let failed = !d.succeeded
                || prod.get(i + 1).is_some_and(|n| {
                    n.kind == DeployKind::Rollback
                        || (n.time - d.time <= FIX_WITHIN
                            && is_fix(events, production, &prod[..=i], n))
                });
            if d.succeeded {
                t.prod_succeeded += 1;
                if let Some(finished) = d.source.as_ref().and_then(|s| s.finished) {
                    t.lead_times.push((d.time - finished).num_seconds().max(0));
                }
            }
            if failed {
                t.failures += 1;
                if let Some(restored) = prod[i + 1..]
                    .iter()
                    .find(|n| n.succeeded && n.time > d.time)
                {
                    t.restore_times.push((restored.time - d.time).num_seconds());
                }
            }
            let day = d.time.date_naive().to_string();
            if let Some(entry) = t.days.iter_mut().find(|e| e.day == day) {
                entry.deploys += 1;
                entry.failures += u32::from(failed);
            }
        }
        t
    }

    fn add_deploys(&mut self, environment: &str, deploys: u32) {
        match self
            .by_environment
            .iter_mut()
            .find(|e| e.environment == environment)
        {
            Some(e) => e.deploys += deploys,
            None => self.by_environment.push(EnvironmentDeploys {
                environment: environment.to_owned(),
                deploys,
            }),
        }
    }

    /// Adds another application's tally (same window and day).
    pub fn add(&mut self, other: Tally) {
        for e in other.by_environment {
            self.add_deploys(&e.environment, e.deploys);
        }
        self.prod_deploys += other.prod_deploys;
        self.prod_succeeded += other.prod_succeeded;
        self.failures += other.failures;
        self.lead_times.extend(other.lead_times);
        self.restore_times.extend(other.restore_times);
        if self.days.is_empty() {
            self.days = other.days;
        } else {
            for (mine, theirs) in self.days.iter_mut().zip(other.days) {
                mine.deploys += theirs.deploys;
                mine.failures += theirs.failures;
            }
        }
    }

    pub fn finish(self, production: &str, window_days: u32) -> DeliveryMetrics {
        DeliveryMetrics {
            window_days,
            production: production.to_owned(),
            by_environment: self.by_environment,
            deploys_per_day: f64::from(self.prod_succeeded) / f64::from(window_days.max(1)),
            lead_time_seconds: median(self.lead_times),
            change_failure_rate: (self.prod_deploys > 0)
                .then(|| f64::from(self.failures) / f64::from(self.prod_deploys)),
            time_to_restore_seconds: median(self.restore_times),
            days: self.days,
        }
    }
}

/// The metrics of one application's `events` (see [`Tally::count`]).
pub fn compute(
    events: &[DeployEvent],
    production: &str,
    window_days: u32,
    now: DateTime<Utc>,
) -> DeliveryMetrics {
    Tally::count(events, production, window_days, now).finish(production, window_days)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::delivery::BuildSource;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap()
    }

    fn event(env: &str, hours_ago: i64, kind: DeployKind, succeeded: bool) -> DeployEvent {
        let time = now() - Duration::hours(hours_ago);
        DeployEvent {
            execution_id: format!("e{hours_ago}"),
            pipeline_name: "deliver".into(),
            user: "ann".into(),
            environment: env.into(),
            location: format!("k8s/shop-{env}"),
            kind,
            images: vec!["shop@sha256:1".into()],
            build: "sha256:1".into(),
            time,
            succeeded,
            source: Some(BuildSource {
                job: "shop/build".into(),
                number: 7,
                finished: Some(time - Duration::minutes(30)),
                ..BuildSource::default()
            }),
            approved_by: None,
        }
    }

    use DeployKind::{Deploy, Rollback};

    #[test]
    fn no_data_is_no_answer_not_zero() {
        let m = compute(&[], "prod", 7, now());
        assert_eq!(m.deploys_per_day, 0.0);
        assert_eq!(
            (
                m.lead_time_seconds,
                m.change_failure_rate,
                m.time_to_restore_seconds
            ),
            (None, None, None)
        );
        assert_eq!(m.days.len(), 7);
        assert_eq!(m.days[6].day, "2026-11-30", "the last day is today");
    }

    #[test]
    fn one_deploy() {
        let m = compute(&[event("prod", 2, Deploy, true)], "prod", 7, now());
        assert_eq!(m.by_environment[0].deploys, 1);
        assert!((m.deploys_per_day - 1.0 / 7.0).abs() < 1e-9);
        assert_eq!(m.lead_time_seconds, Some(30 * 60));
        assert_eq!(m.change_failure_rate, Some(0.0));
        assert_eq!(m.time_to_restore_seconds, None);
        assert_eq!((m.days[6].deploys, m.days[6].failures), (1, 0));
    }

    #[test]
    fn rollbacks_failed_waits_and_fixes_are_failed_changes() {
        let events = vec![
            event("test", 100, Deploy, true),
            // Rolled back 2 h later: failed, restored by the rollback.
            event("prod", 96, Deploy, true),
            event("prod", 94, Rollback, true),
            // Its wait for stability failed: restored by the next deploy 10 h later.
            event("prod", 72, Deploy, false),
            event("prod", 62, Deploy, true),
            // A fix followed within the hour.
            event("prod", 30, Deploy, true),
            DeployEvent {
                time: now() - Duration::hours(30) + Duration::minutes(20),
                ..event("prod", 0, Deploy, true)
            },
            // Older than the window: counted nowhere, but it is not what follows anything.
            event("prod", 24 * 40, Deploy, true),
        ];
        let mut events = events;
        events.sort_by_key(|d| d.time);
        let m = compute(&events, "prod", 7, now());
        // prod deploys in window: 96, 72(failed), 62, 30, 29h40m = 5; failures: 96, 72, 30.
        assert_eq!(m.change_failure_rate, Some(3.0 / 5.0));
        assert_eq!(
            m.by_environment,
            [
                EnvironmentDeploys {
                    environment: "test".into(),
                    deploys: 1
                },
                EnvironmentDeploys {
                    environment: "prod".into(),
                    deploys: 4
                }
            ]
        );
        // Restore times: 2 h, 10 h, 20 min → median 2 h.
        assert_eq!(m.time_to_restore_seconds, Some(2 * 3600));
        assert_eq!(m.lead_time_seconds, Some(30 * 60));
        let failures: u32 = m.days.iter().map(|d| d.failures).sum();
        assert_eq!(failures, 3);
    }

    #[test]
    fn the_overall_metrics_add_up_each_applications_own() {
        // Two applications: one deploy each; the second's is followed by another of its own
        // within the hour (a fix), which must not be judged against the first's.
        let a = vec![event("prod", 5, Deploy, true)];
        let b = vec![
            event("live", 5, Deploy, true),
            DeployEvent {
                time: now() - Duration::hours(5) + Duration::minutes(10),
                ..event("live", 0, Deploy, true)
            },
        ];
        let mut all = Tally::count(&a, "prod", 7, now());
        all.add(Tally::count(&b, "live", 7, now()));
        let m = all.finish("production", 7);
        assert_eq!(m.change_failure_rate, Some(1.0 / 3.0));
        assert_eq!(m.time_to_restore_seconds, Some(600));
        assert_eq!(m.days[6].deploys, 3);
        assert_eq!(m.by_environment.len(), 2);
    }

    #[test]
    fn a_new_build_that_went_through_test_is_not_a_fix() {
        let build = |e: DeployEvent, b: &str| DeployEvent {
            build: b.into(),
            ..e
        };
        let mut events = vec![
            build(event("test", 3, Deploy, true), "sha256:1"),
            build(event("prod", 2, Deploy, true), "sha256:1"),
            build(event("test", 0, Deploy, true), "sha256:2"),
        ];
        // Promoted 20 minutes after the previous production deploy.
        events.push(DeployEvent {
            time: now() - Duration::hours(2) + Duration::minutes(20),
            ..build(event("prod", 0, Deploy, true), "sha256:2")
        });
        events.sort_by_key(|d| d.time);
        // (the test deploy of sha256:2 happened before it)
        events
            .iter_mut()
            .filter(|e| e.environment == "test" && e.build == "sha256:2")
            .for_each(|e| e.time = now() - Duration::hours(2) + Duration::minutes(10));
        events.sort_by_key(|d| d.time);
        assert_eq!(
            compute(&events, "prod", 7, now()).change_failure_rate,
            Some(0.0)
        );
        // The same, straight to production: a hotfix, so the first change failed.
        let hotfix: Vec<DeployEvent> = events
            .iter()
            .filter(|e| !(e.environment == "test" && e.build == "sha256:2"))
            .cloned()
            .collect();
        assert_eq!(
            compute(&hotfix, "prod", 7, now()).change_failure_rate,
            Some(0.5)
        );
    }

    #[test]
    fn a_30_day_window_counts_what_the_7_day_window_leaves_out() {
        let events = vec![
            event("prod", 24 * 20, Deploy, true),
            event("prod", 24, Deploy, true),
        ];
        assert_eq!(
            compute(&events, "prod", 7, now()).by_environment[0].deploys,
            1
        );
        assert_eq!(
            compute(&events, "prod", 30, now()).by_environment[0].deploys,
            2
        );
    }
}
