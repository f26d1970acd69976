//! The History panel: saved versions, the changes between one and the one before, restore.

use leptos::prelude::*;
use serde_json::{Map, Value, json};

use super::EditorState;
use crate::api::{pipeline_diff, pipeline_history, restore_pipeline};
use crate::ui::{ErrorBanner, Time};

/// Saved versions, newest first: diff each with the one before, restore one.
#[component]
pub(super) fn HistoryPanel(
    state: EditorState,
    saved_doc: RwSignal<Option<Map<String, Value>>>,
    saved_version: RwSignal<Option<u32>>,
) -> impl IntoView {
    let id = move || {
        state
            .doc
            .with(|d| d.get("id").and_then(Value::as_str).map(str::to_owned))
    };
    let tick = RwSignal::new(0u32);
    let history = Resource::new(
        move || (id(), tick.get()),
        |(id, _)| async move {
            match id {
                Some(id) => pipeline_history(id).await,
                None => Ok(Vec::new()),
            }
        },
    );
    let diff = Action::new(move |(from, to): &(u32, u32)| {
        let (from, to) = (*from, *to);
        let id = id().unwrap_or_default();
        async move {
            pipeline_diff(id, from, to)
                .await
                .map(|changes| (from, to, changes))
        }
    });
    let restore = Action::new(move |version: &u32| {
        let version = *version;
        let id = id().unwrap_or_default();
        async move {
            restore_pipeline(id, version)
                .await
                .map(|saved| (version, saved))
        }
    });
    Effect::new(move |_| {
        if let Some(Ok((version, saved))) = restore.value().get() {
            // The restored document becomes what the editor shows.
            if let Some(Ok(list)) = history.get_untracked()
                && let Some(v) = list.iter().find(|v| v.version == version)
            {
                let mut d = v.document.as_map().clone();
                d.insert("id".into(), json!(saved.id));
                d.insert("updateTs".into(), json!(saved.update_ts));
                state.restructure(|doc| *doc = d.clone());
                saved_doc.set(Some(d));
                saved_version.set(Some(saved.version));
            }
            tick.update(|t| *t += 1);
        }
    });
    view! {
        <section class="history" data-testid="history">
            {move || id().is_none().then(|| view! { <p class="muted">"Save the pipeline to start its history."</p> })}
            <Transition fallback=|| ()>
                {move || history.get().map(|r| match r {
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    Ok(list) => view! {
                        <table class="list" aria-label="Versions">
                            <tbody>
                                {list.into_iter().map(|v| view! {
                                    <tr data-version=v.version>
                                        <td>{format!("v{}", v.version)}</td>
                                        <td class="muted small"><Time at=v.saved_at />{format!(" by {}", v.saved_by)}</td>
                                        <td class="controls">
                                            {(v.version > 1).then(|| view! {
                                                <button class="button small-button" on:click=move |_| { diff.dispatch((v.version - 1, v.version)); }>"Changes"</button>
                                            })}
                                            <button class="button small-button" on:click=move |_| { restore.dispatch(v.version); }>"Restore"</button>
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Transition>
            {move || restore.value().get().map(|r| match r {
                Ok((version, saved)) => view! { <div class="banner ok" role="status">{format!("Version {version} restored as version {}.", saved.version)}</div> }.into_any(),
                Err(error) => view! { <ErrorBanner error /> }.into_any(),
            })}
            {move || diff.value().get().map(|r| match r {
                Err(error) => view! { <ErrorBanner error /> }.into_any(),
                Ok((from, to, changes)) => view! {
                    <h3>{format!("Changes from v{from} to v{to}")}</h3>
                    <div data-testid="diff"><crate::ui::Changes changes columns=("Where", "Before", "After") /></div>
                }.into_any(),
            })}
        </section>
    }
}
