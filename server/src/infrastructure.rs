//! The infrastructure service: what an application runs (from the watch-fed cache), details read
//! live, pod logs, and the actions of the Infrastructure tab.

use std::sync::Arc;

use async_trait::async_trait;
use domain::infrastructure::{
    AccountView, ConditionView, EventView, InfrastructureAction, InfrastructureView, NamespaceView,
    ObjectDetails, ObjectRef, editable, to_yaml,
};
use domain::services::InfrastructureService;
use domain::{Access, AppError, ApplicationName, DeployTarget, FieldError, RequestContext};

use crate::kubernetes::cache::InfrastructureCache;
use crate::kubernetes::operations::images_of;
use crate::kubernetes::{AccountHealth, Accounts, DeployRequest, KubernetesError, ResourceRef};

/// How many lines of a pod's log are read (the newest).
pub const LOG_TAIL_LINES: i64 = 1000;

pub struct Infrastructure {
    pub accounts: Accounts,
    pub cache: Arc<InfrastructureCache>,
    /// For the applications' deploy targets.
    pub store: crate::store::Store,
    /// Who may see and act on what.
    pub guard: crate::access::Guard,
}

/// Kubernetes errors as the API shows them: what failed and the cluster's own message.
pub fn app_error(e: KubernetesError) -> AppError {
    match e {
        KubernetesError::NotFound { resource, .. } => AppError::NotFound { what: resource },
        KubernetesError::UnknownAccount(name) => AppError::NotFound {
            what: format!("Kubernetes account '{name}'"),
        },
        KubernetesError::NamespaceNotAllowed { .. } => AppError::Invalid {
            fields: vec![FieldError::new("namespace", &e.to_string())],
        },
        KubernetesError::InvalidManifest(m) => AppError::Invalid {
            fields: vec![FieldError::new("manifest", &m)],
        },
        KubernetesError::AccountUnavailable { .. } | KubernetesError::Unreachable { .. } => {
            AppError::Unavailable {
                message: e.to_string(),
            }
        }
        other => AppError::Conflict {
            message: other.to_string(),
        },
    }
}

mod view;

pub use view::namespaces_of;

impl Infrastructure {
    /// The application's deploy targets (none when it has none, or cannot be read).
    pub async fn targets_of(&self, application: &str) -> Vec<DeployTarget> {
        self.store
            .get_application(application)
            .await
            .map(|a| a.deploy_targets)
            .unwrap_or_default()
    }

    /// The view of an application: the accounts it deploys to (every account when it names
    /// none), each with its target namespaces and whatever of the application runs there.
    pub fn view_of(&self, application: &str, targets: &[DeployTarget]) -> InfrastructureView {
        let mut accounts: Vec<AccountView> = self
            .accounts
            .all()
            .map(|a| {
                let (health, mut detail) = match a.health() {
                    AccountHealth::Healthy { version } => {
                        ("healthy", format!("Kubernetes {version}"))
                    }
                    AccountHealth::Unknown => ("unknown", "not checked yet".to_owned()),
                    AccountHealth::Unreachable { message } => ("unreachable", message),
                    AccountHealth::Misconfigured { message } => ("misconfigured", message),
                };
                let watch_errors = self.cache.errors_of(&a.name);
                if !watch_errors.is_empty() && health == "healthy" {
                    detail = format!("{detail}; watch: {}", watch_errors.join("; "));
                }
                let mut namespaces = namespaces_of(application, &self.cache.objects(&a.name));
                for t in targets.iter().filter(|t| t.account == a.name) {
                    if !namespaces.iter().any(|n| n.name == t.namespace) {
                        namespaces.push(NamespaceView {
                            name: t.namespace.clone(),
                            clusters: Vec::new(),
                            load_balancers: Vec::new(),
                        });
                    }
                }
                namespaces.sort_by(|x, y| x.name.cmp(&y.name));
                AccountView {
                    name: a.name.clone(),
                    health: health.to_owned(),
                    health_detail: detail,
                    namespaces,
                }
            })
            .filter(|a| {
                targets.is_empty()
                    || targets.iter().any(|t| t.account == a.name)
                    || !a.namespaces.is_empty()
            })
            .collect();
        for t in targets {
            if !accounts.iter().any(|a| a.name == t.account) {
                accounts.push(AccountView {
                    name: t.account.clone(),
                    health: "misconfigured".into(),
                    health_detail: "no Kubernetes account of this name is configured".into(),
                    namespaces: Vec::new(),
                });
            }
        }
        InfrastructureView {
            application: application.to_owned(),
            accounts,
        }
    }

    /// Checks that the caller has `access` to the object's application and that the object is
    /// within that application's deploy targets (and not a Secret: their data is never shown
    /// or changed from here).
    async fn authorize(
        &self,
        rc: &RequestContext,
        object: &ObjectRef,
        access: Access,
    ) -> Result<ResourceRef, AppError> {
        if object.application.is_empty() {
            return Err(AppError::invalid(
                "application",
                "name the application whose object this is",
            ));
        }
        let app = self
            .guard
            .application(rc, &object.application, access)
            .await?;
        if !app.may_deploy_to(&object.account, &object.namespace) {
            return Err(AppError::Forbidden {
                message: format!(
                    "{}/{} is not a deploy target of application '{}'",
                    object.account, object.namespace, object.application
                ),
            });
        }
        if !self
            .accounts
            .allow_caller(&object.account, &rc.caller, access)
        {
            return Err(AppError::Forbidden {
                message: format!(
                    "{} access to account '{}' is needed",
                    access.as_str(),
                    object.account
                ),
            });
        }
        if object.kind.eq_ignore_ascii_case("secret") {
            return Err(AppError::Forbidden {
                message: "Secrets are not shown or changed here".into(),
            });
        }
        let r = Self::resource(object)?;
        // Only the application's own objects (as its view shows them).
        let live = self.accounts.get(&r).await.map_err(app_error)?;
        match live {
            None => Err(AppError::NotFound { what: r.describe() }),
            Some(live)
                if crate::kubernetes::cache::application_of(&live).as_deref()
                    == Some(object.application.as_str()) =>
            {
                Ok(r)
            }
            Some(_) => Err(AppError::Forbidden {
                message: format!(
                    "{} does not belong to application '{}'",
                    r.describe(),
                    object.application
                ),
            }),
        }
    }

    fn resource(object: &ObjectRef) -> Result<ResourceRef, AppError> {
        ResourceRef::from_kind(
            &object.account,
            &object.namespace,
            &object.kind,
            &object.name,
        )
        .map_err(app_error)
    }
}

#[async_trait]
impl InfrastructureService for Infrastructure {
    async fn view(
        &self,
        rc: &RequestContext,
        application: &ApplicationName,
    ) -> Result<InfrastructureView, AppError> {
        self.guard
            .application(rc, application.as_str(), Access::Read)
            .await?;
        let targets = self.targets_of(application.as_str()).await;
        let mut view = self.view_of(application.as_str(), &targets);
        // Accounts restricted to roles the caller lacks are left out.
        view.accounts.retain(|a| {
            self.accounts
                .allow_caller(&a.name, &rc.caller, Access::Read)
        });
        Ok(view)
    }

    async fn details(
        &self,
        rc: &RequestContext,
        object: &ObjectRef,
    ) -> Result<ObjectDetails, AppError> {
        let r = self.authorize(rc, object, Access::Read).await?;
        let mut live = self
            .accounts
            .get(&r)
            .await
            .map_err(app_error)?
            .ok_or_else(|| AppError::NotFound { what: r.describe() })?;
        if let Some(m) = live["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
        let conditions = live["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| ConditionView {
                kind: c["type"].as_str().unwrap_or_default().to_owned(),
                status: c["status"].as_str().unwrap_or_default().to_owned(),
                reason: c["reason"].as_str().unwrap_or_default().to_owned(),
                message: c["message"].as_str().unwrap_or_default().to_owned(),
            })
            .collect();
        let events = self
            .accounts
            .events_for(&r)
            .await
            .map_err(app_error)?
            .iter()
            .map(|e| EventView {
                kind: e["type"].as_str().unwrap_or("Normal").to_owned(),
                reason: e["reason"].as_str().unwrap_or_default().to_owned(),
                message: e["message"].as_str().unwrap_or_default().to_owned(),
                count: e["count"].as_i64().unwrap_or(1),
                last_seen: e["lastTimestamp"].as_str().unwrap_or_default().to_owned(),
            })
            .collect();
        let containers = live["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_owned))
            .collect();
        Ok(ObjectDetails {
            object: object.clone(),
            images: images_of(&live),
            yaml: to_yaml(&live),
            manifest: editable(&live),
            conditions,
            events,
            containers,
        })
    }

    async fn logs(
        &self,
        rc: &RequestContext,
        pod: &ObjectRef,
        container: Option<String>,
        previous: bool,
    ) -> Result<String, AppError> {
        let r = self.authorize(rc, pod, Access::Read).await?;
        self.accounts
            .logs(&r, container, previous, LOG_TAIL_LINES)
            .await
            .map_err(app_error)
    }

    async fn act(
        &self,
        rc: &RequestContext,
        action: InfrastructureAction,
    ) -> Result<String, AppError> {
        let r = self.authorize(rc, action.target(), Access::Write).await?;
        let what = action.describe();
        tracing::info!(caller = %rc.caller.audit_name(), action = %what, "infrastructure action");

        let done = match &action {
            InfrastructureAction::Scale { replicas, .. } => {
                if *replicas < 0 {
                    return Err(AppError::invalid("replicas", "must be 0 or more"));
                }
                self.accounts
                    .scale(&r, *replicas)
                    .await
                    .map(|_| format!("{what}: done"))
            }
            InfrastructureAction::Undo { revision, .. } => self
                .accounts
                .undo(&r, *revision)
                .await
                .map(|restored| format!("{what}: revision {restored} is rolling out")),
            InfrastructureAction::Restart { .. } => self
                .accounts
                .restart(&r)
                .await
                .map(|_| format!("{what}: new pods are rolling out")),
            InfrastructureAction::Apply { target, manifest } => {
                check_edit_of(target, manifest)?;
                bounded_manifest(manifest)?;
                let request = DeployRequest {
                    application: target.application.clone(),
                    account: target.account.clone(),
                    namespace_override: (!target.namespace.is_empty())
                        .then(|| target.namespace.clone()),
                    manifests: vec![manifest.clone()],
                    origin: domain::environments::DeployOrigin {
                        execution_id: String::new(),
                        pipeline_id: String::new(),
                        pipeline_name: String::new(),
                        user: rc.caller.audit_name().to_owned(),
                        time: chrono::Utc::now(),
                    },
                };
                self.accounts
                    .deploy(&request)
                    .await
                    .map(|_| format!("{what}: applied"))
            }
            InfrastructureAction::Delete { .. } => self.accounts.delete(&r).await.map(|existed| {
                if existed {
                    format!("{what}: deleted")
                } else {
                    format!("{what}: it was already gone")
                }
            }),
        };
        let done = done.map_err(app_error)?;
        let t = action.target();
        self.guard
            .record(
                rc,
                "infrastructure.action",
                &format!(
                    "application/{}/{}/{}/{}/{}",
                    t.application, t.account, t.namespace, t.kind, t.name
                ),
                serde_json::json!({"action": what, "outcome": done}),
            )
            .await;
        Ok(done)
    }
}

/// An edit applied from the Infrastructure tab must be of the object it was opened on: same
/// kind and name, and in its namespace (or none, which means its namespace).
fn check_edit_of(target: &ObjectRef, manifest: &serde_json::Value) -> Result<(), AppError> {
    let field = |pointer: &str| {
        manifest
            .pointer(pointer)
            .and_then(serde_json::Value::as_str)
    };
    if field("/kind") != Some(target.kind.as_str()) {
        return Err(AppError::invalid(
            "manifest.kind",
            &format!("must stay {}", target.kind),
        ));
    }
    if field("/metadata/name") != Some(target.name.as_str()) {
        return Err(AppError::invalid(
            "manifest.metadata.name",
            &format!("must stay {}", target.name),
        ));
    }
    if let Some(namespace) = field("/metadata/namespace")
        && namespace != target.namespace
    {
        return Err(AppError::invalid(
            "manifest.metadata.namespace",
            &format!("must stay {}", target.namespace),
        ));
    }
    Ok(())
}

fn bounded_manifest(manifest: &serde_json::Value) -> Result<(), AppError> {
    domain::json_depth::check_input(manifest)
        .map_err(|e| AppError::invalid("manifest", &format!("a manifest that {e}")))
}
