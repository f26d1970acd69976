//! Incoming webhooks (Spinnaker's Echo endpoint `POST /webhooks/webhook/{source}`): the JSON
//! payload starts every pipeline with an enabled webhook trigger for that source whose payload
//! constraints hold.

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::response::{IntoResponse, Response};
use domain::RequestContext;
use serde_json::{Value, json};

use super::AppState;
use super::error::HttpError;
use crate::events::triggers::WebhookReceived;

/// Headers senders use to name a delivery (a redelivery carries the same value).
const DELIVERY_HEADERS: [&str; 4] = [
    "idempotency-key",
    "x-github-delivery",
    "x-gitlab-event-uuid",
    "x-delivery-id",
];

pub async fn webhook(
    State(s): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Path(source): Path<String>,
    headers: axum::http::HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    let payload = body.map(|Json(v)| v).unwrap_or_else(|| json!({}));
    // Without a delivery id every POST is a new event.
    let delivery = DELIVERY_HEADERS
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(crate::ids::uuid_like);
    let event = WebhookReceived {
        source: source.clone(),
        payload,
        delivery,
    };
    let received = match s.intake.receive(&event).await {
        Ok(received) => received,
        Err(e) => return HttpError::from_engine(&rc, e).into_response(),
    };
    let refused: Vec<Value> = received
        .refused
        .iter()
        .map(|(application, pipeline, reason)| {
            json!({"application": application, "pipeline": pipeline, "reason": reason})
        })
        .collect();
    tracing::info!(request_id = %rc.request_id, source = %source, started = received.started.len(), "webhook received");
    Json(json!({"eventProcessed": true, "eventId": rc.request_id, "executionIds": received.started, "refused": refused})).into_response()
}

/// `POST /webhooks/registry/{account}`: a registry's push notification (Distribution's
/// envelope or Harbor's webhook), authenticated by the account's shared secret. Tagged pushes
/// start the pipelines whose docker triggers match; everything else is acknowledged and ignored.
pub async fn registry(
    State(s): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Path(account): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let client = match s.integrations.registries.get(&account) {
        Ok(client) => client,
        Err(e) => return HttpError::from(e).into_response(),
    };
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    if !client.accepts_webhook(authorization) {
        tracing::warn!(request_id = %rc.request_id, %account, "a registry notification without the account's secret was refused");
        return HttpError::Unauthorized(
            "the notification does not carry this account's webhook secret".into(),
        )
        .into_response();
    }
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return HttpError::BadRequest("the body is not JSON".into()).into_response();
    };
    let images: Vec<crate::registries::Image> = crate::events::images::pushed_images(&payload)
        .into_iter()
        .map(|(repository, tag, digest)| crate::registries::Image {
            account: account.clone(),
            registry: client.host.clone(),
            repository,
            tag,
            digest,
        })
        .collect();
    match crate::events::images::pushed(&s.intake, &images).await {
        Ok(started) => {
            tracing::info!(request_id = %rc.request_id, %account, pushes = images.len(), started = started.len(), "registry notification received");
            Json(json!({"eventProcessed": true, "pushes": images.len(), "executionIds": started}))
                .into_response()
        }
        // The registry retries failed deliveries; the run ids make a retry start nothing twice.
        Err(e) => HttpError::from_engine(&rc, e).into_response(),
    }
}
