//! What the Jenkins client speaks in: its errors (safe to show to users) and the jobs, builds,
//! queue items, artifacts and log chunks Jenkins reports.

use serde::Serialize;

/// What can go wrong talking to Jenkins. The messages are safe to show to users.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JenkinsError {
    #[error("no Jenkins master named '{0}' is configured")]
    NoSuchMaster(String),
    #[error("Jenkins '{master}' has no job '{job}'")]
    NoSuchJob { master: String, job: String },
    #[error("Jenkins '{master}' has no build {number} of '{job}'")]
    NoSuchBuild {
        master: String,
        job: String,
        number: u64,
    },
    #[error("Jenkins '{master}' no longer knows queue item {id}")]
    QueueItemGone { master: String, id: u64 },
    #[error("Jenkins '{master}' refused the credentials (check the user and API token)")]
    NotAuthorized { master: String },
    #[error("Jenkins '{master}' does not allow this: {detail}")]
    Forbidden { master: String, detail: String },
    #[error("job '{job}' on Jenkins '{master}' is disabled")]
    Disabled { master: String, job: String },
    #[error(
        "job '{job}' on Jenkins '{master}' has no parameters defined, but parameters were given: {names}"
    )]
    NotParameterized {
        master: String,
        job: String,
        names: String,
    },
    #[error("Jenkins '{master}' refused the request ({status}): {message}")]
    Rejected {
        master: String,
        status: u16,
        message: String,
    },
    #[error("Jenkins '{master}' cannot be reached: {reason}")]
    Unreachable { master: String, reason: String },
    #[error("Jenkins '{master}' answered {status}")]
    ServerError { master: String, status: u16 },
    #[error("Jenkins '{master}' sent an answer Topsail does not understand: {reason}")]
    BadAnswer { master: String, reason: String },
}

impl JenkinsError {
    /// Worth trying again later (the controller or the network had a problem).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::ServerError { .. })
    }
}

/// A parameter as a job defines it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParameterDefinition {
    pub name: String,
    /// Jenkins' type name, e.g. `StringParameterDefinition`.
    #[serde(rename = "type")]
    pub kind: String,
    pub default_value: Option<String>,
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSummary {
    /// Full name, folders joined with `/`.
    pub name: String,
    pub url: String,
    pub buildable: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobDetails {
    pub name: String,
    pub url: String,
    pub buildable: bool,
    pub parameter_definition_list: Vec<ParameterDefinition>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    pub file_name: String,
    pub display_path: Option<String>,
    pub relative_path: String,
}

/// A build as Spinnaker's `buildInfo` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildInfo {
    pub number: u64,
    pub url: String,
    pub building: bool,
    /// Null until set; may be set while still building (never infer completion from it).
    pub result: Option<String>,
    pub duration: u64,
    pub timestamp: u64,
    pub artifacts: Vec<Artifact>,
}

/// Where a queued build is.
#[derive(Clone, Debug, PartialEq)]
pub enum QueueState {
    /// Still queued (quiet period, blocked, waiting for an executor), or left but its build not
    /// created yet.
    Waiting {
        why: Option<String>,
    },
    Started {
        number: u64,
        url: String,
    },
    Cancelled,
}

/// A piece of a running build's console log.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogChunk {
    pub text: String,
    /// Where the next read starts.
    pub next: u64,
    /// The log is still being written.
    pub more: bool,
}
