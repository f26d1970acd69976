//! The application service the UI's server functions (and, later, the REST routes) call.
//!
//! It turns storage outcomes into the API's error type: a taken name becomes "already exists",
//! a missing row "not found", and any database failure is logged with the request id and answered
//! only with that id.

use async_trait::async_trait;
use domain::services::ApplicationService;
use domain::{
    AppError, Application, ApplicationChanges, ApplicationName, NewApplication, RequestContext,
};

use crate::access::Guard;
use crate::store::{ApplicationRecord, Store, StoreError};
use domain::Access;
use serde_json::json;

pub struct Applications {
    store: Store,
    guard: Guard,
}

impl Applications {
    pub fn new(store: Store, guard: Guard) -> Self {
        Self { store, guard }
    }
}

fn record(name: &ApplicationName, changes: ApplicationChanges) -> ApplicationRecord {
    ApplicationRecord {
        name: name.as_str().to_owned(),
        description: changes.description,
        owner_email: changes.owner_email.as_str().to_owned(),
        team: changes.team,
        deploy_targets: changes.deploy_targets,
        permissions: changes.permissions,
        based_on: changes.based_on,
    }
}

/// A non-admin may give access only to roles they hold (else anyone could grant themselves,
/// through an application of their own, what an account or another application restricts).
/// Roles the application already lists may stay.
fn check_granted(
    rc: &RequestContext,
    new: &domain::Permissions,
    old: Option<&domain::Permissions>,
) -> Result<(), AppError> {
    let Some(me) = rc.caller.identity() else {
        return Err(AppError::Unauthenticated);
    };
    if me.admin {
        return Ok(());
    }
    for (field, roles, kept) in [
        ("permissions.READ", &new.read, old.map(|p| &p.read)),
        ("permissions.EXECUTE", &new.execute, old.map(|p| &p.execute)),
        ("permissions.WRITE", &new.write, old.map(|p| &p.write)),
    ] {
        if let Some(role) = roles
            .iter()
            .find(|r| !me.roles.contains(r) && !kept.is_some_and(|k| k.contains(r)))
        {
            return Err(AppError::invalid(
                field,
                &format!("you can only grant roles you have; you do not have '{role}'"),
            ));
        }
    }
    Ok(())
}

/// What the audit log keeps of an application.
fn summary(app: &Application) -> serde_json::Value {
    json!({
        "description": app.description,
        "ownerEmail": app.owner_email,
        "team": app.team,
        "deployTargets": app.deploy_targets,
        "permissions": app.permissions,
    })
}

/// An internal failure: logged with the request id, answered with only that id.
pub(crate) fn internal(rc: &RequestContext, cause: &dyn std::fmt::Display) -> AppError {
    tracing::error!(request_id = %rc.request_id, error = %cause, "internal error");
    AppError::Internal {
        request_id: rc.request_id.clone(),
    }
}

/// Maps a storage error for the user; `name` is the application the request was about.
pub(crate) fn api_error(
    rc: &RequestContext,
    name: Option<&ApplicationName>,
    e: StoreError,
) -> AppError {
    let named = || {
        name.map(|n| format!("application '{n}'"))
            .unwrap_or_else(|| "application".into())
    };
    match e {
        StoreError::NotFound => AppError::NotFound { what: named() },
        StoreError::Conflict => AppError::AlreadyExists {
            field: "name".into(),
            message: format!("{} already exists", named()),
        },
        StoreError::Stale => AppError::Conflict {
            message: format!("{} was changed meanwhile; reload and try again", named()),
        },
        StoreError::ChangedSince { by, at } => AppError::Conflict {
            message: crate::store::changed_since_message(&named(), &by, at),
        },
        StoreError::Database(cause) => internal(rc, &cause),
    }
}

#[async_trait]
impl ApplicationService for Applications {
    async fn list(&self, rc: &RequestContext) -> Result<Vec<Application>, AppError> {
        rc.caller.signed_in()?;
        let all = self.store.list_applications().await;
        let all = all.map_err(|e| api_error(rc, None, e))?;
        Ok(all
            .into_iter()
            .filter(|app| self.guard.may_read(rc, app))
            .collect())
    }

    async fn get(
        &self,
        rc: &RequestContext,
        name: &ApplicationName,
    ) -> Result<Application, AppError> {
        self.guard
            .application(rc, name.as_str(), Access::Read)
            .await
    }

    async fn create(
        &self,
        rc: &RequestContext,
        new: NewApplication,
    ) -> Result<Application, AppError> {
        // Any signed-in user may create an application; its permissions say who may use it.
        rc.caller.signed_in()?;
        check_granted(rc, &new.changes.permissions, None)?;
        let row = record(&new.name, new.changes);
        let created = self
            .store
            .insert_application(row, rc.caller.audit_name())
            .await;
        let created = created.map_err(|e| api_error(rc, Some(&new.name), e))?;
        tracing::info!(request_id = %rc.request_id, application = %new.name, by = rc.caller.audit_name(), "application created");
        self.guard
            .record(
                rc,
                "application.create",
                &format!("application/{}", new.name),
                json!({"after": summary(&created)}),
            )
            .await;
        Ok(created)
    }

    async fn update(
        &self,
        rc: &RequestContext,
        name: &ApplicationName,
        changes: ApplicationChanges,
    ) -> Result<Application, AppError> {
        let before = self
            .guard
            .application(rc, name.as_str(), Access::Write)
            .await?;
        check_granted(rc, &changes.permissions, Some(&before.permissions))?;
        let updated = self
            .store
            .update_application(record(name, changes), rc.caller.audit_name())
            .await;
        let updated = updated.map_err(|e| api_error(rc, Some(name), e))?;
        tracing::info!(request_id = %rc.request_id, application = %name, by = rc.caller.audit_name(), "application updated");
        self.guard
            .record(
                rc,
                "application.update",
                &format!("application/{name}"),
                json!({"before": summary(&before), "after": summary(&updated)}),
            )
            .await;
        Ok(updated)
    }

    async fn delete(&self, rc: &RequestContext, name: &ApplicationName) -> Result<(), AppError> {
        let before = self
            .guard
            .application(rc, name.as_str(), Access::Write)
            .await?;
        let pipelines = self
            .store
            .count_pipelines(name.as_str())
            .await
            .map_err(|e| api_error(rc, Some(name), e))?;
        if pipelines > 0 {
            return Err(AppError::Conflict {
                message: format!(
                    "application '{name}' still has {pipelines} pipeline(s); delete them first"
                ),
            });
        }
        self.store
            .delete_application(name.as_str())
            .await
            .map_err(|e| api_error(rc, Some(name), e))?;
        tracing::info!(request_id = %rc.request_id, application = %name, by = rc.caller.audit_name(), "application deleted");
        self.guard
            .record(
                rc,
                "application.delete",
                &format!("application/{name}"),
                json!({"before": summary(&before)}),
            )
            .await;
        Ok(())
    }
}
