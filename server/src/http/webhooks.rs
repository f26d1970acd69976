//! Incoming webhooks (Spinnaker's Echo endpoint `POST /webhooks/webhook/{source}`): the JSON
//! payload starts every pipeline with an enabled webhook trigger for that source whose payload
//! constraints hold. A source configured in `[[webhooks]]` must prove each delivery: the shared
//! secret in its token header, or an HMAC-SHA256 of the body in its signature header (both
//! compared in constant time).

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::response::{IntoResponse, Response};
use domain::RequestContext;
use serde_json::{Value, json};

use super::AppState;
use super::error::HttpError;
use crate::config::WebhookSourceConfig;
use crate::events::triggers::WebhookReceived;
use crate::identity::secrets;

/// Headers senders use to name a delivery (a redelivery carries the same value).
const DELIVERY_HEADERS: [&str; 4] = [
    "idempotency-key",
    "x-github-delivery",
    "x-gitlab-event-uuid",
    "x-delivery-id",
];

/// Whether `headers` and `body` prove a delivery from `source` (always, for a source without a
/// secret).
fn genuine(
    sources: &[WebhookSourceConfig],
    source: &str,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> bool {
    let Some(config) = sources.iter().find(|c| c.source == source) else {
        return true;
    };
    let Some(secret) = &config.secret else {
        return false;
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .unwrap_or_default()
            .to_owned()
    };
    match &config.signature_header {
        Some(name) => {
            let given = header(name);
            let given = given
                .strip_prefix("sha256=")
                .unwrap_or(&given)
                .to_lowercase();
            let expected = secrets::hmac_sha256_hex(secret.expose().as_bytes(), body);
            secrets::constant_time_eq(given.as_bytes(), expected.as_bytes())
        }
        None => secrets::constant_time_eq(
            header(&config.token_header).as_bytes(),
            secret.expose().as_bytes(),
        ),
    }
}

pub async fn webhook(
    State(s): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Path(source): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !genuine(&s.webhook_sources, &source, &headers, &body) {
        tracing::warn!(request_id = %rc.request_id, %source, "a webhook without its source's secret was refused");
        return HttpError::Unauthorized(format!(
            "the delivery does not carry the secret of webhook source '{source}'"
        ))
        .into_response();
    }
    // A body that is not JSON is an empty payload (as before secrets existed).
    let payload = serde_json::from_slice::<Value>(&body).unwrap_or_else(|_| json!({}));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn source(signature: Option<&str>) -> WebhookSourceConfig {
        WebhookSourceConfig {
            source: "github".into(),
            secret_env: None,
            secret_file: None,
            secret: Some(Secret::new("s3cret")),
            signature_header: signature.map(str::to_owned),
            token_header: "X-Webhook-Token".into(),
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> axum::http::HeaderMap {
        let mut h = axum::http::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn a_configured_source_needs_its_token_or_signature() {
        let token = [source(None)];
        assert!(genuine(
            &token,
            "github",
            &headers(&[("x-webhook-token", "s3cret")]),
            b"{}"
        ));
        assert!(!genuine(
            &token,
            "github",
            &headers(&[("x-webhook-token", "s3cre")]),
            b"{}"
        ));
        assert!(!genuine(&token, "github", &headers(&[]), b"{}"));
        assert!(
            genuine(&token, "other", &headers(&[]), b"{}"),
            "unconfigured sources are open"
        );
        let signed = [source(Some("X-Hub-Signature-256"))];
        let sig = format!(
            "sha256={}",
            secrets::hmac_sha256_hex(b"s3cret", b"{\"a\":1}")
        );
        assert!(genuine(
            &signed,
            "github",
            &headers(&[("x-hub-signature-256", &sig)]),
            b"{\"a\":1}"
        ));
        assert!(!genuine(
            &signed,
            "github",
            &headers(&[("x-hub-signature-256", &sig)]),
            b"{\"a\":2}"
        ));
    }
}
