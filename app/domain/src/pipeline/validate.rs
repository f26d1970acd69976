//! Validation of a pipeline document: structure, triggers, notifications, references between
//! stages, cycles, and each stage type's required fields (from the stage catalog).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value};

use super::{PipelineDocument, PipelineProblem, Severity, present, problem};
use crate::ApplicationName;

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

impl PipelineDocument {
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
        self.validate_depth(&mut out);
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

    /// Nothing nests deeper than [`crate::json_depth::MAX_INPUT_DEPTH`] (counted from the
    /// document), so everything stored of it reads back: named by stage and field.
    fn validate_depth(&self, out: &mut Vec<PipelineProblem>) {
        use crate::json_depth::{MAX_INPUT_DEPTH, depth};
        let message = format!("nests deeper than {MAX_INPUT_DEPTH} levels");
        for (key, value) in &self.0 {
            if key == "stages" {
                for (i, stage) in self.stages().iter().enumerate() {
                    let Some(stage) = stage.as_object() else {
                        continue;
                    };
                    for (field, v) in stage {
                        // document → stages → [i] → field
                        if depth(v) + 3 > MAX_INPUT_DEPTH {
                            let at = Some(stage_label(i, stage));
                            out.push(problem(Severity::Error, at, field, &message));
                        }
                    }
                }
            } else if depth(value) + 1 > MAX_INPUT_DEPTH {
                out.push(problem(Severity::Error, None, key, &message));
            }
        }
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

/// refIds are strings in Spinnaker's JSON, but numbers appear in hand-written pipelines.
fn ref_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(super) fn ref_id_of(stage: &Map<String, Value>) -> Option<String> {
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
    // Built by inserts, not collected: collecting sorts first (kilobytes of wasm per sort).
    let mut remaining: BTreeMap<&str, usize> = BTreeMap::new();
    for (k, v) in edges {
        remaining.insert(k.as_str(), v.len());
    }
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
    let mut blocked: BTreeSet<&str> = BTreeSet::new();
    for k in remaining.keys() {
        blocked.insert(k);
    }
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
