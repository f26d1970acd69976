//! A deployManifest stage's manifests, in the manifest editor (form and YAML). The stage keeps
//! Spinnaker's shape: `manifests` is a list of objects, an image bound to an expected artifact
//! names the artifact in `requiredArtifactIds`.

use leptos::prelude::*;
use serde_json::{Map, Value, json};

use super::EditorState;
use crate::model::editor::{self, ref_of, stages};
use crate::ui::manifest_editor::{Artifact, LazyManifestEditor, Opening, Setup};

/// The pipeline's expected artifacts that are images (`docker/image`).
fn image_artifacts(doc: &Map<String, Value>) -> Vec<Artifact> {
    doc.get("expectedArtifacts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|a| {
            a.pointer("/matchArtifact/type").and_then(Value::as_str) == Some("docker/image")
        })
        .filter_map(|a| {
            let text = |p: &str| {
                a.pointer(p)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let id = text("/id");
            (!id.is_empty()).then(|| Artifact {
                id,
                name: text("/matchArtifact/name"),
                display_name: text("/displayName"),
            })
        })
        .collect()
}

/// The stage's field: the editor, loaded when the stage opens.
#[component]
pub(super) fn StageManifests(state: EditorState, ref_id: String) -> impl IntoView {
    let opening = Opening::Stage {
        doc: state.doc,
        ref_id,
        blocked: state.blocked,
    };
    view! {
        <div class="field" data-field-key="manifests">
            <span class="label">"Manifests"</span>
            <LazyManifestEditor opening />
        </div>
    }
}

/// What the editor of stage `ref_id` of the pipeline `doc` opens with: its manifests, the
/// stage's account and namespace for the preview, the pipeline's image artifacts; its changes
/// written back into the stage, its problems counted in `blocked`. (Runs inside the editor's
/// split.)
pub(crate) fn stage_setup(
    doc: RwSignal<Map<String, Value>>,
    ref_id: String,
    blocked: RwSignal<Map<String, Value>>,
) -> Setup {
    let stage = {
        let ref_id = ref_id.clone();
        move || stages(&doc.get()).into_iter().find(|s| ref_of(s) == ref_id)
    };
    let text = |s: Option<Map<String, Value>>, key: &str| {
        s.and_then(|s| s.get(key).and_then(Value::as_str).map(str::to_owned))
    };
    let account = Signal::derive({
        let stage = stage.clone();
        move || text(stage(), "account").unwrap_or_default()
    });
    let namespace = Signal::derive({
        let stage = stage.clone();
        move || text(stage(), "namespaceOverride").filter(|n| !n.trim().is_empty())
    });
    // Applies `f` to this stage.
    let edit = {
        let ref_id = ref_id.clone();
        move |f: &dyn Fn(&mut Map<String, Value>)| {
            let Some(mut s) = stages(&doc.get_untracked())
                .into_iter()
                .find(|s| ref_of(s) == ref_id)
            else {
                return;
            };
            f(&mut s);
            doc.update(|d| editor::replace_stage(d, &ref_id, s));
        }
    };
    let on_change = {
        let edit = edit.clone();
        Callback::new(move |documents: Vec<Value>| {
            edit(&|s| {
                s.insert("manifests".into(), Value::Array(documents.clone()));
            })
        })
    };
    let on_bind = Callback::new(move |id: String| {
        edit(&|s| {
            let mut ids: Vec<Value> = s
                .get("requiredArtifactIds")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if !ids.contains(&json!(id)) {
                ids.push(json!(id));
            }
            s.insert("requiredArtifactIds".into(), Value::Array(ids));
        })
    });
    let on_problems = {
        let ref_id = ref_id.clone();
        Callback::new(move |n: usize| {
            blocked.update(|b| {
                b.insert(ref_id.clone(), json!(n));
            })
        })
    };
    let initial = stages(&doc.get_untracked())
        .into_iter()
        .find(|s| ref_of(s) == ref_id)
        .and_then(|s| s.get("manifests").and_then(Value::as_array).cloned())
        .unwrap_or_default();
    Setup {
        initial,
        application: doc.with_untracked(|d| {
            d.get("application")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        }),
        account,
        namespace,
        artifacts: image_artifacts(&doc.get_untracked()),
        on_change,
        on_bind: Some(on_bind),
        on_problems: Some(on_problems),
    }
}
