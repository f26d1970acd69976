//! Incoming webhooks (Spinnaker's Echo endpoint `POST /webhooks/webhook/{source}`): the JSON
//! payload starts every pipeline with an enabled webhook trigger for that source whose payload
//! constraints hold.

use domain::{ApplicationName, RequestContext};
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use crate::events::triggers::webhook_trigger_for;

pub async fn webhook(
    State(s): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Path(source): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    let payload = body.map(|Json(v)| v).unwrap_or_else(|| json!({}));
    let candidates = match s.store.pipelines_with_trigger("webhook").await {
        Ok(docs) => docs,
        Err(e) => {
            tracing::error!(request_id = %rc.request_id, error = %e, "reading pipelines for a webhook");
            let body = json!({"eventProcessed": false, "error": format!("internal error (request id {})", rc.request_id)});
            return (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response();
        }
    };
    let mut started = Vec::new();
    let mut refused = Vec::new();
    for doc in candidates {
        let Some(trigger) = webhook_trigger_for(&doc, &source, &payload) else {
            continue;
        };
        let Ok(app) = ApplicationName::parse(doc.application()) else {
            continue;
        };
        match s
            .services
            .executions
            .start(&rc, &app, doc.name(), trigger)
            .await
        {
            Ok(id) => started.push(id),
            Err(e) => {
                tracing::warn!(request_id = %rc.request_id, pipeline = doc.name(), error = %e, "webhook matched a pipeline that cannot start");
                refused.push(json!({"application": doc.application(), "pipeline": doc.name(), "reason": e.to_string()}));
            }
        }
    }
    tracing::info!(request_id = %rc.request_id, source = %source, started = started.len(), "webhook received");
    Json(json!({"eventProcessed": true, "eventId": rc.request_id, "executionIds": started, "refused": refused})).into_response()
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
    let Ok(client) = s.registries.get(&account) else {
        return (StatusCode::NOT_FOUND, Json(json!({"error": "Not Found", "message": format!("no registry account named '{account}'")}))).into_response();
    };
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    if !client.accepts_webhook(authorization) {
        tracing::warn!(request_id = %rc.request_id, %account, "a registry notification without the account's secret was refused");
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "Unauthorized", "message": "the notification does not carry this account's webhook secret"}))).into_response();
    }
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "Bad Request", "message": "the body is not JSON"})),
        )
            .into_response();
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
    let events = crate::events::images::ImageEvents {
        registries: s.registries.clone(),
        store: s.store.clone(),
        engine: s.engine.clone(),
    };
    match events.pushed(&images).await {
        Ok(started) => {
            tracing::info!(request_id = %rc.request_id, %account, pushes = images.len(), started = started.len(), "registry notification received");
            Json(json!({"eventProcessed": true, "pushes": images.len(), "executionIds": started}))
                .into_response()
        }
        Err(e) => {
            // The registry retries failed deliveries; the run ids make a retry start nothing twice.
            tracing::error!(request_id = %rc.request_id, error = %e, "starting image-triggered pipelines");
            let body = json!({"eventProcessed": false, "error": format!("internal error (request id {})", rc.request_id)});
            (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
        }
    }
}
