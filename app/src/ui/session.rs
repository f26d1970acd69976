//! Who is signed in: the caller's identity for the shell and the pages, what they may do with the
//! application shown, and the way to the login page and back.

use leptos::prelude::*;

use super::encode_query_value;
use crate::api::ApiError;
use crate::api::identity::me;
use crate::model::{Access, AppError, Caller, Identity};

/// The caller (`auth/me`), loaded once per page load by the shell.
#[derive(Clone, Copy)]
pub(crate) struct Me(pub Resource<Result<Identity, ApiError>>);

/// Loads the caller for the pages below; on the login page nobody is signed in, so nothing is
/// asked there.
pub(crate) fn provide_me(signed_in_page: bool) {
    let resource = Resource::new(
        || (),
        move |()| async move {
            if signed_in_page {
                me().await
            } else {
                Err(ApiError(AppError::Unauthenticated))
            }
        },
    );
    provide_context(Me(resource));
}

/// Whether the caller may do `access` with the application this page shows (admins may do
/// everything). False while either is loading: read it inside a `Transition`, so the server
/// renders it with both known and the browser hydrates the same buttons.
pub(crate) fn may(access: Access) -> Signal<bool> {
    let Me(me) = expect_context();
    let super::application_page::CurrentApplication(app) = expect_context();
    Signal::derive(move || match (me.get(), app.get()) {
        (Some(Ok(me)), Some(Ok(app))) => app.permissions.allow(&Caller::User(me), access),
        _ => false,
    })
}

/// Where to go after signing in: `next` when it is a path on this site (starts with `/`, not
/// `//`, no `\` and no control characters, which browsers would read as another site or drop),
/// otherwise the start page.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n
        }
        _ => "/",
    }
}

/// The login page, coming back to `next` (a path and query on this site) afterwards.
pub fn login_url(next: &str) -> String {
    match safe_next(Some(next)) {
        "/" => "/login".to_owned(),
        next => format!("/login?next={}", encode_query_value(next)),
    }
}

/// Single sign-on, coming back to `next` afterwards.
pub fn oidc_url(next: &str) -> String {
    format!(
        "/auth/oidc/login?next={}",
        encode_query_value(safe_next(Some(next)))
    )
}

/// A full page load of `url` (the session cookie changed, or the server decides what comes).
#[cfg(feature = "hydrate")]
pub(crate) fn go(url: &str) {
    let _ = window().location().set_href(url);
}

/// The session has ended: to the login page, then back here (unless this is the login page).
#[cfg(feature = "hydrate")]
pub(crate) fn sign_in_again() {
    let location = window().location();
    let path = location.pathname().unwrap_or_default();
    if path == "/login" {
        return;
    }
    let search = location.search().unwrap_or_default();
    go(&login_url(&format!("{path}{search}")));
}

/// Ends the session (`POST /auth/logout`, JSON as the server requires of state changes) and
/// goes to the login page, whatever the answer: an ended session is what was wanted.
#[cfg(feature = "hydrate")]
pub(crate) async fn sign_out() {
    let request = gloo_net::http::Request::post("/auth/logout")
        .header("Content-Type", "application/json")
        .body("{}");
    if let Ok(request) = request {
        let _ = request.send().await;
    }
    go("/login");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        for good in ["/", "/applications/x", "/applications?q=a%20b&sort=updated"] {
            assert_eq!(safe_next(Some(good)), good);
        }
        for bad in [
            "",
            "//evil.example/x",
            "/\\evil.example",
            "https://evil.example/",
            "evil",
            "/\t/evil.example",
            "/a\nb",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn login_and_single_sign_on_keep_the_way_back() {
        assert_eq!(
            login_url("/applications/x?tab=1&b=2"),
            "/login?next=%2Fapplications%2Fx%3Ftab%3D1%26b%3D2"
        );
        assert_eq!(login_url("/"), "/login");
        assert_eq!(login_url("//evil.example"), "/login");
        assert_eq!(
            oidc_url("/applications/x"),
            "/auth/oidc/login?next=%2Fapplications%2Fx"
        );
        assert_eq!(
            oidc_url("https://evil.example"),
            "/auth/oidc/login?next=%2F"
        );
    }
}
