//! The one error type of the API boundary (server functions and the REST routes).
//!
//! It carries only what the user may see: which field is wrong and why, what was not found, or —
//! for anything internal — the request id under which the server logged the cause.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One problem with one input field, named as the API names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: &str) -> Self {
        Self {
            field: field.to_owned(),
            message: message.to_owned(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(
    tag = "error",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    from = "ErrorWire"
)]
pub enum AppError {
    /// The input was rejected; nothing was stored.
    #[error("{}", join_fields(.fields))]
    Invalid { fields: Vec<FieldError> },
    /// The thing to create exists already (e.g. an application with that name).
    #[error("{message}")]
    AlreadyExists { field: String, message: String },
    #[error("{what} not found")]
    NotFound { what: String },
    /// The request conflicts with the current state (changed meanwhile, or still in use).
    #[error("{message}")]
    Conflict { message: String },
    /// Something failed inside the server; the cause is in the server's log under this id.
    #[error("something went wrong on the server (request id {request_id})")]
    Internal { request_id: String },
    /// Nobody is signed in (or the session or token expired).
    #[error("sign in first")]
    Unauthenticated,
    /// The caller is signed in but may not do this.
    #[error("{message}")]
    Forbidden { message: String },
    /// Too many failed sign-ins; try again after this many seconds.
    #[error("too many failed sign-ins; try again in {retry_after} s")]
    Throttled { retry_after: u64 },
    /// The request never got a proper answer (network down, server restarting, bad response).
    #[error("could not reach the server: {message}")]
    Unreachable { message: String },
    /// Something the server depends on (a Kubernetes cluster, Jenkins) is not answering.
    #[error("{message}")]
    Unavailable { message: String },
}

/// An error as it reads on the wire, flat. The browser decodes every server-function error
/// through this: a flat struct's decoder is a fraction of the tagged enum's (which buffers the
/// whole object first), and it is in the bundle every page loads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorWire {
    error: String,
    #[serde(default)]
    fields: Vec<FieldError>,
    #[serde(default)]
    field: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    what: String,
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    retry_after: u64,
}

impl From<ErrorWire> for AppError {
    fn from(w: ErrorWire) -> Self {
        match w.error.as_str() {
            "invalid" => Self::Invalid { fields: w.fields },
            "alreadyExists" => Self::AlreadyExists {
                field: w.field,
                message: w.message,
            },
            "notFound" => Self::NotFound { what: w.what },
            "conflict" => Self::Conflict { message: w.message },
            "internal" => Self::Internal {
                request_id: w.request_id,
            },
            "unauthenticated" => Self::Unauthenticated,
            "forbidden" => Self::Forbidden { message: w.message },
            "throttled" => Self::Throttled {
                retry_after: w.retry_after,
            },
            "unavailable" => Self::Unavailable { message: w.message },
            "unreachable" => Self::Unreachable { message: w.message },
            other => Self::Unreachable {
                message: format!("the server answered with an unknown error ({other})"),
            },
        }
    }
}

fn join_fields(fields: &[FieldError]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl AppError {
    pub fn invalid(field: &str, message: &str) -> Self {
        Self::Invalid {
            fields: vec![FieldError::new(field, message)],
        }
    }

    /// The problems to show next to form fields (empty for errors that are not about a field).
    pub fn field_errors(&self) -> Vec<FieldError> {
        match self {
            Self::Invalid { fields } => fields.clone(),
            Self::AlreadyExists { field, message } => vec![FieldError::new(field, message)],
            _ => Vec::new(),
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::Invalid { .. } => 422,
            Self::AlreadyExists { .. } | Self::Conflict { .. } => 409,
            Self::NotFound { .. } => 404,
            Self::Internal { .. } => 500,
            Self::Unauthenticated => 401,
            Self::Forbidden { .. } => 403,
            Self::Throttled { .. } => 429,
            Self::Unreachable { .. } => 502,
            Self::Unavailable { .. } => 503,
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_show_only_the_request_id() {
        let e = AppError::Internal {
            request_id: "abc123".into(),
        };
        assert_eq!(
            e.to_string(),
            "something went wrong on the server (request id abc123)"
        );
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"error": "internal", "requestId": "abc123"})
        );
    }

    #[test]
    fn field_errors_cover_invalid_and_already_exists() {
        let dup = AppError::AlreadyExists {
            field: "name".into(),
            message: "already exists".into(),
        };
        assert_eq!(
            dup.field_errors(),
            vec![FieldError::new("name", "already exists")]
        );
        assert_eq!(dup.status_code(), 409);
        assert!(
            AppError::NotFound { what: "x".into() }
                .field_errors()
                .is_empty()
        );
    }

    #[test]
    fn every_error_reads_back_as_it_was_written() {
        let all = [
            AppError::invalid("name", "is required"),
            AppError::AlreadyExists {
                field: "name".into(),
                message: "taken".into(),
            },
            AppError::NotFound { what: "x".into() },
            AppError::Conflict {
                message: "changed".into(),
            },
            AppError::Internal {
                request_id: "r1".into(),
            },
            AppError::Unauthenticated,
            AppError::Forbidden {
                message: "no".into(),
            },
            AppError::Throttled { retry_after: 30 },
            AppError::Unreachable {
                message: "down".into(),
            },
            AppError::Unavailable {
                message: "cluster".into(),
            },
        ];
        for e in all {
            let text = serde_json::to_string(&e).unwrap();
            assert_eq!(
                serde_json::from_str::<AppError>(&text).unwrap(),
                e,
                "{text}"
            );
        }
        let odd: AppError = serde_json::from_str(r#"{"error": "teapot"}"#).unwrap();
        assert!(matches!(odd, AppError::Unreachable { .. }));
    }
}
