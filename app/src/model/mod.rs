//! The model the UI works with: the domain model (re-exported from the `domain` crate, shared
//! with the server) and the UI's own pure models — the stage graph's layout and the pipeline
//! editor's forms.
//!
//! Architecture invariant: nothing in this module (or below it) uses Leptos, axum or any
//! storage crate.

pub mod editor;
pub mod graph;
pub mod manifest_form;

pub use domain::*;
