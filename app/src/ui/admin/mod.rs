//! The admin pages: users (`/admin/users`) and the audit log (`/admin/audit`). The server
//! answers anyone else with `Forbidden`, shown as a plain explanation.

mod audit;
mod users;

use leptos::prelude::*;

use super::ErrorBanner;
use crate::api::ApiError;
use crate::model::AppError;

pub use audit::AuditPage;
pub use users::UsersPage;

/// An admin page's error: who may see it when the caller may not, the error otherwise.
#[component]
fn AdminError(error: ApiError) -> impl IntoView {
    match error.0 {
        AppError::Forbidden { .. } => view! {
            <section class="empty-state" data-testid="admins-only">
                <h2>"Only admins can see this page"</h2>
                <p>"Ask an admin of this Topsail if you need something from it."</p>
                <a class="button" href="/applications">"Go to applications"</a>
            </section>
        }
        .into_any(),
        _ => view! { <ErrorBanner error /> }.into_any(),
    }
}
