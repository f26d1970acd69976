//! The infrastructure service: what an application runs (from the watch-fed cache), details read
//! live, pod logs, and the actions of the Infrastructure tab.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use domain::infrastructure::{
    AccountView, ClusterView, ConditionView, EventView, InfrastructureAction, InfrastructureView,
    LoadBalancerView, NamespaceView, ObjectDetails, ObjectRef, PodHealth, PodView, ServerGroupView,
    to_yaml,
};
use domain::services::InfrastructureService;
use domain::{Access, AppError, ApplicationName, DeployTarget, FieldError, RequestContext};
use serde_json::Value;

use crate::kubernetes::cache::{CacheKey, InfrastructureCache, application_of};
use crate::kubernetes::operations::{images_of, revision};
use crate::kubernetes::rollout::{RolloutStatus, n, pod_failure, status_of};
use crate::kubernetes::{AccountHealth, Accounts, KubernetesError, ResourceRef};

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
        KubernetesError::NotFound { resource } => AppError::NotFound { what: resource },
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

fn uid(v: &Value) -> &str {
    v["metadata"]["uid"].as_str().unwrap_or_default()
}

fn name(v: &Value) -> String {
    v["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn owner(v: &Value) -> Option<&str> {
    v["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|o| o["controller"] == Value::Bool(true))
        .and_then(|o| o["uid"].as_str())
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

fn pod_view(pod: &Value) -> PodView {
    let statuses: Vec<&Value> = pod["status"]["containerStatuses"]
        .as_array()
        .map(|s| s.iter().collect())
        .unwrap_or_default();
    let restarts = statuses.iter().map(|s| n(&s["restartCount"])).sum();
    let reason = statuses
        .iter()
        .find_map(|s| {
            s["state"]["waiting"]["reason"]
                .as_str()
                .or(s["state"]["terminated"]["reason"].as_str())
        })
        .or(pod["status"]["reason"].as_str())
        .map(str::to_owned);
    let ready = is_ready(pod);
    let failing =
        pod_failure(std::slice::from_ref(pod)).is_some() || pod["status"]["phase"] == "Failed";
    PodView {
        name: name(pod),
        phase: pod["status"]["phase"]
            .as_str()
            .unwrap_or("Pending")
            .to_owned(),
        ready,
        restarts,
        node: pod["spec"]["nodeName"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        created: pod["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        reason: if ready { None } else { reason },
        health: if ready {
            PodHealth::Up
        } else if failing {
            PodHealth::Down
        } else {
            PodHealth::Starting
        },
        containers: pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_owned))
            .collect(),
    }
}

fn selector_matches(selector: &serde_json::Map<String, Value>, labels: &Value) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Builds the view of one application from cached objects of one account.
pub fn namespaces_of(application: &str, objects: &[(CacheKey, Arc<Value>)]) -> Vec<NamespaceView> {
    let mut by_ns: std::collections::BTreeMap<String, Vec<(&CacheKey, &Value)>> =
        Default::default();
    for (k, v) in objects {
        by_ns.entry(k.namespace.clone()).or_default().push((k, v));
    }
    let mut namespaces = Vec::new();
    for (ns, items) in by_ns {
        let of_kind = |kind: &str| -> Vec<&Value> {
            items
                .iter()
                .filter(|(k, _)| k.kind == kind)
                .map(|(_, v)| *v)
                .collect()
        };
        let mine = |v: &&Value| application_of(v).as_deref() == Some(application);
        let pods = of_kind("Pod");
        let sets = of_kind("ReplicaSet");
        // Children by their controlling owner's uid, so each workload finds its own at once.
        let mut pods_by_owner: HashMap<&str, Vec<&Value>> = HashMap::new();
        for p in &pods {
            if let Some(o) = owner(p) {
                pods_by_owner.entry(o).or_default().push(p);
            }
        }
        let mut sets_by_owner: HashMap<&str, Vec<&Value>> = HashMap::new();
        for rs in &sets {
            if let Some(o) = owner(rs) {
                sets_by_owner.entry(o).or_default().push(rs);
            }
        }
        let owned_pods = |owner_uid: &str| -> Vec<&Value> {
            pods_by_owner.get(owner_uid).cloned().unwrap_or_default()
        };
        let pods_of = |owner_uid: &str| -> Vec<PodView> {
            let mut p: Vec<PodView> = owned_pods(owner_uid).into_iter().map(pod_view).collect();
            p.sort_by(|a, b| a.name.cmp(&b.name));
            p
        };
        let server_group = |rs: &Value| ServerGroupView {
            name: name(rs),
            revision: revision(rs),
            images: images_of(rs),
            desired: n(&rs["spec"]["replicas"]),
            ready: n(&rs["status"]["readyReplicas"]),
            available: n(&rs["status"]["availableReplicas"]),
            pods: pods_of(uid(rs)),
        };
        let mut clusters = Vec::new();
        for kind in ["Deployment", "StatefulSet", "DaemonSet"] {
            for w in of_kind(kind).into_iter().filter(mine) {
                let own_sets = sets_by_owner.get(uid(w)).cloned().unwrap_or_default();
                let mut groups: Vec<ServerGroupView> =
                    own_sets.iter().map(|rs| server_group(rs)).collect();
                groups.sort_by_key(|g| std::cmp::Reverse(g.revision.unwrap_or(0)));
                let newest_pods: Vec<Value> = match kind {
                    "Deployment" => own_sets
                        .iter()
                        .max_by_key(|rs| revision(rs).unwrap_or(0))
                        .map(|rs| owned_pods(uid(rs)).into_iter().cloned().collect())
                        .unwrap_or_default(),
                    _ => owned_pods(uid(w)).into_iter().cloned().collect(),
                };
                let (state, message) = match status_of(kind, w, &newest_pods) {
                    RolloutStatus::Stable => ("stable", String::new()),
                    RolloutStatus::Paused => ("paused", "rollout paused".to_owned()),
                    RolloutStatus::Waiting { message } => ("progressing", message),
                    RolloutStatus::Failed { reason } => ("failed", reason),
                };
                let status = &w["status"];
                let (desired, ready, updated, available) = match kind {
                    "DaemonSet" => (
                        n(&status["desiredNumberScheduled"]),
                        n(&status["numberReady"]),
                        n(&status["updatedNumberScheduled"]),
                        n(&status["numberAvailable"]),
                    ),
                    _ => (
                        w["spec"]["replicas"].as_i64().unwrap_or(1),
                        n(&status["readyReplicas"]),
                        n(&status["updatedReplicas"]),
                        n(&status["availableReplicas"]),
                    ),
                };
                clusters.push(ClusterView {
                    kind: kind.to_owned(),
                    name: name(w),
                    moniker: w["metadata"]["annotations"]["moniker.spinnaker.io/cluster"]
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| format!("{} {}", kind.to_ascii_lowercase(), name(w))),
                    desired,
                    ready,
                    updated,
                    available,
                    revision: revision(w),
                    images: images_of(w),
                    state: state.to_owned(),
                    message,
                    server_groups: groups,
                    pods: if kind == "Deployment" {
                        Vec::new()
                    } else {
                        pods_of(uid(w))
                    },
                });
            }
        }
        // ReplicaSets nobody owns are clusters of their own.
        let owners: std::collections::HashSet<&str> = items.iter().map(|(_, v)| uid(v)).collect();
        for rs in sets
            .iter()
            .copied()
            .filter(mine)
            .filter(|rs| owner(rs).is_none_or(|o| !owners.contains(o)))
        {
            let group = server_group(rs);
            clusters.push(ClusterView {
                kind: "ReplicaSet".into(),
                name: group.name.clone(),
                moniker: format!("replicaset {}", group.name),
                desired: group.desired,
                ready: group.ready,
                updated: group.desired,
                available: group.available,
                revision: None,
                images: group.images.clone(),
                state: if group.available >= group.desired {
                    "stable".into()
                } else {
                    "progressing".into()
                },
                message: String::new(),
                server_groups: vec![group],
                pods: Vec::new(),
            });
        }
        let mut load_balancers = Vec::new();
        let services = of_kind("Service");
        let routed = |svc: &Value| -> Vec<PodView> {
            let selector = svc["spec"]["selector"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            let mut p: Vec<PodView> = pods
                .iter()
                .filter(|p| selector_matches(&selector, &p["metadata"]["labels"]))
                .map(|p| pod_view(p))
                .collect();
            p.sort_by(|a, b| a.name.cmp(&b.name));
            p
        };
        for svc in services.iter().copied().filter(mine) {
            let ports: Vec<String> = svc["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let target = match &p["targetPort"] {
                        Value::Null => p["port"].to_string(),
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    format!("{}→{target}", p["port"])
                })
                .collect();
            load_balancers.push(LoadBalancerView {
                kind: "Service".into(),
                name: name(svc),
                detail: format!(
                    "{} {} {}",
                    svc["spec"]["type"].as_str().unwrap_or("ClusterIP"),
                    svc["spec"]["clusterIP"].as_str().unwrap_or("-"),
                    ports.join(", ")
                ),
                pods: routed(svc),
            });
        }
        for ing in of_kind("Ingress").into_iter().filter(mine) {
            let rules = ing["spec"]["rules"].as_array().cloned().unwrap_or_default();
            let hosts: Vec<String> = rules
                .iter()
                .map(|r| r["host"].as_str().unwrap_or("*").to_owned())
                .collect();
            let backends: Vec<String> = rules
                .iter()
                .flat_map(|r| r["http"]["paths"].as_array().cloned().unwrap_or_default())
                .filter_map(|p| p["backend"]["service"]["name"].as_str().map(str::to_owned))
                .chain(
                    ing["spec"]["defaultBackend"]["service"]["name"]
                        .as_str()
                        .map(str::to_owned),
                )
                .collect();
            let mut pods: Vec<PodView> = services
                .iter()
                .filter(|s| backends.contains(&name(s)))
                .flat_map(|s| routed(s))
                .collect();
            pods.dedup_by(|a, b| a.name == b.name);
            load_balancers.push(LoadBalancerView {
                kind: "Ingress".into(),
                name: name(ing),
                detail: format!("{} → {}", hosts.join(", "), backends.join(", ")),
                pods,
            });
        }
        if !clusters.is_empty() || !load_balancers.is_empty() {
            namespaces.push(NamespaceView {
                name: ns,
                clusters,
                load_balancers,
            });
        }
    }
    namespaces
}

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
    ) -> Result<String, AppError> {
        let r = self.authorize(rc, pod, Access::Read).await?;
        self.accounts
            .logs(&r, container, 200)
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
