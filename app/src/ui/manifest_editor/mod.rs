//! The manifest editor: a form and a YAML view of the same documents, switching both ways.
//! The form edits the documents in place (`model::manifest_form`), so what it does not show is
//! kept; the YAML view is written and read by the server (`manifests/yaml`, `manifests/parse`),
//! which also places every problem on its field and line. "What will change" is the cluster's
//! dry run. Used by the deployManifest stage form and the Infrastructure tab's "Edit".
//!
//! Its code is its own wasm split ([`LazyManifestEditor`]): it is fetched when an editor opens,
//! not with the pages around it.

mod container;
mod fields;
mod image_picker;
mod kinds;
mod workload;
mod yaml_view;

use leptos::prelude::*;
use serde_json::Value;

use crate::api::manifests::{
    parse_manifests, preview_manifests, render_manifests, sidecar_templates,
};
use crate::model::manifest_form::{self as form, FORM_KINDS};
use crate::model::manifests::sidecars::SidecarTemplate;
use crate::model::manifests::{ManifestProblem, check_rules};
use fields::Docs;
use yaml_view::YamlView;

/// An expected artifact of the pipeline an image can be bound to.
#[derive(Clone, Debug, PartialEq)]
pub struct Artifact {
    pub id: String,
    /// The image repository it matches (`registry/team/app`): what the container's image says.
    pub name: String,
    pub display_name: String,
}

impl Artifact {
    fn label(&self) -> String {
        if self.display_name.is_empty() {
            self.name.clone()
        } else {
            format!("{} ({})", self.display_name, self.name)
        }
    }
}

/// What an editor is opened with.
#[derive(Clone)]
pub struct Setup {
    pub initial: Vec<Value>,
    pub application: String,
    /// Where "What will change" looks: the stage's account and namespace override.
    pub account: Signal<String>,
    pub namespace: Signal<Option<String>>,
    pub artifacts: Vec<Artifact>,
    /// Every change of the documents.
    pub on_change: Callback<Vec<Value>>,
    /// An image bound to the artifact of this id.
    pub on_bind: Option<Callback<String>>,
    /// How many problems the documents have now (a stage with problems is not saved).
    pub on_problems: Option<Callback<usize>>,
}

/// What the forms need besides the documents.
#[derive(Clone)]
pub(super) struct EditorContext {
    artifacts: Vec<Artifact>,
    on_bind: Option<Callback<String>>,
    sidecars: RwSignal<Vec<SidecarTemplate>>,
}

/// Where an editor opens. The pages that open one build only this; everything else — reading
/// the stage, binding artifacts, the Apply and Cancel of an Infrastructure edit — is in the
/// editor's own split.
pub enum Opening {
    /// A deployManifest stage's manifests (the pipeline document, the stage's refId, and where
    /// each stage's count of problems goes: a stage with problems is not saved).
    Stage {
        doc: RwSignal<serde_json::Map<String, Value>>,
        ref_id: String,
        blocked: RwSignal<serde_json::Map<String, Value>>,
    },
    /// A live object on the Infrastructure tab; `on_apply` gets the edited object.
    Object {
        object: crate::model::infrastructure::ObjectRef,
        manifest: Value,
        on_apply: Callback<Value>,
        on_close: Callback<()>,
    },
}

#[leptos::lazy]
fn manifest_editor(opening: Opening) -> AnyView {
    match opening {
        Opening::Stage {
            doc,
            ref_id,
            blocked,
        } => {
            let setup = crate::ui::pipeline_editor::stage_setup(doc, ref_id, blocked);
            view! { <ManifestEditor setup /> }.into_any()
        }
        Opening::Object {
            object,
            manifest,
            on_apply,
            on_close,
        } => view! { <crate::ui::object_edit::EditObject object manifest on_apply on_close /> }
            .into_any(),
    }
}

/// The editor, its code fetched when it first shows. Loaded by hand, in as little code as can
/// be (no Suspense, effect or arena of its own): this part is in every page that opens an
/// editor, and counts against that page's budget. The server renders only "Loading…" (an
/// editor opens on a click, never in a page as served).
#[component]
pub fn LazyManifestEditor(opening: Opening) -> impl IntoView {
    let ready = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    {
        let slot = send_wrapper::SendWrapper::new(std::rc::Rc::new(std::cell::RefCell::new(
            None::<AnyView>,
        )));
        let filled = slot.clone();
        leptos::task::spawn_local(async move {
            *filled.borrow_mut() = Some(manifest_editor(opening).await);
            ready.set(true);
        });
        move || {
            if ready.get() {
                slot.borrow_mut().take()
            } else {
                Some(view! { <p class="muted">"Loading the manifest editor…"</p> }.into_any())
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    {
        // The editor is the browser's to load (named here so the server build keeps it).
        let _ = (opening, ready, manifest_editor);
        view! { <p class="muted">"Loading the manifest editor…"</p> }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Form,
    Yaml,
}

/// Runs `f` after `millis`, unless `turn` has moved on since (debounce).
fn later(turn: StoredValue<u32>, millis: u64, f: impl FnOnce() + 'static) {
    let mine = turn.get_value().wrapping_add(1);
    turn.set_value(mine);
    set_timeout(
        move || {
            if turn.get_value() == mine {
                f();
            }
        },
        std::time::Duration::from_millis(millis),
    );
}

/// The editor itself (inside the split).
#[component]
pub(crate) fn ManifestEditor(setup: Setup) -> impl IntoView {
    let documents = RwSignal::new(setup.initial.clone());
    let local = Memo::new(move |_| documents.with(|d| check_rules(d)));
    let docs = Docs {
        docs: documents,
        current: RwSignal::new(0),
        revision: RwSignal::new(0),
        server: RwSignal::new(Vec::new()),
        local,
        changed: setup.on_change,
    };
    let warnings = RwSignal::new(Vec::<ManifestProblem>::new());
    let mode = RwSignal::new(Mode::Form);
    let yaml = RwSignal::new(String::new());
    let yaml_problems = RwSignal::new(Vec::<ManifestProblem>::new());
    let error = RwSignal::new(None::<String>);
    let sidecars = RwSignal::new(Vec::new());
    let context = EditorContext {
        artifacts: setup.artifacts.clone(),
        on_bind: setup.on_bind,
        sidecars,
    };
    // Effects run in the browser only: the templates are asked for once there.
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            if let Ok(list) = sidecar_templates().await {
                sidecars.set(list);
            }
        })
    });
    // The server's check of the documents, shortly after the last change.
    let check_turn = StoredValue::new(0u32);
    Effect::new(move |_| {
        let current = documents.get();
        later(check_turn, 300, move || {
            leptos::task::spawn_local(async move {
                if let Ok(parsed) = parse_manifests(None, Some(current)).await {
                    docs.server.set(parsed.problems);
                    warnings.set(parsed.warnings);
                }
            })
        });
    });
    if let Some(report) = setup.on_problems {
        Effect::new(move |_| report.run(docs.all_problems().len()));
    }
    // Reads the YAML text; applies it unless it is not YAML. Answers whether it applied.
    let apply_yaml = move |text: String| async move {
        match parse_manifests(Some(text), None).await {
            Ok(parsed) => {
                let syntax_error = parsed.manifests.is_empty() && !parsed.problems.is_empty();
                yaml_problems.set(parsed.problems.clone());
                warnings.set(parsed.warnings);
                if syntax_error {
                    return false;
                }
                let n = parsed.manifests.len();
                documents.set(parsed.manifests);
                docs.server.set(parsed.problems);
                docs.current.update(|c| *c = (*c).min(n.saturating_sub(1)));
                docs.revision.update(|r| *r += 1);
                docs.changed.run(documents.get_untracked());
                true
            }
            Err(e) => {
                error.set(Some(e.to_string()));
                false
            }
        }
    };
    let yaml_turn = StoredValue::new(0u32);
    let on_yaml_input = Callback::new(move |text: String| {
        yaml.set(text.clone());
        later(yaml_turn, 400, move || {
            leptos::task::spawn_local(async move {
                apply_yaml(text).await;
            })
        });
    });
    let to_yaml = move |_| {
        error.set(None);
        leptos::task::spawn_local(async move {
            match render_manifests(documents.get_untracked()).await {
                Ok(rendered) => {
                    yaml.set(rendered.yaml.clone());
                    yaml_problems.set(Vec::new());
                    mode.set(Mode::Yaml);
                    // Place what is known to be wrong on its line.
                    if let Ok(parsed) = parse_manifests(Some(rendered.yaml), None).await {
                        yaml_problems.set(parsed.problems);
                    }
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let to_form = move |_| {
        error.set(None);
        yaml_turn.set_value(yaml_turn.get_value().wrapping_add(1));
        leptos::task::spawn_local(async move {
            if apply_yaml(yaml.get_untracked()).await {
                mode.set(Mode::Form);
            }
        });
    };
    let view_button = move |m: Mode,
                            label: &'static str,
                            go: Box<dyn Fn(leptos::ev::MouseEvent)>| {
        view! {
            <button type="button" class=move || if mode.get() == m { "tab active" } else { "tab" } aria-pressed=move || (mode.get() == m).to_string()
                on:click=move |ev| if mode.get_untracked() != m { go(ev) }>{label}</button>
        }
    };
    let target = (setup.application.clone(), setup.account, setup.namespace);
    view! {
        <section class="manifest-editor" data-testid="manifest-editor" data-mode=move || if mode.get() == Mode::Form { "form" } else { "yaml" }>
            <nav class="tabs" aria-label="Manifest view">
                {view_button(Mode::Form, "Form", Box::new(to_form))}
                {view_button(Mode::Yaml, "YAML", Box::new(to_yaml))}
            </nav>
            {move || error.get().map(|e| view! { <div class="banner error" role="alert">{e}</div> })}
            <ul class="problems warnings" data-testid="manifest-warnings">
                {move || warnings.get().into_iter().map(|w| view! {
                    <li class="problem warning">{if w.path.is_empty() { w.message } else { format!("{}: {}", w.path, w.message) }}</li>
                }).collect_view()}
            </ul>
            {move || match mode.get() {
                Mode::Yaml => view! { <YamlView initial=yaml.get_untracked() text=yaml problems=yaml_problems on_input=on_yaml_input /> }.into_any(),
                Mode::Form => view! { <FormView docs context=context.clone() application=setup.application.clone() /> }.into_any(),
            }}
            <Preview documents target />
        </section>
    }
    .into_any()
}

/// The form view: a tab per document, "Add object", and the current document's form.
#[component]
fn FormView(docs: Docs, context: EditorContext, application: String) -> impl IntoView {
    let new_kind = RwSignal::new("Service".to_owned());
    let add = move |_| {
        docs.docs.update(|list| {
            let base = list
                .iter()
                .find(|d| form::is_workload(form::kind_of(d)))
                .map(|d| form::name_of(d).to_owned())
                .unwrap_or_else(|| application.clone());
            let object = form::new_object(&new_kind.get_untracked(), &base, list);
            list.push(object);
        });
        docs.current.set(docs.docs.with_untracked(Vec::len) - 1);
        docs.revision.update(|r| *r += 1);
        docs.changed.run(docs.docs.get_untracked());
    };
    let remove = move |_| {
        let i = docs.current.get_untracked();
        docs.docs.update(|list| {
            if i < list.len() {
                list.remove(i);
            }
        });
        docs.current.set(i.saturating_sub(1));
        docs.revision.update(|r| *r += 1);
        docs.changed.run(docs.docs.get_untracked());
    };
    view! {
        <div class="form-view">
            <div class="doc-tabs">
                <nav class="tabs" aria-label="Objects">
                    {move || {
                        docs.revision.get();
                        docs.docs.with_untracked(|list| list.iter().enumerate().map(|(i, d)| {
                            let label = format!("{} {}", form::kind_of(d), form::name_of(d));
                            view! {
                                <button type="button" data-document=i class=move || if docs.current.get() == i { "tab active" } else { "tab" }
                                    on:click=move |_| { docs.current.set(i); docs.revision.update(|r| *r += 1); }>{label}</button>
                            }
                        }).collect_view())
                    }}
                </nav>
                <div class="inline-form">
                    <label for="mf-add-kind">"Add object"</label>
                    <select id="mf-add-kind" on:change=move |ev| new_kind.set(event_target_value(&ev))>
                        {FORM_KINDS.iter().map(|k| view! { <option value=*k selected=*k == "Service">{*k}</option> }).collect_view()}
                    </select>
                    <button type="button" class="button small-button" on:click=add>"Add object"</button>
                    <button type="button" class="button danger small-button" on:click=remove>"Remove this object"</button>
                </div>
            </div>
            {move || {
                docs.revision.get();
                let doc = docs.doc();
                let kind = form::kind_of(&doc).to_owned();
                let body = match kind.as_str() {
                    _ if docs.docs.with_untracked(Vec::is_empty) => view! { <p class="muted">"No objects yet: add one."</p> }.into_any(),
                    "Deployment" | "StatefulSet" | "DaemonSet" => view! { <workload::WorkloadForm docs kind=kind.clone() context=context.clone() /> }.into_any(),
                    "Service" => view! { <kinds::ServiceForm docs /> }.into_any(),
                    "Ingress" => view! { <kinds::IngressForm docs /> }.into_any(),
                    "ConfigMap" => view! { <kinds::ConfigMapForm docs /> }.into_any(),
                    "HorizontalPodAutoscaler" => view! { <kinds::AutoscalerForm docs /> }.into_any(),
                    other => view! { <p class="muted" data-testid="no-form">{format!("There is no form for {}: edit it in the YAML view.", if other.is_empty() { "an object without a kind" } else { other })}</p> }.into_any(),
                };
                view! { <div class="document-form" data-kind=kind>{body}</div> }
            }}
            <ul class="problems" data-testid="manifest-problems">
                {move || docs.all_problems().into_iter().map(|p| view! {
                    <li class="problem error" data-document=p.document data-path=p.path.clone()>{format!("object {} · {}: {}", p.document + 1, p.path, p.message)}</li>
                }).collect_view()}
            </ul>
        </div>
    }
    .into_any()
}

/// "What will change": the cluster's dry run of the documents, compared with what runs now.
#[component]
fn Preview(
    documents: RwSignal<Vec<Value>>,
    target: (String, Signal<String>, Signal<Option<String>>),
) -> impl IntoView {
    let (application, account, namespace) = target;
    let run = Action::new(move |_: &()| {
        let (application, account, namespace) = (
            application.clone(),
            account.get_untracked(),
            namespace.get_untracked(),
        );
        let manifests = documents.get_untracked();
        async move { preview_manifests(application, account, namespace, manifests).await }
    });
    view! {
        <section class="manifest-preview" data-testid="manifest-preview">
            <button type="button" class="button" disabled=move || run.pending().get() on:click=move |_| { run.dispatch(()); }>"What will change"</button>
            {move || run.value().get().map(|r| match r {
                Err(error) => view! { <crate::ui::ErrorBanner error /> }.into_any(),
                Ok(list) => view! { <crate::ui::PlannedChanges list /> }.into_any(),
            })}
        </section>
    }
    .into_any()
}
