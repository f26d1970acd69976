//! The API's write rules: create, replace, patch, apply and delete, with the defaulting,
//! validation, generation and concurrency behaviour of reference §2, §4, §7 and §9.
//!
//! This module holds who writes and to which part, owner references, and the namespaces a cluster
//! starts with; defaulting, validation, create/update, apply and delete live in submodules.

mod apply;
mod defaults;
mod delete;
mod validation;
mod write;

use serde_json::{Value, json};

use crate::resources::index_of;
use crate::store::State;

pub use apply::apply;
pub use defaults::apply_defaults;
pub use delete::{Propagation, delete};
pub use validation::validate;
pub use write::{create, update};

/// Which part of the object a write addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Main,
    Status,
}

/// Who writes: the field manager and whether the change is only validated (`dryRun=All`).
#[derive(Clone, Debug)]
pub struct Writer {
    pub manager: String,
    pub dry_run: bool,
}

pub fn owner_uids(object: &Value) -> impl Iterator<Item = &str> {
    object["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["uid"].as_str())
}

/// The controlling owner's uid, if any.
pub fn controller_uid(object: &Value) -> Option<&str> {
    object["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == json!(true))
        .and_then(|r| r["uid"].as_str())
}

/// Creates the namespaces every cluster starts with.
pub fn seed(state: &mut State) {
    let writer = Writer {
        manager: "kube-apiserver".into(),
        dry_run: false,
    };
    for ns in ["default", "kube-system", "kube-public"] {
        let _ = create(
            state,
            index_of("", "namespaces"),
            "",
            json!({"metadata": {"name": ns}}),
            &writer,
        );
    }
}
