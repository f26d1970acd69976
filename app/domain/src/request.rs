//! Who is asking, and under which request id: established once per request by the server's
//! request door and recorded on everything the request changes.

use serde::{Deserialize, Serialize};

use crate::identity::{Access, Identity};

/// The identity behind a request: nobody (only the door's public routes answer such a caller),
/// or a signed-in user with their roles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Caller {
    Anonymous,
    User(Identity),
}

impl Caller {
    /// The name recorded in `created_by` / `updated_by`, a trigger's `user`, a judgment.
    pub fn audit_name(&self) -> &str {
        match self {
            Self::Anonymous => "anonymous",
            Self::User(id) => &id.username,
        }
    }

    pub fn identity(&self) -> Option<&Identity> {
        match self {
            Self::Anonymous => None,
            Self::User(id) => Some(id),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.identity().is_some_and(|i| i.admin)
    }

    /// Fails unless someone is signed in.
    pub fn signed_in(&self) -> Result<&Identity, crate::AppError> {
        self.identity().ok_or(crate::AppError::Unauthenticated)
    }

    /// Fails unless the caller is an admin.
    pub fn require_admin(&self) -> Result<&Identity, crate::AppError> {
        let id = self.signed_in()?;
        if id.admin {
            Ok(id)
        } else {
            Err(crate::AppError::Forbidden {
                message: "only an admin may do this".into(),
            })
        }
    }

    /// Fails unless `permissions` give the caller `access` to the application `name`.
    pub fn require(
        &self,
        permissions: &crate::identity::Permissions,
        access: Access,
        name: &str,
    ) -> Result<(), crate::AppError> {
        self.signed_in()?;
        if permissions.allow(self, access) {
            Ok(())
        } else {
            Err(crate::AppError::Forbidden {
                message: format!(
                    "{} access to application '{name}' is needed",
                    access.as_str()
                ),
            })
        }
    }
}

/// Per-request facts every service call receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    pub request_id: String,
    pub caller: Caller,
    /// The caller's address (the first `X-Forwarded-For` hop behind a proxy), for the audit log.
    pub address: String,
    pub user_agent: String,
}

impl RequestContext {
    /// A request by `caller` with no network origin (the command line, background work).
    pub fn local(request_id: &str, caller: Caller) -> Self {
        Self {
            request_id: request_id.to_owned(),
            caller,
            address: "local".into(),
            user_agent: String::new(),
        }
    }
}
