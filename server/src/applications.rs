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

use crate::store::{ApplicationRecord, Store, StoreError};

pub struct Applications {
    store: Store,
}

impl Applications {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn record(name: &ApplicationName, changes: ApplicationChanges) -> ApplicationRecord {
    ApplicationRecord {
        name: name.as_str().to_owned(),
        description: changes.description,
        owner_email: changes.owner_email.as_str().to_owned(),
        team: changes.team,
        deploy_targets: changes.deploy_targets,
    }
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
        StoreError::Database(cause) => internal(rc, &cause),
    }
}

#[async_trait]
impl ApplicationService for Applications {
    async fn list(&self, rc: &RequestContext) -> Result<Vec<Application>, AppError> {
        self.store
            .list_applications()
            .await
            .map_err(|e| api_error(rc, None, e))
    }

    async fn get(
        &self,
        rc: &RequestContext,
        name: &ApplicationName,
    ) -> Result<Application, AppError> {
        let found = self.store.get_application(name.as_str()).await;
        found.map_err(|e| api_error(rc, Some(name), e))
    }

    async fn create(
        &self,
        rc: &RequestContext,
        new: NewApplication,
    ) -> Result<Application, AppError> {
        let row = record(&new.name, new.changes);
        let created = self
            .store
            .insert_application(row, rc.caller.audit_name())
            .await;
        let created = created.map_err(|e| api_error(rc, Some(&new.name), e))?;
        tracing::info!(request_id = %rc.request_id, application = %new.name, by = rc.caller.audit_name(), "application created");
        Ok(created)
    }

    async fn update(
        &self,
        rc: &RequestContext,
        name: &ApplicationName,
        changes: ApplicationChanges,
    ) -> Result<Application, AppError> {
        let updated = self
            .store
            .update_application(record(name, changes), rc.caller.audit_name())
            .await;
        let updated = updated.map_err(|e| api_error(rc, Some(name), e))?;
        tracing::info!(request_id = %rc.request_id, application = %name, by = rc.caller.audit_name(), "application updated");
        Ok(updated)
    }

    async fn delete(&self, rc: &RequestContext, name: &ApplicationName) -> Result<(), AppError> {
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
        Ok(())
    }
}
