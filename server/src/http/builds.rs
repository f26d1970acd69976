//! Jenkins and registries through the API: Gate's build routes (`/gate/v2/builds…`, as Deck's
//! stage editor and `spin` use them) and image tags (`/gate/images/tags`); Topsail's master
//! health (`/api/builds/masters`) and the image picker's reads (`/api/registries/…`).

use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::{Value, json};

use super::AppState;
use super::error::HttpError;
use crate::jenkins::{JenkinsClient, MasterHealth};
use crate::registries::RegistryClient;

type Answer<T> = Result<Json<T>, HttpError>;

fn master(s: &AppState, name: &str) -> Result<std::sync::Arc<JenkinsClient>, HttpError> {
    Ok(s.integrations.jenkins.get(name)?.clone())
}

fn registry(s: &AppState, account: &str) -> Result<std::sync::Arc<RegistryClient>, HttpError> {
    Ok(s.integrations.registries.get(account)?.clone())
}

/// `GET /gate/v2/builds`: the masters' names.
pub async fn masters(State(s): State<AppState>) -> Json<Vec<String>> {
    Json(s.integrations.jenkins.names())
}

/// `GET /api/builds/masters`: every master with its health (never its token).
pub async fn health(State(s): State<AppState>) -> Json<Vec<MasterHealth>> {
    Json(s.integrations.jenkins.health().await)
}

/// `GET /gate/v2/builds/{master}/jobs`: every job's full name, through folders.
pub async fn jobs(State(s): State<AppState>, Path(name): Path<String>) -> Answer<Vec<String>> {
    Ok(Json(
        master(&s, &name)?
            .jobs()
            .await?
            .into_iter()
            .map(|j| j.name)
            .collect(),
    ))
}

/// `GET /gate/v2/builds/{master}/jobs/{job…}`: the job with its parameter definitions.
pub async fn job(
    State(s): State<AppState>,
    Path((name, job)): Path<(String, String)>,
) -> Answer<crate::jenkins::JobDetails> {
    Ok(Json(master(&s, &name)?.job(job.trim_matches('/')).await?))
}

/// `GET /gate/v2/builds/{master}/builds/{job…}`: the job's latest builds.
pub async fn builds(
    State(s): State<AppState>,
    Path((name, job)): Path<(String, String)>,
) -> Answer<Vec<crate::jenkins::BuildInfo>> {
    Ok(Json(
        master(&s, &name)?.builds(job.trim_matches('/')).await?,
    ))
}

/// `GET /gate/v2/builds/{master}/build/{number}/{job…}`: one build.
pub async fn build(
    State(s): State<AppState>,
    Path((name, number, job)): Path<(String, u64, String)>,
) -> Answer<Value> {
    let job = job.trim_matches('/');
    let mut v =
        serde_json::to_value(master(&s, &name)?.build(job, number).await?).unwrap_or_default();
    v["name"] = json!(job);
    Ok(Json(v))
}

#[derive(serde::Deserialize)]
pub struct TagsQuery {
    account: String,
    repository: String,
}

/// `GET /gate/images/tags?account=&repository=` (Gate's shape): a repository's tags.
pub async fn tags(State(s): State<AppState>, Query(q): Query<TagsQuery>) -> Answer<Vec<String>> {
    Ok(Json(registry(&s, &q.account)?.tags(&q.repository).await?))
}

/// `GET /api/registries/{account}/repositories`: the image picker's repositories.
pub async fn repositories(
    State(s): State<AppState>,
    Path(account): Path<String>,
) -> Answer<Vec<String>> {
    Ok(Json(registry(&s, &account)?.repositories().await?))
}

#[derive(serde::Deserialize)]
pub struct ImageQuery {
    repository: String,
    tag: String,
}

/// `GET /api/registries/{account}/image?repository=&tag=`: the image with its digest and the
/// `docker/image` artifact a pipeline would get.
pub async fn image(
    State(s): State<AppState>,
    Path(account): Path<String>,
    Query(q): Query<ImageQuery>,
) -> Answer<Value> {
    let client = registry(&s, &account)?;
    let digest = client.digest(&q.repository, &q.tag).await?;
    let image = crate::registries::Image {
        account,
        registry: client.host.clone(),
        repository: q.repository,
        tag: q.tag,
        digest: Some(digest),
    };
    Ok(Json(json!({"image": image, "artifact": image.artifact()})))
}
