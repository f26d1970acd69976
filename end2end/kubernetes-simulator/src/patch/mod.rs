//! The four PATCH flavours (reference §7): JSON patch, JSON merge patch, strategic merge patch and
//! server-side apply with per-manager field ownership.
//!
//! This module holds the merge keys both strategic merge and apply use; each flavour lives in its
//! own submodule.

mod fields;
mod json_patch;
mod merge;
mod ownership;

pub use fields::{
    FieldPath, FieldSet, Step, apply_merge, fields_of, remove_at, render_path, value_at,
};
pub use json_patch::json_patch;
pub use merge::{merge_patch, strategic_merge};
pub use ownership::{Conflict, ManagerEntry, Ownership};

/// The key that identifies items of a list in strategic merge patch and server-side apply, for
/// the lists of the built-in kinds the simulator serves. `parent` is the name of the field whose
/// value holds the list (it tells container ports from service ports).
pub fn merge_key(parent: &str, field: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => Some("name"),
        "volumeMounts" | "volumeDevices" => Some("mountPath"),
        "conditions" => Some("type"),
        "ownerReferences" => Some("uid"),
        "hostAliases" => Some("ip"),
        "ports"
            if matches!(
                parent,
                "containers" | "initContainers" | "ephemeralContainers"
            ) =>
        {
            Some("containerPort")
        }
        "ports" => Some("port"),
        _ => None,
    }
}
