//! Stage types the engine can run. Each lives in its own module; adding one means its entry in
//! the domain's stage catalog (`domain::stage_types::CATALOG`: required fields, tasks, editor
//! form) and its [`StageKind`] here, registered in [`StageRegistry::standard`] (or a `with_*`
//! for kinds that need an outside system). A test checks the catalog and the registry agree.

mod check_preconditions;
mod evaluate_variables;
mod jenkins;
mod kubernetes;
pub use kubernetes::manifests_from_yaml;
pub use kubernetes::planned_deploy;
mod manual_judgment;
mod run_pipeline;
mod wait;
mod webhook;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::execution::{Execution, Stage, StageType};
use serde_json::{Map, Value};

/// What a task reports after one run.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskResult {
    /// Done; `outputs` are merged into the stage's outputs (and context).
    Succeeded { outputs: Map<String, Value> },
    /// Not done yet: run the task again after `check_again_in`. No thread waits meanwhile.
    Running { check_again_in: Duration },
    /// Failed, with the reason in plain words (recorded on the stage as `exception`).
    Failed { message: String },
}

/// What a task sees.
pub struct TaskContext<'a> {
    pub execution: &'a Execution,
    pub stage: &'a Stage,
    pub task: &'a str,
    pub now_ms: i64,
    /// Other pipelines, for stages that run them.
    pub pipelines: &'a dyn PipelineRunner,
}

/// What stages may do with other pipelines (the engine provides it).
#[async_trait]
pub trait PipelineRunner: Send + Sync {
    /// Starts the pipeline with id `pipeline_id` as run `run_id` (nothing happens if that run
    /// exists already), with `parameters` checked against its parameterConfig.
    async fn start_pipeline(
        &self,
        pipeline_id: &str,
        run_id: &str,
        trigger: Value,
    ) -> Result<(), String>;
    async fn execution(&self, id: &str) -> Result<Option<Execution>, String>;
    /// Cancels a run (nothing happens if it has ended).
    async fn cancel(&self, id: &str, by: &str) -> Result<(), String>;
}

#[async_trait]
pub trait StageKind: Send + Sync + 'static {
    /// The type this kind runs (its entry in the stage catalog).
    fn stage_type(&self) -> StageType;
    /// The tasks a stage of this type runs, in order: the catalog's, unless the stage's options
    /// leave some out.
    fn tasks(&self, _stage: &Stage) -> Vec<&'static str> {
        self.stage_type()
            .info()
            .map(|info| info.tasks.to_vec())
            .unwrap_or_default()
    }
    async fn run_task(&self, cx: TaskContext<'_>) -> TaskResult;

    /// The stage was canceled while running: stop what it started elsewhere. An error is
    /// retried (the message is delivered again) and finally dead-lettered.
    async fn stop(&self, _cx: TaskContext<'_>) -> Result<(), String> {
        Ok(())
    }
}

/// The stage types the engine knows, by name.
#[derive(Clone)]
pub struct StageRegistry {
    kinds: HashMap<StageType, Arc<dyn StageKind>>,
    /// How stages call user-given URLs.
    outbound: crate::outbound::OutboundClient,
    /// How the Kubernetes stages read `s3/object` manifest artifacts.
    s3_artifacts: Arc<crate::blobs::artifacts::S3ArtifactAccounts>,
}

impl StageRegistry {
    /// Every stage type Topsail runs today, calling user-given URLs under the default
    /// outbound policy.
    pub fn standard() -> Self {
        Self::standard_with(crate::outbound::OutboundClient::with_defaults())
    }

    /// Every stage type Topsail runs today, calling user-given URLs through `outbound`.
    pub fn standard_with(outbound: crate::outbound::OutboundClient) -> Self {
        let mut registry = Self {
            kinds: HashMap::new(),
            outbound: outbound.clone(),
            s3_artifacts: Arc::default(),
        };
        registry.register(Arc::new(wait::Wait));
        registry.register(Arc::new(manual_judgment::ManualJudgment));
        registry.register(Arc::new(evaluate_variables::EvaluateVariables));
        registry.register(Arc::new(check_preconditions::CheckPreconditions));
        registry.register(Arc::new(run_pipeline::RunPipeline));
        registry.register(Arc::new(webhook::Webhook::new(outbound)));
        registry
    }

    /// Adds the Kubernetes manifest stages, working on `accounts`; with a store they keep each
    /// application to its deploy targets.
    pub fn with_kubernetes(
        mut self,
        accounts: crate::kubernetes::Accounts,
        store: Option<crate::store::Store>,
    ) -> Self {
        let outbound = self.outbound.clone();
        let s3_artifacts = self.s3_artifacts.clone();
        let on = |accounts: &crate::kubernetes::Accounts| kubernetes::On {
            accounts: accounts.clone(),
            store: store.clone(),
            outbound: outbound.clone(),
            s3_artifacts: s3_artifacts.clone(),
        };
        self.register(Arc::new(kubernetes::DeployManifest(on(&accounts))));
        self.register(Arc::new(kubernetes::DeleteManifest(on(&accounts))));
        self.register(Arc::new(kubernetes::ScaleManifest(on(&accounts))));
        self.register(Arc::new(kubernetes::PatchManifest(on(&accounts))));
        self.register(Arc::new(kubernetes::UndoRolloutManifest(on(&accounts))));
        self.register(Arc::new(kubernetes::FindArtifactsFromResource(on(
            &accounts,
        ))));
        self
    }

    /// The S3 accounts the Kubernetes stages (added after this) read `s3/object` manifest
    /// artifacts through.
    pub fn with_s3_artifacts(
        mut self,
        accounts: Arc<crate::blobs::artifacts::S3ArtifactAccounts>,
    ) -> Self {
        self.s3_artifacts = accounts;
        self
    }

    /// Adds the `jenkins` stage, on `masters`.
    pub fn with_jenkins(mut self, masters: crate::jenkins::JenkinsMasters) -> Self {
        self.register(Arc::new(jenkins::Jenkins { masters }));
        self
    }

    pub fn register(&mut self, kind: Arc<dyn StageKind>) {
        self.kinds.insert(kind.stage_type(), kind);
    }

    pub fn get(&self, stage_type: &StageType) -> Option<&Arc<dyn StageKind>> {
        self.kinds.get(stage_type)
    }

    /// The types registered.
    pub fn stage_types(&self) -> impl Iterator<Item = &StageType> {
        self.kinds.keys()
    }
}

/// A stage field as trimmed, non-empty text.
pub(crate) fn text<'a>(stage: &'a Stage, key: &str) -> Option<&'a str> {
    crate::events::triggers::text(&stage.context, key)
}

/// Stage outputs from name/value pairs.
pub(crate) fn outputs(pairs: Vec<(&str, Value)>) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// How long a stage keeps trying a system that does not answer.
pub(crate) const UNREACHABLE_FOR_MS: i64 = 5 * 60 * 1000;

/// After a transient failure (the other system did not answer): try again in `every`, or —
/// once the stage has tried for [`UNREACHABLE_FOR_MS`] — fail with `gave_up`'s message.
pub(crate) fn keep_trying(
    cx: &TaskContext<'_>,
    every: Duration,
    gave_up: impl FnOnce() -> String,
) -> TaskResult {
    let started = cx.stage.start_time.unwrap_or(cx.now_ms);
    if cx.now_ms - started > UNREACHABLE_FOR_MS {
        TaskResult::Failed { message: gave_up() }
    } else {
        TaskResult::Running {
            check_again_in: every,
        }
    }
}

/// A whole number from a stage field that may be a number or a numeric string.
pub(crate) fn number_field(stage: &Stage, key: &str) -> Option<u64> {
    match stage.context.get(key)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use domain::stage_types::CATALOG;
    use serde_json::json;

    use super::*;

    fn full_registry() -> StageRegistry {
        StageRegistry::standard()
            .with_kubernetes(crate::kubernetes::Accounts::default(), None)
            .with_jenkins(crate::jenkins::JenkinsMasters::default())
    }

    fn stage(stage_type: &StageType, context: Value) -> Stage {
        Stage {
            id: "1".into(),
            ref_id: "1".into(),
            stage_type: stage_type.clone(),
            name: "s".into(),
            status: domain::execution::Status::NotStarted,
            requisite_stage_ref_ids: Vec::new(),
            context: context.as_object().cloned().unwrap_or_default(),
            outputs: Map::new(),
            start_time: None,
            end_time: None,
            tasks: Vec::new(),
        }
    }

    #[test]
    fn the_registry_runs_exactly_the_catalogs_types() {
        let registry = full_registry();
        let mut registered: Vec<&str> = registry.stage_types().map(StageType::as_str).collect();
        registered.sort_unstable();
        let mut catalog: Vec<&str> = CATALOG.iter().map(|i| i.stage_type).collect();
        catalog.sort_unstable();
        assert_eq!(registered, catalog);
    }

    #[test]
    fn every_kind_runs_catalog_tasks_in_catalog_order() {
        let registry = full_registry();
        let options = [
            json!({}),
            json!({"waitForCompletion": true, "propertyFile": "build.properties"}),
            json!({"waitForCompletion": false}),
        ];
        for t in registry.stage_types() {
            let catalog = t.info().expect("in the catalog").tasks;
            for o in &options {
                let tasks = registry.get(t).unwrap().tasks(&stage(t, o.clone()));
                assert!(!tasks.is_empty(), "{t} runs no task with {o}");
                let positions: Vec<usize> = tasks
                    .iter()
                    .map(|task| {
                        catalog
                            .iter()
                            .position(|c| c == task)
                            .unwrap_or_else(|| panic!("{t}: task {task} is not in the catalog"))
                    })
                    .collect();
                assert!(positions.windows(2).all(|w| w[0] < w[1]), "{t}: order");
            }
        }
    }
}
