//! A REST subset compatible with Spinnaker's Gate, under `/gate`, so scripts and the `spin` CLI
//! keep working (point `spin` at `http://<topsail>/gate`). Every route calls the same services
//! as the UI's server functions, with the caller the request door established.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};
use domain::pipeline::PipelineDocument;
use domain::{
    Access, AppError, Application, ApplicationInput, ApplicationName, Permissions, RequestContext,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::HttpError;

/// Finished tasks (`POST /tasks`), kept in memory for `GET /tasks/{id}`: tasks here finish
/// before the POST answers, so clients only read their outcome.
#[derive(Clone, Default)]
pub struct TaskLog(Arc<Mutex<HashMap<String, Value>>>);

/// The most tasks remembered; the oldest are forgotten first.
const TASKS_KEPT: usize = 1000;
/// The longest text (description, application) a remembered task keeps.
const TASK_TEXT_KEPT: usize = 200;

impl TaskLog {
    fn record(&self, task: Value) {
        let mut tasks = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if tasks.len() >= TASKS_KEPT
            && let Some(oldest) = tasks
                .iter()
                .min_by_key(|(_, t)| t["startTime"].as_i64().unwrap_or(0))
                .map(|(k, _)| k.clone())
        {
            tasks.remove(&oldest);
        }
        if let Some(id) = task["id"].as_str() {
            tasks.insert(id.to_owned(), task);
        }
    }

    fn get(&self, id: &str) -> Option<Value> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }
}

type Reply = Result<Response, HttpError>;

fn app_name(raw: &str) -> Result<ApplicationName, HttpError> {
    ApplicationName::parse(raw).map_err(|_| {
        HttpError::App(AppError::NotFound {
            what: format!("application '{raw}'"),
        })
    })
}

/// Front50's application attributes.
fn attributes(a: &Application) -> Value {
    json!({
        "name": a.name,
        "email": a.owner_email,
        "description": a.description,
        "team": a.team,
        "createTs": a.created_at.timestamp_millis().to_string(),
        "updateTs": a.updated_at.timestamp_millis().to_string(),
        "lastModifiedBy": a.updated_by,
        "user": a.created_by,
        "deployTargets": a.deploy_targets,
    })
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/images/tags", get(super::builds::tags))
        .route("/v2/builds", get(super::builds::masters))
        .route("/v2/builds/{master}/jobs", get(super::builds::jobs))
        .route("/v2/builds/{master}/jobs/{*job}", get(super::builds::job))
        .route(
            "/v2/builds/{master}/builds/{*job}",
            get(super::builds::builds),
        )
        .route(
            "/v2/builds/{master}/build/{number}/{*job}",
            get(super::builds::build),
        )
        .route("/applications", get(list_applications))
        .route("/applications/{app}", get(get_application))
        .route(
            "/applications/{app}/pipelineConfigs",
            get(list_pipeline_configs),
        )
        .route(
            "/applications/{app}/pipelineConfigs/{name}",
            get(get_pipeline_config),
        )
        .route("/applications/{app}/pipelines", get(list_executions))
        .route("/pipelines", post(save_pipeline))
        .route("/pipelines/{id}", get(get_execution))
        .route(
            "/pipelines/{id}/{name}",
            post(start_pipeline).delete(delete_pipeline),
        )
        .route("/pipelines/{id}/cancel", put(cancel))
        .route("/pipelines/{id}/pause", put(pause))
        .route("/pipelines/{id}/resume", put(resume))
        .route("/pipelines/{id}/stages/{stage}", patch(judge))
        .route("/pipelines/{id}/stages/{stage}/restart", put(restart))
        .route("/tasks", post(submit_task))
        .route("/tasks/{id}", get(get_task))
        .route("/webhooks/webhook/{source}", post(super::webhooks::webhook))
}

async fn list_applications(
    State(s): State<AppState>,
    Extension(rc): Extension<RequestContext>,
) -> Reply {
    let apps = s.services.applications.list(&rc).await?;
    let body: Vec<Value> = apps.iter().map(attributes).collect();
    Ok(Json(body).into_response())
}

async fn get_application(
    State(s): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Path(app): Path<String>,
) -> Reply {
    let a = s.services.applications.get(&rc, &app_name(&app)?).await?;
    Ok(
        Json(json!({ "name": a.name, "attributes": attributes(&a), "clusters": {} }))
            .into_response(),
    )
}

async fn list_pipeline_configs(
    State(s): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Path(app): Path<String>,
) -> Reply {
    let app = app_name(&app)?;
    let mut out = Vec::new();
    for summary in s.services.pipelines.list(&rc, &app).await? {
        out.push(
            s.services
                .pipelines
                .get(&rc, &app, &summary.name)
                .await?
                .document,
        );
    }
    Ok(Json(out).into_response())
}

async fn get_pipeline_config(
    State(s): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Path((app, name)): Path<(String, String)>,
) -> Reply {
    let detail = s
        .services
        .pipelines
        .get(&rc, &app_name(&app)?, &name)
        .await?;
    Ok(Json(detail.document).into_response())
}

async fn save_pipeline(
    State(s): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Json(body): Json<Value>,
) -> Reply {
    let document = PipelineDocument::from_value(body)
        .map_err(|p| HttpError::App(AppError::invalid(&p.field, &p.message)))?;
    s.services.pipelines.save(&rc, document).await?;
    Ok(StatusCode::OK.into_response())
}

async fn delete_pipeline(
    State(s): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Path((app, name)): Path<(String, String)>,
) -> Reply {
    s.services
        .pipelines
        .delete(&rc, &app_name(&app)?, &name)
        .await?;
    Ok(StatusCode::OK.into_response())
}

/// Starts a pipeline; the body is the trigger (`{"type": "manual", "parameters": {...}}`).
async fn start_pipeline(
    State(s): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Path((app, name)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Reply {
    let trigger = body.map(|Json(v)| v).unwrap_or_else(|| json!({}));
    let id = s
        .services
        .executions
        .start(&rc, &app_name(&app)?, &name, trigger)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "ref": format!("/pipelines/{id}") })),
    )
        .into_response())
}

async fn get_execution(
    State(s): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Reply {
    let e = s.services.executions.get(&rc, &id).await?;
    let mut body = serde_json::to_value(&e).unwrap_or(Value::Null);
    body["type"] = json!("PIPELINE");
    Ok(Json(body).into_response())
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

async fn list_executions(
    State(s): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Path(app): Path<String>,
    Query(q): Query<ListQuery>,
) -> Reply {
    let mut list = s.services.executions.list(&rc, &app_name(&app)?).await?;
    list.truncate(q.limit.unwrap_or(25));
    Ok(Json(list).into_response())
}

#[derive(Deserialize)]
struct CancelQuery {
    reason: Option<String>,
}

async fn cancel(
    State(s): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Path(id): Path<String>,
    Query(q): Query<CancelQuery>,
) -> Reply {
    s.services.executions.cancel(&rc, &id, q.reason).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn pause(
    State(s): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Reply {
    s.services.executions.pause(&rc, &id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn resume(
    State(s): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Reply {
    s.services.executions.resume(&rc, &id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn restart(
    State(s): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Path((id, stage)): Path<(String, String)>,
) -> Reply {
    s.services
        .executions
        .restart_stage(&rc, &id, &stage)
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// A manual judgment: `{"judgmentStatus": "continue" | "stop", "judgmentInput": "..."}`.
async fn judge(
    State(s): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Path((id, stage)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Reply {
    let proceed = match body.get("judgmentStatus").and_then(Value::as_str) {
        Some("continue") => true,
        Some("stop") => false,
        _ => {
            return Err(HttpError::App(AppError::invalid(
                "judgmentStatus",
                "judgmentStatus must be continue or stop",
            )));
        }
    };
    let input = body
        .get("judgmentInput")
        .and_then(Value::as_str)
        .map(str::to_owned);
    s.services
        .executions
        .judge(&rc, &id, &stage, proceed, input)
        .await?;
    Ok(Json(s.services.executions.get(&rc, &id).await?).into_response())
}

/// Runs the jobs of a task (`createApplication`, `updateApplication`, `deleteApplication`,
/// what `spin application save|delete` sends) and answers with its reference.
async fn submit_task(
    State(s): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Extension(tasks): Extension<TaskLog>,
    Json(body): Json<Value>,
) -> Reply {
    let id = crate::ids::uuid_like();
    let started = chrono::Utc::now().timestamp_millis();
    let mut failure = None;
    for job in body
        .get("job")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Err(e) = run_job(&s, &rc, job).await {
            failure = Some(e);
            break;
        }
    }
    let status = if failure.is_some() {
        "TERMINAL"
    } else {
        "SUCCEEDED"
    };
    let application = body
        .get("application")
        .and_then(Value::as_str)
        .map(|a| a.chars().take(TASK_TEXT_KEPT).collect::<String>());
    let mut variables = vec![json!({"key": "application", "value": application})];
    if let Some(e) = &failure {
        variables.push(json!({"key": "exception", "value": {"details": {"error": e.to_string(), "errors": [e.to_string()]}}}));
    }
    // Only short texts are kept: the log lives in memory (at most TASKS_KEPT tasks).
    let short = |key: &str| -> Value {
        body.get(key)
            .and_then(Value::as_str)
            .map(|t| json!(t.chars().take(TASK_TEXT_KEPT).collect::<String>()))
            .unwrap_or(Value::Null)
    };
    tasks.record(json!({
        "id": id,
        "name": short("description"),
        "application": short("application"),
        "user": rc.caller.audit_name(),
        "status": status,
        "startTime": started,
        "endTime": chrono::Utc::now().timestamp_millis(),
        "variables": variables,
        "steps": [],
    }));
    Ok(Json(json!({ "ref": format!("/tasks/{id}") })).into_response())
}

async fn run_job(s: &AppState, rc: &RequestContext, job: &Value) -> Result<(), AppError> {
    let app = job.get("application").cloned().unwrap_or(Value::Null);
    let text = |k: &str| {
        app.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    // Deploy targets are Topsail's own attribute: `deployTargets` as "account/namespace" (or
    // "environment: account/namespace") strings or {account, namespace, environment?} objects,
    // in order on the way to production; absent, an existing application keeps its own.
    let targets: Option<String> = app
        .get("deployTargets")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|t| match t {
                    Value::String(s) => s.clone(),
                    other => {
                        let location = format!(
                            "{}/{}",
                            other["account"].as_str().unwrap_or_default(),
                            other["namespace"].as_str().unwrap_or_default()
                        );
                        match other["environment"].as_str().filter(|e| !e.is_empty()) {
                            Some(env) => format!("{env}: {location}"),
                            None => location,
                        }
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        });
    // Spinnaker's `permissions` ({"READ": [roles], "EXECUTE": [...], "WRITE": [...]}); absent,
    // an existing application keeps its own and a new one gets the creator's roles.
    let permissions: Option<Permissions> = match app.get("permissions") {
        None | Some(Value::Null) => None,
        Some(p) => Some(serde_json::from_value(p.clone()).map_err(|_| {
            AppError::invalid(
                "permissions",
                "expected {\"READ\": [roles], \"EXECUTE\": [roles], \"WRITE\": [roles]}",
            )
        })?),
    };
    let creators = || {
        let roles = rc
            .caller
            .identity()
            .map(|i| i.roles.clone())
            .unwrap_or_default();
        Permissions {
            read: roles.clone(),
            execute: roles.clone(),
            write: roles,
        }
    };
    let mut input = ApplicationInput {
        name: text("name"),
        description: text("description"),
        owner_email: text("email"),
        team: text("team"),
        deploy_targets: targets.clone().unwrap_or_default(),
        ..ApplicationInput::default()
    };
    if job.get("type").and_then(Value::as_str) == Some("updateApplication") {
        // Deck sends the updateTs it loaded; an older one than stored is refused (409).
        input.update_ts = match app.get("updateTs") {
            Some(Value::Number(n)) => n.to_string(),
            _ => text("updateTs"),
        };
    }
    let set_permissions = |input: &mut ApplicationInput, p: &Permissions| {
        input.read_roles = p.text(Access::Read);
        input.execute_roles = p.text(Access::Execute);
        input.write_roles = p.text(Access::Write);
    };
    if let Some(p) = &permissions {
        set_permissions(&mut input, p);
    }
    match job.get("type").and_then(Value::as_str) {
        Some("createApplication") => {
            // `spin application save` sends createApplication for new and existing apps alike.
            let name = ApplicationName::parse(&input.name)
                .map_err(|e| AppError::invalid(&e.field, &e.message))?;
            match s.services.applications.get(rc, &name).await {
                Ok(existing) => {
                    if targets.is_none() {
                        input.deploy_targets = existing.to_input().deploy_targets;
                    }
                    if permissions.is_none() {
                        set_permissions(&mut input, &existing.permissions);
                    }
                    update(s, rc, &name, &input).await
                }
                Err(AppError::NotFound { .. }) => {
                    if permissions.is_none() {
                        set_permissions(&mut input, &creators());
                    }
                    let new = input
                        .validate_new()
                        .map_err(|fields| AppError::Invalid { fields })?;
                    s.services.applications.create(rc, new).await.map(drop)
                }
                Err(e) => Err(e),
            }
        }
        Some("updateApplication") => {
            let name = ApplicationName::parse(&input.name)
                .map_err(|e| AppError::invalid(&e.field, &e.message))?;
            let existing = s.services.applications.get(rc, &name).await?;
            if targets.is_none() {
                input.deploy_targets = existing.to_input().deploy_targets;
            }
            if permissions.is_none() {
                set_permissions(&mut input, &existing.permissions);
            }
            update(s, rc, &name, &input).await
        }
        Some("deleteApplication") => {
            let name = ApplicationName::parse(&input.name)
                .map_err(|e| AppError::invalid(&e.field, &e.message))?;
            s.services.applications.delete(rc, &name).await
        }
        other => Err(AppError::invalid(
            "job.type",
            &format!("job type {other:?} is not supported"),
        )),
    }
}

async fn update(
    s: &AppState,
    rc: &RequestContext,
    name: &ApplicationName,
    input: &ApplicationInput,
) -> Result<(), AppError> {
    let changes = input
        .validate_changes()
        .map_err(|fields| AppError::Invalid { fields })?;
    s.services
        .applications
        .update(rc, name, changes)
        .await
        .map(drop)
}

/// A task, to whoever submitted it (and admins).
async fn get_task(
    Extension(rc): Extension<RequestContext>,
    Extension(tasks): Extension<TaskLog>,
    Path(id): Path<String>,
) -> Reply {
    let mine = |t: &Value| rc.caller.is_admin() || t["user"] == rc.caller.audit_name();
    tasks
        .get(&id)
        .filter(mine)
        .map(|t| Json(t).into_response())
        .ok_or(HttpError::App(AppError::NotFound {
            what: format!("task '{id}'"),
        }))
}
