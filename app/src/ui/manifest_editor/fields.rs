//! The editor's shared state and its field input: one input bound to a path of the current
//! document, showing the problems found on that path.

use leptos::prelude::*;
use serde_json::Value;

use crate::model::manifest_form::{self, Input};
use crate::model::manifests::ManifestProblem;

/// The documents being edited and what is known to be wrong with them.
#[derive(Clone, Copy)]
pub(super) struct Docs {
    pub docs: RwSignal<Vec<Value>>,
    /// The document the form shows.
    pub current: RwSignal<usize>,
    /// Bumped when the structure changes (entries added, removed or moved, YAML applied): the
    /// forms render again from the documents then, not on every keystroke.
    pub revision: RwSignal<u32>,
    /// The server's findings (schema and rules) for the documents as last sent.
    pub server: RwSignal<Vec<ManifestProblem>>,
    /// The rules' findings as the user types.
    pub local: Memo<Vec<ManifestProblem>>,
    pub changed: Callback<Vec<Value>>,
}

impl Docs {
    /// Changes the current document (a field edit: the form stays as it is).
    pub fn edit<T>(&self, f: impl FnOnce(&mut Value) -> T) -> Option<T> {
        let i = self.current.get_untracked();
        let mut out = None;
        self.docs.update(|d| out = d.get_mut(i).map(f));
        self.changed.run(self.docs.get_untracked());
        out
    }

    /// Changes the current document's structure: the form renders again.
    pub fn restructure(&self, f: impl FnOnce(&mut Value)) {
        self.edit(f);
        self.revision.update(|r| *r += 1);
    }

    /// The current document (not tracked).
    pub fn doc(&self) -> Value {
        let i = self.current.get_untracked();
        self.docs
            .with_untracked(|d| d.get(i).cloned())
            .unwrap_or_default()
    }

    /// Every problem known now, once each.
    pub fn all_problems(&self) -> Vec<ManifestProblem> {
        let mut all = self.local.get();
        for p in self.server.get() {
            let same = |q: &ManifestProblem| {
                (q.document, &q.path, &q.message) == (p.document, &p.path, &p.message)
            };
            if !all.iter().any(same) {
                all.push(p);
            }
        }
        all.sort_by(|a, b| (a.document, &a.path).cmp(&(b.document, &b.path)));
        all
    }

    /// The messages of the problems on `path` of the current document.
    pub fn problems_at(&self, path: &str) -> Vec<String> {
        let document = self.current.get();
        let mut out: Vec<String> = Vec::new();
        for p in self.local.get().into_iter().chain(self.server.get()) {
            if p.document == document && p.path == path && !out.contains(&p.message) {
                out.push(p.message);
            }
        }
        out
    }
}

/// An id for the input of `path` (`mf-spec-replicas`).
pub(super) fn input_id(path: &str) -> String {
    let mut id = String::from("mf-");
    for c in path.chars() {
        id.push(if c.is_ascii_alphanumeric() { c } else { '-' });
    }
    id
}

/// One input of the form, bound to `path` of the current document.
#[component]
pub(super) fn PathInput(
    docs: Docs,
    label: &'static str,
    path: String,
    input: Input,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional)] list: Option<&'static str>,
    /// For quantities: the resource (`cpu`, `memory`) whose unit the hint names.
    #[prop(optional)]
    resource: &'static str,
) -> impl IntoView {
    let id = input_id(&path);
    let initial = manifest_form::read(&docs.doc(), &path, input);
    let text = RwSignal::new(initial.clone());
    let refused = RwSignal::new(None::<String>);
    let on_text = {
        let path = path.clone();
        move |value: String| {
            text.set(value.clone());
            let result = docs.edit(|d| manifest_form::write(d, &path, input, &value));
            refused.set(result.and_then(Result::err));
        }
    };
    let control = match input {
        Input::Lines | Input::KeyValues | Input::Json => {
            let rows = if input == Input::Json { 5 } else { 3 };
            view! { <textarea id=id.clone() rows=rows spellcheck="false" placeholder=placeholder prop:value=initial
                on:input=move |ev| on_text(event_target_value(&ev))></textarea> }
            .into_any()
        }
        _ => view! { <input id=id.clone() list=list placeholder=placeholder autocomplete="off" prop:value=initial
                on:input=move |ev| on_text(event_target_value(&ev)) /> }
        .into_any(),
    };
    let problems = {
        let path = path.clone();
        move || docs.problems_at(&path)
    };
    view! {
        <div class="field" data-path=path.clone()>
            <label for=id>{label}</label>
            {control}
            {move || (input == Input::Quantity).then(|| view! { <span class="muted small hint">{manifest_form::quantity_hint(resource, &text.get())}</span> })}
            {move || (input == Input::Text && manifest_form::has_expression(&text.get())).then(|| view! {
                <span class="badge expression" title="Evaluated when the pipeline runs">"expression"</span>
            })}
            <span class="field-error">{move || refused.get()}</span>
            {move || problems().into_iter().map(|m| view! { <span class="field-error field-problem">{m}</span> }).collect_view()}
        </div>
    }
    .into_any()
}

/// A choice among `options` (value, label) bound to nothing: `on_pick` gets the value.
#[component]
pub(super) fn Choice(
    label: &'static str,
    /// The field it sets (or, for a choice that restructures, a name beside it).
    path: String,
    options: Vec<(&'static str, &'static str)>,
    selected: String,
    on_pick: Callback<String>,
) -> impl IntoView {
    let id = input_id(&path);
    view! {
        <div class="field" data-path=path>
            <label for=id.clone()>{label}</label>
            <select id=id on:change=move |ev| on_pick.run(event_target_value(&ev))>
                {options.into_iter().map(|(value, text)| view! { <option value=value selected=value == selected>{text}</option> }).collect_view()}
            </select>
        </div>
    }
    .into_any()
}

/// A list of the current document (ports, environment, mounts, volumes, …): a heading with an
/// "Add" button (`new_entry` makes the entry from the document), and per entry its fields
/// (`row`, given the entry's path) with a "Remove" button.
#[component]
pub(super) fn EntryList(
    docs: Docs,
    path: String,
    title: &'static str,
    add_label: &'static str,
    new_entry: fn(&Value) -> Value,
    row: fn(Docs, String) -> AnyView,
) -> impl IntoView {
    let add = {
        let path = path.clone();
        move |_| {
            docs.restructure(|d| {
                let entry = new_entry(d);
                manifest_form::push(d, &path, entry)
            })
        }
    };
    view! {
        <div class="list-head">
            <h4>{title}</h4>
            <button type="button" class="button small-button" on:click=add>{add_label}</button>
        </div>
        {move || (0..count(docs, &path)).map(|i| {
            let list = path.clone();
            view! {
                <div class="form-grid entry" data-entry=i>
                    {row(docs, format!("{path}[{i}]"))}
                    <button type="button" class="button small-button" on:click=move |_| docs.restructure(|d| manifest_form::remove_at(d, &list, i))>"Remove"</button>
                </div>
            }
        }).collect_view()}
    }
    .into_any()
}

/// The number of entries of the list at `path` of the current document (tracks the revision).
pub(super) fn count(docs: Docs, path: &str) -> usize {
    docs.revision.get();
    manifest_form::get(&docs.doc(), path)
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}
