//! Users (`/admin/users`): everyone who may sign in, adding a local user, resetting a local
//! user's password, deleting a user.

use leptos::prelude::*;
use leptos_meta::Title;

use super::AdminError;
use crate::api::ApiError;
use crate::api::identity::{add_user, delete_user, list_users, set_password};
use crate::model::FieldError;
use crate::model::identity::{NewUser, UserSummary, check_password, check_username, parse_roles};
use crate::ui::{ErrorBanner, Time};

/// The new user's problems, as the server would name them (`username`, `password`, `roles`).
pub fn new_user_problems(user: &NewUser) -> Vec<FieldError> {
    [
        check_username(&user.username).err(),
        check_password(&user.password).err(),
        parse_roles("roles", &user.roles).err(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let users = Resource::new(move || version.get(), |_| list_users());
    let refresh = Callback::new(move |()| version.update(|v| *v += 1));
    view! {
        <Title text="Users · Topsail" />
        <header class="page-header">
            <h1>"Users"</h1>
        </header>
        <Transition fallback=|| view! { <crate::ui::ListSkeleton /> }>
            {move || users.get().map(|result| match result {
                Err(error) => view! { <AdminError error /> }.into_any(),
                Ok(list) => view! {
                    <UserTable list on_change=refresh />
                    <AddUser on_added=refresh />
                }.into_any(),
            })}
        </Transition>
    }
    .into_any()
}

#[component]
fn UserTable(list: Vec<UserSummary>, on_change: Callback<()>) -> impl IntoView {
    let delete = Action::new(|name: &String| delete_user(name.clone()));
    // The user whose deletion waits for a second click.
    let confirming = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            confirming.set(None);
            on_change.run(());
        }
    });
    view! {
        {move || delete.value().get().and_then(Result::err).map(|error: ApiError| view! { <ErrorBanner error /> })}
        <table class="list" aria-label="Users">
            <thead>
                <tr>
                    <th scope="col">"User"</th>
                    <th scope="col">"Roles"</th>
                    <th scope="col">"Admin"</th>
                    <th scope="col">"Source"</th>
                    <th scope="col">"Last sign-in"</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>
                {list.into_iter().map(|u| {
                    let name = u.username.clone();
                    let is_confirming = {
                        let name = name.clone();
                        move || confirming.with(|c| c.as_deref() == Some(name.as_str()))
                    };
                    let ask = {
                        let name = name.clone();
                        move |_| confirming.set(Some(name.clone()))
                    };
                    let confirm = {
                        let name = name.clone();
                        move |_| { delete.dispatch(name.clone()); }
                    };
                    let local = u.source == "local";
                    view! {
                        <tr data-user=name.clone()>
                            <td>
                                <span class="app-name">{name.clone()}</span>
                                <div class="muted small">"since " <Time at=u.created_at /></div>
                            </td>
                            <td>{if u.roles.is_empty() { "—".to_owned() } else { u.roles.join(", ") }}</td>
                            <td>{if u.admin { "admin" } else { "—" }}</td>
                            <td>{u.source.clone()}</td>
                            <td class="nowrap">{match u.last_login_at { Some(at) => view! { <Time at /> }.into_any(), None => "never".into_any() }}</td>
                            <td class="user-actions">
                                {local.then(|| view! { <ResetPassword username=name.clone() /> })}
                                {move || if is_confirming() {
                                    view! {
                                        <span class="controls">
                                            <button class="button small-button danger" disabled=move || delete.pending().get() on:click=confirm.clone()>
                                                "Yes, delete"
                                            </button>
                                            <button class="button small-button" on:click=move |_| confirming.set(None)>"Keep"</button>
                                        </span>
                                    }.into_any()
                                } else {
                                    view! { <button class="button small-button" on:click=ask.clone()>"Delete"</button> }.into_any()
                                }}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// A new password for a local user; their other sessions end.
#[component]
fn ResetPassword(username: String) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let reset = Action::new(|(name, password): &(String, String)| {
        set_password(name.clone(), password.clone())
    });
    let done = move || matches!(reset.value().get(), Some(Ok(())));
    Effect::new(move |_| {
        if let Some(Ok(())) = reset.value().get() {
            password.set(String::new());
        }
    });
    let id = format!("password-{username}");
    let submit = {
        let username = username.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let new = password.get_untracked();
            match check_password(&new) {
                Err(e) => problem.set(Some(e.message)),
                Ok(()) => {
                    problem.set(None);
                    reset.dispatch((username.clone(), new));
                }
            }
        }
    };
    view! {
        <details class="reset-password">
            <summary>"Reset password"</summary>
            <form class="inline-form" on:submit=submit novalidate>
                <label for=id.clone() class="visually-hidden">{format!("New password for {username}")}</label>
                <input id=id type="password" autocomplete="new-password" placeholder="New password"
                    prop:value=password on:input=move |ev| password.set(event_target_value(&ev)) />
                <button type="submit" class="button small-button" disabled=move || reset.pending().get()>"Set"</button>
            </form>
            <div class="field-error" role="alert">
                {move || problem.get().or_else(|| reset.value().get().and_then(Result::err).map(|e| e.to_string()))}
            </div>
            {move || done().then(|| view! { <p class="ok small" role="status">"Password changed."</p> })}
        </details>
    }
    .into_any()
}

#[component]
fn AddUser(on_added: Callback<()>) -> impl IntoView {
    let user = RwSignal::new(NewUser::default());
    let checked = RwSignal::new(Vec::<FieldError>::new());
    let add = Action::new(|user: &NewUser| add_user(user.clone()));
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            user.set(NewUser::default());
            on_added.run(());
        }
    });
    let server_error = move || add.value().get().and_then(Result::err);
    let problem = move |field: &'static str| {
        move || {
            checked
                .with(|c| {
                    c.iter()
                        .find(|f| f.field == field)
                        .map(|f| f.message.clone())
                })
                .or_else(|| {
                    server_error()?
                        .field_errors()
                        .into_iter()
                        .find(|f| f.field == field)
                        .map(|f| f.message)
                })
        }
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let new = user.get_untracked();
        let problems = new_user_problems(&new);
        let ok = problems.is_empty();
        checked.set(problems);
        if ok {
            add.dispatch(new);
        }
    };
    let text = move |field: fn(&NewUser) -> &String| move || user.with(|u| field(u).clone());
    view! {
        <h2>"Add a local user"</h2>
        <form class="form add-user" on:submit=submit novalidate>
            {move || server_error().filter(|e| e.field_errors().is_empty()).map(|error| view! { <ErrorBanner error /> })}
            {move || matches!(add.value().get(), Some(Ok(_))).then(|| view! { <div class="banner ok" role="status">"User added."</div> })}
            <div class="field">
                <label for="username">"User name"</label>
                <input id="username" name="username" autocomplete="off" prop:value=text(|u| &u.username)
                    on:input=move |ev| user.update(|u| u.username = event_target_value(&ev)) />
                <div class="field-error" role="alert" data-field="username">{problem("username")}</div>
            </div>
            <div class="field">
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="new-password" prop:value=text(|u| &u.password)
                    on:input=move |ev| user.update(|u| u.password = event_target_value(&ev)) />
                <div class="hint">"At least 12 characters. Tell them to change it."</div>
                <div class="field-error" role="alert" data-field="password">{problem("password")}</div>
            </div>
            <div class="field">
                <label for="roles">"Roles"</label>
                <input id="roles" name="roles" autocomplete="off" prop:value=text(|u| &u.roles)
                    on:input=move |ev| user.update(|u| u.roles = event_target_value(&ev)) />
                <div class="hint">"Roles separated by commas; applications grant access by role."</div>
                <div class="field-error" role="alert" data-field="roles">{problem("roles")}</div>
            </div>
            <div class="field checkbox">
                <label>
                    <input id="admin" name="admin" type="checkbox" prop:checked=move || user.with(|u| u.admin)
                        on:change=move |ev| user.update(|u| u.admin = event_target_checked(&ev)) />
                    " Admin (may do everything, including managing users)"
                </label>
            </div>
            <div class="form-actions">
                <button type="submit" class="button primary" disabled=move || add.pending().get()>"Add user"</button>
            </div>
        </form>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_user_is_checked_with_the_servers_rules() {
        let good = NewUser {
            username: "viewer".into(),
            password: "correct horse battery".into(),
            admin: false,
            roles: "viewers, ops".into(),
        };
        assert!(new_user_problems(&good).is_empty());
        let bad = NewUser {
            username: "has space".into(),
            password: "short".into(),
            admin: false,
            roles: "bad role!".into(),
        };
        let fields: Vec<_> = new_user_problems(&bad)
            .into_iter()
            .map(|f| f.field)
            .collect();
        assert_eq!(fields, ["username", "password", "roles"]);
    }
}
