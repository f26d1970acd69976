//! The systems Topsail works with besides Kubernetes — Jenkins masters and Docker registries —
//! and whether each answers.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationHealth {
    /// `jenkins` or `registry`.
    pub kind: String,
    /// The name pipelines use (`master`, `account`).
    pub name: String,
    pub address: String,
    pub healthy: bool,
    /// The version or what answered when healthy; what is wrong otherwise.
    pub detail: String,
}
