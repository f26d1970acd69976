//! "Pick from a registry": a configured registry account, one of its repositories and one of
//! that repository's tags become the container's image (`host/repository:tag`). The lists come
//! from the registry through Topsail (`/api/registries/{account}/repositories`,
//! `/gate/images/tags`, `/api/registries/{account}/image`, which also checks the tag exists).

use leptos::prelude::*;

use super::fields::input_id;

/// `GET url` as JSON, or `None` with what went wrong kept out of the way (the picker just shows
/// less).
#[cfg(feature = "hydrate")]
async fn get<T: serde::de::DeserializeOwned>(url: &str) -> Option<T> {
    match gloo_net::http::Request::get(url).send().await {
        Ok(r) if r.ok() => r.json::<T>().await.ok(),
        _ => None,
    }
}

#[cfg(feature = "hydrate")]
fn encode(text: &str) -> String {
    String::from(js_sys::encode_uri_component(text))
}

#[component]
pub(super) fn ImagePicker(path: String, on_pick: Callback<String>) -> impl IntoView {
    let registries = RwSignal::new(Vec::<String>::new());
    let registry = RwSignal::new(String::new());
    let repositories = RwSignal::new(Vec::<String>::new());
    let repository = RwSignal::new(String::new());
    let tags = RwSignal::new(Vec::<String>::new());
    let tag = RwSignal::new(String::new());
    let note = RwSignal::new(None::<String>);
    #[cfg(feature = "hydrate")]
    {
        leptos::task::spawn_local(async move {
            let health = crate::api::integrations_health().await.unwrap_or_default();
            let names: Vec<String> = health
                .into_iter()
                .filter(|i| i.kind == "registry")
                .map(|i| i.name)
                .collect();
            if let Some(first) = names.first() {
                registry.set(first.clone());
            }
            registries.set(names);
        });
        Effect::new(move |_| {
            let account = registry.get();
            if account.is_empty() {
                return;
            }
            leptos::task::spawn_local(async move {
                let url = format!("/api/registries/{}/repositories", encode(&account));
                repositories.set(get(&url).await.unwrap_or_default());
            });
        });
        Effect::new(move |_| {
            let (account, repo) = (registry.get(), repository.get());
            if account.is_empty() || repo.is_empty() {
                return;
            }
            leptos::task::spawn_local(async move {
                let url = format!(
                    "/gate/images/tags?account={}&repository={}",
                    encode(&account),
                    encode(&repo)
                );
                let mut list: Vec<String> = get(&url).await.unwrap_or_default();
                list.sort();
                list.reverse();
                if let Some(first) = list.first() {
                    tag.set(first.clone());
                }
                tags.set(list);
            });
        });
    }
    let use_image = move |_| {
        let (account, repo, chosen) = (
            registry.get_untracked(),
            repository.get_untracked(),
            tag.get_untracked(),
        );
        if account.is_empty() || repo.is_empty() || chosen.is_empty() {
            note.set(Some("Choose a registry, a repository and a tag.".into()));
            return;
        }
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let url = format!(
                "/api/registries/{}/image?repository={}&tag={}",
                encode(&account),
                encode(&repo),
                encode(&chosen)
            );
            match get::<serde_json::Value>(&url).await {
                Some(found) => {
                    let host = found["image"]["registry"].as_str().unwrap_or_default();
                    on_pick.run(format!("{host}/{repo}:{chosen}"));
                    note.set(None);
                }
                None => note.set(Some(format!("{repo}:{chosen} was not found in {account}."))),
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = on_pick;
    };
    let id = |what: &str| input_id(&format!("{path}-{what}"));
    let (registry_id, repository_id, tag_id, list_id) = (
        id("registry"),
        id("repository"),
        id("tag"),
        id("repositories"),
    );
    view! {
        <details class="image-picker">
            <summary>"Pick from a registry"</summary>
            {move || registries.with(Vec::is_empty).then(|| view! { <p class="muted small">"No registry is configured (see Integrations)."</p> })}
            <div class="form-grid">
                <div class="field">
                    <label for=registry_id.clone()>"Registry"</label>
                    <select id=registry_id on:change=move |ev| registry.set(event_target_value(&ev))>
                        {move || registries.get().into_iter().map(|r| view! { <option value=r.clone() selected=r == registry.get_untracked()>{r.clone()}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for=repository_id.clone()>"Repository"</label>
                    <input id=repository_id list=list_id.clone() autocomplete="off" on:change=move |ev| repository.set(event_target_value(&ev)) />
                    <datalist id=list_id>{move || repositories.get().into_iter().map(|r| view! { <option value=r /> }).collect_view()}</datalist>
                </div>
                <div class="field">
                    <label for=tag_id.clone()>"Tag"</label>
                    <select id=tag_id on:change=move |ev| tag.set(event_target_value(&ev))>
                        {move || tags.get().into_iter().map(|t| view! { <option value=t.clone() selected=t == tag.get_untracked()>{t.clone()}</option> }).collect_view()}
                    </select>
                </div>
                <button type="button" class="button small-button" on:click=use_image>"Use this image"</button>
            </div>
            <span class="field-error">{move || note.get()}</span>
        </details>
    }
    .into_any()
}
