//! Server-sent events: the Infrastructure tab's live view. On connect and after every change to
//! the application's objects (changes within 50 ms coalesced) the stream sends the whole view.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use app::model::ApplicationName;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::Stream;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc};

use super::AppState;
use crate::infrastructure::Infrastructure;
use crate::kubernetes::cache::CacheChange;

#[derive(serde::Deserialize)]
pub struct StreamQuery {
    application: String,
}

/// How long to gather further changes before sending one update.
const COALESCE: Duration = Duration::from_millis(50);

pub async fn infrastructure(State(state): State<AppState>, Query(q): Query<StreamQuery>) -> Response {
    let Ok(application) = ApplicationName::parse(&q.application) else {
        return (StatusCode::NOT_FOUND, "no such application").into_response();
    };
    let stream = updates(state, application.as_str().to_owned());
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

fn updates(state: AppState, application: String) -> impl Stream<Item = Result<Event, Infallible>> {
    let infrastructure = state.infrastructure.clone();
    let changes = infrastructure.cache.subscribe();
    let mut closing = state.shutdown.subscribe();
    async_stream(move |tx| async move {
        // A shutdown ends the stream, so the graceful shutdown does not wait for the browser.
        tokio::select! {
            _ = closing.wait_for(|closing| *closing) => {}
            _ = send_updates(tx, infrastructure, changes, application) => {}
        }
    })
}

async fn send_updates(tx: mpsc::Sender<Event>, infrastructure: Arc<Infrastructure>, mut changes: broadcast::Receiver<Arc<CacheChange>>, application: String) {
    // The deploy targets are read once per stream; a browser that reconnects sees changes.
    let targets = infrastructure.targets_of(&application).await;
    let snapshot = || Event::default().event("view").data(serde_json::to_string(&infrastructure.view_of(&application, &targets)).unwrap_or_default());
    if tx.send(snapshot()).await.is_err() {
        return;
    }
    loop {
        // Wait for a change to this application (after a lag, just resend).
        let relevant = match changes.recv().await {
            Ok(change) => change.application.as_deref() == Some(application.as_str()),
            Err(RecvError::Lagged(_)) => true,
            Err(RecvError::Closed) => return,
        };
        if !relevant {
            continue;
        }
        let deadline = tokio::time::sleep(COALESCE);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                next = changes.recv() => if let Err(RecvError::Closed) = next { return },
            }
        }
        if tx.send(snapshot()).await.is_err() {
            return;
        }
    }
}

/// A stream fed by a task through a small channel; the task ends when the client goes away.
fn async_stream<F, Fut>(body: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(body(tx));
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) })
}
