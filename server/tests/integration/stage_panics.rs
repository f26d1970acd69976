//! A panic in a stage's code fails that stage (TERMINAL, with a message) and the worker goes on
//! with the next run.

use std::sync::Arc;

use domain::execution::{StageType, Status};
use domain::pipeline::PipelineDocument;
use serde_json::json;
use server::orchestration::engine::Engine;
use server::orchestration::queue::{ManualClock, QueueSettings};
use server::orchestration::stages::{StageKind, StageRegistry, TaskContext, TaskResult};

use crate::support::{Backend, with_store};

/// `wait`, but its code panics.
struct PanickingWait;

#[async_trait::async_trait]
impl StageKind for PanickingWait {
    fn stage_type(&self) -> StageType {
        StageType::Wait
    }

    async fn run_task(&self, _cx: TaskContext<'_>) -> TaskResult {
        panic!("a bug in a stage");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_stage_fails_its_run_and_the_worker_goes_on() {
    with_store(Backend::Sqlite, |store| async move {
        let mut stages = StageRegistry::standard();
        stages.register(Arc::new(PanickingWait));
        let clock = ManualClock::starting_at(1_800_000_000_000);
        let engine = Engine::new(&store, Arc::new(clock), QueueSettings::default(), stages);
        let doc = PipelineDocument::from_value(json!({"application": "shop", "name": "P",
            "stages": [{"refId": "1", "type": "wait", "name": "W", "waitTime": 1}]}))
        .unwrap();
        let first = engine
            .start(&doc, json!({"type": "manual", "user": "ann"}))
            .await
            .unwrap();
        let second = engine
            .start(&doc, json!({"type": "manual", "user": "ann"}))
            .await
            .unwrap();
        engine.run_until_idle().await.unwrap();
        for id in [first, second] {
            let e = engine.execution(&id).await.unwrap();
            assert_eq!(e.status, Status::Terminal, "{id}");
            let stage = e.stage_by_ref("1").unwrap();
            assert_eq!(stage.status, Status::Terminal);
            let why = stage.context["exception"]["details"]["errors"][0].to_string();
            assert!(why.contains("failed unexpectedly inside Topsail"), "{why}");
        }
    })
    .await;
}
