//! Who is asking, and under which request id: established once per request by the server's
//! request door and recorded on everything the request changes.

use serde::{Deserialize, Serialize};

/// The identity behind a request. Until authentication lands every caller is anonymous; the
/// request door is the one place that will decide otherwise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Caller {
    Anonymous,
    User { name: String },
}

impl Caller {
    /// The name recorded in `created_by` / `updated_by`.
    pub fn audit_name(&self) -> &str {
        match self {
            Self::Anonymous => "anonymous",
            Self::User { name } => name,
        }
    }
}

/// Per-request facts every service call receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    pub request_id: String,
    pub caller: Caller,
}
