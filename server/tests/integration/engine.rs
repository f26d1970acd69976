//! The execution engine against real databases (SQLite and PostgreSQL, and PostgreSQL with the
//! queue in Redis), with a manual clock: DAG order, parallel branches and joins, waiting without
//! blocking, manual judgment, every failure option, cancel, stage timeouts, duplicate messages,
//! and two workers at once.

use crate::support;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use domain::execution::{Execution, Status};
use domain::pipeline::PipelineDocument;
use serde_json::{Value, json};
use server::orchestration::engine::Engine;
use server::orchestration::messages::Message;
use server::orchestration::queue::{
    Clock, DeadLetter, ManualClock, NewItem, QueueBackend, QueueDepth, QueueError, QueueSettings,
    RawDelivery, RedisQueue,
};
use server::orchestration::stages::StageRegistry;
use support::Backend;

struct World {
    engine: Engine,
    clock: ManualClock,
    store: server::store::Store,
    redis: Option<RedisQueue>,
}

/// Where the engine's queue lives.
#[derive(Clone, Copy)]
enum Queue {
    /// The queue table of the execution database.
    Database,
    /// Redis, reached through the outbox.
    Redis,
}

fn engine_on(
    store: &server::store::Store,
    clock: &ManualClock,
    redis: &Option<RedisQueue>,
) -> Engine {
    let clock = Arc::new(clock.clone());
    let stages = StageRegistry::standard_with(support::local_outbound());
    let engine = match redis {
        None => Engine::new(store, clock, QueueSettings::default(), stages),
        Some(r) => Engine::with_queue(
            store,
            Arc::new(r.clone()),
            clock,
            QueueSettings::default(),
            stages,
        ),
    };
    // The tests' receivers listen on this machine.
    engine.with_outbound(support::local_outbound())
}

impl World {
    /// Another engine on the same database and queue (another worker or replica).
    fn second_worker(&self) -> Engine {
        engine_on(&self.store, &self.clock, &self.redis)
    }

    async fn start(&self, stages: Value) -> String {
        let doc = PipelineDocument::from_value(
            json!({"application": "shop", "name": "P", "stages": stages}),
        )
        .unwrap();
        self.engine
            .start(&doc, json!({"type": "manual", "user": "alice"}))
            .await
            .unwrap()
    }

    async fn start_with(&self, stages: Value, trigger: Value) -> String {
        let doc = PipelineDocument::from_value(
            json!({"application": "shop", "name": "P", "stages": stages}),
        )
        .unwrap();
        self.engine.start(&doc, trigger).await.unwrap()
    }

    async fn settle(&self) -> usize {
        self.engine.run_until_idle().await.unwrap()
    }

    async fn advance(&self, seconds: u64) {
        self.clock.advance(Duration::from_secs(seconds));
        self.settle().await;
    }

    async fn get(&self, id: &str) -> Execution {
        self.engine.execution(id).await.unwrap()
    }
}

fn status_of(e: &Execution, ref_id: &str) -> Status {
    e.stage_by_ref(ref_id).unwrap().status
}

async fn with_world<F, Fut>(backend: Backend, queue: Queue, body: F)
where
    F: FnOnce(World) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let db = support::TestDatabase::create(backend).await;
    let store = db.store().await;
    let clock = ManualClock::starting_at(1_800_000_000_000);
    let redis = match queue {
        Queue::Database => None,
        Queue::Redis => Some(support::redis_queue().await),
    };
    let engine = engine_on(&store, &clock, &redis);
    let outcome = tokio::spawn(body(World {
        engine,
        clock,
        store: store.clone(),
        redis: redis.clone(),
    }))
    .await;
    store.close().await.unwrap();
    db.drop().await;
    if let Some(r) = redis {
        r.delete_all().await.unwrap();
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

fn wait(ref_id: &str, seconds: u64, after: &[&str]) -> Value {
    json!({"refId": ref_id, "type": "wait", "name": format!("Wait {ref_id}"), "waitTime": seconds, "requisiteStageRefIds": after})
}

fn judgment(ref_id: &str, after: &[&str], options: Value) -> Value {
    let mut stage = json!({"refId": ref_id, "type": "manualJudgment", "name": format!("Judge {ref_id}"),
        "requisiteStageRefIds": after, "judgmentInputs": [{"value": "ok"}]});
    stage
        .as_object_mut()
        .unwrap()
        .extend(options.as_object().unwrap().clone());
    stage
}

async fn stages_run_in_dependency_order(w: World) {
    let id = w
        .start(json!([
            wait("1", 0, &[]),
            wait("2", 0, &["1"]),
            wait("3", 0, &["2"])
        ]))
        .await;
    w.settle().await;
    let e = w.get(&id).await;
    assert_eq!(e.status, Status::Succeeded);
    for r in ["1", "2", "3"] {
        let s = e.stage_by_ref(r).unwrap();
        assert_eq!(
            (s.status, s.tasks.len(), s.tasks[0].status),
            (Status::Succeeded, 1, Status::Succeeded),
            "stage {r}"
        );
    }
    assert!(e.start_time.is_some() && e.end_time.is_some());
    assert_eq!(
        w.engine.queue().depth().await.unwrap(),
        QueueDepth::default(),
        "nothing left on the queue"
    );
}

async fn a_wait_holds_until_its_time_without_blocking(w: World) {
    let id = w.start(json!([wait("1", 10, &[])])).await;
    w.settle().await;
    assert_eq!(w.get(&id).await.status, Status::Running);
    assert_eq!(
        w.engine.queue().depth().await.unwrap(),
        QueueDepth {
            scheduled: 1,
            ..Default::default()
        }
    );
    w.advance(9).await;
    assert_eq!(status_of(&w.get(&id).await, "1"), Status::Running);
    w.advance(1).await;
    assert_eq!(w.get(&id).await.status, Status::Succeeded);
}

async fn parallel_branches_join_before_the_next_stage(w: World) {
    let id = w
        .start(json!([
            wait("1", 0, &[]),
            wait("2", 5, &["1"]),
            wait("3", 1, &["1"]),
            wait("4", 0, &["2", "3"])
        ]))
        .await;
    w.settle().await;
    let e = w.get(&id).await;
    assert_eq!(
        (status_of(&e, "2"), status_of(&e, "3")),
        (Status::Running, Status::Running)
    );
    w.advance(1).await;
    let e = w.get(&id).await;
    assert_eq!(
        (status_of(&e, "3"), status_of(&e, "4")),
        (Status::Succeeded, Status::NotStarted)
    );
    w.advance(4).await;
    let e = w.get(&id).await;
    assert_eq!(e.status, Status::Succeeded);
    let (two, four) = (e.stage_by_ref("2").unwrap(), e.stage_by_ref("4").unwrap());
    assert!(four.start_time.unwrap() >= two.end_time.unwrap());
}

async fn a_judgment_continues_with_the_judge_and_input_recorded(w: World) {
    let id = w
        .start(json!([judgment("1", &[], json!({})), wait("2", 0, &["1"])]))
        .await;
    w.settle().await;
    let e = w.get(&id).await;
    let stage = e.stage_by_ref("1").unwrap();
    assert_eq!((e.status, stage.status), (Status::Running, Status::Running));
    let err = w
        .engine
        .judge(&id, &e.stage_by_ref("2").unwrap().id, true, None, "x")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not waiting for a judgment"),
        "{err}"
    );
    w.engine
        .judge(&id, &stage.id, true, Some("ok".into()), "alice")
        .await
        .unwrap();
    w.settle().await;
    let e = w.get(&id).await;
    assert_eq!(e.status, Status::Succeeded);
    let outputs = &e.stage_by_ref("1").unwrap().outputs;
    assert_eq!(
        (
            outputs["judgmentStatus"].clone(),
            outputs["judgedBy"].clone(),
            outputs["judgmentInput"].clone()
        ),
        (json!("continue"), json!("alice"), json!("ok"))
    );
}

async fn a_stopped_judgment_fails_the_pipeline_and_cancels_other_branches(w: World) {
    let id = w
        .start(json!([
            judgment("1", &[], json!({})),
            wait("2", 100, &[]),
            wait("3", 0, &["1"])
        ]))
        .await;
    w.settle().await;
    let stage = w.get(&id).await.stage_by_ref("1").unwrap().id.clone();
    w.engine
        .judge(&id, &stage, false, None, "bob")
        .await
        .unwrap();
    w.settle().await;
    let e = w.get(&id).await;
    assert_eq!(e.status, Status::Terminal);
    assert_eq!(
        (status_of(&e, "1"), status_of(&e, "2"), status_of(&e, "3")),
        (Status::Terminal, Status::Canceled, Status::NotStarted)
    );
    assert_eq!(
        e.stage_by_ref("1").unwrap().context["exception"]["details"]["errors"][0],
        "stopped by bob"
    );
    w.advance(100).await;
    assert_eq!(w.get(&id).await, e, "the canceled wait does not come back");
}

async fn continue_pipeline_lets_later_stages_run(w: World) {
    let id = w
        .start(json!([
            judgment(
                "1",
                &[],
                json!({"continuePipeline": true, "failPipeline": false})
            ),
            wait("2", 0, &["1"])
        ]))
        .await;
    w.settle().await;
    let stage = w.get(&id).await.stage_by_ref("1").unwrap().id.clone();
    w.engine
        .judge(&id, &stage, false, None, "bob")
        .await
        .unwrap();
    w.settle().await;
    let e = w.get(&id).await;
    assert_eq!(
        (status_of(&e, "1"), status_of(&e, "2"), e.status),
        (Status::FailedContinue, Status::Succeeded, Status::Succeeded)
    );
}

async fn halting_a_branch_lets_the_others_finish(w: World) {
    let id = w
        .start(json!([
            judgment("1", &[], json!({"failPipeline": false})),
            wait("2", 0, &["1"]),
            wait("3", 3, &[])
        ]))
        .await;
    w.settle().await;
    let stage = w.get(&id).await.stage_by_ref("1").unwrap().id.clone();
    w.engine
        .judge(&id, &stage, false, None, "bob")
        .await
        .unwrap();
    w.settle().await;
    assert_eq!(
        w.get(&id).await.status,
        Status::Running,
        "branch 3 still waits"
    );
    w.advance(3).await;
    let e = w.get(&id).await;
    assert_eq!(
        (status_of(&e, "1"), status_of(&e, "2"), status_of(&e, "3")),
        (Status::Stopped, Status::NotStarted, Status::Succeeded)
    );
    assert_eq!(e.status, Status::Succeeded);
}

async fn complete_other_branches_then_fail(w: World) {
    let id = w
        .start(json!([
            judgment(
                "1",
                &[],
                json!({"failPipeline": false, "completeOtherBranchesThenFail": true})
            ),
            wait("3", 5, &[])
        ]))
        .await;
    w.settle().await;
    let stage = w.get(&id).await.stage_by_ref("1").unwrap().id.clone();
    w.engine
        .judge(&id, &stage, false, None, "bob")
        .await
        .unwrap();
    w.settle().await;
    assert_eq!(w.get(&id).await.status, Status::Running);
    w.advance(5).await;
    let e = w.get(&id).await;
    assert_eq!(
        (status_of(&e, "1"), status_of(&e, "3"), e.status),
        (Status::Stopped, Status::Succeeded, Status::Terminal)
    );
}

async fn cancel_stops_running_stages_and_their_tasks(w: World) {
    let id = w
        .start(json!([wait("1", 100, &[]), wait("2", 0, &["1"])]))
        .await;
    w.settle().await;
    w.engine
        .cancel(&id, "carol", Some("wrong build".into()))
        .await
        .unwrap();
    w.settle().await;
    let e = w.get(&id).await;
    assert_eq!(
        (e.status, status_of(&e, "1"), status_of(&e, "2")),
        (Status::Canceled, Status::Canceled, Status::NotStarted)
    );
    assert_eq!(
        (e.canceled_by.as_deref(), e.cancellation_reason.as_deref()),
        (Some("carol"), Some("wrong build"))
    );
    assert_eq!(
        e.stage_by_ref("1").unwrap().tasks[0].status,
        Status::Canceled
    );
    w.advance(100).await;
    assert_eq!(
        w.engine.queue().depth().await.unwrap(),
        QueueDepth::default()
    );
    w.engine.cancel(&id, "dave", None).await.unwrap();
    assert_eq!(
        w.get(&id).await.canceled_by.as_deref(),
        Some("carol"),
        "cancelling a finished execution changes nothing"
    );
}

async fn a_stage_past_its_timeout_fails(w: World) {
    let mut slow = wait("1", 100, &[]);
    slow["stageTimeoutMs"] = json!(5000);
    let id = w.start(json!([slow])).await;
    w.settle().await;
    w.advance(4).await;
    assert_eq!(w.get(&id).await.status, Status::Running);
    w.advance(2).await;
    let e = w.get(&id).await;
    assert_eq!(e.status, Status::Terminal);
    assert_eq!(
        e.stages[0].context["exception"]["details"]["errors"][0],
        "the stage timed out after 5000 ms"
    );
}

async fn duplicate_messages_change_nothing(w: World) {
    let id = w
        .start(json!([wait("1", 0, &[]), wait("2", 0, &["1"])]))
        .await;
    w.settle().await;
    let done = w.get(&id).await;
    let stage = done.stages[0].id.clone();
    for m in [
        Message::StartExecution {
            execution: id.as_str().into(),
        },
        Message::StartStage {
            execution: id.as_str().into(),
            stage: stage.clone(),
        },
        Message::RunTask {
            execution: id.as_str().into(),
            stage: stage.clone(),
            task: "1".into(),
        },
        Message::CompleteStage {
            execution: id.as_str().into(),
            stage,
        },
        Message::CompleteExecution {
            execution: id.as_str().into(),
        },
    ] {
        w.engine.queue().push(&m, Duration::ZERO).await.unwrap();
    }
    assert_eq!(w.settle().await, 5);
    assert_eq!(w.get(&id).await, done);
    assert_eq!(
        w.engine.queue().depth().await.unwrap(),
        QueueDepth::default()
    );
}

async fn stage_types_the_engine_cannot_run_are_refused_at_start(w: World) {
    let doc = PipelineDocument::from_value(json!({"application": "shop", "name": "P", "stages": [
        {"refId": "1", "type": "bakeManifest", "name": "Bake"}
    ]}))
    .unwrap();
    let err = w.engine.start(&doc, json!({})).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "stage 1 (Bake): stage type 'bakeManifest' is not supported"
    );
    let cycle = PipelineDocument::from_value(json!({"application": "shop", "name": "P", "stages": [wait("1", 0, &["2"]), wait("2", 0, &["1"])]})).unwrap();
    let err = w.engine.start(&cycle, json!({})).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "stage 1 (Wait 1): requisiteStageRefIds: is part of a dependency cycle"
    );
}

async fn two_workers_run_one_wide_pipeline_once(w: World) {
    let mut stages = vec![wait("0", 0, &[])];
    for i in 1..=12 {
        stages.push(wait(&i.to_string(), 0, &["0"]));
    }
    let all: Vec<String> = (1..=12).map(|i| i.to_string()).collect();
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    stages.push(wait("join", 0, &refs));
    let id = w.start(Value::Array(stages)).await;
    let other = w.second_worker();
    let (a, b) = tokio::join!(w.engine.run_until_idle(), other.run_until_idle());
    a.unwrap();
    b.unwrap();
    w.settle().await;
    let e = w.get(&id).await;
    assert_eq!(e.status, Status::Succeeded);
    assert!(
        e.stages
            .iter()
            .all(|s| s.status == Status::Succeeded && s.tasks.len() == 1)
    );
    assert_eq!(
        w.engine.queue().depth().await.unwrap(),
        QueueDepth::default()
    );
}

async fn expressions_carry_values_between_stages(w: World) {
    let id = w
        .start_with(
            json!([
                {"refId": "1", "type": "evaluateVariables", "name": "Vars",
                 "variables": [{"key": "tag", "value": "${trigger.parameters.branch.toLowerCase()}-${trigger.parameters.build}"}]},
                {"refId": "2", "type": "wait", "name": "Maybe wait", "requisiteStageRefIds": ["1"],
                 "waitTime": "${#stage('Vars').outputs.tag == 'main-7' ? 0 : 600}"},
                {"refId": "3", "type": "checkPreconditions", "name": "Check", "requisiteStageRefIds": ["2"],
                 "preconditions": [{"type": "expression", "context": {"expression": "${#stage('Vars').outputs.tag.startsWith('main')}"}}]}
            ]),
            json!({"type": "manual", "parameters": {"branch": "Main", "build": 7}}),
        )
        .await;
    w.settle().await;
    let e = w.get(&id).await;
    assert_eq!(
        e.status,
        Status::Succeeded,
        "{:?}",
        e.stages
            .iter()
            .map(|s| (&s.name, s.status, &s.context))
            .collect::<Vec<_>>()
    );
    assert_eq!(e.stage_by_ref("1").unwrap().outputs["tag"], json!("main-7"));
    assert_eq!(e.stage_by_ref("2").unwrap().context["waitTime"], json!(0));
}

async fn a_failed_expression_fails_the_stage_only_in_a_required_field(w: World) {
    let id = w
        .start(json!([
            {"refId": "1", "type": "wait", "name": "Optional", "waitTime": 0, "comments": "${parameters.nothing}"},
            {"refId": "2", "type": "wait", "name": "Required", "waitTime": "${parameters.nothing}", "requisiteStageRefIds": ["1"]}
        ]))
        .await;
    w.settle().await;
    let e = w.get(&id).await;
    let optional = e.stage_by_ref("1").unwrap();
    assert_eq!(optional.status, Status::Succeeded);
    assert_eq!(optional.context["comments"], json!("${parameters.nothing}"));
    assert_eq!(
        optional.context["expressionEvaluationSummary"]["${parameters.nothing}"][0]["description"],
        json!("Failed to evaluate [comments] no property 'nothing'")
    );
    let required = e.stage_by_ref("2").unwrap();
    assert_eq!(
        (required.status, e.status),
        (Status::Terminal, Status::Terminal)
    );
    assert_eq!(
        required.context["exception"]["details"]["errors"][0],
        json!("could not evaluate waitTime: no property 'nothing'")
    );
}

async fn a_disabled_stage_is_skipped_and_the_pipeline_goes_on(w: World) {
    let id = w
        .start_with(
            json!([
                {"refId": "1", "type": "wait", "name": "Prod only", "waitTime": 600,
                 "stageEnabled": {"type": "expression", "expression": "parameters.env == 'prod'"}},
                wait("2", 0, &["1"])
            ]),
            json!({"type": "manual", "parameters": {"env": "test"}}),
        )
        .await;
    w.settle().await;
    let e = w.get(&id).await;
    assert_eq!(
        (status_of(&e, "1"), status_of(&e, "2"), e.status),
        (Status::Skipped, Status::Succeeded, Status::Succeeded)
    );
}

async fn a_false_precondition_fails_with_its_message(w: World) {
    let id = w
        .start(json!([{"refId": "1", "type": "checkPreconditions", "name": "Check", "preconditions": [
            {"type": "expression", "context": {"expression": "${1 > 2}", "failureMessage": "one is not more than two"}}
        ]}]))
        .await;
    w.settle().await;
    let e = w.get(&id).await;
    assert_eq!(e.status, Status::Terminal);
    assert_eq!(
        e.stages[0].context["exception"]["details"]["errors"][0],
        json!("one is not more than two")
    );
    assert_eq!(
        w.engine.evaluate(&id, "${execution.status}").await.unwrap(),
        Ok(json!("TERMINAL"))
    );
    assert_eq!(
        w.engine
            .evaluate(&id, "T(java.lang.Runtime)")
            .await
            .unwrap(),
        Err("type references (T(...)) are not allowed".into())
    );
}

async fn pause_holds_tasks_until_resume(w: World) {
    let id = w
        .start(json!([wait("1", 5, &[]), wait("2", 0, &["1"])]))
        .await;
    w.settle().await;
    w.engine.pause(&id).await.unwrap();
    w.settle().await;
    assert_eq!(w.get(&id).await.status, Status::Paused);
    assert!(
        w.engine
            .pause(&id)
            .await
            .unwrap_err()
            .to_string()
            .contains("is not running")
    );
    w.advance(10).await;
    let e = w.get(&id).await;
    assert_eq!(
        (e.status, status_of(&e, "1")),
        (Status::Paused, Status::Running),
        "nothing moves while paused"
    );
    w.engine.resume(&id).await.unwrap();
    w.settle().await;
    assert_eq!(w.get(&id).await.status, Status::Succeeded);
}

async fn a_failed_stage_restarts_with_everything_after_it(w: World) {
    let id = w
        .start(json!([
            wait("0", 0, &[]),
            judgment("1", &["0"], json!({})),
            wait("2", 0, &["1"])
        ]))
        .await;
    w.settle().await;
    let stage = w.get(&id).await.stage_by_ref("1").unwrap().id.clone();
    assert!(
        w.engine.restart_stage(&id, &stage).await.is_err(),
        "a running stage cannot be restarted"
    );
    w.engine
        .judge(&id, &stage, false, None, "bob")
        .await
        .unwrap();
    w.settle().await;
    assert_eq!(w.get(&id).await.status, Status::Terminal);
    w.engine.restart_stage(&id, &stage).await.unwrap();
    w.settle().await;
    let e = w.get(&id).await;
    assert_eq!(
        (
            e.status,
            status_of(&e, "0"),
            status_of(&e, "1"),
            status_of(&e, "2")
        ),
        (
            Status::Running,
            Status::Succeeded,
            Status::Running,
            Status::NotStarted
        )
    );
    assert!(
        e.stage_by_ref("1")
            .unwrap()
            .context
            .get("exception")
            .is_none()
    );
    assert!(
        e.stage_by_ref("1")
            .unwrap()
            .context
            .get("judgmentStatus")
            .is_none(),
        "the old judgment is cleared"
    );
    w.engine
        .judge(&id, &stage, true, None, "carol")
        .await
        .unwrap();
    w.settle().await;
    let e = w.get(&id).await;
    assert_eq!(
        (e.status, status_of(&e, "2")),
        (Status::Succeeded, Status::Succeeded)
    );
    assert_eq!(
        e.stage_by_ref("1").unwrap().outputs["judgedBy"],
        json!("carol")
    );
}

async fn a_running_execution_that_lost_its_message_is_recovered(w: World) {
    let id = w
        .start(json!([wait("1", 5, &[]), wait("2", 0, &["1"])]))
        .await;
    w.settle().await;
    assert_eq!(
        w.engine.recover_zombies().await.unwrap(),
        0,
        "a healthy execution is left alone"
    );
    w.clock.advance(Duration::from_secs(5));
    let lost = w.engine.queue().poll(10).await.unwrap();
    assert_eq!(lost.len(), 1);
    w.engine
        .queue()
        .dead_letter(&lost[0], "lost on purpose")
        .await
        .unwrap();
    w.settle().await;
    assert_eq!(w.get(&id).await.status, Status::Running);
    assert_eq!(w.engine.recover_zombies().await.unwrap(), 1);
    w.settle().await;
    let e = w.get(&id).await;
    assert_eq!(e.status, Status::Succeeded);
    assert_eq!(e.stages[0].tasks.len(), 1);
}

async fn start_limited(w: &World, keep_waiting: bool) -> String {
    let doc = PipelineDocument::from_value(json!({"application": "shop", "name": "Deploy", "id": "pipe-1",
        "limitConcurrent": true, "keepWaitingPipelines": keep_waiting, "stages": [wait("1", 5, &[])]}))
    .unwrap();
    let id = w
        .engine
        .start(&doc, json!({"type": "manual"}))
        .await
        .unwrap();
    w.clock.advance(Duration::from_millis(1));
    id
}

async fn limit_concurrent_runs_one_at_a_time_in_order(w: World) {
    let a = start_limited(&w, true).await;
    w.settle().await;
    let b = start_limited(&w, true).await;
    let c = start_limited(&w, true).await;
    w.settle().await;
    let status = |e: &Execution| e.status;
    assert_eq!(
        (
            status(&w.get(&a).await),
            status(&w.get(&b).await),
            status(&w.get(&c).await)
        ),
        (Status::Running, Status::NotStarted, Status::NotStarted)
    );
    assert_eq!(
        w.engine.recover_zombies().await.unwrap(),
        0,
        "waiting executions are not zombies"
    );
    w.advance(5).await;
    assert_eq!(
        (
            status(&w.get(&a).await),
            status(&w.get(&b).await),
            status(&w.get(&c).await)
        ),
        (Status::Succeeded, Status::Running, Status::NotStarted)
    );
    w.advance(5).await;
    w.advance(5).await;
    assert_eq!(
        (status(&w.get(&b).await), status(&w.get(&c).await)),
        (Status::Succeeded, Status::Succeeded)
    );
}

async fn without_keep_waiting_only_the_newest_waits(w: World) {
    let a = start_limited(&w, false).await;
    w.settle().await;
    let b = start_limited(&w, false).await;
    w.settle().await;
    let c = start_limited(&w, false).await;
    w.settle().await;
    assert_eq!(w.get(&b).await.status, Status::Canceled);
    assert_eq!(w.get(&c).await.status, Status::NotStarted);
    w.advance(5).await;
    assert_eq!(
        (w.get(&a).await.status, w.get(&c).await.status),
        (Status::Succeeded, Status::Running)
    );
}

async fn pipelines_without_the_limit_run_side_by_side(w: World) {
    let doc = PipelineDocument::from_value(json!({"application": "shop", "name": "Free", "id": "pipe-2", "stages": [wait("1", 5, &[])]})).unwrap();
    let a = w.engine.start(&doc, json!({})).await.unwrap();
    let b = w.engine.start(&doc, json!({})).await.unwrap();
    w.settle().await;
    assert_eq!(
        (w.get(&a).await.status, w.get(&b).await.status),
        (Status::Running, Status::Running)
    );
}

async fn a_finished_pipeline_starts_the_pipelines_that_wait_for_it(w: World) {
    let child = PipelineDocument::from_value(json!({"application": "shop", "name": "Prod", "stages": [wait("1", 0, &[])],
        "parameterConfig": [{"name": "env", "default": "prod"}],
        "triggers": [{"type": "pipeline", "application": "shop", "pipeline": "parent-1", "status": ["successful"], "enabled": true}]}))
    .unwrap();
    w.store.save_pipeline(child, "alice").await.unwrap();
    let parent = PipelineDocument::from_value(json!({"application": "shop", "name": "Test", "id": "parent-1", "stages": [wait("1", 0, &[])]})).unwrap();
    let id = w
        .engine
        .start(&parent, json!({"type": "manual", "user": "alice"}))
        .await
        .unwrap();
    w.settle().await;
    let all = w.engine.executions("shop", 10).await.unwrap();
    assert_eq!(all.len(), 2);
    let child = all.iter().find(|e| e.name == "Prod").unwrap();
    assert_eq!(child.status, Status::Succeeded);
    assert_eq!(
        (
            child.trigger["type"].clone(),
            child.trigger["parentExecution"]["id"].clone()
        ),
        (json!("pipeline"), json!(id))
    );
    assert_eq!(
        (
            child.trigger["user"].clone(),
            child.trigger["parameters"].clone()
        ),
        (json!("alice"), json!({"env": "prod"}))
    );
    // Handling the same ending again starts nothing more.
    w.engine
        .queue()
        .push(
            &Message::StartTriggeredPipelines {
                execution: id.as_str().into(),
            },
            Duration::ZERO,
        )
        .await
        .unwrap();
    w.settle().await;
    assert_eq!(w.engine.executions("shop", 10).await.unwrap().len(), 2);
}

async fn a_pipeline_stage_runs_another_pipeline_and_waits_for_it(w: World) {
    let child = PipelineDocument::from_value(
        json!({"application": "shop", "name": "Child", "id": "child-1",
        "parameterConfig": [{"name": "env", "required": true}], "stages": [wait("1", 2, &[])]}),
    )
    .unwrap();
    w.store.save_pipeline(child, "alice").await.unwrap();
    let failing = PipelineDocument::from_value(json!({"application": "shop", "name": "Failing", "id": "child-2", "stages": [
        {"refId": "1", "type": "checkPreconditions", "name": "No", "preconditions": [{"type": "expression", "context": {"expression": false}}]}
    ]}))
    .unwrap();
    w.store.save_pipeline(failing, "alice").await.unwrap();

    let id = w
        .start_with(
            json!([
                {"refId": "1", "type": "pipeline", "name": "Run child", "application": "shop", "pipeline": "child-1",
                 "pipelineParameters": {"env": "${parameters.target}"}},
                {"refId": "2", "type": "pipeline", "name": "Run failing", "application": "shop", "pipeline": "child-2", "requisiteStageRefIds": ["1"]},
                {"refId": "3", "type": "pipeline", "name": "Run missing", "application": "shop", "pipeline": "nope",
                 "failPipeline": false}
            ]),
            json!({"type": "manual", "user": "alice", "parameters": {"target": "prod"}}),
        )
        .await;
    w.settle().await;
    let e = w.get(&id).await;
    assert_eq!(status_of(&e, "1"), Status::Running);
    assert_eq!(
        e.stage_by_ref("3").unwrap().context["exception"]["details"]["errors"][0],
        json!("there is no pipeline with id 'nope'")
    );
    let child_id = e.stage_by_ref("1").unwrap().outputs["executionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let child = w.get(&child_id).await;
    assert_eq!(
        (
            child.trigger["parameters"]["env"].clone(),
            child.trigger["parentExecution"]["id"].clone()
        ),
        (json!("prod"), json!(id))
    );
    w.advance(2).await;
    assert_eq!(w.get(&child_id).await.status, Status::Succeeded);
    w.advance(5).await;
    assert_eq!(
        status_of(&w.get(&id).await, "2"),
        Status::Running,
        "the failing child is looked at every 5 s"
    );
    w.advance(5).await;
    let e = w.get(&id).await;
    assert_eq!(
        (status_of(&e, "1"), status_of(&e, "2"), e.status),
        (Status::Succeeded, Status::Terminal, Status::Terminal)
    );
    assert_eq!(
        e.stage_by_ref("2").unwrap().context["exception"]["details"]["errors"][0],
        json!("the pipeline 'Failing' ended TERMINAL")
    );
    assert_eq!(
        w.engine.executions("shop", 10).await.unwrap().len(),
        3,
        "each child ran once"
    );

    // Cancelling a parent cancels the pipeline its running stage runs.
    let parent = w.start(json!([{"refId": "1", "type": "pipeline", "name": "Run child", "application": "shop", "pipeline": "child-1",
        "pipelineParameters": {"env": "test"}}])).await;
    w.settle().await;
    let child = w.get(&parent).await.stages[0].outputs["executionId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(w.get(&child).await.status, Status::Running);
    w.engine.cancel(&parent, "carol", None).await.unwrap();
    w.settle().await;
    assert_eq!(
        (w.get(&parent).await.status, w.get(&child).await.status),
        (Status::Canceled, Status::Canceled)
    );
}

/// A small HTTP service for the webhook stage: `POST /deploy` answers 201 with a job to poll,
/// `GET /jobs/1` says RUNNING twice then DONE, `POST /broken` refuses.
async fn job_service() -> (String, Arc<std::sync::Mutex<Vec<Value>>>) {
    use axum::routing::{get, post};
    let seen: Arc<std::sync::Mutex<Vec<Value>>> = Arc::default();
    let polls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let record = seen.clone();
    let app = axum::Router::new()
        .route(
            "/deploy",
            post(
                move |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| {
                    let record = record.clone();
                    async move {
                        let token = headers
                            .get("x-token")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned();
                        record
                            .lock()
                            .unwrap()
                            .push(json!({"body": body, "token": token}));
                        (
                            axum::http::StatusCode::CREATED,
                            [("location", "/jobs/1")],
                            axum::Json(json!({"id": 1})),
                        )
                    }
                },
            ),
        )
        .route(
            "/jobs/1",
            get(move || {
                let n = polls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async move { axum::Json(json!({"state": if n < 2 { "RUNNING" } else { "DONE" }})) }
            }),
        )
        .route(
            "/broken",
            post(|| async { (axum::http::StatusCode::BAD_REQUEST, "image is missing") }),
        )
        .route(
            "/jobs/1/cancel",
            post({
                let record = seen.clone();
                move |axum::Json(body): axum::Json<Value>| {
                    let record = record.clone();
                    async move {
                        record.lock().unwrap().push(json!({"canceled": body}));
                        axum::http::StatusCode::ACCEPTED
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

async fn a_webhook_stage_calls_out_and_follows_the_job(w: World) {
    let (base, seen) = job_service().await;
    let id = w
        .start_with(
            json!([
                {"refId": "1", "type": "webhook", "name": "Deploy", "url": format!("{base}/deploy"), "method": "POST",
                 "payload": {"image": "shop:${parameters.tag}"}, "customHeaders": {"X-Token": "secret"},
                 "waitForCompletion": true, "statusUrlResolution": "locationHeader", "statusJsonPath": "$.state", "successStatuses": "DONE"},
                {"refId": "2", "type": "webhook", "name": "Refused", "url": format!("{base}/broken"), "method": "POST", "failPipeline": false}
            ]),
            json!({"type": "manual", "parameters": {"tag": "1.4"}}),
        )
        .await;
    w.settle().await;
    let e = w.get(&id).await;
    assert_eq!(
        status_of(&e, "1"),
        Status::Running,
        "the job is still running"
    );
    assert_eq!(
        e.stage_by_ref("2").unwrap().context["exception"]["details"]["errors"][0],
        json!("the webhook answered 400: image is missing")
    );
    assert_eq!(
        *seen.lock().unwrap(),
        vec![json!({"body": {"image": "shop:1.4"}, "token": "secret"})]
    );
    w.advance(10).await;
    assert_eq!(status_of(&w.get(&id).await, "1"), Status::Running);
    w.advance(10).await;
    let e = w.get(&id).await;
    let deploy = e.stage_by_ref("1").unwrap();
    assert_eq!(deploy.status, Status::Succeeded);
    assert_eq!(deploy.outputs["webhook"]["statusCode"], json!(201));
    assert_eq!(
        deploy.outputs["webhook"]["monitor"]["status"],
        json!("DONE")
    );
    assert_eq!(
        (status_of(&e, "2"), e.status),
        (Status::Stopped, Status::Succeeded)
    );
}

async fn a_stage_waits_for_its_execution_window(w: World) {
    // The test clock starts at 08:00 UTC.
    let mut stage = wait("1", 0, &[]);
    stage["restrictExecutionDuringTimeWindow"] = json!(true);
    stage["restrictedExecutionWindow"] = json!({"whitelist": [{"startHour": 9, "startMin": 0, "endHour": 10, "endMin": 0}], "days": []});
    let id = w.start(json!([stage])).await;
    w.settle().await;
    let e = w.get(&id).await;
    assert_eq!(
        e.stages[0]
            .tasks
            .iter()
            .map(|t| (t.name.as_str(), t.status))
            .collect::<Vec<_>>(),
        [
            ("waitForExecutionWindow", Status::Running),
            ("wait", Status::NotStarted)
        ]
    );
    w.advance(3599).await;
    assert_eq!(w.get(&id).await.status, Status::Running);
    w.advance(1).await;
    assert_eq!(w.get(&id).await.status, Status::Succeeded);
}

async fn cron_triggers_start_each_scheduled_run_once(w: World) {
    let doc = PipelineDocument::from_value(
        json!({"application": "shop", "name": "Nightly", "stages": [wait("1", 0, &[])],
        "triggers": [{"type": "cron", "cronExpression": "0 0/5 * * * ?", "enabled": true},
                     {"type": "cron", "cronExpression": "0 * * * * ?", "enabled": false}]}),
    )
    .unwrap();
    w.store.save_pipeline(doc, "alice").await.unwrap();
    let start = w.clock.now_ms();
    // The test clock starts at 08:00:00 UTC: 08:05 and 08:10 fall in the next twelve minutes.
    assert_eq!(
        w.engine
            .fire_cron_triggers(start, start + 12 * 60_000)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        w.engine
            .fire_cron_triggers(start, start + 12 * 60_000)
            .await
            .unwrap(),
        0,
        "the same window again starts nothing"
    );
    w.settle().await;
    let runs = w.engine.executions("shop", 10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|e| e.status == Status::Succeeded
        && e.trigger["type"] == "cron"
        && e.trigger["user"] == "[cron]"));
}

async fn expected_artifacts_resolve_from_the_trigger_or_the_previous_run(w: World) {
    let doc = PipelineDocument::from_value(json!({"application": "shop", "name": "Deploy", "id": "deploy-1", "stages": [wait("1", 0, &[])],
        "expectedArtifacts": [{"id": "img", "displayName": "shop image", "usePriorArtifact": true,
            "matchArtifact": {"type": "docker/image", "name": "registry/shop"}}]}))
    .unwrap();
    let err = w
        .engine
        .start(&doc, json!({"type": "manual"}))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("expected artifact 'shop image' was not found"),
        "{err}"
    );
    let pushed = json!({"type": "docker/image", "name": "registry/shop", "version": "1.4", "reference": "registry/shop@sha256:abc"});
    let first = w
        .engine
        .start(&doc, json!({"type": "webhook", "artifacts": [pushed]}))
        .await
        .unwrap();
    w.clock.advance(Duration::from_millis(1));
    let second = w
        .engine
        .start(&doc, json!({"type": "manual"}))
        .await
        .unwrap();
    for id in [first, second] {
        let e = w.get(&id).await;
        let resolved = &e.trigger["resolvedExpectedArtifacts"][0];
        assert_eq!(
            (
                resolved["reference"].clone(),
                resolved["expectedArtifactId"].clone()
            ),
            (json!("registry/shop@sha256:abc"), json!("img")),
            "{id}"
        );
    }
}

async fn canceling_tells_a_running_webhook_job_to_stop(w: World) {
    let (base, seen) = job_service().await;
    let id = w
        .start(json!([{"refId": "1", "type": "webhook", "name": "Deploy", "url": format!("{base}/deploy"), "method": "POST",
            "payload": {"image": "x"}, "waitForCompletion": true, "statusUrlResolution": "locationHeader", "statusJsonPath": "$.state",
            "successStatuses": "DONE", "cancelEndpoint": format!("{base}/jobs/1/cancel"), "cancelPayload": {"reason": "canceled in Topsail"}}]))
        .await;
    w.settle().await;
    assert_eq!(w.get(&id).await.status, Status::Running);
    w.engine.cancel(&id, "carol", None).await.unwrap();
    w.settle().await;
    assert_eq!(w.get(&id).await.status, Status::Canceled);
    let calls = seen.lock().unwrap().clone();
    assert_eq!(
        calls.last().unwrap(),
        &json!({"canceled": {"reason": "canceled in Topsail"}})
    );
    assert_eq!(calls.len(), 2, "one deploy, one cancel");
    w.advance(10).await;
    assert_eq!(
        w.engine.queue().depth().await.unwrap(),
        QueueDepth::default(),
        "the monitor's next check was dropped"
    );
}

/// A queue backend whose writes fail while `down` is set (Redis unreachable after a commit).
struct Unreliable {
    inner: RedisQueue,
    down: std::sync::atomic::AtomicBool,
}

impl Unreliable {
    fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), QueueError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            Err(QueueError::Corrupt("Redis is down (test)".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl QueueBackend for Unreliable {
    async fn push(&self, items: &[NewItem]) -> Result<(), QueueError> {
        self.check()?;
        self.inner.push(items).await
    }
    async fn poll(
        &self,
        now_ms: i64,
        max: usize,
        lease_ms: i64,
        max_attempts: u32,
    ) -> Result<Vec<RawDelivery>, QueueError> {
        self.inner.poll(now_ms, max, lease_ms, max_attempts).await
    }
    async fn complete(
        &self,
        id: &str,
        lease: &str,
        follow_ups: &[NewItem],
    ) -> Result<bool, QueueError> {
        self.check()?;
        self.inner.complete(id, lease, follow_ups).await
    }
    async fn dead_letter(
        &self,
        id: &str,
        lease: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<bool, QueueError> {
        self.inner.dead_letter(id, lease, reason, now_ms).await
    }
    async fn depth(&self, now_ms: i64) -> Result<QueueDepth, QueueError> {
        self.inner.depth(now_ms).await
    }
    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        self.inner.dead_letters(limit).await
    }
    async fn payloads(&self) -> Result<Vec<String>, QueueError> {
        self.inner.payloads().await
    }
}

/// Redis fails after the database committed: the messages wait in the outbox and the settled
/// message comes back, yet the execution finishes with every stage run once and nothing left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_failing_after_commits_nothing_is_lost_or_run_twice() {
    let db = support::TestDatabase::create(Backend::Postgres).await;
    let store = db.store().await;
    let clock = ManualClock::starting_at(1_800_000_000_000);
    let redis = support::redis_queue().await;
    let queue = Arc::new(Unreliable {
        inner: redis.clone(),
        down: false.into(),
    });
    let settings = QueueSettings {
        visibility_timeout: Duration::from_secs(60),
        max_attempts: 10,
    };
    let engine = Engine::with_queue(
        &store,
        queue.clone(),
        Arc::new(clock.clone()),
        settings,
        StageRegistry::standard(),
    );
    let doc = PipelineDocument::from_value(json!({"application": "shop", "name": "P",
        "stages": [wait("1", 5, &[]), wait("2a", 0, &["1"]), wait("2b", 0, &["1"]), wait("3", 0, &["2a", "2b"])]}))
    .unwrap();

    // Down before the start: the start message waits in the outbox until it is relayed.
    queue.set_down(true);
    let id = engine.start(&doc, json!({"type": "manual"})).await.unwrap();
    queue.set_down(false);
    assert_eq!(
        engine.run_until_idle().await.unwrap(),
        0,
        "nothing reached the queue"
    );
    assert_eq!(
        engine.relay_outbox().await.unwrap(),
        0,
        "a fresh row is its writer's to move"
    );
    clock.advance(Duration::from_secs(10));
    assert_eq!(engine.relay_outbox().await.unwrap(), 1);
    engine.run_until_idle().await.unwrap();
    assert_eq!(
        status_of(&engine.execution(&id).await.unwrap(), "1"),
        Status::Running
    );

    // Down while the rest runs: every commit lands in the database, no message leaves it.
    queue.set_down(true);
    clock.advance(Duration::from_secs(5));
    engine.run_until_idle().await.unwrap();
    let e = engine.execution(&id).await.unwrap();
    assert_eq!(
        e.status,
        Status::Succeeded,
        "the worker carried the execution on by itself"
    );
    assert!(
        engine.queue().depth().await.unwrap().in_flight >= 1,
        "the settled message is still leased"
    );

    // Back up: the redelivered message is recognised as handled, its follow-ups are moved and
    // dropped as handled too, and the queue and outbox end empty.
    queue.set_down(false);
    for _ in 0..5 {
        clock.advance(Duration::from_secs(61));
        engine.relay_outbox().await.unwrap();
        engine.run_until_idle().await.unwrap();
    }
    let after = engine.execution(&id).await.unwrap();
    assert_eq!(after, e, "nothing ran again");
    assert!(
        after
            .stages
            .iter()
            .all(|s| s.tasks.len() == 1 && s.status == Status::Succeeded)
    );
    assert_eq!(engine.queue().depth().await.unwrap(), QueueDepth::default());
    assert_eq!(engine.recover_zombies().await.unwrap(), 0);
    store.close().await.unwrap();
    db.drop().await;
    redis.delete_all().await.unwrap();
}

/// A service that, while it answers a call, changes the execution elsewhere (as another worker
/// or a person would), so the worker's commit finds it changed and applies its messages again.
async fn meddling_service(
    store: &server::store::Store,
) -> (
    String,
    Arc<std::sync::Mutex<Vec<Value>>>,
    Arc<std::sync::Mutex<String>>,
) {
    use server::orchestration::executions::ExecutionStore;
    use server::orchestration::queue::DatabaseQueue;
    use server::orchestration::sink::SameDatabase;
    let executions = Arc::new(ExecutionStore::new(
        store,
        Arc::new(SameDatabase {
            queue: Arc::new(DatabaseQueue::new(store)),
        }),
    ));
    let calls: Arc<std::sync::Mutex<Vec<Value>>> = Arc::default();
    let execution: Arc<std::sync::Mutex<String>> = Arc::default();
    let (record, target) = (calls.clone(), execution.clone());
    let app = axum::Router::new().route(
        "/{what}",
        axum::routing::post(
            move |axum::extract::Path(what): axum::extract::Path<String>,
                  axum::Json(body): axum::Json<Value>| {
                let (record, target, executions) =
                    (record.clone(), target.clone(), executions.clone());
                async move {
                    record
                        .lock()
                        .unwrap()
                        .push(json!({"to": what, "body": body}));
                    let id = target.lock().unwrap().clone();
                    let v = executions.load(&id).await.unwrap().unwrap();
                    executions
                        .update(&v.execution, v.version, &[])
                        .await
                        .unwrap();
                    axum::http::StatusCode::OK
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, calls, execution)
}

async fn a_call_out_is_not_repeated_when_the_execution_changed_meanwhile(w: World) {
    let (base, calls, target) = meddling_service(&w.store).await;
    let doc = PipelineDocument::from_value(json!({"application": "shop", "name": "P",
        "notifications": [{"type": "webhook", "address": format!("{base}/notified"), "when": ["pipeline.starting"]}],
        "stages": [{"refId": "1", "type": "webhook", "name": "Call", "url": format!("{base}/called"), "method": "POST", "payload": {"n": 1}}]}))
    .unwrap();
    let id = w
        .engine
        .start(&doc, json!({"type": "manual", "user": "alice"}))
        .await
        .unwrap();
    *target.lock().unwrap() = id.clone();
    w.settle().await;
    let e = w.get(&id).await;
    assert_eq!(
        (e.status, status_of(&e, "1")),
        (Status::Succeeded, Status::Succeeded)
    );
    let mut called: Vec<Value> = calls
        .lock()
        .unwrap()
        .iter()
        .map(|c| c["to"].clone())
        .collect();
    called.sort_by_key(|v| v.to_string());
    assert_eq!(
        called,
        [json!("called"), json!("notified")],
        "each call out made once"
    );
    let delivered: Vec<_> = e
        .notification_deliveries
        .iter()
        .map(|d| (d.event.clone(), d.attempts))
        .collect();
    assert_eq!(delivered, [("pipeline.starting".to_owned(), 1)]);
}

/// The executions list's pages and filters, in the store (issue 18): pages meet without gaps or
/// repeats (also between executions built in the same millisecond), and the filters the store
/// has no column for (trigger, user) still page correctly.
async fn executions_are_paged_and_filtered_in_the_store(w: World) {
    use domain::execution_query::ExecutionQuery;
    let mut ids = Vec::new();
    for i in 0..7 {
        let trigger = if i % 2 == 0 {
            json!({"type": "manual", "user": "alice"})
        } else {
            json!({"type": "jenkins", "user": "ci"})
        };
        ids.push(w.start_with(json!([wait("0", 0, &[])]), trigger).await);
        if i == 3 {
            w.clock.advance(Duration::from_secs(1));
        }
    }
    w.settle().await;
    let all_pages = |query: ExecutionQuery| {
        let engine = &w.engine;
        async move {
            let (mut seen, mut query) = (Vec::new(), query);
            loop {
                let cursor = query.validate().unwrap();
                let page = engine
                    .executions_page("shop", &query, cursor.as_ref())
                    .await
                    .unwrap();
                assert!(page.executions.len() <= 3);
                seen.extend(page.executions.iter().map(|e| e.id.to_string()));
                match page.next {
                    Some(next) => query.before = Some(next),
                    None => return seen,
                }
            }
        }
    };
    let page_of_3 = ExecutionQuery {
        limit: Some(3),
        ..Default::default()
    };
    let seen = all_pages(page_of_3.clone()).await;
    let mut expected = ids.clone();
    expected.sort();
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "every execution once");
    // Newest first: the three started after the clock moved come first.
    assert!(seen[..3].iter().all(|id| ids[4..].contains(id)), "{seen:?}");

    let by_trigger = all_pages(ExecutionQuery {
        trigger: Some("jenkins".into()),
        ..page_of_3.clone()
    })
    .await;
    assert_eq!(by_trigger.len(), 3);
    let by_user = all_pages(ExecutionQuery {
        user: Some("alice".into()),
        ..page_of_3.clone()
    })
    .await;
    assert_eq!(by_user.len(), 4);
    let none = all_pages(ExecutionQuery {
        statuses: vec![Status::Terminal],
        ..page_of_3.clone()
    })
    .await;
    assert!(none.is_empty());
    let one = all_pages(ExecutionQuery {
        id: Some(ids[2].clone()),
        ..page_of_3
    })
    .await;
    assert_eq!(one, [ids[2].clone()]);
}

macro_rules! engine_tests {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::with_world(super::Backend::Sqlite, super::Queue::Database, super::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::with_world(super::Backend::Postgres, super::Queue::Database, super::$case).await;
                }
            )*
        }
        mod postgres_redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::with_world(super::Backend::Postgres, super::Queue::Redis, super::$case).await;
                }
            )*
        }
    };
}

engine_tests!(
    stages_run_in_dependency_order,
    executions_are_paged_and_filtered_in_the_store,
    a_wait_holds_until_its_time_without_blocking,
    parallel_branches_join_before_the_next_stage,
    a_judgment_continues_with_the_judge_and_input_recorded,
    a_stopped_judgment_fails_the_pipeline_and_cancels_other_branches,
    continue_pipeline_lets_later_stages_run,
    halting_a_branch_lets_the_others_finish,
    complete_other_branches_then_fail,
    cancel_stops_running_stages_and_their_tasks,
    a_stage_past_its_timeout_fails,
    duplicate_messages_change_nothing,
    stage_types_the_engine_cannot_run_are_refused_at_start,
    two_workers_run_one_wide_pipeline_once,
    expressions_carry_values_between_stages,
    a_failed_expression_fails_the_stage_only_in_a_required_field,
    a_disabled_stage_is_skipped_and_the_pipeline_goes_on,
    a_false_precondition_fails_with_its_message,
    pause_holds_tasks_until_resume,
    a_failed_stage_restarts_with_everything_after_it,
    a_running_execution_that_lost_its_message_is_recovered,
    limit_concurrent_runs_one_at_a_time_in_order,
    without_keep_waiting_only_the_newest_waits,
    pipelines_without_the_limit_run_side_by_side,
    a_finished_pipeline_starts_the_pipelines_that_wait_for_it,
    a_pipeline_stage_runs_another_pipeline_and_waits_for_it,
    a_webhook_stage_calls_out_and_follows_the_job,
    a_stage_waits_for_its_execution_window,
    cron_triggers_start_each_scheduled_run_once,
    expected_artifacts_resolve_from_the_trigger_or_the_previous_run,
    canceling_tells_a_running_webhook_job_to_stop,
    a_call_out_is_not_repeated_when_the_execution_changed_meanwhile,
);
