//! Manifest operations on an account's cluster: deploy (server-side apply), rollout status and
//! waiting until stable, delete, scale, patch, undo to a revision, pause/resume, restart, and the
//! images a resource runs. Every operation is idempotent and retried on transient failures.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde::Serialize;
use serde_json::{Value, json};

use super::KubernetesError;
use super::accounts::{Account, Accounts, Kind, short_error};
use super::rollout::{RolloutStatus, status_of};

/// Topsail's field manager for server-side apply.
pub const FIELD_MANAGER: &str = "topsail";
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
const APP_NAME: &str = "app.kubernetes.io/name";
/// Spinnaker's moniker annotations: which application and cluster a resource belongs to.
pub const MONIKER_APPLICATION: &str = "moniker.spinnaker.io/application";
pub const MONIKER_CLUSTER: &str = "moniker.spinnaker.io/cluster";
const REVISION: &str = "deployment.kubernetes.io/revision";

/// One resource in one account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRef {
    pub account: String,
    /// None: the account's default namespace (ignored for cluster-scoped kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub api_version: String,
    pub kind: String,
    pub name: String,
}

/// Well-known kinds by the lower-case names Spinnaker uses in `"deployment web"`.
const KNOWN_KINDS: &[(&str, &str, &str)] = &[
    ("deployment", "apps/v1", "Deployment"),
    ("replicaset", "apps/v1", "ReplicaSet"),
    ("statefulset", "apps/v1", "StatefulSet"),
    ("daemonset", "apps/v1", "DaemonSet"),
    ("pod", "v1", "Pod"),
    ("service", "v1", "Service"),
    ("configmap", "v1", "ConfigMap"),
    ("secret", "v1", "Secret"),
    ("serviceaccount", "v1", "ServiceAccount"),
    ("namespace", "v1", "Namespace"),
    ("ingress", "networking.k8s.io/v1", "Ingress"),
    (
        "horizontalpodautoscaler",
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
    ),
    ("job", "batch/v1", "Job"),
    ("cronjob", "batch/v1", "CronJob"),
];

impl ResourceRef {
    /// `"deployment web"` (Spinnaker's manifest name) in an account and namespace.
    pub fn parse(
        account: &str,
        namespace: Option<&str>,
        manifest_name: &str,
    ) -> Result<Self, KubernetesError> {
        let (kind, name) = manifest_name.trim().split_once(' ').ok_or_else(|| {
            KubernetesError::InvalidManifest(format!(
                "`{manifest_name}` is not `<kind> <name>`, e.g. `deployment web`"
            ))
        })?;
        let kind = kind.to_ascii_lowercase();
        let (_, api_version, kind) =
            KNOWN_KINDS
                .iter()
                .find(|(k, _, _)| *k == kind)
                .ok_or_else(|| {
                    KubernetesError::InvalidManifest(format!(
                        "unknown kind `{kind}` in `{manifest_name}`"
                    ))
                })?;
        Ok(Self {
            account: account.to_owned(),
            namespace: namespace.map(str::to_owned),
            api_version: (*api_version).to_owned(),
            kind: (*kind).to_owned(),
            name: name.trim().to_owned(),
        })
    }

    /// A resource named by its kind (`Deployment`), for the kinds Topsail knows.
    pub fn from_kind(
        account: &str,
        namespace: &str,
        kind: &str,
        name: &str,
    ) -> Result<Self, KubernetesError> {
        let (_, api_version, kind) = KNOWN_KINDS
            .iter()
            .find(|(_, _, k)| k.eq_ignore_ascii_case(kind))
            .ok_or_else(|| KubernetesError::InvalidManifest(format!("unknown kind `{kind}`")))?;
        Ok(Self {
            account: account.to_owned(),
            namespace: (!namespace.is_empty()).then(|| namespace.to_owned()),
            api_version: (*api_version).to_owned(),
            kind: (*kind).to_owned(),
            name: name.to_owned(),
        })
    }

    /// `deployment prod/web` — how errors and the UI name it.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind.to_ascii_lowercase(), self.name),
            None => format!("{} {}", self.kind.to_ascii_lowercase(), self.name),
        }
    }
}

/// What a deploy wrote.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployedManifest {
    pub resource: ResourceRef,
    pub uid: String,
    pub generation: Option<i64>,
    /// The manifest as the cluster stored it.
    pub manifest: Value,
}

#[derive(Clone, Debug)]
pub struct DeployRequest {
    pub account: String,
    /// Overrides every manifest's namespace.
    pub namespace_override: Option<String>,
    pub application: String,
    pub manifests: Vec<Value>,
}

/// How many times a transient failure is retried, and the first pause (doubling each time).
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// A single API call that takes longer than this counts as a transient failure.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

fn is_transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code >= 500 || s.code == 429 || s.code == 0,
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

fn classify(resource: &str, e: kube::Error) -> KubernetesError {
    match e {
        kube::Error::Api(s) if s.code == 404 => KubernetesError::NotFound {
            resource: resource.to_owned(),
        },
        kube::Error::Api(s) => KubernetesError::Rejected {
            resource: resource.to_owned(),
            code: s.code,
            reason: s.reason.clone(),
            message: s.message.clone(),
        },
        other => KubernetesError::Unreachable {
            resource: resource.to_owned(),
            attempts: 1,
            message: short_error(&other),
        },
    }
}

/// Runs `call`, retrying 5xx, 429, timeouts and transport errors with doubling backoff.
pub async fn retrying<T, F, Fut>(resource: &str, mut call: F) -> Result<T, KubernetesError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        match tokio::time::timeout(CALL_TIMEOUT, call()).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) if !is_transient(&e) => return Err(classify(resource, e)),
            Ok(Err(e)) => last = short_error(&e),
            Err(_) => last = format!("no answer within {} s", CALL_TIMEOUT.as_secs()),
        }
        if attempt < ATTEMPTS {
            tracing::debug!(resource, attempt, error = %last, "retrying a Kubernetes call");
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    Err(KubernetesError::Unreachable {
        resource: resource.to_owned(),
        attempts: ATTEMPTS,
        message: last,
    })
}

fn to_value(object: &DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

/// An API handle for one resource, with its namespace resolved and checked.
struct Target {
    account: Arc<Account>,
    api: Api<DynamicObject>,
    kind: Kind,
    resource: ResourceRef,
}

impl Target {
    fn describe(&self) -> String {
        self.resource.describe()
    }
}

impl Accounts {
    async fn target(&self, r: &ResourceRef) -> Result<Target, KubernetesError> {
        let account = self.account(&r.account)?;
        let kind = account.kind(&r.api_version, &r.kind).await?;
        let client = account.client()?.clone();
        let mut resource = r.clone();
        let api = if kind.namespaced {
            let ns = account.namespace(r.namespace.as_deref())?;
            resource.namespace = Some(ns.clone());
            Api::namespaced_with(client, &ns, &kind.resource)
        } else {
            if !account.namespaces.is_empty() {
                return Err(KubernetesError::NamespaceNotAllowed {
                    account: account.name.clone(),
                    namespace: "(cluster-scoped)".into(),
                    allowed: account.namespaces.join(", "),
                });
            }
            resource.namespace = None;
            Api::all_with(client, &kind.resource)
        };
        Ok(Target {
            account,
            api,
            kind,
            resource,
        })
    }

    /// Applies manifests with server-side apply as Topsail, labelled and annotated with the
    /// application and cluster (moniker), in the overriding namespace if one is given.
    pub async fn deploy(
        &self,
        request: &DeployRequest,
    ) -> Result<Vec<DeployedManifest>, KubernetesError> {
        // Check everything before writing anything.
        let mut prepared = Vec::new();
        for (i, manifest) in request.manifests.iter().enumerate() {
            let n = i + 1;
            let api_version = manifest["apiVersion"].as_str().filter(|s| !s.is_empty());
            let kind = manifest["kind"].as_str().filter(|s| !s.is_empty());
            let name = manifest["metadata"]["name"]
                .as_str()
                .filter(|s| !s.is_empty());
            let (Some(api_version), Some(kind), Some(name)) = (api_version, kind, name) else {
                return Err(KubernetesError::InvalidManifest(format!(
                    "manifest {n} needs apiVersion, kind and metadata.name"
                )));
            };
            let namespace = request.namespace_override.clone().or_else(|| {
                manifest["metadata"]["namespace"]
                    .as_str()
                    .map(str::to_owned)
            });
            let r = ResourceRef {
                account: request.account.clone(),
                namespace,
                api_version: api_version.into(),
                kind: kind.into(),
                name: name.into(),
            };
            let target = self.target(&r).await?;
            let body = prepare(
                manifest,
                &request.application,
                target.resource.namespace.as_deref(),
            );
            prepared.push((target, body));
        }
        let mut deployed = Vec::new();
        for (target, body) in prepared {
            let params = PatchParams::apply(FIELD_MANAGER).force();
            let name = target.resource.name.clone();
            let what = target.describe();
            let patch = Patch::Apply(&body);
            let stored = retrying(&what, || target.api.patch(&name, &params, &patch)).await?;
            let manifest = to_value(&stored);
            tracing::info!(account = %target.account.name, resource = %what, "applied");
            deployed.push(DeployedManifest {
                uid: stored.metadata.uid.clone().unwrap_or_default(),
                generation: stored.metadata.generation,
                resource: target.resource,
                manifest,
            });
        }
        Ok(deployed)
    }

    /// The resource as the cluster has it, or None.
    pub async fn get(&self, r: &ResourceRef) -> Result<Option<Value>, KubernetesError> {
        let t = self.target(r).await?;
        let what = t.describe();
        let found = retrying(&what, || t.api.get_opt(&r.name)).await?;
        Ok(found.as_ref().map(to_value))
    }

    /// The pods a workload runs now: for a Deployment, those of its newest ReplicaSet.
    async fn pods_of(&self, t: &Target, object: &Value) -> Result<Vec<Value>, KubernetesError> {
        let Some(ns) = t.resource.namespace.clone() else {
            return Ok(Vec::new());
        };
        let selector = match t.resource.kind.as_str() {
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => {
                label_selector(&object["spec"]["selector"])
            }
            _ => return Ok(Vec::new()),
        };
        let Some(mut selector) = selector else {
            return Ok(Vec::new());
        };
        if t.resource.kind == "Deployment" {
            let sets = self.owned_replica_sets(t, object).await?;
            if let Some(newest) = sets.iter().max_by_key(|rs| revision_of(rs))
                && let Some(hash) = newest["metadata"]["labels"]["pod-template-hash"].as_str()
            {
                selector.push_str(&format!(",pod-template-hash={hash}"));
            }
        }
        let pods = t.account.kind("v1", "Pod").await?;
        let api: Api<DynamicObject> =
            Api::namespaced_with(t.account.client()?.clone(), &ns, &pods.resource);
        let lp = ListParams::default().labels(&selector);
        let list = retrying(&format!("pods of {}", t.describe()), || api.list(&lp)).await?;
        Ok(list.items.iter().map(to_value).collect())
    }

    async fn owned_replica_sets(
        &self,
        t: &Target,
        deployment: &Value,
    ) -> Result<Vec<Value>, KubernetesError> {
        let Some(ns) = t.resource.namespace.clone() else {
            return Ok(Vec::new());
        };
        let Some(selector) = label_selector(&deployment["spec"]["selector"]) else {
            return Ok(Vec::new());
        };
        let uid = deployment["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let kind = t.account.kind("apps/v1", "ReplicaSet").await?;
        let api: Api<DynamicObject> =
            Api::namespaced_with(t.account.client()?.clone(), &ns, &kind.resource);
        let lp = ListParams::default().labels(&selector);
        let list = retrying(&format!("replicasets of {}", t.describe()), || {
            api.list(&lp)
        })
        .await?;
        Ok(list
            .items
            .iter()
            .map(to_value)
            .filter(|rs| {
                rs["metadata"]["ownerReferences"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|o| o["controller"] == json!(true) && o["uid"] == json!(uid))
            })
            .collect())
    }

    /// Where the resource's rollout stands now.
    pub async fn rollout_status(&self, r: &ResourceRef) -> Result<RolloutStatus, KubernetesError> {
        let t = self.target(r).await?;
        let what = t.describe();
        let Some(object) = retrying(&what, || t.api.get_opt(&r.name)).await? else {
            return Err(KubernetesError::NotFound { resource: what });
        };
        let object = to_value(&object);
        let pods = self.pods_of(&t, &object).await?;
        Ok(status_of(&t.resource.kind, &object, &pods))
    }

    /// Polls until the resource is stable (or paused), its rollout fails, or `timeout` passes.
    pub async fn wait_stable(
        &self,
        r: &ResourceRef,
        timeout: Duration,
    ) -> Result<RolloutStatus, KubernetesError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            let status = self.rollout_status(r).await?;
            match status {
                RolloutStatus::Failed { reason } => {
                    return Err(KubernetesError::RolloutFailed {
                        resource: r.describe(),
                        reason,
                    });
                }
                s if s.is_settled() => return Ok(s),
                RolloutStatus::Waiting { message } if started.elapsed() >= timeout => {
                    return Err(KubernetesError::RolloutTimeout {
                        resource: r.describe(),
                        waited_seconds: started.elapsed().as_secs(),
                        last: message,
                    });
                }
                _ => {}
            }
            tokio::time::sleep(
                pause
                    .min(timeout.saturating_sub(started.elapsed()))
                    .max(Duration::from_millis(10)),
            )
            .await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// Deletes the resource; its dependents follow in the background. Returns whether it existed.
    pub async fn delete(&self, r: &ResourceRef) -> Result<bool, KubernetesError> {
        let t = self.target(r).await?;
        let what = t.describe();
        let params = DeleteParams::background();
        match retrying(&what, || t.api.delete(&r.name, &params)).await {
            Ok(_) => Ok(true),
            Err(KubernetesError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Sets the replica count through the scale subresource.
    pub async fn scale(&self, r: &ResourceRef, replicas: i32) -> Result<(), KubernetesError> {
        if replicas < 0 {
            return Err(KubernetesError::InvalidManifest(format!(
                "replicas must be 0 or more, not {replicas}"
            )));
        }
        let t = self.target(r).await?;
        let what = t.describe();
        let patch = Patch::Merge(json!({"spec": {"replicas": replicas}}));
        let params = PatchParams::default();
        retrying(&what, || t.api.patch_scale(&r.name, &params, &patch)).await?;
        Ok(())
    }

    /// A merge (`merge`), strategic (`strategic`) or JSON (`json`) patch.
    pub async fn patch(
        &self,
        r: &ResourceRef,
        flavour: &str,
        body: &Value,
    ) -> Result<Value, KubernetesError> {
        let t = self.target(r).await?;
        let what = t.describe();
        let params = PatchParams::default();
        let patched = match flavour {
            "merge" => {
                let patch = Patch::Merge(body);
                retrying(&what, || t.api.patch(&r.name, &params, &patch)).await?
            }
            "strategic" => {
                let patch = Patch::Strategic(body);
                retrying(&what, || t.api.patch(&r.name, &params, &patch)).await?
            }
            "json" => return self.json_patch(&t, body).await,
            other => {
                return Err(KubernetesError::InvalidManifest(format!(
                    "unknown patch type `{other}` (merge, strategic or json)"
                )));
            }
        };
        Ok(to_value(&patched))
    }

    async fn json_patch(&self, t: &Target, body: &Value) -> Result<Value, KubernetesError> {
        let ar = &t.kind.resource;
        let prefix = if ar.group.is_empty() {
            format!("/api/{}", ar.version)
        } else {
            format!("/apis/{}/{}", ar.group, ar.version)
        };
        let path = match &t.resource.namespace {
            Some(ns) if t.kind.namespaced => {
                format!("{prefix}/namespaces/{ns}/{}/{}", ar.plural, t.resource.name)
            }
            _ => format!("{prefix}/{}/{}", ar.plural, t.resource.name),
        };
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let client = t.account.client()?.clone();
        retrying(&t.describe(), || {
            let request = http::Request::patch(&path)
                .header(http::header::CONTENT_TYPE, "application/json-patch+json")
                .body(bytes.clone())
                .expect("a valid request");
            let client = client.clone();
            async move { client.request::<Value>(request).await }
        })
        .await
    }

    /// `kubectl rollout undo` for a Deployment (reference §12): back to `revision`, or to the one
    /// before the current when None. Returns the revision whose template is now live.
    pub async fn undo(
        &self,
        r: &ResourceRef,
        revision: Option<i64>,
    ) -> Result<i64, KubernetesError> {
        let t = self.target(r).await?;
        let what = t.describe();
        if t.resource.kind != "Deployment" {
            return Err(KubernetesError::Unsupported {
                resource: what,
                message: "undo is supported for Deployments".into(),
            });
        }
        let Some(d) = retrying(&what, || t.api.get_opt(&r.name)).await? else {
            return Err(KubernetesError::NotFound { resource: what });
        };
        let d = to_value(&d);
        if d["spec"]["paused"] == json!(true) {
            return Err(KubernetesError::Unsupported {
                resource: what,
                message: "cannot undo a paused deployment; resume it first".into(),
            });
        }
        let mut sets = self.owned_replica_sets(&t, &d).await?;
        sets.sort_by_key(|rs| std::cmp::Reverse(revision_of(rs)));
        let chosen = match revision {
            Some(n) => sets.iter().find(|rs| revision_of(rs) == n).ok_or_else(|| {
                KubernetesError::Unsupported {
                    resource: what.clone(),
                    message: format!(
                        "unable to find revision {n} (known: {})",
                        sets.iter()
                            .map(|rs| revision_of(rs).to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            })?,
            None => sets.get(1).ok_or_else(|| KubernetesError::Unsupported {
                resource: what.clone(),
                message: "no rollout history found".into(),
            })?,
        };
        let chosen_revision = revision_of(chosen);
        let mut template = chosen["spec"]["template"].clone();
        if let Some(labels) = template["metadata"]["labels"].as_object_mut() {
            labels.remove("pod-template-hash");
        }
        if template == d["spec"]["template"] {
            return Ok(chosen_revision);
        }
        // The ReplicaSet's annotations, minus the rollout bookkeeping, merged with the
        // Deployment's own values of those keys (what kubectl sends).
        let skipped = [
            "kubectl.kubernetes.io/last-applied-configuration",
            REVISION,
            "deployment.kubernetes.io/revision-history",
            "deployment.kubernetes.io/desired-replicas",
            "deployment.kubernetes.io/max-replicas",
        ];
        let mut annotations = serde_json::Map::new();
        for (k, v) in chosen["metadata"]["annotations"]
            .as_object()
            .into_iter()
            .flatten()
        {
            if !skipped.contains(&k.as_str()) {
                annotations.insert(k.clone(), v.clone());
            }
        }
        for (k, v) in d["metadata"]["annotations"]
            .as_object()
            .into_iter()
            .flatten()
        {
            if skipped.contains(&k.as_str()) {
                annotations.insert(k.clone(), v.clone());
            }
        }
        let patch = json!([
            {"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": annotations}
        ]);
        self.json_patch(&t, &patch).await?;
        Ok(chosen_revision)
    }

    /// A Deployment's revisions, newest (the current one) first.
    pub async fn revisions(&self, r: &ResourceRef) -> Result<Vec<i64>, KubernetesError> {
        let t = self.target(r).await?;
        let what = t.describe();
        if t.resource.kind != "Deployment" {
            return Err(KubernetesError::Unsupported {
                resource: what,
                message: "revisions are kept for Deployments".into(),
            });
        }
        let Some(d) = retrying(&what, || t.api.get_opt(&r.name)).await? else {
            return Err(KubernetesError::NotFound { resource: what });
        };
        let mut revisions: Vec<i64> = self
            .owned_replica_sets(&t, &to_value(&d))
            .await?
            .iter()
            .map(revision_of)
            .filter(|r| *r > 0)
            .collect();
        revisions.sort_by(|a, b| b.cmp(a));
        Ok(revisions)
    }

    /// Pauses or resumes a Deployment's rollout.
    pub async fn set_paused(&self, r: &ResourceRef, paused: bool) -> Result<(), KubernetesError> {
        if r.kind != "Deployment" {
            return Err(KubernetesError::Unsupported {
                resource: r.describe(),
                message: "pause and resume are supported for Deployments".into(),
            });
        }
        self.patch(r, "merge", &json!({"spec": {"paused": paused}}))
            .await
            .map(|_| ())
    }

    /// `kubectl rollout restart`: a new pod template annotation, so every pod is replaced.
    pub async fn restart(&self, r: &ResourceRef) -> Result<(), KubernetesError> {
        if !matches!(r.kind.as_str(), "Deployment" | "StatefulSet" | "DaemonSet") {
            return Err(KubernetesError::Unsupported {
                resource: r.describe(),
                message: "restart is supported for Deployments, StatefulSets and DaemonSets".into(),
            });
        }
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let patch = json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}}}});
        self.patch(r, "strategic", &patch).await.map(|_| ())
    }

    /// Events about the resource, oldest first.
    pub async fn events_for(&self, r: &ResourceRef) -> Result<Vec<Value>, KubernetesError> {
        let t = self.target(r).await?;
        let Some(ns) = t.resource.namespace.clone() else {
            return Ok(Vec::new());
        };
        let events = t.account.kind("v1", "Event").await?;
        let api: Api<DynamicObject> =
            Api::namespaced_with(t.account.client()?.clone(), &ns, &events.resource);
        let lp = ListParams::default().fields(&format!(
            "involvedObject.name={},involvedObject.kind={}",
            r.name, t.resource.kind
        ));
        let list = retrying(&format!("events of {}", t.describe()), || api.list(&lp)).await?;
        let mut items: Vec<Value> = list.items.iter().map(to_value).collect();
        items.sort_by(|a, b| {
            a["lastTimestamp"]
                .as_str()
                .cmp(&b["lastTimestamp"].as_str())
        });
        Ok(items)
    }

    /// The last `tail` lines of a pod's log.
    pub async fn logs(
        &self,
        r: &ResourceRef,
        container: Option<String>,
        tail: i64,
    ) -> Result<String, KubernetesError> {
        if r.kind != "Pod" {
            return Err(KubernetesError::Unsupported {
                resource: r.describe(),
                message: "logs are read from pods".into(),
            });
        }
        let t = self.target(r).await?;
        let ns = t.resource.namespace.clone().unwrap_or_default();
        let api: Api<k8s_openapi::api::core::v1::Pod> =
            Api::namespaced(t.account.client()?.clone(), &ns);
        let params = kube::api::LogParams {
            container,
            tail_lines: Some(tail),
            ..Default::default()
        };
        retrying(&t.describe(), || api.logs(&r.name, &params)).await
    }

    /// The images the resource runs (init containers first).
    pub async fn images(&self, r: &ResourceRef) -> Result<Vec<String>, KubernetesError> {
        match self.get(r).await? {
            Some(object) => Ok(images_of(&object)),
            None => Err(KubernetesError::NotFound {
                resource: r.describe(),
            }),
        }
    }
}

/// The `deployment.kubernetes.io/revision` of a Deployment or ReplicaSet.
pub fn revision(object: &Value) -> Option<i64> {
    object["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|r| r.parse().ok())
}

fn revision_of(rs: &Value) -> i64 {
    revision(rs).unwrap_or(0)
}

/// `matchLabels` and `matchExpressions` as a label-selector query string.
pub fn label_selector(selector: &Value) -> Option<String> {
    let mut terms = Vec::new();
    for (k, v) in selector["matchLabels"].as_object().into_iter().flatten() {
        terms.push(format!("{k}={}", v.as_str().unwrap_or_default()));
    }
    for e in selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let key = e["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        terms.push(match e["operator"].as_str() {
            Some("In") => format!("{key} in ({})", values.join(",")),
            Some("NotIn") => format!("{key} notin ({})", values.join(",")),
            Some("DoesNotExist") => format!("!{key}"),
            _ => key.to_owned(),
        });
    }
    (!terms.is_empty()).then(|| terms.join(","))
}

/// The pod spec of a workload or pod, wherever its kind keeps it.
fn pod_spec(object: &Value) -> Option<&Value> {
    let candidates = [
        &object["spec"]["template"]["spec"],
        &object["spec"]["jobTemplate"]["spec"]["template"]["spec"],
    ];
    candidates.into_iter().find(|s| s.is_object()).or_else(|| {
        object["spec"]["containers"]
            .is_array()
            .then_some(&object["spec"])
    })
}

pub fn images_of(object: &Value) -> Vec<String> {
    let Some(spec) = pod_spec(object) else {
        return Vec::new();
    };
    let mut images = Vec::new();
    for list in ["initContainers", "containers"] {
        for c in spec[list].as_array().into_iter().flatten() {
            if let Some(image) = c["image"].as_str()
                && !images.iter().any(|i| i == image)
            {
                images.push(image.to_owned());
            }
        }
    }
    images
}

/// The manifest as Topsail applies it: labelled and annotated for the application, in
/// `namespace` (None for cluster-scoped kinds).
pub fn prepare(manifest: &Value, application: &str, namespace: Option<&str>) -> Value {
    let mut body = manifest.clone();
    let kind = manifest["kind"].as_str().unwrap_or_default().to_owned();
    let name = manifest["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    label(&mut body, application, &kind, &name);
    match namespace {
        Some(ns) => body["metadata"]["namespace"] = json!(ns),
        None => {
            if let Some(m) = body["metadata"].as_object_mut() {
                m.remove("namespace");
            }
        }
    }
    body
}

/// Adds Topsail's labels and Spinnaker's moniker annotations to a manifest (and its pod
/// template, so pods carry them too).
fn label(manifest: &mut Value, application: &str, kind: &str, name: &str) {
    let cluster = format!("{} {name}", kind.to_ascii_lowercase());
    let mark = |meta: &mut Value| {
        if !meta.is_object() {
            *meta = json!({});
        }
        if !meta["labels"].is_object() {
            meta["labels"] = json!({});
        }
        if !meta["annotations"].is_object() {
            meta["annotations"] = json!({});
        }
        meta["labels"][MANAGED_BY] = json!("topsail");
        if meta["labels"].get(APP_NAME).is_none() {
            meta["labels"][APP_NAME] = json!(application);
        }
        meta["annotations"][MONIKER_APPLICATION] = json!(application);
        meta["annotations"][MONIKER_CLUSTER] = json!(cluster);
    };
    mark(&mut manifest["metadata"]);
    if manifest["spec"]["template"].is_object() {
        mark(&mut manifest["spec"]["template"]["metadata"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_names_parse_like_spinnaker() {
        let r = ResourceRef::parse("prod", Some("web"), "deployment api").unwrap();
        assert_eq!(
            (r.api_version.as_str(), r.kind.as_str(), r.name.as_str()),
            ("apps/v1", "Deployment", "api")
        );
        assert_eq!(r.describe(), "deployment web/api");
        assert!(ResourceRef::parse("prod", None, "api").is_err());
        assert!(
            ResourceRef::parse("prod", None, "widget api")
                .unwrap_err()
                .to_string()
                .contains("unknown kind `widget`")
        );
    }

    #[test]
    fn labels_and_monikers_reach_the_pod_template() {
        let mut m = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "mine"}},
            "spec": {"template": {"spec": {"containers": []}}}});
        label(&mut m, "shop", "Deployment", "web");
        assert_eq!(
            m["metadata"]["labels"][APP_NAME], "mine",
            "a name the user set is kept"
        );
        assert_eq!(m["metadata"]["labels"][MANAGED_BY], "topsail");
        assert_eq!(
            m["metadata"]["annotations"][MONIKER_CLUSTER],
            "deployment web"
        );
        assert_eq!(
            m["spec"]["template"]["metadata"]["annotations"][MONIKER_APPLICATION],
            "shop"
        );
        assert_eq!(
            m["spec"]["template"]["metadata"]["labels"][APP_NAME],
            "shop"
        );
    }

    #[test]
    fn images_and_selectors() {
        let d = json!({"spec": {"selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]},
            "template": {"spec": {"initContainers": [{"image": "migrate:1"}], "containers": [{"image": "web:2"}, {"image": "migrate:1"}]}}}});
        assert_eq!(images_of(&d), ["migrate:1", "web:2"]);
        assert_eq!(
            label_selector(&d["spec"]["selector"]).unwrap(),
            "app=web,tier in (a,b)"
        );
        assert_eq!(
            images_of(&json!({"spec": {"containers": [{"image": "p:1"}]}})),
            ["p:1"]
        );
        assert_eq!(
            images_of(
                &json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "c:1"}]}}}}}})
            ),
            ["c:1"]
        );
    }
}
