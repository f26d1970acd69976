//! Pipeline configurations in Spinnaker's JSON shape.
//!
//! The JSON document is the truth: it is stored and exported exactly as saved, so fields and stage
//! types Topsail does not know survive save, load and export untouched. Typed reading happens
//! only for validation (`validate.rs`) and execution; `diff.rs` compares versions.

mod diff;
mod validate;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use diff::{BOOKKEEPING_FIELDS, PipelineChange, diff, diff_json};
pub use validate::NOTIFICATION_TYPES;

/// How bad a problem is: errors block saving, warnings are reported with the saved result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in a pipeline, naming the stage (by refId and name) and the field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineProblem {
    pub severity: Severity,
    /// `stage 2 (Deploy to test)`, or `None` for the pipeline itself.
    pub stage: Option<String>,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for PipelineProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.stage {
            Some(stage) => write!(f, "{stage}: {}: {}", self.field, self.message),
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

pub(super) fn present(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

/// A pipeline configuration: the JSON object as the user wrote it, kept verbatim (fields
/// Topsail does not know included). Read through the accessors; written only by whole fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PipelineDocument(Map<String, Value>);

impl From<Map<String, Value>> for PipelineDocument {
    fn from(map: Map<String, Value>) -> Self {
        Self(map)
    }
}

impl PipelineDocument {
    /// The JSON object as written.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    /// A top-level field.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// Sets a top-level field (what the store records: id, version stamps, who changed it).
    pub fn set(&mut self, key: &str, value: Value) {
        self.0.insert(key.to_owned(), value);
    }

    /// A boolean top-level field; absent or not a boolean is `false`.
    pub fn flag(&self, key: &str) -> bool {
        self.0.get(key).and_then(Value::as_bool).unwrap_or(false)
    }

    /// A list at the top level; absent or not a list is empty.
    pub fn list(&self, key: &str) -> &[Value] {
        self.0
            .get(key)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// `disabled: true`: no trigger fires it and it cannot be started.
    pub fn is_disabled(&self) -> bool {
        self.flag("disabled")
    }

    /// Reads a JSON value that must be an object.
    pub fn from_value(value: Value) -> Result<Self, PipelineProblem> {
        match value {
            Value::Object(map) => Ok(Self(map)),
            _ => Err(problem(
                Severity::Error,
                None,
                "pipeline",
                "must be a JSON object",
            )),
        }
    }

    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    pub fn id(&self) -> Option<&str> {
        self.str_field("id").filter(|s| !s.is_empty())
    }

    pub fn application(&self) -> &str {
        self.str_field("application").unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.str_field("name").unwrap_or_default()
    }

    pub fn stages(&self) -> &[Value] {
        self.0
            .get("stages")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The parameters a run gets: `given` checked against `parameterConfig` — defaults filled in,
    /// required ones present, values with options among them. Parameters the config does not
    /// name are passed through. Every problem names its parameter.
    pub fn resolve_parameters(
        &self,
        given: &Map<String, Value>,
    ) -> Result<Map<String, Value>, Vec<(String, String)>> {
        let mut resolved = given.clone();
        let mut problems = Vec::new();
        for config in self
            .0
            .get("parameterConfig")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(name) = config
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
            else {
                continue;
            };
            let given = resolved
                .get(name)
                .filter(|v| !v.is_null() && v.as_str() != Some(""))
                .cloned();
            let default = config
                .get("default")
                .filter(|v| !v.is_null() && v.as_str() != Some(""))
                .cloned();
            let Some(value) = given.or(default) else {
                if config
                    .get("required")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                {
                    problems.push((name.to_owned(), format!("parameter '{name}' is required")));
                }
                continue;
            };
            if config
                .get("hasOptions")
                .and_then(Value::as_bool)
                .unwrap_or(false)
            {
                let options: Vec<&Value> = config
                    .get("options")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|o| o.get("value"))
                    .collect();
                let text = |v: &Value| {
                    v.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string())
                };
                if !options.is_empty() && !options.iter().any(|o| text(o) == text(&value)) {
                    let allowed: Vec<String> = options.iter().map(|o| text(o)).collect();
                    problems.push((
                        name.to_owned(),
                        format!("parameter '{name}' must be one of {}", allowed.join(", ")),
                    ));
                    continue;
                }
            }
            resolved.insert(name.to_owned(), value);
        }
        if problems.is_empty() {
            Ok(resolved)
        } else {
            Err(problems)
        }
    }
}

pub(super) fn problem(
    severity: Severity,
    stage: Option<String>,
    field: &str,
    message: &str,
) -> PipelineProblem {
    PipelineProblem {
        severity,
        stage,
        field: field.to_owned(),
        message: message.to_owned(),
    }
}

/// A pipeline as listed: its identity and latest version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineSummary {
    pub id: String,
    pub application: String,
    pub name: String,
    pub version: u32,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub updated_by: String,
}

/// A pipeline's latest version with its document (what `export` gives).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineDetail {
    pub summary: PipelineSummary,
    pub document: PipelineDocument,
}

/// One stored version of a pipeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineVersion {
    pub version: u32,
    pub saved_at: chrono::DateTime<chrono::Utc>,
    pub saved_by: String,
    pub document: PipelineDocument,
}

/// The answer to a save: which version now stands, and warnings worth knowing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedPipeline {
    pub id: String,
    pub version: u32,
    /// False when the document equalled the latest version (nothing new was stored).
    pub changed: bool,
    /// The stored version's `updateTs` (epoch ms, as text like Front50's): an editor keeps it
    /// so its next save is based on this version.
    #[serde(default)]
    pub update_ts: String,
    pub warnings: Vec<PipelineProblem>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> PipelineDocument {
        PipelineDocument::from_value(v).unwrap()
    }

    fn seed() -> Value {
        json!({
            "application": "shop",
            "name": "Deploy",
            "stages": [
                {"refId": "1", "type": "jenkins", "name": "Build", "master": "ci", "job": "shop-build"},
                {"refId": "2", "type": "deployManifest", "name": "Deploy to test", "requisiteStageRefIds": ["1"],
                 "account": "test", "source": "text", "manifests": [{"kind": "Deployment"}]},
                {"refId": "3", "type": "manualJudgment", "name": "Verify", "requisiteStageRefIds": ["2"],
                 "judgmentInputs": [{"value": "ok"}]},
                {"refId": "4", "type": "deployManifest", "name": "Deploy to prod", "requisiteStageRefIds": ["3"],
                 "account": "prod", "source": "text", "manifests": [{"kind": "Deployment"}]}
            ],
            "spelEvaluator": "v4",
            "somethingNew": {"kept": true}
        })
    }

    fn messages(p: &[PipelineProblem]) -> Vec<String> {
        p.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_seed_pipeline_is_valid() {
        assert_eq!(messages(&doc(seed()).validate()), Vec::<String>::new());
    }

    #[test]
    fn problems_name_the_stage_and_the_field() {
        let mut v = seed();
        v["stages"][1]["account"] = json!("");
        v["stages"][2]["requisiteStageRefIds"] = json!(["9"]);
        v["stages"][3]["refId"] = json!("1");
        assert_eq!(
            messages(&doc(v).validate()),
            [
                "stage 2 (Deploy to test): account: account is required for a deployManifest stage",
                "stage 1 (Deploy to prod): refId: refId '1' is used by another stage",
                "stage 3 (Verify): requisiteStageRefIds: refers to stage '9', which does not exist",
            ]
        );
    }

    #[test]
    fn triggers_need_their_fields_and_unknown_types_only_warn() {
        let mut v = seed();
        v["triggers"] = json!([
            {"type": "jenkins", "master": "ci", "job": "team/build"},
            {"type": "jenkins", "master": "ci"},
            {"type": "docker", "account": "harbor"},
            {"type": "travis"},
            "nonsense"
        ]);
        let p = doc(v).validate();
        assert_eq!(
            messages(&p),
            [
                "triggers[1].job: job is required for a jenkins trigger",
                "triggers[2].repository: repository is required for a docker trigger",
                "triggers[3].type: trigger type 'travis' is not supported by Topsail; it is kept but never fires",
                "triggers[4]: must be a JSON object",
            ]
        );
        assert_eq!(p[2].severity, Severity::Warning);
    }

    #[test]
    fn jenkins_parameters_must_be_a_map() {
        let v = json!({"application": "shop", "name": "Build", "stages": [
            {"refId": "1", "type": "jenkins", "name": "Build", "master": "ci", "job": "app", "parameters": ["BRANCH=main"]},
            {"refId": "2", "type": "jenkins", "name": "Build 2", "master": "ci", "job": "app", "parameters": {"BRANCH": "${trigger.parameters.branch}"}}
        ]});
        assert_eq!(
            messages(&doc(v).validate()),
            ["stage 1 (Build): parameters: must map parameter names to values"]
        );
    }

    #[test]
    fn notifications_need_an_address_and_events() {
        let mut v = seed();
        v["notifications"] = json!([
            {"type": "slack", "address": "https://hooks.example/x", "when": ["pipeline.failed"]},
            {"type": "webhook", "address": "ftp://x", "when": []},
            {"type": "email", "address": "a@b"}
        ]);
        assert_eq!(
            messages(&doc(v).validate()),
            [
                "notifications[1].address: address must be an http(s) URL",
                "notifications[1].when: when must list at least one event (e.g. pipeline.failed)",
                "notifications[2].type: notification type 'email' is not sent by Topsail (it sends webhook and slack)",
            ]
        );
    }

    #[test]
    fn cycles_are_reported_on_the_stages_in_them() {
        let v = json!({"application": "shop", "name": "Loop", "stages": [
            {"refId": "a", "type": "wait", "name": "A", "waitTime": 1, "requisiteStageRefIds": ["c"]},
            {"refId": "b", "type": "wait", "name": "B", "waitTime": 1, "requisiteStageRefIds": ["a"]},
            {"refId": "c", "type": "wait", "name": "C", "waitTime": 1, "requisiteStageRefIds": ["b"]},
            {"refId": "d", "type": "wait", "name": "D", "waitTime": 1, "requisiteStageRefIds": ["c"]},
            {"refId": "e", "type": "wait", "name": "E", "waitTime": 1, "requisiteStageRefIds": ["e"]}
        ]});
        let m = messages(&doc(v).validate());
        assert_eq!(
            m,
            [
                "stage e (E): requisiteStageRefIds: a stage cannot depend on itself",
                "stage a (A): requisiteStageRefIds: is part of a dependency cycle",
                "stage b (B): requisiteStageRefIds: is part of a dependency cycle",
                "stage c (C): requisiteStageRefIds: is part of a dependency cycle",
            ]
        );
    }

    #[test]
    fn unknown_stage_types_are_warnings_not_errors() {
        let mut v = seed();
        v["stages"][0] = json!({"refId": "1", "type": "bakeManifest", "name": "Bake", "templateRenderer": "HELM3"});
        let p = doc(v).validate();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].severity, Severity::Warning);
        assert!(p[0].message.contains("'bakeManifest' is not supported"));
    }

    #[test]
    fn pipeline_level_fields_are_checked() {
        let v = json!({"application": "Shop", "name": " ", "stages": {}, "limitConcurrent": "yes"});
        assert_eq!(
            messages(&doc(v).validate()),
            [
                "application: application may contain only lowercase letters, digits and '-'",
                "name: name is required",
                "stages: must be a list",
                "limitConcurrent: must be a boolean",
            ]
        );
        assert!(PipelineDocument::from_value(json!([1])).is_err());
    }

    #[test]
    fn stage_type_checks_go_beyond_presence() {
        let v = json!({"application": "shop", "name": "P", "stages": [
            {"refId": "1", "type": "wait", "name": "W", "waitTime": "soon"},
            {"refId": "2", "type": "wait", "name": "X", "waitTime": "${parameters.delay}"},
            {"refId": "3", "type": "deployManifest", "name": "D", "account": "a", "source": "artifact"},
            {"refId": "4", "type": "manualJudgment", "name": "J", "judgmentInputs": ["yes"]}
        ]});
        assert_eq!(
            messages(&doc(v).validate()),
            [
                "stage 1 (W): waitTime: must be a whole number of seconds (or an expression)",
                "stage 3 (D): manifestArtifactId: is required when source is artifact",
                "stage 4 (J): judgmentInputs: must be a list of {\"value\": \"...\"}",
            ]
        );
    }

    #[test]
    fn parameters_get_defaults_and_are_checked_against_their_config() {
        let d = doc(
            json!({"application": "shop", "name": "P", "parameterConfig": [
                {"name": "branch", "default": "main"},
                {"name": "env", "required": true, "hasOptions": true, "options": [{"value": "test"}, {"value": "prod"}]},
                {"name": "ticket", "required": true}
            ]}),
        );
        let given = |v: Value| v.as_object().unwrap().clone();
        let ok = d
            .resolve_parameters(&given(
                json!({"env": "prod", "ticket": "OPS-1", "extra": 1}),
            ))
            .unwrap();
        assert_eq!(
            Value::Object(ok),
            json!({"branch": "main", "env": "prod", "ticket": "OPS-1", "extra": 1})
        );
        let problems = d
            .resolve_parameters(&given(json!({"env": "staging", "ticket": ""})))
            .unwrap_err();
        assert_eq!(
            problems,
            vec![
                (
                    "env".to_owned(),
                    "parameter 'env' must be one of test, prod".to_owned()
                ),
                (
                    "ticket".to_owned(),
                    "parameter 'ticket' is required".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn diff_matches_stages_by_ref_id_and_ignores_bookkeeping() {
        let before = doc(seed());
        let mut v = seed();
        v["updateTs"] = json!("1800000000000");
        v["stages"][2]["judgmentInputs"] = json!([{"value": "ok"}, {"value": "rollback"}]);
        v["stages"].as_array_mut().unwrap().remove(0);
        v["description"] = json!("promotes shop");
        let changes = diff(&before, &doc(v));
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "description",
                "stages[refId=1]",
                "stages[refId=3].judgmentInputs[1]"
            ]
        );
        assert_eq!(changes[1].after, None);
        assert_eq!(changes[2].after, Some(json!({"value": "rollback"})));
        assert!(diff(&before, &before).is_empty());
    }
}
