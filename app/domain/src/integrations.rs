//! The systems Topsail works with — Kubernetes accounts, Jenkins masters and Docker
//! registries — and whether each answers.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationHealth {
    /// `kubernetes`, `jenkins` or `registry`.
    pub kind: String,
    /// The name pipelines use (`master`, `account`).
    pub name: String,
    pub address: String,
    pub healthy: bool,
    /// The version or what answered when healthy; what is wrong otherwise.
    pub detail: String,
    /// A Kubernetes account's namespaces: the allowed ones, or its default when any is allowed
    /// (what the UI offers in namespace pickers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
}
