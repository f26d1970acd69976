//! Kubernetes accounts: one kubeconfig context each, with the namespaces Topsail may use there.
//! A broken kubeconfig or an unreachable cluster makes that one account unhealthy; it never stops
//! the server or the other accounts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::ApiResource;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, Scope};
use serde::Serialize;

use super::KubernetesError;
use crate::config::{KubernetesAccountConfig, KubernetesConfig};

/// What Topsail last saw of an account's cluster.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum AccountHealth {
    /// Not checked yet.
    Unknown,
    Healthy {
        version: String,
    },
    /// The kubeconfig is fine but the cluster did not answer.
    Unreachable {
        message: String,
    },
    /// The kubeconfig could not be read or names no usable context.
    Misconfigured {
        message: String,
    },
}

/// An account as the UI and API list it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountSummary {
    pub name: String,
    pub context: String,
    pub namespaces: Vec<String>,
    pub default_namespace: String,
    pub health: AccountHealth,
}

/// A resolved kind: where its API lives and whether it is namespaced.
#[derive(Clone, Debug)]
pub struct Kind {
    pub resource: ApiResource,
    pub namespaced: bool,
}

pub struct Account {
    pub name: String,
    pub context: String,
    /// Allowed namespaces; empty means any.
    pub namespaces: Vec<String>,
    pub default_namespace: String,
    client: Result<kube::Client, String>,
    kinds: Mutex<HashMap<GroupVersionKind, Kind>>,
    health: Mutex<AccountHealth>,
}

impl Account {
    pub fn client(&self) -> Result<&kube::Client, KubernetesError> {
        self.client
            .as_ref()
            .map_err(|message| KubernetesError::AccountUnavailable {
                account: self.name.clone(),
                message: message.clone(),
            })
    }

    /// The namespace to use: the requested one (checked against the allowed list) or the
    /// account's default.
    pub fn namespace(&self, requested: Option<&str>) -> Result<String, KubernetesError> {
        let namespace = requested
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.default_namespace)
            .to_owned();
        if !self.namespaces.is_empty() && !self.namespaces.contains(&namespace) {
            return Err(KubernetesError::NamespaceNotAllowed {
                account: self.name.clone(),
                namespace,
                allowed: self.namespaces.join(", "),
            });
        }
        Ok(namespace)
    }

    /// Where `apiVersion`/`kind` live in this cluster, asked once and remembered.
    pub async fn kind(&self, api_version: &str, kind: &str) -> Result<Kind, KubernetesError> {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = GroupVersionKind::gvk(group, version, kind);
        if let Some(k) = self.kinds.lock().expect("the kinds lock").get(&gvk) {
            return Ok(k.clone());
        }
        let client = self.client()?.clone();
        let resource = format!("{kind} ({api_version})");
        let found: (ApiResource, ApiCapabilities) =
            super::operations::retrying(&resource, || kube::discovery::pinned_kind(&client, &gvk))
                .await
                .map_err(|e| match e {
                    KubernetesError::Rejected { .. } | KubernetesError::NotFound { .. } => {
                        KubernetesError::Unsupported {
                            resource: resource.clone(),
                            message: format!(
                                "the cluster of account `{}` does not serve this kind",
                                self.name
                            ),
                        }
                    }
                    other => other,
                })?;
        let k = Kind {
            resource: found.0,
            namespaced: found.1.scope == Scope::Namespaced,
        };
        self.kinds
            .lock()
            .expect("the kinds lock")
            .insert(gvk, k.clone());
        Ok(k)
    }

    pub fn health(&self) -> AccountHealth {
        self.health.lock().expect("the health lock").clone()
    }

    /// Asks the cluster for its version (bounded by `timeout`) and records the answer.
    pub async fn check(&self, timeout: Duration) -> AccountHealth {
        let health = match &self.client {
            Err(message) => AccountHealth::Misconfigured {
                message: message.clone(),
            },
            Ok(client) => match tokio::time::timeout(timeout, client.apiserver_version()).await {
                Ok(Ok(info)) => AccountHealth::Healthy {
                    version: info.git_version,
                },
                Ok(Err(e)) => AccountHealth::Unreachable {
                    message: short_error(&e),
                },
                Err(_) => AccountHealth::Unreachable {
                    message: format!("no answer within {} s", timeout.as_secs()),
                },
            },
        };
        *self.health.lock().expect("the health lock") = health.clone();
        health
    }

    pub fn summary(&self) -> AccountSummary {
        AccountSummary {
            name: self.name.clone(),
            context: self.context.clone(),
            namespaces: self.namespaces.clone(),
            default_namespace: self.default_namespace.clone(),
            health: self.health(),
        }
    }
}

/// A transport or API error in one line, without URLs' credentials (kube never puts tokens in
/// URLs) and without Debug noise.
pub(crate) fn short_error(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
    }
}

/// All configured accounts.
#[derive(Clone, Default)]
pub struct Accounts {
    accounts: Arc<Vec<Arc<Account>>>,
    /// The accounts restricted to roles, by name.
    permissions: Arc<HashMap<String, domain::Permissions>>,
}

fn default_kubeconfig_path() -> Option<PathBuf> {
    if let Some(k) = std::env::var_os("KUBECONFIG").filter(|k| !k.is_empty()) {
        return std::env::split_paths(&k).next();
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube").join("config"))
}

impl Accounts {
    /// Reads every configured kubeconfig. Never fails: a problem becomes that account's health.
    pub async fn load(config: &KubernetesConfig) -> Self {
        let mut accounts: Vec<Arc<Account>> = Vec::new();
        for a in &config.accounts {
            accounts.push(Arc::new(account_from(a).await));
        }
        let mut files = config.kubeconfigs.clone();
        let names_a_kubeconfig = config.accounts.iter().any(|a| !a.in_cluster);
        if !names_a_kubeconfig && files.is_empty() && config.use_default_kubeconfig {
            files.extend(default_kubeconfig_path().filter(|p| p.is_file()));
        }
        for file in files {
            match Kubeconfig::read_from(&file) {
                Ok(kc) => {
                    for context in kc
                        .contexts
                        .iter()
                        .map(|c| c.name.clone())
                        .collect::<Vec<_>>()
                    {
                        let account = KubernetesAccountConfig {
                            name: context.clone(),
                            kubeconfig: Some(file.clone()),
                            context: Some(context),
                            ..KubernetesAccountConfig::default()
                        };
                        accounts.push(Arc::new(account_from(&account).await));
                    }
                }
                Err(e) => {
                    let name = file
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "kubeconfig".into());
                    accounts.push(Arc::new(broken(
                        &name,
                        "",
                        Vec::new(),
                        format!("cannot read kubeconfig {}: {e}", file.display()),
                    )));
                }
            }
        }
        // A repeated name keeps the first account; the later one is reported broken.
        let mut seen = std::collections::HashSet::new();
        let accounts = accounts
            .into_iter()
            .map(|a| {
                if seen.insert(a.name.clone()) {
                    a
                } else {
                    Arc::new(broken(
                        &a.name,
                        &a.context,
                        a.namespaces.clone(),
                        "another account has the same name".into(),
                    ))
                }
            })
            .collect();
        let permissions = config
            .accounts
            .iter()
            .filter(|a| !a.permissions.is_empty())
            .map(|a| (a.name.clone(), a.permissions.clone()))
            .collect();
        Self {
            accounts: Arc::new(accounts),
            permissions: Arc::new(permissions),
        }
    }

    /// Whether `roles` (of an admin, when `admin`) may `access` the account `name`: always when
    /// it has no permissions; else READ for any role listed, WRITE for a `WRITE` role.
    pub fn allows(
        &self,
        name: &str,
        roles: &[String],
        admin: bool,
        access: domain::Access,
    ) -> bool {
        let Some(p) = self.permissions.get(name) else {
            return true;
        };
        admin || {
            let granted = p.roles_for(access);
            roles.iter().any(|r| granted.contains(&r.as_str()))
        }
    }

    /// Whether `caller` may `access` the account `name`.
    pub fn allow_caller(
        &self,
        name: &str,
        caller: &domain::Caller,
        access: domain::Access,
    ) -> bool {
        match caller.identity() {
            Some(id) => self.allows(name, &id.roles, id.admin, access),
            None => false,
        }
    }

    pub fn account(&self, name: &str) -> Result<Arc<Account>, KubernetesError> {
        self.accounts
            .iter()
            .find(|a| a.name == name)
            .cloned()
            .ok_or_else(|| KubernetesError::UnknownAccount(name.to_owned()))
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<Account>> {
        self.accounts.iter()
    }

    pub fn summaries(&self) -> Vec<AccountSummary> {
        self.accounts.iter().map(|a| a.summary()).collect()
    }

    /// Checks every account concurrently.
    pub async fn check_all(&self, timeout: Duration) {
        let checks = self.accounts.iter().map(|a| a.check(timeout));
        futures_util::future::join_all(checks).await;
    }
}

fn broken(name: &str, context: &str, namespaces: Vec<String>, message: String) -> Account {
    Account {
        name: name.to_owned(),
        context: context.to_owned(),
        default_namespace: namespaces
            .first()
            .cloned()
            .unwrap_or_else(|| "default".into()),
        namespaces,
        health: Mutex::new(AccountHealth::Misconfigured {
            message: message.clone(),
        }),
        client: Err(message),
        kinds: Mutex::new(HashMap::new()),
    }
}

async fn account_from(a: &KubernetesAccountConfig) -> Account {
    if a.in_cluster {
        let client =
            super::in_cluster::config(a.service_account_dir.as_deref(), |k| std::env::var(k).ok())
                .and_then(|mut config| {
                    config.connect_timeout = Some(Duration::from_secs(5));
                    let namespace = config.default_namespace.clone();
                    super::measured::measured_client(config)
                        .map(|client| (client, namespace))
                        .map_err(|e| short_error(&e))
                });
        return match client {
            // Its own namespace unless told more: a namespaced Role is all it may have.
            Ok((client, namespace)) if a.namespaces.is_empty() => {
                let own = KubernetesAccountConfig {
                    namespaces: vec![namespace.clone()],
                    ..a.clone()
                };
                connected(&own, client, "in-cluster".into(), namespace)
            }
            Ok((client, namespace)) => connected(a, client, "in-cluster".into(), namespace),
            Err(message) => broken(&a.name, "in-cluster", a.namespaces.clone(), message),
        };
    }
    let path = a.kubeconfig.clone().or_else(default_kubeconfig_path);
    let Some(path) = path else {
        return broken(
            &a.name,
            "",
            a.namespaces.clone(),
            "no kubeconfig file named and no HOME to find ~/.kube/config".into(),
        );
    };
    match client_for(&path, a.context.as_deref()).await {
        Ok((client, context, namespace)) => connected(a, client, context, namespace),
        Err(message) => broken(
            &a.name,
            a.context.as_deref().unwrap_or_default(),
            a.namespaces.clone(),
            message,
        ),
    }
}

/// An account with a client; its health is checked later.
fn connected(
    a: &KubernetesAccountConfig,
    client: kube::Client,
    context: String,
    namespace: String,
) -> Account {
    let default_namespace = if a.namespaces.is_empty() || a.namespaces.contains(&namespace) {
        namespace
    } else {
        a.namespaces[0].clone()
    };
    Account {
        name: a.name.clone(),
        context,
        namespaces: a.namespaces.clone(),
        default_namespace,
        client: Ok(client),
        kinds: Mutex::new(HashMap::new()),
        health: Mutex::new(AccountHealth::Unknown),
    }
}

async fn client_for(
    path: &Path,
    context: Option<&str>,
) -> Result<(kube::Client, String, String), String> {
    let kubeconfig = Kubeconfig::read_from(path)
        .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?;
    let context = context
        .map(str::to_owned)
        .or_else(|| kubeconfig.current_context.clone())
        .ok_or_else(|| {
            format!(
                "kubeconfig {} has no current context; name one",
                path.display()
            )
        })?;
    if !kubeconfig.contexts.iter().any(|c| c.name == context) {
        return Err(format!(
            "kubeconfig {} has no context `{context}`",
            path.display()
        ));
    }
    let options = KubeConfigOptions {
        context: Some(context.clone()),
        cluster: None,
        user: None,
    };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| format!("kubeconfig {} context `{context}`: {e}", path.display()))?;
    config.connect_timeout = Some(Duration::from_secs(5));
    let namespace = config.default_namespace.clone();
    let client = super::measured::measured_client(config)
        .map_err(|e| format!("context `{context}`: {}", short_error(&e)))?;
    Ok((client, context, namespace))
}
