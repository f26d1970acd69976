//! `Notify`: one notification about one event. What to send is decided from the execution; the
//! worker sends it (through the `NotificationSender` port); its outcome is recorded on the
//! execution and a failure schedules the next attempt. It never changes how the run goes.

use domain::execution::{DeliveryState, Execution, NotificationDelivery, StageId};
use domain::notifications::NotificationEvent;
use serde_json::Value;

use super::Transition;
use crate::orchestration::messages::Message;
use crate::orchestration::notifications;

/// One notification to send.
#[derive(Clone, Debug, PartialEq)]
pub struct NotificationRequest {
    pub kind: String,
    pub address: String,
    pub body: Value,
    pub event: NotificationEvent,
    pub stage_id: Option<StageId>,
    pub stage_name: Option<String>,
    pub own_stage: bool,
    pub target: usize,
    pub attempt: u32,
}

/// What `message` (a `Notify`) asks to send; `None` when the notification no longer exists.
/// `link` is the execution's page.
pub fn notification_request(
    execution: &Execution,
    message: &Message,
    link: &str,
) -> Option<NotificationRequest> {
    let Message::Notify {
        event,
        stage: stage_id,
        own_stage,
        target,
        attempt,
        ..
    } = message
    else {
        return None;
    };
    let stage = stage_id.as_deref().and_then(|id| execution.stage(id));
    let list = if *own_stage {
        stage
            .map(notifications::stage_notifications)
            .unwrap_or_default()
    } else {
        execution.notifications.clone()
    };
    let config = list.get(*target)?;
    let kind = config
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("webhook")
        .to_owned();
    let address = config
        .get("address")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_owned();
    let custom = config
        .get("message")
        .and_then(|m| m.get(event.as_str()))
        .and_then(|m| m.get("text"))
        .and_then(Value::as_str);
    let body = notifications::payload(&kind, *event, execution, stage, link, custom);
    Some(NotificationRequest {
        kind,
        address,
        body,
        event: *event,
        stage_id: stage_id.clone(),
        stage_name: stage.map(|s| s.name.clone()),
        own_stage: *own_stage,
        target: *target,
        attempt: *attempt,
    })
}

/// Records how sending went (`Ok(status code)` or the code and reason it failed); a failure
/// schedules the next attempt, or gives up after the last.
pub fn record_notification(
    execution: &mut Execution,
    request: NotificationRequest,
    outcome: Result<u16, (Option<u16>, String)>,
    now: i64,
) -> Transition {
    let (state, retry, status_code, error) = match outcome {
        Ok(code) => (DeliveryState::Delivered, None, Some(code), None),
        Err((code, reason)) => {
            let (state, retry) = notifications::after_failure(request.attempt);
            tracing::warn!(execution = %execution.id, event = %request.event, attempt = request.attempt, address = %notifications::shown_address(&request.address), %reason, "a notification was not delivered");
            (state, retry, code, Some(reason))
        }
    };
    notifications::record(
        execution,
        NotificationDelivery {
            event: request.event.to_string(),
            stage_id: request.stage_id.as_ref().map(|s| s.to_string()),
            stage: request.stage_name,
            own_stage: request.own_stage,
            target: request.target,
            kind: request.kind,
            address: notifications::shown_address(&request.address),
            attempts: request.attempt,
            state,
            status_code,
            error,
            at: now,
        },
    );
    let t = Transition::changed();
    match retry {
        Some(delay) => t.then_after(
            Message::Notify {
                execution: execution.id.clone(),
                event: request.event,
                stage: request.stage_id,
                own_stage: request.own_stage,
                target: request.target,
                attempt: request.attempt + 1,
            },
            delay,
        ),
        None => t,
    }
}
