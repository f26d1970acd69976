//! The Integrations page: each Jenkins master and registry account with whether it answers.

use leptos::prelude::*;
use leptos_meta::Title;

use super::ErrorBanner;
use crate::api::integrations_health;

#[component]
pub fn IntegrationsPage() -> impl IntoView {
    let tick = RwSignal::new(0u32);
    let health = Resource::new(move || tick.get(), |_| integrations_health());
    view! {
        <Title text="Integrations · Topsail" />
        <section data-testid="integrations">
            <header class="page-header">
                <h1>"Integrations"</h1>
                <button class="button" on:click=move |_| tick.update(|t| *t += 1)>"Check again"</button>
            </header>
            <p class="muted">"Kubernetes accounts, Jenkins masters and Docker registries from the configuration, checked when this page loads."</p>
            <Transition fallback=|| view! { <p class="muted">"Checking…"</p> }>
                {move || health.get().map(|result| match result {
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <p class="empty">"No Kubernetes accounts, Jenkins masters or registries are configured. Add them under "<code>"[[kubernetes.accounts]]"</code>", "<code>"[[jenkins.masters]]"</code>" and "<code>"[[registries]]"</code>" in the configuration file."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <table class="list" aria-label="Integrations">
                            <thead><tr><th scope="col">"Kind"</th><th scope="col">"Name"</th><th scope="col">"Address"</th><th scope="col">"State"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|i| view! {
                                    <tr data-integration=i.name.clone() data-healthy=i.healthy.to_string()>
                                        <td>{i.kind.clone()}</td>
                                        <td>{i.name.clone()}</td>
                                        <td class="muted">{i.address.clone()}</td>
                                        <td>
                                            <span class=if i.healthy { "status status-SUCCEEDED" } else { "status status-TERMINAL" }>
                                                {if i.healthy { "healthy" } else { "unhealthy" }}
                                            </span>
                                            " "{i.detail.clone()}
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}
