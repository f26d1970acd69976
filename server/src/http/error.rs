//! The HTTP boundary's one error type, for every route outside the server functions (which
//! answer `AppError` through Leptos): Gate, build and image routes, webhooks and event streams.
//! Domain and client errors become HTTP statuses here, in one place; an internal cause is
//! logged with the request id and never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use domain::{AppError, RequestContext};
use serde_json::{Value, json};

use crate::jenkins::JenkinsError;
use crate::orchestration::engine::EngineError;
use crate::registries::RegistryError;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// What the services answered (invalid input, not found, conflict, unavailable, internal).
    #[error(transparent)]
    App(#[from] AppError),
    /// The request does not prove who sent it (a webhook without its shared secret).
    #[error("{0}")]
    Unauthorized(String),
    /// The request cannot be read at all (a body that is not JSON).
    #[error("{0}")]
    BadRequest(String),
}

impl HttpError {
    /// An internal failure: `cause` is logged under the request id, which is all the caller sees.
    pub fn internal(rc: &RequestContext, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(request_id = %rc.request_id, error = %cause, "internal error");
        Self::App(AppError::Internal {
            request_id: rc.request_id.clone(),
        })
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::App(AppError::NotFound { what: what.into() })
    }

    /// From the engine: its storage failures are internal, the rest say what is wrong.
    pub fn from_engine(rc: &RequestContext, e: EngineError) -> Self {
        match e {
            EngineError::NotFound(what) => Self::not_found(what),
            EngineError::Conflict(message) => Self::App(AppError::Conflict { message }),
            EngineError::Invalid { field, message } => {
                Self::App(AppError::invalid(&field, &message))
            }
            EngineError::Storage(cause) => Self::internal(rc, &cause),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::App(e) => {
                StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The body in Spinnaker's (Gate's) error shape.
    pub fn body(&self) -> Value {
        let status = self.status();
        json!({
            "error": status.canonical_reason().unwrap_or("Error"),
            "message": self.to_string(),
            "status": status.as_u16(),
            "timestamp": chrono::Utc::now().timestamp_millis(),
        })
    }

    /// An event stream's `failure` event: the error as the API model writes it (`AppError`'s
    /// JSON), after which the stream ends.
    pub fn failure_event(&self) -> Event {
        let error = match self {
            Self::App(e) => e.clone(),
            Self::Unauthorized(message) | Self::BadRequest(message) => AppError::Conflict {
                message: message.clone(),
            },
        };
        Event::default()
            .event("failure")
            .data(serde_json::to_string(&error).unwrap_or_default())
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (self.status(), Json(self.body())).into_response()
    }
}

impl From<JenkinsError> for HttpError {
    /// Missing things are "not found"; what Jenkins refuses is a conflict; the rest means
    /// Jenkins is not answering as it should. The messages name no secret.
    fn from(e: JenkinsError) -> Self {
        Self::App(match &e {
            JenkinsError::NoSuchMaster(name) => AppError::NotFound {
                what: format!("Jenkins master '{name}'"),
            },
            JenkinsError::NoSuchJob { job, .. } => AppError::NotFound {
                what: format!("job '{job}'"),
            },
            JenkinsError::NoSuchBuild { job, number, .. } => AppError::NotFound {
                what: format!("build {number} of '{job}'"),
            },
            JenkinsError::QueueItemGone { id, .. } => AppError::NotFound {
                what: format!("queue item {id}"),
            },
            JenkinsError::Disabled { .. }
            | JenkinsError::NotParameterized { .. }
            | JenkinsError::Rejected { .. } => AppError::Conflict {
                message: e.to_string(),
            },
            _ => AppError::Unavailable {
                message: e.to_string(),
            },
        })
    }
}

impl From<RegistryError> for HttpError {
    fn from(e: RegistryError) -> Self {
        Self::App(match &e {
            RegistryError::NoSuchAccount(name) => AppError::NotFound {
                what: format!("registry account '{name}'"),
            },
            RegistryError::NotFound { what, .. } => AppError::NotFound { what: what.clone() },
            RegistryError::BadName { reason, .. } => AppError::invalid("repository", reason),
            _ => AppError::Unavailable {
                message: e.to_string(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rc() -> RequestContext {
        RequestContext::local("r1", domain::Caller::Anonymous)
    }

    #[test]
    fn each_error_has_one_status_and_gates_shape() {
        let cases = [
            (HttpError::not_found("execution 'x'"), 404),
            (HttpError::from(AppError::invalid("name", "bad")), 422),
            (HttpError::Unauthorized("no secret".into()), 401),
            (HttpError::BadRequest("not JSON".into()), 400),
            (
                HttpError::from_engine(&rc(), EngineError::Conflict("busy".into())),
                409,
            ),
            (
                HttpError::from(RegistryError::NoSuchAccount("h".into())),
                404,
            ),
        ];
        for (e, status) in cases {
            assert_eq!(e.status().as_u16(), status, "{e}");
            let body = e.body();
            assert_eq!(body["status"], status);
            assert_eq!(body["message"], e.to_string());
            assert!(body["error"].is_string() && body["timestamp"].is_i64());
        }
    }

    #[test]
    fn internal_causes_are_not_sent() {
        let cause = crate::orchestration::queue::QueueError::Corrupt("secret detail".into());
        let e = HttpError::from_engine(&rc(), EngineError::from(cause));
        assert_eq!(e.status().as_u16(), 500);
        let body = e.body().to_string();
        assert!(
            !body.contains("secret detail") && body.contains("r1"),
            "{body}"
        );
    }
}
