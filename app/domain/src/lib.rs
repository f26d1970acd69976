//! Topsail's domain model: the plain data and rules that the browser, the HTTP layer and the
//! engine share.
//!
//! Architecture invariant: this crate depends on serde, serde_json, chrono and thiserror only —
//! no Leptos, axum, storage, Kubernetes or HTTP crates — so the browser validates as the user
//! types with exactly the rules the server enforces, and the engine's types are not the UI's.
//!
//! - [`application`], [`pipeline`], [`execution`]: what Front50 stores and Orca runs;
//!   [`execution_query`]: the filters and pages of an executions list.
//! - [`delivery`]: deploys read from executions: each image's path and the delivery metrics.
//! - [`environments`]: deploy targets in environments, and the board across them.
//! - [`stage_types`]: the one catalog of stage types (validation, engine, editor).
//! - [`ids`]: typed ids; [`json_depth`]: how deep user JSON may nest.
//! - [`services`] (feature `services`): the interface the server implements for the UI and API.

mod application;
pub mod delivery;
pub mod environments;
mod error;
pub mod execution;
pub mod execution_query;
pub mod identity;
pub mod ids;
pub mod infrastructure;
pub mod integrations;
pub mod json_depth;
pub mod manifests;
pub mod notifications;
pub mod pipeline;
pub mod redact;
mod request;
#[cfg(feature = "services")]
pub mod services;
pub mod stage_types;
pub mod triggers;

pub use application::{
    Application, ApplicationChanges, ApplicationInput, ApplicationName, NewApplication, OwnerEmail,
};
pub use environments::{DeployTarget, parse_deploy_targets};
pub use error::{AppError, FieldError};
pub use identity::{Access, Identity, Permissions};
pub use request::{Caller, RequestContext};
