//! One container of a workload: name, role and place, image (typed, picked from a registry's
//! repositories, or bound to an expected artifact), command and args, ports, environment,
//! resources, probes and volume mounts.

use leptos::prelude::*;
use serde_json::{Value, json};

use super::fields::{Choice, Docs, EntryList, PathInput, input_id};
use super::{Artifact, EditorContext};
use crate::model::manifest_form::{self as form, Input, Role};

#[component]
pub(super) fn ContainerForm(
    docs: Docs,
    /// `spec.template.spec.containers[0]` or `…initContainers[0]`.
    path: String,
    name: String,
    role: Role,
    context: EditorContext,
) -> impl IntoView {
    let (list, index) = split_index(&path);
    let set_role = {
        let path = path.clone();
        Callback::new(move |r: String| {
            let role = match r.as_str() {
                "main" => Role::Main,
                "init" => Role::Init,
                _ => Role::Sidecar,
            };
            docs.restructure(|d| form::set_role(d, &path, role));
        })
    };
    let step = {
        let list = list.clone();
        move |up: bool| {
            let list = list.clone();
            move |_| docs.restructure(|d| form::move_entry(d, &list, index, up))
        }
    };
    let remove = {
        let list = list.clone();
        move |_| docs.restructure(|d| form::remove_at(d, &list, index))
    };
    let p = |field: &str| format!("{path}.{field}");
    view! {
        <section class="container-form" data-container=name.clone() data-role=role.label()>
            <header class="list-head">
                <h3>{format!("Container {name}")}</h3>
                <div class="controls">
                    <button type="button" class="button small-button" aria-label=format!("Move {name} up") on:click=step(true)>"↑"</button>
                    <button type="button" class="button small-button" aria-label=format!("Move {name} down") on:click=step(false)>"↓"</button>
                    <button type="button" class="button danger small-button" on:click=remove>"Remove container"</button>
                </div>
            </header>
            <div class="form-grid">
                <PathInput docs label="Name" path=p("name") input=Input::Text />
                <Choice label="Role" path=p("role") selected=role.label().to_owned() on_pick=set_role
                    options=vec![("main", "Main"), ("sidecar", "Sidecar"), ("init", "Init (runs first)")] />
            </div>
            <ImageField docs path=p("image") context />
            <div class="form-grid">
                <PathInput docs label="Command (one per line)" path=p("command") input=Input::Lines />
                <PathInput docs label="Args (one per line)" path=p("args") input=Input::Lines />
            </div>
            <fieldset class="ports">
                <EntryList docs path=p("ports") title="Ports" add_label="Add port" row=port_row
                    new_entry=|_| json!({"containerPort": 8080}) />
            </fieldset>
            <fieldset class="env">
                <EntryList docs path=p("env") title="Environment" add_label="Add variable" row=env_row
                    new_entry=|_| json!({"name": "", "value": ""}) />
            </fieldset>
            <fieldset class="resources">
                <legend>"Resources"</legend>
                <div class="form-grid">
                    <PathInput docs label="CPU request" path=p("resources.requests.cpu") input=Input::Quantity resource="cpu" placeholder="e.g. 250m" />
                    <PathInput docs label="CPU limit" path=p("resources.limits.cpu") input=Input::Quantity resource="cpu" placeholder="e.g. 500m" />
                    <PathInput docs label="Memory request" path=p("resources.requests.memory") input=Input::Quantity resource="memory" placeholder="e.g. 512Mi" />
                    <PathInput docs label="Memory limit" path=p("resources.limits.memory") input=Input::Quantity resource="memory" placeholder="e.g. 1Gi" />
                </div>
            </fieldset>
            <Probe docs path=p("readinessProbe") title="Readiness probe" />
            <Probe docs path=p("livenessProbe") title="Liveness probe" />
            <Probe docs path=p("startupProbe") title="Startup probe" />
            <fieldset class="mounts">
                <EntryList docs path=p("volumeMounts") title="Volume mounts" add_label="Add mount" row=mount_row
                    new_entry=|_| json!({"name": "", "mountPath": ""}) />
            </fieldset>
        </section>
    }
    .into_any()
}

/// `…containers[2]` → (`…containers`, 2).
pub(super) fn split_index(path: &str) -> (String, usize) {
    match path.rsplit_once('[') {
        Some((list, i)) => (
            list.to_owned(),
            i.trim_end_matches(']').parse().unwrap_or(0),
        ),
        None => (path.to_owned(), 0),
    }
}

/// The image: typed, picked from a registry (repository and tag), or bound to one of the
/// pipeline's expected artifacts (the image the run resolves, e.g. the one a build produced).
#[component]
fn ImageField(docs: Docs, path: String, context: EditorContext) -> impl IntoView {
    let artifacts = context.artifacts.clone();
    let bind = {
        let path = path.clone();
        let artifacts = artifacts.clone();
        move |ev| {
            let id = event_target_value(&ev);
            if let Some(a) = artifacts.iter().find(|a| a.id == id) {
                let name = a.name.clone();
                docs.restructure(|d| form::set(d, &path, Some(json!(name))));
                if let Some(on_bind) = context.on_bind {
                    on_bind.run(a.id.clone());
                }
            }
        }
    };
    let current = form::get(&docs.doc(), &path)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let bound = artifacts
        .iter()
        .find(|a| a.name == current)
        .map(|a| a.id.clone());
    let pick = {
        let path = path.clone();
        Callback::new(move |image: String| {
            docs.restructure(|d| form::set(d, &path, Some(json!(image))))
        })
    };
    view! {
        <div class="form-grid image-field">
            <PathInput docs label="Image" path=path.clone() input=Input::Text placeholder="registry/repository:tag" />
            {(!artifacts.is_empty()).then(|| view! {
                <div class="field">
                    <label for=input_id(&format!("{path}-artifact"))>"Or bind to an expected artifact"</label>
                    <select id=input_id(&format!("{path}-artifact")) on:change=bind>
                        <option value="">"(typed above)"</option>
                        {artifacts.iter().map(|a: &Artifact| view! {
                            <option value=a.id.clone() selected=bound.as_deref() == Some(a.id.as_str())>{a.label()}</option>
                        }).collect_view()}
                    </select>
                    {bound.is_some().then(|| view! { <span class="muted small" data-testid="image-bound">"Bound: each run deploys the artifact it resolves."</span> })}
                </div>
            })}
            <super::image_picker::ImagePicker path=path.clone() on_pick=pick />
        </div>
    }
    .into_any()
}

fn port_row(docs: Docs, at: String) -> AnyView {
    view! {
        <PathInput docs label="Container port" path=format!("{at}.containerPort") input=Input::Int />
        <PathInput docs label="Port name" path=format!("{at}.name") input=Input::Text />
    }
    .into_any()
}

/// A variable: its name and where its value comes from (a value, a ConfigMap or Secret key).
fn env_row(docs: Docs, at: String) -> AnyView {
    let source = form::get(&docs.doc(), &at)
        .map(form::env_source)
        .unwrap_or_default();
    let switch = {
        let at = at.clone();
        Callback::new(move |s: String| docs.restructure(|d| form::set_env_source(d, &at, &s)))
    };
    let value = match source.as_str() {
        "value" => view! { <PathInput docs label="Value" path=format!("{at}.value") input=Input::Text /> }.into_any(),
        "configMapKeyRef" | "secretKeyRef" => view! {
            <PathInput docs label="Name" path=format!("{at}.valueFrom.{source}.name") input=Input::Text />
            <PathInput docs label="Key" path=format!("{at}.valueFrom.{source}.key") input=Input::Text />
        }.into_any(),
        other => view! { <span class="muted small">{format!("From {other}: edit it in the YAML view.")}</span> }.into_any(),
    };
    view! {
        <PathInput docs label="Variable" path=format!("{at}.name") input=Input::Text />
        <Choice label="From" path=format!("{at}.source") selected=source.clone() on_pick=switch
            options=vec![("value", "Value"), ("configMapKeyRef", "ConfigMap key"), ("secretKeyRef", "Secret key")] />
        {value}
    }
    .into_any()
}

fn mount_row(docs: Docs, at: String) -> AnyView {
    view! {
        <PathInput docs label="Volume" path=format!("{at}.name") input=Input::Text list="mf-volume-names" />
        <PathInput docs label="Mount path" path=format!("{at}.mountPath") input=Input::Text />
        <PathInput docs label="Sub path" path=format!("{at}.subPath") input=Input::Text />
    }
    .into_any()
}

#[component]
fn Probe(docs: Docs, path: String, title: &'static str) -> impl IntoView {
    let probe = path.rsplit('.').next().unwrap_or_default().to_owned();
    view! {
        <fieldset class="probe" data-probe=probe>
            <legend>{title}</legend>
            {move || {
                docs.revision.get();
                let doc = docs.doc();
                let handler = form::probe_handler(form::get(&doc, &path));
                let container = path.rsplit_once('.').map(|(c, _)| c.to_owned()).unwrap_or_default();
                let port = form::get(&doc, &format!("{container}.ports[0].containerPort")).cloned().unwrap_or(json!(8080));
                let switch = {
                    let path = path.clone();
                    Callback::new(move |h: String| docs.restructure(|d| form::set_probe_handler(d, &path, &h, port.clone())))
                };
                let p = |f: &str| format!("{path}.{f}");
                let body = match handler {
                    "tcpSocket" => view! { <PathInput docs label="TCP port" path=p("tcpSocket.port") input=Input::Int /> }.into_any(),
                    "httpGet" => view! {
                        <PathInput docs label="Path" path=p("httpGet.path") input=Input::Text />
                        <PathInput docs label="Port" path=p("httpGet.port") input=Input::Int />
                        <PathInput docs label="Scheme" path=p("httpGet.scheme") input=Input::Text placeholder="HTTP or HTTPS" />
                        <PathInput docs label="Headers (JSON list of name/value)" path=p("httpGet.httpHeaders") input=Input::Json />
                    }.into_any(),
                    "exec" => view! { <PathInput docs label="Command (one per line)" path=p("exec.command") input=Input::Lines /> }.into_any(),
                    "grpc" => view! { <PathInput docs label="gRPC port" path=p("grpc.port") input=Input::Int /> }.into_any(),
                    _ => ().into_any(),
                };
                let timings = (!handler.is_empty()).then(|| view! {
                    <PathInput docs label="Initial delay (s)" path=p("initialDelaySeconds") input=Input::Int />
                    <PathInput docs label="Period (s)" path=p("periodSeconds") input=Input::Int />
                    <PathInput docs label="Timeout (s)" path=p("timeoutSeconds") input=Input::Int />
                    <PathInput docs label="Success threshold" path=p("successThreshold") input=Input::Int />
                    <PathInput docs label="Failure threshold" path=p("failureThreshold") input=Input::Int />
                });
                view! {
                    <div class="form-grid">
                        <Choice label="Check" path=p("handler") selected=handler.to_owned() on_pick=switch
                            options=vec![("", "None"), ("tcpSocket", "TCP port open"), ("httpGet", "HTTP GET"), ("exec", "Command"), ("grpc", "gRPC")] />
                        {body}
                        {timings}
                    </div>
                }
            }}
        </fieldset>
    }
    .into_any()
}
