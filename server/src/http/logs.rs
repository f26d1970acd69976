//! `GET /api/infrastructure/logs/download`: a pod's log as a file (`<pod>-<container>.log`),
//! for the Infrastructure tab's Download link. The same read as `infrastructure/logs`: the
//! caller's access to the application, its deploy targets, the newest
//! [`LOG_TAIL_LINES`](crate::infrastructure::LOG_TAIL_LINES) lines.

use axum::extract::{Extension, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use domain::RequestContext;
use domain::infrastructure::ObjectRef;
use serde::Deserialize;

use super::AppState;
use super::error::HttpError;

#[derive(Deserialize)]
pub struct DownloadQuery {
    application: String,
    account: String,
    namespace: String,
    pod: String,
    container: Option<String>,
    #[serde(default)]
    previous: bool,
}

pub async fn download(
    State(s): State<AppState>,
    Extension(rc): Extension<RequestContext>,
    Query(q): Query<DownloadQuery>,
) -> Result<Response, HttpError> {
    let pod = ObjectRef {
        application: q.application,
        account: q.account,
        namespace: q.namespace,
        kind: "Pod".into(),
        name: q.pod,
    };
    let text = s
        .services
        .infrastructure
        .logs(&rc, &pod, q.container.clone(), q.previous)
        .await?;
    let file = file_name(&pod.name, q.container.as_deref(), q.previous);
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        text,
    )
        .into_response())
}

/// `web-7d9-abc-main.log` (`…-previous.log` for the previous instance); only characters that
/// need no quoting in a header.
fn file_name(pod: &str, container: Option<&str>, previous: bool) -> String {
    let mut name: String = [Some(pod), container, previous.then_some("previous")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("-");
    name.retain(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    format!("{name}.log")
}

#[cfg(test)]
mod tests {
    #[test]
    fn file_names_are_safe_in_a_header() {
        assert_eq!(
            super::file_name("web-1", Some("main"), false),
            "web-1-main.log"
        );
        assert_eq!(super::file_name("web-1", None, true), "web-1-previous.log");
        assert_eq!(super::file_name("we\"b", Some("a;b"), false), "web-ab.log");
    }
}
