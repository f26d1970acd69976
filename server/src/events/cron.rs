//! Cron triggers: `{"type": "cron", "cronExpression": "0 0/30 * * * ?", "timeZone": "Europe/Berlin"}`.
//! Expressions are Quartz-style (seconds first; `?` allowed), evaluated in the trigger's IANA
//! time zone (UTC when absent), so "9 o'clock" follows daylight saving time.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use domain::pipeline::PipelineDocument;
use domain::triggers::TriggerKind;
use serde_json::{Map, Value, json};

use super::intake::{Firing, TriggerEvent};

/// The most fire times one check returns per trigger (a long pause does not start a flood).
const MAX_FIRES: usize = 10;

/// Reads a trigger's schedule and zone; the error names what is wrong.
pub fn schedule_of(trigger: &Map<String, Value>) -> Result<(cron::Schedule, Tz), String> {
    let expression = trigger
        .get("cronExpression")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let schedule = cron::Schedule::from_str(expression.trim()).map_err(|e| {
        format!("cronExpression '{expression}' is not a valid cron expression: {e}")
    })?;
    let zone = match trigger
        .get("timeZone")
        .and_then(Value::as_str)
        .filter(|z| !z.is_empty())
    {
        None => Tz::UTC,
        Some(name) => {
            Tz::from_str(name).map_err(|_| format!("timeZone '{name}' is not a known time zone"))?
        }
    };
    Ok((schedule, zone))
}

/// The times (epoch ms) in `(from_ms, to_ms]` at which the trigger fires.
pub fn fires_between(trigger: &Map<String, Value>, from_ms: i64, to_ms: i64) -> Vec<i64> {
    let Ok((schedule, zone)) = schedule_of(trigger) else {
        return Vec::new();
    };
    let Some(from) = Utc.timestamp_millis_opt(from_ms).single() else {
        return Vec::new();
    };
    schedule
        .after(&from.with_timezone(&zone))
        .map(|t: DateTime<Tz>| t.timestamp_millis())
        .take_while(|t| *t <= to_ms)
        .take(MAX_FIRES)
        .collect()
}

/// The clock moved from `from_ms` to `to_ms`: every cron trigger scheduled in `(from_ms, to_ms]`
/// fires, once per fire time. The run id derives from the pipeline, the trigger and the fire
/// time, so replicas checking the same window (or a check repeated after a restart) start each
/// run once.
pub struct CronTick {
    pub from_ms: i64,
    pub to_ms: i64,
}

impl TriggerEvent for CronTick {
    fn kind(&self) -> TriggerKind {
        TriggerKind::Cron
    }

    /// The window is not part of the id: the fire time is (each firing's key).
    fn key(&self) -> Vec<String> {
        Vec::new()
    }

    fn fire(&self, _: &PipelineDocument, t: &Map<String, Value>) -> Vec<Firing> {
        fires_between(t, self.from_ms, self.to_ms)
            .into_iter()
            .map(|fire| {
                let mut run = t.clone();
                run.insert("user".into(), json!("[cron]"));
                run.insert("fireTime".into(), json!(fire));
                // A cron run gets the pipeline's parameter defaults only.
                run.insert("parameters".into(), json!({}));
                Firing {
                    key: fire.to_string(),
                    trigger: run,
                }
            })
            .collect()
    }
}

/// The cron triggers of a pipeline with their problems, for validation on save.
pub fn problems(document: &Map<String, Value>) -> Vec<(String, String)> {
    super::triggers::triggers_of_type(document, "cron")
        .filter_map(|(i, t)| schedule_of(t).err().map(|e| (format!("triggers[{i}]"), e)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::intake::firings;
    use serde_json::json;

    #[test]
    fn a_cron_run_keeps_the_id_and_parameters_it_had_before_the_intake() {
        let doc = PipelineDocument::from_value(json!({"id": "p1", "application": "shop", "name": "N",
            "triggers": [{"type": "cron", "cronExpression": "0 */5 * * * ?", "parameters": {"x": "1"}}]}))
        .unwrap();
        let tick = CronTick {
            from_ms: ms("2026-01-01T08:00:00Z"),
            to_ms: ms("2026-01-01T08:06:00Z"),
        };
        let fired = firings(&doc, &tick);
        assert_eq!(fired.len(), 1);
        let (index, firing) = &fired[0];
        let fire = ms("2026-01-01T08:05:00Z").to_string();
        assert_eq!(
            tick.run_id("p1", *index, firing),
            crate::ids::derived_id(&["p1", "0", &fire])
        );
        assert_eq!(firing.trigger["parameters"], json!({}), "defaults only");
    }

    fn trigger(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn fires_on_schedule_within_the_window() {
        let every_5 = trigger(json!({"type": "cron", "cronExpression": "0 0/5 * * * ?"}));
        let fires = fires_between(
            &every_5,
            ms("2026-11-26T10:00:00Z"),
            ms("2026-11-26T10:12:00Z"),
        );
        assert_eq!(
            fires,
            vec![ms("2026-11-26T10:05:00Z"), ms("2026-11-26T10:10:00Z")]
        );
        let many = fires_between(
            &every_5,
            ms("2026-11-26T00:00:00Z"),
            ms("2026-11-27T00:00:00Z"),
        );
        assert_eq!(many.len(), 10, "capped");
    }

    #[test]
    fn time_zones_follow_daylight_saving() {
        let nine_berlin = trigger(
            json!({"type": "cron", "cronExpression": "0 0 9 ? * MON-FRI", "timeZone": "Europe/Berlin"}),
        );
        // Thursday 26 November (winter, UTC+1) and Friday 3 July (summer, UTC+2).
        assert_eq!(
            fires_between(
                &nine_berlin,
                ms("2026-11-26T00:00:00Z"),
                ms("2026-11-26T23:00:00Z")
            ),
            vec![ms("2026-11-26T08:00:00Z")]
        );
        assert_eq!(
            fires_between(
                &nine_berlin,
                ms("2026-07-03T00:00:00Z"),
                ms("2026-07-03T23:00:00Z")
            ),
            vec![ms("2026-07-03T07:00:00Z")]
        );
        assert!(
            fires_between(
                &nine_berlin,
                ms("2026-11-28T00:00:00Z"),
                ms("2026-11-29T23:00:00Z")
            )
            .is_empty(),
            "weekend"
        );
    }

    #[test]
    fn bad_expressions_and_zones_are_named() {
        let doc = json!({"triggers": [
            {"type": "manual"},
            {"type": "cron", "cronExpression": "every day"},
            {"type": "cron", "cronExpression": "0 0 9 * * ?", "timeZone": "Mars/Olympus"}
        ]});
        let p = problems(doc.as_object().unwrap());
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].0, "triggers[1]");
        assert!(
            p[0].1
                .starts_with("cronExpression 'every day' is not a valid cron expression"),
            "{}",
            p[0].1
        );
        assert_eq!(
            p[1],
            (
                "triggers[2]".to_owned(),
                "timeZone 'Mars/Olympus' is not a known time zone".to_owned()
            )
        );
    }
}
