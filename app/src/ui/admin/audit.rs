//! The audit log (`/admin/audit`): who did what to what, newest first; filters by actor, action
//! and target kept in the address, "Older" pages back, and the same selection as JSON lines.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::AdminError;
use crate::api::identity::audit_log;
use crate::model::identity::{AuditEntry, AuditQuery};
use crate::ui::{Time, encode_query_value};

/// Entries per page.
const PAGE: u32 = 100;

/// The query string for a selection (empty filters left out), without the `?`.
pub fn audit_query_string(query: &AuditQuery) -> String {
    let mut parts: Vec<String> = [
        ("actor", &query.actor),
        ("action", &query.action),
        ("target", &query.target),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| format!("{k}={}", encode_query_value(v)))
    .collect();
    if let Some(before) = query.before {
        parts.push(format!("before={before}"));
    }
    parts.join("&")
}

/// `path` with the selection's query string.
pub fn with_query(path: &str, query: &AuditQuery) -> String {
    match audit_query_string(query) {
        q if q.is_empty() => path.to_owned(),
        q => format!("{path}?{q}"),
    }
}

/// A summary as one line: text as is, anything else as compact JSON.
fn summary_text(summary: &serde_json::Value) -> String {
    match summary {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| {
        let p = params.read();
        let text = |k: &str| p.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
        AuditQuery {
            actor: text("actor"),
            action: text("action"),
            target: text("target"),
            before: p.get("before").and_then(|b| b.parse().ok()),
            limit: Some(PAGE),
        }
    });
    let entries = Resource::new(move || query.get(), audit_log);
    let export = move || {
        let q = query.get();
        with_query("/api/audit/export", &AuditQuery { before: None, ..q })
    };
    view! {
        <Title text="Audit log · Topsail" />
        <header class="page-header">
            <h1>"Audit log"</h1>
            <a class="button" href=export rel="external" download="topsail-audit.jsonl" data-testid="audit-export">
                "Download JSON lines"
            </a>
        </header>
        <form class="toolbar audit-filters" method="get" action="/admin/audit">
            <label for="audit-actor">"Actor"</label>
            <input id="audit-actor" name="actor" prop:value=move || query.get().actor placeholder="user name" />
            <label for="audit-action">"Action"</label>
            <input id="audit-action" name="action" prop:value=move || query.get().action placeholder="e.g. login or pipeline." />
            <label for="audit-target">"Target"</label>
            <input id="audit-target" name="target" prop:value=move || query.get().target placeholder="e.g. application/shop" />
            <button type="submit" class="button">"Filter"</button>
            <a class="button" href="/admin/audit">"Clear"</a>
        </form>
        <Transition fallback=|| view! { <crate::ui::ListSkeleton /> }>
            {move || entries.get().map(|result| match result {
                Err(error) => view! { <AdminError error /> }.into_any(),
                Ok(list) if list.is_empty() => view! { <p class="muted" data-testid="audit-empty">"Nothing recorded matches."</p> }.into_any(),
                Ok(list) => {
                    let older = (list.len() as u32 >= PAGE)
                        .then(|| list.last().map(|e| e.id))
                        .flatten()
                        .map(|before| with_query("/admin/audit", &AuditQuery { before: Some(before), ..query.get() }));
                    view! {
                        <AuditTable list />
                        {older.map(|href| view! { <p><a class="button" href=href data-testid="audit-older">"Older"</a></p> })}
                    }.into_any()
                }
            })}
        </Transition>
    }
    .into_any()
}

#[component]
fn AuditTable(list: Vec<AuditEntry>) -> impl IntoView {
    view! {
        <table class="list audit-log" aria-label="Audit log">
            <thead>
                <tr>
                    <th scope="col">"Time"</th>
                    <th scope="col">"Actor"</th>
                    <th scope="col">"Action"</th>
                    <th scope="col">"Target"</th>
                    <th scope="col">"Summary"</th>
                    <th scope="col">"Address"</th>
                </tr>
            </thead>
            <tbody>
                {list.into_iter().map(|e| view! {
                    <tr data-action=e.action.clone() data-entry=e.id.to_string()>
                        <td class="nowrap"><Time at=e.at /></td>
                        <td>{e.actor.clone()}</td>
                        <td><code>{e.action.clone()}</code></td>
                        <td>{e.target.clone()}</td>
                        <td class="summary"><code>{summary_text(&e.summary)}</code></td>
                        <td class="muted small" title=e.user_agent.clone()>{e.address.clone()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_live_in_the_address() {
        let q = AuditQuery {
            actor: "ann".into(),
            action: "pipeline.".into(),
            target: "application/shop web".into(),
            before: Some(41),
            limit: Some(PAGE),
        };
        assert_eq!(
            with_query("/admin/audit", &q),
            "/admin/audit?actor=ann&action=pipeline.&target=application%2Fshop%20web&before=41"
        );
        assert_eq!(
            with_query("/api/audit/export", &AuditQuery::default()),
            "/api/audit/export"
        );
    }

    #[test]
    fn summaries_read_as_one_line() {
        assert_eq!(summary_text(&serde_json::json!("renamed")), "renamed");
        assert_eq!(
            summary_text(&serde_json::json!({"after": [1, 2]})),
            r#"{"after":[1,2]}"#
        );
        assert_eq!(summary_text(&serde_json::Value::Null), "");
    }
}
