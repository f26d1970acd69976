//! Jenkins' JSON (reference §2): `_class` names, job URLs, and the root, folder, job, build and
//! queue item objects in their depth-0 and full forms.

use serde_json::{Value, json};

use crate::model::{Build, Cause, ItemState, Job, QueueItem, State};

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
pub(super) fn job_path(full_name: &str) -> String {
    full_name
        .split('/')
        .map(|s| format!("job/{}/", percent_encoding::utf8_percent_encode(s, SEGMENT)))
        .collect()
}

pub(super) struct Render<'a> {
    pub(super) state: &'a State,
    pub(super) base: &'a str,
    pub(super) now: u64,
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

    pub(super) fn build(&self, job: &Job, b: &Build) -> Value {
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

    pub(super) fn queue_item(&self, item: &QueueItem, full: bool) -> Value {
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
    pub(super) fn job(&self, job: &Job, full: bool) -> Value {
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

    pub(super) fn folder(&self, name: &str, full: bool) -> Value {
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

    pub(super) fn root(&self, full: bool) -> Value {
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
