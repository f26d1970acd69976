//! A pod's log in the Infrastructure tab's details: per container, the previous instance's
//! (what a crashed container said before its restart), follow mode (read again every two
//! seconds, kept scrolled to the newest line) and a download of the whole read.

use leptos::html::Pre;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{ErrorBanner, encode_query_value};
use crate::api::{ApiError, pod_logs};
use crate::model::infrastructure::ObjectRef;

/// How often follow mode reads the log again.
#[cfg(feature = "hydrate")]
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// The address of the log as a file.
fn download_href(pod: &ObjectRef, container: &str, previous: bool) -> String {
    let mut href = format!(
        "/api/infrastructure/logs/download?application={}&account={}&namespace={}&pod={}&container={}",
        encode_query_value(&pod.application),
        encode_query_value(&pod.account),
        encode_query_value(&pod.namespace),
        encode_query_value(&pod.name),
        encode_query_value(container),
    );
    if previous {
        href.push_str("&previous=true");
    }
    href
}

#[component]
pub(crate) fn PodLogs(pod: ObjectRef, containers: Vec<String>) -> impl IntoView {
    let container = RwSignal::new(None::<String>);
    let previous = RwSignal::new(false);
    let follow = RwSignal::new(false);
    let text: RwSignal<Option<Result<String, ApiError>>> = RwSignal::new(None);
    let load = {
        let pod = pod.clone();
        move || {
            let Some(c) = container.get_untracked() else {
                return;
            };
            let (pod, previous) = (pod.clone(), previous.get_untracked());
            spawn_local(async move { text.set(Some(pod_logs(pod, Some(c), previous).await)) });
        }
    };
    // Follow mode: read again while it is on (in the browser; the server renders no log).
    #[cfg(feature = "hydrate")]
    if let Ok(handle) = set_interval_with_handle(
        {
            let load = load.clone();
            move || {
                if follow.get_untracked() {
                    load();
                }
            }
        },
        FOLLOW_EVERY,
    ) {
        on_cleanup(move || handle.clear());
    }
    // Kept scrolled to the newest line while following.
    let pre = NodeRef::<Pre>::new();
    Effect::new(move |_| {
        text.track();
        if follow.get_untracked()
            && let Some(pre) = pre.get()
        {
            // After the new text is in the page.
            request_animation_frame(move || pre.set_scroll_top(pre.scroll_height()));
        }
    });
    let href = {
        let pod = pod.clone();
        move || {
            container
                .get()
                .map(|c| download_href(&pod, &c, previous.get()))
        }
    };
    view! {
        <h4>"Logs"</h4>
        <div class="log-buttons">
            {containers.into_iter().map(|c| {
                let load = load.clone();
                let label = format!("Logs of {c}");
                view! {
                    <button class="button small-button" on:click=move |_| { container.set(Some(c.clone())); load(); }>{label}</button>
                }
            }).collect_view()}
        </div>
        <Show when=move || container.get().is_some()>
            <div class="log-options">
                <label><input type="checkbox" prop:checked=previous on:change={
                    let load = load.clone();
                    move |ev| { previous.set(event_target_checked(&ev)); load(); }
                } />" Previous container"</label>
                <label><input type="checkbox" prop:checked=follow on:change=move |ev| follow.set(event_target_checked(&ev)) />" Follow"</label>
                <a class="button small-button" href=href.clone() download="" rel="external">"Download"</a>
            </div>
        </Show>
        {move || text.get().map(|result| match result {
            Ok(t) => view! { <pre class="logs" data-testid="logs" node_ref=pre>{t}</pre> }.into_any(),
            Err(error) => view! { <ErrorBanner error /> }.into_any(),
        })}
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_download_names_the_pod_and_container() {
        let pod = crate::model::infrastructure::ObjectRef {
            application: "shop".into(),
            account: "sim-1".into(),
            namespace: "shop test".into(),
            kind: "Pod".into(),
            name: "web-1".into(),
        };
        assert_eq!(
            super::download_href(&pod, "main", true),
            "/api/infrastructure/logs/download?application=shop&account=sim-1&namespace=shop%20test&pod=web-1&container=main&previous=true"
        );
    }
}
