//! The pipeline editor's model: which fields each stage type's form shows and how a form's text
//! becomes JSON (and back), the graph edits (add, remove, connect), triggers, parameters and
//! notifications, and the seed-flow template. It edits the pipeline JSON itself, so fields the
//! forms do not show are kept as they are. Pure functions; the UI is `ui/pipeline_editor.rs`.

use serde_json::{Map, Value, json};

use super::pipeline::PipelineProblem;

pub use domain::stage_types::{Field, FieldKind};
use domain::stage_types::{StageType, f};

use FieldKind::*;

/// The form of each stage type Topsail runs (from the stage catalog).
pub fn stage_fields(stage_type: &str) -> Vec<Field> {
    StageType::parse(stage_type)
        .info()
        .map(|info| info.fields.to_vec())
        .unwrap_or_default()
}

/// The fields of each trigger type.
pub fn trigger_fields(trigger_type: &str) -> Vec<Field> {
    domain::triggers::TriggerKind::parse(trigger_type)
        .map(|k| k.fields().to_vec())
        .unwrap_or_default()
}

/// The fields of a parameter (`parameterConfig` entry).
pub const PARAMETER_FIELDS: [Field; 5] = [
    f("name", "Name", Text, ""),
    f("description", "Description", Text, ""),
    f("default", "Default", Text, ""),
    f("required", "Required", Flag, ""),
    f("options", "Options", Choices, "Optional, comma-separated"),
];

/// The events a pipeline's notifications can be sent on.
pub const NOTIFICATION_EVENTS: [domain::notifications::NotificationEvent; 3] =
    domain::notifications::NotificationEvent::PIPELINE;

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A field's value as the form shows it.
pub fn field_text(object: &Map<String, Value>, field: &Field) -> String {
    let Some(v) = object.get(field.key) else {
        return String::new();
    };
    match field.kind {
        Text | LongText | Number => plain(v),
        Flag => v.as_bool().unwrap_or(false).to_string(),
        List => v
            .as_array()
            .map(|a| a.iter().map(plain).collect::<Vec<_>>().join(", "))
            .unwrap_or_else(|| plain(v)),
        Choices => v
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|i| i.get("value").map(plain).unwrap_or_else(|| plain(i)))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
        KeyValues => v
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", plain(v)))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        Variables => v
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|i| {
                        format!(
                            "{}={}",
                            i.get("key").map(plain).unwrap_or_default(),
                            i.get("value").map(plain).unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        Json | Manifests => serde_json::to_string_pretty(v).unwrap_or_default(),
    }
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

fn key_value(line: &str, label: &str) -> Result<(String, String), String> {
    line.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("{label}: '{line}' is not NAME=value"))
}

/// Sets a field from the form's text; an empty text removes the field. The error says what is
/// wrong, naming the field, and leaves the object as it was.
pub fn set_field(object: &mut Map<String, Value>, field: &Field, text: &str) -> Result<(), String> {
    let trimmed = text.trim();
    if trimmed.is_empty() && field.kind != Flag {
        object.remove(field.key);
        return Ok(());
    }
    let value = match field.kind {
        Text | LongText => Value::String(if field.kind == Text {
            trimmed.to_owned()
        } else {
            text.to_owned()
        }),
        Number => match trimmed.parse::<u64>() {
            Ok(n) => json!(n),
            Err(_) if trimmed.contains("${") => Value::String(trimmed.to_owned()),
            Err(_) => {
                return Err(format!(
                    "{}: must be a whole number (or an expression)",
                    field.label
                ));
            }
        },
        Flag => Value::Bool(trimmed == "true"),
        List => Value::Array(
            trimmed
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| json!(s))
                .collect(),
        ),
        Choices => Value::Array(
            trimmed
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| json!({"value": s}))
                .collect(),
        ),
        KeyValues => {
            let mut map = Map::new();
            for line in lines(text) {
                let (k, v) = key_value(line, field.label)?;
                map.insert(k, Value::String(v));
            }
            Value::Object(map)
        }
        Variables => Value::Array(
            lines(text)
                .map(|l| key_value(l, field.label).map(|(k, v)| json!({"key": k, "value": v})))
                .collect::<Result<_, _>>()?,
        ),
        Json => serde_json::from_str(trimmed)
            .map_err(|e| format!("{}: not valid JSON: {e}", field.label))?,
        Manifests => match serde_json::from_str::<Value>(trimmed)
            .map_err(|e| format!("{}: not valid JSON: {e}", field.label))?
        {
            Value::Array(items) => Value::Array(items),
            one @ Value::Object(_) => Value::Array(vec![one]),
            _ => {
                return Err(format!(
                    "{}: must be a Kubernetes object or a list of them",
                    field.label
                ));
            }
        },
    };
    object.insert(field.key.to_owned(), value);
    Ok(())
}

/// Sets a field of a trigger, parameter or notification: as [`set_field`], and a parameter's
/// `options` also sets `hasOptions` (what makes a run check its value against them).
pub fn set_entry_field(
    entry: &mut Map<String, Value>,
    field: &Field,
    text: &str,
) -> Result<(), String> {
    set_field(entry, field, text)?;
    if field.key == "options" {
        let has = entry
            .get("options")
            .and_then(Value::as_array)
            .is_some_and(|o| !o.is_empty());
        entry.insert("hasOptions".into(), Value::Bool(has));
    }
    Ok(())
}

pub fn stages(doc: &Map<String, Value>) -> Vec<Map<String, Value>> {
    doc.get("stages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_object().cloned())
        .collect()
}

pub fn ref_of(stage: &Map<String, Value>) -> String {
    stage.get("refId").map(plain).unwrap_or_default()
}

pub fn requisites_of(stage: &Map<String, Value>) -> Vec<String> {
    stage
        .get("requisiteStageRefIds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(plain)
        .collect()
}

fn stages_mut(doc: &mut Map<String, Value>) -> &mut Vec<Value> {
    let entry = doc.entry("stages").or_insert_with(|| json!([]));
    if !entry.is_array() {
        *entry = json!([]);
    }
    entry.as_array_mut().expect("made an array above")
}

/// Adds a stage of `stage_type` after `upstream` (or at the start); returns its refId (the next
/// free number).
pub fn add_stage(doc: &mut Map<String, Value>, stage_type: &str, upstream: Option<&str>) -> String {
    let taken: Vec<String> = stages(doc).iter().map(ref_of).collect();
    let next = (1..)
        .map(|n: u32| n.to_string())
        .find(|r| !taken.contains(r))
        .expect("a free number");
    let info = StageType::parse(stage_type).info();
    let name = info.map(|i| i.label).unwrap_or(stage_type);
    let mut stage = json!({"refId": next, "type": stage_type, "name": name, "requisiteStageRefIds": upstream.map(|u| vec![u.to_owned()]).unwrap_or_default()});
    for (key, default) in info.map(|i| i.defaults).unwrap_or_default() {
        stage[*key] = serde_json::from_str(default).unwrap_or(Value::Null);
    }
    stages_mut(doc).push(stage);
    next
}

/// Removes a stage and every reference to it.
pub fn remove_stage(doc: &mut Map<String, Value>, ref_id: &str) {
    let list = stages_mut(doc);
    list.retain(|s| s.as_object().is_none_or(|s| ref_of(s) != ref_id));
    for s in list.iter_mut().filter_map(Value::as_object_mut) {
        if let Some(Value::Array(reqs)) = s.get_mut("requisiteStageRefIds") {
            reqs.retain(|r| plain(r) != ref_id);
        }
    }
}

/// Replaces a stage's object (matched by refId).
pub fn replace_stage(doc: &mut Map<String, Value>, ref_id: &str, stage: Map<String, Value>) {
    if let Some(slot) = stages_mut(doc)
        .iter_mut()
        .find(|s| s.as_object().is_some_and(|s| ref_of(s) == ref_id))
    {
        *slot = Value::Object(stage);
    }
}

/// The problems that name this stage (validation labels stages `stage <refId> (<name>)`).
pub fn problems_of<'a>(problems: &'a [PipelineProblem], ref_id: &str) -> Vec<&'a PipelineProblem> {
    let exact = format!("stage {ref_id}");
    let prefix = format!("stage {ref_id} (");
    problems
        .iter()
        .filter(|p| {
            p.stage
                .as_deref()
                .is_some_and(|s| s == exact || s.starts_with(&prefix))
        })
        .collect()
}

/// A list field of the document (`triggers`, `parameterConfig`, `notifications`) as objects.
pub fn entries(doc: &Map<String, Value>, key: &str) -> Vec<Map<String, Value>> {
    doc.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_object().cloned())
        .collect()
}

pub fn set_entries(doc: &mut Map<String, Value>, key: &str, list: Vec<Map<String, Value>>) {
    doc.insert(
        key.to_owned(),
        Value::Array(list.into_iter().map(Value::Object).collect()),
    );
}

/// The seed flow: a Jenkins build → deploy to the test namespace → manual judgment → deploy the
/// same image to prod. The build's property file must define `IMAGE_REF` (the image by digest);
/// both deploys use it, so prod gets exactly what was tested.
pub fn seed_template(application: &str, name: &str) -> Value {
    let image = "${#stage('Build')['context']['IMAGE_REF']}";
    let manifest = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": application},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": application}},
            "template": {"metadata": {"labels": {"app": application}}, "spec": {"containers": [{"name": "main", "image": image}]}}}});
    let deploy = |ref_id: &str, after: &str, name: &str, namespace: String| {
        json!({"refId": ref_id, "requisiteStageRefIds": [after], "type": "deployManifest",
        "name": name, "account": "", "namespaceOverride": namespace, "manifests": [manifest]})
    };
    json!({
        "application": application,
        "name": name,
        "parameterConfig": [{"name": "branch", "default": "main", "description": "Branch to build"}],
        "triggers": [],
        "stages": [
            {"refId": "1", "type": "jenkins", "name": "Build", "master": "", "job": "", "propertyFile": "build.properties",
             "parameters": {"BRANCH": "${trigger.parameters.branch}"}, "requisiteStageRefIds": []},
            deploy("2", "1", "Deploy to test", format!("{application}-test")),
            {"refId": "3", "requisiteStageRefIds": ["2"], "type": "manualJudgment", "name": "Promote to prod?",
             "instructions": "Check the test environment", "judgmentInputs": [{"value": "promote"}]},
            deploy("4", "3", "Deploy to prod", format!("{application}-prod"))
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::pipeline::PipelineDocument;

    fn field(stage_type: &str, key: &str) -> Field {
        stage_fields(stage_type)
            .into_iter()
            .find(|f| f.key == key)
            .unwrap()
    }

    #[test]
    fn form_text_round_trips_into_json() {
        let mut s = Map::new();
        let cases = [
            (field("wait", "waitTime"), "45", json!(45)),
            (
                field("wait", "waitTime"),
                "${trigger.parameters.wait}",
                json!("${trigger.parameters.wait}"),
            ),
            (
                field("jenkins", "parameters"),
                "BRANCH = main\nIMAGE=shop/web",
                json!({"BRANCH": "main", "IMAGE": "shop/web"}),
            ),
            (
                field("evaluateVariables", "variables"),
                "tag=${trigger.tag}",
                json!([{"key": "tag", "value": "${trigger.tag}"}]),
            ),
            (
                field("manualJudgment", "judgmentInputs"),
                "promote, hold",
                json!([{"value": "promote"}, {"value": "hold"}]),
            ),
            (
                field("deployManifest", "requiredArtifactIds"),
                "image, config",
                json!(["image", "config"]),
            ),
            (
                field("deployManifest", "manifests"),
                r#"{"kind": "Service"}"#,
                json!([{"kind": "Service"}]),
            ),
            (
                field("jenkins", "markUnstableAsSuccessful"),
                "true",
                json!(true),
            ),
        ];
        for (f, text, expected) in cases {
            set_field(&mut s, &f, text).unwrap();
            assert_eq!(s[f.key], expected, "{}", f.key);
            let shown = field_text(&s, &f);
            let mut again = Map::new();
            set_field(&mut again, &f, &shown).unwrap();
            assert_eq!(again[f.key], expected, "round trip of {}", f.key);
        }
        assert_eq!(
            set_field(&mut s, &field("wait", "waitTime"), "soon").unwrap_err(),
            "Wait (seconds): must be a whole number (or an expression)"
        );
        assert!(
            set_field(&mut s, &field("jenkins", "parameters"), "no equals")
                .unwrap_err()
                .starts_with("Parameters: 'no equals' is not NAME=value")
        );
        assert!(
            set_field(&mut s, &field("deployManifest", "manifests"), "[")
                .unwrap_err()
                .starts_with("Manifests: not valid JSON")
        );
        assert_eq!(
            s["waitTime"],
            json!("${trigger.parameters.wait}"),
            "a refused value leaves the field alone"
        );
        set_field(&mut s, &field("wait", "waitTime"), " ").unwrap();
        assert!(!s.contains_key("waitTime"), "empty removes");
        for t in [
            "wait",
            "manualJudgment",
            "deployManifest",
            "deleteManifest",
            "scaleManifest",
            "patchManifest",
            "undoRolloutManifest",
            "findArtifactsFromResource",
            "checkPreconditions",
            "evaluateVariables",
            "webhook",
            "pipeline",
            "jenkins",
        ] {
            assert!(
                !stage_fields(t).is_empty(),
                "every stage type Topsail runs has a form: {t}"
            );
        }
    }

    #[test]
    fn parameter_options_turn_on_the_check() {
        let options = PARAMETER_FIELDS
            .iter()
            .find(|f| f.key == "options")
            .unwrap();
        let mut p = Map::new();
        set_entry_field(&mut p, options, "blue, green").unwrap();
        assert_eq!(
            (p["options"].clone(), p["hasOptions"].clone()),
            (json!([{"value": "blue"}, {"value": "green"}]), json!(true))
        );
        let doc = PipelineDocument::from(
            json!({"parameterConfig": [p.clone()]})
                .as_object()
                .unwrap()
                .clone(),
        );
        let mut p2 = p.clone();
        p2.insert("name".into(), json!("color"));
        let doc2 = PipelineDocument::from(
            json!({"parameterConfig": [p2]})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert!(
            doc2.resolve_parameters(json!({"color": "red"}).as_object().unwrap())
                .is_err()
        );
        assert!(doc.resolve_parameters(&Map::new()).is_ok());
        set_entry_field(&mut p, options, "").unwrap();
        assert_eq!(p["hasOptions"], json!(false));
    }

    #[test]
    fn stages_are_added_connected_and_removed_with_their_references() {
        let mut doc = json!({"application": "shop", "name": "P", "stages": [], "somethingNew": 1})
            .as_object()
            .unwrap()
            .clone();
        let a = add_stage(&mut doc, "wait", None);
        let b = add_stage(&mut doc, "manualJudgment", Some(&a));
        let c = add_stage(&mut doc, "wait", Some(&a));
        assert_eq!((a.as_str(), b.as_str(), c.as_str()), ("1", "2", "3"));
        let mut joined = stages(&doc)[1].clone();
        joined.insert("requisiteStageRefIds".into(), json!([a, c]));
        replace_stage(&mut doc, &b, joined);
        assert_eq!(requisites_of(&stages(&doc)[1]), ["1", "3"]);
        assert!(
            PipelineDocument::from(doc.clone()).validate().is_empty(),
            "{:?}",
            PipelineDocument::from(doc.clone()).validate()
        );
        remove_stage(&mut doc, &a);
        assert_eq!(
            stages(&doc).iter().map(ref_of).collect::<Vec<_>>(),
            ["2", "3"]
        );
        assert_eq!(
            requisites_of(&stages(&doc)[0]),
            ["3"],
            "references to the removed stage go too"
        );
        assert_eq!(
            add_stage(&mut doc, "wait", None),
            "1",
            "the first free number"
        );
        assert_eq!(
            doc["somethingNew"],
            json!(1),
            "fields the editor does not know are kept"
        );
    }

    #[test]
    fn the_seed_template_needs_only_its_targets_filled_in() {
        let doc = PipelineDocument::from_value(seed_template("shop", "Seed")).unwrap();
        let problems = doc.validate();
        let fields: Vec<String> = problems
            .iter()
            .map(|p| format!("{}:{}", p.stage.clone().unwrap_or_default(), p.field))
            .collect();
        assert_eq!(
            fields,
            [
                "stage 1 (Build):master",
                "stage 1 (Build):job",
                "stage 2 (Deploy to test):account",
                "stage 4 (Deploy to prod):account"
            ]
        );
        assert_eq!(problems_of(&problems, "2").len(), 1);
        assert_eq!(problems_of(&problems, "1").len(), 2);
        assert!(problems_of(&problems, "3").is_empty());
    }
}
