//! Server functions: the UI's API. Each one names its endpoint so scripts and tests can call it
//! (`POST /api/<endpoint>` with a JSON body of its arguments). The work happens in the server
//! layer behind [`crate::services`].
//!
//! [`identity`]: the caller, users, API tokens and the audit log.

pub mod environments;
pub mod identity;
pub mod manifests;

use leptos::prelude::*;
use leptos::server_fn::codec::{Json, Post};
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};

use crate::model::execution::Execution;
use crate::model::infrastructure::{
    InfrastructureAction, InfrastructureView, ObjectDetails, ObjectRef,
};
use crate::model::pipeline::{
    PipelineChange, PipelineDetail, PipelineSummary, PipelineVersion, SavedPipeline,
};
use crate::model::{AppError, Application, ApplicationInput};
#[cfg(feature = "ssr")]
use crate::{model::ApplicationName, services};

/// JSON as server_fn's own encoding writes it, read back as text: the browser then decodes
/// server-function answers with the same serde_json code as the resources it hydrates from the
/// page (which are text), instead of a second copy of every deserializer (bytes) in the bundle.
pub struct JsonText;

impl ContentType for JsonText {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonText {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: serde::Serialize> Encodes<T> for JsonText {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: serde::de::DeserializeOwned> Decodes<T> for JsonText {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        serde_json::from_str(&String::from_utf8_lossy(&bytes))
    }
}

/// Server-function answers: JSON in a POST's response, read as [`JsonText`].
pub type JsonAnswer = Post<JsonText>;

/// The server functions' error: the domain's [`AppError`] in a type of this crate, so that it
/// can travel through Leptos' server functions (Rust's orphan rule keeps the impl beside a local
/// type). Its JSON is exactly `AppError`'s.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        Self(e)
    }
}

impl std::ops::Deref for ApiError {
    type Target = AppError;

    fn deref(&self) -> &AppError {
        &self.0
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonText;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        // On the server, arguments that do not decode are the caller's mistake (the door answers
        // them with the error's own status, 422).
        #[cfg(feature = "ssr")]
        if let ServerFnErrorErr::Args(m) | ServerFnErrorErr::Deserialization(m) = &value {
            return Self(AppError::invalid(
                "body",
                &format!("the request's JSON does not fit this call: {m}"),
            ));
        }
        Self(AppError::Unreachable {
            message: value.to_string(),
        })
    }

    /// Every error answer of a server function passes here in the browser: when the session has
    /// ended (`Unauthenticated`), this is where the browser goes to sign in again, back to the
    /// page it is on afterwards.
    fn de(data: Bytes) -> Self {
        let error = <JsonText as Decodes<Self>>::decode(data).unwrap_or_else(|e| {
            Self::from_server_fn_error(ServerFnErrorErr::Deserialization(e.to_string()))
        });
        #[cfg(feature = "hydrate")]
        if error.0 == AppError::Unauthenticated {
            crate::ui::session::sign_in_again();
        }
        error
    }
}

/// A name in a URL that is not a valid name cannot name an existing application.
#[cfg(feature = "ssr")]
fn existing_name(raw: &str) -> Result<ApplicationName, AppError> {
    ApplicationName::parse(raw).map_err(|_| AppError::NotFound {
        what: format!("application '{raw}'"),
    })
}

#[server(prefix = "/api", endpoint = "applications/list", input = Json, output = JsonAnswer)]
pub async fn list_applications() -> Result<Vec<Application>, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.applications.list(&rc).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "applications/get", input = Json, output = JsonAnswer)]
pub async fn get_application(name: String) -> Result<Application, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.applications.get(&rc, &existing_name(&name)?).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "applications/create", input = Json, output = JsonAnswer)]
pub async fn create_application(input: ApplicationInput) -> Result<Application, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            let new = input
                .validate_new()
                .map_err(|fields| AppError::Invalid { fields })?;
            services.applications.create(&rc, new).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "applications/update", input = Json, output = JsonAnswer)]
pub async fn update_application(
    name: String,
    input: ApplicationInput,
) -> Result<Application, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            let name = existing_name(&name)?;
            if !input.name.is_empty() && input.name != name.as_str() {
                return Err(AppError::invalid("name", "name cannot be changed"));
            }
            let changes = input
                .validate_changes()
                .map_err(|fields| AppError::Invalid { fields })?;
            services.applications.update(&rc, &name, changes).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "applications/delete", input = Json, output = JsonAnswer)]
pub async fn delete_application(name: String) -> Result<(), ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services
                .applications
                .delete(&rc, &existing_name(&name)?)
                .await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "pipelines/list", input = Json, output = JsonAnswer)]
pub async fn list_pipelines(application: String) -> Result<Vec<PipelineSummary>, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services
                .pipelines
                .list(&rc, &existing_name(&application)?)
                .await
        }
        .await,
    )
}

/// The latest version of a pipeline; its `document` is the export.
#[server(prefix = "/api", endpoint = "pipelines/get", input = Json, output = JsonAnswer)]
pub async fn get_pipeline(application: String, name: String) -> Result<PipelineDetail, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services
                .pipelines
                .get(&rc, &existing_name(&application)?, &name)
                .await
        }
        .await,
    )
}

/// Saves (or imports) a pipeline in Spinnaker's JSON shape.
#[server(prefix = "/api", endpoint = "pipelines/save", input = Json, output = JsonAnswer)]
pub async fn save_pipeline(pipeline: serde_json::Value) -> Result<SavedPipeline, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            let document = crate::model::pipeline::PipelineDocument::from_value(pipeline)
                .map_err(|p| AppError::invalid(&p.field, &p.message))?;
            services.pipelines.save(&rc, document).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "pipelines/delete", input = Json, output = JsonAnswer)]
pub async fn delete_pipeline(application: String, name: String) -> Result<(), ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services
                .pipelines
                .delete(&rc, &existing_name(&application)?, &name)
                .await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "pipelines/history", input = Json, output = JsonAnswer)]
pub async fn pipeline_history(id: String) -> Result<Vec<PipelineVersion>, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.pipelines.history(&rc, &id).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "pipelines/diff", input = Json, output = JsonAnswer)]
pub async fn pipeline_diff(
    id: String,
    from: u32,
    to: u32,
) -> Result<Vec<PipelineChange>, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.pipelines.diff(&rc, &id, from, to).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "pipelines/restore", input = Json, output = JsonAnswer)]
pub async fn restore_pipeline(id: String, version: u32) -> Result<SavedPipeline, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.pipelines.restore(&rc, &id, version).await
        }
        .await,
    )
}

/// Starts a pipeline; `trigger` defaults to a manual trigger by the caller.
#[server(prefix = "/api", endpoint = "executions/start", input = Json, output = JsonAnswer)]
pub async fn start_execution(
    application: String,
    name: String,
    #[server(default)] trigger: Option<serde_json::Value>,
) -> Result<String, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            let trigger = trigger.unwrap_or_else(
                || serde_json::json!({"type": "manual", "user": rc.caller.audit_name()}),
            );
            services
                .executions
                .start(&rc, &existing_name(&application)?, &name, trigger)
                .await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "executions/get", input = Json, output = JsonAnswer)]
pub async fn get_execution(id: String) -> Result<Execution, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.executions.get(&rc, &id).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "executions/list", input = Json, output = JsonAnswer)]
pub async fn list_executions(application: String) -> Result<Vec<Execution>, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services
                .executions
                .list(&rc, &existing_name(&application)?)
                .await
        }
        .await,
    )
}

/// Starts an execution's pipeline again with the same trigger; returns the new id.
#[server(prefix = "/api", endpoint = "executions/rerun", input = Json, output = JsonAnswer)]
pub async fn rerun_execution(id: String) -> Result<String, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.executions.rerun(&rc, &id).await
        }
        .await,
    )
}

/// One page of an application's executions, filtered (status, pipeline, trigger, who, id),
/// newest first; `query.before` is the previous page's `next`.
#[server(prefix = "/api", endpoint = "executions/query", input = Json, output = JsonAnswer)]
pub async fn query_executions(
    application: String,
    #[server(default)] query: crate::model::execution_query::ExecutionQuery,
) -> Result<crate::model::execution_query::ExecutionPage, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services
                .executions
                .query(&rc, &existing_name(&application)?, &query)
                .await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "executions/cancel", input = Json, output = JsonAnswer)]
pub async fn cancel_execution(
    id: String,
    #[server(default)] reason: Option<String>,
) -> Result<(), ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.executions.cancel(&rc, &id, reason).await
        }
        .await,
    )
}

/// `judgment` is `continue` or `stop`.
#[server(prefix = "/api", endpoint = "executions/judge", input = Json, output = JsonAnswer)]
pub async fn judge_stage(
    id: String,
    stage_id: String,
    judgment: String,
    #[server(default)] input: Option<String>,
) -> Result<(), ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            let proceed = match judgment.as_str() {
                "continue" => true,
                "stop" => false,
                _ => {
                    return Err(AppError::invalid(
                        "judgment",
                        "judgment must be continue or stop",
                    ));
                }
            };
            services
                .executions
                .judge(&rc, &id, &stage_id, proceed, input)
                .await
        }
        .await,
    )
}

/// Evaluates `expression` (with or without `${}`) against an execution.
#[server(prefix = "/api", endpoint = "executions/evaluate", input = Json, output = JsonAnswer)]
pub async fn evaluate_expression(
    id: String,
    expression: String,
) -> Result<serde_json::Value, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.executions.evaluate(&rc, &id, &expression).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "executions/pause", input = Json, output = JsonAnswer)]
pub async fn pause_execution(id: String) -> Result<(), ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.executions.pause(&rc, &id).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "executions/resume", input = Json, output = JsonAnswer)]
pub async fn resume_execution(id: String) -> Result<(), ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.executions.resume(&rc, &id).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "executions/restart_stage", input = Json, output = JsonAnswer)]
pub async fn restart_stage(id: String, stage_id: String) -> Result<(), ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.executions.restart_stage(&rc, &id, &stage_id).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "infrastructure/view", input = Json, output = JsonAnswer)]
pub async fn infrastructure(application: String) -> Result<InfrastructureView, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services
                .infrastructure
                .view(&rc, &existing_name(&application)?)
                .await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "infrastructure/details", input = Json, output = JsonAnswer)]
pub async fn infrastructure_details(object: ObjectRef) -> Result<ObjectDetails, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.infrastructure.details(&rc, &object).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "infrastructure/logs", input = Json, output = JsonAnswer)]
pub async fn pod_logs(
    pod: ObjectRef,
    #[server(default)] container: Option<String>,
    #[server(default)] previous: bool,
) -> Result<String, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services
                .infrastructure
                .logs(&rc, &pod, container, previous)
                .await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "infrastructure/act", input = Json, output = JsonAnswer)]
pub async fn run_infrastructure_action(action: InfrastructureAction) -> Result<String, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.infrastructure.act(&rc, action).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "integrations/health", input = Json, output = JsonAnswer)]
pub async fn integrations_health()
-> Result<Vec<crate::model::integrations::IntegrationHealth>, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services.integrations.health(&rc).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "executions/judgment_preview", input = Json, output = JsonAnswer)]
pub async fn judgment_preview(
    id: String,
    stage_id: String,
) -> Result<Vec<crate::model::execution::PlannedChange>, ApiError> {
    services::respond(
        async {
            let (services, rc) = services::current()?;
            services
                .executions
                .judgment_preview(&rc, &id, &stage_id)
                .await
        }
        .await,
    )
}
