//! The forms of the other kinds with one: Service, Ingress, ConfigMap, HorizontalPodAutoscaler.

use leptos::prelude::*;
use serde_json::{Value, json};

use super::fields::{Choice, Docs, EntryList, PathInput};
use crate::model::manifest_form::{self as form, Input};

#[component]
pub(super) fn ServiceForm(docs: Docs) -> impl IntoView {
    let set_type = Callback::new(move |t: String| {
        docs.restructure(|d| form::set(d, "spec.type", (!t.is_empty()).then(|| json!(t))))
    });
    view! {
        <div class="service-form">
            <div class="form-grid">
                <PathInput docs label="Name" path="metadata.name".into() input=Input::Text />
                {move || {
                    docs.revision.get();
                    let current = form::get(&docs.doc(), "spec.type").and_then(Value::as_str).unwrap_or_default().to_owned();
                    view! { <Choice label="Type" path="spec.type".into() selected=current on_pick=set_type
                        options=vec![("", "ClusterIP (default)"), ("ClusterIP", "ClusterIP"), ("NodePort", "NodePort"), ("LoadBalancer", "LoadBalancer")] /> }
                }}
                <PathInput docs label="Selector (key=value per line)" path="spec.selector".into() input=Input::KeyValues />
            </div>
            <fieldset class="ports">
                <EntryList docs path="spec.ports".into() title="Ports" add_label="Add port" row=service_port
                    new_entry=|_| json!({"port": 80, "targetPort": 8080}) />
            </fieldset>
        </div>
    }
    .into_any()
}

fn service_port(docs: Docs, at: String) -> AnyView {
    view! {
        <PathInput docs label="Name" path=format!("{at}.name") input=Input::Text />
        <PathInput docs label="Port" path=format!("{at}.port") input=Input::Int />
        <PathInput docs label="Target port" path=format!("{at}.targetPort") input=Input::IntOrName />
        <PathInput docs label="Protocol" path=format!("{at}.protocol") input=Input::Text placeholder="TCP" />
    }
    .into_any()
}

#[component]
pub(super) fn IngressForm(docs: Docs) -> impl IntoView {
    view! {
        <div class="ingress-form">
            <div class="form-grid">
                <PathInput docs label="Name" path="metadata.name".into() input=Input::Text />
                <PathInput docs label="Ingress class" path="spec.ingressClassName".into() input=Input::Text placeholder="nginx" />
            </div>
            <fieldset class="rules">
                <EntryList docs path="spec.rules".into() title="Rules" add_label="Add rule" row=ingress_rule new_entry=|d| {
                    // A new rule routes to the same Service as the first one.
                    let backend = form::get(d, "spec.rules[0].http.paths[0].backend.service").cloned()
                        .unwrap_or_else(|| json!({"name": "", "port": {"number": 80}}));
                    json!({"host": "", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": backend}}]}})
                } />
            </fieldset>
        </div>
    }
    .into_any()
}

/// A rule: its host and, per path, where it goes.
fn ingress_rule(docs: Docs, at: String) -> AnyView {
    let paths = format!("{at}.http.paths");
    let n = form::get(&docs.doc(), &paths)
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    view! {
        <PathInput docs label="Host" path=format!("{at}.host") input=Input::Text />
        {(0..n).map(|j| {
            let p = format!("{paths}[{j}]");
            view! {
                <PathInput docs label="Path" path=format!("{p}.path") input=Input::Text />
                <PathInput docs label="Path type" path=format!("{p}.pathType") input=Input::Text placeholder="Prefix" />
                <PathInput docs label="Service" path=format!("{p}.backend.service.name") input=Input::Text />
                <PathInput docs label="Service port" path=format!("{p}.backend.service.port.number") input=Input::Int />
            }
        }).collect_view()}
    }
    .into_any()
}

#[component]
pub(super) fn ConfigMapForm(docs: Docs) -> impl IntoView {
    view! {
        <div class="configmap-form form-grid">
            <PathInput docs label="Name" path="metadata.name".into() input=Input::Text />
            <PathInput docs label="Data (JSON object: key → text)" path="data".into() input=Input::Json />
        </div>
    }
    .into_any()
}

#[component]
pub(super) fn AutoscalerForm(docs: Docs) -> impl IntoView {
    view! {
        <div class="hpa-form form-grid">
            <PathInput docs label="Name" path="metadata.name".into() input=Input::Text />
            <PathInput docs label="Scales (kind)" path="spec.scaleTargetRef.kind".into() input=Input::Text />
            <PathInput docs label="Scales (name)" path="spec.scaleTargetRef.name".into() input=Input::Text />
            <PathInput docs label="Min replicas" path="spec.minReplicas".into() input=Input::Int />
            <PathInput docs label="Max replicas" path="spec.maxReplicas".into() input=Input::Int />
            <PathInput docs label="Target CPU utilization (%)" path="spec.metrics[0].resource.target.averageUtilization".into() input=Input::Int />
        </div>
    }
    .into_any()
}
