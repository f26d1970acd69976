//! The interface through which server functions reach the server layer.
//!
//! API boundary: `app` declares what it needs here; the `server` crate implements it and
//! provides a [`Services`] value through Leptos context for every request. This keeps the UI crate
//! free of storage, Kubernetes and cache crates.

use std::sync::Arc;

use async_trait::async_trait;
use leptos::prelude::*;

use crate::model::{
    AppError, Application, ApplicationChanges, ApplicationName, NewApplication, RequestContext,
};

#[async_trait]
pub trait ApplicationService: Send + Sync + 'static {
    async fn list(&self, rc: &RequestContext) -> Result<Vec<Application>, AppError>;
    async fn get(&self, rc: &RequestContext, name: &ApplicationName) -> Result<Application, AppError>;
    async fn create(&self, rc: &RequestContext, new: NewApplication) -> Result<Application, AppError>;
    async fn update(
        &self,
        rc: &RequestContext,
        name: &ApplicationName,
        changes: ApplicationChanges,
    ) -> Result<Application, AppError>;
    async fn delete(&self, rc: &RequestContext, name: &ApplicationName) -> Result<(), AppError>;
}

/// Everything server functions may call, provided by the server for each request.
#[derive(Clone)]
pub struct Services {
    pub applications: Arc<dyn ApplicationService>,
}

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
            Err(AppError::Internal { request_id: "none".into() })
        }
    }
}

/// Sets the HTTP status of the response from the outcome (for server-function calls and for
/// pages rendered on the server, e.g. 404 for an unknown application).
pub fn respond<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(e) = &result
        && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = http::StatusCode::from_u16(e.status_code())
    {
        response.set_status(status);
    }
    result
}
