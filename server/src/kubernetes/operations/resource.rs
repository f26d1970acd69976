//! Naming resources: [`ResourceRef`], one resource in one account (also parsed from
//! Spinnaker's `"deployment web"`), and what a deploy is asked to apply and what it wrote.

use serde::Serialize;
use serde_json::Value;

use crate::kubernetes::KubernetesError;

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
    /// Who applies them (recorded on each resource: the board's "deployed by" and drift).
    pub origin: domain::environments::DeployOrigin,
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
}
