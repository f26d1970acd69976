//! Pod logs (`/log`): what the simulated container says, by container, `tailLines` and
//! `previous` (the instance before the last restart).

use std::collections::HashMap;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Cluster;
use crate::store::{ApiError, name_of};

use super::read::get;
use super::{Target, error_response};

pub(super) fn pod_log(
    cluster: &Cluster,
    target: &Target,
    query: &HashMap<String, String>,
) -> Response {
    let (_, pod) = match get(cluster, target) {
        Ok(p) => p,
        Err(e) => return error_response(e),
    };
    let containers: Vec<&Value> = pod["spec"]["containers"]
        .as_array()
        .map(|c| c.iter().collect())
        .unwrap_or_default();
    let container = match query.get("container") {
        Some(name) => match containers.iter().find(|c| c["name"] == json!(name)) {
            Some(c) => *c,
            None => {
                return error_response(ApiError::bad_request(format!(
                    "container {name} is not valid for pod {}",
                    name_of(&pod)
                )));
            }
        },
        None if containers.len() == 1 => containers[0],
        None => {
            let names: Vec<&str> = containers
                .iter()
                .filter_map(|c| c["name"].as_str())
                .collect();
            return error_response(ApiError::bad_request(format!(
                "a container name must be specified for pod {}, choose one of: [{}]",
                name_of(&pod),
                names.join(" ")
            )));
        }
    };
    let status = pod["status"]["containerStatuses"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == container["name"]))
        .cloned()
        .unwrap_or(Value::Null);
    let image = container["image"].as_str().unwrap_or_default();
    let cname = container["name"].as_str().unwrap_or_default();
    let mut lines = vec![
        format!(
            "simulated container {cname} of pod {}/{} on {}",
            target.namespace.as_deref().unwrap_or_default(),
            name_of(&pod),
            pod["spec"]["nodeName"].as_str().unwrap_or("?")
        ),
        format!("image {image}"),
    ];
    let behaviour = crate::controllers::behaviour_of(image);
    // `previous=true`: the last terminated instance of the container, as the kubelet keeps it;
    // only a container that restarted has one.
    if query.get("previous").is_some_and(|v| v == "true") {
        let restarts = status["restartCount"].as_i64().unwrap_or(0);
        if !matches!(behaviour, crate::controllers::Behaviour::Crash) || restarts == 0 {
            return error_response(ApiError::bad_request(format!(
                "previous terminated container \"{cname}\" in pod \"{}\" not found",
                name_of(&pod)
            )));
        }
        lines.push(format!(
            "start #{}: the image is marked to crash; exiting with code 1",
            restarts - 1
        ));
        let mut text = lines.join("\n");
        text.push('\n');
        return (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], text).into_response();
    }
    match behaviour {
        crate::controllers::Behaviour::Crash => {
            let restarts = status["restartCount"].as_i64().unwrap_or(0);
            for n in 0..=restarts.min(20) {
                lines.push(format!(
                    "start #{n}: the image is marked to crash; exiting with code 1"
                ));
            }
        }
        crate::controllers::Behaviour::PullError => {
            return error_response(ApiError::bad_request(format!(
                "container \"{cname}\" in pod \"{}\" is waiting to start: trying and failing to pull image",
                name_of(&pod)
            )));
        }
        crate::controllers::Behaviour::NeverReady => {
            lines.push("listening, but the readiness probe never passes".into())
        }
        _ if status["started"] == json!(true) => lines.push("started; serving".into()),
        _ => lines.push("waiting to start".into()),
    }
    if let Some(n) = query.get("tailLines").and_then(|n| n.parse::<usize>().ok()) {
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
    }
    let mut text = lines.join("\n");
    text.push('\n');
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], text).into_response()
}
