//! The execution's stage graph: stages by dependency depth, coloured by status; a click selects
//! a stage.

use leptos::prelude::*;

use crate::model::execution::Execution;

/// The stage graph: columns by dependency depth, parallel stages stacked, an edge per
/// requisite; each node coloured by status with its time. Clicking a node selects the stage.
#[component]
pub(super) fn PipelineGraph(
    execution: Execution,
    selected: RwSignal<Option<String>>,
    now: RwSignal<Option<i64>>,
) -> impl IntoView {
    use crate::model::graph::{GraphStage, NODE_HEIGHT, NODE_WIDTH, layout, short_duration};
    let shape: Vec<GraphStage> = execution
        .stages
        .iter()
        .map(|s| GraphStage {
            ref_id: s.ref_id.clone(),
            requisites: s.requisite_stage_ref_ids.clone(),
        })
        .collect();
    let placed = layout(&shape);
    let view_box = format!("0 0 {} {}", placed.width, placed.height);
    let edges = placed.edges.iter().map(|e| {
        let (from, to) = (execution.stages[e.from].ref_id.clone(), execution.stages[e.to].ref_id.clone());
        let done = execution.stages[e.from].status.lets_downstream_run();
        view! { <path class=if done { "edge edge-done" } else { "edge" } d=e.path.clone() data-from=from data-to=to /> }
    }).collect_view();
    let nodes = placed.nodes.iter().map(|n| {
        let stage = &execution.stages[n.index];
        let (start, end) = (stage.start_time, stage.end_time);
        let time = move || match (start, end) {
            (Some(s), Some(e)) => short_duration(e - s),
            (Some(s), None) => now.get().map(|t| short_duration(t - s)).unwrap_or_else(|| "running".to_owned()),
            _ => String::new(),
        };
        let kind = stage.stage_type.clone();
        let name: String = if stage.name.chars().count() > 22 { format!("{}…", stage.name.chars().take(21).collect::<String>()) } else { stage.name.clone() };
        // Stages are selected by refId: it is what the address shows (`?stage=`).
        let id = stage.ref_id.clone();
        let status = stage.status;
        let is_selected = {
            let id = id.clone();
            move || selected.get().as_deref() == Some(id.as_str())
        };
        view! {
            <g class=move || format!("node status-{}{}", status.as_str(), if is_selected() { " selected" } else { "" })
                data-stage=stage.ref_id.clone() data-status=stage.status.as_str()
                transform=format!("translate({},{})", n.x, n.y)
                role="button" tabindex="0" aria-label=format!("{} ({})", stage.name, stage.status.as_str())
                on:click={
                    let id = id.clone();
                    move |_| selected.set(Some(id.clone()))
                }
                on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Enter" || ev.key() == " " { selected.set(Some(id.clone())) }>
                <title>{format!("{} · {} · {}", stage.name, stage.stage_type, stage.status.as_str())}</title>
                <rect width=NODE_WIDTH height=NODE_HEIGHT rx="6" />
                <text x="10" y="18" class="node-name">{name}</text>
                <text x="10" y="35" class="node-meta">{move || format!("{kind} {}", time())}</text>
            </g>
        }
    }).collect_view();
    view! {
        <div class="graph" data-testid="graph">
            <svg viewBox=view_box.clone() width=placed.width height=placed.height role="group" aria-label="Stage graph">
                <g class="edges">{edges}</g>
                <g class="nodes">{nodes}</g>
            </svg>
        </div>
    }
}
