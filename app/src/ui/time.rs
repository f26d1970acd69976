//! Times as people read them: relative ("3 min ago", kept current) with the exact time in the
//! browser's time zone on hover, and durations ("2 min 05 s").
//!
//! The server knows no time zone and no "now" that the browser would agree with, so it renders
//! the exact time in UTC; the browser renders the same until the page is interactive (so
//! hydration matches), then switches to its own zone and starts the clock.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// The browser's clock in milliseconds since the epoch, ticking each second once the page is
/// interactive; `None` on the server and while hydrating.
#[derive(Clone, Copy)]
pub(crate) struct Clock(pub RwSignal<Option<i64>>);

/// Starts the page's clock (in the browser) and makes it available to every [`Time`].
pub(crate) fn provide_clock() {
    let now = RwSignal::new(None);
    #[cfg(feature = "hydrate")]
    {
        let tick = move || now.set(Some(js_sys::Date::now() as i64));
        Effect::new(move |_| tick());
        if let Ok(handle) = set_interval_with_handle(tick, std::time::Duration::from_secs(1)) {
            on_cleanup(move || handle.clear());
        }
    }
    provide_context(Clock(now));
}

/// The clock, or one that never starts (outside the app's body).
pub(crate) fn clock() -> RwSignal<Option<i64>> {
    use_context::<Clock>()
        .map(|c| c.0)
        .unwrap_or_else(|| RwSignal::new(None))
}

/// `2026-11-26 09:38 UTC`: what the server renders (and the browser until it is interactive).
///
/// Written out by hand: chrono's `format` brings its whole strftime machinery into the wasm.
pub(crate) fn format_time(t: &DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// `2026-11-26T09:38:05Z`, for `<time datetime>`.
fn iso_8601(t: &DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `2026-11-26 10:38 UTC+01:00`: the exact time at `offset_minutes` east of UTC.
pub(crate) fn format_at_offset(t: &DateTime<Utc>, offset_minutes: i32) -> String {
    use chrono::{Datelike, Timelike};
    let local = *t + chrono::Duration::minutes(offset_minutes.into());
    let zone = if offset_minutes == 0 {
        "UTC".to_owned()
    } else {
        let sign = if offset_minutes < 0 { '-' } else { '+' };
        let m = offset_minutes.unsigned_abs();
        format!("UTC{sign}{:02}:{:02}", m / 60, m % 60)
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} {zone}",
        local.year(),
        local.month(),
        local.day(),
        local.hour(),
        local.minute()
    )
}

/// "just now", "42 s ago", "3 min ago", "5 h ago", "2 d ago" (or "in 3 min" for the future).
pub(crate) fn relative_text(now_ms: i64, then_ms: i64) -> String {
    let delta = now_ms - then_ms;
    let secs = delta.unsigned_abs() / 1000;
    if secs < 10 {
        return "just now".to_owned();
    }
    let amount = match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    };
    if delta >= 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// A duration for people: `850 ms`, `4.2 s`, `2 min 05 s`, `1 h 04 min`, `3 d 2 h`.
pub(crate) fn duration_for_people(ms: i64) -> String {
    let ms = ms.max(0);
    let secs = ms / 1000;
    match secs {
        0 => format!("{ms} ms"),
        s if s < 60 => format!("{s}.{} s", (ms % 1000) / 100),
        s if s < 3600 => format!("{} min {:02} s", s / 60, s % 60),
        s if s < 86_400 => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
        s => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// Minutes east of UTC of the browser's time zone at `t` (0 on the server).
fn local_offset_minutes(t: &DateTime<Utc>) -> i32 {
    #[cfg(feature = "hydrate")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(t.timestamp_millis() as f64));
        -(date.get_timezone_offset() as i32)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = t;
        0
    }
}

/// A point in time: relative and live in the browser, the exact local time on hover (and in
/// `datetime`, as ISO 8601 in UTC, for machines).
#[component]
pub(crate) fn Time(at: DateTime<Utc>) -> impl IntoView {
    let now = clock();
    let utc = format_time(&at);
    let iso = iso_8601(&at);
    let exact = {
        let utc = utc.clone();
        move || match now.get() {
            Some(_) => format_at_offset(&at, local_offset_minutes(&at)),
            None => utc.clone(),
        }
    };
    let text = move || match now.get() {
        Some(now) => relative_text(now, at.timestamp_millis()),
        None => utc.clone(),
    };
    view! { <time datetime=iso title=exact.clone() data-exact=exact>{text}</time> }.into_any()
}

/// [`Time`] for milliseconds since the epoch (nothing when absent or out of range).
#[component]
pub(crate) fn TimeMs(ms: Option<i64>) -> impl IntoView {
    ms.and_then(DateTime::from_timestamp_millis)
        .map(|at| view! { <Time at /> })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    #[test]
    fn the_server_renders_utc() {
        assert_eq!(format_time(&at(1_800_000_000_000)), "2027-01-15 08:00 UTC");
        assert_eq!(iso_8601(&at(1_800_000_000_000)), "2027-01-15T08:00:00Z");
    }

    #[test]
    fn exact_times_name_their_offset() {
        let t = at(1_800_000_000_000);
        assert_eq!(format_at_offset(&t, 60), "2027-01-15 09:00 UTC+01:00");
        assert_eq!(format_at_offset(&t, -330), "2027-01-15 02:30 UTC-05:30");
        assert_eq!(format_at_offset(&t, -540), "2027-01-14 23:00 UTC-09:00");
        assert_eq!(format_at_offset(&t, 0), "2027-01-15 08:00 UTC");
    }

    #[test]
    fn relative_times_round_down_to_the_largest_unit() {
        let now = 1_800_000_000_000;
        assert_eq!(relative_text(now, now - 3_000), "just now");
        assert_eq!(relative_text(now, now - 42_000), "42 s ago");
        assert_eq!(relative_text(now, now - 3 * 60_000 - 59_000), "3 min ago");
        assert_eq!(relative_text(now, now - 5 * 3_600_000), "5 h ago");
        assert_eq!(relative_text(now, now - 49 * 3_600_000), "2 d ago");
        assert_eq!(relative_text(now, now + 180_000), "in 3 min");
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration_for_people(850), "850 ms");
        assert_eq!(duration_for_people(4_230), "4.2 s");
        assert_eq!(duration_for_people(125_000), "2 min 05 s");
        assert_eq!(duration_for_people(3_840_000), "1 h 04 min");
        assert_eq!(duration_for_people(2 * 86_400_000 + 7_200_000), "2 d 2 h");
        assert_eq!(duration_for_people(-5), "0 ms");
    }
}
