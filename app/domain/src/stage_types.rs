//! The one catalog of stage types: for each, its `type` in the pipeline JSON, the fields it
//! must have and the checks beyond presence (validation), the tasks the engine may run for it,
//! and the form the pipeline editor shows (label, fields, defaults).
//!
//! Adding a stage type: one [`StageTypeInfo`] entry here, and its `StageKind` in the server's
//! `orchestration/stages/` (registered in `StageRegistry::standard`). A test in the server checks
//! that the two agree both ways.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// A stage's `type`. Types Topsail does not run are kept as `Unknown` with their exact text, so
/// they round-trip (a pipeline imported from Spinnaker keeps them).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StageType {
    Wait,
    ManualJudgment,
    DeployManifest,
    DeleteManifest,
    ScaleManifest,
    PatchManifest,
    UndoRolloutManifest,
    FindArtifactsFromResource,
    CheckPreconditions,
    EvaluateVariables,
    Webhook,
    /// Runs another pipeline (Spinnaker's `pipeline` stage).
    Pipeline,
    Jenkins,
    Unknown(String),
}

impl StageType {
    /// Every type Topsail runs, in the order the editor offers them.
    pub const KNOWN: [StageType; 13] = [
        Self::Wait,
        Self::ManualJudgment,
        Self::DeployManifest,
        Self::DeleteManifest,
        Self::ScaleManifest,
        Self::PatchManifest,
        Self::UndoRolloutManifest,
        Self::FindArtifactsFromResource,
        Self::CheckPreconditions,
        Self::EvaluateVariables,
        Self::Webhook,
        Self::Pipeline,
        Self::Jenkins,
    ];

    pub fn parse(text: &str) -> Self {
        Self::KNOWN
            .iter()
            .find(|t| t.as_str() == text)
            .cloned()
            .unwrap_or_else(|| Self::Unknown(text.to_owned()))
    }

    /// The `type` as written in the pipeline JSON.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Wait => "wait",
            Self::ManualJudgment => "manualJudgment",
            Self::DeployManifest => "deployManifest",
            Self::DeleteManifest => "deleteManifest",
            Self::ScaleManifest => "scaleManifest",
            Self::PatchManifest => "patchManifest",
            Self::UndoRolloutManifest => "undoRolloutManifest",
            Self::FindArtifactsFromResource => "findArtifactsFromResource",
            Self::CheckPreconditions => "checkPreconditions",
            Self::EvaluateVariables => "evaluateVariables",
            Self::Webhook => "webhook",
            Self::Pipeline => "pipeline",
            Self::Jenkins => "jenkins",
            Self::Unknown(text) => text,
        }
    }

    /// What the catalog says of this type (`None` for a type Topsail does not run).
    pub fn info(&self) -> Option<&'static StageTypeInfo> {
        CATALOG.iter().find(|i| i.stage_type == self.as_str())
    }
}

impl std::fmt::Display for StageType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for StageType {
    fn from(text: &str) -> Self {
        Self::parse(text)
    }
}

impl PartialEq<&str> for StageType {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for StageType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StageType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::parse(&String::deserialize(d)?))
    }
}

/// How a form field shows and parses its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// One line of text (kept as a string; expressions welcome).
    Text,
    /// Several lines of text.
    LongText,
    /// A whole number, or an expression (kept as a string then).
    Number,
    Flag,
    /// `a, b, c` ↔ `["a", "b", "c"]`.
    List,
    /// `KEY=value` lines ↔ `{"KEY": "value"}`.
    KeyValues,
    /// `key=value` lines ↔ `[{"key": "key", "value": "value"}]` (evaluateVariables).
    Variables,
    /// `a, b` ↔ `[{"value": "a"}, {"value": "b"}]` (judgment inputs).
    Choices,
    /// Any JSON.
    Json,
    /// Kubernetes manifests: a JSON list, or YAML documents kept as written in `manifests` of
    /// a JSON list form.
    Manifests,
}

/// One field of an editor form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub key: &'static str,
    pub label: &'static str,
    pub kind: FieldKind,
    pub help: &'static str,
}

pub const fn f(
    key: &'static str,
    label: &'static str,
    kind: FieldKind,
    help: &'static str,
) -> Field {
    Field {
        key,
        label,
        kind,
        help,
    }
}

/// Problems a check finds, as `(field, message)`.
pub type Check = fn(&Map<String, Value>) -> Vec<(String, String)>;

/// Everything Topsail knows of one stage type.
pub struct StageTypeInfo {
    /// The `type` in the pipeline JSON.
    pub stage_type: &'static str,
    /// The name the editor gives a new stage of this type.
    pub label: &'static str,
    /// Fields a stage must have (an expression in one that cannot be evaluated fails the stage).
    pub required: &'static [&'static str],
    /// Checks beyond presence (e.g. one of two fields).
    pub check: Option<Check>,
    /// Every task the engine may run for such a stage, in order (some run only with options).
    pub tasks: &'static [&'static str],
    /// The editor's form.
    pub fields: &'static [Field],
    /// Fields a new stage starts with, as JSON text.
    pub defaults: &'static [(&'static str, &'static str)],
}

use FieldKind::*;

const LOCATION: [Field; 3] = [
    f(
        "account",
        "Account",
        Text,
        "Kubernetes account (kubeconfig context)",
    ),
    f("location", "Namespace", Text, ""),
    f(
        "manifestName",
        "Manifest",
        Text,
        "kind and name, e.g. deployment web",
    ),
];

/// The task that waits for a changed workload to become stable.
pub const WAIT_FOR_MANIFEST_STABLE: &str = "waitForManifestStable";

/// The stage types Topsail runs.
pub const CATALOG: &[StageTypeInfo] = &[
    StageTypeInfo {
        stage_type: "wait",
        label: "Wait",
        required: &["waitTime"],
        check: Some(check_wait),
        tasks: &["wait"],
        fields: &[f("waitTime", "Wait (seconds)", Number, "")],
        defaults: &[("waitTime", "30")],
    },
    StageTypeInfo {
        stage_type: "manualJudgment",
        label: "Manual judgment",
        required: &[],
        check: Some(check_judgment_inputs),
        tasks: &["waitForJudgment"],
        fields: &[
            f(
                "instructions",
                "Instructions",
                LongText,
                "What the person deciding should check",
            ),
            f(
                "judgmentInputs",
                "Choices",
                Choices,
                "Optional, comma-separated, e.g. promote, hold",
            ),
        ],
        defaults: &[],
    },
    StageTypeInfo {
        stage_type: "deployManifest",
        label: "Deploy",
        required: &["account"],
        check: Some(check_deploy_source),
        tasks: &["deployManifest", WAIT_FOR_MANIFEST_STABLE],
        fields: &[
            f(
                "account",
                "Account",
                Text,
                "Kubernetes account (kubeconfig context)",
            ),
            f(
                "namespaceOverride",
                "Namespace",
                Text,
                "Where to deploy (overrides the manifests' namespace)",
            ),
            f(
                "manifests",
                "Manifests",
                Manifests,
                "A JSON list of Kubernetes objects; expressions allowed",
            ),
            f(
                "requiredArtifactIds",
                "Bind artifacts",
                List,
                "Expected artifact ids whose images replace the manifests' images",
            ),
        ],
        defaults: &[],
    },
    StageTypeInfo {
        stage_type: "deleteManifest",
        label: "DeleteManifest",
        required: &["account", "location", "manifestName"],
        check: None,
        tasks: &["deleteManifest"],
        fields: &LOCATION,
        defaults: &[],
    },
    StageTypeInfo {
        stage_type: "scaleManifest",
        label: "ScaleManifest",
        required: &["account", "location", "manifestName", "replicas"],
        check: None,
        tasks: &["scaleManifest", WAIT_FOR_MANIFEST_STABLE],
        fields: &[
            LOCATION[0],
            LOCATION[1],
            LOCATION[2],
            f("replicas", "Replicas", Number, ""),
        ],
        defaults: &[],
    },
    StageTypeInfo {
        stage_type: "patchManifest",
        label: "PatchManifest",
        required: &["account", "location", "manifestName", "patchBody"],
        check: None,
        tasks: &["patchManifest", WAIT_FOR_MANIFEST_STABLE],
        fields: &[
            LOCATION[0],
            LOCATION[1],
            LOCATION[2],
            f("patchBody", "Patch", Json, "The patch as JSON"),
        ],
        defaults: &[],
    },
    StageTypeInfo {
        stage_type: "undoRolloutManifest",
        label: "UndoRolloutManifest",
        required: &["account", "location", "manifestName", "numRevisionsBack"],
        check: None,
        tasks: &["undoRolloutManifest", WAIT_FOR_MANIFEST_STABLE],
        fields: &[
            LOCATION[0],
            LOCATION[1],
            LOCATION[2],
            f("numRevisionsBack", "Revisions back", Number, ""),
        ],
        defaults: &[],
    },
    StageTypeInfo {
        stage_type: "findArtifactsFromResource",
        label: "FindArtifactsFromResource",
        required: &["account", "location", "manifestName"],
        check: None,
        tasks: &["findArtifactsFromResource"],
        fields: &LOCATION,
        defaults: &[],
    },
    StageTypeInfo {
        stage_type: "checkPreconditions",
        label: "CheckPreconditions",
        required: &["preconditions"],
        check: None,
        tasks: &["checkPreconditions"],
        fields: &[f(
            "preconditions",
            "Preconditions",
            Json,
            r#"e.g. [{"type": "expression", "context": {"expression": "${…}"}}]"#,
        )],
        defaults: &[],
    },
    StageTypeInfo {
        stage_type: "evaluateVariables",
        label: "EvaluateVariables",
        required: &["variables"],
        check: None,
        tasks: &["evaluateVariables"],
        fields: &[f(
            "variables",
            "Variables",
            Variables,
            "name=value lines; values may be expressions",
        )],
        defaults: &[],
    },
    StageTypeInfo {
        stage_type: "webhook",
        label: "Webhook",
        required: &["url"],
        check: None,
        tasks: &["createWebhook", "monitorWebhook"],
        fields: &[
            f("url", "URL", Text, ""),
            f("method", "Method", Text, "GET, POST, …"),
            f("payload", "Payload", Json, "Optional JSON body"),
            f("waitForCompletion", "Wait for completion", Flag, ""),
            f(
                "statusJsonPath",
                "Status JSON path",
                Text,
                "With wait for completion, e.g. $.status",
            ),
        ],
        defaults: &[],
    },
    StageTypeInfo {
        stage_type: "pipeline",
        label: "Pipeline",
        required: &["application", "pipeline"],
        check: None,
        tasks: &["startPipeline", "monitorPipeline"],
        fields: &[
            f("application", "Application", Text, ""),
            f("pipeline", "Pipeline id", Text, ""),
        ],
        defaults: &[],
    },
    StageTypeInfo {
        stage_type: "jenkins",
        label: "Build",
        required: &["master", "job"],
        check: Some(check_jenkins),
        tasks: &[
            "startJenkinsJob",
            "waitForJenkinsJobStart",
            "monitorJenkinsJob",
            "getJenkinsBuildProperties",
        ],
        fields: &[
            f("master", "Jenkins master", Text, "As configured"),
            f("job", "Job", Text, "Folders as team/job"),
            f(
                "parameters",
                "Parameters",
                KeyValues,
                "NAME=value lines; values may be expressions",
            ),
            f(
                "propertyFile",
                "Property file",
                Text,
                "An archived file whose keys become stage outputs",
            ),
            f(
                "markUnstableAsSuccessful",
                "Unstable counts as success",
                Flag,
                "",
            ),
        ],
        defaults: &[],
    },
];

fn check_jenkins(stage: &Map<String, Value>) -> Vec<(String, String)> {
    match stage.get("parameters") {
        None | Some(Value::Null) | Some(Value::Object(_)) => vec![],
        Some(_) => vec![(
            "parameters".into(),
            "must map parameter names to values".into(),
        )],
    }
}

fn is_expression(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.contains("${"))
}

fn check_wait(stage: &Map<String, Value>) -> Vec<(String, String)> {
    match stage.get("waitTime") {
        Some(v) if is_expression(v) => vec![],
        Some(v) => match v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        {
            Some(_) => vec![],
            None => vec![(
                "waitTime".into(),
                "must be a whole number of seconds (or an expression)".into(),
            )],
        },
        None => vec![],
    }
}

fn check_judgment_inputs(stage: &Map<String, Value>) -> Vec<(String, String)> {
    match stage.get("judgmentInputs") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(inputs))
            if inputs
                .iter()
                .all(|i| i.get("value").and_then(Value::as_str).is_some()) =>
        {
            vec![]
        }
        Some(_) => vec![(
            "judgmentInputs".into(),
            "must be a list of {\"value\": \"...\"}".into(),
        )],
    }
}

fn check_deploy_source(stage: &Map<String, Value>) -> Vec<(String, String)> {
    match stage
        .get("source")
        .and_then(Value::as_str)
        .unwrap_or("text")
    {
        "text" => match stage.get("manifests") {
            Some(Value::Array(m)) if !m.is_empty() => vec![],
            _ => vec![(
                "manifests".into(),
                "is required when source is text (at least one manifest)".into(),
            )],
        },
        "artifact" => {
            if stage.contains_key("manifestArtifactId") || stage.contains_key("manifestArtifact") {
                vec![]
            } else {
                vec![(
                    "manifestArtifactId".into(),
                    "is required when source is artifact".into(),
                )]
            }
        }
        other => vec![(
            "source".into(),
            format!("must be text or artifact, not '{other}'"),
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_type_has_one_catalog_entry_and_back() {
        for t in StageType::KNOWN {
            let info = t.info().unwrap_or_else(|| panic!("{t} has no entry"));
            assert_eq!(info.stage_type, t.as_str());
            assert!(!info.tasks.is_empty(), "{t} runs no task");
            assert!(!info.fields.is_empty(), "{t} has no form");
            for key in info.required {
                assert!(
                    info.fields.iter().any(|f| f.key == *key),
                    "{t}: required field {key} is not on its form"
                );
            }
        }
        assert_eq!(CATALOG.len(), StageType::KNOWN.len());
        for info in CATALOG {
            assert_ne!(
                StageType::parse(info.stage_type),
                StageType::Unknown(info.stage_type.to_owned())
            );
        }
    }

    #[test]
    fn types_round_trip_as_their_json_text_unknown_ones_too() {
        for text in ["wait", "jenkins", "bake", "canary"] {
            let t: StageType = serde_json::from_value(Value::String(text.into())).unwrap();
            assert_eq!(
                serde_json::to_value(&t).unwrap(),
                Value::String(text.into())
            );
        }
        assert_eq!(StageType::parse("bake"), StageType::Unknown("bake".into()));
        assert_eq!(
            StageType::parse("manualJudgment"),
            StageType::ManualJudgment
        );
        assert!(StageType::parse("bake").info().is_none());
    }
}
