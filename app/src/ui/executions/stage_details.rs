//! The selected stage's details: tasks, error, evaluated expressions, a deploy's live progress,
//! and outputs and context as trees.

use leptos::prelude::*;
use serde_json::Value;

use super::{StatusBadge, duration_text, judgment_text, stage_error};
use crate::model::execution::Stage;
use crate::ui::TimeMs;

/// A JSON value as a tree: objects and lists fold open (the first level is open).
fn json_tree(key: String, value: &Value, depth: usize) -> AnyView {
    let (children, count): (Vec<(String, &Value)>, String) = match value {
        Value::Object(map) if !map.is_empty() => (map.iter().map(|(k, v)| (k.clone(), v)).collect(), format!("{{{}}}", map.len())),
        Value::Array(items) if !items.is_empty() => (items.iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect(), format!("[{}]", items.len())),
        other => return view! { <span class="tree-leaf"><span class="tree-key">{key}</span>": "<code>{other.to_string()}</code></span> }.into_any(),
    };
    let children = children
        .into_iter()
        .map(|(k, v)| view! { <li>{json_tree(k, v, depth + 1)}</li> })
        .collect_view();
    view! {
        <details open=depth == 0>
            <summary><span class="tree-key">{key}</span>" "<span class="muted small">{count}</span></summary>
            <ul class="tree">{children}</ul>
        </details>
    }
    .into_any()
}

/// Expressions evaluated when the stage started, and their failures.
fn evaluation_summary(stage: &Stage) -> Vec<(String, String)> {
    stage
        .context
        .get("expressionEvaluationSummary")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .flat_map(|(expression, entries)| {
            entries
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |e| {
                    (
                        expression.clone(),
                        e.get("description")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    )
                })
        })
        .collect()
}

/// The workloads a deploy stage wrote: (account, namespace, kind, name).
fn deployed_objects(stage: &Stage) -> Vec<(String, String, String, String)> {
    let account = stage
        .outputs
        .get("deploy.account.name")
        .or_else(|| stage.context.get("account"))
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    stage
        .outputs
        .get("outputs.manifestNamesByNamespace")
        .and_then(|v| v.as_object())
        .into_iter()
        .flatten()
        .flat_map(|(ns, names)| {
            let account = account.clone();
            names
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(move |n| {
                    let (kind, name) = n.as_str()?.split_once(' ')?;
                    matches!(kind, "deployment" | "statefulset" | "daemonset").then(|| {
                        (
                            account.clone(),
                            ns.clone(),
                            kind.to_owned(),
                            name.to_owned(),
                        )
                    })
                })
        })
        .collect()
}

/// A deploy's progress, live from the Infrastructure stream: desired / updated / ready /
/// available as a bar, and the pods.
#[component]
fn DeployProgress(
    application: String,
    objects: Vec<(String, String, String, String)>,
) -> impl IntoView {
    use crate::model::infrastructure::InfrastructureView;
    let view_now: RwSignal<Option<InfrastructureView>> = RwSignal::new(None);
    let connected = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    {
        let url = format!("/api/infrastructure/stream?application={application}");
        crate::ui::follow_events(move || url.clone(), "view", view_now, connected);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (&application, connected);
    view! {
        <h3>"Deploy progress"</h3>
        {objects.into_iter().map(|(account, namespace, kind, name)| {
            let label = format!("{account}/{namespace} {kind} {name}");
            let (a, ns, k, n) = (account.clone(), namespace.clone(), kind.clone(), name.clone());
            let cluster = move || view_now.get().and_then(|v| {
                v.accounts.into_iter().find(|x| x.name == a)?.namespaces.into_iter().find(|x| x.name == ns)?
                    .clusters.into_iter().find(|c| c.kind.eq_ignore_ascii_case(&k) && c.name == n)
            });
            view! {
                <div class="deploy-progress" data-object=format!("{kind} {name}")>
                    <div class="muted small">{label}</div>
                    {move || match cluster() {
                        None => view! { <p class="muted small">"Waiting for the live view…"</p> }.into_any(),
                        Some(c) => {
                            let desired = c.desired.max(1);
                            let percent = |x: i64| format!("width: {}%", (x.clamp(0, desired) * 100) / desired);
                            view! {
                                <div class="progress" data-desired=c.desired data-ready=c.ready data-updated=c.updated data-available=c.available
                                    title=format!("desired {} · updated {} · ready {} · available {}", c.desired, c.updated, c.ready, c.available)>
                                    <span class="bar updated" style=percent(c.updated)></span>
                                    <span class="bar ready" style=percent(c.ready)></span>
                                </div>
                                <div class="small">{format!("desired {} · updated {} · ready {} · available {}", c.desired, c.updated, c.ready, c.available)}</div>
                                <div class="pods">
                                    {c.server_groups.iter().flat_map(|g| g.pods.iter()).chain(c.pods.iter())
                                        .map(|p| view! { <span class=p.health.css() title=p.name.clone()></span> }).collect_view()}
                                </div>
                            }.into_any()
                        }
                    }}
                </div>
            }
        }).collect_view()}
    }
}

/// The selected stage: tasks with status and timing, its error in plain words, evaluated
/// expressions' failures, and its context and outputs as trees.
#[component]
pub(super) fn StageDetails(
    stage: Stage,
    application: String,
    on_close: Callback<()>,
) -> impl IntoView {
    let mut config = stage.context.clone();
    for key in stage.outputs.keys() {
        config.remove(key);
    }
    let evaluation = evaluation_summary(&stage);
    let deployed = deployed_objects(&stage);
    view! {
        <section class="stage-details" data-testid="stage-details" data-stage=stage.ref_id.clone() data-status=stage.status.as_str()>
            <header class="page-header">
                <h2>{stage.name.clone()}" "<StatusBadge status=stage.status /></h2>
                <button class="button small-button" on:click=move |_| on_close.run(())>"Close"</button>
            </header>
            <p class="muted small">{format!("{} · {}", stage.stage_type, duration_text(stage.start_time, stage.end_time))}</p>
            {stage_error(&stage).map(|e| view! { <p class="stage-error" role="alert">{e}</p> })}
            {judgment_text(&stage).map(|j| view! { <p class="judgment-by">{j}</p> })}
            {(!deployed.is_empty()).then(|| view! { <DeployProgress application=application.clone() objects=deployed.clone() /> })}
            <h3>"Tasks"</h3>
            <table class="list" aria-label="Tasks">
                <tbody>
                    {stage.tasks.iter().map(|t| view! {
                        <tr data-task=t.name.clone()>
                            <td>{t.name.clone()}</td>
                            <td><StatusBadge status=t.status /></td>
                            <td class="muted small"><TimeMs ms=t.start_time /></td>
                            <td>{duration_text(t.start_time, t.end_time)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            {(!evaluation.is_empty()).then(|| view! {
                <h3>"Expressions"</h3>
                <ul class="evaluation">
                    {evaluation.into_iter().map(|(field, description)| view! { <li><code>{field}</code>": "{description}</li> }).collect_view()}
                </ul>
            })}
            <h3>"Outputs"</h3>
            {if stage.outputs.is_empty() {
                view! { <p class="muted">"None yet."</p> }.into_any()
            } else {
                json_tree("outputs".into(), &Value::Object(stage.outputs.clone()), 0)
            }}
            <h3>"Context"</h3>
            {json_tree("context".into(), &Value::Object(config), 0)}
        </section>
    }
}
