//! The delivery metrics as Prometheus gauges (text exposition format), one series per
//! application; a metric without data (no production deploy, no restored failure) is left out
//! rather than reported as zero.

use std::time::{Duration, Instant};

use domain::delivery::metrics::DeliveryMetrics;

/// A label value as the exposition format escapes it.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub fn render(per_application: &[(String, DeliveryMetrics)]) -> String {
    type Read = fn(&DeliveryMetrics) -> Option<f64>;
    let gauges: [(&str, &str, Read); 4] = [
        (
            "topsail_delivery_deploys_per_day",
            "Succeeded production deploys per day over the last 30 days.",
            |m| Some(m.deploys_per_day),
        ),
        (
            "topsail_delivery_lead_time_seconds",
            "Median time from a build finishing to its image running in production, last 30 days.",
            |m| m.lead_time_seconds.map(|s| s as f64),
        ),
        (
            "topsail_delivery_change_failure_ratio",
            "Share of production deploys that failed or needed a rollback or fix, last 30 days.",
            |m| m.change_failure_rate,
        ),
        (
            "topsail_delivery_time_to_restore_seconds",
            "Median time from a failed change to the next good production deploy, last 30 days.",
            |m| m.time_to_restore_seconds.map(|s| s as f64),
        ),
    ];
    let mut out = String::new();
    for (name, help, read) in gauges {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (application, m) in per_application {
            if let Some(v) = read(m) {
                out.push_str(&format!(
                    "{name}{{application=\"{}\"}} {v}\n",
                    label(application)
                ));
            }
        }
    }
    out
}

/// How long the delivery gauges of `/metrics` are kept before they are computed again (they read
/// every application's history).
const GAUGES_TTL: Duration = Duration::from_secs(60);
/// The window of the gauges, in days.
const GAUGE_WINDOW_DAYS: u32 = 30;

impl super::Environments {
    /// The delivery metrics as Prometheus gauges, per application over the last 30 days (kept
    /// for a minute).
    pub async fn gauges(&self) -> String {
        let mut held = self.gauges.lock().await;
        if let Some((at, text)) = held.as_ref()
            && at.elapsed() < GAUGES_TTL
        {
            return text.clone();
        }
        let text = match self.current().await {
            Ok(snapshot) => {
                let mut per_app = Vec::new();
                for (app, row) in snapshot.applications.iter().zip(snapshot.rows.iter()) {
                    match self.events(app).await {
                        Ok(events) => per_app.push((
                            app.name.clone(),
                            domain::delivery::metrics::compute(
                                &events,
                                &Self::production(Some(row)),
                                GAUGE_WINDOW_DAYS,
                                chrono::Utc::now(),
                            ),
                        )),
                        Err(e) => {
                            tracing::warn!(application = %app.name, error = %e, "delivery gauges")
                        }
                    }
                }
                render(&per_app)
            }
            Err(e) => {
                tracing::warn!(error = %e, "delivery gauges");
                String::new()
            }
        };
        *held = Some((Instant::now(), text.clone()));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_application_is_a_series_and_missing_data_is_left_out() {
        let m = |lead: Option<i64>| DeliveryMetrics {
            window_days: 30,
            production: "prod".into(),
            by_environment: Vec::new(),
            deploys_per_day: 0.5,
            lead_time_seconds: lead,
            change_failure_rate: Some(0.25),
            time_to_restore_seconds: None,
            days: Vec::new(),
        };
        let text = render(&[("shop".into(), m(Some(600))), ("web\"x".into(), m(None))]);
        assert!(text.contains("# TYPE topsail_delivery_lead_time_seconds gauge\n"));
        assert!(text.contains("topsail_delivery_deploys_per_day{application=\"shop\"} 0.5\n"));
        assert!(text.contains("topsail_delivery_lead_time_seconds{application=\"shop\"} 600\n"));
        assert!(!text.contains("topsail_delivery_lead_time_seconds{application=\"web"));
        assert!(
            text.contains("topsail_delivery_change_failure_ratio{application=\"web\\\"x\"} 0.25\n")
        );
        assert!(!text.contains("topsail_delivery_time_to_restore_seconds{"));
    }
}
