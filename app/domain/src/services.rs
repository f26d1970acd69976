//! The interface through which the UI's server functions and the HTTP API reach the server
//! layer (feature `services`).
//!
//! API boundary: callers declare what they need here; the `server` crate implements it. This
//! keeps the UI crate free of storage, Kubernetes and cache crates.

use std::sync::Arc;

use async_trait::async_trait;

use crate::delivery::metrics::DeliveryMetrics;
use crate::delivery::{ApplicationDelivery, PromotionPipeline};
use crate::environments::{BoardFilter, EnvironmentBoard};
use crate::execution::Execution;
use crate::execution_query::{ExecutionPage, ExecutionQuery};
use crate::infrastructure::{InfrastructureAction, InfrastructureView, ObjectDetails, ObjectRef};
use crate::pipeline::{
    PipelineChange, PipelineDetail, PipelineDocument, PipelineSummary, PipelineVersion,
    SavedPipeline,
};
use crate::{
    AppError, Application, ApplicationChanges, ApplicationName, NewApplication, RequestContext,
};

#[async_trait]
pub trait ApplicationService: Send + Sync + 'static {
    async fn list(&self, rc: &RequestContext) -> Result<Vec<Application>, AppError>;
    async fn get(
        &self,
        rc: &RequestContext,
        name: &ApplicationName,
    ) -> Result<Application, AppError>;
    async fn create(
        &self,
        rc: &RequestContext,
        new: NewApplication,
    ) -> Result<Application, AppError>;
    async fn update(
        &self,
        rc: &RequestContext,
        name: &ApplicationName,
        changes: ApplicationChanges,
    ) -> Result<Application, AppError>;
    async fn delete(&self, rc: &RequestContext, name: &ApplicationName) -> Result<(), AppError>;
}

/// Pipeline configurations: versioned, validated, kept verbatim.
#[async_trait]
pub trait PipelineService: Send + Sync + 'static {
    async fn list(
        &self,
        rc: &RequestContext,
        application: &ApplicationName,
    ) -> Result<Vec<PipelineSummary>, AppError>;
    async fn get(
        &self,
        rc: &RequestContext,
        application: &ApplicationName,
        name: &str,
    ) -> Result<PipelineDetail, AppError>;
    /// Validates and saves; errors block the save, warnings come back with the result.
    async fn save(
        &self,
        rc: &RequestContext,
        document: PipelineDocument,
    ) -> Result<SavedPipeline, AppError>;
    async fn delete(
        &self,
        rc: &RequestContext,
        application: &ApplicationName,
        name: &str,
    ) -> Result<(), AppError>;
    /// Every version, newest first.
    async fn history(
        &self,
        rc: &RequestContext,
        id: &str,
    ) -> Result<Vec<PipelineVersion>, AppError>;
    async fn diff(
        &self,
        rc: &RequestContext,
        id: &str,
        from: u32,
        to: u32,
    ) -> Result<Vec<PipelineChange>, AppError>;
    /// Saves an earlier version's document as the newest version.
    async fn restore(
        &self,
        rc: &RequestContext,
        id: &str,
        version: u32,
    ) -> Result<SavedPipeline, AppError>;
}

/// Pipeline executions: start, watch, cancel, judge.
#[async_trait]
pub trait ExecutionService: Send + Sync + 'static {
    /// Starts the pipeline `name` of `application` with `trigger` (Spinnaker's trigger JSON, e.g.
    /// `{"type": "manual", "parameters": {...}}`); returns the execution id.
    async fn start(
        &self,
        rc: &RequestContext,
        application: &ApplicationName,
        name: &str,
        trigger: serde_json::Value,
    ) -> Result<String, AppError>;
    async fn get(&self, rc: &RequestContext, id: &str) -> Result<Execution, AppError>;
    /// The newest executions of an application, newest first.
    async fn list(
        &self,
        rc: &RequestContext,
        application: &ApplicationName,
    ) -> Result<Vec<Execution>, AppError>;
    /// Starts the execution's pipeline again with the same trigger (its parameters, artifacts
    /// and build), as the caller; returns the new execution's id.
    async fn rerun(&self, rc: &RequestContext, id: &str) -> Result<String, AppError>;
    /// One page of an application's executions, filtered, newest first.
    async fn query(
        &self,
        rc: &RequestContext,
        application: &ApplicationName,
        query: &ExecutionQuery,
    ) -> Result<ExecutionPage, AppError>;
    async fn cancel(
        &self,
        rc: &RequestContext,
        id: &str,
        reason: Option<String>,
    ) -> Result<(), AppError>;
    /// Continue (`proceed`) or stop at a running manual judgment stage, as the caller.
    async fn judge(
        &self,
        rc: &RequestContext,
        id: &str,
        stage_id: &str,
        proceed: bool,
        input: Option<String>,
    ) -> Result<(), AppError>;
    async fn pause(&self, rc: &RequestContext, id: &str) -> Result<(), AppError>;
    async fn resume(&self, rc: &RequestContext, id: &str) -> Result<(), AppError>;
    /// Runs a failed stage, and everything after it, again.
    async fn restart_stage(
        &self,
        rc: &RequestContext,
        id: &str,
        stage_id: &str,
    ) -> Result<(), AppError>;
    /// Evaluates an expression against an execution (the expression debugger); a bad expression
    /// is `Invalid` on the field `expression`, with the reason.
    async fn evaluate(
        &self,
        rc: &RequestContext,
        id: &str,
        expression: &str,
    ) -> Result<serde_json::Value, AppError>;
    /// For a manual judgment that waits: what the deploy stages right after it would change in
    /// their targets, compared with what runs there now.
    async fn judgment_preview(
        &self,
        rc: &RequestContext,
        id: &str,
        stage_id: &str,
    ) -> Result<Vec<crate::execution::PlannedChange>, AppError>;
}

/// What runs in the Kubernetes accounts, from the live infrastructure cache, and the actions on it.
#[async_trait]
pub trait InfrastructureService: Send + Sync + 'static {
    /// Everything the application runs, by account and namespace.
    async fn view(
        &self,
        rc: &RequestContext,
        application: &ApplicationName,
    ) -> Result<InfrastructureView, AppError>;
    /// One object read live from its cluster: YAML, conditions, events, images.
    async fn details(
        &self,
        rc: &RequestContext,
        object: &ObjectRef,
    ) -> Result<ObjectDetails, AppError>;
    /// The last lines of a pod's log (of the container's previous instance with `previous`:
    /// what a crashed container said before it was restarted).
    async fn logs(
        &self,
        rc: &RequestContext,
        pod: &ObjectRef,
        container: Option<String>,
        previous: bool,
    ) -> Result<String, AppError>;
    /// Runs an action and says what it did.
    async fn act(
        &self,
        rc: &RequestContext,
        action: InfrastructureAction,
    ) -> Result<String, AppError>;
}

/// Jenkins masters and registries: whether each answers.
#[async_trait]
pub trait IntegrationService: Send + Sync + 'static {
    async fn health(
        &self,
        rc: &RequestContext,
    ) -> Result<Vec<crate::integrations::IntegrationHealth>, AppError>;
}

/// Manifests for the manifest editor: parsed and checked, each problem on its field and line.
#[async_trait]
pub trait ManifestService: Send + Sync + 'static {
    async fn parse(
        &self,
        rc: &RequestContext,
        input: crate::manifests::ManifestInput,
    ) -> Result<crate::manifests::ParsedManifests, AppError>;
    /// What applying `manifests` to `account` (in `namespace`, when it overrides theirs) for
    /// `application` would change: a dry run on the cluster, object by object.
    async fn preview(
        &self,
        rc: &RequestContext,
        application: &str,
        account: &str,
        namespace: Option<String>,
        manifests: Vec<serde_json::Value>,
    ) -> Result<Vec<crate::execution::PlannedChange>, AppError>;
    /// `manifests` as multi-document YAML text (the editor's YAML view).
    async fn render_yaml(
        &self,
        rc: &RequestContext,
        manifests: Vec<serde_json::Value>,
    ) -> Result<String, AppError>;
    /// The sidecar templates: the built-in ones and those the configuration adds.
    async fn sidecar_templates(
        &self,
        rc: &RequestContext,
    ) -> Result<Vec<crate::manifests::sidecars::SidecarTemplate>, AppError>;
}

/// Users, API tokens and the audit log (sign-in and sign-out are HTTP routes: they set cookies).
#[async_trait]
pub trait IdentityService: Send + Sync + 'static {
    /// The caller, as the user menu shows them (`Unauthenticated` when nobody is signed in).
    async fn me(&self, rc: &RequestContext) -> Result<crate::Identity, AppError>;
    /// Every user (admins only).
    async fn users(
        &self,
        rc: &RequestContext,
    ) -> Result<Vec<crate::identity::UserSummary>, AppError>;
    /// Adds a local user (admins only).
    async fn add_user(
        &self,
        rc: &RequestContext,
        new: crate::identity::NewUser,
    ) -> Result<crate::identity::UserSummary, AppError>;
    /// Removes a user, their sessions and tokens (admins only; not oneself).
    async fn delete_user(&self, rc: &RequestContext, username: &str) -> Result<(), AppError>;
    /// Sets a local user's password (admins, or the user themself); ends their other sessions.
    async fn set_password(
        &self,
        rc: &RequestContext,
        username: &str,
        password: &str,
    ) -> Result<(), AppError>;
    /// The caller's tokens (an admin's list has everyone's).
    async fn tokens(
        &self,
        rc: &RequestContext,
    ) -> Result<Vec<crate::identity::TokenSummary>, AppError>;
    /// A new token, shown once.
    async fn create_token(
        &self,
        rc: &RequestContext,
        new: crate::identity::NewToken,
    ) -> Result<crate::identity::CreatedToken, AppError>;
    /// Revokes one of the caller's tokens (admins: anyone's).
    async fn revoke_token(&self, rc: &RequestContext, id: &str) -> Result<(), AppError>;
    /// The audit log, newest first (admins only).
    async fn audit(
        &self,
        rc: &RequestContext,
        query: crate::identity::AuditQuery,
    ) -> Result<Vec<crate::identity::AuditEntry>, AppError>;
}

/// The environments board and the delivery history behind it.
#[async_trait]
pub trait EnvironmentService: Send + Sync + 'static {
    /// Every application the caller may read, in each of its environments.
    async fn board(
        &self,
        rc: &RequestContext,
        filter: &BoardFilter,
    ) -> Result<EnvironmentBoard, AppError>;
    /// An application's image paths and delivery metrics over `window_days`.
    async fn delivery(
        &self,
        rc: &RequestContext,
        application: &ApplicationName,
        window_days: u32,
    ) -> Result<ApplicationDelivery, AppError>;
    /// The delivery metrics of every application the caller may read, together.
    async fn overall(
        &self,
        rc: &RequestContext,
        window_days: u32,
    ) -> Result<DeliveryMetrics, AppError>;
    /// The application's pipelines that deploy to `environment` (what "Promote" offers).
    async fn promotion_pipelines(
        &self,
        rc: &RequestContext,
        application: &ApplicationName,
        environment: &str,
    ) -> Result<Vec<PromotionPipeline>, AppError>;
}

/// Everything server functions may call, provided by the server for each request.
#[derive(Clone)]
pub struct Services {
    pub applications: Arc<dyn ApplicationService>,
    pub pipelines: Arc<dyn PipelineService>,
    pub executions: Arc<dyn ExecutionService>,
    pub infrastructure: Arc<dyn InfrastructureService>,
    pub integrations: Arc<dyn IntegrationService>,
    pub identity: Arc<dyn IdentityService>,
    pub manifests: Arc<dyn ManifestService>,
    pub environments: Arc<dyn EnvironmentService>,
}
