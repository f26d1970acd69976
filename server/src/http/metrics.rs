//! Request counts and latency histograms by route, rendered in Prometheus' text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use crate::telemetry::{Histogram, LATENCY_BUCKETS};

struct RouteStats {
    by_status: BTreeMap<u16, u64>,
    latency: Histogram,
}

impl Default for RouteStats {
    fn default() -> Self {
        Self {
            by_status: BTreeMap::new(),
            latency: Histogram::new(&LATENCY_BUCKETS),
        }
    }
}

#[derive(Default)]
pub struct Metrics {
    routes: Mutex<BTreeMap<(String, String), RouteStats>>,
    /// Background loops whose turn panicked, by loop (counted by the supervisor).
    pub loops: std::sync::Arc<crate::runtime::LoopRestarts>,
}

impl Metrics {
    /// Records one request. Methods outside HTTP's standard ones share the label `OTHER`, so
    /// invented methods cannot grow the metrics without bound.
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let method = method_label(method);
        let seconds = elapsed.as_secs_f64();
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        let stats = routes
            .entry((method.to_owned(), route.to_owned()))
            .or_default();
        *stats.by_status.entry(status).or_default() += 1;
        stats.latency.observe(seconds);
    }

    pub fn render(&self) -> String {
        let routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str(
            "# HELP topsail_http_requests_total HTTP requests handled, by route and status.\n",
        );
        out.push_str("# TYPE topsail_http_requests_total counter\n");
        for ((method, route), stats) in routes.iter() {
            for (status, n) in &stats.by_status {
                let _ = writeln!(
                    out,
                    "topsail_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
        }
        out.push_str("# HELP topsail_http_request_duration_seconds Time to answer HTTP requests, by route.\n");
        out.push_str("# TYPE topsail_http_request_duration_seconds histogram\n");
        for ((method, route), stats) in routes.iter() {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            stats
                .latency
                .render("topsail_http_request_duration_seconds", &labels, &mut out);
        }
        out.push_str("# HELP topsail_background_loop_restarts_total Background loop turns that panicked (the loop went on), by loop.\n");
        out.push_str("# TYPE topsail_background_loop_restarts_total counter\n");
        for (name, n) in self.loops.snapshot() {
            let _ = writeln!(
                out,
                "topsail_background_loop_restarts_total{{loop=\"{name}\"}} {n}"
            );
        }
        out
    }
}

/// The engine's gauges: the work queue by state, executions stored by status, and open event
/// streams.
pub fn render_engine(
    depth: &crate::orchestration::queue::QueueDepth,
    by_status: &[(String, i64)],
    streams: i64,
) -> String {
    let mut out = String::new();
    out.push_str("# HELP topsail_queue_messages Pipeline work queue messages, by state (ready: due and waiting for a worker; scheduled: not due yet; in_flight: being handled; dead: given up).\n");
    out.push_str("# TYPE topsail_queue_messages gauge\n");
    for (state, n) in [
        ("ready", depth.ready),
        ("scheduled", depth.scheduled),
        ("in_flight", depth.in_flight),
        ("dead", depth.dead),
    ] {
        let _ = writeln!(out, "topsail_queue_messages{{state=\"{state}\"}} {n}");
    }
    out.push_str("# HELP topsail_queue_oldest_ready_seconds How long the longest-waiting ready message of the work queue has waited since it was due (0: none waits).\n# TYPE topsail_queue_oldest_ready_seconds gauge\n");
    let _ = writeln!(
        out,
        "topsail_queue_oldest_ready_seconds {}",
        depth.oldest_ready_ms as f64 / 1000.0
    );
    out.push_str("# HELP topsail_executions Executions stored, by status.\n");
    out.push_str("# TYPE topsail_executions gauge\n");
    for (status, n) in by_status {
        let _ = writeln!(
            out,
            "topsail_executions{{status=\"{}\"}} {n}",
            escape(status)
        );
    }
    out.push_str("# HELP topsail_event_stream_clients Live pages this replica is streaming to (executions, infrastructure, the board, build logs).\n");
    out.push_str("# TYPE topsail_event_stream_clients gauge\n");
    let _ = writeln!(out, "topsail_event_stream_clients {streams}");
    out
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_status_and_fills_cumulative_buckets() {
        let m = Metrics::default();
        m.observe("GET", "/healthz", 200, Duration::from_micros(500));
        m.observe("GET", "/healthz", 200, Duration::from_millis(30));
        m.observe("GET", "/healthz", 503, Duration::from_secs(9));
        let text = m.render();
        assert!(
            text.contains(
                "topsail_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2\n"
            ),
            "{text}"
        );
        assert!(text.contains("status=\"503\"} 1\n"), "{text}");
        assert!(
            text.contains("route=\"/healthz\",le=\"0.001\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("route=\"/healthz\",le=\"0.05\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("route=\"/healthz\",le=\"5\"} 2\n"), "{text}");
        assert!(
            text.contains("route=\"/healthz\",le=\"+Inf\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "topsail_http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\"} 3\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn background_loop_restarts_are_exported_by_loop() {
        let m = Metrics::default();
        m.loops.count("cron");
        m.loops.count("cron");
        let text = m.render();
        assert!(
            text.contains("topsail_background_loop_restarts_total{loop=\"cron\"} 2\n"),
            "{text}"
        );
    }

    #[test]
    fn engine_gauges_name_each_queue_state_and_status() {
        let depth = crate::orchestration::queue::QueueDepth {
            ready: 2,
            scheduled: 1,
            in_flight: 0,
            dead: 3,
            oldest_ready_ms: 1500,
        };
        let text = render_engine(&depth, &[("RUNNING".into(), 4), ("SUCCEEDED".into(), 9)], 5);
        for line in [
            "topsail_queue_messages{state=\"ready\"} 2\n",
            "topsail_queue_oldest_ready_seconds 1.5\n",
            "topsail_queue_messages{state=\"scheduled\"} 1\n",
            "topsail_queue_messages{state=\"in_flight\"} 0\n",
            "topsail_queue_messages{state=\"dead\"} 3\n",
            "topsail_executions{status=\"RUNNING\"} 4\n",
            "topsail_executions{status=\"SUCCEEDED\"} 9\n",
            "topsail_event_stream_clients 5\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }
}

/// The label of a request method: a standard one as it is, anything else `OTHER`.
fn method_label(method: &str) -> &str {
    const STANDARD: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    if STANDARD.contains(&method) {
        method
    } else {
        "OTHER"
    }
}

#[cfg(test)]
mod method_tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        let m = Metrics::default();
        for method in ["GET", "BREW", "WHEN", "PROPFIND"] {
            m.observe(method, "/x", 405, Duration::from_millis(1));
        }
        let text = m.render();
        assert!(text.contains("method=\"GET\""), "{text}");
        assert!(text.contains("method=\"OTHER\""), "{text}");
        assert!(
            !text.contains("BREW") && !text.contains("PROPFIND"),
            "{text}"
        );
    }
}
