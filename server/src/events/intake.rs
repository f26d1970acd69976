//! The one way events start pipelines (Echo's trigger handling): every source — a webhook, a
//! registry push, a tag poll, a Jenkins build, a cron tick, a pipeline that ended — is a
//! [`TriggerEvent`]; [`receive`] finds the pipelines with enabled triggers of its kind, asks
//! the event which triggers fire, derives each run's id from the event (so the same event seen
//! twice — redelivered, seen by two replicas, by a webhook and a poll — starts one run) and
//! starts it.

use async_trait::async_trait;
use domain::pipeline::PipelineDocument;
use domain::triggers::TriggerKind;
use serde_json::{Map, Value};

use super::triggers::enabled_triggers;
use crate::orchestration::engine::EngineError;
use crate::orchestration::ports::{PipelineSource, RunStarter};

/// A run one event starts through one trigger.
#[derive(Clone, Debug, PartialEq)]
pub struct Firing {
    /// Tells this run from the others the same event starts through the same trigger (a cron
    /// tick covering several fire times); empty for most events.
    pub key: String,
    /// The run's trigger JSON.
    pub trigger: Map<String, Value>,
}

impl Firing {
    pub fn once(trigger: Map<String, Value>) -> Vec<Self> {
        vec![Self {
            key: String::new(),
            trigger,
        }]
    }
}

/// Something that happened which may start pipelines.
#[async_trait]
pub trait TriggerEvent: Send + Sync {
    /// Which triggers may fire on it.
    fn kind(&self) -> TriggerKind;

    /// What identifies this event: seen twice, it has the same key.
    fn key(&self) -> Vec<String>;

    /// The runs `trigger` (an enabled trigger of [`TriggerEvent::kind`] of `pipeline`) starts
    /// on this event; none when it does not fire.
    fn fire(&self, pipeline: &PipelineDocument, trigger: &Map<String, Value>) -> Vec<Firing>;

    /// The id of the run `firing` starts: derived from the pipeline, the trigger and the event.
    fn run_id(&self, pipeline_id: &str, trigger_index: usize, firing: &Firing) -> String {
        let index = trigger_index.to_string();
        let mut parts: Vec<&str> = vec![pipeline_id, &index];
        let key = self.key();
        parts.extend(key.iter().map(String::as_str));
        if !firing.key.is_empty() {
            parts.push(&firing.key);
        }
        crate::ids::derived_id(&parts)
    }

    /// Adds to a run's trigger what must be fetched first (a Jenkins property file). An error
    /// stops the event's handling so that it is looked at again.
    async fn complete(
        &self,
        _trigger: &Map<String, Value>,
        _run: &mut Map<String, Value>,
    ) -> Result<(), String> {
        Ok(())
    }
}

/// A run that was started, or refused.
#[derive(Debug, Default)]
pub struct Received {
    /// Ids of the runs started now (a run started before for the same event is not listed).
    pub started: Vec<String>,
    /// Pipelines whose trigger fired but which cannot start: (application, pipeline, reason).
    pub refused: Vec<(String, String, String)>,
}

/// Every firing of `event` in `pipeline`, with the trigger's index (pure; for tests and
/// previews).
pub fn firings(pipeline: &PipelineDocument, event: &dyn TriggerEvent) -> Vec<(usize, Firing)> {
    enabled_triggers(pipeline, event.kind().as_str())
        .flat_map(|(i, t)| event.fire(pipeline, t).into_iter().map(move |f| (i, f)))
        .collect()
}

/// Starts the runs `event` triggers. Storage failures stop it (the source retries: the run ids
/// make a retry start nothing twice); a pipeline that cannot start is logged and listed.
pub async fn receive(
    pipelines: &dyn PipelineSource,
    runs: &dyn RunStarter,
    event: &dyn TriggerEvent,
) -> Result<Received, EngineError> {
    let kind = event.kind();
    let mut received = Received::default();
    for doc in pipelines.with_trigger(kind).await? {
        for (index, mut firing) in firings(&doc, event) {
            let id = event.run_id(doc.id().unwrap_or_default(), index, &firing);
            let trigger = triggers_at(&doc, index);
            if let Err(reason) = event.complete(&trigger, &mut firing.trigger).await {
                return Err(EngineError::Conflict(reason));
            }
            match runs.start_run(&doc, firing.trigger, &id).await {
                Ok(true) => {
                    tracing::info!(%kind, pipeline = doc.name(), execution = %id, "an event started a pipeline");
                    received.started.push(id);
                }
                Ok(false) => {}
                Err(EngineError::Storage(e)) => return Err(EngineError::Storage(e)),
                Err(refusal) => {
                    let reason = refusal.to_string();
                    tracing::warn!(%kind, pipeline = doc.name(), %reason, "a triggered pipeline cannot start");
                    received.refused.push((
                        doc.application().to_owned(),
                        doc.name().to_owned(),
                        reason,
                    ));
                }
            }
        }
    }
    Ok(received)
}

fn triggers_at(doc: &PipelineDocument, index: usize) -> Map<String, Value> {
    doc.list("triggers")
        .get(index)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// The intake as a handle: where the HTTP layer hands webhooks and registry notifications.
#[derive(Clone)]
pub struct EventIntake {
    engine: std::sync::Arc<crate::orchestration::engine::Engine>,
}

impl EventIntake {
    pub fn new(engine: std::sync::Arc<crate::orchestration::engine::Engine>) -> Self {
        Self { engine }
    }

    /// Starts the runs `event` triggers (see [`receive`]).
    pub async fn receive(&self, event: &dyn TriggerEvent) -> Result<Received, EngineError> {
        receive(
            self.engine.pipelines().as_ref(),
            self.engine.as_ref(),
            event,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;
    use crate::events::triggers::WebhookReceived;

    struct Pipelines(Vec<PipelineDocument>);

    #[async_trait]
    impl PipelineSource for Pipelines {
        async fn pipeline(&self, _: &str) -> Result<Option<PipelineDocument>, EngineError> {
            Ok(None)
        }

        async fn with_trigger(&self, _: TriggerKind) -> Result<Vec<PipelineDocument>, EngineError> {
            Ok(self.0.clone())
        }
    }

    /// Starts each id once; refuses the pipeline named "Broken".
    #[derive(Default)]
    struct Runs(Mutex<Vec<String>>);

    #[async_trait]
    impl RunStarter for Runs {
        async fn start_run(
            &self,
            pipeline: &PipelineDocument,
            _: Map<String, Value>,
            id: &str,
        ) -> Result<bool, EngineError> {
            if pipeline.name() == "Broken" {
                return Err(EngineError::Conflict("cannot run".into()));
            }
            let mut started = self.0.lock().unwrap();
            if started.iter().any(|s| s == id) {
                return Ok(false);
            }
            started.push(id.to_owned());
            Ok(true)
        }
    }

    fn pipeline(id: &str, name: &str, source: &str) -> PipelineDocument {
        PipelineDocument::from_value(json!({"id": id, "application": "shop", "name": name,
            "triggers": [{"type": "webhook", "source": source}]}))
        .unwrap()
    }

    fn hook(delivery: &str) -> WebhookReceived {
        WebhookReceived {
            source: "ci".into(),
            payload: json!({}),
            delivery: delivery.into(),
        }
    }

    #[tokio::test]
    async fn an_event_starts_each_matching_pipeline_once_and_lists_refusals() {
        let pipelines = Pipelines(vec![
            pipeline("p1", "Deploy", "ci"),
            pipeline("p2", "Other", "elsewhere"),
            pipeline("p3", "Broken", "ci"),
        ]);
        let runs = Runs::default();
        let first = receive(&pipelines, &runs, &hook("d1")).await.unwrap();
        assert_eq!(
            first.started.len(),
            1,
            "only the matching pipeline that can run"
        );
        assert_eq!(
            first.refused,
            vec![("shop".into(), "Broken".into(), "cannot run".into())]
        );
        let again = receive(&pipelines, &runs, &hook("d1")).await.unwrap();
        assert!(
            again.started.is_empty(),
            "the same event starts nothing twice"
        );
        let next = receive(&pipelines, &runs, &hook("d2")).await.unwrap();
        assert_eq!(next.started.len(), 1);
        assert_ne!(next.started, first.started);
    }
}
