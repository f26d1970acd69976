//! The login page: user name and password (sent as JSON to `POST /auth/login`), and single
//! sign-on when the server has it. Rendered by the server without the shell; the form is sent
//! once the page is interactive (its button waits for that), so a password never ends up in a
//! URL or a form post the server would refuse.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::session::{oidc_url, safe_next};

/// What a sign-in answer means for the user: `Ok` on success (204), the message otherwise.
pub fn login_outcome(status: u16, body: &str) -> Result<(), String> {
    match status {
        200..=299 => Ok(()),
        401 => Err("Wrong user name or password.".to_owned()),
        429 => {
            let seconds = serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("retryAfter").and_then(serde_json::Value::as_u64))
                .unwrap_or(60);
            Err(format!(
                "Too many failed sign-ins; try again in {seconds} seconds."
            ))
        }
        _ => Err(format!(
            "Signing in failed (the server answered {status}); try again in a moment."
        )),
    }
}

/// The single sign-on's name from `GET /auth/methods`, when it is configured.
pub fn oidc_name(methods: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(methods).ok()?;
    let oidc = value.get("oidc").filter(|o| o.is_object())?;
    Some(
        oidc.get("name")
            .and_then(serde_json::Value::as_str)
            .filter(|n| !n.is_empty())
            .unwrap_or("Single sign-on")
            .to_owned(),
    )
}

#[cfg(feature = "hydrate")]
async fn send_login(username: String, password: String) -> Result<(), String> {
    let body = serde_json::json!({ "username": username, "password": password });
    let request = gloo_net::http::Request::post("/auth/login")
        .json(&body)
        .map_err(|e| e.to_string())?;
    let response = request
        .send()
        .await
        .map_err(|_| "Could not reach the server; try again in a moment.".to_owned())?;
    let text = response.text().await.unwrap_or_default();
    login_outcome(response.status(), &text)
}

#[cfg(feature = "hydrate")]
async fn fetch_oidc_name() -> Option<String> {
    let response = gloo_net::http::Request::get("/auth/methods")
        .send()
        .await
        .ok()?;
    oidc_name(&response.text().await.ok()?)
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = Memo::new(move |_| safe_next(query.read().get("next").as_deref()).to_owned());
    let username = NodeRef::<leptos::html::Input>::new();
    let password = NodeRef::<leptos::html::Input>::new();
    let message = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let oidc = RwSignal::new(None::<String>);
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async move { oidc.set(fetch_oidc_name().await) });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        // Read from the fields themselves: what was typed before the page was interactive counts.
        let name = username.get().map(|i| i.value()).unwrap_or_default();
        let secret = password.get().map(|i| i.value()).unwrap_or_default();
        if name.trim().is_empty() || secret.is_empty() {
            message.set(Some("Enter your user name and password.".into()));
            return;
        }
        pending.set(true);
        message.set(None);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            match send_login(name.trim().to_owned(), secret).await {
                Ok(()) => super::session::go(&next.get_untracked()),
                Err(m) => {
                    message.set(Some(m));
                    pending.set(false);
                }
            }
        });
    };

    view! {
        <Title text="Sign in · Topsail" />
        <section class="login">
            <h1>
                <img class="brand-mark" src="/favicon.svg" alt="" width="28" height="28" />
                " Sign in to Topsail"
            </h1>
            <form class="form login-form" method="post" action="/login" on:submit=submit novalidate>
                <div class="banner error" role="alert" data-testid="login-error" hidden=move || message.get().is_none()>
                    {move || message.get()}
                </div>
                <div class="field">
                    <label for="username">"User name"</label>
                    <input id="username" name="username" node_ref=username autocomplete="username"
                        autocapitalize="none" spellcheck="false" required autofocus />
                </div>
                <div class="field">
                    <label for="password">"Password"</label>
                    <input id="password" name="password" type="password" node_ref=password
                        autocomplete="current-password" required />
                </div>
                <div class="form-actions">
                    <button type="submit" class="button primary" disabled=move || !ready.get() || pending.get()>
                        {move || if pending.get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </div>
            </form>
            {move || oidc.get().map(|name| view! {
                <p class="sso">
                    <a class="button" rel="external" href=move || oidc_url(&next.get()) data-testid="sso">
                        "Sign in with single sign-on"
                    </a>
                    " "<span class="muted small">{name}</span>
                </p>
            })}
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_become_messages() {
        assert_eq!(login_outcome(204, ""), Ok(()));
        assert_eq!(
            login_outcome(401, r#"{"error":"unauthenticated"}"#),
            Err("Wrong user name or password.".into())
        );
        assert_eq!(
            login_outcome(429, r#"{"error":"throttled","retryAfter":42}"#),
            Err("Too many failed sign-ins; try again in 42 seconds.".into())
        );
        assert!(login_outcome(500, "").unwrap_err().contains("500"));
    }

    #[test]
    fn single_sign_on_only_when_configured() {
        assert_eq!(oidc_name(r#"{"password":true,"oidc":null}"#), None);
        assert_eq!(
            oidc_name(r#"{"password":true,"oidc":{"name":"Corp SSO"}}"#).as_deref(),
            Some("Corp SSO")
        );
        assert_eq!(
            oidc_name(r#"{"oidc":{}}"#).as_deref(),
            Some("Single sign-on")
        );
        assert_eq!(oidc_name("not json"), None);
    }
}
