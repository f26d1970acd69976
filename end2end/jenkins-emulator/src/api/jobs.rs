//! Everything under `/job/<a>/job/<b>/…`: folder and job JSON, triggering (reference §4), and a
//! build's pages: JSON, console and progressive logs (§8), artifacts (§9), stop and description.

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::model::{Cause, Enqueued, State};

use super::auth::Caller;
use super::render::{Render, job_path};
use super::responses::{json_response, method_not_allowed, not_found, page, redirect};

/// The routes of the folder or job named by the leading `job/<name>` segments.
#[allow(clippy::too_many_arguments)]
pub(super) fn route(
    state: &mut State,
    caller: &Caller,
    method: &Method,
    segs: &[&str],
    query: &HashMap<String, String>,
    pairs: &[(String, String)],
    headers: &HeaderMap,
    base: &str,
    now: u64,
    full: bool,
) -> Response {
    // /job/a/job/b/...
    let mut names = Vec::new();
    let mut at = 0;
    while at + 1 < segs.len() && segs[at] == "job" {
        names.push(segs[at + 1]);
        at += 2;
    }
    if names.is_empty() {
        return not_found();
    }
    let name = names.join("/");
    let rest = &segs[at..];
    if state.folders.contains(&name) {
        return match rest {
            ["api", "json"] => {
                json_response(&Render { state, base, now }.folder(&name, full), query)
            }
            _ => not_found(),
        };
    }
    let Some(job) = state.jobs.get(&name) else {
        return not_found();
    };
    let remote = || Cause::User(caller.name().to_owned());
    match rest {
        ["api", "json"] => json_response(&Render { state, base, now }.job(job, full), query),
        ["buildWithParameters"] | ["build"] => {
            let with_parameters = rest[0] == "buildWithParameters";
            let token_ok = match (&job.def.auth_token, query.get("token")) {
                (Some(t), Some(given)) if t == given => true,
                (_, Some(_)) => return page(StatusCode::FORBIDDEN, "Invalid token provided"),
                _ => false,
            };
            if *method != Method::POST && !token_ok {
                let mut r = page(StatusCode::METHOD_NOT_ALLOWED, "This URL requires POST");
                r.headers_mut()
                    .insert("allow", HeaderValue::from_static("POST"));
                return r;
            }
            if with_parameters && !job.parameterized() {
                return page(
                    StatusCode::BAD_REQUEST,
                    &format!("{name} is not parameterized"),
                );
            }
            if !with_parameters && job.parameterized() {
                return page(StatusCode::BAD_REQUEST, "Nothing is submitted");
            }
            if !job.buildable() {
                return page(StatusCode::CONFLICT, &format!("{name} is not buildable"));
            }
            let mut given: Vec<(String, String)> = Vec::new();
            for def in &job.def.parameters {
                let values: Vec<&String> = pairs
                    .iter()
                    .filter(|(k, _)| *k == def.name)
                    .map(|(_, v)| v)
                    .collect();
                if values.len() > 1 {
                    return page(
                        StatusCode::BAD_REQUEST,
                        &format!("More than one value for the parameter {}", def.name),
                    );
                }
                if let Some(v) = values.first() {
                    if def.kind() == "choice" && !def.choices.contains(v) {
                        return page(
                            StatusCode::BAD_REQUEST,
                            &format!("Illegal choice for parameter {}: {v}", def.name),
                        );
                    }
                    given.push((def.name.clone(), (*v).clone()));
                }
            }
            let delay = match query.get("delay").map(|d| parse_delay(d)) {
                Some(Ok(d)) => Some(d),
                Some(Err(())) => return page(StatusCode::BAD_REQUEST, "Invalid delay"),
                None => None,
            };
            let cause = if token_ok {
                Cause::Remote("127.0.0.1".into())
            } else {
                remote()
            };
            let location = |id: u64| format!("{base}queue/item/{id}/");
            match state.enqueue(&name, &given, true, cause, delay, now) {
                Enqueued::New(id) => redirect(StatusCode::CREATED, &location(id)),
                Enqueued::Existing(id) if with_parameters => {
                    redirect(StatusCode::SEE_OTHER, &location(id))
                }
                Enqueued::Existing(id) => redirect(StatusCode::CREATED, &location(id)),
            }
        }
        [build, more @ ..] => {
            let Some(b) = job.resolve(build) else {
                return not_found();
            };
            let number = b.number;
            let build_url = format!("{base}{}{number}/", job_path(&name));
            match more {
                [] => (
                    StatusCode::OK,
                    [("content-type", "text/html;charset=utf-8")],
                    format!("<html><body>{name} #{number}</body></html>"),
                )
                    .into_response(),
                ["api", "json"] => json_response(&Render { state, base, now }.build(job, b), query),
                ["consoleText"] => (
                    StatusCode::OK,
                    [("content-type", "text/plain;charset=utf-8")],
                    b.log.clone(),
                )
                    .into_response(),
                ["logText", "progressiveText"] => {
                    let start = match query.get("start").map(|s| s.parse::<usize>()) {
                        None => 0,
                        Some(Ok(s)) => s,
                        Some(Err(_)) => {
                            return page(
                                StatusCode::INTERNAL_SERVER_ERROR,
                                "java.lang.NumberFormatException: start",
                            );
                        }
                    };
                    let start = if start > b.log.len() { 0 } else { start };
                    let mut r = (
                        StatusCode::OK,
                        [("content-type", "text/plain;charset=utf-8")],
                        b.log[start..].to_vec(),
                    )
                        .into_response();
                    r.headers_mut()
                        .insert("x-text-size", HeaderValue::from(b.log.len()));
                    if b.in_progress() {
                        r.headers_mut()
                            .insert("x-more-data", HeaderValue::from_static("true"));
                    }
                    r
                }
                ["artifact", path @ ..] => {
                    let wanted = path.join("/");
                    match b.artifacts.iter().find(|(p, _)| *p == wanted) {
                        Some((_, bytes)) => (
                            StatusCode::OK,
                            [("content-type", "application/octet-stream")],
                            bytes.clone(),
                        )
                            .into_response(),
                        None => not_found(),
                    }
                }
                ["stop"] | ["term"] | ["kill"] => {
                    if *method != Method::POST {
                        return method_not_allowed();
                    }
                    let by = caller.name().to_owned();
                    state.stop(&name, number, &by);
                    let back = headers
                        .get("referer")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                        .unwrap_or(build_url);
                    redirect(StatusCode::FOUND, &back)
                }
                ["submitDescription"] => {
                    if *method != Method::POST {
                        return method_not_allowed();
                    }
                    let description = query.get("description").cloned();
                    if let Some(b) = state.jobs.get_mut(&name).and_then(|j| j.build_mut(number)) {
                        b.description = description;
                    }
                    redirect(StatusCode::FOUND, &build_url)
                }
                _ => not_found(),
            }
        }
        _ => (
            StatusCode::OK,
            [("content-type", "text/html;charset=utf-8")],
            format!("<html><body>{name}</body></html>"),
        )
            .into_response(),
    }
}

/// `delay`: milliseconds, or seconds with a `sec`/`secs` suffix (reference §4).
fn parse_delay(text: &str) -> Result<u64, ()> {
    let t = text.trim();
    if let Some(secs) = t.strip_suffix("secs").or_else(|| t.strip_suffix("sec")) {
        return secs.trim().parse::<u64>().map(|s| s * 1000).map_err(|_| ());
    }
    t.parse::<u64>().map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_and_job_paths() {
        assert_eq!(parse_delay("250"), Ok(250));
        assert_eq!(parse_delay("3sec"), Ok(3000));
        assert_eq!(parse_delay("0secs"), Ok(0));
        assert!(parse_delay("soon").is_err());
        assert_eq!(job_path("team/my app"), "job/team/job/my%20app/");
    }
}
