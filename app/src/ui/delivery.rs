//! An application's Delivery tab: the delivery metrics over a window (7/30/90 days) with a chart
//! of production deploys per day, and each build's path — where it came from (job, build,
//! commit, branch), when it reached each environment, who approved it, where it runs now.
//! `?build=` marks one build (an execution's "Show this image's path"). The overall metrics
//! (every application) sit on the Environments page.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use leptos_router::params::ParamsMap;

use super::{ErrorBanner, Time};
use crate::api::environments::{delivery_of, overall_delivery};
use crate::model::delivery::ImagePath;
use crate::model::delivery::metrics::{DeliveryMetrics, WINDOWS_DAYS};

/// `1 h 5 min`, `3 d 4 h`, `45 s`.
pub(crate) fn duration_text(seconds: i64) -> String {
    let (d, h, m) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{seconds} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

fn read_window(q: &ParamsMap) -> u32 {
    q.get("window")
        .and_then(|w| w.parse().ok())
        .filter(|w| WINDOWS_DAYS.contains(w))
        .unwrap_or(30)
}

fn write_window(w: &u32) -> Vec<(&'static str, String)> {
    vec![(
        "window",
        if *w == 30 {
            String::new()
        } else {
            w.to_string()
        },
    )]
}

#[component]
fn WindowPicker(window: RwSignal<u32>) -> impl IntoView {
    view! {
        <label class="sort">
            "Over the last "
            <select aria-label="Window" prop:value=move || window.get().to_string()
                on:change=move |ev| window.set(event_target_value(&ev).parse().unwrap_or(30))>
                {WINDOWS_DAYS.iter().map(|d| view! { <option value=d.to_string()>{format!("{d} days")}</option> }).collect_view()}
            </select>
        </label>
    }
}

/// The four numbers and the chart.
#[component]
pub(crate) fn Metrics(metrics: DeliveryMetrics) -> impl IntoView {
    let m = metrics;
    let rate = m
        .change_failure_rate
        .map(|r| format!("{:.0} %", r * 100.0))
        .unwrap_or_else(|| "—".into());
    let time = |s: Option<i64>| s.map(duration_text).unwrap_or_else(|| "—".into());
    let by_env = m
        .by_environment
        .iter()
        .map(|e| format!("{} {}", e.environment, e.deploys))
        .collect::<Vec<_>>()
        .join(" · ");
    view! {
        <dl class="metrics" data-testid="metrics">
            <div><dt>"Deploys to " {m.production.clone()} " per day"</dt><dd data-metric="frequency">{format!("{:.2}", m.deploys_per_day)}</dd></div>
            <div><dt>"Lead time (build → " {m.production.clone()} ")"</dt><dd data-metric="lead-time">{time(m.lead_time_seconds)}</dd></div>
            <div><dt>"Change failure rate"</dt><dd data-metric="failure-rate">{rate}</dd></div>
            <div><dt>"Time to restore"</dt><dd data-metric="restore">{time(m.time_to_restore_seconds)}</dd></div>
        </dl>
        <p class="muted small">"Deploys by environment: " {if by_env.is_empty() { "none".to_owned() } else { by_env }}</p>
        <Chart metrics=m />
    }
}

/// Production deploys per day as bars, failed changes in red on top (plain SVG).
#[component]
fn Chart(metrics: DeliveryMetrics) -> impl IntoView {
    const HEIGHT: f64 = 60.0;
    let days = metrics.days;
    let most = days.iter().map(|d| d.deploys).max().unwrap_or(0).max(1);
    let width = 6.0 * days.len() as f64;
    let scale = HEIGHT / f64::from(most);
    let label = format!(
        "{} deploys to {} over {} days",
        days.iter().map(|d| d.deploys).sum::<u32>(),
        metrics.production,
        metrics.window_days
    );
    view! {
        <svg class="chart" role="img" aria-label=label viewBox=format!("0 0 {width} {HEIGHT}") preserveAspectRatio="none">
            {days.into_iter().enumerate().map(|(i, d)| {
                let x = 6.0 * i as f64 + 1.0;
                let h = f64::from(d.deploys) * scale;
                let failed = f64::from(d.failures) * scale;
                view! {
                    <g>
                        <title>{format!("{}: {} deploys, {} failed", d.day, d.deploys, d.failures)}</title>
                        <rect class="bar" x=x y=HEIGHT - h width="4" height=h />
                        <rect class="bar failed" x=x y=HEIGHT - failed width="4" height=failed />
                    </g>
                }
            }).collect_view()}
        </svg>
    }
}

#[component]
fn Path(path: ImagePath, marked: bool) -> impl IntoView {
    let source = path.source.clone().map(|s| {
        let mut text = format!("{} #{}", s.job, s.number);
        if !s.branch.is_empty() {
            text.push_str(&format!(" · {}", s.branch));
        }
        if !s.commit.is_empty() {
            text.push_str(&format!(" · {}", &s.commit[..s.commit.len().min(10)]));
        }
        (text, s.url)
    });
    view! {
        <li class=if marked { "path marked" } else { "path" } data-build=path.build.clone()>
            <div class="image">{path.images.join(", ")}</div>
            {source.map(|(text, url)| view! {
                <div class="small">"Built by " {if url.is_empty() { view! { <span>{text.clone()}</span> }.into_any() } else {
                    view! { <a href=url rel="noreferrer">{text.clone()}</a> }.into_any()
                }}</div>
            })}
            <ol class="arrivals">
                {path.arrivals.into_iter().map(|a| view! {
                    <li data-environment=a.environment.clone()>
                        <b>{a.environment.clone()}</b>" "<Time at=a.time />" · "
                        <span>{a.pipeline_name.clone()}" by "{a.user.clone()}</span>
                        {a.approved_by.map(|by| view! { <span>{format!(" · approved by {by}")}</span> })}
                    </li>
                }).collect_view()}
            </ol>
            {(!path.running_in.is_empty()).then(|| view! {
                <div class="small running">"Runs now in " {path.running_in.join(", ")}</div>
            })}
        </li>
    }
}

#[component]
pub fn DeliveryTab() -> impl IntoView {
    let params = use_params_map();
    let application = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let window = super::url_state::url_state(&["window"], read_window, write_window);
    let marked = leptos_router::hooks::use_query_map();
    let delivery = Resource::new(
        move || (application.get(), window.get()),
        |(a, w)| delivery_of(a, w),
    );
    view! {
        <div class="delivery" data-testid="tab-delivery">
            <div class="toolbar"><WindowPicker window /></div>
            <Transition fallback=|| view! { <p class="muted">"Reading the delivery history…"</p> }>
                {move || delivery.get().map(|r| match r {
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    Ok(d) => {
                        let build = marked.read().get("build").unwrap_or_default();
                        view! {
                            <Metrics metrics=d.metrics />
                            <h2>"The path of each build"</h2>
                            {d.paths.is_empty().then(|| view! { <p class="muted">"Nothing deployed yet."</p> })}
                            <ol class="paths">
                                {d.paths.into_iter().map(|p| {
                                    let marked = p.build == build;
                                    view! { <Path path=p marked /> }
                                }).collect_view()}
                            </ol>
                        }.into_any()
                    }
                })}
            </Transition>
        </div>
    }
}

/// Every application's metrics together, on the Environments page (read when asked for: they
/// read every application's history).
#[component]
pub(crate) fn OverallMetrics() -> impl IntoView {
    let window = super::url_state::url_state(&["window"], read_window, write_window);
    let shown = RwSignal::new(false);
    let metrics = Resource::new(
        move || (shown.get(), window.get()),
        |(shown, w)| async move {
            if shown {
                overall_delivery(w).await.map(Some)
            } else {
                Ok(None)
            }
        },
    );
    view! {
        <section class="overall">
            <button type="button" aria-expanded=move || shown.get().to_string() on:click=move |_| shown.update(|s| *s = !*s)>
                "Delivery metrics, every application"
            </button>
            <Show when=move || shown.get()>
                <WindowPicker window />
                <Transition fallback=|| ()>
                    {move || metrics.get().map(|r| match r {
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                        Ok(Some(m)) => view! { <Metrics metrics=m /> }.into_any(),
                        Ok(None) => ().into_any(),
                    })}
                </Transition>
            </Show>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration_text(45), "45 s");
        assert_eq!(duration_text(600), "10 min");
        assert_eq!(duration_text(3600), "1 h");
        assert_eq!(duration_text(3900), "1 h 5 min");
        assert_eq!(duration_text(86_400 * 2 + 3600 * 4), "2 d 4 h");
    }

    #[test]
    fn only_offered_windows_come_from_the_address() {
        let map =
            |w: &str| -> ParamsMap { [("window".to_owned(), w.to_owned())].into_iter().collect() };
        assert_eq!(read_window(&map("7")), 7);
        assert_eq!(read_window(&map("8")), 30);
        assert_eq!(write_window(&30), [("window", String::new())]);
    }
}
