//! Jenkins (Spinnaker's Igor, for Jenkins): the configured masters, each a [`JenkinsClient`]
//! over Jenkins' remote API. No masters configured is the embedded default; the `jenkins`
//! stage and trigger then refuse with "no Jenkins master named …".

mod client;
mod model;
mod properties;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

pub use client::{JenkinsClient, job_path};
pub use model::{
    Artifact, BuildInfo, JenkinsError, JobDetails, JobSummary, LogChunk, ParameterDefinition,
    QueueState,
};
pub use properties::parse_properties;

use crate::config::JenkinsConfig;

/// A master as the API lists it: never its token.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MasterHealth {
    pub name: String,
    pub address: String,
    pub healthy: bool,
    /// The Jenkins version when healthy, else what is wrong.
    pub detail: String,
}

#[derive(Clone, Default)]
pub struct JenkinsMasters {
    clients: Arc<BTreeMap<String, Arc<JenkinsClient>>>,
}

impl JenkinsMasters {
    pub fn from_config(config: &JenkinsConfig) -> Self {
        let clients = config
            .masters
            .iter()
            .map(|m| (m.name.clone(), Arc::new(JenkinsClient::new(m))))
            .collect();
        Self {
            clients: Arc::new(clients),
        }
    }

    /// Masters from ready-made clients (tests use short backoffs).
    pub fn from_clients(clients: Vec<JenkinsClient>) -> Self {
        Self {
            clients: Arc::new(
                clients
                    .into_iter()
                    .map(|c| (c.name.clone(), Arc::new(c)))
                    .collect(),
            ),
        }
    }

    pub fn get(&self, name: &str) -> Result<&Arc<JenkinsClient>, JenkinsError> {
        self.clients
            .get(name)
            .ok_or_else(|| JenkinsError::NoSuchMaster(name.to_owned()))
    }

    pub fn names(&self) -> Vec<String> {
        self.clients.keys().cloned().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// Asks every master for its version.
    pub async fn health(&self) -> Vec<MasterHealth> {
        let mut out = Vec::new();
        for (name, client) in self.clients.iter() {
            let (healthy, detail) = match client.version().await {
                Ok(v) => (true, format!("Jenkins {v}")),
                Err(e) => (false, e.to_string()),
            };
            out.push(MasterHealth {
                name: name.clone(),
                address: client.address.clone(),
                healthy,
                detail,
            });
        }
        out
    }
}
