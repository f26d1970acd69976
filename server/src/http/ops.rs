//! Operations endpoints: liveness, readiness and metrics.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use super::AppState;

/// Alive: the process answers HTTP.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready: the database answers and every migration is applied.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.operations.readiness().await {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(not_ready) => {
            tracing::warn!(reason = %not_ready, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {}\n", not_ready.summary()),
            )
        }
    }
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        format!(
            "{}{}{}{}{}",
            state.metrics.render(),
            state.operations.engine_gauges().await,
            state.environments.gauges().await,
            state.infrastructure.cache.gauges(),
            crate::telemetry::global().render()
        ),
    )
}
