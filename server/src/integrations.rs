//! Implements the UI's `IntegrationService`: each configured Kubernetes account, Jenkins master
//! and registry account, asked whether it answers (all at once, each within 5 seconds).

use std::time::Duration;

use async_trait::async_trait;
use domain::integrations::IntegrationHealth;
use domain::services::IntegrationService;
use domain::{AppError, RequestContext};

use crate::jenkins::JenkinsMasters;
use crate::registries::Registries;

pub struct Integrations {
    pub accounts: crate::kubernetes::Accounts,
    pub jenkins: JenkinsMasters,
    pub registries: Registries,
}

const CHECK_WITHIN: Duration = Duration::from_secs(5);

#[async_trait]
impl IntegrationService for Integrations {
    async fn health(&self, _rc: &RequestContext) -> Result<Vec<IntegrationHealth>, AppError> {
        let masters = async {
            tokio::time::timeout(CHECK_WITHIN, self.jenkins.health())
                .await
                .unwrap_or_else(|_| {
                    self.jenkins
                        .names()
                        .into_iter()
                        .map(|name| crate::jenkins::MasterHealth {
                            address: String::new(),
                            name,
                            healthy: false,
                            detail: "did not answer within 5 seconds".into(),
                        })
                        .collect()
                })
        };
        let registries =
            futures_util::future::join_all(self.registries.all().map(|r| async move {
                let outcome = tokio::time::timeout(CHECK_WITHIN, r.check()).await;
                let (healthy, detail) = match outcome {
                    Ok(Ok(())) => (true, "answers the registry API (v2)".to_owned()),
                    Ok(Err(e)) => (false, e.to_string()),
                    Err(_) => (false, "did not answer within 5 seconds".to_owned()),
                };
                IntegrationHealth {
                    kind: "registry".into(),
                    name: r.name.clone(),
                    address: r.address.clone(),
                    healthy,
                    detail,
                    namespaces: Vec::new(),
                }
            }));
        let clusters = futures_util::future::join_all(self.accounts.all().map(|a| async move {
            use crate::kubernetes::AccountHealth as H;
            let (healthy, detail) = match a.check(CHECK_WITHIN).await {
                H::Healthy { version } => (true, format!("Kubernetes {version}")),
                H::Unreachable { message } | H::Misconfigured { message } => (false, message),
                H::Unknown => (false, "not checked yet".to_owned()),
            };
            let namespaces = if a.namespaces.is_empty() {
                vec![a.default_namespace.clone()]
            } else {
                a.namespaces.clone()
            };
            IntegrationHealth {
                kind: "kubernetes".into(),
                name: a.name.clone(),
                address: a.context.clone(),
                healthy,
                detail,
                namespaces,
            }
        }));
        let (clusters, masters, registries) = futures_util::join!(clusters, masters, registries);
        let mut out: Vec<IntegrationHealth> = clusters;
        out.extend(masters.into_iter().map(|m| IntegrationHealth {
            kind: "jenkins".into(),
            name: m.name,
            address: m.address,
            healthy: m.healthy,
            detail: m.detail,
            namespaces: Vec::new(),
        }));
        out.extend(registries);
        Ok(out)
    }
}
