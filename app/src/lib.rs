//! Topsail's web UI and the API model shared by browser and server.
//!
//! - [`model`]: plain data and validation rules (no Leptos, no server crates).
//! - [`api`]: server functions, the UI's API.
//! - `services` (server only): the interface the `server` crate implements.
//! - [`ui`]: pages and components.

pub mod api;
pub mod model;
#[cfg(feature = "ssr")]
pub mod services;
pub mod ui;

pub use ui::{App, shell};
