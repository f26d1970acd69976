//! Server-sent events. The Infrastructure tab's live view: on connect and after every change to
//! the application's objects (changes within 50 ms coalesced) the stream sends the whole view.
//! Executions: on connect and after every change the engine commits (coalesced likewise) the
//! stream sends an application's executions or one execution, and at least every two seconds
//! it looks again, so changes made by another replica arrive too.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use domain::{AppError, ApplicationName, RequestContext};
use futures_util::stream::Stream;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc};

use super::AppState;
use super::error::HttpError;
use crate::infrastructure::Infrastructure;
use crate::kubernetes::cache::CacheChange;
use crate::orchestration::executions::ExecutionChange;

#[derive(serde::Deserialize)]
pub struct StreamQuery {
    application: String,
}

/// A stream ends after this long, so an identity that ended (signed out, deleted, roles
/// changed) stops seeing changes within it: the browser's `EventSource` reconnects through the
/// door again.
pub(super) const STREAM_LIFETIME: Duration = Duration::from_secs(300);

/// How long to gather further changes before sending one update.
const COALESCE: Duration = Duration::from_millis(50);

pub async fn infrastructure(
    State(state): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Query(q): Query<StreamQuery>,
) -> Response {
    let Ok(application) = ApplicationName::parse(&q.application) else {
        return HttpError::not_found(format!("application '{}'", q.application)).into_response();
    };
    // The same check as the view's: READ on the application (once, when the stream opens).
    if let Err(e) = state.services.infrastructure.view(&rc, &application).await {
        return HttpError::App(e).into_response();
    }
    let stream = updates(state, application.as_str().to_owned(), rc.caller);
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

fn updates(
    state: AppState,
    application: String,
    caller: domain::Caller,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let infrastructure = state.infrastructure.clone();
    let changes = infrastructure.cache.subscribe();
    let mut closing = state.shutdown.subscribe();
    async_stream(move |tx| async move {
        // A shutdown ends the stream, so the graceful shutdown does not wait for the browser.
        tokio::select! {
            _ = closing.wait_for(|closing| *closing) => {}
            _ = send_updates(tx, infrastructure, changes, application, caller) => {}
            // The browser reconnects by itself, and so shows who it is again.
            _ = tokio::time::sleep(STREAM_LIFETIME) => {}
        }
    })
}

async fn send_updates(
    tx: mpsc::Sender<Event>,
    infrastructure: Arc<Infrastructure>,
    mut changes: broadcast::Receiver<Arc<CacheChange>>,
    application: String,
    caller: domain::Caller,
) {
    // The deploy targets are read once per stream; a browser that reconnects sees changes.
    let targets = infrastructure.targets_of(&application).await;
    let snapshot = || {
        let mut view = infrastructure.view_of(&application, &targets);
        // As the view service does: accounts restricted to roles the caller lacks are left out.
        view.accounts.retain(|a| {
            infrastructure
                .accounts
                .allow_caller(&a.name, &caller, domain::Access::Read)
        });
        Event::default()
            .event("view")
            .data(serde_json::to_string(&view).unwrap_or_default())
    };
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
        if !gather(&mut changes).await {
            return;
        }
        if tx.send(snapshot()).await.is_err() {
            return;
        }
    }
}

#[derive(serde::Deserialize)]
pub struct ExecutionStreamQuery {
    application: Option<String>,
    execution: Option<String>,
}

/// What an executions stream follows.
#[derive(Clone)]
enum Followed {
    Application(ApplicationName),
    Execution(String),
}

/// How often an executions stream looks again without a change heard: the safety net for a
/// change the replica event bus lost (`events::bus`), e.g. while a connection was down.
const RECHECK: Duration = Duration::from_secs(10);

/// `GET /api/executions/stream?application=NAME` (event `executions`: the list) or
/// `?execution=ID` (event `execution`: that execution). A failure is sent as event `failure`
/// with the public error, and ends the stream.
pub async fn executions(
    State(state): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Query(q): Query<ExecutionStreamQuery>,
) -> Response {
    let followed = match (q.application, q.execution) {
        (Some(app), None) => match ApplicationName::parse(&app) {
            Ok(name) => Followed::Application(name),
            Err(_) => {
                return HttpError::not_found(format!("application '{app}'")).into_response();
            }
        },
        (None, Some(id)) if !id.is_empty() => Followed::Execution(id),
        _ => {
            return HttpError::BadRequest("give either application or execution".into())
                .into_response();
        }
    };
    let changes = state.operations.execution_changes();
    let mut closing = state.shutdown.subscribe();
    let stream = async_stream(move |tx| async move {
        tokio::select! {
            _ = closing.wait_for(|closing| *closing) => {}
            _ = send_executions(tx, state, rc, changes, followed) => {}
            // The browser reconnects by itself, and so shows who it is again.
            _ = tokio::time::sleep(STREAM_LIFETIME) => {}
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// The followed executions as an event, or the failure to read them.
async fn executions_event(
    state: &AppState,
    rc: &RequestContext,
    followed: &Followed,
) -> Result<(String, String), HttpError> {
    let executions = &state.services.executions;
    let read = match followed {
        Followed::Application(app) => executions
            .list(rc, app)
            .await
            .map(|list| ("executions", serde_json::to_string(&list))),
        Followed::Execution(id) => executions
            .get(rc, id)
            .await
            .map(|e| ("execution", serde_json::to_string(&e))),
    };
    match read {
        Ok((name, Ok(json))) => Ok((name.to_owned(), json)),
        Ok((_, Err(e))) => Err(HttpError::internal(rc, &e)),
        Err(e) => Err(e.into()),
    }
}

async fn send_executions(
    tx: mpsc::Sender<Event>,
    state: AppState,
    rc: RequestContext,
    mut changes: broadcast::Receiver<ExecutionChange>,
    followed: Followed,
) {
    let mut last_sent = String::new();
    loop {
        match executions_event(&state, &rc, &followed).await {
            Ok((name, json)) => {
                if json != last_sent {
                    if tx
                        .send(Event::default().event(name).data(&json))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    last_sent = json;
                }
            }
            Err(failure) => {
                let _ = tx.send(failure.failure_event()).await;
                return;
            }
        }
        // Wait for a change to what is followed, or the re-check.
        let recheck = tokio::time::sleep(RECHECK);
        tokio::pin!(recheck);
        loop {
            tokio::select! {
                _ = &mut recheck => break,
                change = changes.recv() => match change {
                    Ok(c) if concerns(&followed, &c) => break,
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return,
                },
            }
        }
        if !gather(&mut changes).await {
            return;
        }
    }
}

/// Takes in the changes that follow within [`COALESCE`], so a burst is one update; `false` when
/// the channel closed.
async fn gather<T: Clone>(changes: &mut broadcast::Receiver<T>) -> bool {
    let deadline = tokio::time::sleep(COALESCE);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return true,
            next = changes.recv() => if let Err(RecvError::Closed) = next { return false },
        }
    }
}

fn concerns(followed: &Followed, change: &ExecutionChange) -> bool {
    match followed {
        Followed::Application(app) => change.application == app.as_str(),
        Followed::Execution(id) => change.id == *id,
    }
}

/// A stream fed by a task through a small channel; the task ends when the client goes away.
/// Event streams open in this process (`topsail_event_stream_clients`).
static OPEN_STREAMS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// How many event streams this process is serving.
pub(super) fn open_streams() -> i64 {
    OPEN_STREAMS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Counts one open stream while it lives.
struct OpenStream;

impl OpenStream {
    fn new() -> Self {
        OPEN_STREAMS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        OPEN_STREAMS.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

pub(super) fn async_stream<F, Fut>(body: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(8);
    let (open, work) = (OpenStream::new(), body(tx));
    tokio::spawn(async move {
        let _open = open;
        work.await;
    });
    futures_util::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) },
    )
}

#[derive(serde::Deserialize)]
pub struct BuildLogQuery {
    execution: String,
    stage: String,
}

/// How often a running build's log is read again.
const LOG_EVERY: Duration = Duration::from_secs(1);
/// The most of a log a stream holds (the end of it, when longer).
const LOG_KEPT: usize = 256 * 1024;

/// `GET /api/builds/log/stream?execution=ID&stage=STAGE_ID`: the console log of the Jenkins
/// build a `jenkins` stage started, as event `log` (`{text, more, truncated}`: the whole log so
/// far, or its last 256 KiB) every second while it grows. A failure is event `failure`.
pub async fn build_log(
    State(state): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Query(q): Query<BuildLogQuery>,
) -> Response {
    let mut closing = state.shutdown.subscribe();
    let stream = async_stream(move |tx| async move {
        tokio::select! {
            _ = closing.wait_for(|closing| *closing) => {}
            _ = send_build_log(tx, state, rc, q) => {}
            // The browser reconnects by itself, and so shows who it is again.
            _ = tokio::time::sleep(STREAM_LIFETIME) => {}
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

async fn send_build_log(
    tx: mpsc::Sender<Event>,
    state: AppState,
    rc: RequestContext,
    q: BuildLogQuery,
) {
    let fail = |message: String| HttpError::from(AppError::Unavailable { message }).failure_event();
    // Wait until the stage has a build.
    let (master, job, number) = loop {
        let execution = match state.services.executions.get(&rc, &q.execution).await {
            Ok(e) => e,
            Err(e) => {
                let _ = tx.send(HttpError::from(e).failure_event()).await;
                return;
            }
        };
        let Some(stage) = execution.stages.iter().find(|s| s.id == q.stage) else {
            let _ = tx
                .send(fail(format!(
                    "execution {} has no stage {}",
                    q.execution, q.stage
                )))
                .await;
            return;
        };
        let text = |k: &str| {
            stage
                .context
                .get(k)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let number = stage.build_info().map(|b| b.number);
        match (text("master"), text("job"), number) {
            (Some(m), Some(j), Some(n)) => break (m, j, n),
            _ if stage.status.is_complete() => {
                let _ = tx
                    .send(fail("this stage started no Jenkins build".into()))
                    .await;
                return;
            }
            _ => tokio::time::sleep(LOG_EVERY).await,
        }
    };
    let client = match state.integrations.jenkins.get(&master) {
        Ok(c) => c.clone(),
        Err(e) => {
            let _ = tx.send(HttpError::from(e).failure_event()).await;
            return;
        }
    };
    let mut text = String::new();
    let mut truncated = false;
    let mut start = 0;
    loop {
        match client.log(&job, number, start).await {
            Ok(chunk) => {
                start = chunk.next;
                text.push_str(&chunk.text);
                if text.len() > LOG_KEPT {
                    let mut cut = text.len() - LOG_KEPT;
                    while !text.is_char_boundary(cut) {
                        cut += 1;
                    }
                    text.drain(..cut);
                    truncated = true;
                }
                if !chunk.text.is_empty() || !chunk.more {
                    let data = domain::execution::BuildLog {
                        text: text.clone(),
                        more: chunk.more,
                        truncated,
                    };
                    if tx
                        .send(
                            Event::default()
                                .event("log")
                                .data(serde_json::to_string(&data).unwrap_or_default()),
                        )
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                if !chunk.more {
                    // Complete: stay open (quietly) so the browser does not reconnect.
                    std::future::pending::<()>().await;
                }
            }
            Err(e) if e.is_transient() => {}
            Err(e) => {
                let _ = tx.send(HttpError::from(e).failure_event()).await;
                return;
            }
        }
        tokio::time::sleep(LOG_EVERY).await;
    }
}
