//! The simulator's own test hooks under `/simulator/`: faults and expiring every watch.

use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Cluster;

use super::{json_response, page_not_found};

pub(super) fn test_hook(cluster: &Cluster, method: &Method, hook: &str, body: &Bytes) -> Response {
    match (method, hook) {
        (&Method::POST, "expire-watches") => {
            cluster
                .state
                .lock()
                .expect("the store lock")
                .expire_watches();
            json_response(200, &json!({"expired": true}))
        }
        (&Method::POST, "faults") => {
            let spec: Value = serde_json::from_slice(body).unwrap_or(json!({}));
            cluster.set_faults(&spec);
            json_response(200, &spec)
        }
        (&Method::GET, "healthz") => (StatusCode::OK, "ok").into_response(),
        _ => page_not_found(),
    }
}
