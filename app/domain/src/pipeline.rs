//! Pipeline configurations in Spinnaker's JSON shape.
//!
//! The JSON document is the truth: it is stored and exported exactly as saved, so fields and stage
//! types Topsail does not know survive save, load and export untouched. Typed reading happens
//! only for validation (and, later, for execution).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ApplicationName;

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

/// Notification types Topsail sends.
pub const NOTIFICATION_TYPES: &[&str] = &["webhook", "slack"];

fn validate_notifications(
    list: Option<&Value>,
    stage: Option<String>,
    key: &str,
    out: &mut Vec<PipelineProblem>,
) {
    let Some(Value::Array(list)) = list else {
        return;
    };
    for (i, n) in list.iter().enumerate() {
        let at = format!("{key}[{i}]");
        let Some(n) = n.as_object() else {
            out.push(problem(
                Severity::Error,
                stage.clone(),
                &at,
                "must be a JSON object",
            ));
            continue;
        };
        let kind = n.get("type").and_then(Value::as_str).unwrap_or_default();
        if !NOTIFICATION_TYPES.contains(&kind) {
            out.push(problem(
                Severity::Warning,
                stage.clone(),
                &format!("{at}.type"),
                &format!(
                    "notification type '{kind}' is not sent by Topsail (it sends webhook and slack)"
                ),
            ));
            continue;
        }
        let address = n
            .get("address")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim();
        if !(address.starts_with("http://") || address.starts_with("https://")) {
            out.push(problem(
                Severity::Error,
                stage.clone(),
                &format!("{at}.address"),
                "address must be an http(s) URL",
            ));
        }
        if n.get("when")
            .and_then(Value::as_array)
            .is_none_or(|w| w.is_empty())
        {
            out.push(problem(
                Severity::Error,
                stage.clone(),
                &format!("{at}.when"),
                "when must list at least one event (e.g. pipeline.failed)",
            ));
        }
    }
}

fn present(v: Option<&Value>) -> bool {
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

    /// Every problem in the document: structure, references between stages, cycles, and each
    /// stage type's required fields. Unknown stage types are warnings, never dropped.
    pub fn validate(&self) -> Vec<PipelineProblem> {
        let mut out = Vec::new();
        if let Err(e) = ApplicationName::parse(self.application()) {
            out.push(problem(
                Severity::Error,
                None,
                "application",
                &e.message.replacen("name", "application", 1),
            ));
        }
        let name = self.name().trim();
        if name.is_empty() {
            out.push(problem(Severity::Error, None, "name", "name is required"));
        } else if name.chars().count() > 255 || name.chars().any(char::is_control) {
            out.push(problem(
                Severity::Error,
                None,
                "name",
                "name must be at most 255 characters, without control characters",
            ));
        }
        for (key, expected) in [
            ("stages", "list"),
            ("triggers", "list"),
            ("parameterConfig", "list"),
            ("expectedArtifacts", "list"),
            ("notifications", "list"),
            ("limitConcurrent", "boolean"),
            ("keepWaitingPipelines", "boolean"),
            ("disabled", "boolean"),
        ] {
            let ok = matches!(
                (self.0.get(key), expected),
                (None | Some(Value::Null), _)
                    | (Some(Value::Array(_)), "list")
                    | (Some(Value::Bool(_)), "boolean")
            );
            if !ok {
                out.push(problem(
                    Severity::Error,
                    None,
                    key,
                    &format!("must be a {expected}"),
                ));
            }
        }
        self.validate_stages(&mut out);
        self.validate_triggers(&mut out);
        validate_notifications(self.0.get("notifications"), None, "notifications", &mut out);
        for (i, stage) in self.stages().iter().enumerate() {
            if let Some(stage) = stage.as_object() {
                validate_notifications(
                    stage.get("notifications"),
                    Some(stage_label(i, stage)),
                    "notifications",
                    &mut out,
                );
            }
        }
        out
    }

    fn validate_triggers(&self, out: &mut Vec<PipelineProblem>) {
        for (i, trigger) in self
            .0
            .get("triggers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = format!("triggers[{i}]");
            let Some(trigger) = trigger.as_object() else {
                out.push(problem(Severity::Error, None, &at, "must be a JSON object"));
                continue;
            };
            let kind = trigger
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match crate::triggers::TriggerKind::parse(kind).map(|k| k.required()) {
                None => out.push(problem(Severity::Warning, None, &format!("{at}.type"), &format!("trigger type '{kind}' is not supported by Topsail; it is kept but never fires"))),
                Some(required) => {
                    for field in required.iter().filter(|f| !present(trigger.get(**f))) {
                        out.push(problem(Severity::Error, None, &format!("{at}.{field}"), &format!("{field} is required for a {kind} trigger")));
                    }
                }
            }
        }
    }

    fn validate_stages(&self, out: &mut Vec<PipelineProblem>) {
        // refId → stage label, for messages and references.
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut labels = Vec::new();
        for (i, stage) in self.stages().iter().enumerate() {
            let Some(stage) = stage.as_object() else {
                out.push(problem(
                    Severity::Error,
                    Some(format!("stage #{}", i + 1)),
                    "stage",
                    "must be a JSON object",
                ));
                labels.push(None);
                continue;
            };
            let ref_id = ref_id_of(stage);
            let label = stage_label(i, stage);
            match &ref_id {
                None => out.push(problem(
                    Severity::Error,
                    Some(label.clone()),
                    "refId",
                    "refId is required",
                )),
                Some(r) => {
                    if seen.insert(r.clone(), i).is_some() {
                        out.push(problem(
                            Severity::Error,
                            Some(label.clone()),
                            "refId",
                            &format!("refId '{r}' is used by another stage"),
                        ));
                    }
                }
            }
            if !present(stage.get("name")) {
                out.push(problem(
                    Severity::Error,
                    Some(label.clone()),
                    "name",
                    "name is required",
                ));
            }
            match stage.get("type").and_then(Value::as_str) {
                None | Some("") => out.push(problem(Severity::Error, Some(label.clone()), "type", "type is required")),
                Some(t) => match crate::stage_types::StageType::parse(t).info() {
                    None => out.push(problem(
                        Severity::Warning,
                        Some(label.clone()),
                        "type",
                        &format!("stage type '{t}' is not supported by Topsail; it is kept as written but cannot run"),
                    )),
                    Some(st) => {
                        let missing: Vec<&str> = st.required.iter().copied().filter(|f| !present(stage.get(*f))).collect();
                        for field in &missing {
                            out.push(problem(Severity::Error, Some(label.clone()), field, &format!("{field} is required for a {t} stage")));
                        }
                        // Finer checks only once the basics are there: one message per problem.
                        let finer = if missing.is_empty() { st.check.map(|c| c(stage)) } else { None };
                        for (field, message) in finer.unwrap_or_default() {
                            out.push(problem(Severity::Error, Some(label.clone()), &field, &message));
                        }
                    }
                },
            }
            if let Some(v) = stage.get("stageTimeoutMs")
                && !v.is_null()
                && v.as_u64().is_none()
            {
                out.push(problem(
                    Severity::Error,
                    Some(label.clone()),
                    "stageTimeoutMs",
                    "must be a whole number of milliseconds",
                ));
            }
            labels.push(Some((ref_id, label)));
        }
        // References and cycles.
        let mut edges: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (i, stage) in self.stages().iter().enumerate() {
            let (Some(stage), Some(Some((Some(ref_id), label)))) =
                (stage.as_object(), labels.get(i))
            else {
                continue;
            };
            let requisites = match stage.get("requisiteStageRefIds") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items.iter().filter_map(ref_value).collect(),
                Some(_) => {
                    out.push(problem(
                        Severity::Error,
                        Some(label.clone()),
                        "requisiteStageRefIds",
                        "must be a list of refIds",
                    ));
                    continue;
                }
            };
            for r in &requisites {
                if r == ref_id {
                    out.push(problem(
                        Severity::Error,
                        Some(label.clone()),
                        "requisiteStageRefIds",
                        "a stage cannot depend on itself",
                    ));
                } else if !seen.contains_key(r) {
                    out.push(problem(
                        Severity::Error,
                        Some(label.clone()),
                        "requisiteStageRefIds",
                        &format!("refers to stage '{r}', which does not exist"),
                    ));
                }
            }
            edges.insert(
                ref_id.clone(),
                requisites
                    .into_iter()
                    .filter(|r| r != ref_id && seen.contains_key(r))
                    .collect(),
            );
        }
        for ref_id in stages_in_cycles(&edges) {
            let label = seen
                .get(&ref_id)
                .and_then(|i| labels.get(*i).cloned().flatten())
                .map(|(_, l)| l)
                .unwrap_or_else(|| format!("stage {ref_id}"));
            out.push(problem(
                Severity::Error,
                Some(label),
                "requisiteStageRefIds",
                "is part of a dependency cycle",
            ));
        }
    }
}

fn problem(
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

/// refIds are strings in Spinnaker's JSON, but numbers appear in hand-written pipelines.
fn ref_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn ref_id_of(stage: &Map<String, Value>) -> Option<String> {
    stage.get("refId").and_then(ref_value)
}

fn stage_label(index: usize, stage: &Map<String, Value>) -> String {
    let name = stage
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty());
    match (ref_id_of(stage), name) {
        (Some(r), Some(n)) => format!("stage {r} ({n})"),
        (Some(r), None) => format!("stage {r}"),
        (None, Some(n)) => format!("stage #{} ({n})", index + 1),
        (None, None) => format!("stage #{}", index + 1),
    }
}

/// The refIds that cannot be ordered because they depend on each other (Kahn's algorithm).
fn stages_in_cycles(edges: &BTreeMap<String, Vec<String>>) -> BTreeSet<String> {
    let mut remaining: BTreeMap<&str, usize> =
        edges.iter().map(|(k, v)| (k.as_str(), v.len())).collect();
    let mut dependents: HashMap<&str, Vec<&str>> = HashMap::new();
    for (stage, requisites) in edges {
        for r in requisites {
            dependents
                .entry(r.as_str())
                .or_default()
                .push(stage.as_str());
        }
    }
    let mut ready: Vec<&str> = remaining
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(k, _)| *k)
        .collect();
    while let Some(done) = ready.pop() {
        remaining.remove(done);
        for d in dependents.get(done).into_iter().flatten() {
            if let Some(n) = remaining.get_mut(d) {
                *n -= 1;
                if *n == 0 {
                    ready.push(d);
                }
            }
        }
    }
    // What remains is in a cycle or waits on one; report only stages on a cycle.
    let blocked: BTreeSet<&str> = remaining.keys().copied().collect();
    blocked
        .iter()
        .filter(|s| reaches(edges, s, s, &blocked))
        .map(|s| (*s).to_owned())
        .collect()
}

fn reaches(
    edges: &BTreeMap<String, Vec<String>>,
    from: &str,
    target: &str,
    within: &BTreeSet<&str>,
) -> bool {
    let mut stack: Vec<&str> = edges
        .get(from)
        .map(|v| v.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let mut visited = BTreeSet::new();
    while let Some(s) = stack.pop() {
        if s == target {
            return true;
        }
        if within.contains(s) && visited.insert(s) {
            stack.extend(edges.get(s).into_iter().flatten().map(String::as_str));
        }
    }
    false
}

/// Fields Topsail sets on every save; they are not "changes" a person made.
pub const BOOKKEEPING_FIELDS: &[&str] = &["updateTs", "lastModifiedBy"];

/// One difference between two versions of a pipeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineChange {
    /// Where, e.g. `stages[refId=2].waitTime`.
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// The differences between two pipeline documents, ignoring bookkeeping fields. Lists of objects
/// that all have a `refId` (stages) are matched by refId, other lists by position.
pub fn diff(before: &PipelineDocument, after: &PipelineDocument) -> Vec<PipelineChange> {
    let strip = |d: &PipelineDocument| {
        let mut m = d.0.clone();
        for f in BOOKKEEPING_FIELDS {
            m.remove(*f);
        }
        Value::Object(m)
    };
    let mut out = Vec::new();
    diff_values("", &strip(before), &strip(after), &mut out);
    out
}

/// The changes between two JSON values, by path (lists of stages matched by `refId`).
pub fn diff_json(before: &Value, after: &Value) -> Vec<PipelineChange> {
    let mut out = Vec::new();
    diff_values("", before, after, &mut out);
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn keyed_by_ref_id(items: &[Value]) -> Option<BTreeMap<String, &Value>> {
    let mut keyed = BTreeMap::new();
    for item in items {
        let r = item.as_object().and_then(ref_id_of)?;
        if keyed.insert(r, item).is_some() {
            return None;
        }
    }
    Some(keyed)
}

fn diff_values(path: &str, before: &Value, after: &Value, out: &mut Vec<PipelineChange>) {
    if before == after {
        return;
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            for k in keys {
                let p = join(path, k);
                match (b.get(k), a.get(k)) {
                    (Some(x), Some(y)) => diff_values(&p, x, y, out),
                    (x, y) => out.push(PipelineChange {
                        path: p,
                        before: x.cloned(),
                        after: y.cloned(),
                    }),
                }
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            if let (Some(kb), Some(ka)) = (keyed_by_ref_id(b), keyed_by_ref_id(a)) {
                let keys: BTreeSet<&String> = kb.keys().chain(ka.keys()).collect();
                for k in keys {
                    let p = format!("{path}[refId={k}]");
                    match (kb.get(k), ka.get(k)) {
                        (Some(x), Some(y)) => diff_values(&p, x, y, out),
                        (x, y) => out.push(PipelineChange {
                            path: p,
                            before: x.map(|v| (*v).clone()),
                            after: y.map(|v| (*v).clone()),
                        }),
                    }
                }
            } else {
                for i in 0..b.len().max(a.len()) {
                    let p = format!("{path}[{i}]");
                    match (b.get(i), a.get(i)) {
                        (Some(x), Some(y)) => diff_values(&p, x, y, out),
                        (x, y) => out.push(PipelineChange {
                            path: p,
                            before: x.cloned(),
                            after: y.cloned(),
                        }),
                    }
                }
            }
        }
        _ => out.push(PipelineChange {
            path: path.to_owned(),
            before: Some(before.clone()),
            after: Some(after.clone()),
        }),
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
