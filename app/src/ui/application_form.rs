//! The application form, shared by the create page and the Config tab: every field is checked
//! as the user types with the same rules the server applies, and the server's verdict is shown
//! next to the field it names. The access fields say which roles may read, execute and write
//! the application (the model's `Permissions`).

use std::collections::HashSet;

use leptos::prelude::*;

use super::ErrorBanner;
use crate::api::ApiError;
use crate::model::{ApplicationInput, FieldError};

/// Every field the form checks, by the name the model's `field_problem` knows.
const FIELDS: [&str; 8] = [
    "name",
    "description",
    "ownerEmail",
    "team",
    "deployTargets",
    "permissions.READ",
    "permissions.EXECUTE",
    "permissions.WRITE",
];

#[component]
pub fn ApplicationForm(
    initial: ApplicationInput,
    name_editable: bool,
    submit_label: &'static str,
    #[prop(into)] pending: Signal<bool>,
    /// The last error the server answered with, if any.
    #[prop(into)]
    server_error: Signal<Option<ApiError>>,
    on_submit: Callback<ApplicationInput>,
    /// Whether the caller may save (without WRITE access the form is shown but not sent).
    #[prop(optional, into)]
    locked: Signal<bool>,
) -> impl IntoView {
    let form = RwSignal::new(initial);
    // Fields the user has edited (or all, once they tried to submit): only those show problems.
    let touched = RwSignal::new(HashSet::<&'static str>::new());
    // Server verdicts per field, cleared for a field as soon as the user edits it.
    let server_fields = RwSignal::new(Vec::<FieldError>::new());
    Effect::new(move |_| {
        server_fields.set(
            server_error
                .get()
                .map(|e| e.field_errors())
                .unwrap_or_default(),
        )
    });
    let banner = move || server_error.get().filter(|e| e.field_errors().is_empty());

    let problem = move |field: &'static str| {
        Signal::derive(move || {
            server_fields
                .with(|errs| {
                    errs.iter()
                        .find(|e| e.field == field)
                        .map(|e| e.message.clone())
                })
                .or_else(|| {
                    touched
                        .with(|t| t.contains(field))
                        .then(|| form.with(|f| f.field_problem(field)))
                        .flatten()
                })
        })
    };
    let edit = move |field: &'static str, apply: fn(&mut ApplicationInput, String)| {
        Callback::new(move |value: String| {
            form.update(|f| apply(f, value));
            touched.update(|t| {
                t.insert(field);
            });
            server_fields.update(|errs| errs.retain(|e| e.field != field));
        })
    };

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        touched.update(|t| t.extend(FIELDS));
        if locked.get_untracked() {
            return;
        }
        let input = form.get_untracked();
        let valid = if name_editable {
            input.validate_new().map(drop)
        } else {
            input.validate_changes().map(drop)
        };
        if valid.is_ok() {
            on_submit.run(input);
        }
    };

    view! {
        <form class="form" on:submit=submit novalidate>
            {move || banner().map(|error| view! { <ErrorBanner error /> })}
            <TextField
                id="name"
                label="Name"
                hint="Lowercase letters, digits and '-', at most 63 characters. Cannot be changed later."
                value=Signal::derive(move || form.with(|f| f.name.clone()))
                on_input=edit("name", |f, v| f.name = v)
                problem=problem("name")
                readonly=!name_editable
            />
            <TextField
                id="ownerEmail"
                label="Owner email"
                hint="Who to ask about this application."
                value=Signal::derive(move || form.with(|f| f.owner_email.clone()))
                on_input=edit("ownerEmail", |f, v| f.owner_email = v)
                problem=problem("ownerEmail")
                input_type="email"
            />
            <TextField
                id="team"
                label="Team"
                hint="Optional."
                value=Signal::derive(move || form.with(|f| f.team.clone()))
                on_input=edit("team", |f, v| f.team = v)
                problem=problem("team")
            />
            <TextField
                id="description"
                label="Description"
                hint="Optional. What this application is."
                value=Signal::derive(move || form.with(|f| f.description.clone()))
                on_input=edit("description", |f, v| f.description = v)
                problem=problem("description")
                multiline=true
            />
            <TextField
                id="deployTargets"
                label="Deploy targets"
                hint="Optional. Where it deploys, in order on the way to production: one account/namespace per line, optionally named (test: staging/shop-test). Unnamed, the environment comes from the namespace (shop-prod is prod). Empty: any."
                value=Signal::derive(move || form.with(|f| f.deploy_targets.clone()))
                on_input=edit("deployTargets", |f, v| f.deploy_targets = v)
                problem=problem("deployTargets")
                multiline=true
            />
            <fieldset class="access">
                <legend>"Access"</legend>
                <p class="hint" id="roles-hint">
                    "Roles separated by commas. Without any, only admins can see this application."
                </p>
                <TextField
                    id="readRoles"
                    label="Read roles"
                    hint="May see it, its pipelines, executions and infrastructure."
                    value=Signal::derive(move || form.with(|f| f.read_roles.clone()))
                    on_input=edit("permissions.READ", |f, v| f.read_roles = v)
                    problem=problem("permissions.READ")
                />
                <TextField
                    id="executeRoles"
                    label="Execute roles"
                    hint="May also start, cancel and judge its pipelines' runs."
                    value=Signal::derive(move || form.with(|f| f.execute_roles.clone()))
                    on_input=edit("permissions.EXECUTE", |f, v| f.execute_roles = v)
                    problem=problem("permissions.EXECUTE")
                />
                <TextField
                    id="writeRoles"
                    label="Write roles"
                    hint="May also change it, its pipelines and its infrastructure."
                    value=Signal::derive(move || form.with(|f| f.write_roles.clone()))
                    on_input=edit("permissions.WRITE", |f, v| f.write_roles = v)
                    problem=problem("permissions.WRITE")
                />
            </fieldset>
            <div class="form-actions">
                {move || locked.get().then(|| view! {
                    <p class="muted small" data-testid="form-locked">"Changing these settings needs WRITE access."</p>
                })}
                <button type="submit" class="button primary" disabled=move || pending.get() || locked.get()>
                    {move || if pending.get() { "Saving…" } else { submit_label }}
                </button>
            </div>
        </form>
    }
    .into_any()
}

#[component]
fn TextField(
    id: &'static str,
    label: &'static str,
    hint: &'static str,
    value: Signal<String>,
    on_input: Callback<String>,
    problem: Signal<Option<String>>,
    #[prop(optional)] readonly: bool,
    #[prop(optional)] multiline: bool,
    #[prop(default = "text")] input_type: &'static str,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described = format!("{hint_id} {error_id}");
    let invalid = move || problem.get().is_some().to_string();
    let handle = move |ev| on_input.run(event_target_value(&ev));
    let control = if multiline {
        view! {
            <textarea
                id=id
                name=id
                rows="3"
                aria-describedby=described
                aria-invalid=invalid
                prop:value=value
                on:input=handle
            ></textarea>
        }
        .into_any()
    } else {
        view! {
            <input
                id=id
                name=id
                type=input_type
                aria-describedby=described
                aria-invalid=invalid
                readonly=readonly
                prop:value=value
                on:input=handle
            />
        }
        .into_any()
    };
    view! {
        <div class="field" class:has-error=move || problem.get().is_some()>
            <label for=id>{label}</label>
            {control}
            <div class="hint" id=hint_id>{hint}</div>
            <div class="field-error" id=error_id role="alert" data-field=id>
                {move || problem.get()}
            </div>
        </div>
    }
    .into_any()
}
