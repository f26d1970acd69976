//! The handlers' transitions, driven without a database: a small simulator hands each message
//! to its handler (as the worker does), answers tasks from a script, and keeps the messages
//! that follow in order.

use std::collections::VecDeque;
use std::time::Duration;

use domain::execution::{Execution, JudgmentDecision, Status};
use domain::pipeline::PipelineDocument;
use serde_json::{Value, json};

use super::*;
use crate::orchestration::engine::EngineError;
use crate::orchestration::messages::Message;
use crate::orchestration::stages::TaskResult;

mod judgment;

const T0: i64 = 1_000_000;

fn execution(stages: Value) -> Execution {
    let doc = PipelineDocument::from_value(
        json!({"id": "p1", "application": "shop", "name": "Deploy", "stages": stages}),
    )
    .unwrap();
    new_execution(
        &doc,
        json!({"type": "manual"}),
        "e1",
        T0,
        |t| t.info().is_some(),
        |i| {
            // Stage ids are the refIds, so tests read like the pipeline.
            doc.stages()[i]["refId"].as_str().unwrap().to_owned()
        },
    )
    .unwrap()
}

fn wait(ref_id: &str, after: &[&str]) -> Value {
    json!({"refId": ref_id, "type": "wait", "name": format!("W{ref_id}"), "waitTime": 0, "requisiteStageRefIds": after})
}

/// Hands messages to the handlers in order; tasks are answered by `answer` (stage id → result).
struct Sim {
    execution: Execution,
    now: i64,
    queue: VecDeque<Message>,
    later: Vec<(Message, Duration)>,
    /// Every message handled, as `type:stage`.
    log: Vec<String>,
    answer: Box<dyn Fn(&str) -> TaskResult>,
}

fn succeed(_: &str) -> TaskResult {
    TaskResult::Succeeded {
        outputs: Default::default(),
    }
}

impl Sim {
    fn new(execution: Execution, answer: impl Fn(&str) -> TaskResult + 'static) -> Self {
        let first = Message::StartExecution {
            execution: execution.id.clone(),
        };
        Self {
            execution,
            now: T0,
            queue: VecDeque::from([first]),
            later: Vec::new(),
            log: Vec::new(),
            answer: Box::new(answer),
        }
    }

    fn handle(&mut self, message: &Message) -> Transition {
        let (e, now) = (&mut self.execution, self.now);
        match message {
            Message::StartExecution { .. } => {
                start_execution(e, message, now, &Concurrency::default())
            }
            Message::StartStage { stage, .. } => start_stage(e, stage, message, now, None, |s| {
                s.stage_type.info().map(|i| i.tasks.to_vec())
            }),
            Message::RunTask { stage, task, .. } => {
                let result = match task_step(e, stage, task, message, now) {
                    TaskStep::Drop(t) => return t,
                    TaskStep::Decided(r) => r,
                    TaskStep::Run => (self.answer)(stage),
                };
                apply_task_result(e, stage, task, result, now)
            }
            Message::CompleteStage { stage, .. } => complete_stage(e, stage, message, now),
            Message::CompleteExecution { .. } => complete_execution(e, message, now),
            Message::CancelExecution { .. } => cancel_execution(e, message, now),
            Message::PauseExecution { .. } => pause_execution(e, message),
            Message::ResumeExecution { .. } => resume_execution(e, message),
            Message::RestartStage { stage, .. } => restart_stage(e, stage, message),
            Message::StopCanceledStage { .. }
            | Message::Notify { .. }
            | Message::StartTriggeredPipelines { .. } => Transition::default(),
        }
    }

    /// Handles every message due now, in order.
    fn run(&mut self) -> &mut Self {
        while let Some(message) = self.queue.pop_front() {
            self.log.push(label(&message));
            let t = self.handle(&message);
            for (next, delay) in t.follow_ups {
                if delay.is_zero() {
                    self.queue.push_back(next);
                } else {
                    self.later.push((next, delay));
                }
            }
        }
        self
    }

    fn send(&mut self, message: Message) -> &mut Self {
        self.queue.push_back(message);
        self.run()
    }

    fn status(&self, stage: &str) -> Status {
        self.execution.stage(stage).unwrap().status
    }

    fn position(&self, entry: &str) -> usize {
        self.log
            .iter()
            .position(|l| l == entry)
            .unwrap_or_else(|| panic!("{entry} never handled: {:?}", self.log))
    }
}

fn label(m: &Message) -> String {
    match m {
        Message::StartStage { stage, .. } => format!("start:{stage}"),
        Message::CompleteStage { stage, .. } => format!("complete:{stage}"),
        Message::RunTask { stage, .. } => format!("task:{stage}"),
        other => serde_json::to_value(other).unwrap()["type"]
            .as_str()
            .unwrap()
            .to_owned(),
    }
}

fn id() -> domain::ids::ExecutionId {
    "e1".into()
}

#[test]
fn parallel_branches_start_together_and_fan_in_waits_for_both() {
    let mut sim = Sim::new(
        execution(json!([
            wait("1", &[]),
            wait("2a", &["1"]),
            wait("2b", &["1"]),
            wait("3", &["2a", "2b"])
        ])),
        succeed,
    );
    sim.run();
    assert_eq!(sim.execution.status, Status::Succeeded);
    let complete_1 = sim.position("complete:1");
    for branch in ["start:2a", "start:2b"] {
        assert!(sim.position(branch) > complete_1, "{branch} after 1");
    }
    let start_3 = sim.position("start:3");
    assert!(start_3 > sim.position("complete:2a") && start_3 > sim.position("complete:2b"));
    assert_eq!(
        sim.log.iter().filter(|l| *l == "start:3").count(),
        1,
        "the fan-in stage starts once: {:?}",
        sim.log
    );
    assert!(
        sim.execution
            .stages
            .iter()
            .all(|s| s.status == Status::Succeeded)
    );
}

#[test]
fn a_failed_stage_fails_the_run_and_nothing_after_it_starts() {
    let mut sim = Sim::new(
        execution(json!([wait("1", &[]), wait("2", &["1"])])),
        |stage| match stage {
            "1" => TaskResult::Failed {
                message: "boom".into(),
            },
            s => succeed(s),
        },
    );
    sim.run();
    assert_eq!(
        (sim.execution.status, sim.status("1"), sim.status("2")),
        (Status::Terminal, Status::Terminal, Status::NotStarted)
    );
    assert_eq!(sim.execution.stage("1").unwrap().failure(), Some("boom"));
}

#[test]
fn failure_options_decide_how_a_failed_stage_ends_and_the_run_with_it() {
    let fails_1 = |stage: &str| match stage {
        "1" => TaskResult::Failed {
            message: "no".into(),
        },
        s => succeed(s),
    };
    let with = |options: Value| {
        let mut first = wait("1", &[]);
        first
            .as_object_mut()
            .unwrap()
            .extend(options.as_object().unwrap().clone());
        let mut sim = Sim::new(
            execution(json!([first, wait("2", &["1"]), wait("b", &[])])),
            fails_1,
        );
        sim.run();
        (
            sim.status("1"),
            sim.status("2"),
            sim.status("b"),
            sim.execution.status,
        )
    };
    // Spinnaker's "ignore the failure": the pipeline goes on.
    assert_eq!(
        with(json!({"continuePipeline": true})),
        (
            Status::FailedContinue,
            Status::Succeeded,
            Status::Succeeded,
            Status::Succeeded
        )
    );
    // "Halt this branch": the other branch finishes; the run succeeds.
    assert_eq!(
        with(json!({"failPipeline": false})),
        (
            Status::Stopped,
            Status::NotStarted,
            Status::Succeeded,
            Status::Succeeded
        )
    );
    // "Halt this branch and fail the pipeline once other branches complete".
    assert_eq!(
        with(json!({"completeOtherBranchesThenFail": true})),
        (
            Status::Stopped,
            Status::NotStarted,
            Status::Succeeded,
            Status::Terminal
        )
    );
}

#[test]
fn an_unsupported_or_disabled_stage_is_decided_when_it_starts() {
    let mut sim = Sim::new(
        execution(json!([
            {"refId": "1", "type": "wait", "name": "Skip", "waitTime": 0, "stageEnabled": {"type": "expression", "expression": "${false}"}},
            {"refId": "2", "type": "wait", "name": "After", "waitTime": 0, "requisiteStageRefIds": ["1"]}
        ])),
        succeed,
    );
    sim.run();
    assert_eq!(
        (sim.status("1"), sim.status("2"), sim.execution.status),
        (Status::Skipped, Status::Succeeded, Status::Succeeded)
    );
}

#[test]
fn waiting_tasks_are_checked_again_later_and_time_out() {
    let mut e = execution(
        json!([{"refId": "1", "type": "wait", "name": "W", "waitTime": 600, "stageTimeoutMs": 1000}]),
    );
    e.status = Status::Running;
    let mut sim = Sim::new(e, |_| TaskResult::Running {
        check_again_in: Duration::from_secs(60),
    });
    sim.queue.clear();
    sim.send(Message::StartStage {
        execution: id(),
        stage: "1".into(),
    });
    // Checked again no later than the timeout, not after the task's 60 s.
    let (again, delay) = sim.later.pop().unwrap();
    assert_eq!(delay, Duration::from_millis(1001));
    sim.now += 1001;
    sim.send(again);
    assert_eq!(sim.status("1"), Status::Terminal);
    assert_eq!(
        sim.execution.stage("1").unwrap().failure(),
        Some("the stage timed out after 1000 ms")
    );
}

#[test]
fn cancel_stops_running_stages_and_tells_them_to_stop_what_they_started() {
    let mut sim = Sim::new(
        execution(json!([wait("1", &[]), wait("2", &["1"])])),
        |_| TaskResult::Running {
            check_again_in: Duration::from_secs(5),
        },
    );
    sim.run();
    assert_eq!(sim.status("1"), Status::Running);
    let asked = request_cancel(&mut sim.execution, "ann", Some("wrong image".into())).unwrap();
    assert_eq!(sim.execution.canceled_by.as_deref(), Some("ann"));
    let t = cancel_execution(&mut sim.execution, &asked[0], T0);
    assert_eq!(
        t.messages(),
        vec![&Message::StopCanceledStage {
            execution: id(),
            stage: "1".into()
        }]
    );
    assert_eq!(
        (sim.execution.status, sim.status("1"), sim.status("2")),
        (Status::Canceled, Status::Canceled, Status::NotStarted)
    );
    // A task's check arriving after the cancel is dropped.
    let (again, _) = sim.later.pop().unwrap();
    assert_eq!(sim.handle(&again), Transition::default());
    assert!(request_cancel(&mut sim.execution, "bob", None).is_none());
}

#[test]
fn pause_holds_tasks_and_resume_runs_them_again() {
    let mut sim = Sim::new(execution(json!([wait("1", &[])])), |_| {
        TaskResult::Running {
            check_again_in: Duration::from_secs(5),
        }
    });
    sim.run();
    sim.send(Message::PauseExecution { execution: id() });
    assert_eq!(sim.execution.status, Status::Paused);
    let (again, _) = sim.later.pop().unwrap();
    assert_eq!(sim.handle(&again), Transition::default(), "paused: not run");
    sim.answer = Box::new(succeed);
    sim.send(Message::ResumeExecution { execution: id() });
    assert_eq!(sim.execution.status, Status::Succeeded);
    assert!(sim.log.contains(&"task:1".to_owned()));
}

#[test]
fn restart_resets_the_failed_stage_and_everything_after_it() {
    let mut sim = Sim::new(
        execution(json!([
            wait("1", &[]),
            wait("2", &["1"]),
            wait("3", &["2"])
        ])),
        |stage| match stage {
            "2" => TaskResult::Failed {
                message: "flaky".into(),
            },
            s => succeed(s),
        },
    );
    sim.run();
    assert_eq!(sim.execution.status, Status::Terminal);
    assert!(may_restart(sim.status("2")));
    sim.answer = Box::new(succeed);
    sim.send(Message::RestartStage {
        execution: id(),
        stage: "2".into(),
    });
    assert_eq!(sim.execution.status, Status::Succeeded);
    assert_eq!(
        sim.execution.stage("2").unwrap().failure(),
        None,
        "the failure is cleared"
    );
    assert_eq!(
        sim.log.iter().filter(|l| *l == "start:1").count(),
        1,
        "stage 1 is not run again"
    );
    // A restart of a stage that did not fail is dropped.
    let t = restart_stage(
        &mut sim.execution,
        "1",
        &Message::RestartStage {
            execution: id(),
            stage: "1".into(),
        },
    );
    assert_eq!(t, Transition::default());
}

#[test]
fn with_limit_concurrent_a_run_waits_and_only_the_newest_waiter_stays() {
    let mut e = execution(json!([wait("1", &[])]));
    e.limit_concurrent = true;
    e.build_time = T0 + 10;
    let mut older = e.clone();
    older.id = "e0".into();
    older.build_time = T0;
    let running = {
        let mut r = e.clone();
        r.id = "r".into();
        r.status = Status::Running;
        r
    };
    let start = Message::StartExecution { execution: id() };
    assert!(wait_for_siblings(&e));
    let others = Concurrency {
        running: vec![running],
        waiting: vec![older],
    };
    let t = start_execution(&mut e, &start, T0, &others);
    assert_eq!(
        t.messages(),
        vec![&Message::CancelExecution {
            execution: "e0".into()
        }]
    );
    assert_eq!(e.status, Status::NotStarted, "still waiting");
    // When the running one ends, the next waiting run starts, then triggered pipelines.
    let mut finished = e.clone();
    finished.status = Status::Succeeded;
    let mut waiting = e.clone();
    waiting.id = "w".into();
    assert_eq!(
        after_execution_finished(&finished, &[waiting]),
        vec![
            Message::StartExecution {
                execution: "w".into()
            },
            Message::StartTriggeredPipelines { execution: id() }
        ]
    );
}

#[test]
fn redrive_restarts_whatever_a_stuck_run_was_doing() {
    let mut sim = Sim::new(
        execution(json!([wait("1", &[]), wait("2", &[])])),
        |stage| match stage {
            "1" => TaskResult::Running {
                check_again_in: Duration::from_secs(5),
            },
            s => succeed(s),
        },
    );
    sim.run();
    assert_eq!(
        redrive(&sim.execution),
        vec![Message::RunTask {
            execution: id(),
            stage: "1".into(),
            task: "1".into()
        }]
    );
}

#[test]
fn a_failed_notification_is_retried_with_backoff_then_given_up() {
    let mut e = execution(json!([wait("1", &[])]));
    e.notifications = vec![
        json!({"type": "webhook", "address": "https://hooks.example/secret/path", "when": ["pipeline.complete"]}),
    ];
    let notify = |attempt| Message::Notify {
        execution: id(),
        event: domain::notifications::NotificationEvent::PipelineComplete,
        stage: None,
        own_stage: false,
        target: 0,
        attempt,
    };
    let request = notification_request(&e, &notify(1), "/x").unwrap();
    assert_eq!(request.body["event"], "pipeline.complete");
    let t = record_notification(&mut e, request, Err((Some(502), "answered 502".into())), T0);
    assert_eq!(t.follow_ups, vec![(notify(2), Duration::from_secs(2))]);
    assert_eq!(
        e.notification_deliveries[0].address,
        "https://hooks.example/…"
    );
    let last = crate::orchestration::notifications::MAX_ATTEMPTS;
    let request = notification_request(&e, &notify(last), "/x").unwrap();
    let t = record_notification(&mut e, request, Err((None, "timed out".into())), T0);
    assert!(t.follow_ups.is_empty(), "gives up after the last attempt");
    assert_eq!(
        e.notification_deliveries.len(),
        1,
        "one entry per event and target"
    );
    let gone = Message::Notify {
        execution: id(),
        event: domain::notifications::NotificationEvent::PipelineComplete,
        stage: None,
        own_stage: false,
        target: 5,
        attempt: 1,
    };
    assert!(notification_request(&e, &gone, "/x").is_none());
}
