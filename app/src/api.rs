//! Server functions: the UI's API. Each one names its endpoint so scripts and tests can call it
//! (`POST /api/<endpoint>` with a JSON body of its arguments). The work happens in the server
//! layer behind [`crate::services`].

use leptos::prelude::*;
use leptos::server_fn::codec::{Json, JsonEncoding};

use crate::model::{AppError, Application, ApplicationInput};
#[cfg(feature = "ssr")]
use crate::{model::ApplicationName, services};

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Unreachable { message: value.to_string() }
    }
}

/// A name in a URL that is not a valid name cannot name an existing application.
#[cfg(feature = "ssr")]
fn existing_name(raw: &str) -> Result<ApplicationName, AppError> {
    ApplicationName::parse(raw).map_err(|_| AppError::NotFound { what: format!("application '{raw}'") })
}

#[server(prefix = "/api", endpoint = "applications/list", input = Json)]
pub async fn list_applications() -> Result<Vec<Application>, AppError> {
    services::respond(async {
        let (services, rc) = services::current()?;
        services.applications.list(&rc).await
    }.await)
}

#[server(prefix = "/api", endpoint = "applications/get", input = Json)]
pub async fn get_application(name: String) -> Result<Application, AppError> {
    services::respond(async {
        let (services, rc) = services::current()?;
        services.applications.get(&rc, &existing_name(&name)?).await
    }.await)
}

#[server(prefix = "/api", endpoint = "applications/create", input = Json)]
pub async fn create_application(input: ApplicationInput) -> Result<Application, AppError> {
    services::respond(async {
        let (services, rc) = services::current()?;
        let new = input.validate_new().map_err(|fields| AppError::Invalid { fields })?;
        services.applications.create(&rc, new).await
    }.await)
}

#[server(prefix = "/api", endpoint = "applications/update", input = Json)]
pub async fn update_application(name: String, input: ApplicationInput) -> Result<Application, AppError> {
    services::respond(async {
        let (services, rc) = services::current()?;
        let name = existing_name(&name)?;
        if !input.name.is_empty() && input.name != name.as_str() {
            return Err(AppError::invalid("name", "name cannot be changed"));
        }
        let changes = input.validate_changes().map_err(|fields| AppError::Invalid { fields })?;
        services.applications.update(&rc, &name, changes).await
    }.await)
}

#[server(prefix = "/api", endpoint = "applications/delete", input = Json)]
pub async fn delete_application(name: String) -> Result<(), AppError> {
    services::respond(async {
        let (services, rc) = services::current()?;
        services.applications.delete(&rc, &existing_name(&name)?).await
    }.await)
}
