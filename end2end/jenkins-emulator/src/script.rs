//! The emulator's script: users, crumb mode, and the jobs with what each build does. Read from a
//! JSON file (`--script`) or built in tests.
//!
//! ```json
//! {
//!   "users": [{"name": "ci-bot", "token": "11aa…", "password": "secret"}],
//!   "crumbs": true,
//!   "quietPeriodMs": 100,
//!   "jobs": [{
//!     "name": "team/build-image",
//!     "parameters": [{"name": "BRANCH", "type": "string", "default": "main"},
//!                    {"name": "RESULT", "type": "choice", "choices": ["SUCCESS", "FAILURE"]}],
//!     "build": {
//!       "durationMs": 500,
//!       "result": "${RESULT}",
//!       "console": ["Building ${IMAGE} from ${BRANCH}@${COMMIT}"],
//!       "pushImage": {"registry": "http://127.0.0.1:5000", "repository": "${IMAGE}", "tag": "${BRANCH}-${BUILD_NUMBER}"},
//!       "artifacts": [{"path": "out/build.properties", "content": "IMAGE_TAG=${IMAGE_TAG}\nIMAGE_DIGEST=${IMAGE_DIGEST}\n"}]
//!     }
//!   }]
//! }
//! ```
//!
//! `${NAME}` in a build's texts is a build parameter, or `BUILD_NUMBER`, `JOB_NAME`, and after an
//! image push `IMAGE`, `IMAGE_TAG`, `IMAGE_DIGEST`. Unknown names stay as written.

use std::collections::HashMap;

use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Script {
    /// Who may call the API. Empty: anonymous callers may do everything.
    #[serde(default)]
    pub users: Vec<User>,
    /// Require a crumb on POSTs not authenticated by an API token.
    #[serde(default)]
    pub crumbs: bool,
    /// The global quiet period (Jenkins' default is 5 s).
    #[serde(default = "default_quiet_period")]
    pub quiet_period_ms: u64,
    /// How long left queue items stay readable (Jenkins: 5 minutes).
    #[serde(default = "default_left_retention")]
    pub left_item_retention_ms: u64,
    #[serde(default)]
    pub jobs: Vec<JobDef>,
}

fn default_quiet_period() -> u64 {
    5_000
}

fn default_left_retention() -> u64 {
    5 * 60 * 1000
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub name: String,
    /// An API token: Basic auth with it needs no crumb.
    #[serde(default)]
    pub token: Option<String>,
    /// A password: Basic auth with it needs a crumb when crumbs are on.
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobDef {
    /// Full name; `a/b` is job `b` in folder `a` (folders are made as needed).
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// `freestyle` (default) or `pipeline`: only the `_class` names differ.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub parameters: Vec<ParameterDef>,
    #[serde(default)]
    pub disabled: bool,
    /// Builds may run side by side (otherwise a second one waits, blocked).
    #[serde(default = "yes")]
    pub concurrent: bool,
    /// This job's quiet period, overriding the global one.
    #[serde(default)]
    pub quiet_period_ms: Option<u64>,
    /// A job `token=` that allows triggering by GET.
    #[serde(default)]
    pub auth_token: Option<String>,
    #[serde(default)]
    pub build: BuildScript,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterDef {
    pub name: String,
    /// `string` (default), `choice`, `boolean`, `text`, `password`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub choices: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
}

impl ParameterDef {
    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or("string")
    }

    /// The default a build gets when the request leaves the parameter out.
    pub fn default_value(&self) -> String {
        match (self.kind(), &self.default) {
            (_, Some(d)) => d.clone(),
            ("choice", None) => self.choices.first().cloned().unwrap_or_default(),
            ("boolean", None) => "false".into(),
            _ => String::new(),
        }
    }

    /// Jenkins' parameter definition and value classes.
    pub fn classes(&self) -> (&'static str, &'static str) {
        match self.kind() {
            "choice" => (
                "hudson.model.ChoiceParameterDefinition",
                "hudson.model.StringParameterValue",
            ),
            "boolean" => (
                "hudson.model.BooleanParameterDefinition",
                "hudson.model.BooleanParameterValue",
            ),
            "text" => (
                "hudson.model.TextParameterDefinition",
                "hudson.model.TextParameterValue",
            ),
            "password" => (
                "hudson.model.PasswordParameterDefinition",
                "hudson.model.PasswordParameterValue",
            ),
            _ => (
                "hudson.model.StringParameterDefinition",
                "hudson.model.StringParameterValue",
            ),
        }
    }

    /// The type name Jenkins reports (`StringParameterDefinition` → `StringParameterDefinition`).
    pub fn type_name(&self) -> &'static str {
        self.classes().0.rsplit('.').next().unwrap_or_default()
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BuildScript {
    #[serde(default = "default_duration")]
    pub duration_ms: u64,
    /// SUCCESS, UNSTABLE, FAILURE, NOT_BUILT or ABORTED (templated).
    #[serde(default = "default_result")]
    pub result: String,
    /// Lines written to the console, spread evenly over the duration (templated).
    #[serde(default)]
    pub console: Vec<String>,
    /// Files archived when the build ends (templated).
    #[serde(default)]
    pub artifacts: Vec<ArtifactScript>,
    /// Marks the build UNSTABLE this long after it starts, while it keeps running.
    #[serde(default)]
    pub unstable_at_ms: Option<u64>,
    /// How long a finished build stays in post-production (`building: false`,
    /// `inProgress: true`, the log still growing).
    #[serde(default = "default_post_production")]
    pub post_production_ms: u64,
    /// Pushes a real image to a Docker registry (HTTP API v2) before the build ends.
    #[serde(default)]
    pub push_image: Option<PushImage>,
}

fn default_duration() -> u64 {
    1_000
}

fn default_result() -> String {
    "SUCCESS".into()
}

fn default_post_production() -> u64 {
    50
}

impl Default for BuildScript {
    fn default() -> Self {
        Self {
            duration_ms: default_duration(),
            result: default_result(),
            console: Vec::new(),
            artifacts: Vec::new(),
            unstable_at_ms: None,
            post_production_ms: default_post_production(),
            push_image: None,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactScript {
    /// Relative path, `/`-separated.
    pub path: String,
    pub content: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushImage {
    /// The registry's base URL, e.g. `http://127.0.0.1:5000`.
    pub registry: String,
    pub repository: String,
    pub tag: String,
}

impl Script {
    pub fn from_json(text: &str) -> Result<Self, String> {
        let script: Script = serde_json::from_str(text).map_err(|e| e.to_string())?;
        for job in &script.jobs {
            if job.name.is_empty() || job.name.split('/').any(str::is_empty) {
                return Err(format!("job name '{}' has an empty segment", job.name));
            }
        }
        Ok(script)
    }
}

/// Replaces `${NAME}` with its value; names without a value stay as written.
pub fn expand(template: &str, values: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match values.get(name) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(&rest[start..start + 3 + end]),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand_known_names_only() {
        let values = HashMap::from([
            ("A".to_owned(), "1".to_owned()),
            ("B".to_owned(), "two".to_owned()),
        ]);
        assert_eq!(expand("${A}-${B}-${C} ${", &values), "1-two-${C} ${");
        assert_eq!(expand("plain", &values), "plain");
    }

    #[test]
    fn a_script_with_an_unknown_key_or_empty_segment_is_refused() {
        assert!(
            Script::from_json(r#"{"jobs": [{"name": "a", "bogus": 1}]}"#)
                .unwrap_err()
                .contains("bogus")
        );
        assert!(
            Script::from_json(r#"{"jobs": [{"name": "a//b"}]}"#)
                .unwrap_err()
                .contains("empty segment")
        );
        let s = Script::from_json(r#"{"jobs": [{"name": "team/app", "parameters": [{"name": "X", "type": "choice", "choices": ["p", "q"]}]}]}"#).unwrap();
        assert_eq!(s.quiet_period_ms, 5_000);
        assert_eq!(s.jobs[0].parameters[0].default_value(), "p");
        assert!(s.jobs[0].concurrent);
    }
}
