//! Manifest operations on an account's cluster: deploy (server-side apply), rollout status and
//! waiting until stable, delete, scale, patch, undo to a revision, pause/resume, restart, and the
//! images a resource runs. Every operation is idempotent and retried on transient failures.

mod manifest;
mod resource;
mod retry;
mod rollouts;

use std::sync::Arc;

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use super::KubernetesError;
use super::accounts::{Account, Accounts, Kind};

pub use manifest::{
    APPLIED_SPEC, MONIKER_APPLICATION, MONIKER_CLUSTER, drift_of, images_of, label_selector,
    origin_of, prepare, record_origin, revision,
};
pub use resource::{DeployRequest, DeployedManifest, ResourceRef};
pub use retry::retrying;

/// Topsail's field manager for server-side apply.
pub const FIELD_MANAGER: &str = "topsail";

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
            let mut body = prepare(
                manifest,
                &request.application,
                target.resource.namespace.as_deref(),
            );
            record_origin(&mut body, &request.origin);
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

    /// What the cluster would store if `manifest` were applied now (server-side apply with
    /// `dryRun=All`: validated and defaulted by the API server, nothing written).
    pub async fn apply_dry_run(
        &self,
        r: &ResourceRef,
        manifest: &Value,
        application: &str,
    ) -> Result<Value, KubernetesError> {
        let target = self.target(r).await?;
        let body = prepare(manifest, application, target.resource.namespace.as_deref());
        let mut params = PatchParams::apply(FIELD_MANAGER).force();
        params.dry_run = true;
        let what = target.describe();
        let patch = Patch::Apply(&body);
        let stored = retrying(&what, || target.api.patch(&r.name, &params, &patch)).await?;
        Ok(to_value(&stored))
    }

    /// The resource as the cluster has it, or None.
    pub async fn get(&self, r: &ResourceRef) -> Result<Option<Value>, KubernetesError> {
        let t = self.target(r).await?;
        let what = t.describe();
        let found = retrying(&what, || t.api.get_opt(&r.name)).await?;
        Ok(found.as_ref().map(to_value))
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
        previous: bool,
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
            previous,
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
                message: String::new(),
            }),
        }
    }
}
