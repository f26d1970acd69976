//! The controller's state: jobs and folders, the queue (waiting → blocked/buildable → left,
//! reference §5) and builds (running → post-production → complete, §7), advanced by [`State::tick`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::script::{JobDef, PushImage, Script, expand};

/// Results from best to worst (reference §7).
pub const RESULTS: [&str; 5] = ["SUCCESS", "UNSTABLE", "FAILURE", "NOT_BUILT", "ABORTED"];

fn rank(result: &str) -> usize {
    RESULTS.iter().position(|r| *r == result).unwrap_or(2)
}

#[derive(Clone, Debug, PartialEq)]
pub enum Cause {
    User(String),
    Remote(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum ItemState {
    Waiting,
    Blocked,
    Buildable,
    Left {
        cancelled: bool,
        executable: Option<u64>,
        left_at: u64,
    },
}

#[derive(Clone, Debug)]
pub struct QueueItem {
    pub id: u64,
    pub job: String,
    pub params: Vec<(String, String)>,
    pub cause: Cause,
    pub in_queue_since: u64,
    pub quiet_until: u64,
    pub buildable_since: Option<u64>,
    pub state: ItemState,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    Running,
    /// Waiting for the image push to finish.
    Pushing,
    PostProduction {
        until: u64,
    },
    Done,
}

#[derive(Clone, Debug)]
pub struct Build {
    pub number: u64,
    pub queue_id: u64,
    pub params: Vec<(String, String)>,
    pub cause: Cause,
    pub timestamp: u64,
    pub duration: u64,
    pub result: Option<String>,
    pub log: Vec<u8>,
    pub lines_written: usize,
    pub artifacts: Vec<(String, Vec<u8>)>,
    pub description: Option<String>,
    pub abort_requested: Option<String>,
    pub phase: Phase,
    /// Template values: parameters, BUILD_NUMBER, JOB_NAME, and IMAGE* after a push.
    pub values: HashMap<String, String>,
}

impl Build {
    pub fn building(&self) -> bool {
        matches!(self.phase, Phase::Running | Phase::Pushing)
    }

    pub fn in_progress(&self) -> bool {
        self.phase != Phase::Done
    }

    /// Finished building: the result can no longer change.
    pub fn completed(&self) -> bool {
        !self.building()
    }

    fn write(&mut self, line: &str) {
        self.log.extend_from_slice(line.as_bytes());
        self.log.push(b'\n');
    }
}

pub struct Job {
    pub def: JobDef,
    /// Oldest first.
    pub builds: Vec<Build>,
    pub next_number: u64,
}

impl Job {
    pub fn build(&self, number: u64) -> Option<&Build> {
        self.builds.iter().find(|b| b.number == number)
    }

    pub fn build_mut(&mut self, number: u64) -> Option<&mut Build> {
        self.builds.iter_mut().find(|b| b.number == number)
    }

    /// A permalink (reference §1) or a build number.
    pub fn resolve(&self, segment: &str) -> Option<&Build> {
        if let Ok(n) = segment.parse::<u64>() {
            return self.build(n);
        }
        let done = |b: &&Build| b.completed() && b.result.is_some();
        let result_is =
            |b: &Build, wanted: &[&str]| b.result.as_deref().is_some_and(|r| wanted.contains(&r));
        let mut newest = self.builds.iter().rev();
        match segment {
            "lastBuild" => newest.next(),
            "lastCompletedBuild" => newest.find(done),
            "lastSuccessfulBuild" => {
                newest.find(|b| done(b) && result_is(b, &["SUCCESS", "UNSTABLE"]))
            }
            "lastStableBuild" => newest.find(|b| done(b) && result_is(b, &["SUCCESS"])),
            "lastFailedBuild" => newest.find(|b| done(b) && result_is(b, &["FAILURE"])),
            "lastUnstableBuild" => newest.find(|b| done(b) && result_is(b, &["UNSTABLE"])),
            "lastUnsuccessfulBuild" => newest.find(|b| done(b) && !result_is(b, &["SUCCESS"])),
            _ => None,
        }
    }

    pub fn parameterized(&self) -> bool {
        !self.def.parameters.is_empty()
    }

    pub fn buildable(&self) -> bool {
        !self.def.disabled
    }

    /// The ball colour (reference §2).
    pub fn color(&self) -> String {
        if self.def.disabled {
            return "disabled".into();
        }
        let last = self
            .builds
            .iter()
            .rev()
            .find(|b| b.completed())
            .and_then(|b| b.result.as_deref());
        let base = match last {
            Some("SUCCESS") => "blue",
            Some("UNSTABLE") => "yellow",
            Some("FAILURE") => "red",
            Some("ABORTED") => "aborted",
            _ => "notbuilt",
        };
        if self.builds.iter().any(Build::building) {
            format!("{base}_anime")
        } else {
            base.into()
        }
    }

    /// Mean duration of the last successful build, or -1.
    pub fn estimated_duration(&self) -> i64 {
        self.builds
            .iter()
            .rev()
            .find(|b| b.completed() && b.result.as_deref() == Some("SUCCESS"))
            .map_or(-1, |b| b.duration as i64)
    }
}

/// A push the ticker must do outside the lock.
pub struct PushRequest {
    pub job: String,
    pub number: u64,
    pub push: PushImage,
}

pub struct State {
    pub script: Script,
    pub jobs: BTreeMap<String, Job>,
    pub folders: BTreeSet<String>,
    pub queue: BTreeMap<u64, QueueItem>,
    next_queue_id: u64,
    /// Hex id of this controller instance (`X-Jenkins-Session`, the cookie name).
    pub instance: String,
    pub salt: String,
}

pub enum Enqueued {
    New(u64),
    /// Merged into an identical waiting item.
    Existing(u64),
}

impl State {
    pub fn new(script: Script) -> Self {
        let mut jobs = BTreeMap::new();
        let mut folders = BTreeSet::new();
        for def in &script.jobs {
            let parts: Vec<&str> = def.name.split('/').collect();
            for i in 1..parts.len() {
                folders.insert(parts[..i].join("/"));
            }
            jobs.insert(
                def.name.clone(),
                Job {
                    def: def.clone(),
                    builds: Vec::new(),
                    next_number: 1,
                },
            );
        }
        Self {
            script,
            jobs,
            folders,
            queue: BTreeMap::new(),
            next_queue_id: 1,
            instance: format!("{:08x}", fastrand::u32(..)),
            salt: format!("{:016x}", fastrand::u64(..)),
        }
    }

    /// The direct children of a folder ("" for the root): (full name, is folder).
    pub fn children(&self, folder: &str) -> Vec<(String, bool)> {
        let prefix = if folder.is_empty() {
            String::new()
        } else {
            format!("{folder}/")
        };
        let direct =
            |name: &String| name.starts_with(&prefix) && !name[prefix.len()..].contains('/');
        let mut out: Vec<(String, bool)> = self
            .folders
            .iter()
            .filter(|f| direct(f))
            .map(|f| (f.clone(), true))
            .collect();
        out.extend(
            self.jobs
                .keys()
                .filter(|j| direct(j))
                .map(|j| (j.clone(), false)),
        );
        out.sort();
        out
    }

    /// Queues a build (reference §4). Parameters are the job's definitions filled from `given`
    /// (unknown names dropped, defaults for the missing), or all of `given` when `fill` is false.
    pub fn enqueue(
        &mut self,
        job: &str,
        given: &[(String, String)],
        fill: bool,
        cause: Cause,
        delay_ms: Option<u64>,
        now: u64,
    ) -> Enqueued {
        let j = &self.jobs[job];
        let params: Vec<(String, String)> = if fill {
            j.def
                .parameters
                .iter()
                .map(|p| {
                    (
                        p.name.clone(),
                        given
                            .iter()
                            .find(|(n, _)| *n == p.name)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_else(|| p.default_value()),
                    )
                })
                .collect()
        } else {
            given.to_vec()
        };
        if let Some(existing) = self
            .queue
            .values()
            .find(|i| i.job == job && i.state == ItemState::Waiting && i.params == params)
        {
            return Enqueued::Existing(existing.id);
        }
        let quiet = delay_ms
            .or(j.def.quiet_period_ms)
            .unwrap_or(self.script.quiet_period_ms);
        let id = self.next_queue_id;
        self.next_queue_id += 1;
        self.queue.insert(
            id,
            QueueItem {
                id,
                job: job.to_owned(),
                params,
                cause,
                in_queue_since: now,
                quiet_until: now + quiet,
                buildable_since: None,
                state: ItemState::Waiting,
            },
        );
        Enqueued::New(id)
    }

    /// `POST queue/cancelItem`: true when a live item was cancelled.
    pub fn cancel_item(&mut self, id: u64, now: u64) -> bool {
        match self.queue.get_mut(&id) {
            Some(item) if !matches!(item.state, ItemState::Left { .. }) => {
                item.state = ItemState::Left {
                    cancelled: true,
                    executable: None,
                    left_at: now,
                };
                true
            }
            _ => false,
        }
    }

    /// `POST .../stop`: the build ends ABORTED at the next tick.
    pub fn stop(&mut self, job: &str, number: u64, by: &str) {
        if let Some(b) = self.jobs.get_mut(job).and_then(|j| j.build_mut(number))
            && b.building()
            && b.abort_requested.is_none()
        {
            b.abort_requested = Some(by.to_owned());
        }
    }

    fn busy(&self, job: &str) -> bool {
        self.jobs[job].builds.iter().any(Build::in_progress)
            || self.queue.values().any(|i| {
                i.job == job
                    && (i.state == ItemState::Buildable
                        || matches!(
                            i.state,
                            ItemState::Left {
                                cancelled: false,
                                executable: None,
                                ..
                            }
                        ))
            })
    }

    /// Moves the queue and the builds on to `now`; returns the image pushes to start.
    pub fn tick(&mut self, now: u64) -> Vec<PushRequest> {
        self.tick_queue(now);
        self.tick_builds(now)
    }

    fn tick_queue(&mut self, now: u64) {
        let retention = self.script.left_item_retention_ms;
        let ids: Vec<u64> = self.queue.keys().copied().collect();
        for id in ids {
            let item = self.queue[&id].clone();
            let concurrent = self.jobs[&item.job].def.concurrent;
            let next = match item.state {
                ItemState::Waiting if now >= item.quiet_until => {
                    Some(if !concurrent && self.busy(&item.job) {
                        ItemState::Blocked
                    } else {
                        ItemState::Buildable
                    })
                }
                ItemState::Blocked if !self.busy(&item.job) => Some(ItemState::Buildable),
                // A buildable item is visible for at least one tick, then an executor takes it.
                ItemState::Buildable if item.buildable_since.is_some_and(|t| t < now) => {
                    Some(ItemState::Left {
                        cancelled: false,
                        executable: None,
                        left_at: now,
                    })
                }
                // The left item exists before its build does (reference §5): one tick later.
                ItemState::Left {
                    cancelled: false,
                    executable: None,
                    left_at,
                } if left_at < now => {
                    let number = self.start_build(&item, now);
                    Some(ItemState::Left {
                        cancelled: false,
                        executable: Some(number),
                        left_at,
                    })
                }
                ItemState::Left { left_at, .. } if now.saturating_sub(left_at) > retention => {
                    self.queue.remove(&id);
                    None
                }
                _ => None,
            };
            if let Some(state) = next {
                let item = self.queue.get_mut(&id).expect("the item is still queued");
                if matches!(state, ItemState::Buildable | ItemState::Blocked)
                    && item.buildable_since.is_none()
                {
                    item.buildable_since = Some(now);
                }
                item.state = state;
            }
        }
    }

    fn start_build(&mut self, item: &QueueItem, now: u64) -> u64 {
        let job = self.jobs.get_mut(&item.job).expect("queued jobs exist");
        let number = job.next_number;
        job.next_number += 1;
        let mut values: HashMap<String, String> = item.params.iter().cloned().collect();
        values.insert("BUILD_NUMBER".into(), number.to_string());
        values.insert("JOB_NAME".into(), item.job.clone());
        let mut build = Build {
            number,
            queue_id: item.id,
            params: item.params.clone(),
            cause: item.cause.clone(),
            timestamp: now,
            duration: 0,
            result: None,
            log: Vec::new(),
            lines_written: 0,
            artifacts: Vec::new(),
            description: None,
            abort_requested: None,
            phase: Phase::Running,
            values,
        };
        match &item.cause {
            Cause::User(u) => build.write(&format!("Started by user {u}")),
            Cause::Remote(addr) => build.write(&format!("Started by remote host {addr}")),
        }
        build.write(&format!(
            "Running as SYSTEM\nBuilding in workspace /var/jenkins_home/workspace/{}",
            item.job
        ));
        job.builds.push(build);
        number
    }

    fn tick_builds(&mut self, now: u64) -> Vec<PushRequest> {
        let mut pushes = Vec::new();
        for (name, job) in self.jobs.iter_mut() {
            let script = job.def.build.clone();
            for b in job.builds.iter_mut().filter(|b| b.in_progress()) {
                let elapsed = now.saturating_sub(b.timestamp);
                if let Phase::PostProduction { until } = b.phase {
                    if now >= until {
                        let result = b.result.clone().unwrap_or_default();
                        b.write(&format!("Finished: {result}"));
                        b.phase = Phase::Done;
                    }
                    continue;
                }
                if let Some(by) = b.abort_requested.clone() {
                    if b.phase == Phase::Running {
                        b.write(&format!("Aborted by {by}"));
                        finish(b, "ABORTED", now, script.post_production_ms);
                    }
                    continue;
                }
                if b.phase != Phase::Running {
                    continue;
                }
                let lines = script.console.len() as u64;
                while (b.lines_written as u64) < lines
                    && elapsed >= (b.lines_written as u64 + 1) * script.duration_ms / (lines + 1)
                {
                    let line = expand(&script.console[b.lines_written], &b.values);
                    b.write(&line);
                    b.lines_written += 1;
                }
                if script.unstable_at_ms.is_some_and(|t| elapsed >= t) && b.result.is_none() {
                    b.result = Some("UNSTABLE".into());
                }
                if elapsed >= script.duration_ms {
                    match &script.push_image {
                        Some(push) => {
                            let push = PushImage {
                                registry: expand(&push.registry, &b.values),
                                repository: expand(&push.repository, &b.values),
                                tag: expand(&push.tag, &b.values),
                            };
                            b.write(&format!(
                                "Pushing {}:{} to {}",
                                push.repository, push.tag, push.registry
                            ));
                            b.phase = Phase::Pushing;
                            pushes.push(PushRequest {
                                job: name.clone(),
                                number: b.number,
                                push,
                            });
                        }
                        None => end_build(b, &script, now),
                    }
                }
            }
        }
        pushes
    }

    /// The push for a build finished: record the image and end the build.
    pub fn pushed(
        &mut self,
        job: &str,
        number: u64,
        outcome: Result<(PushImage, String), String>,
        now: u64,
    ) {
        let Some(j) = self.jobs.get_mut(job) else {
            return;
        };
        let script = j.def.build.clone();
        let Some(b) = j.build_mut(number) else { return };
        match outcome {
            Ok((push, digest)) => {
                b.write(&format!("{}: digest: {digest}", push.tag));
                b.values.insert("IMAGE".into(), push.repository.clone());
                b.values.insert("IMAGE_TAG".into(), push.tag.clone());
                b.values.insert("IMAGE_DIGEST".into(), digest);
                end_build(b, &script, now);
            }
            Err(reason) => {
                b.write(&format!("ERROR: the image push failed: {reason}"));
                finish(b, "FAILURE", now, script.post_production_ms);
            }
        }
    }
}

fn end_build(b: &mut Build, script: &crate::script::BuildScript, now: u64) {
    let wanted = expand(&script.result, &b.values);
    let wanted = if RESULTS.contains(&wanted.as_str()) {
        wanted
    } else {
        "FAILURE".into()
    };
    b.artifacts = script
        .artifacts
        .iter()
        .map(|a| {
            (
                expand(&a.path, &b.values),
                expand(&a.content, &b.values).into_bytes(),
            )
        })
        .collect();
    if !b.artifacts.is_empty() {
        b.write("Archiving artifacts");
    }
    finish(b, &wanted, now, script.post_production_ms);
}

/// Sets the result (it only gets worse, reference §7) and enters post-production.
fn finish(b: &mut Build, result: &str, now: u64, post_production_ms: u64) {
    let worse = match &b.result {
        Some(current) if rank(current) >= rank(result) => current.clone(),
        _ => result.to_owned(),
    };
    b.result = Some(worse);
    b.duration = now.saturating_sub(b.timestamp).max(1);
    b.phase = Phase::PostProduction {
        until: now + post_production_ms,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(job: &str) -> State {
        let script = Script::from_json(job).unwrap();
        State::new(script)
    }

    #[test]
    fn a_build_goes_through_the_queue_and_ends_with_its_result() {
        let mut s = state(
            r#"{"quietPeriodMs": 10, "jobs": [{"name": "f/app", "parameters": [{"name": "R", "default": "UNSTABLE"}], "build": {"durationMs": 100, "result": "${R}", "console": ["one ${R}"]}}]}"#,
        );
        assert_eq!(s.children(""), vec![("f".to_owned(), true)]);
        assert_eq!(s.children("f"), vec![("f/app".to_owned(), false)]);
        let Enqueued::New(id) = s.enqueue(
            "f/app",
            &[("X".into(), "dropped".into())],
            true,
            Cause::User("ann".into()),
            None,
            0,
        ) else {
            panic!()
        };
        assert!(
            matches!(s.enqueue("f/app", &[], true, Cause::User("bob".into()), None, 1), Enqueued::Existing(i) if i == id)
        );
        assert_eq!(
            s.queue[&id].params,
            vec![("R".to_owned(), "UNSTABLE".to_owned())]
        );
        s.tick(5);
        assert_eq!(s.queue[&id].state, ItemState::Waiting);
        s.tick(10);
        assert_eq!(s.queue[&id].state, ItemState::Buildable);
        s.tick(11);
        assert!(matches!(
            s.queue[&id].state,
            ItemState::Left {
                executable: None,
                cancelled: false,
                ..
            }
        ));
        s.tick(12);
        assert!(matches!(
            s.queue[&id].state,
            ItemState::Left {
                executable: Some(1),
                ..
            }
        ));
        s.tick(200);
        let b = s.jobs["f/app"].build(1).unwrap();
        assert_eq!(
            (b.building(), b.in_progress(), b.result.as_deref()),
            (false, true, Some("UNSTABLE"))
        );
        s.tick(300);
        let b = s.jobs["f/app"].build(1).unwrap();
        assert!(!b.in_progress());
        assert!(
            String::from_utf8_lossy(&b.log).ends_with("one UNSTABLE\nFinished: UNSTABLE\n"),
            "{}",
            String::from_utf8_lossy(&b.log)
        );
        assert_eq!(
            s.jobs["f/app"]
                .resolve("lastUnsuccessfulBuild")
                .map(|b| b.number),
            Some(1)
        );
        assert!(s.jobs["f/app"].resolve("lastStableBuild").is_none());
    }

    #[test]
    fn a_non_concurrent_job_blocks_its_second_build_and_results_only_get_worse() {
        let mut s = state(
            r#"{"quietPeriodMs": 0, "jobs": [{"name": "app", "concurrent": false, "build": {"durationMs": 50, "unstableAtMs": 10, "result": "SUCCESS"}}]}"#,
        );
        let Enqueued::New(a) = s.enqueue("app", &[], false, Cause::User("a".into()), None, 0)
        else {
            panic!()
        };
        for t in 0..3 {
            s.tick(t);
        }
        let Enqueued::New(b) = s.enqueue("app", &[], false, Cause::User("a".into()), None, 3)
        else {
            panic!()
        };
        s.tick(4);
        assert_eq!(s.queue[&b].state, ItemState::Blocked);
        s.tick(20);
        assert_eq!(
            s.jobs["app"].build(1).unwrap().result.as_deref(),
            Some("UNSTABLE"),
            "set early, still building"
        );
        assert!(s.jobs["app"].build(1).unwrap().building());
        s.tick(60);
        assert_eq!(
            s.jobs["app"].build(1).unwrap().result.as_deref(),
            Some("UNSTABLE"),
            "SUCCESS cannot improve it"
        );
        s.tick(200);
        s.tick(201);
        assert_eq!(s.queue[&b].state, ItemState::Buildable);
        assert!(matches!(
            s.queue[&a].state,
            ItemState::Left {
                executable: Some(1),
                ..
            }
        ));
        assert!(s.cancel_item(b, 202));
        assert!(!s.cancel_item(b, 203), "already left");
        s.tick(202 + 5 * 60 * 1000 + 1);
        assert!(
            !s.queue.contains_key(&a) && !s.queue.contains_key(&b),
            "left items expire"
        );
    }
}
