//! Incoming webhooks (Spinnaker's Echo endpoint `POST /webhooks/webhook/{source}`): the JSON
//! payload starts every pipeline with an enabled webhook trigger for that source whose payload
//! constraints hold.

use app::model::{ApplicationName, RequestContext};
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
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
        let Some(trigger) = webhook_trigger_for(&doc, &source, &payload) else { continue };
        let Ok(app) = ApplicationName::parse(doc.application()) else { continue };
        match s.services.executions.start(&rc, &app, doc.name(), trigger).await {
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
