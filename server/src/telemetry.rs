//! What `/metrics` exports beyond HTTP, measured where the work happens: calls to the outside
//! (Kubernetes, Jenkins, registries, S3, user-given URLs) by target and outcome with their
//! latency, stage and execution durations by type and status, task runs by result (a task
//! answering "running" is run again — Orca's retryable tasks), and the cluster watches'
//! re-lists and errors. One registry per process ([`global`]): the adapters that measure sit
//! far apart and are built in many places, and a process has one `/metrics`.
//!
//! Every label comes from a closed set (targets and outcomes are constants, stage types
//! outside Topsail's own are `unknown`, accounts and kinds are the operator's configuration),
//! so nothing a user sends can grow the output without bound.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histograms' buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Upper bounds (seconds) of the stage and execution duration buckets: a second to a day.
pub const DURATION_BUCKETS: [f64; 10] = [
    1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 14400.0, 86400.0,
];

/// A Prometheus histogram over fixed bucket bounds.
#[derive(Clone, Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations at or below each bound (not cumulative; made so when rendered).
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    pub fn observe(&mut self, seconds: f64) {
        if let Some(i) = self.bounds.iter().position(|b| seconds <= *b) {
            self.counts[i] += 1;
        }
        self.sum += seconds;
        self.count += 1;
    }

    /// The `_bucket`, `_sum` and `_count` lines of `name` with `labels` (`k="v",…`, or empty).
    pub fn render(&self, name: &str, labels: &str, out: &mut String) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bound, n) in self.bounds.iter().zip(&self.counts) {
            cumulative += n;
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// Who an outbound call went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Kubernetes,
    Jenkins,
    Registry,
    S3,
    /// Addresses users gave: webhook stages, notifications, `http/file` artifacts.
    Webhook,
}

impl Target {
    fn label(self) -> &'static str {
        match self {
            Self::Kubernetes => "kubernetes",
            Self::Jenkins => "jenkins",
            Self::Registry => "registry",
            Self::S3 => "s3",
            Self::Webhook => "webhook",
        }
    }
}

/// How an outbound call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// An answer below 500 (a 404 is an answer).
    Answered,
    ServerError,
    /// No answer: refused, timed out, connection failed.
    Unreachable,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::ServerError => "server_error",
            Self::Unreachable => "unreachable",
        }
    }

    /// The outcome of an HTTP status.
    pub fn of_status(status: u16) -> Self {
        if status >= 500 {
            Self::ServerError
        } else {
            Self::Answered
        }
    }
}

#[derive(Default)]
struct Measurements {
    outbound: BTreeMap<(Target, Outcome), Histogram>,
    outbound_retries: BTreeMap<Target, u64>,
    stages: BTreeMap<(String, String), Histogram>,
    executions: BTreeMap<String, Histogram>,
    task_runs: BTreeMap<(String, String, &'static str), u64>,
    watch_lists: BTreeMap<(String, String), u64>,
    watch_errors: BTreeMap<(String, String), u64>,
}

#[derive(Default)]
pub struct Telemetry {
    m: Mutex<Measurements>,
}

/// The process' registry.
pub fn global() -> &'static Telemetry {
    static TELEMETRY: OnceLock<Telemetry> = OnceLock::new();
    TELEMETRY.get_or_init(Telemetry::default)
}

/// A stage type as a label: Topsail's own types by name, anything else `unknown`.
fn stage_label(stage_type: &domain::execution::StageType) -> String {
    if domain::execution::StageType::KNOWN.contains(stage_type) {
        stage_type.as_str().to_owned()
    } else {
        "unknown".to_owned()
    }
}

impl Telemetry {
    fn with<T>(&self, f: impl FnOnce(&mut Measurements) -> T) -> T {
        f(&mut self.m.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn outbound(&self, target: Target, outcome: Outcome, elapsed: Duration) {
        self.with(|m| {
            m.outbound
                .entry((target, outcome))
                .or_insert_with(|| Histogram::new(&LATENCY_BUCKETS))
                .observe(elapsed.as_secs_f64())
        });
    }

    /// A call to `target` is made again after a failure.
    pub fn outbound_retry(&self, target: Target) {
        self.with(|m| *m.outbound_retries.entry(target).or_default() += 1);
    }

    pub fn stage_ended(
        &self,
        stage_type: &domain::execution::StageType,
        status: &str,
        elapsed: Duration,
    ) {
        self.with(|m| {
            m.stages
                .entry((stage_label(stage_type), status.to_owned()))
                .or_insert_with(|| Histogram::new(&DURATION_BUCKETS))
                .observe(elapsed.as_secs_f64())
        });
    }

    pub fn execution_ended(&self, status: &str, elapsed: Duration) {
        self.with(|m| {
            m.executions
                .entry(status.to_owned())
                .or_insert_with(|| Histogram::new(&DURATION_BUCKETS))
                .observe(elapsed.as_secs_f64())
        });
    }

    /// One run of a task; `result` is `succeeded`, `running` (it runs again) or `failed`.
    pub fn task_ran(
        &self,
        stage_type: &domain::execution::StageType,
        task: &str,
        result: &'static str,
    ) {
        let task = if domain::execution::StageType::KNOWN.contains(stage_type) {
            task.to_owned()
        } else {
            "unknown".to_owned()
        };
        self.with(|m| {
            *m.task_runs
                .entry((stage_label(stage_type), task, result))
                .or_default() += 1
        });
    }

    /// A cluster watch listed its objects (at start, or again after losing its place).
    pub fn watch_listed(&self, account: &str, kind: &str) {
        self.with(|m| {
            *m.watch_lists
                .entry((account.to_owned(), kind.to_owned()))
                .or_default() += 1
        });
    }

    pub fn watch_failed(&self, account: &str, kind: &str) {
        self.with(|m| {
            *m.watch_errors
                .entry((account.to_owned(), kind.to_owned()))
                .or_default() += 1
        });
    }

    pub fn render(&self) -> String {
        let m = self.m.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str("# HELP topsail_outbound_request_duration_seconds Calls to other systems, by target and outcome (answered, server_error, unreachable).\n# TYPE topsail_outbound_request_duration_seconds histogram\n");
        for ((target, outcome), h) in &m.outbound {
            let labels = format!(
                "target=\"{}\",outcome=\"{}\"",
                target.label(),
                outcome.label()
            );
            h.render(
                "topsail_outbound_request_duration_seconds",
                &labels,
                &mut out,
            );
        }
        out.push_str("# HELP topsail_outbound_retries_total Calls to other systems made again after a failure, by target.\n# TYPE topsail_outbound_retries_total counter\n");
        for (target, n) in &m.outbound_retries {
            let _ = writeln!(
                out,
                "topsail_outbound_retries_total{{target=\"{}\"}} {n}",
                target.label()
            );
        }
        out.push_str("# HELP topsail_stage_duration_seconds Stages that ended, by type and status, from start to end.\n# TYPE topsail_stage_duration_seconds histogram\n");
        for ((stage_type, status), h) in &m.stages {
            let labels = format!("type=\"{stage_type}\",status=\"{status}\"");
            h.render("topsail_stage_duration_seconds", &labels, &mut out);
        }
        out.push_str("# HELP topsail_execution_duration_seconds Executions that ended, by status, from start to end.\n# TYPE topsail_execution_duration_seconds histogram\n");
        for (status, h) in &m.executions {
            h.render(
                "topsail_execution_duration_seconds",
                &format!("status=\"{status}\""),
                &mut out,
            );
        }
        out.push_str("# HELP topsail_task_runs_total Task runs by stage type, task and result (running: the task runs again later).\n# TYPE topsail_task_runs_total counter\n");
        for ((stage_type, task, result), n) in &m.task_runs {
            let _ = writeln!(
                out,
                "topsail_task_runs_total{{type=\"{stage_type}\",task=\"{task}\",result=\"{result}\"}} {n}"
            );
        }
        out.push_str("# HELP topsail_cluster_watch_lists_total Full lists by the cluster watches (each start, and each time a watch lost its place), by account and kind.\n# TYPE topsail_cluster_watch_lists_total counter\n");
        for ((account, kind), n) in &m.watch_lists {
            let _ = writeln!(
                out,
                "topsail_cluster_watch_lists_total{{account=\"{account}\",kind=\"{kind}\"}} {n}"
            );
        }
        out.push_str("# HELP topsail_cluster_watch_errors_total Cluster watch failures (retried with backoff), by account and kind.\n# TYPE topsail_cluster_watch_errors_total counter\n");
        for ((account, kind), n) in &m.watch_errors {
            let _ = writeln!(
                out,
                "topsail_cluster_watch_errors_total{{account=\"{account}\",kind=\"{kind}\"}} {n}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_render_cumulative_buckets_sum_and_count() {
        let mut h = Histogram::new(&[0.1, 1.0]);
        for s in [0.05, 0.5, 0.7, 3.0] {
            h.observe(s);
        }
        let mut out = String::new();
        h.render("x", "a=\"b\"", &mut out);
        assert_eq!(
            out,
            "x_bucket{a=\"b\",le=\"0.1\"} 1\nx_bucket{a=\"b\",le=\"1\"} 3\nx_bucket{a=\"b\",le=\"+Inf\"} 4\nx_sum{a=\"b\"} 4.25\nx_count{a=\"b\"} 4\n"
        );
        let mut out = String::new();
        Histogram::new(&[1.0]).render("y", "", &mut out);
        assert!(out.starts_with("y_bucket{le=\"1\"} 0\n"), "{out}");
    }

    #[test]
    fn stage_types_users_invent_share_one_label() {
        let t = Telemetry::default();
        for invented in ["a", "b", "c"] {
            t.stage_ended(
                &domain::execution::StageType::Unknown(invented.into()),
                "TERMINAL",
                Duration::from_secs(1),
            );
            t.task_ran(
                &domain::execution::StageType::Unknown(invented.into()),
                invented,
                "failed",
            );
        }
        t.stage_ended(
            &domain::execution::StageType::Wait,
            "SUCCEEDED",
            Duration::from_secs(2),
        );
        let out = t.render();
        assert!(out.contains(
            "topsail_stage_duration_seconds_count{type=\"unknown\",status=\"TERMINAL\"} 3"
        ));
        assert!(out.contains(
            "topsail_stage_duration_seconds_count{type=\"wait\",status=\"SUCCEEDED\"} 1"
        ));
        assert!(out.contains(
            "topsail_task_runs_total{type=\"unknown\",task=\"unknown\",result=\"failed\"} 3"
        ));
    }

    #[test]
    fn outbound_calls_by_target_and_outcome() {
        let t = Telemetry::default();
        t.outbound(
            Target::Jenkins,
            Outcome::of_status(503),
            Duration::from_millis(3),
        );
        t.outbound(
            Target::Jenkins,
            Outcome::of_status(404),
            Duration::from_millis(3),
        );
        t.outbound_retry(Target::Jenkins);
        let out = t.render();
        assert!(out.contains("topsail_outbound_request_duration_seconds_count{target=\"jenkins\",outcome=\"server_error\"} 1"));
        assert!(out.contains("topsail_outbound_request_duration_seconds_count{target=\"jenkins\",outcome=\"answered\"} 1"));
        assert!(out.contains("topsail_outbound_retries_total{target=\"jenkins\"} 1"));
    }
}
