//! The pipeline configuration service: validation, versioned storage, history, diff, restore.

use async_trait::async_trait;
use domain::pipeline::{
    PipelineChange, PipelineDetail, PipelineDocument, PipelineProblem, PipelineSummary,
    PipelineVersion, SavedPipeline, Severity, diff,
};
use domain::services::PipelineService;
use domain::{AppError, ApplicationName, FieldError, RequestContext};

use crate::access::Guard;
use crate::applications::internal;
use crate::store::{Store, StoreError};
use domain::Access;
use serde_json::json;

pub struct Pipelines {
    store: Store,
    guard: Guard,
}

impl Pipelines {
    pub fn new(store: Store, guard: Guard) -> Self {
        Self { store, guard }
    }

    /// Checks the caller's `access` to the application of the pipeline `id`.
    async fn require_for_pipeline(
        &self,
        rc: &RequestContext,
        id: &str,
        access: Access,
    ) -> Result<String, AppError> {
        rc.caller.signed_in()?;
        let (_, document) = self
            .store
            .get_pipeline_by_id(id)
            .await
            .map_err(|e| map(rc, &format!("pipeline '{id}'"), e))?;
        let application = document.application().to_owned();
        self.guard.application(rc, &application, access).await?;
        Ok(application)
    }
}

fn map(rc: &RequestContext, what: &str, e: StoreError) -> AppError {
    match e {
        StoreError::NotFound => AppError::NotFound {
            what: what.to_owned(),
        },
        StoreError::Conflict => AppError::AlreadyExists {
            field: "name".into(),
            message: format!("{what} already exists"),
        },
        StoreError::Stale => AppError::Conflict {
            message: format!("{what} was changed meanwhile; reload and try again"),
        },
        StoreError::ChangedSince { by, at } => AppError::Conflict {
            message: crate::store::changed_since_message(what, &by, at),
        },
        StoreError::Database(cause) => internal(rc, &cause),
    }
}

/// A pipeline as the API shows it: its secrets redacted (see [`domain::redact::pipeline`]).
fn shown(document: PipelineDocument) -> PipelineDocument {
    let mut map = document.into_map();
    domain::redact::pipeline(&mut map);
    PipelineDocument::from(map)
}

fn field_errors(problems: &[PipelineProblem]) -> Vec<FieldError> {
    problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| FieldError {
            field: match &p.stage {
                Some(stage) => format!("{stage}: {}", p.field),
                None => p.field.clone(),
            },
            message: p.message.clone(),
        })
        .collect()
}

#[async_trait]
impl PipelineService for Pipelines {
    async fn list(
        &self,
        rc: &RequestContext,
        application: &ApplicationName,
    ) -> Result<Vec<PipelineSummary>, AppError> {
        self.guard
            .application(rc, application.as_str(), Access::Read)
            .await?;
        self.store
            .list_pipelines(application.as_str())
            .await
            .map_err(|e| map(rc, "pipelines", e))
    }

    async fn get(
        &self,
        rc: &RequestContext,
        application: &ApplicationName,
        name: &str,
    ) -> Result<PipelineDetail, AppError> {
        self.guard
            .application(rc, application.as_str(), Access::Read)
            .await?;
        let what = format!("pipeline '{name}' of application '{application}'");
        let (summary, document) = self
            .store
            .get_pipeline(application.as_str(), name)
            .await
            .map_err(|e| map(rc, &what, e))?;
        Ok(PipelineDetail {
            summary,
            document: shown(document),
        })
    }

    async fn save(
        &self,
        rc: &RequestContext,
        mut document: PipelineDocument,
    ) -> Result<SavedPipeline, AppError> {
        rc.caller.signed_in()?;
        let problems = document.validate();
        let mut errors = field_errors(&problems);
        errors.extend(
            crate::events::cron::problems(document.as_map())
                .into_iter()
                .chain(crate::events::images::problems(document.as_map()))
                .map(|(field, message)| FieldError { field, message }),
        );
        if !errors.is_empty() {
            return Err(AppError::Invalid { fields: errors });
        }
        let application = ApplicationName::parse(document.application())
            .map_err(|e| AppError::invalid("application", &e.message))?;
        match self
            .guard
            .application(rc, application.as_str(), Access::Write)
            .await
        {
            Err(AppError::NotFound { .. }) => {
                return Err(AppError::invalid(
                    "application",
                    &format!("application '{application}' does not exist"),
                ));
            }
            other => other?,
        };
        // An id names one pipeline of one application: saving it into another is refused
        // (pipelines do not move between applications; export and import instead).
        let existing = match document.get("id").and_then(|v| v.as_str()) {
            Some(id) => self.store.get_pipeline_by_id(id).await.ok(),
            None => self
                .store
                .get_pipeline(application.as_str(), document.name())
                .await
                .ok(),
        };
        // Secrets were shown redacted; sent back as shown, the stored ones stay.
        if let Some((_, before)) = &existing {
            let mut incoming = document.into_map();
            domain::redact::restore(&mut incoming, before.as_map());
            document = PipelineDocument::from(incoming);
        }
        if let Some((_, before)) = &existing
            && before.application() != application.as_str()
        {
            return Err(AppError::invalid(
                "id",
                "this id belongs to a pipeline of another application",
            ));
        }
        // Pipelines that start each other on completion, in a circle, would run without end.
        if document.get("id").is_some() {
            let others = self
                .store
                .pipelines_with_trigger("pipeline")
                .await
                .map_err(|e| map(rc, "pipelines", e))?;
            if let Some(circle) = crate::events::triggers::trigger_cycle(&document, &others) {
                return Err(AppError::invalid(
                    "triggers",
                    &format!("these pipelines would start each other without end: {circle}"),
                ));
            }
        }
        let what = format!(
            "a pipeline named '{}' in application '{application}'",
            document.name()
        );
        let document_name = document.name().to_owned();
        let saved = self
            .store
            .save_pipeline(document, rc.caller.audit_name())
            .await
            .map_err(|e| map(rc, &what, e))?;
        if saved.changed {
            tracing::info!(request_id = %rc.request_id, pipeline = %saved.id, version = saved.version, by = rc.caller.audit_name(), "pipeline saved");
            self.guard
                .record(
                    rc,
                    "pipeline.save",
                    &format!("application/{application}/pipeline/{}", saved.id),
                    json!({"name": document_name, "version": saved.version, "before": existing.map(|(s, _)| s.version)}),
                )
                .await;
        }
        let warnings = problems
            .into_iter()
            .filter(|p| p.severity == Severity::Warning)
            .collect();
        Ok(SavedPipeline {
            id: saved.id,
            version: saved.version,
            changed: saved.changed,
            update_ts: saved.update_ts.to_string(),
            warnings,
        })
    }

    async fn delete(
        &self,
        rc: &RequestContext,
        application: &ApplicationName,
        name: &str,
    ) -> Result<(), AppError> {
        self.guard
            .application(rc, application.as_str(), Access::Write)
            .await?;
        let what = format!("pipeline '{name}' of application '{application}'");
        self.store
            .delete_pipeline(application.as_str(), name)
            .await
            .map_err(|e| map(rc, &what, e))?;
        tracing::info!(request_id = %rc.request_id, application = %application, pipeline = name, by = rc.caller.audit_name(), "pipeline deleted");
        self.guard
            .record(
                rc,
                "pipeline.delete",
                &format!("application/{application}/pipeline/{name}"),
                json!({"name": name}),
            )
            .await;
        Ok(())
    }

    async fn history(
        &self,
        rc: &RequestContext,
        id: &str,
    ) -> Result<Vec<PipelineVersion>, AppError> {
        self.require_for_pipeline(rc, id, Access::Read).await?;
        let versions = self
            .store
            .pipeline_versions(id)
            .await
            .map_err(|e| map(rc, &format!("pipeline '{id}'"), e))?;
        Ok(versions
            .into_iter()
            .map(|v| PipelineVersion {
                document: shown(v.document),
                ..v
            })
            .collect())
    }

    async fn diff(
        &self,
        rc: &RequestContext,
        id: &str,
        from: u32,
        to: u32,
    ) -> Result<Vec<PipelineChange>, AppError> {
        self.require_for_pipeline(rc, id, Access::Read).await?;
        let load = |v: u32| async move {
            self.store
                .pipeline_version(id, v)
                .await
                .map_err(|e| map(rc, &format!("version {v} of pipeline '{id}'"), e))
        };
        let (before, after) = (load(from).await?, load(to).await?);
        Ok(diff(&shown(before.document), &shown(after.document)))
    }

    async fn restore(
        &self,
        rc: &RequestContext,
        id: &str,
        version: u32,
    ) -> Result<SavedPipeline, AppError> {
        self.require_for_pipeline(rc, id, Access::Write).await?;
        let old = self
            .store
            .pipeline_version(id, version)
            .await
            .map_err(|e| map(rc, &format!("version {version} of pipeline '{id}'"), e))?;
        // Restoring is meant to replace what stands, whichever version that is.
        let mut document = old.document;
        document.set("updateTs", serde_json::Value::Null);
        self.save(rc, document).await
    }
}
