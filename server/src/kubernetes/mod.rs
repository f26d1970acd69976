//! The Kubernetes layer: accounts from kubeconfig contexts ([`accounts`]), manifest operations
//! over kube-rs ([`operations`]) and the rules that say when a rollout is done ([`rollout`]).
//!
//! Every cluster call is retried on 5xx, 429 and transport errors with backoff; a 4xx is an
//! error naming the resource and carrying the API's message. Nothing here knows about HTTP
//! handlers or the UI.

pub mod accounts;
pub mod cache;
pub mod in_cluster;
mod measured;
pub mod operations;
pub mod rollout;
pub mod sharing;

pub use accounts::{AccountHealth, AccountSummary, Accounts};
pub use operations::{DeployRequest, DeployedManifest, ResourceRef};
pub use rollout::RolloutStatus;

/// Why a Kubernetes operation did not happen. Messages are safe to show to users: they name the
/// account and resource and carry the API server's message, never credentials.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum KubernetesError {
    #[error("unknown Kubernetes account `{0}`")]
    UnknownAccount(String),
    #[error("Kubernetes account `{account}` is not usable: {message}")]
    AccountUnavailable { account: String, message: String },
    #[error(
        "Kubernetes account `{account}` may not use namespace `{namespace}` (allowed: {allowed})"
    )]
    NamespaceNotAllowed {
        account: String,
        namespace: String,
        allowed: String,
    },
    #[error("invalid manifest: {0}")]
    InvalidManifest(String),
    /// The cluster answered 404: `message` is its own words (`namespaces "app-test" not
    /// found` when the object's namespace is what is missing), empty when Topsail found nothing.
    #[error("{}", not_found_text(resource, message))]
    NotFound { resource: String, message: String },
    #[error("{resource}: {message}")]
    Rejected {
        resource: String,
        code: u16,
        reason: String,
        message: String,
    },
    #[error("{resource}: the cluster did not answer ({attempts} attempts): {message}")]
    Unreachable {
        resource: String,
        attempts: u32,
        message: String,
    },
    #[error("{resource}: {message}")]
    Unsupported { resource: String, message: String },
    #[error("{resource}: rollout failed: {reason}")]
    RolloutFailed { resource: String, reason: String },
    #[error("{resource}: not stable after {waited_seconds} s: {last}")]
    RolloutTimeout {
        resource: String,
        waited_seconds: u64,
        last: String,
    },
}

fn not_found_text(resource: &str, message: &str) -> String {
    if message.is_empty() {
        format!("{resource} not found")
    } else {
        format!("{resource}: {message}")
    }
}
