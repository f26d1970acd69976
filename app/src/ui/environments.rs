//! The environments board (`/environments`): a row per application, a column per environment in
//! order on the way to production; each cell shows what runs there (image tag and short digest,
//! ready/desired, health), who deployed it and when, drift from what Topsail applied, and —
//! when the environment before it runs another build — "Promote". It arrives rendered on the
//! server, then follows `/api/environments/stream`. Filters and sort live in the address.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;
use leptos_router::params::ParamsMap;

use super::{ErrorBanner, Time, encode_query_value, plural};
use crate::api::environments::{environments_board, promotion_pipelines};
use crate::api::{ApiError, start_execution};
use crate::model::environments::{
    ApplicationEnvironments, BoardFilter, BoardSort, EnvironmentBoard, EnvironmentCell, ImageView,
    WorkloadStatus,
};

fn read_filter(q: &ParamsMap) -> BoardFilter {
    BoardFilter {
        q: q.get("q").unwrap_or_default(),
        owner: q.get("owner").unwrap_or_default(),
        team: q.get("team").unwrap_or_default(),
        sort: BoardSort::parse(&q.get("sort").unwrap_or_default()),
    }
}

fn write_filter(f: &BoardFilter) -> Vec<(&'static str, String)> {
    let sort = match f.sort {
        BoardSort::Name => String::new(),
        other => other.as_str().to_owned(),
    };
    vec![
        ("q", f.q.clone()),
        ("owner", f.owner.clone()),
        ("team", f.team.clone()),
        ("sort", sort),
    ]
}

/// The stream's address for a filter (the same query as `GET /api/environments`).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn stream_url(f: &BoardFilter) -> String {
    let query: Vec<String> = write_filter(f)
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode_query_value(&v)))
        .collect();
    format!("/api/environments/stream?{}", query.join("&"))
}

/// The promotion being confirmed: application, environment and the images to deploy. It lives
/// at the page, not in the cell: live updates re-create the cells.
#[derive(Clone, Debug, PartialEq)]
struct Promoting {
    app: String,
    environment: String,
    images: Vec<ImageView>,
}

#[derive(Clone, Copy)]
struct PromotingNow(RwSignal<Option<Promoting>>);

#[component]
pub fn EnvironmentsPage() -> impl IntoView {
    let promoting = RwSignal::new(None::<Promoting>);
    provide_context(PromotingNow(promoting));
    let filter =
        super::url_state::url_state(&["q", "owner", "team", "sort"], read_filter, write_filter);
    let initial = Resource::new(move || filter.get(), environments_board);
    let live: RwSignal<Option<EnvironmentBoard>> = RwSignal::new(None);
    let connected = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    super::follow_events(move || stream_url(&filter.get()), "board", live, connected);
    let edit = move |set: fn(&mut BoardFilter, String)| {
        move |ev| {
            let value = event_target_value(&ev);
            filter.update(|f| set(f, value));
        }
    };
    view! {
        <Title text="Environments · Topsail" />
        <header class="page-header">
            <h1>"Environments"</h1>
        </header>
        <super::delivery::OverallMetrics />
        <div class="toolbar">
            <input type="search" class="filter" placeholder="Application" aria-label="Filter by application" data-search
                prop:value=move || filter.with(|f| f.q.clone()) on:input=edit(|f, v| f.q = v) />
            <input type="search" class="filter" placeholder="Owner" aria-label="Filter by owner"
                prop:value=move || filter.with(|f| f.owner.clone()) on:input=edit(|f, v| f.owner = v) />
            <input type="search" class="filter" placeholder="Team" aria-label="Filter by team"
                prop:value=move || filter.with(|f| f.team.clone()) on:input=edit(|f, v| f.team = v) />
            <label class="sort">
                "Sort by "
                <select aria-label="Sort the board" prop:value=move || filter.with(|f| f.sort.as_str())
                    on:change=edit(|f, v| f.sort = BoardSort::parse(&v))>
                    <option value="name">"Name"</option>
                    <option value="health">"Health (worst first)"</option>
                    <option value="lastDeploy">"Last deploy"</option>
                </select>
            </label>
        </div>
        {move || promoting.get().map(|p| view! {
            <PromoteDialog app=p.app environment=p.environment images=p.images />
        })}
        <div class="environments" data-testid="environments" data-live=move || connected.get().to_string()>
            <Transition fallback=|| view! { <crate::ui::ListSkeleton /> }>
                {move || {
                    let current: Option<Result<EnvironmentBoard, ApiError>> = match live.get() {
                        Some(board) => Some(Ok(board)),
                        None => initial.get(),
                    };
                    current.map(|result| match result {
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                        Ok(board) => view! { <Board board /> }.into_any(),
                    })
                }}
            </Transition>
        </div>
    }
}

#[component]
fn Board(board: EnvironmentBoard) -> impl IntoView {
    if board.applications.is_empty() {
        return view! { <p class="muted">"No application matches, or none deploys anywhere yet."</p> }
            .into_any();
    }
    let count = plural(board.applications.len(), "application", "applications");
    let columns = board.environments.clone();
    view! {
        <p class="muted">{count}</p>
        <table class="board">
            <thead>
                <tr>
                    <th scope="col">"Application"</th>
                    {columns.iter().map(|e| view! { <th scope="col">{e.clone()}</th> }).collect_view()}
                </tr>
            </thead>
            <tbody>
                {board
                    .applications
                    .into_iter()
                    .map(|row| view! { <Row row columns=columns.clone() /> })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn Row(row: ApplicationEnvironments, columns: Vec<String>) -> impl IntoView {
    let app = row.application.clone();
    let cells: Vec<Option<EnvironmentCell>> = columns
        .iter()
        .map(|c| {
            row.environments
                .iter()
                .find(|e| &e.environment == c)
                .cloned()
        })
        .collect();
    view! {
        <tr data-app=app.clone()>
            <th scope="row">
                <a href=format!("/applications/{app}")>{app.clone()}</a>
                <span class=row.health.css() title=row.health.label()></span>
                <div class="muted small">{row.team.clone()}</div>
            </th>
            {cells
                .into_iter()
                .map(|cell| match cell {
                    None => view! { <td class="cell none"></td> }.into_any(),
                    Some(cell) => view! { <Cell app=app.clone() cell /> }.into_any(),
                })
                .collect_view()}
        </tr>
    }
}

fn image_text(i: &ImageView) -> String {
    let name = i.repository.rsplit('/').next().unwrap_or(&i.repository);
    match (i.tag.is_empty(), i.short_digest()) {
        (false, "") => format!("{name}:{}", i.tag),
        (false, d) => format!("{name}:{} @{d}", i.tag),
        (true, "") => name.to_owned(),
        (true, d) => format!("{name}@{d}"),
    }
}

#[component]
fn Cell(app: String, cell: EnvironmentCell) -> impl IntoView {
    let environment = cell.environment.clone();
    let data_environment = cell.environment.clone();
    let health = cell.health;
    let promotion = cell.promotion.clone();
    let PromotingNow(promoting) = expect_context();
    view! {
        <td class=format!("cell {}", health.css()) data-environment=data_environment data-health=health.label()>
            {cell.workloads.is_empty().then(|| view! { <span class="muted">"not deployed"</span> })}
            {cell.workloads.into_iter().map(|w| view! { <Workload app=app.clone() w /> }).collect_view()}
            {promotion.map(|p| {
                let ahead = plural(p.builds_ahead as usize, "build", "builds");
                let wanted = Promoting { app: app.clone(), environment: environment.clone(), images: p.images.clone() };
                view! {
                    <div class="promotion" data-testid="promotion">
                        <span>{format!("{} is {ahead} ahead", p.from)}</span>
                        <button type="button" class="small" on:click=move |_| promoting.set(Some(wanted.clone()))>"Promote"</button>
                    </div>
                }
            })}
        </td>
    }
}

#[component]
fn Workload(app: String, w: WorkloadStatus) -> impl IntoView {
    let deployed = w.deployed.clone();
    let images = w
        .images
        .iter()
        .map(image_text)
        .collect::<Vec<_>>()
        .join(", ");
    let digests = w
        .images
        .iter()
        .map(|i| i.reference.clone())
        .collect::<Vec<_>>()
        .join("\n");
    view! {
        <div class="workload" data-workload=w.name.clone()>
            <div>
                <span class=w.health.css()></span>
                <b>{w.name.clone()}</b>
                " "
                <span class="ready">{format!("{}/{}", w.ready, w.desired)}</span>
                " "
                <span class="health-label">{w.health.label()}</span>
            </div>
            <div class="image" title=digests>{images}</div>
            {(!w.reason.is_empty()).then(|| view! { <div class="reason">{w.reason.clone()}</div> })}
            {deployed.map(|d| {
                let by = if d.execution_id.is_empty() {
                    view! { <span>{format!("applied by {}", d.user)}</span> }.into_any()
                } else {
                    view! {
                        <a href=format!("/applications/{app}/executions/{}", d.execution_id)>{d.pipeline_name.clone()}</a>
                        <span>{format!(" by {}", d.user)}</span>
                    }
                        .into_any()
                };
                view! { <div class="deployed small">{by}" · "<Time at=d.time /></div> }
            })}
            {(!w.drift.is_empty()).then(|| {
                let fields = w.drift.join("\n");
                view! {
                    <div class="drift" title=fields.clone() data-testid="drift">
                        "drift: changed outside Topsail (" {w.drift.len()} " "
                        {if w.drift.len() == 1 { "field" } else { "fields" }} ")"
                    </div>
                }
            })}
        </div>
    }
}

/// "Promote": the pipelines that deploy to this environment; the chosen one starts with the
/// build as its trigger's artifacts (bound into its manifests), after confirmation.
#[component]
fn PromoteDialog(app: String, environment: String, images: Vec<ImageView>) -> impl IntoView {
    let PromotingNow(promoting) = expect_context();
    let pipelines = {
        let (app, environment) = (app.clone(), environment.clone());
        Resource::new(
            || (),
            move |_| promotion_pipelines(app.clone(), environment.clone()),
        )
    };
    let chosen = RwSignal::new(String::new());
    let artifacts: Vec<serde_json::Value> = images
        .iter()
        .map(|i| serde_json::json!({"type": "docker/image", "name": i.repository, "version": i.tag, "reference": i.reference}))
        .collect();
    let navigate = use_navigate();
    let start = {
        let app = app.clone();
        Action::new(move |name: &String| {
            let trigger = serde_json::json!({"type": "manual", "artifacts": artifacts.clone()});
            start_execution(app.clone(), name.clone(), Some(trigger))
        })
    };
    Effect::new(move |_| {
        if let Some(Ok(id)) = start.value().get() {
            navigate(
                &format!("/applications/{app}/executions/{id}"),
                NavigateOptions::default(),
            );
        }
    });
    let label = format!("Promote to {environment}?");
    let aria = label.clone();
    let shown = images
        .iter()
        .map(|i| i.reference.clone())
        .collect::<Vec<_>>()
        .join(", ");
    view! {
        <div class="confirm-bar promote" role="alertdialog" aria-label=aria>
            <p><b>{label}</b>" "{format!("Deploys {shown}")}</p>
            <Transition fallback=|| view! { <span class="muted">"Finding the pipelines that deploy there…"</span> }>
                {move || pipelines.get().map(|r| match r {
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <p class="muted">"No pipeline of this application deploys there."</p>
                    }.into_any(),
                    Ok(list) => {
                        if chosen.get_untracked().is_empty() {
                            chosen.set(list[0].name.clone());
                        }
                        view! {
                            <fieldset>
                                <legend>"Pipeline"</legend>
                                {list.into_iter().map(|p| {
                                    let name = p.name.clone();
                                    let checked = {
                                        let name = name.clone();
                                        move || chosen.get() == name
                                    };
                                    view! {
                                        <label>
                                            <input type="radio" name="promote-pipeline" prop:checked=checked
                                                on:change={let name = name.clone(); move |_| chosen.set(name.clone())} />
                                            {name.clone()}
                                            {(!p.stages_before.is_empty()).then(|| view! {
                                                <span class="warning small">
                                                    {format!(" (runs {} first: a build there makes a new image)", p.stages_before.join(", "))}
                                                </span>
                                            })}
                                        </label>
                                    }
                                }).collect_view()}
                            </fieldset>
                        }.into_any()
                    }
                })}
            </Transition>
            {move || start.value().get().and_then(Result::err).map(|error| view! { <ErrorBanner error /> })}
            <div class="actions">
                <button type="button" class="primary" disabled=move || chosen.get().is_empty() || start.pending().get()
                    on:click=move |_| { start.dispatch(chosen.get_untracked()); }>
                    "Start promotion"
                </button>
                <button type="button" on:click=move |_| promoting.set(None)>"Close"</button>
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::environments::Health;

    #[test]
    fn images_show_their_name_tag_and_short_digest() {
        let i = ImageView::parse(
            "registry:5000/shop/web:1.2",
            Some("sha256:0123456789abcdef"),
        );
        assert_eq!(image_text(&i), "web:1.2 @0123456789ab");
        assert_eq!(
            image_text(&ImageView::parse("shop@sha256:ffeeddccbbaa99", None)),
            "shop@ffeeddccbbaa"
        );
        assert_eq!(image_text(&ImageView::parse("nginx", None)), "nginx");
    }

    #[test]
    fn the_filter_round_trips_through_the_address() {
        let f = BoardFilter {
            q: "shop".into(),
            team: "pay ments".into(),
            sort: BoardSort::Health,
            ..BoardFilter::default()
        };
        let map: ParamsMap = write_filter(&f)
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(read_filter(&map), f);
        assert_eq!(
            stream_url(&f),
            "/api/environments/stream?q=shop&team=pay%20ments&sort=health"
        );
        assert_eq!(
            stream_url(&BoardFilter::default()),
            "/api/environments/stream?"
        );
    }

    #[test]
    fn health_has_a_colour_and_words() {
        assert_eq!(Health::CrashLooping.css(), "health crash-looping");
        assert_eq!(Health::Missing.label(), "not deployed");
    }
}
