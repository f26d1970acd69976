//! The API tokens page (`/settings/tokens`): the caller's tokens (an admin sees everyone's),
//! a new one shown once, and revoking.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{ErrorBanner, Time};
use crate::api::ApiError;
use crate::api::identity::{create_token, list_tokens, revoke_token};
use crate::model::identity::{CreatedToken, NewToken, TokenSummary};

/// The form's expiry in days: empty means never; otherwise a whole number from 1 to 3650.
pub fn parse_expiry(text: &str) -> Result<Option<u32>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<u32>() {
        Ok(days @ 1..=3650) => Ok(Some(days)),
        _ => Err("a whole number of days from 1 to 3650, or empty for never".to_owned()),
    }
}

#[component]
pub fn TokensPage() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let tokens = Resource::new(move || version.get(), |_| list_tokens());
    let refresh = Callback::new(move |()| version.update(|v| *v += 1));
    view! {
        <Title text="API tokens · Topsail" />
        <header class="page-header">
            <div>
                <h1>"API tokens"</h1>
                <p class="muted">
                    "For scripts and tools: send "<code>"Authorization: Bearer <token>"</code>
                    ". A token acts as you, with your roles."
                </p>
            </div>
        </header>
        <NewTokenForm on_created=refresh />
        <h2>"Your tokens"</h2>
        <Transition fallback=|| view! { <crate::ui::ListSkeleton /> }>
            {move || tokens.get().map(|result| match result {
                Err(error) => view! { <ErrorBanner error /> }.into_any(),
                Ok(list) if list.is_empty() => view! { <p class="muted" data-testid="no-tokens">"No tokens yet."</p> }.into_any(),
                Ok(list) => view! { <TokenTable list on_revoked=refresh /> }.into_any(),
            })}
        </Transition>
    }
    .into_any()
}

#[component]
fn NewTokenForm(on_created: Callback<()>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let days = RwSignal::new("30".to_owned());
    let problem = RwSignal::new(None::<(&'static str, String)>);
    let create = Action::new(|token: &NewToken| create_token(token.clone()));
    let created = RwSignal::new(None::<CreatedToken>);
    Effect::new(move |_| {
        if let Some(Ok(token)) = create.value().get() {
            created.set(Some(token));
            name.set(String::new());
            on_created.run(());
        }
    });
    let server_error = move || create.value().get().and_then(Result::err);
    let field_problem = move |field: &'static str| {
        move || {
            problem
                .get()
                .filter(|(f, _)| *f == field)
                .map(|(_, m)| m)
                .or_else(|| {
                    let fields = server_error()?.field_errors();
                    let wanted = if field == "tokenName" {
                        "name"
                    } else {
                        "expiresInDays"
                    };
                    fields
                        .into_iter()
                        .find(|f| f.field == wanted)
                        .map(|f| f.message)
                })
        }
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let token_name = name.get_untracked().trim().to_owned();
        if token_name.is_empty() {
            problem.set(Some(("tokenName", "give the token a name".into())));
            return;
        }
        match parse_expiry(&days.get_untracked()) {
            Err(m) => problem.set(Some(("tokenDays", m))),
            Ok(expires_in_days) => {
                problem.set(None);
                created.set(None);
                create.dispatch(NewToken {
                    name: token_name,
                    username: String::new(),
                    expires_in_days,
                });
            }
        }
    };
    view! {
        <form class="form token-form" on:submit=submit novalidate>
            {move || server_error().filter(|e| e.field_errors().is_empty()).map(|error| view! { <ErrorBanner error /> })}
            <div class="field">
                <label for="tokenName">"Name"</label>
                <input id="tokenName" name="name" autocomplete="off" placeholder="e.g. ci-deploys"
                    prop:value=name on:input=move |ev| name.set(event_target_value(&ev)) />
                <div class="hint">"What it is for, so you know which one to revoke."</div>
                <div class="field-error" role="alert" data-field="tokenName">{field_problem("tokenName")}</div>
            </div>
            <div class="field">
                <label for="tokenDays">"Expires after (days)"</label>
                <input id="tokenDays" name="expiresInDays" type="number" min="1" max="3650"
                    prop:value=days on:input=move |ev| days.set(event_target_value(&ev)) />
                <div class="hint">"Empty: never expires."</div>
                <div class="field-error" role="alert" data-field="tokenDays">{field_problem("tokenDays")}</div>
            </div>
            <div class="form-actions">
                <button type="submit" class="button primary" disabled=move || create.pending().get()>"Create token"</button>
            </div>
        </form>
        {move || created.get().map(|c| view! { <CreatedTokenBanner created=c /> })}
    }
    .into_any()
}

/// The new token, this once.
#[component]
fn CreatedTokenBanner(created: CreatedToken) -> impl IntoView {
    view! {
        <div class="banner ok new-token" role="status">
            <p>
                {format!("Token “{}” created. ", created.summary.name)}
                <strong>"Copy it now: it is not shown again."</strong>
            </p>
            <code class="secret" data-testid="new-token">{created.token}</code>
        </div>
    }
    .into_any()
}

#[component]
fn TokenTable(list: Vec<TokenSummary>, on_revoked: Callback<()>) -> impl IntoView {
    let revoke = Action::new(|id: &String| revoke_token(id.clone()));
    Effect::new(move |_| {
        if let Some(Ok(())) = revoke.value().get() {
            on_revoked.run(());
        }
    });
    let when = |t: &Option<chrono::DateTime<chrono::Utc>>, none: &'static str| match *t {
        Some(at) => view! { <Time at /> }.into_any(),
        None => none.into_any(),
    };
    view! {
        {move || revoke.value().get().and_then(Result::err).map(|error: ApiError| view! { <ErrorBanner error /> })}
        <table class="list" aria-label="API tokens">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"User"</th>
                    <th scope="col">"Created"</th>
                    <th scope="col">"Expires"</th>
                    <th scope="col">"Last used"</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>
                {list.into_iter().map(|t| {
                    let id = t.id.clone();
                    view! {
                        <tr data-token=t.name.clone()>
                            <td class="app-name">{t.name.clone()}</td>
                            <td>{t.username.clone()}</td>
                            <td class="nowrap"><Time at=t.created_at /></td>
                            <td class="nowrap">{when(&t.expires_at, "never")}</td>
                            <td class="nowrap">{when(&t.last_used_at, "not yet")}</td>
                            <td>
                                <button class="button small-button danger" disabled=move || revoke.pending().get()
                                    on:click=move |_| { revoke.dispatch(id.clone()); }>"Revoke"</button>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::parse_expiry;

    #[test]
    fn expiry_is_whole_days_or_never() {
        assert_eq!(parse_expiry(""), Ok(None));
        assert_eq!(parse_expiry(" 30 "), Ok(Some(30)));
        for bad in ["0", "-1", "1.5", "days", "3651"] {
            assert!(parse_expiry(bad).is_err(), "{bad}");
        }
    }
}
