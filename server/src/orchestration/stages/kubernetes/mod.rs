//! The Kubernetes manifest stages, on the Kubernetes layer:
//!
//! - `deployManifest` (`account`, `namespaceOverride`, `manifests` or a manifest artifact
//!   (`embedded/base64`, `http/file`), `requiredArtifactIds`): binds the run's images into the
//!   manifests, applies them, then waits until they are stable;
//! - `deleteManifest`, `scaleManifest` (`replicas`), `patchManifest` (`patchBody`,
//!   `options.mergeStrategy`), `undoRolloutManifest` (`numRevisionsBack`), each on
//!   `account`/`location`/`manifestName` (`"deployment web"`), waiting where Spinnaker waits;
//! - `findArtifactsFromResource`: the images a resource runs, as `docker/image` artifacts.
//!
//! Outputs follow Spinnaker's names (`outputs.manifestNamesByNamespace`, `outputs.manifests`,
//! `outputs.boundArtifacts`, `deploy.account.name`, `artifacts`) so later stages and
//! expressions read them the same way. Every task is safe to run again after a crash.
//!
//! `deployManifest` and its preview are in `deploy`; the stages on one named resource are in
//! `manage`.

mod deploy;
pub use deploy::manifests_from_yaml;
mod manage;

use std::time::Duration;

use domain::execution::Stage;
use serde_json::{Map, Value, json};

use super::{TaskContext, TaskResult, keep_trying, text};
use crate::kubernetes::{Accounts, KubernetesError, ResourceRef, RolloutStatus};

pub use deploy::planned_deploy;

/// How often a waiting task looks at the cluster again.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// Spinnaker's default for waiting until manifests are stable.
const STABLE_WITHIN_MS: i64 = 30 * 60 * 1000;

fn account(stage: &Stage) -> Result<&str, TaskResult> {
    text(stage, "account")
        .or_else(|| text(stage, "credentials"))
        .ok_or(TaskResult::Failed {
            message: "account is required".into(),
        })
}

/// A failure worth another try (the cluster did not answer), or the end of the stage.
fn outcome(cx: &TaskContext<'_>, e: KubernetesError) -> TaskResult {
    match e {
        KubernetesError::Unreachable { .. } | KubernetesError::AccountUnavailable { .. } => {
            keep_trying(cx, CHECK_EVERY, || format!("{e} (gave up after 5 minutes)"))
        }
        other => TaskResult::Failed {
            message: other.to_string(),
        },
    }
}

/// The single resource a stage names: `account`, `location` (namespace), `manifestName`.
fn named_resource(stage: &Stage) -> Result<ResourceRef, TaskResult> {
    let account = account(stage)?;
    let name = text(stage, "manifestName").ok_or(TaskResult::Failed {
        message: "manifestName is required".into(),
    })?;
    ResourceRef::parse(account, text(stage, "location"), name).map_err(|e| TaskResult::Failed {
        message: e.to_string(),
    })
}

/// Resources written by this stage, from `outputs.manifestNamesByNamespace`.
fn written(stage: &Stage) -> Result<Vec<ResourceRef>, TaskResult> {
    let account = account(stage)?;
    let mut refs = Vec::new();
    for (namespace, names) in stage
        .context
        .get("outputs.manifestNamesByNamespace")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for name in names
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let ns = (!namespace.is_empty()).then_some(namespace.as_str());
            refs.push(
                ResourceRef::parse(account, ns, name).map_err(|e| TaskResult::Failed {
                    message: e.to_string(),
                })?,
            );
        }
    }
    Ok(refs)
}

fn names_by_namespace(refs: &[ResourceRef]) -> Value {
    let mut by_ns: Map<String, Value> = Map::new();
    for r in refs {
        let entry = by_ns
            .entry(r.namespace.clone().unwrap_or_default())
            .or_insert_with(|| json!([]));
        if let Some(list) = entry.as_array_mut() {
            list.push(json!(format!("{} {}", r.kind.to_ascii_lowercase(), r.name)));
        }
    }
    Value::Object(by_ns)
}

/// Waits until every written resource is stable; fails with the first rollout failure.
async fn wait_stable(accounts: &Accounts, cx: &TaskContext<'_>) -> TaskResult {
    let refs = match written(cx.stage) {
        Ok(r) => r,
        Err(failed) => return failed,
    };
    let mut waiting = Vec::new();
    for r in &refs {
        match accounts.rollout_status(r).await {
            Ok(s) if s.is_settled() => {}
            Ok(RolloutStatus::Failed { reason }) => {
                return TaskResult::Failed {
                    message: format!("{} failed to roll out: {reason}", r.describe()),
                };
            }
            Ok(RolloutStatus::Waiting { message }) => {
                waiting.push(format!("{}: {message}", r.describe()))
            }
            Ok(_) => {}
            Err(e) => return outcome(cx, e),
        }
    }
    if waiting.is_empty() {
        return TaskResult::Succeeded {
            outputs: Map::new(),
        };
    }
    let started = cx.stage.start_time.unwrap_or(cx.now_ms);
    let limit = cx
        .stage
        .context
        .get("stableTimeoutMs")
        .and_then(Value::as_i64)
        .unwrap_or(STABLE_WITHIN_MS);
    if cx.now_ms - started > limit {
        return TaskResult::Failed {
            message: format!(
                "not stable after {} minutes: {}",
                limit / 60_000,
                waiting.join("; ")
            ),
        };
    }
    TaskResult::Running {
        check_again_in: CHECK_EVERY,
    }
}

/// What every Kubernetes stage works on.
pub struct On {
    pub accounts: Accounts,
    /// The applications, to keep each to its deploy targets (None: no check).
    pub store: Option<crate::store::Store>,
    /// For manifests fetched from a URL (`http/file` artifacts).
    pub outbound: crate::outbound::OutboundClient,
    /// For manifests read from S3 (`s3/object` artifacts).
    pub s3_artifacts: std::sync::Arc<crate::blobs::artifacts::S3ArtifactAccounts>,
}

impl On {
    /// Fails when the run's application names deploy targets and `namespace` in `account` is
    /// not one of them.
    async fn check_target(
        &self,
        cx: &TaskContext<'_>,
        account: &str,
        namespace: &str,
    ) -> Option<TaskResult> {
        let store = self.store.as_ref()?;
        let application = store
            .get_application(&cx.execution.application)
            .await
            .ok()?;
        if let Some(refused) = self.check_account(cx, store, &application, account).await {
            return Some(refused);
        }
        if application.may_deploy_to(account, namespace) {
            return None;
        }
        let targets: Vec<String> = application
            .deploy_targets
            .iter()
            .map(|t| t.text())
            .collect();
        Some(TaskResult::Failed {
            message: format!(
                "application {} does not deploy to {account}/{namespace}; its deploy targets are {} (change them on its Config tab)",
                application.name,
                targets.join(", ")
            ),
        })
    }

    /// An account restricted to roles takes changes from a run only when the application's
    /// EXECUTE or WRITE roles, or the roles of the user who started the run, may write there
    /// (the run acts with the permissions of its application and its trigger's user).
    async fn check_account(
        &self,
        cx: &TaskContext<'_>,
        store: &crate::store::Store,
        application: &domain::Application,
        account: &str,
    ) -> Option<TaskResult> {
        let mut roles: Vec<String> = application.permissions.execute.clone();
        roles.extend(application.permissions.write.iter().cloned());
        let mut admin = false;
        // A person's roles count only for a run that person started; a run another run started
        // carries its parent's user but acts with its own application's permissions.
        let started_by_a_run =
            cx.execution.trigger.get("type").and_then(|t| t.as_str()) == Some("pipeline");
        let user = cx
            .execution
            .trigger
            .get("user")
            .and_then(|u| u.as_str())
            .filter(|_| !started_by_a_run);
        if let Some(user) = user
            && let Ok(Some(u)) = store.user(user).await
        {
            roles.extend(u.roles);
            admin = u.admin;
        }
        if self
            .accounts
            .allows(account, &roles, admin, domain::Access::Write)
        {
            return None;
        }
        Some(TaskResult::Failed {
            message: format!(
                "account {account} is restricted to roles, and neither application {} nor {} may deploy there",
                application.name,
                user.unwrap_or("the trigger")
            ),
        })
    }

    /// The one resource a stage names (`account`, `location`, `manifestName`), if the
    /// application may touch it.
    async fn named(&self, cx: &TaskContext<'_>) -> Result<ResourceRef, TaskResult> {
        let r = named_resource(cx.stage)?;
        let namespace = match &r.namespace {
            Some(ns) => Some(ns.clone()),
            None => self
                .accounts
                .account(&r.account)
                .ok()
                .map(|a| a.default_namespace.clone()),
        };
        if let Some(ns) = namespace
            && let Some(refused) = self.check_target(cx, &r.account, &ns).await
        {
            return Err(refused);
        }
        Ok(r)
    }
}

impl std::ops::Deref for On {
    type Target = Accounts;

    fn deref(&self) -> &Accounts {
        &self.accounts
    }
}

macro_rules! kubernetes_stage {
    ($name:ident) => {
        pub struct $name(pub On);
    };
}

kubernetes_stage!(DeployManifest);
kubernetes_stage!(DeleteManifest);
kubernetes_stage!(ScaleManifest);
kubernetes_stage!(PatchManifest);
kubernetes_stage!(UndoRolloutManifest);
kubernetes_stage!(FindArtifactsFromResource);
