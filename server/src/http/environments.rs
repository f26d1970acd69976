//! The environments board over HTTP: `GET /api/environments` (the board as JSON, for scripts
//! and dashboards) and `GET /api/environments/stream` (event `board` on connect and after every
//! change that alters it: the cache's watch events, executions this process commits, and a
//! slow re-check for what announces nothing, such as an application's edit).

use std::time::Duration;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use domain::RequestContext;
use domain::environments::{BoardFilter, BoardSort};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::AppState;
use super::error::HttpError;
use super::live::{STREAM_LIFETIME, async_stream};
use crate::environments::rendered::{RenderedBoard, accepts_gzip, matches_etag};

/// How often a board stream looks again without an announced change.
const RECHECK: Duration = Duration::from_secs(5);

/// The board's query: `q` (part of the name), `owner`, `team`, `sort`
/// (`name`, `health`, `lastDeploy`).
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct BoardQuery {
    q: String,
    owner: String,
    team: String,
    sort: String,
}

impl BoardQuery {
    fn filter(self) -> BoardFilter {
        BoardFilter {
            q: self.q,
            owner: self.owner,
            team: self.team,
            sort: BoardSort::parse(&self.sort),
        }
    }
}

/// `GET /api/environments`: applications → environments → workloads (images with digest,
/// ready/desired, health, last deploy, drift), for what the caller may read. Gzip-compressed
/// when the client accepts it, with an entity tag (`If-None-Match` → 304).
pub async fn board(
    State(state): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Query(q): Query<BoardQuery>,
    headers: HeaderMap,
) -> Response {
    let board = match state.environments.board_json(&rc, &q.filter()).await {
        Ok(board) => board,
        Err(e) => return HttpError::App(e).into_response(),
    };
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let etag = (header::ETAG, board.etag().to_owned());
    // Revalidate every time: the board changes with the clusters.
    let cache = (header::CACHE_CONTROL, "no-cache".to_owned());
    let vary = (header::VARY, "Accept-Encoding".to_owned());
    if header(header::IF_NONE_MATCH).is_some_and(|t| matches_etag(t, board.etag())) {
        return (StatusCode::NOT_MODIFIED, [etag, cache, vary]).into_response();
    }
    let json = (header::CONTENT_TYPE, "application/json".to_owned());
    if header(header::ACCEPT_ENCODING).is_some_and(accepts_gzip) {
        let gzip = (header::CONTENT_ENCODING, "gzip".to_owned());
        return ([json, gzip, etag, cache, vary], board.gzip().await.clone()).into_response();
    }
    ([json, etag, cache, vary], board.json().clone()).into_response()
}

/// `GET /api/environments/stream` (same query): event `board` with the whole board when it
/// changes; a failure is event `failure` and ends the stream.
pub async fn stream(
    State(state): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Query(q): Query<BoardQuery>,
) -> Response {
    let filter = q.filter();
    // Refuse at once what the board would refuse (not signed in).
    if let Err(e) = state.environments.board_json(&rc, &filter).await {
        return HttpError::App(e).into_response();
    }
    let mut closing = state.shutdown.subscribe();
    let stream = async_stream(move |tx| async move {
        tokio::select! {
            _ = closing.wait_for(|closing| *closing) => {}
            _ = send_boards(tx, state, rc, filter) => {}
            // The browser reconnects by itself, and so shows who it is again.
            _ = tokio::time::sleep(STREAM_LIFETIME) => {}
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

async fn send_boards(
    tx: mpsc::Sender<Event>,
    state: AppState,
    rc: RequestContext,
    filter: BoardFilter,
) {
    let mut cache_changes = state.infrastructure.cache.subscribe();
    let mut executions = state.operations.execution_changes();
    let mut last_sent: Option<std::sync::Arc<RenderedBoard>> = None;
    loop {
        // The same rendering `GET /api/environments` answers: made once per snapshot for every
        // stream of callers with the same roles and filter.
        match state.environments.board_json(&rc, &filter).await {
            Ok(json) => {
                if last_sent.as_ref() != Some(&json) {
                    if tx
                        .send(Event::default().event("board").data(json.as_str()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    last_sent = Some(json);
                }
            }
            Err(e) => {
                let _ = tx.send(HttpError::App(e).failure_event()).await;
                return;
            }
        }
        let recheck = tokio::time::sleep(RECHECK);
        tokio::pin!(recheck);
        tokio::select! {
            _ = &mut recheck => continue,
            change = cache_changes.recv() => match change {
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            change = executions.recv() => match change {
                Ok(c) => state.environments.forget_history(&c.application),
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
        }
        // Gather what follows for as long as the board's snapshot may be reused: a snapshot
        // built before this change is then old enough to be built again.
        let settle = tokio::time::sleep(crate::environments::REBUILD_AFTER);
        tokio::pin!(settle);
        loop {
            tokio::select! {
                _ = &mut settle => break,
                next = cache_changes.recv() => if let Err(RecvError::Closed) = next { return },
            }
        }
    }
}
