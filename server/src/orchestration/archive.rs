//! The execution archive — Orca's clean-up of old executions, without losing history. An ended
//! execution older than `[blobs] archive_after_days` moves whole to blob storage
//! (`executions/<application>/<id>.json`); its row keeps the execution with every large value
//! left out (context, outputs and trigger entries over [`KEEP_VALUE_BYTES`] of JSON: deployed
//! manifests, webhook responses, build payloads). Lists, the environments board and delivery
//! metrics read the rows; reading one execution (the UI's execution page, the API) brings the
//! whole document back from the archive, and an archived execution that changes again (a
//! restarted stage) is whole in its row once more.

use domain::execution::Execution;
use serde_json::{Map, Value};

/// Values larger than this, as JSON, leave the row when an execution is archived.
pub const KEEP_VALUE_BYTES: usize = 2048;
/// Executions archived per pass of the archive loop.
pub const ARCHIVE_BATCH: u64 = 100;

/// Where the archive keeps an execution's whole document.
pub fn blob_key(application: &str, id: &str) -> String {
    format!("executions/{application}/{id}.json")
}

fn drop_large(values: &mut Map<String, Value>) -> usize {
    let before = values.len();
    values.retain(|_, v| serde_json::to_string(v).map_or(0, |t| t.len()) <= KEEP_VALUE_BYTES);
    before - values.len()
}

/// The execution as its archived row keeps it, and how many values were left out.
pub fn summary(execution: &Execution) -> (Execution, usize) {
    let mut kept = execution.clone();
    let mut dropped = 0;
    for stage in &mut kept.stages {
        dropped += drop_large(&mut stage.context);
        dropped += drop_large(&mut stage.outputs);
    }
    if let Some(trigger) = kept.trigger.as_object_mut() {
        dropped += drop_large(trigger);
    }
    (kept, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn execution() -> Execution {
        serde_json::from_value(json!({
            "id": "01J0000000000000000000000A", "application": "shop", "pipelineConfigId": "p1",
            "name": "Deploy", "status": "SUCCEEDED", "buildTime": 1, "startTime": 1, "endTime": 2,
            "trigger": {"type": "webhook", "user": "ci", "payload": {"body": "x".repeat(5000)}},
            "stages": [{"id": "s1", "refId": "1", "type": "deployManifest", "name": "Deploy",
                "status": "SUCCEEDED", "requisiteStageRefIds": [],
                "context": {"account": "prod", "manifests": [{"data": "y".repeat(3000)}]},
                "outputs": {"artifacts": [{"type": "docker/image", "reference": "shop:1"}],
                    "outputs.manifests": [{"data": "z".repeat(3000)}]},
                "startTime": 1, "endTime": 2, "tasks": []}],
            "canceled": false, "canceledBy": null, "cancellationReason": null
        }))
        .unwrap()
    }

    #[test]
    fn a_summary_keeps_small_values_and_leaves_out_large_ones() {
        let (kept, dropped) = summary(&execution());
        assert_eq!(dropped, 3);
        let stage = &kept.stages[0];
        assert_eq!(stage.context.keys().collect::<Vec<_>>(), ["account"]);
        assert_eq!(stage.outputs.keys().collect::<Vec<_>>(), ["artifacts"]);
        assert_eq!(kept.trigger, json!({"type": "webhook", "user": "ci"}));
        assert_eq!(
            (kept.status, kept.name.as_str(), stage.status),
            (execution().status, "Deploy", execution().stages[0].status)
        );
    }

    #[test]
    fn a_small_execution_is_its_own_summary() {
        let mut small = execution();
        small.trigger = json!({"type": "manual"});
        small.stages[0].context.remove("manifests");
        small.stages[0].outputs.remove("outputs.manifests");
        assert_eq!(summary(&small), (small.clone(), 0));
    }

    #[test]
    fn keys_name_application_and_execution() {
        let key = blob_key("shop", "01J0000000000000000000000A");
        assert_eq!(key, "executions/shop/01J0000000000000000000000A.json");
        crate::blobs::check_key(&key).unwrap();
    }
}
