//! The workload form (Deployment, StatefulSet, DaemonSet): name, labels, replicas, update
//! strategy, containers, sidecars from templates, volumes and scheduling.

use leptos::prelude::*;
use serde_json::{Value, json};

use super::EditorContext;
use super::container::ContainerForm;
use super::fields::{Choice, Docs, EntryList, PathInput};
use crate::model::manifest_form::{self as form, Input, VOLUME_SOURCES};
use crate::model::manifests::sidecars::{SidecarChoice, SidecarTemplate, add_sidecar};

const POD: &str = "spec.template.spec";

#[component]
pub(super) fn WorkloadForm(docs: Docs, kind: String, context: EditorContext) -> impl IntoView {
    let strategy_path = form::strategy_path(&kind);
    let add_container = Callback::new(move |_| {
        docs.restructure(|d| {
            let n = form::containers(d).len() + 1;
            form::push(
                d,
                &format!("{POD}.containers"),
                json!({"name": format!("container-{n}"), "image": ""}),
            );
        })
    });
    let set_strategy = {
        let kind = kind.clone();
        Callback::new(move |s: String| docs.restructure(|d| form::set_strategy(d, &kind, &s)))
    };
    let strategy_types: Vec<(&'static str, &'static str)> = if kind == "Deployment" {
        vec![
            ("RollingUpdate", "Rolling update"),
            ("Recreate", "Recreate"),
        ]
    } else {
        vec![
            ("RollingUpdate", "Rolling update"),
            ("OnDelete", "On delete"),
        ]
    };
    view! {
        <div class="workload-form">
            <div class="form-grid">
                <PathInput docs label="Name" path="metadata.name".into() input=Input::Text />
                {(kind != "DaemonSet").then(|| view! { <PathInput docs label="Replicas" path="spec.replicas".into() input=Input::Int /> })}
                <PathInput docs label="Labels (key=value per line)" path="metadata.labels".into() input=Input::KeyValues />
                <PathInput docs label="Pod labels" path="spec.template.metadata.labels".into() input=Input::KeyValues />
                <PathInput docs label="Selector" path="spec.selector.matchLabels".into() input=Input::KeyValues />
            </div>
            <fieldset class="strategy">
                <legend>"Update strategy"</legend>
                {move || {
                    docs.revision.get();
                    let doc = docs.doc();
                    let current = form::get(&doc, &format!("{strategy_path}.type")).and_then(Value::as_str).unwrap_or("RollingUpdate").to_owned();
                    let rolling = format!("{strategy_path}.rollingUpdate");
                    let settings = (current == "RollingUpdate").then(|| match kind.as_str() {
                        "Deployment" => view! {
                            <PathInput docs label="Max surge (number or %)" path=format!("{rolling}.maxSurge") input=Input::IntOrPercent />
                            <PathInput docs label="Max unavailable (number or %)" path=format!("{rolling}.maxUnavailable") input=Input::IntOrPercent />
                        }.into_any(),
                        "StatefulSet" => view! { <PathInput docs label="Partition" path=format!("{rolling}.partition") input=Input::Int /> }.into_any(),
                        _ => view! { <PathInput docs label="Max unavailable (number or %)" path=format!("{rolling}.maxUnavailable") input=Input::IntOrPercent /> }.into_any(),
                    });
                    view! {
                        <div class="form-grid">
                            <Choice label="Type" path=format!("{strategy_path}.type") selected=current options=strategy_types.clone() on_pick=set_strategy />
                            {settings}
                        </div>
                    }
                }}
            </fieldset>
            <div class="list-head">
                <h3>"Containers"</h3>
                <button type="button" class="button small-button" on:click=move |_| add_container.run(())>"Add container"</button>
            </div>
            {
                let context = context.clone();
                move || {
                docs.revision.get();
                let context = context.clone();
                form::containers(&docs.doc()).into_iter().map(move |(path, name, role)| {
                    view! { <ContainerForm docs path name role context=context.clone() /> }
                }).collect_view()
            }}
            <AddSidecar docs context=context.clone() />
            <Volumes docs />
            <fieldset class="scheduling">
                <legend>"Scheduling"</legend>
                <div class="form-grid">
                    <PathInput docs label="Node selector (key=value per line)" path=format!("{POD}.nodeSelector") input=Input::KeyValues />
                    <PathInput docs label="Tolerations (JSON)" path=format!("{POD}.tolerations") input=Input::Json />
                    <PathInput docs label="Affinity (JSON)" path=format!("{POD}.affinity") input=Input::Json />
                </div>
            </fieldset>
        </div>
    }
    .into_any()
}

/// "Add sidecar": a template, its parameters, the container it shares the volume with and where
/// the volume is mounted in each.
#[component]
fn AddSidecar(docs: Docs, context: EditorContext) -> impl IntoView {
    let chosen = RwSignal::new(None::<SidecarTemplate>);
    let values = RwSignal::new(SidecarChoice::default());
    let refused = RwSignal::new(None::<String>);
    let templates = context.sidecars;
    let pick = move |ev| {
        let id = event_target_value(&ev);
        let template = templates.get_untracked().into_iter().find(|t| t.id == id);
        let app_container = form::containers(&docs.doc())
            .into_iter()
            .find(|(_, _, r)| *r == form::Role::Main)
            .map(|(_, n, _)| n)
            .unwrap_or_default();
        values.set(SidecarChoice {
            app_container,
            values: template
                .iter()
                .flat_map(|t| {
                    t.parameters
                        .iter()
                        .map(|p| (p.name.clone(), p.default.clone()))
                })
                .collect(),
            app_mount_path: template.as_ref().map(|t| t.volume.app_mount_path.clone()),
            sidecar_mount_path: template
                .as_ref()
                .map(|t| t.volume.sidecar_mount_path.clone()),
        });
        refused.set(None);
        chosen.set(template);
    };
    let add = move |_| {
        let Some(template) = chosen.get_untracked() else {
            return;
        };
        let choice = values.get_untracked();
        let result = docs.edit(|d| add_sidecar(d, &template, &choice));
        match result {
            Some(Err(why)) => refused.set(Some(why)),
            _ => {
                docs.revision.update(|r| *r += 1);
                chosen.set(None);
            }
        }
    };
    let text = move |label: &'static str,
                     id: &'static str,
                     get: fn(&SidecarChoice) -> String,
                     put: fn(&mut SidecarChoice, String)| {
        view! {
            <div class="field">
                <label for=id>{label}</label>
                <input id=id prop:value=move || values.with(get) on:input=move |ev| values.update(|v| put(v, event_target_value(&ev))) />
            </div>
        }
    };
    view! {
        <fieldset class="add-sidecar">
            <legend>"Add sidecar"</legend>
            <div class="field">
                <label for="mf-sidecar-template">"Template"</label>
                <select id="mf-sidecar-template" on:change=pick prop:value=move || chosen.with(|c| c.as_ref().map(|t| t.id.clone()).unwrap_or_default())>
                    <option value="">"Choose a sidecar…"</option>
                    {move || templates.get().into_iter().map(|t| view! { <option value=t.id.clone()>{t.label.clone()}</option> }).collect_view()}
                </select>
            </div>
            {move || chosen.get().map(|t| view! {
                <p class="muted small">{t.description.clone()}</p>
                <div class="form-grid">
                    {text("Shares its volume with container", "mf-sidecar-app", |v| v.app_container.clone(), |v, s| v.app_container = s)}
                    {text("Mounted in that container at", "mf-sidecar-app-path", |v| v.app_mount_path.clone().unwrap_or_default(), |v, s| v.app_mount_path = Some(s))}
                    {text("Mounted in the sidecar at", "mf-sidecar-path", |v| v.sidecar_mount_path.clone().unwrap_or_default(), |v, s| v.sidecar_mount_path = Some(s))}
                    {t.parameters.iter().map(|p| {
                        let name = p.name.clone();
                        let id = format!("mf-sidecar-param-{}", p.name);
                        let read = name.clone();
                        view! {
                            <div class="field">
                                <label for=id.clone()>{format!("{} ({})", p.label, p.name)}</label>
                                <input id=id prop:value=move || values.with(|v| v.values.get(&read).cloned().unwrap_or_default())
                                    on:input=move |ev| { let value = event_target_value(&ev); values.update(|v| { v.values.insert(name.clone(), value); }); } />
                            </div>
                        }
                    }).collect_view()}
                </div>
                <button type="button" class="button" on:click=add>{format!("Add {}", t.label)}</button>
            })}
            <span class="field-error">{move || refused.get()}</span>
        </fieldset>
    }
    .into_any()
}

#[component]
fn Volumes(docs: Docs) -> impl IntoView {
    let path = format!("{POD}.volumes");
    let names = {
        let path = path.clone();
        move || {
            docs.revision.get();
            form::get(&docs.doc(), &path)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect::<Vec<_>>()
        }
    };
    view! {
        <fieldset class="volumes">
            // The names the mounts' "Volume" inputs suggest.
            <datalist id="mf-volume-names">{move || names().into_iter().map(|n| view! { <option value=n /> }).collect_view()}</datalist>
            <EntryList docs path title="Volumes" add_label="Add volume" row=volume_row new_entry=|d| {
                let n = form::get(d, &format!("{POD}.volumes")).and_then(Value::as_array).map_or(0, Vec::len) + 1;
                json!({"name": format!("volume-{n}"), "emptyDir": {}})
            } />
        </fieldset>
    }
    .into_any()
}

/// A volume: its name, its source and what the source needs.
fn volume_row(docs: Docs, at: String) -> AnyView {
    let source = form::get(&docs.doc(), &at)
        .map(form::volume_source)
        .unwrap_or_default();
    let switch = {
        let at = at.clone();
        Callback::new(move |s: String| docs.restructure(|d| form::set_volume_source(d, &at, &s)))
    };
    let detail = match source.as_str() {
        "emptyDir" => view! { <PathInput docs label="Size limit" path=format!("{at}.emptyDir.sizeLimit") input=Input::Quantity resource="memory" /> }.into_any(),
        "configMap" => view! { <PathInput docs label="ConfigMap" path=format!("{at}.configMap.name") input=Input::Text /> }.into_any(),
        "secret" => view! { <PathInput docs label="Secret" path=format!("{at}.secret.secretName") input=Input::Text /> }.into_any(),
        "persistentVolumeClaim" => view! { <PathInput docs label="Claim" path=format!("{at}.persistentVolumeClaim.claimName") input=Input::Text /> }.into_any(),
        other => view! { <span class="muted small">{format!("A {other} volume: edit it in the YAML view.")}</span> }.into_any(),
    };
    let mut options: Vec<(&'static str, &'static str)> =
        VOLUME_SOURCES.iter().map(|s| (*s, *s)).collect();
    if !VOLUME_SOURCES.contains(&source.as_str()) {
        options.push(("", "(other)"));
    }
    view! {
        <PathInput docs label="Name" path=format!("{at}.name") input=Input::Text />
        <Choice label="Source" path=format!("{at}.source") selected=source.clone() on_pick=switch options />
        {detail}
    }
    .into_any()
}
