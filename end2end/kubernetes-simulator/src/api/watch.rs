//! Watches (reference §6): initial events, resuming from a resourceVersion, bookmarks, filtered
//! watches, expiry with ERROR 410, and `timeoutSeconds`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::Response;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::Cluster;
use crate::resources::TYPES;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{ApiError, Broadcast, Change, with_type};

use super::{Target, error_response, matches, selectors};

fn watch_line(kind: &str, object: &Value) -> Bytes {
    let mut line = json!({"type": kind, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

fn expired_line(rv: u64, oldest: u64) -> Bytes {
    watch_line(
        "ERROR",
        &ApiError::expired(format!("too old resource version: {rv} ({oldest})")).status(),
    )
}

/// A watch whose events carry a one-row Table instead of the object (`kubectl get -w`): the
/// first such event carries the column definitions, the later ones none.
pub(super) struct TableWatch {
    pub version: &'static str,
    pub include: super::table::Include,
}

pub(super) fn watch(
    cluster: Arc<Cluster>,
    target: Target,
    query: &HashMap<String, String>,
    table: Option<TableWatch>,
) -> Response {
    let (labels, fields) = match selectors(query) {
        Ok(s) => s,
        Err(e) => return error_response(e),
    };
    let bookmarks = query
        .get("allowWatchBookmarks")
        .is_some_and(|v| v == "true");
    let send_initial = query.get("sendInitialEvents").is_some_and(|v| v == "true");
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(1800));
    let requested = query.get("resourceVersion").cloned().unwrap_or_default();
    let t = &TYPES[target.type_index];
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(256);
    let (initial, mut receiver, start_rv, expired): (
        Vec<Bytes>,
        broadcast::Receiver<Broadcast>,
        u64,
        Option<Bytes>,
    ) = {
        let state = cluster.state.lock().expect("the store lock");
        let receiver = state.subscribe();
        let start_rv = state.rv;
        let current = || -> Vec<Bytes> {
            state
                .of_type(target.type_index, target.namespace.as_deref())
                .filter(|(_, o)| matches(o, &labels, &fields))
                .map(|(k, o)| watch_line("ADDED", &with_type(k.0, o.clone())))
                .collect()
        };
        if requested.is_empty() || requested == "0" || send_initial {
            (current(), receiver, start_rv, None)
        } else {
            let rv: u64 = requested.parse().unwrap_or(0);
            match state.history_since(rv) {
                None => (
                    Vec::new(),
                    receiver,
                    start_rv,
                    Some(expired_line(rv, state.compacted_rv + 1)),
                ),
                Some(events) => {
                    let lines = events
                        .iter()
                        .filter(|e| {
                            e.type_index == target.type_index
                                && target
                                    .namespace
                                    .as_ref()
                                    .is_none_or(|ns| *ns == e.namespace)
                        })
                        .filter_map(|e| event_line(e, &labels, &fields))
                        .collect();
                    (lines, receiver, start_rv, None)
                }
            }
        }
    };
    let kind = t.kind;
    let api_version = t.api_version();
    let api_version_of_rows = api_version.clone();
    let type_index = target.type_index;
    let namespace = target.namespace.clone();
    tokio::spawn(async move {
        if let Some(line) = expired {
            let _ = tx.send(Ok(line)).await;
            return;
        }
        for line in initial {
            if tx.send(Ok(line)).await.is_err() {
                return;
            }
        }
        let bookmark = |rv: u64, end: bool| {
            let mut metadata = json!({"resourceVersion": rv.to_string()});
            if end {
                metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
            }
            watch_line(
                "BOOKMARK",
                &json!({"kind": kind, "apiVersion": api_version, "metadata": metadata}),
            )
        };
        if send_initial && tx.send(Ok(bookmark(start_rv, true))).await.is_err() {
            return;
        }
        let mut seen = start_rv;
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(cluster.bookmark_every);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = ticker.tick(), if bookmarks => {
                    if tx.send(Ok(bookmark(seen, false))).await.is_err() { return; }
                }
                message = receiver.recv() => match message {
                    Ok(Broadcast::Change(e)) => {
                        if e.rv <= seen { continue; }
                        seen = e.rv;
                        if e.type_index != type_index || namespace.as_ref().is_some_and(|ns| *ns != e.namespace) { continue; }
                        if let Some(line) = event_line(&e, &labels, &fields)
                            && tx.send(Ok(line)).await.is_err() { return; }
                    }
                    Ok(Broadcast::Expire) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        let _ = tx.send(Ok(expired_line(seen, seen + 1))).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tx.closed() => return,
            }
        }
    });
    let mut first = true;
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx).map(move |line| {
        let Some(table) = &table else { return line };
        line.map(|bytes| {
            let Ok(mut event) = serde_json::from_slice::<Value>(&bytes) else {
                return bytes;
            };
            if !matches!(
                event["type"].as_str(),
                Some("ADDED" | "MODIFIED" | "DELETED")
            ) {
                return bytes;
            }
            event["object"] = super::table::table(
                kind,
                &api_version_of_rows,
                &event["object"],
                table.version,
                table.include,
                first,
            );
            first = false;
            let mut line = event.to_string();
            line.push('\n');
            Bytes::from(line)
        })
    });
    Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .expect("a response")
}

/// The line a filtered watch sends for one change: an object that starts matching is ADDED,
/// one that stops matching is DELETED.
fn event_line(
    e: &crate::store::Event,
    labels: &LabelSelector,
    fields: &FieldSelector,
) -> Option<Bytes> {
    let now = matches(&e.object, labels, fields);
    let before = e
        .previous
        .as_ref()
        .is_some_and(|p| matches(p, labels, fields));
    let kind = match (e.change, before, now) {
        (Change::Modified, false, true) => "ADDED",
        (Change::Modified, true, false) => "DELETED",
        (Change::Modified, true, true) => "MODIFIED",
        (Change::Added, _, true) => "ADDED",
        (Change::Deleted, _, true) => "DELETED",
        _ => return None,
    };
    Some(watch_line(kind, &e.object))
}
