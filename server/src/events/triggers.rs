//! Matching events to pipeline triggers, and the trigger JSON a started pipeline receives.
//! Pure functions over the pipeline documents; the engine and the webhook route act on them.

use domain::execution::{Execution, Status};
use domain::pipeline::PipelineDocument;
use serde_json::{Map, Value, json};

/// The enabled triggers of type `kind` of an enabled pipeline, with their index in `triggers`
/// (run ids derive from it).
pub fn enabled_triggers<'a>(
    doc: &'a PipelineDocument,
    kind: &'a str,
) -> impl Iterator<Item = (usize, &'a Map<String, Value>)> + 'a {
    let pipeline_enabled = doc.0.get("disabled").and_then(Value::as_bool) != Some(true);
    triggers_of_type(&doc.0, kind)
        .filter(move |_| pipeline_enabled)
        .filter(|(_, t)| t.get("enabled").and_then(Value::as_bool).unwrap_or(true))
}

/// Every trigger of type `kind` in a pipeline document, with its index.
pub fn triggers_of_type<'a>(
    document: &'a Map<String, Value>,
    kind: &'a str,
) -> impl Iterator<Item = (usize, &'a Map<String, Value>)> + 'a {
    document
        .get("triggers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, t)| Some((i, t.as_object()?)))
        .filter(move |(_, t)| t.get("type").and_then(Value::as_str) == Some(kind))
}

/// A trigger field as trimmed, non-empty text.
pub fn text<'a>(t: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    t.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Spinnaker's names for how a parent pipeline ended, as pipeline triggers list them.
fn status_word(status: Status) -> Option<&'static str> {
    match status {
        Status::Succeeded => Some("successful"),
        Status::Terminal | Status::Stopped => Some("failed"),
        Status::Canceled => Some("canceled"),
        _ => None,
    }
}

/// The trigger for `doc` if one of its pipeline triggers fires on `parent` finishing.
pub fn pipeline_trigger_for(doc: &PipelineDocument, parent: &Execution) -> Option<Value> {
    let parent_pipeline = parent.pipeline_config_id.as_deref()?;
    let word = status_word(parent.status)?;
    enabled_triggers(doc, "pipeline")
        .map(|(_, t)| t)
        .find(|t| {
            t.get("pipeline").and_then(Value::as_str) == Some(parent_pipeline)
                && t.get("application")
                    .and_then(Value::as_str)
                    .is_none_or(|a| a == parent.application)
                && t.get("status")
                    .and_then(Value::as_array)
                    .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(word)))
        })
        .map(|_| {
            json!({
                "type": "pipeline",
                "user": parent.trigger.get("user").cloned().unwrap_or_else(|| json!("[anonymous]")),
                "parentPipelineId": parent_pipeline,
                "parentPipelineName": parent.name,
                "parentPipelineApplication": parent.application,
                "parentStatus": parent.status.as_str(),
                "parentExecution": {
                    "id": parent.id,
                    "name": parent.name,
                    "application": parent.application,
                    "status": parent.status.as_str(),
                    "trigger": parent.trigger,
                },
                "parameters": {},
            })
        })
}

/// A value at a dotted path of a JSON payload (`repository.name`).
fn at_path<'a>(payload: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(payload, |v, key| v.get(key))
}

/// Every constraint matches: the payload's value at the key, as text, matches the constraint's
/// regular expression as a whole (as Spinnaker's `payloadConstraints`).
fn constraints_hold(trigger: &Map<String, Value>, payload: &Value) -> bool {
    let Some(constraints) = trigger.get("payloadConstraints").and_then(Value::as_object) else {
        return true;
    };
    constraints.iter().all(|(key, wanted)| {
        let Some(pattern) = wanted.as_str() else {
            return false;
        };
        let Some(found) = at_path(payload, key) else {
            return false;
        };
        let text = found
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| found.to_string());
        regex::Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|re| re.is_match(&text))
    })
}

/// The trigger for `doc` if one of its webhook triggers listens to `source` and the payload
/// meets its constraints. The payload's `parameters` object becomes the run's parameters.
pub fn webhook_trigger_for(doc: &PipelineDocument, source: &str, payload: &Value) -> Option<Value> {
    enabled_triggers(doc, "webhook")
        .map(|(_, t)| t)
        .find(|t| t.get("source").and_then(Value::as_str) == Some(source) && constraints_hold(t, payload))
        .map(|_| {
            json!({
                "type": "webhook",
                "source": source,
                "user": "[anonymous]",
                "payload": payload,
                "parameters": payload.get("parameters").filter(|p| p.is_object()).cloned().unwrap_or_else(|| json!({})),
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(triggers: Value) -> PipelineDocument {
        PipelineDocument::from_value(
            json!({"application": "shop", "name": "Prod", "triggers": triggers, "stages": []}),
        )
        .unwrap()
    }

    fn parent(status: Status) -> Execution {
        Execution {
            id: "e1".into(),
            application: "shop".into(),
            pipeline_config_id: Some("test-pipeline".into()),
            name: "Test".into(),
            status,
            build_time: 0,
            start_time: None,
            end_time: None,
            trigger: json!({"type": "manual", "user": "alice"}),
            stages: vec![],
            canceled: false,
            canceled_by: None,
            cancellation_reason: None,
            limit_concurrent: false,
            keep_waiting_pipelines: false,
            notifications: vec![],
            notification_deliveries: vec![],
        }
    }

    #[test]
    fn pipeline_triggers_fire_on_the_listed_statuses() {
        let d = doc(
            json!([{"type": "pipeline", "application": "shop", "pipeline": "test-pipeline", "status": ["successful"]}]),
        );
        let t = pipeline_trigger_for(&d, &parent(Status::Succeeded)).unwrap();
        assert_eq!(
            (
                t["type"].clone(),
                t["user"].clone(),
                t["parentExecution"]["id"].clone()
            ),
            (json!("pipeline"), json!("alice"), json!("e1"))
        );
        assert!(pipeline_trigger_for(&d, &parent(Status::Terminal)).is_none());
        assert!(pipeline_trigger_for(&d, &parent(Status::Running)).is_none());
        let off = doc(
            json!([{"type": "pipeline", "pipeline": "test-pipeline", "status": ["failed"], "enabled": false}]),
        );
        assert!(pipeline_trigger_for(&off, &parent(Status::Terminal)).is_none());
        let other =
            doc(json!([{"type": "pipeline", "pipeline": "other", "status": ["successful"]}]));
        assert!(pipeline_trigger_for(&other, &parent(Status::Succeeded)).is_none());
    }

    #[test]
    fn webhook_triggers_match_source_and_constraints() {
        let d = doc(
            json!([{"type": "webhook", "source": "ci", "payloadConstraints": {"branch": "main|release-.*", "repo.name": "shop"}}]),
        );
        let payload =
            json!({"branch": "release-2", "repo": {"name": "shop"}, "parameters": {"tag": "1.2"}});
        let t = webhook_trigger_for(&d, "ci", &payload).unwrap();
        assert_eq!(t["parameters"], json!({"tag": "1.2"}));
        assert!(webhook_trigger_for(&d, "other", &payload).is_none());
        assert!(
            webhook_trigger_for(
                &d,
                "ci",
                &json!({"branch": "feature", "repo": {"name": "shop"}})
            )
            .is_none()
        );
        assert!(
            webhook_trigger_for(&d, "ci", &json!({"branch": "main"})).is_none(),
            "a missing key fails its constraint"
        );
        assert!(
            webhook_trigger_for(
                &d,
                "ci",
                &json!({"branch": "mainline", "repo": {"name": "shop"}})
            )
            .is_none(),
            "whole match"
        );
        let mut disabled = doc(json!([{"type": "webhook", "source": "ci"}]));
        disabled.0.insert("disabled".into(), json!(true));
        assert!(webhook_trigger_for(&disabled, "ci", &json!({})).is_none());
    }
}
