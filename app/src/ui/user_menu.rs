//! The user menu in the header: who is signed in with which roles, their API tokens, the admin
//! pages for admins, and signing out.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use super::session::Me;
use crate::model::Identity;

/// The roles as the menu shows them.
pub fn roles_text(identity: &Identity) -> String {
    if identity.roles.is_empty() {
        "no roles".to_owned()
    } else {
        identity.roles.join(", ")
    }
}

#[component]
pub fn UserMenu() -> impl IntoView {
    let Me(me) = expect_context();
    view! {
        <Transition fallback=|| ()>
            {move || me.get().and_then(Result::ok).map(|identity| view! { <Menu identity /> })}
        </Transition>
    }
    .into_any()
}

#[component]
fn Menu(identity: Identity) -> impl IntoView {
    let open = RwSignal::new(false);
    // Following a link closes the menu.
    let location = use_location();
    Effect::new(move |_| {
        location.pathname.track();
        open.set(false);
    });
    let signing_out = RwSignal::new(false);
    let sign_out = move |_| {
        signing_out.set(true);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(super::session::sign_out());
    };
    let roles = roles_text(&identity);
    let admin = identity.admin;
    view! {
        <div class="user-menu">
            <button
                type="button"
                class="user-button"
                data-testid="user-menu"
                aria-haspopup="true"
                aria-expanded=move || open.get().to_string()
                aria-controls="user-menu-panel"
                on:click=move |_| open.update(|o| *o = !*o)
            >
                <span class="user-name" data-testid="user-name">{identity.username.clone()}</span>
                {admin.then(|| view! { <span class="badge">"admin"</span> })}
            </button>
            <div id="user-menu-panel" class="menu-panel" hidden=move || !open.get()>
                <p class="menu-who">
                    <strong>{identity.username.clone()}</strong>
                    <span class="muted small" data-testid="user-roles">{format!("Roles: {roles}")}</span>
                    {admin.then(|| view! { <span class="muted small" data-testid="user-admin">"Admin: may do everything"</span> })}
                </p>
                <a href="/settings/tokens">"API tokens"</a>
                {admin.then(|| view! {
                    <a href="/admin/users">"Users"</a>
                    <a href="/admin/audit">"Audit log"</a>
                })}
                <button type="button" class="button small-button" on:click=sign_out disabled=move || signing_out.get()>
                    "Sign out"
                </button>
            </div>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::identity::AuthMethod;

    #[test]
    fn roles_read_as_a_list() {
        let mut id = Identity {
            username: "ann".into(),
            roles: vec!["ops".into(), "viewers".into()],
            admin: false,
            method: AuthMethod::Password,
        };
        assert_eq!(roles_text(&id), "ops, viewers");
        id.roles.clear();
        assert_eq!(roles_text(&id), "no roles");
    }
}
