//! The API model shared by the browser and the server.
//!
//! Architecture invariant: nothing in this module (or below it) uses Leptos, axum or any
//! storage crate. It is plain data plus the rules that make a value valid, so the browser can
//! validate as the user types with exactly the rules the server enforces.

mod application;
pub mod editor;
mod error;
pub mod execution;
pub mod graph;
pub mod infrastructure;
pub mod integrations;
pub mod pipeline;
mod request;

pub use application::{
    Application, ApplicationChanges, ApplicationInput, ApplicationName, DeployTarget,
    NewApplication, OwnerEmail, parse_deploy_targets,
};
pub use error::{AppError, FieldError};
pub use request::{Caller, RequestContext};
