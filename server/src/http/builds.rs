//! Jenkins and registries through the API: Gate's build routes (`/gate/v2/builds…`, as Deck's
//! stage editor and `spin` use them) and image tags (`/gate/images/tags`); Topsail's master
//! health (`/api/builds/masters`) and the image picker's reads (`/api/registries/…`).

use app::model::AppError;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use crate::jenkins::JenkinsError;

fn error(e: JenkinsError) -> Response {
    let e = AppError::from(e);
    let status = StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::BAD_GATEWAY);
    (status, Json(json!({"error": status.canonical_reason().unwrap_or("Error"), "message": e.to_string(), "status": status.as_u16()}))).into_response()
}

/// `GET /gate/v2/builds`: the masters' names.
pub async fn masters(State(s): State<AppState>) -> Json<Vec<String>> {
    Json(s.jenkins.names())
}

/// `GET /api/builds/masters`: every master with its health (never its token).
pub async fn health(State(s): State<AppState>) -> Response {
    Json(s.jenkins.health().await).into_response()
}

/// `GET /gate/v2/builds/{master}/jobs`: every job's full name, through folders.
pub async fn jobs(State(s): State<AppState>, Path(master): Path<String>) -> Response {
    let client = match s.jenkins.get(&master) {
        Ok(c) => c.clone(),
        Err(e) => return error(e),
    };
    match client.jobs().await {
        Ok(jobs) => Json(jobs.into_iter().map(|j| j.name).collect::<Vec<_>>()).into_response(),
        Err(e) => error(e),
    }
}

/// `GET /gate/v2/builds/{master}/jobs/{job…}`: the job with its parameter definitions.
pub async fn job(State(s): State<AppState>, Path((master, job)): Path<(String, String)>) -> Response {
    let client = match s.jenkins.get(&master) {
        Ok(c) => c.clone(),
        Err(e) => return error(e),
    };
    match client.job(job.trim_matches('/')).await {
        Ok(details) => Json(details).into_response(),
        Err(e) => error(e),
    }
}

/// `GET /gate/v2/builds/{master}/builds/{job…}`: the job's latest builds.
pub async fn builds(State(s): State<AppState>, Path((master, job)): Path<(String, String)>) -> Response {
    let client = match s.jenkins.get(&master) {
        Ok(c) => c.clone(),
        Err(e) => return error(e),
    };
    match client.builds(job.trim_matches('/')).await {
        Ok(list) => Json(list).into_response(),
        Err(e) => error(e),
    }
}

/// `GET /gate/v2/builds/{master}/build/{number}/{job…}`: one build.
pub async fn build(State(s): State<AppState>, Path((master, number, job)): Path<(String, u64, String)>) -> Response {
    let client = match s.jenkins.get(&master) {
        Ok(c) => c.clone(),
        Err(e) => return error(e),
    };
    match client.build(job.trim_matches('/'), number).await {
        Ok(b) => {
            let mut v: Value = serde_json::to_value(b).unwrap_or_default();
            v["name"] = json!(job.trim_matches('/'));
            Json(v).into_response()
        }
        Err(e) => error(e),
    }
}

#[derive(serde::Deserialize)]
pub struct TagsQuery {
    account: String,
    repository: String,
}

fn registry_error(e: crate::registries::RegistryError) -> Response {
    let e = AppError::from(e);
    let status = StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::BAD_GATEWAY);
    (status, Json(json!({"error": status.canonical_reason().unwrap_or("Error"), "message": e.to_string(), "status": status.as_u16()}))).into_response()
}

/// `GET /gate/images/tags?account=&repository=` (Gate's shape): a repository's tags.
pub async fn tags(State(s): State<AppState>, axum::extract::Query(q): axum::extract::Query<TagsQuery>) -> Response {
    let client = match s.registries.get(&q.account) {
        Ok(c) => c.clone(),
        Err(e) => return registry_error(e),
    };
    match client.tags(&q.repository).await {
        Ok(tags) => Json(tags).into_response(),
        Err(e) => registry_error(e),
    }
}

/// `GET /api/registries/{account}/repositories`: the image picker's repositories.
pub async fn repositories(State(s): State<AppState>, Path(account): Path<String>) -> Response {
    let client = match s.registries.get(&account) {
        Ok(c) => c.clone(),
        Err(e) => return registry_error(e),
    };
    match client.repositories().await {
        Ok(list) => Json(list).into_response(),
        Err(e) => registry_error(e),
    }
}

#[derive(serde::Deserialize)]
pub struct ImageQuery {
    repository: String,
    tag: String,
}

/// `GET /api/registries/{account}/image?repository=&tag=`: the image with its digest and the
/// `docker/image` artifact a pipeline would get.
pub async fn image(State(s): State<AppState>, Path(account): Path<String>, axum::extract::Query(q): axum::extract::Query<ImageQuery>) -> Response {
    let client = match s.registries.get(&account) {
        Ok(c) => c.clone(),
        Err(e) => return registry_error(e),
    };
    match client.digest(&q.repository, &q.tag).await {
        Ok(digest) => {
            let image = crate::registries::Image { account, registry: client.host.clone(), repository: q.repository, tag: q.tag, digest: Some(digest) };
            Json(json!({"image": image, "artifact": image.artifact()})).into_response()
        }
        Err(e) => registry_error(e),
    }
}
