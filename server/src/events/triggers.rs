//! Matching events to pipeline triggers, and the trigger JSON a started pipeline receives: the
//! trigger-source-independent helpers, and the two events with no source module of their own
//! (a pipeline that ended, a webhook). Pure functions over the pipeline documents.

use domain::execution::{Execution, Status};
use domain::pipeline::PipelineDocument;
use domain::triggers::TriggerKind;
use serde_json::{Map, Value, json};

use super::intake::{Firing, TriggerEvent};

/// The enabled triggers of type `kind` of an enabled pipeline, with their index in `triggers`
/// (run ids derive from it).
pub fn enabled_triggers<'a>(
    doc: &'a PipelineDocument,
    kind: &'a str,
) -> impl Iterator<Item = (usize, &'a Map<String, Value>)> + 'a {
    let pipeline_enabled = !doc.is_disabled();
    triggers_of_type(doc.as_map(), kind)
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

/// A run ended: the pipelines whose pipeline triggers wait for it to end as it did start.
pub struct PipelineEnded(pub Execution);

impl TriggerEvent for PipelineEnded {
    fn kind(&self) -> TriggerKind {
        TriggerKind::Pipeline
    }

    fn key(&self) -> Vec<String> {
        vec![self.0.id.to_string()]
    }

    fn fire(&self, _: &PipelineDocument, t: &Map<String, Value>) -> Vec<Firing> {
        let parent = &self.0;
        let (Some(parent_pipeline), Some(word)) = (
            parent.pipeline_config_id.as_deref(),
            status_word(parent.status),
        ) else {
            return Vec::new();
        };
        let fires = t.get("pipeline").and_then(Value::as_str) == Some(parent_pipeline)
            && t.get("application")
                .and_then(Value::as_str)
                .is_none_or(|a| a == parent.application)
            && t.get("status")
                .and_then(Value::as_array)
                .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(word)));
        if !fires {
            return Vec::new();
        }
        let trigger = json!({
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
            },
            "parameters": {},
        });
        Firing::once(object(trigger))
    }

    /// One run per pipeline and parent, whichever of its triggers fired (the id runs started
    /// before this release have, so an upgrade in the middle starts nothing twice).
    fn run_id(&self, pipeline_id: &str, _: usize, _: &Firing) -> String {
        crate::ids::derived_id(&[&self.0.id, pipeline_id])
    }
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
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

/// A webhook arrived at `/webhooks/webhook/{source}`. `delivery` is the sender's id for this
/// delivery (a redelivery carries the same), when it sends one; without it every POST is a new
/// event.
pub struct WebhookReceived {
    pub source: String,
    pub payload: Value,
    pub delivery: String,
}

impl TriggerEvent for WebhookReceived {
    fn kind(&self) -> TriggerKind {
        TriggerKind::Webhook
    }

    fn key(&self) -> Vec<String> {
        vec![self.source.clone(), self.delivery.clone()]
    }

    /// Fires when the trigger listens to the source and the payload meets its constraints. The
    /// payload's `parameters` object becomes the run's parameters.
    fn fire(&self, _: &PipelineDocument, t: &Map<String, Value>) -> Vec<Firing> {
        if t.get("source").and_then(Value::as_str) != Some(self.source.as_str())
            || !constraints_hold(t, &self.payload)
        {
            return Vec::new();
        }
        let parameters = self
            .payload
            .get("parameters")
            .filter(|p| p.is_object())
            .cloned()
            .unwrap_or_else(|| json!({}));
        Firing::once(object(json!({
            "type": "webhook",
            "source": self.source,
            "user": "[anonymous]",
            "payload": self.payload,
            "parameters": parameters,
        })))
    }

    /// One run per pipeline and delivery, whichever of its webhook triggers fired.
    fn run_id(&self, pipeline_id: &str, _: usize, _: &Firing) -> String {
        crate::ids::derived_id(&[pipeline_id, "webhook", &self.source, &self.delivery])
    }
}

/// The pipelines a pipeline trigger of `doc` waits for (enabled ones), by id.
fn parents_of(doc: &PipelineDocument) -> Vec<String> {
    doc.list("triggers")
        .iter()
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("pipeline"))
        .filter(|t| t.get("enabled").and_then(Value::as_bool) != Some(false))
        .filter_map(|t| t.get("pipeline").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// Whether saving `saving` (which has an id) would make pipelines trigger each other in a
/// circle — each completion starting the next without end. `others` are the stored pipelines
/// with pipeline triggers (the stored version of `saving` among them is ignored). The answer
/// names the circle, by pipeline name.
pub fn trigger_cycle(saving: &PipelineDocument, others: &[PipelineDocument]) -> Option<String> {
    let id = saving.get("id").and_then(Value::as_str)?;
    let mut all: Vec<&PipelineDocument> = others
        .iter()
        .filter(|d| d.get("id").and_then(Value::as_str) != Some(id))
        .collect();
    all.push(saving);
    let name_of = |pid: &str| {
        all.iter()
            .find(|d| d.get("id").and_then(Value::as_str) == Some(pid))
            .map_or(pid.to_owned(), |d| d.name().to_owned())
    };
    // Walk from `saving` to the pipelines it starts (those waiting for it), depth first.
    let mut stack: Vec<Vec<String>> = vec![vec![id.to_owned()]];
    let mut seen = std::collections::HashSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().cloned().unwrap_or_default();
        for child in all.iter().filter(|d| parents_of(d).contains(&last)) {
            let Some(cid) = child.get("id").and_then(Value::as_str) else {
                continue;
            };
            if cid == id {
                let mut names: Vec<String> = path.iter().map(|p| name_of(p)).collect();
                names.push(name_of(id));
                return Some(names.join(" → "));
            }
            if seen.insert(cid.to_owned()) {
                let mut next = path.clone();
                next.push(cid.to_owned());
                stack.push(next);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::intake::firings;

    #[test]
    fn pipeline_and_webhook_runs_have_the_ids_they_had_before_the_intake() {
        let d = doc(json!([]));
        let ended = PipelineEnded(parent(Status::Succeeded));
        let firing = Firing::once(Map::new()).remove(0);
        assert_eq!(
            ended.run_id("p2", 3, &firing),
            crate::ids::derived_id(&["e1", "p2"])
        );
        let hook = WebhookReceived {
            source: "ci".into(),
            payload: json!({}),
            delivery: "d1".into(),
        };
        assert_ne!(hook.run_id("p2", 0, &firing), hook.run_id("p3", 0, &firing));
        assert!(firings(&d, &hook).is_empty());
    }

    fn pipeline_trigger_for(doc: &PipelineDocument, parent: &Execution) -> Option<Value> {
        let event = PipelineEnded(parent.clone());
        let first = firings(doc, &event).into_iter().next();
        first.map(|(_, f)| Value::Object(f.trigger))
    }

    fn webhook_trigger_for(doc: &PipelineDocument, source: &str, payload: &Value) -> Option<Value> {
        let event = WebhookReceived {
            source: source.to_owned(),
            payload: payload.clone(),
            delivery: "d1".into(),
        };
        let first = firings(doc, &event).into_iter().next();
        first.map(|(_, f)| Value::Object(f.trigger))
    }

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
        disabled.set("disabled", json!(true));
        assert!(webhook_trigger_for(&disabled, "ci", &json!({})).is_none());
    }

    #[test]
    fn pipelines_that_trigger_each_other_in_a_circle_are_found() {
        let doc = |id: &str, name: &str, parents: &[&str]| {
            let triggers: Vec<serde_json::Value> = parents
                .iter()
                .map(|p| serde_json::json!({"type": "pipeline", "application": "shop", "pipeline": p, "enabled": true}))
                .collect();
            PipelineDocument::from_value(
                serde_json::json!({"id": id, "application": "shop", "name": name, "triggers": triggers, "stages": []}),
            )
            .unwrap()
        };
        let itself = doc("a", "A", &["a"]);
        assert_eq!(trigger_cycle(&itself, &[]), Some("A → A".into()));
        let b = doc("b", "B", &["a"]);
        let c = doc("c", "C", &["b"]);
        let a_after_c = doc("a", "A", &["c"]);
        assert_eq!(
            trigger_cycle(&a_after_c, &[b.clone(), c.clone()]),
            Some("A → B → C → A".into())
        );
        let a_alone = doc("a", "A", &[]);
        assert_eq!(trigger_cycle(&a_alone, &[b, c]), None);
        let new = PipelineDocument::from_value(
            serde_json::json!({"application": "shop", "name": "N", "stages": []}),
        )
        .unwrap();
        assert_eq!(
            trigger_cycle(&new, &[]),
            None,
            "nobody can name a pipeline without id"
        );
    }
}
