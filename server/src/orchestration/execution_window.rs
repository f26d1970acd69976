//! Restricted execution windows: a stage with `restrictExecutionDuringTimeWindow` waits until
//! the time (UTC) falls inside one of `restrictedExecutionWindow.whitelist`'s windows
//! (`startHour`, `startMin`, `endHour`, `endMin`; a window may cross midnight) on one of its
//! `days` (1 = Sunday … 7 = Saturday; all days when empty).

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use serde_json::Value;

/// The task that holds a restricted stage until its window opens.
pub const TASK: &str = "waitForExecutionWindow";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Window {
    start: u32, // minutes from midnight
    end: u32,
}

/// The windows and days of a stage, or `None` if it is not restricted.
fn read(context: &serde_json::Map<String, Value>) -> Option<(Vec<Window>, Vec<u32>)> {
    if context
        .get("restrictExecutionDuringTimeWindow")
        .and_then(Value::as_bool)
        != Some(true)
    {
        return None;
    }
    let config = context.get("restrictedExecutionWindow")?;
    let num = |w: &Value, k: &str| w.get(k).and_then(Value::as_u64).unwrap_or(0) as u32;
    let windows: Vec<Window> = config
        .get("whitelist")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|w| Window {
            start: num(w, "startHour") * 60 + num(w, "startMin"),
            end: num(w, "endHour") * 60 + num(w, "endMin"),
        })
        .collect();
    let days = config
        .get("days")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .map(|d| d as u32)
        .collect();
    Some((windows, days))
}

pub fn is_restricted(context: &serde_json::Map<String, Value>) -> bool {
    read(context).is_some_and(|(windows, _)| !windows.is_empty())
}

/// Spinnaker's day number: 1 = Sunday … 7 = Saturday.
fn day_number(t: DateTime<Utc>) -> u32 {
    t.weekday().num_days_from_sunday() + 1
}

fn allowed_day(days: &[u32], t: DateTime<Utc>) -> bool {
    days.is_empty() || days.contains(&day_number(t))
}

fn inside(windows: &[Window], days: &[u32], t: DateTime<Utc>) -> bool {
    let minute = t.hour() * 60 + t.minute();
    windows.iter().any(|w| {
        if w.start <= w.end {
            allowed_day(days, t) && (w.start..w.end).contains(&minute)
        } else if minute >= w.start {
            allowed_day(days, t)
        } else {
            // After midnight in a window that began the day before.
            minute < w.end && allowed_day(days, t - Duration::days(1))
        }
    })
}

/// `None` when `now_ms` is inside a window, else how long until the next one opens.
pub fn wait_from(
    context: &serde_json::Map<String, Value>,
    now_ms: i64,
) -> Option<std::time::Duration> {
    let (windows, days) = read(context)?;
    let now = Utc.timestamp_millis_opt(now_ms).single()?;
    if windows.is_empty() || inside(&windows, &days, now) {
        return None;
    }
    let midnight = now.date_naive().and_hms_opt(0, 0, 0)?.and_utc();
    let next = (0..8)
        .flat_map(|d| {
            windows
                .iter()
                .map(move |w| midnight + Duration::days(d) + Duration::minutes(i64::from(w.start)))
        })
        .filter(|start| *start > now && allowed_day(&days, *start))
        .min()?;
    (next - now).to_std().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    fn context(windows: Value, days: Value) -> serde_json::Map<String, Value> {
        json!({"restrictExecutionDuringTimeWindow": true, "restrictedExecutionWindow": {"whitelist": windows, "days": days}})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn inside_a_window_there_is_no_wait() {
        let c = context(
            json!([{"startHour": 9, "startMin": 0, "endHour": 17, "endMin": 0}]),
            json!([]),
        );
        assert_eq!(wait_from(&c, at("2026-11-26T10:00:00Z")), None);
        assert_eq!(
            wait_from(&c, at("2026-11-26T08:30:00Z")),
            Some(std::time::Duration::from_secs(30 * 60))
        );
        // After the window: tomorrow at nine.
        assert_eq!(
            wait_from(&c, at("2026-11-26T17:00:00Z")),
            Some(std::time::Duration::from_secs(16 * 3600))
        );
        assert!(!is_restricted(&json!({}).as_object().unwrap().clone()));
    }

    #[test]
    fn days_and_windows_across_midnight() {
        // 2026-11-26 is a Thursday (5); only weekdays Mon..Fri (2..6), 22:00 to 02:00.
        let c = context(
            json!([{"startHour": 22, "startMin": 0, "endHour": 2, "endMin": 0}]),
            json!([2, 3, 4, 5, 6]),
        );
        assert_eq!(wait_from(&c, at("2026-11-26T23:00:00Z")), None);
        assert_eq!(
            wait_from(&c, at("2026-11-27T01:00:00Z")),
            None,
            "Friday 01:00 is in Thursday's window"
        );
        // Saturday 01:00 belongs to Friday's window; Sunday 01:00 to Saturday's, which is not allowed.
        assert_eq!(wait_from(&c, at("2026-11-28T01:00:00Z")), None);
        let sunday = wait_from(&c, at("2026-11-29T01:00:00Z")).unwrap();
        assert_eq!(
            sunday,
            std::time::Duration::from_secs(45 * 3600),
            "Sunday is not allowed: the next window is Monday 22:00"
        );
    }
}
