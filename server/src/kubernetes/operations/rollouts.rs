//! Rollouts: where a resource's rollout stands and waiting until it is stable; for Deployments,
//! their revisions, undo to a revision, pause/resume; restarting a workload's pods.

use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, ListParams};
use serde_json::{Value, json};

use super::manifest::{REVISION, label_selector, revision_of};
use super::{ResourceRef, Target, retrying, to_value};
use crate::kubernetes::KubernetesError;
use crate::kubernetes::accounts::Accounts;
use crate::kubernetes::rollout::{RolloutStatus, status_of};

impl Accounts {
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
            return Err(KubernetesError::NotFound {
                resource: what,
                message: String::new(),
            });
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
            return Err(KubernetesError::NotFound {
                resource: what,
                message: String::new(),
            });
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
            return Err(KubernetesError::NotFound {
                resource: what,
                message: String::new(),
            });
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
}
