//! When is a rollout done? The reference's rollout-complete rules (kubectl's and Spinnaker's
//! "stable", §11) as pure functions over the object and its pods.

use serde::Serialize;
use serde_json::Value;
use std::borrow::Borrow;

/// Where a rollout stands.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum RolloutStatus {
    Stable,
    /// Paused on purpose (`spec.paused`): settled, but not rolled out.
    Paused,
    Waiting {
        message: String,
    },
    Failed {
        reason: String,
    },
}

impl RolloutStatus {
    pub fn is_settled(&self) -> bool {
        matches!(self, RolloutStatus::Stable | RolloutStatus::Paused)
    }
}

/// A status counter; absent (omitted when zero) counts as 0.
pub(crate) fn n(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// Container states that will not fix themselves: the rollout has failed.
const FATAL_WAITING: &[&str] = &[
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// The first pod whose containers are stuck in a fatal state, as a sentence.
pub fn pod_failure<P: Borrow<Value>>(pods: &[P]) -> Option<String> {
    for pod in pods {
        let pod = pod.borrow();
        let statuses = pod["status"]["initContainerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(
                pod["status"]["containerStatuses"]
                    .as_array()
                    .into_iter()
                    .flatten(),
            );
        for s in statuses {
            let waiting = &s["state"]["waiting"];
            let Some(reason) = waiting["reason"].as_str() else {
                continue;
            };
            if FATAL_WAITING.contains(&reason) {
                let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
                let container = s["name"].as_str().unwrap_or_default();
                let restarts = n(&s["restartCount"]);
                let mut sentence = format!("pod {pod_name}, container {container}: {reason}");
                if restarts > 0 {
                    sentence.push_str(&format!(" (restarted {restarts} times)"));
                }
                if let Some(m) = waiting["message"].as_str().filter(|m| !m.is_empty()) {
                    sentence.push_str(&format!(": {m}"));
                }
                return Some(sentence);
            }
        }
    }
    None
}

fn generation_observed(object: &Value) -> bool {
    let generation = object["metadata"]["generation"].as_i64();
    let observed = object["status"]["observedGeneration"].as_i64();
    match (generation, observed) {
        (Some(g), Some(o)) => o >= g,
        (None, _) => true,
        (Some(_), None) => false,
    }
}

/// The status of `object` (any kind), with `pods` the pods it runs (for failure reasons; the
/// pods themselves or references to them, so callers need not copy them).
pub fn status_of<P: Borrow<Value>>(kind: &str, object: &Value, pods: &[P]) -> RolloutStatus {
    let waiting = |m: String| RolloutStatus::Waiting { message: m };
    let spec = &object["spec"];
    let status = &object["status"];
    match kind {
        "Deployment" => {
            if status.is_null() || status.as_object().is_some_and(|s| s.is_empty()) {
                return waiting("no status reported yet".into());
            }
            if !generation_observed(object) {
                return waiting("waiting for the deployment spec update to be observed".into());
            }
            let conditions: Vec<&Value> = status["conditions"]
                .as_array()
                .map(|c| c.iter().collect())
                .unwrap_or_default();
            let progressing = conditions.iter().find(|c| c["type"] == "Progressing");
            if spec["paused"] == Value::Bool(true) {
                return RolloutStatus::Paused;
            }
            if let Some(p) = progressing
                && p["reason"] == "ProgressDeadlineExceeded"
            {
                let message = p["message"]
                    .as_str()
                    .unwrap_or("progress deadline exceeded");
                let mut reason = format!("ProgressDeadlineExceeded: {message}");
                if let Some(pod) = pod_failure(pods) {
                    reason.push_str(&format!("; {pod}"));
                }
                return RolloutStatus::Failed { reason };
            }
            if let Some(pod) = pod_failure(pods) {
                return RolloutStatus::Failed { reason: pod };
            }
            let replicas = spec["replicas"].as_i64().unwrap_or(1);
            let updated = n(&status["updatedReplicas"]);
            let total = n(&status["replicas"]);
            let available = n(&status["availableReplicas"]);
            let ready = n(&status["readyReplicas"]);
            if updated < replicas {
                return waiting(format!(
                    "{updated} of {replicas} new replicas have been updated"
                ));
            }
            if total > updated {
                return waiting(format!(
                    "{} old replicas are pending termination",
                    total - updated
                ));
            }
            if available < replicas {
                return waiting(format!(
                    "{available} of {replicas} updated replicas are available"
                ));
            }
            if ready < replicas {
                return waiting(format!("{ready} of {replicas} replicas are ready"));
            }
            RolloutStatus::Stable
        }
        "StatefulSet" => {
            if !generation_observed(object) {
                return waiting("waiting for the statefulset spec update to be observed".into());
            }
            if let Some(pod) = pod_failure(pods) {
                return RolloutStatus::Failed { reason: pod };
            }
            let replicas = spec["replicas"].as_i64().unwrap_or(1);
            let ready = n(&status["readyReplicas"]);
            if ready < replicas {
                return waiting(format!("{ready} of {replicas} pods are ready"));
            }
            if n(&status["updatedReplicas"]) < replicas {
                return waiting(format!(
                    "{} of {replicas} pods run the new revision",
                    n(&status["updatedReplicas"])
                ));
            }
            if status["currentRevision"] != status["updateRevision"] {
                return waiting("waiting for the new revision to become current".into());
            }
            RolloutStatus::Stable
        }
        "DaemonSet" => {
            if !generation_observed(object) {
                return waiting("waiting for the daemonset spec update to be observed".into());
            }
            if let Some(pod) = pod_failure(pods) {
                return RolloutStatus::Failed { reason: pod };
            }
            let desired = n(&status["desiredNumberScheduled"]);
            let updated = n(&status["updatedNumberScheduled"]);
            let available = n(&status["numberAvailable"]);
            if updated < desired {
                return waiting(format!("{updated} of {desired} updated pods are scheduled"));
            }
            if available < desired {
                return waiting(format!(
                    "{available} of {desired} updated pods are available"
                ));
            }
            RolloutStatus::Stable
        }
        "ReplicaSet" => {
            if !generation_observed(object) {
                return waiting("waiting for the replicaset spec update to be observed".into());
            }
            if let Some(pod) = pod_failure(pods) {
                return RolloutStatus::Failed { reason: pod };
            }
            let replicas = spec["replicas"].as_i64().unwrap_or(1);
            let available = n(&status["availableReplicas"]);
            if available < replicas {
                return waiting(format!("{available} of {replicas} replicas are available"));
            }
            RolloutStatus::Stable
        }
        "Pod" => {
            if let Some(pod) = pod_failure(std::slice::from_ref(object)) {
                return RolloutStatus::Failed { reason: pod };
            }
            match status["phase"].as_str() {
                Some("Succeeded") => RolloutStatus::Stable,
                Some("Failed") => RolloutStatus::Failed {
                    reason: format!(
                        "pod failed: {}",
                        status["reason"].as_str().unwrap_or("unknown reason")
                    ),
                },
                Some("Running")
                    if status["conditions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True") =>
                {
                    RolloutStatus::Stable
                }
                other => waiting(format!("pod is {}", other.unwrap_or("Pending"))),
            }
        }
        // Kinds without a rollout are stable once they exist.
        _ => RolloutStatus::Stable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(status: Value) -> Value {
        json!({"metadata": {"generation": 2}, "spec": {"replicas": 3}, "status": status})
    }

    #[test]
    fn deployment_rules_in_the_reference_order() {
        assert!(matches!(
            status_of(
                "Deployment",
                &json!({"metadata": {"generation": 1}, "spec": {}}),
                &[] as &[Value]
            ),
            RolloutStatus::Waiting { .. }
        ));
        let cases = [
            (
                json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3, "readyReplicas": 3}),
                "observed",
            ),
            (
                json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 1, "availableReplicas": 3, "readyReplicas": 3}),
                "1 of 3 new replicas",
            ),
            (
                json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 3, "availableReplicas": 3, "readyReplicas": 3}),
                "1 old replicas",
            ),
            (
                json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 2, "readyReplicas": 3}),
                "2 of 3 updated replicas are available",
            ),
        ];
        for (status, expected) in cases {
            match status_of("Deployment", &deployment(status), &[] as &[Value]) {
                RolloutStatus::Waiting { message } => {
                    assert!(message.contains(expected), "{message} / {expected}")
                }
                other => panic!("{other:?}"),
            }
        }
        let done = json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3, "readyReplicas": 3});
        assert_eq!(
            status_of("Deployment", &deployment(done), &[] as &[Value]),
            RolloutStatus::Stable
        );
    }

    #[test]
    fn deadlines_and_stuck_pods_fail_with_their_reason() {
        let status = json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1,
            "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"web-x\" has timed out progressing."}]});
        let pod = json!({"metadata": {"name": "web-x-abcde"}, "status": {"containerStatuses": [
            {"name": "web", "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}}}]}});
        match status_of(
            "Deployment",
            &deployment(status),
            std::slice::from_ref(&pod),
        ) {
            RolloutStatus::Failed { reason } => {
                assert!(
                    reason.starts_with(
                        "ProgressDeadlineExceeded: ReplicaSet \"web-x\" has timed out progressing."
                    ),
                    "{reason}"
                );
                assert!(reason.contains("pod web-x-abcde, container web: CrashLoopBackOff (restarted 4 times): back-off 40s"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let pulling = json!({"metadata": {"name": "p"}, "status": {"containerStatuses": [{"name": "c", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}});
        let progressing = json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3});
        assert_eq!(
            status_of("Deployment", &deployment(progressing), &[pulling]),
            RolloutStatus::Failed {
                reason: "pod p, container c: ImagePullBackOff".into()
            }
        );
        let creating = json!({"metadata": {"name": "p"}, "status": {"containerStatuses": [{"name": "c", "state": {"waiting": {"reason": "ContainerCreating"}}}]}});
        assert!(pod_failure(&[creating]).is_none());
    }

    #[test]
    fn paused_deployments_settle_and_configmaps_are_stable_at_once() {
        let mut d = deployment(json!({"observedGeneration": 2, "replicas": 1}));
        d["spec"]["paused"] = json!(true);
        assert_eq!(
            status_of("Deployment", &d, &[] as &[Value]),
            RolloutStatus::Paused
        );
        assert!(RolloutStatus::Paused.is_settled());
        assert_eq!(
            status_of("ConfigMap", &json!({}), &[] as &[Value]),
            RolloutStatus::Stable
        );
    }
}
