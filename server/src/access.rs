//! Authorization (Spinnaker's Fiat, in-process): every service asks here, once per call,
//! whether the caller may read, execute or write the application a request is about, and
//! records what changed in the audit log. Deny by default: no identity, no access; an
//! application without permissions is for admins only.

use domain::{Access, AppError, Application, RequestContext};

use crate::identity::Accounts;
use crate::store::{Store, StoreError};

#[derive(Clone)]
pub struct Guard {
    store: Store,
    accounts: Accounts,
}

impl Guard {
    pub fn new(store: Store, accounts: Accounts) -> Self {
        Self { store, accounts }
    }

    /// The application `name`, if the caller has `access` to it. A caller who may not even
    /// read it learns nothing more than one who may read but not act: 403 either way; a
    /// missing application is 404 (to admins and everyone).
    pub async fn application(
        &self,
        rc: &RequestContext,
        name: &str,
        access: Access,
    ) -> Result<Application, AppError> {
        rc.caller.signed_in()?;
        let app = match self.store.get_application(name).await {
            Ok(app) => app,
            Err(StoreError::NotFound) => {
                return Err(AppError::NotFound {
                    what: format!("application '{name}'"),
                });
            }
            Err(e) => return Err(crate::applications::internal(rc, &e)),
        };
        rc.caller.require(&app.permissions, access, name)?;
        Ok(app)
    }

    /// Whether the caller may read `app` (for lists, which leave out the rest).
    pub fn may_read(&self, rc: &RequestContext, app: &Application) -> bool {
        app.permissions.allow(&rc.caller, Access::Read)
    }

    /// Appends to the audit log.
    pub async fn record(
        &self,
        rc: &RequestContext,
        action: &str,
        target: &str,
        summary: serde_json::Value,
    ) {
        self.accounts.record(rc, action, target, summary).await;
    }
}
