//! The services the server provides to server functions through Leptos context.
//!
//! The traits live in the domain crate (`domain::services`); this module finds them for the
//! request being handled and sets the response status from an outcome.

use leptos::prelude::*;

pub use domain::services::*;

use crate::api::ApiError;
use crate::model::{AppError, RequestContext};

/// The services and the request context of the request being handled.
///
/// The request context is put on the request by the server's request door; its absence is a
/// wiring bug, logged and answered as an internal error.
pub fn current() -> Result<(Services, RequestContext), AppError> {
    let services = use_context::<Services>();
    let rc = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<RequestContext>().cloned());
    match (services, rc) {
        (Some(services), Some(rc)) => Ok((services, rc)),
        (services, rc) => {
            tracing::error!(
                services = services.is_some(),
                request_context = rc.is_some(),
                "server function called without services or request context"
            );
            Err(AppError::Internal {
                request_id: "none".into(),
            })
        }
    }
}

/// Sets the HTTP status of the response from the outcome (for server-function calls and for
/// pages rendered on the server, e.g. 404 for an unknown application).
pub fn respond<T>(result: Result<T, AppError>) -> Result<T, ApiError> {
    if let Err(e) = &result
        && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = http::StatusCode::from_u16(e.status_code())
    {
        response.set_status(status);
    }
    result.map_err(ApiError)
}
