//! Jenkins' HTTP API over the state: URL walking (reference §1), JSON (§2), auth and crumbs (§3),
//! triggering (§4), the queue (§5), jobs (§6), builds (§7), logs (§8) and artifacts (§9).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::Digest;

use crate::Jenkins;
use crate::model::{Build, Cause, Enqueued, ItemState, Job, QueueItem, State};
use crate::tree;

pub const VERSION: &str = "2.479.3";

fn job_class(job: &Job) -> &'static str {
    if job.def.kind.as_deref() == Some("pipeline") {
        "org.jenkinsci.plugins.workflow.job.WorkflowJob"
    } else {
        "hudson.model.FreeStyleProject"
    }
}

fn build_class(job: &Job) -> &'static str {
    if job.def.kind.as_deref() == Some("pipeline") {
        "org.jenkinsci.plugins.workflow.job.WorkflowRun"
    } else {
        "hudson.model.FreeStyleBuild"
    }
}

const FOLDER_CLASS: &str = "com.cloudbees.hudson.plugins.folder.Folder";

/// What stays unencoded in a URL path segment.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `job/a/job/b/` for full name `a/b`, each segment percent-encoded.
fn job_path(full_name: &str) -> String {
    full_name
        .split('/')
        .map(|s| format!("job/{}/", percent_encoding::utf8_percent_encode(s, SEGMENT)))
        .collect()
}

struct Render<'a> {
    state: &'a State,
    base: &'a str,
    now: u64,
}

impl Render<'_> {
    fn job_url(&self, name: &str) -> String {
        format!("{}{}", self.base, job_path(name))
    }

    fn build_ref(&self, job: &Job, b: &Build) -> Value {
        json!({"_class": build_class(job), "number": b.number, "url": format!("{}{}/", self.job_url(&job.def.name), b.number)})
    }

    fn parameters_action(&self, job: &Job, params: &[(String, String)]) -> Value {
        let values: Vec<Value> = params
            .iter()
            .map(|(name, value)| {
                let def = job.def.parameters.iter().find(|p| &p.name == name);
                let class = def.map_or("hudson.model.StringParameterValue", |d| d.classes().1);
                let value = if def.is_some_and(|d| d.kind() == "boolean") {
                    json!(value == "true")
                } else {
                    json!(value)
                };
                json!({"_class": class, "name": name, "value": value})
            })
            .collect();
        json!({"_class": "hudson.model.ParametersAction", "parameters": values})
    }

    fn cause_action(cause: &Cause) -> Value {
        let c = match cause {
            Cause::User(u) => {
                json!({"_class": "hudson.model.Cause$UserIdCause", "shortDescription": format!("Started by user {u}"), "userId": u, "userName": u})
            }
            Cause::Remote(a) => {
                json!({"_class": "hudson.model.Cause$RemoteCause", "shortDescription": format!("Started by remote host {a}"), "addr": a, "note": null})
            }
        };
        json!({"_class": "hudson.model.CauseAction", "causes": [c]})
    }

    fn actions(&self, job: &Job, params: &[(String, String)], cause: &Cause) -> Vec<Value> {
        let mut actions = Vec::new();
        if job.parameterized() {
            actions.push(self.parameters_action(job, params));
        }
        actions.push(Self::cause_action(cause));
        actions
    }

    fn build(&self, job: &Job, b: &Build) -> Value {
        let url = format!("{}{}/", self.job_url(&job.def.name), b.number);
        let many = b.artifacts.len() > 20;
        let artifacts: Vec<Value> = b
            .artifacts
            .iter()
            .map(|(path, _)| {
                let file = path.rsplit('/').next().unwrap_or(path);
                let display = if many { Value::Null } else { json!(file) };
                json!({"displayPath": display, "fileName": file, "relativePath": path})
            })
            .collect();
        json!({
            "_class": build_class(job),
            "actions": self.actions(job, &b.params, &b.cause),
            "artifacts": artifacts,
            "building": b.building(),
            "description": b.description,
            "displayName": format!("#{}", b.number),
            "duration": if b.building() { 0 } else { b.duration },
            "estimatedDuration": job.estimated_duration(),
            "executor": null,
            "fullDisplayName": format!("{} #{}", job.def.name.replace('/', " » "), b.number),
            "id": b.number.to_string(),
            "inProgress": b.in_progress(),
            "keepLog": false,
            "number": b.number,
            "queueId": b.queue_id,
            "result": b.result,
            "timestamp": b.timestamp,
            "url": url,
        })
    }

    fn queue_item(&self, item: &QueueItem, full: bool) -> Value {
        let job = &self.state.jobs[&item.job];
        let params: String = item
            .params
            .iter()
            .map(|(k, v)| format!("\n{k}={v}"))
            .collect();
        let (class, why) = match &item.state {
            ItemState::Waiting => {
                let left = item.quiet_until.saturating_sub(self.now) as f64 / 1000.0;
                (
                    "hudson.model.Queue$WaitingItem",
                    json!(format!("In the quiet period. Expires in {left:.1} sec")),
                )
            }
            ItemState::Blocked => (
                "hudson.model.Queue$BlockedItem",
                json!(format!(
                    "Build #{} is already in progress",
                    job.builds.last().map_or(0, |b| b.number)
                )),
            ),
            ItemState::Buildable => (
                "hudson.model.Queue$BuildableItem",
                json!("Waiting for next available executor"),
            ),
            ItemState::Left { .. } => ("hudson.model.Queue$LeftItem", Value::Null),
        };
        let mut v = json!({
            "_class": class,
            "actions": self.actions(job, &item.params, &item.cause),
            "blocked": item.state == ItemState::Blocked,
            "buildable": item.state == ItemState::Buildable,
            "id": item.id,
            "inQueueSince": item.in_queue_since,
            "params": params,
            "stuck": false,
            "task": {"_class": job_class(job), "name": job.def.name.rsplit('/').next().unwrap_or_default(), "url": self.job_url(&job.def.name), "color": job.color()},
            "url": format!("queue/item/{}/", item.id),
            "why": why,
        });
        match &item.state {
            ItemState::Waiting => v["timestamp"] = json!(item.quiet_until),
            ItemState::Blocked => v["buildableStartMilliseconds"] = json!(item.buildable_since),
            ItemState::Buildable => {
                v["buildableStartMilliseconds"] = json!(item.buildable_since);
                v["pending"] = json!(false);
            }
            ItemState::Left {
                cancelled,
                executable,
                ..
            } => {
                v["cancelled"] = json!(cancelled);
                v["executable"] = match executable.and_then(|n| job.build(n)) {
                    Some(b) if full => self.build(job, b),
                    Some(b) => self.build_ref(job, b),
                    None => Value::Null,
                };
            }
        }
        v
    }

    /// A job; `full` is the form `tree=` selects from (nested objects whole, `allBuilds`).
    fn job(&self, job: &Job, full: bool) -> Value {
        let name = &job.def.name;
        let short = name.rsplit('/').next().unwrap_or(name);
        let link = |b: Option<&Build>| {
            b.map_or(Value::Null, |b| {
                if full {
                    self.build(job, b)
                } else {
                    self.build_ref(job, b)
                }
            })
        };
        let newest: Vec<&Build> = job.builds.iter().rev().collect();
        let builds: Vec<Value> = newest.iter().take(100).map(|b| link(Some(b))).collect();
        let definitions: Vec<Value> = job
            .def
            .parameters
            .iter()
            .map(|p| {
                let (class, value_class) = p.classes();
                let mut d = json!({
                    "_class": class,
                    "defaultParameterValue": {"_class": value_class, "name": p.name, "value": if p.kind() == "boolean" { json!(p.default_value() == "true") } else { json!(p.default_value()) }},
                    "description": p.description,
                    "name": p.name,
                    "type": p.type_name(),
                });
                if p.kind() == "choice" {
                    d["choices"] = json!(p.choices);
                }
                d
            })
            .collect();
        let mut property = Vec::new();
        if !definitions.is_empty() {
            property.push(json!({"_class": "hudson.model.ParametersDefinitionProperty", "parameterDefinitions": definitions}));
        }
        let queued = self
            .state
            .queue
            .values()
            .find(|i| &i.job == name && !matches!(i.state, ItemState::Left { .. }));
        let mut v = json!({
            "_class": job_class(job),
            "actions": [],
            "description": job.def.description,
            "displayName": short,
            "displayNameOrNull": null,
            "fullDisplayName": name.replace('/', " » "),
            "fullName": name,
            "name": short,
            "url": self.job_url(name),
            "buildable": job.buildable(),
            "builds": builds,
            "color": job.color(),
            "firstBuild": link(job.builds.first()),
            "healthReport": [],
            "inQueue": queued.is_some(),
            "keepDependencies": false,
            "lastBuild": link(job.resolve("lastBuild")),
            "lastCompletedBuild": link(job.resolve("lastCompletedBuild")),
            "lastFailedBuild": link(job.resolve("lastFailedBuild")),
            "lastStableBuild": link(job.resolve("lastStableBuild")),
            "lastSuccessfulBuild": link(job.resolve("lastSuccessfulBuild")),
            "lastUnstableBuild": link(job.resolve("lastUnstableBuild")),
            "lastUnsuccessfulBuild": link(job.resolve("lastUnsuccessfulBuild")),
            "nextBuildNumber": job.next_number,
            "property": property,
            "queueItem": queued.map_or(Value::Null, |i| self.queue_item(i, false)),
            "concurrentBuild": job.def.concurrent,
            "disabled": job.def.disabled,
        });
        if full {
            v["allBuilds"] = Value::Array(newest.iter().map(|b| self.build(job, b)).collect());
        }
        v
    }

    fn child(&self, name: &str, is_folder: bool, full: bool) -> Value {
        match (is_folder, full) {
            (true, true) => self.folder(name, true),
            (true, false) => {
                json!({"_class": FOLDER_CLASS, "name": name.rsplit('/').next(), "url": self.job_url(name)})
            }
            (false, true) => self.job(&self.state.jobs[name], true),
            (false, false) => {
                let job = &self.state.jobs[name];
                json!({"_class": job_class(job), "name": name.rsplit('/').next(), "url": self.job_url(name), "color": job.color()})
            }
        }
    }

    fn folder(&self, name: &str, full: bool) -> Value {
        let jobs: Vec<Value> = self
            .state
            .children(name)
            .into_iter()
            .map(|(n, f)| self.child(&n, f, full))
            .collect();
        let short = name.rsplit('/').next().unwrap_or(name);
        json!({
            "_class": FOLDER_CLASS, "actions": [], "description": null, "displayName": short, "displayNameOrNull": null,
            "fullDisplayName": name.replace('/', " » "), "fullName": name, "name": short, "url": self.job_url(name),
            "healthReport": [], "jobs": jobs,
        })
    }

    fn root(&self, full: bool) -> Value {
        let jobs: Vec<Value> = self
            .state
            .children("")
            .into_iter()
            .map(|(n, f)| self.child(&n, f, full))
            .collect();
        json!({
            "_class": "hudson.model.Hudson", "assignedLabels": [{"name": "built-in"}], "mode": "NORMAL", "nodeDescription": "the Jenkins controller's built-in node",
            "nodeName": "", "numExecutors": 2, "description": null, "jobs": jobs, "quietPeriod": self.state.script.quiet_period_ms / 1000,
            "url": self.base, "useCrumbs": self.state.script.crumbs, "useSecurity": !self.state.script.users.is_empty(),
        })
    }
}

/// Who is calling.
#[derive(Clone, Debug)]
enum Caller {
    Anonymous,
    User { name: String, by_token: bool },
}

impl Caller {
    fn name(&self) -> &str {
        match self {
            Caller::Anonymous => "anonymous",
            Caller::User { name, .. } => name,
        }
    }
}

fn with_jenkins_headers(mut response: Response, state: &State) -> Response {
    let h = response.headers_mut();
    h.insert("x-jenkins", HeaderValue::from_static(VERSION));
    if let Ok(v) = HeaderValue::from_str(&state.instance) {
        h.insert("x-jenkins-session", v);
    }
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("deny"));
    response
}

fn page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<html><head><title>Error {}</title></head><body><h2>HTTP ERROR {}</h2><p>{message}</p></body></html>",
        status.as_u16(),
        status.as_u16()
    );
    (status, [("content-type", "text/html;charset=utf-8")], body).into_response()
}

fn not_found() -> Response {
    page(StatusCode::NOT_FOUND, "Not Found")
}

fn json_response(value: &Value, query: &HashMap<String, String>) -> Response {
    let pruned = match query.get("tree") {
        Some(t) => match tree::parse(t) {
            Ok(nodes) => tree::prune(value, &nodes),
            Err(e) => {
                return page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("javax.servlet.ServletException: {e}"),
                );
            }
        },
        None => value.clone(),
    };
    let text = if query.contains_key("pretty") {
        serde_json::to_string_pretty(&pruned)
    } else {
        serde_json::to_string(&pruned)
    }
    .unwrap_or_default();
    (
        StatusCode::OK,
        [("content-type", "application/json;charset=utf-8")],
        text,
    )
        .into_response()
}

/// `depth` and `tree` choose between the depth-0 form and the full form (reference §2).
fn wants_full(query: &HashMap<String, String>) -> Result<bool, Response> {
    if query.contains_key("tree") {
        return Ok(true);
    }
    match query.get("depth") {
        None => Ok(false),
        Some(d) => d.parse::<u32>().map(|d| d > 0).map_err(|_| {
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("java.lang.NumberFormatException: For input string: \"{d}\""),
            )
        }),
    }
}

fn session_cookie(state: &State, headers: &HeaderMap) -> Option<String> {
    let wanted = format!("JSESSIONID.{}=", state.instance);
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .find_map(|c| c.strip_prefix(&wanted).map(str::to_owned))
}

fn crumb_for(state: &State, user: &str, session: &str) -> String {
    let digest = sha2::Sha256::digest(format!("{}:{user}:{session}", state.salt).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn authenticate(state: &State, headers: &HeaderMap) -> Result<Caller, Response> {
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return if state.script.users.is_empty() {
            Ok(Caller::Anonymous)
        } else {
            Err(page(
                StatusCode::FORBIDDEN,
                "Access Denied: anonymous is missing the Overall/Read permission",
            ))
        };
    };
    let unauthorized = || {
        let mut r = page(StatusCode::UNAUTHORIZED, "Invalid password/token for user");
        r.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static("Basic realm=\"Jenkins\""),
        );
        r
    };
    let decoded = auth
        .strip_prefix("Basic ")
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(unauthorized)?;
    let (name, secret) = decoded.split_once(':').ok_or_else(unauthorized)?;
    let user = state
        .script
        .users
        .iter()
        .find(|u| u.name == name)
        .ok_or_else(unauthorized)?;
    if user.token.as_deref() == Some(secret) {
        Ok(Caller::User {
            name: name.to_owned(),
            by_token: true,
        })
    } else if user.password.as_deref() == Some(secret) {
        Ok(Caller::User {
            name: name.to_owned(),
            by_token: false,
        })
    } else {
        Err(unauthorized())
    }
}

/// Reference §3: POSTs need a crumb bound to the session, unless authenticated by an API token.
fn check_crumb(
    state: &State,
    caller: &Caller,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(), Response> {
    if !state.script.crumbs || matches!(caller, Caller::User { by_token: true, .. }) {
        return Ok(());
    }
    let given = headers
        .get("jenkins-crumb")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| form.get("Jenkins-Crumb").cloned());
    let valid = match (given, session_cookie(state, headers)) {
        (Some(given), Some(session)) => given == crumb_for(state, caller.name(), &session),
        _ => false,
    };
    if valid {
        Ok(())
    } else {
        Err(page(
            StatusCode::FORBIDDEN,
            "No valid crumb was included in the request",
        ))
    }
}

fn redirect(status: StatusCode, location: &str) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert("location", v);
    }
    r
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// One request. `remote` is the caller's address (for remote causes).
pub async fn handle(
    jenkins: Arc<Jenkins>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    host: String,
) -> Response {
    if let Some(fault) = jenkins.injected_fault(uri.path()).await {
        return fault;
    }
    let mut query: HashMap<String, String> = HashMap::new();
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        pairs.push((k.to_string(), v.to_string()));
        query.insert(k.into_owned(), v.into_owned());
    }
    let is_form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        for (k, v) in form_urlencoded::parse(&body) {
            pairs.push((k.to_string(), v.to_string()));
            query
                .entry(k.into_owned())
                .or_insert_with(|| v.into_owned());
        }
    }
    if uri.path() == "/__emulator/faults" && method == Method::POST {
        let spec: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        jenkins.set_faults(&spec);
        return StatusCode::NO_CONTENT.into_response();
    }
    let base = format!("http://{host}/");
    let now = crate::now_ms();
    let mut state = jenkins.state.lock().expect("the state lock");
    let caller = match authenticate(&state, &headers) {
        Ok(c) => c,
        Err(r) => return with_jenkins_headers(r, &state),
    };
    if method == Method::POST {
        if let Err(r) = check_crumb(&state, &caller, &headers, &query) {
            return with_jenkins_headers(r, &state);
        }
    }
    let segments: Vec<String> = uri
        .path()
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let response = route(
        &mut state, &caller, &method, &segs, &query, &pairs, &headers, &base, now,
    );
    with_jenkins_headers(response, &state)
}

#[allow(clippy::too_many_arguments)]
fn route(
    state: &mut State,
    caller: &Caller,
    method: &Method,
    segs: &[&str],
    query: &HashMap<String, String>,
    pairs: &[(String, String)],
    headers: &HeaderMap,
    base: &str,
    now: u64,
) -> Response {
    let full = match wants_full(query) {
        Ok(f) => f,
        Err(r) => return r,
    };
    match segs {
        ["api", "json"] => return json_response(&Render { state, base, now }.root(full), query),
        ["crumbIssuer", "api", "json"] => {
            if !state.script.crumbs {
                return not_found();
            }
            let existing = session_cookie(state, headers);
            let session = existing
                .clone()
                .unwrap_or_else(|| format!("node0{:016x}", fastrand::u64(..)));
            let crumb = crumb_for(state, caller.name(), &session);
            let mut r = json_response(
                &json!({"_class": "hudson.security.csrf.DefaultCrumbIssuer", "crumb": crumb, "crumbRequestField": "Jenkins-Crumb"}),
                query,
            );
            if existing.is_none() {
                if let Ok(v) = HeaderValue::from_str(&format!(
                    "JSESSIONID.{}={session}; Path=/; HttpOnly",
                    state.instance
                )) {
                    r.headers_mut().insert("set-cookie", v);
                }
            }
            return r;
        }
        ["queue", "api", "json"] => {
            let render = Render { state, base, now };
            let items: Vec<Value> = state
                .queue
                .values()
                .filter(|i| !matches!(i.state, ItemState::Left { .. }))
                .map(|i| render.queue_item(i, full))
                .collect();
            return json_response(
                &json!({"_class": "hudson.model.Queue", "discoverableItems": [], "items": items}),
                query,
            );
        }
        ["queue", "item", id, rest @ ..] => {
            let Some(item) = id.parse::<u64>().ok().and_then(|id| state.queue.get(&id)) else {
                return not_found();
            };
            return match rest {
                ["api", "json"] => {
                    json_response(&Render { state, base, now }.queue_item(item, full), query)
                }
                [] => (
                    StatusCode::OK,
                    [("content-type", "text/plain;charset=utf-8")],
                    "This is a queue item; use api/json.",
                )
                    .into_response(),
                _ => not_found(),
            };
        }
        ["queue", "cancelItem"] => {
            if *method != Method::POST {
                return method_not_allowed();
            }
            let id = query
                .get("id")
                .and_then(|i| i.parse::<u64>().ok())
                .unwrap_or(0);
            return if state.cancel_item(id, now) {
                StatusCode::NO_CONTENT.into_response()
            } else {
                page(
                    StatusCode::NOT_FOUND,
                    &format!("Provided id ({id}) not found"),
                )
            };
        }
        _ => {}
    }
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

fn method_not_allowed() -> Response {
    let mut r = page(StatusCode::METHOD_NOT_ALLOWED, "This URL requires POST");
    r.headers_mut()
        .insert("allow", HeaderValue::from_static("POST"));
    r
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
