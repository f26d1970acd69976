//! Outbound notifications (Spinnaker's Echo, outbound). A pipeline's `notifications` and a
//! stage's (with `sendNotifications: true`) each name a `type` (`webhook`: a JSON POST;
//! `slack`: a Slack-compatible incoming-webhook message), an `address` (the URL) and `when`:
//! `pipeline.starting|complete|failed`, `stage.starting|complete|failed`, and on manual judgment
//! stages `manualJudgment` (waiting), `manualJudgmentContinue`, `manualJudgmentStop`.
//!
//! The engine compares an execution before and after each step ([`events`]); each event with a
//! listener becomes a `Notify` message committed with the step, so a notification is sent only
//! for a change that was stored, and is not lost in a crash. Sending is retried with backoff
//! and never changes how the pipeline runs; every attempt is recorded on the execution
//! (`notificationDeliveries`), with the address shown without its path (webhook URLs are often
//! secrets).

use std::time::Duration;

use domain::execution::{
    DeliveryState, Execution, JudgmentDecision, NotificationDelivery, Stage, StageId, StageType,
    Status,
};
use domain::notifications::NotificationEvent;
use serde_json::{Map, Value, json};

use super::messages::Message;
use super::ports::NotificationSender;
use crate::outbound::{OutboundClient, OutboundError};

/// How long one delivery attempt may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Attempts per notification, and the delay before the second (doubling after).
pub const MAX_ATTEMPTS: u32 = 6;
pub const FIRST_RETRY: Duration = Duration::from_secs(2);

/// What an execution looked like before a step: its status and each stage's.
pub struct Before {
    status: Status,
    stages: Vec<(StageId, Status)>,
}

impl Before {
    pub fn of(e: &Execution) -> Self {
        Self {
            status: e.status,
            stages: e.stages.iter().map(|s| (s.id.clone(), s.status)).collect(),
        }
    }
}

fn failed(s: Status) -> bool {
    matches!(
        s,
        Status::Terminal | Status::Stopped | Status::Canceled | Status::FailedContinue
    )
}

/// Who listens for `event`: the indexes of the matching entries in `list`.
fn listeners(list: &[Value], event: NotificationEvent) -> Vec<usize> {
    list.iter()
        .enumerate()
        .filter(|(_, n)| {
            let when = n.get("when").and_then(Value::as_array);
            when.is_some_and(|w| w.iter().any(|e| e.as_str() == Some(event.as_str())))
                && n.get("address")
                    .and_then(Value::as_str)
                    .is_some_and(|a| !a.trim().is_empty())
                && matches!(
                    n.get("type").and_then(Value::as_str),
                    Some("webhook") | Some("slack")
                )
        })
        .map(|(i, _)| i)
        .collect()
}

/// A stage's own notifications (only with `sendNotifications: true`).
pub fn stage_notifications(stage: &Stage) -> Vec<Value> {
    if !stage.flag("sendNotifications", false) {
        return Vec::new();
    }
    stage
        .context
        .get("notifications")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The `Notify` messages for what changed between `before` and `after`.
pub fn events(before: &Before, after: &Execution) -> Vec<Message> {
    let mut out = Vec::new();
    let mut notify = |event: NotificationEvent, stage: Option<&Stage>| {
        let pipeline_level = listeners(&after.notifications, event)
            .into_iter()
            .map(|i| (None, i));
        let stage_level: Vec<(Option<StageId>, usize)> = match stage {
            Some(s) => listeners(&stage_notifications(s), event)
                .into_iter()
                .map(|i| (Some(s.id.clone()), i))
                .collect(),
            None => Vec::new(),
        };
        for (own, target) in pipeline_level.chain(stage_level) {
            out.push(Message::Notify {
                execution: after.id.clone(),
                event,
                stage: stage.map(|s| s.id.clone()),
                own_stage: own.is_some(),
                target,
                attempt: 1,
            });
        }
    };
    if before.status != after.status {
        match after.status {
            Status::Running if before.status == Status::NotStarted => {
                notify(NotificationEvent::PipelineStarting, None)
            }
            Status::Succeeded => notify(NotificationEvent::PipelineComplete, None),
            s if failed(s) => notify(NotificationEvent::PipelineFailed, None),
            _ => {}
        }
    }
    for stage in &after.stages {
        let was = before
            .stages
            .iter()
            .find(|(id, _)| *id == stage.id)
            .map(|(_, s)| *s)
            .unwrap_or(Status::NotStarted);
        if was == stage.status {
            continue;
        }
        let judgment = stage.stage_type == StageType::ManualJudgment;
        match stage.status {
            Status::Running if was == Status::NotStarted => {
                notify(NotificationEvent::StageStarting, Some(stage));
                if judgment {
                    notify(NotificationEvent::ManualJudgment, Some(stage));
                }
            }
            Status::Succeeded => {
                notify(NotificationEvent::StageComplete, Some(stage));
                if judgment {
                    notify(NotificationEvent::ManualJudgmentContinue, Some(stage));
                }
            }
            s if failed(s) => {
                notify(NotificationEvent::StageFailed, Some(stage));
                if judgment && stage.judgment_decision() == Some(JudgmentDecision::Stop) {
                    notify(NotificationEvent::ManualJudgmentStop, Some(stage));
                }
            }
            _ => {}
        }
    }
    out
}

/// The address as it may be shown: scheme and host, not the path (which often is the secret).
pub fn shown_address(address: &str) -> String {
    if address.contains("://") {
        domain::redact::address(address)
    } else {
        "(not a URL)".into()
    }
}

/// The body to send: the webhook's JSON, or a Slack-compatible message.
pub fn payload(
    kind: &str,
    event: NotificationEvent,
    execution: &Execution,
    stage: Option<&Stage>,
    link: &str,
    custom: Option<&str>,
) -> Value {
    let subject = match stage {
        Some(s) => format!(
            "stage '{}' of pipeline '{}' ({})",
            s.name, execution.name, execution.application
        ),
        None => format!("pipeline '{}' ({})", execution.name, execution.application),
    };
    let text = custom
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{subject} {}", event.words()));
    if kind == "slack" {
        let status = stage.map_or(execution.status, |s| s.status);
        return json!({"text": format!("{text} — <{link}|execution {}> ({})", execution.id, status.as_str())});
    }
    let mut body = Map::new();
    body.insert("event".into(), json!(event));
    body.insert("application".into(), json!(execution.application));
    body.insert("pipeline".into(), json!(execution.name));
    body.insert("executionId".into(), json!(execution.id));
    body.insert("status".into(), json!(execution.status.as_str()));
    body.insert("link".into(), json!(link));
    body.insert("message".into(), json!(text));
    body.insert(
        "user".into(),
        execution
            .trigger
            .get("user")
            .cloned()
            .unwrap_or(Value::Null),
    );
    if let Some(s) = stage {
        body.insert("stage".into(), json!({"name": s.name, "type": s.stage_type, "status": s.status.as_str(), "refId": s.ref_id}));
        if let Some(i) = s.context.get("instructions") {
            body.insert("instructions".into(), i.clone());
        }
    }
    Value::Object(body)
}

/// Sends notifications over HTTP (the real [`NotificationSender`]), through the outbound
/// policy: an address it refuses fails the delivery like any other error.
#[derive(Clone)]
pub struct HttpNotifier {
    outbound: OutboundClient,
}

impl HttpNotifier {
    pub fn new(outbound: OutboundClient) -> Self {
        Self { outbound }
    }
}

impl Default for HttpNotifier {
    fn default() -> Self {
        Self::new(OutboundClient::with_defaults())
    }
}

#[async_trait::async_trait]
impl NotificationSender for HttpNotifier {
    /// POSTs `body`; the status code when it answered 2xx, else what went wrong.
    async fn send(&self, address: &str, body: &Value) -> Result<u16, (Option<u16>, String)> {
        let request = self
            .outbound
            .request(reqwest::Method::POST, address)
            .map_err(|e| (None, e.to_string()))?
            .timeout(SEND_TIMEOUT)
            .json(body);
        match self.outbound.send(request).await {
            Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
            Ok(r) => Err((
                Some(r.status().as_u16()),
                format!("answered {}", r.status()),
            )),
            Err(OutboundError::CannotConnect(_)) => Err((None, "cannot connect".into())),
            Err(OutboundError::Failed(_)) => Err((None, "request failed".into())),
            Err(e) => Err((None, e.to_string())),
        }
    }
}

/// Records an attempt on the execution (one entry per event, stage and target).
pub fn record(execution: &mut Execution, entry: NotificationDelivery) {
    let same = |d: &NotificationDelivery| {
        d.event == entry.event
            && d.stage_id == entry.stage_id
            && d.target == entry.target
            && d.own_stage == entry.own_stage
    };
    match execution
        .notification_deliveries
        .iter_mut()
        .find(|d| same(d))
    {
        Some(existing) => *existing = entry,
        None => execution.notification_deliveries.push(entry),
    }
}

/// The state after attempt `attempt` failed.
pub fn after_failure(attempt: u32) -> (DeliveryState, Option<Duration>) {
    if attempt >= MAX_ATTEMPTS {
        (DeliveryState::Failed, None)
    } else {
        (
            DeliveryState::Retrying,
            Some(FIRST_RETRY * 2u32.pow(attempt - 1)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn execution(notifications: Value, stages: Value) -> Execution {
        serde_json::from_value(json!({
            "id": "e1", "application": "shop", "pipelineConfigId": "p", "name": "Deploy", "status": "NOT_STARTED", "buildTime": 0,
            "startTime": null, "endTime": null, "trigger": {"user": "ann"}, "stages": stages, "canceled": false,
            "canceledBy": null, "cancellationReason": null, "notifications": notifications
        }))
        .unwrap()
    }

    fn stage(id: &str, kind: &str, extra: Value) -> Value {
        let mut context = json!({"sendNotifications": true});
        context
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().cloned().unwrap_or_default());
        json!({"id": id, "refId": id, "type": kind, "name": format!("S{id}"), "status": "NOT_STARTED", "requisiteStageRefIds": [],
               "context": context, "outputs": {}, "startTime": null, "endTime": null, "tasks": []})
    }

    fn names(messages: &[Message]) -> Vec<String> {
        messages
            .iter()
            .map(|m| match m {
                Message::Notify {
                    event,
                    own_stage,
                    target,
                    ..
                } => format!(
                    "{event}/{}{target}",
                    if *own_stage { "stage" } else { "pipeline" }
                ),
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn changes_become_events_for_their_listeners() {
        let hook = json!({"type": "webhook", "address": "http://hooks/x", "when": ["pipeline.starting", "pipeline.failed", "manualJudgment"]});
        let judge_hook = json!([{"type": "slack", "address": "https://chat/hook", "when": ["manualJudgment", "manualJudgmentStop"]}]);
        let mut e = execution(
            json!([hook, {"type": "email", "address": "x@y", "when": ["pipeline.starting"]}]),
            json!([stage(
                "1",
                "manualJudgment",
                json!({"notifications": judge_hook})
            )]),
        );
        let before = Before::of(&e);
        e.status = Status::Running;
        assert_eq!(
            names(&events(&before, &e)),
            ["pipeline.starting/pipeline0"],
            "email is not a type Topsail sends"
        );
        let before = Before::of(&e);
        e.stages[0].status = Status::Running;
        assert_eq!(
            names(&events(&before, &e)),
            ["manualJudgment/pipeline0", "manualJudgment/stage0"]
        );
        let before = Before::of(&e);
        e.stages[0].status = Status::Terminal;
        e.stages[0]
            .context
            .insert("judgmentStatus".into(), json!("stop"));
        e.status = Status::Terminal;
        assert_eq!(
            names(&events(&before, &e)),
            ["pipeline.failed/pipeline0", "manualJudgmentStop/stage0"]
        );
        assert!(events(&Before::of(&e), &e).is_empty(), "nothing changed");
        // Without sendNotifications a stage's own list is ignored.
        e.stages[0]
            .context
            .insert("sendNotifications".into(), json!(false));
        assert!(stage_notifications(&e.stages[0]).is_empty());
    }

    #[test]
    fn payloads_and_shown_addresses() {
        let e = execution(
            json!([]),
            json!([stage(
                "1",
                "manualJudgment",
                json!({"instructions": "Check the dashboard"})
            )]),
        );
        let body = payload(
            "webhook",
            NotificationEvent::ManualJudgment,
            &e,
            Some(&e.stages[0]),
            "http://topsail/applications/shop/executions/e1",
            None,
        );
        assert_eq!(
            body["message"],
            "stage 'S1' of pipeline 'Deploy' (shop) is waiting for a judgment"
        );
        assert_eq!(
            (body["instructions"].clone(), body["user"].clone()),
            (json!("Check the dashboard"), json!("ann"))
        );
        let slack = payload(
            "slack",
            NotificationEvent::PipelineComplete,
            &e,
            None,
            "http://t/x",
            Some("Shipped"),
        );
        assert_eq!(
            slack,
            json!({"text": "Shipped — <http://t/x|execution e1> (NOT_STARTED)"})
        );
        assert_eq!(
            shown_address("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            shown_address("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            after_failure(1),
            (DeliveryState::Retrying, Some(Duration::from_secs(2)))
        );
        assert_eq!(after_failure(3).1, Some(Duration::from_secs(8)));
        assert_eq!(after_failure(MAX_ATTEMPTS).0, DeliveryState::Failed);
    }
}
