//! HTTP: paths, verbs and query parameters (reference §1), list and watch (§5, §6), and the
//! simulator's own test hooks under `/simulator/`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::Cluster;
use crate::objects::{self, Part, Propagation, Writer};
use crate::patch;
use crate::resources::{self, TYPES};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{ApiError, Broadcast, Change, Key, State, name_of, with_type, without_type};

fn json_response(code: u16, body: &Value) -> Response {
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::OK),
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn error_response(e: ApiError) -> Response {
    json_response(e.code, &e.status())
}

/// Go's plain-text answer for paths no handler serves (reference §3).
fn page_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "404 page not found\n",
    )
        .into_response()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query parameters; kube-rs starts its query strings with `?&`, so empty pairs are skipped.
pub fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// What a resource path names.
#[derive(Debug)]
struct Target {
    type_index: usize,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

fn parse_target(segments: &[&str]) -> Option<Target> {
    let (group, version, rest) = match segments {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, tail @ ..] if !matches!(*plural, "status" | "finalize") => {
            (Some(ns.to_string()), {
                let mut v = vec![*plural];
                v.extend_from_slice(tail);
                v
            })
        }
        _ => (None, rest.to_vec()),
    };
    let (plural, name, subresource) = match rest.as_slice() {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some(name.to_string()), None),
        [plural, name, sub] => (*plural, Some(name.to_string()), Some(sub.to_string())),
        _ => return None,
    };
    let type_index = resources::find(group, version, plural)?;
    let t = &TYPES[type_index];
    if namespace.is_some() && !t.namespaced {
        return None;
    }
    if let Some(sub) = &subresource
        && !t.subresources.contains(&sub.as_str())
    {
        return None;
    }
    Some(Target {
        type_index,
        namespace,
        name,
        subresource,
    })
}

pub async fn handle(
    cluster: Arc<Cluster>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().trim_end_matches('/').to_owned();
    let query = parse_query(uri.query());
    if let Some(hook) = path.strip_prefix("/simulator/") {
        return test_hook(&cluster, &method, hook, &body);
    }
    // As with anonymous auth on a real API server, /version and the health endpoints are open
    // to everyone (system:public-info-viewer); everything else needs the token.
    let public = matches!(
        path.as_str(),
        "/version" | "/healthz" | "/readyz" | "/livez"
    );
    if let Some(token) = cluster.token.as_ref().filter(|_| !public) {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if presented != Some(token.as_str()) {
            return error_response(ApiError::new(401, "Unauthorized", "Unauthorized"));
        }
    }
    if let Some(response) = cluster.injected_fault(&path).await {
        return response;
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if method == Method::GET {
        let document = match segments.as_slice() {
            ["version"] => Some(resources::version_document()),
            ["api"] => Some(resources::core_versions()),
            ["apis"] => Some(resources::group_list()),
            ["api", v] => resources::resource_list("", v),
            ["apis", g] => resources::group_document(g),
            ["apis", g, v] => resources::resource_list(g, v),
            ["healthz"] | ["readyz"] | ["livez"] => return (StatusCode::OK, "ok").into_response(),
            _ => None,
        };
        if let Some(d) = document {
            return json_response(200, &d);
        }
        if matches!(
            segments.as_slice(),
            ["api", _] | ["apis", _] | ["apis", _, _]
        ) {
            return page_not_found();
        }
    }
    let Some(target) = parse_target(&segments) else {
        return page_not_found();
    };
    let manager = query
        .get("fieldManager")
        .cloned()
        .or_else(|| {
            headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|ua| ua.split('/').next().unwrap_or(ua).to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let writer = Writer {
        manager,
        dry_run: query.get("dryRun").is_some_and(|v| v == "All"),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let content_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();

    let watching = query.get("watch").is_some_and(|v| v == "true" || v == "1");
    let response = match (&method, &target.name, target.subresource.as_deref()) {
        (&Method::GET, None, _) if watching => return watch(cluster, target, &query),
        (&Method::GET, None, _) => list(&cluster, &target, &query),
        (&Method::GET, Some(_), Some("log")) => return pod_log(&cluster, &target, &query),
        (&Method::GET, Some(_), Some("scale")) => get_scale(&cluster, &target),
        (&Method::GET, Some(_), _) => get(&cluster, &target),
        (&Method::POST, None, None) => create(&cluster, &target, &body, &writer),
        (&Method::PUT, Some(_), sub) => replace(&cluster, &target, &body, &writer, sub),
        (&Method::PATCH, Some(_), sub) => patch_object(
            &cluster,
            &target,
            &body,
            &writer,
            &content_type,
            &query,
            sub,
        ),
        (&Method::DELETE, Some(_), None) => {
            delete(&cluster, &target, &body, &query, writer.dry_run)
        }
        (&Method::DELETE, None, None) => {
            delete_collection(&cluster, &target, &query, writer.dry_run)
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )),
    };
    match response {
        Ok((code, body)) => {
            cluster.changed.notify_one();
            json_response(code, &body)
        }
        Err(e) => error_response(e),
    }
}

type Answer = Result<(u16, Value), ApiError>;

fn key_of(target: &Target) -> Key {
    (
        target.type_index,
        target.namespace.clone().unwrap_or_default(),
        target.name.clone().unwrap_or_default(),
    )
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}

fn selectors(query: &HashMap<String, String>) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(
        query
            .get("labelSelector")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .map_err(ApiError::bad_request)?;
    let fields = FieldSelector::parse(
        query
            .get("fieldSelector")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .map_err(ApiError::bad_request)?;
    Ok((labels, fields))
}

fn matches(object: &Value, labels: &LabelSelector, fields: &FieldSelector) -> bool {
    labels.matches(object["metadata"]["labels"].as_object()) && fields.matches(object)
}

fn get(cluster: &Cluster, target: &Target) -> Answer {
    let state = cluster.state.lock().expect("the store lock");
    let key = key_of(target);
    match state.objects.get(&key) {
        Some(o) => Ok((200, with_type(target.type_index, o.clone()))),
        None => Err(ApiError::not_found(&TYPES[target.type_index], &key.2)),
    }
}

fn continue_token(rv: u64, key: &Key) -> String {
    let raw = format!("{rv}\u{1f}{}\u{1f}{}", key.1, key.2);
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

fn parse_continue(token: &str) -> Option<(u64, String, String)> {
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| {
            token
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    let mut parts = text.split('\u{1f}');
    Some((
        parts.next()?.parse().ok()?,
        parts.next()?.to_owned(),
        parts.next()?.to_owned(),
    ))
}

fn list(cluster: &Cluster, target: &Target, query: &HashMap<String, String>) -> Answer {
    let (labels, fields) = selectors(query)?;
    let state = cluster.state.lock().expect("the store lock");
    let t = &TYPES[target.type_index];
    let after = match query.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let (rv, ns, name) = parse_continue(token)
                .ok_or_else(|| ApiError::bad_request("invalid continue token"))?;
            if rv < state.compacted_rv {
                return Err(ApiError::expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                ));
            }
            Some((ns, name))
        }
        None => None,
    };
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let matching: Vec<(&Key, &Value)> = state
        .of_type(target.type_index, target.namespace.as_deref())
        .filter(|(k, _)| {
            after
                .as_ref()
                .is_none_or(|(ns, name)| (&k.1, &k.2) > (ns, name))
        })
        .filter(|(_, o)| matches(o, &labels, &fields))
        .collect();
    let total = matching.len();
    let page: Vec<(&Key, &Value)> = matching
        .into_iter()
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    let mut metadata = json!({"resourceVersion": state.rv.to_string()});
    if let Some(limit) = limit
        && total > limit
        && let Some((last, _)) = page.last()
    {
        metadata["continue"] = json!(continue_token(state.rv, last));
        metadata["remainingItemCount"] = json!(total - limit);
    }
    let items: Vec<Value> = page
        .into_iter()
        .map(|(_, o)| without_type(o.clone()))
        .collect();
    Ok((
        200,
        json!({"kind": format!("{}List", t.kind), "apiVersion": t.api_version(), "metadata": metadata, "items": items}),
    ))
}

fn create(cluster: &Cluster, target: &Target, body: &Bytes, writer: &Writer) -> Answer {
    let object = parse_body(body)?;
    check_type(target, &object)?;
    let mut state = cluster.state.lock().expect("the store lock");
    let created = objects::create(
        &mut state,
        target.type_index,
        target.namespace.as_deref().unwrap_or_default(),
        object,
        writer,
    )?;
    Ok((201, created))
}

fn check_type(target: &Target, object: &Value) -> Result<(), ApiError> {
    let t = &TYPES[target.type_index];
    if let Some(kind) = object["kind"].as_str()
        && kind != t.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind of the object ({kind}) does not match the resource ({})",
            t.qualified()
        )));
    }
    Ok(())
}

fn part(sub: Option<&str>) -> Part {
    if sub == Some("status") {
        Part::Status
    } else {
        Part::Main
    }
}

fn replace(
    cluster: &Cluster,
    target: &Target,
    body: &Bytes,
    writer: &Writer,
    sub: Option<&str>,
) -> Answer {
    let new = parse_body(body)?;
    let key = key_of(target);
    let mut state = cluster.state.lock().expect("the store lock");
    let t = &TYPES[target.type_index];
    if sub == Some("scale") {
        let old = state
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(t, &key.2))?;
        return write_scale(&mut state, target, &key, &old, new, writer);
    }
    check_type(target, &new)?;
    match state.objects.get(&key).cloned() {
        Some(old) => Ok((
            200,
            objects::update(&mut state, &key, &old, new, part(sub), writer, true)?,
        )),
        None if sub.is_none() => {
            // PUT to a missing object creates it.
            if name_of(&new) != key.2 {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({}) does not match the name on the URL ({})",
                    name_of(&new),
                    key.2
                )));
            }
            Ok((
                201,
                objects::create(&mut state, target.type_index, &key.1, new, writer)?,
            ))
        }
        None => Err(ApiError::not_found(t, &key.2)),
    }
}

fn scale_of(object: &Value) -> Value {
    let selector = &object["spec"]["selector"];
    let selector_text: Vec<String> = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    let mut status = json!({"selector": selector_text.join(",")});
    if let Some(r) = object["status"]["replicas"].as_i64().filter(|r| *r > 0) {
        status["replicas"] = json!(r);
    } else {
        status["replicas"] = json!(0);
    }
    json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": object["metadata"]["name"], "namespace": object["metadata"]["namespace"], "uid": object["metadata"]["uid"],
            "resourceVersion": object["metadata"]["resourceVersion"], "creationTimestamp": object["metadata"]["creationTimestamp"]},
        "spec": {"replicas": object["spec"]["replicas"].as_i64().unwrap_or(1)}, "status": status})
}

fn get_scale(cluster: &Cluster, target: &Target) -> Answer {
    let (_, object) = get(cluster, target)?;
    Ok((200, scale_of(&object)))
}

fn write_scale(
    state: &mut State,
    target: &Target,
    key: &Key,
    old: &Value,
    scale: Value,
    writer: &Writer,
) -> Answer {
    let replicas = scale["spec"]["replicas"].as_i64().ok_or_else(|| {
        ApiError::invalid(
            &TYPES[target.type_index],
            &key.2,
            vec![("spec.replicas".into(), "Required value".into())],
        )
    })?;
    if replicas < 0 {
        return Err(ApiError::invalid(
            &TYPES[target.type_index],
            &key.2,
            vec![(
                "spec.replicas".into(),
                format!("Invalid value: {replicas}: must be greater than or equal to 0"),
            )],
        ));
    }
    if let Some(rv) = scale["metadata"]["resourceVersion"].as_str()
        && !rv.is_empty()
        && Some(rv) != old["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::conflict(&TYPES[target.type_index], &key.2));
    }
    let mut new = old.clone();
    new["spec"]["replicas"] = json!(replicas);
    let updated = objects::update(state, key, old, new, Part::Main, writer, true)?;
    Ok((200, scale_of(&updated)))
}

fn patch_object(
    cluster: &Cluster,
    target: &Target,
    body: &Bytes,
    writer: &Writer,
    content_type: &str,
    query: &HashMap<String, String>,
    sub: Option<&str>,
) -> Answer {
    let t = &TYPES[target.type_index];
    let key = key_of(target);
    let force = query.get("force").is_some_and(|v| v == "true");
    if content_type == "application/apply-patch+yaml" {
        if !query.contains_key("fieldManager") {
            return Err(ApiError::new(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch")
                .with_details(json!({"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [{"reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"}]})));
        }
        if sub == Some("scale") {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                "apply is not supported on the scale subresource by this simulator",
            ));
        }
        let applied = parse_body(body)?;
        let mut state = cluster.state.lock().expect("the store lock");
        let (object, created) = objects::apply(
            &mut state,
            target.type_index,
            &key.1,
            &key.2,
            applied,
            part(sub),
            writer,
            force,
        )?;
        return Ok((if created { 201 } else { 200 }, object));
    }
    if force {
        return Err(ApiError::new(
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch",
        ));
    }
    let patch_body = parse_body(body)?;
    let mut state = cluster.state.lock().expect("the store lock");
    let old = state
        .objects
        .get(&key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(t, &key.2))?;
    let base = if sub == Some("scale") {
        scale_of(&old)
    } else {
        with_type(target.type_index, old.clone())
    };
    let mut patched = base.clone();
    match content_type {
        "application/json-patch+json" => {
            patch::json_patch(&mut patched, &patch_body).map_err(ApiError::bad_request)?
        }
        "application/merge-patch+json" => patch::merge_patch(&mut patched, &patch_body),
        "application/strategic-merge-patch+json" => {
            patch::strategic_merge(&mut patched, &patch_body, "").map_err(ApiError::bad_request)?
        }
        other => {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other})"
                ),
            ));
        }
    }
    // A resourceVersion in the patch is a precondition; otherwise the patch applies to the
    // current object and cannot conflict.
    let precondition = patch_body["metadata"]["resourceVersion"]
        .as_str()
        .map(str::to_owned);
    patched["metadata"]["resourceVersion"] = json!(precondition.unwrap_or_else(|| {
        old["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }));
    if sub == Some("scale") {
        return write_scale(&mut state, target, &key, &old, patched, writer);
    }
    Ok((
        200,
        objects::update(&mut state, &key, &old, patched, part(sub), writer, true)?,
    ))
}

fn propagation(
    body: &Bytes,
    query: &HashMap<String, String>,
) -> Result<(Propagation, Option<String>), ApiError> {
    let options: Value = if body.is_empty() {
        json!({})
    } else {
        parse_body(body)?
    };
    let policy = options["propagationPolicy"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| query.get("propagationPolicy").cloned());
    let propagation = match policy.as_deref() {
        None | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unsupported propagationPolicy {other:?}"
            )));
        }
    };
    Ok((
        propagation,
        options["preconditions"]["uid"].as_str().map(str::to_owned),
    ))
}

fn delete(
    cluster: &Cluster,
    target: &Target,
    body: &Bytes,
    query: &HashMap<String, String>,
    dry_run: bool,
) -> Answer {
    let (propagation, uid) = propagation(body, query)?;
    let mut state = cluster.state.lock().expect("the store lock");
    let key = key_of(target);
    let answer = objects::delete(&mut state, &key, propagation, uid.as_deref(), dry_run)?;
    Ok((200, answer))
}

fn delete_collection(
    cluster: &Cluster,
    target: &Target,
    query: &HashMap<String, String>,
    dry_run: bool,
) -> Answer {
    let (labels, fields) = selectors(query)?;
    let mut state = cluster.state.lock().expect("the store lock");
    let keys: Vec<Key> = state
        .of_type(target.type_index, target.namespace.as_deref())
        .filter(|(_, o)| matches(o, &labels, &fields))
        .map(|(k, _)| k.clone())
        .collect();
    let mut items = Vec::new();
    for key in keys {
        if let Some(o) = state.objects.get(&key).cloned() {
            items.push(without_type(o));
        }
        objects::delete(&mut state, &key, Propagation::Background, None, dry_run)?;
    }
    let t = &TYPES[target.type_index];
    Ok((
        200,
        json!({"kind": format!("{}List", t.kind), "apiVersion": t.api_version(), "metadata": {"resourceVersion": state.rv.to_string()}, "items": items}),
    ))
}

fn pod_log(cluster: &Cluster, target: &Target, query: &HashMap<String, String>) -> Response {
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
    match crate::controllers::behaviour_of(image) {
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

fn watch(cluster: Arc<Cluster>, target: Target, query: &HashMap<String, String>) -> Response {
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
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
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

fn test_hook(cluster: &Cluster, method: &Method, hook: &str, body: &Bytes) -> Response {
    match (method, hook) {
        (&Method::POST, "expire-watches") => {
            cluster
                .state
                .lock()
                .expect("the store lock")
                .expire_watches();
            json_response(200, &json!({"expired": true}))
        }
        (&Method::POST, "faults") => {
            let spec: Value = serde_json::from_slice(body).unwrap_or(json!({}));
            cluster.set_faults(&spec);
            json_response(200, &spec)
        }
        (&Method::GET, "healthz") => (StatusCode::OK, "ok").into_response(),
        _ => page_not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_rs_queries_start_with_an_empty_pair() {
        let q = parse_query(Some(
            "&labelSelector=app%3Dweb%2Ctier+in+%28a%29&watch=true",
        ));
        assert_eq!(q["labelSelector"], "app=web,tier in (a)");
        assert_eq!(q["watch"], "true");
    }

    #[test]
    fn paths_name_types_namespaces_and_subresources() {
        let t = parse_target(&[
            "apis",
            "apps",
            "v1",
            "namespaces",
            "prod",
            "deployments",
            "web",
            "scale",
        ])
        .unwrap();
        assert_eq!(
            (
                TYPES[t.type_index].plural,
                t.namespace.as_deref(),
                t.name.as_deref(),
                t.subresource.as_deref()
            ),
            ("deployments", Some("prod"), Some("web"), Some("scale"))
        );
        let ns = parse_target(&["api", "v1", "namespaces", "prod"]).unwrap();
        assert_eq!(
            (TYPES[ns.type_index].plural, ns.name.as_deref()),
            ("namespaces", Some("prod"))
        );
        let all = parse_target(&["api", "v1", "pods"]).unwrap();
        assert!(all.namespace.is_none() && all.name.is_none());
        assert!(parse_target(&["apis", "apps", "v1", "namespaces", "prod", "widgets"]).is_none());
        assert!(
            parse_target(&[
                "apis",
                "apps",
                "v1",
                "namespaces",
                "prod",
                "deployments",
                "web",
                "log"
            ])
            .is_none()
        );
    }

    #[test]
    fn continue_tokens_round_trip() {
        let key: Key = (1, "prod".into(), "web-1".into());
        assert_eq!(
            parse_continue(&continue_token(42, &key)),
            Some((42, "prod".into(), "web-1".into()))
        );
    }
}
