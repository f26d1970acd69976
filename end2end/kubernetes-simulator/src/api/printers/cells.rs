//! The cells of the kinds whose rows take more than a few lines.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::format::*;

pub(super) fn pod_cells(pod: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let status = &pod["status"];
    let total = pod["spec"]["containers"].as_array().map_or(0, Vec::len);
    let mut reason = status["reason"]
        .as_str()
        .filter(|r| !r.is_empty())
        .or(status["phase"].as_str())
        .unwrap_or("Pending")
        .to_owned();
    let (mut ready, mut restarts, mut running) = (0, 0, false);
    let mut last_restart: Option<String> = None;
    for c in status["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .rev()
    {
        restarts += int(&c["restartCount"]);
        if let Some(finished) = c["lastState"]["terminated"]["finishedAt"].as_str()
            && last_restart.as_deref().is_none_or(|l| finished > l)
        {
            last_restart = Some(finished.to_owned());
        }
        let state = &c["state"];
        if let Some(r) = state["waiting"]["reason"]
            .as_str()
            .filter(|r| !r.is_empty())
        {
            reason = r.to_owned();
        } else if let Some(r) = state["terminated"]["reason"]
            .as_str()
            .filter(|r| !r.is_empty())
        {
            reason = r.to_owned();
        } else if state["terminated"].is_object() {
            reason = match int(&state["terminated"]["signal"]) {
                0 => format!("ExitCode:{}", int(&state["terminated"]["exitCode"])),
                s => format!("Signal:{s}"),
            };
        } else if c["ready"] == json!(true) && state["running"].is_object() {
            running = true;
            ready += 1;
        }
    }
    if reason == "Completed" && running {
        let ready_condition = status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        reason = if ready_condition {
            "Running"
        } else {
            "NotReady"
        }
        .into();
    }
    let phase = status["phase"].as_str().unwrap_or_default();
    if pod["metadata"].get("deletionTimestamp").is_some()
        && phase != "Succeeded"
        && phase != "Failed"
    {
        reason = "Terminating".into();
    }
    let restarts_text = match (&last_restart, restarts) {
        (Some(at), n) if n != 0 => format!("{n} ({} ago)", since(&json!(at), now)),
        (_, n) => n.to_string(),
    };
    let gates = pod["spec"]["readinessGates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let gates_text = if gates.is_empty() {
        "<none>".to_owned()
    } else {
        let conditions = status["conditions"].as_array().cloned().unwrap_or_default();
        let met = gates
            .iter()
            .filter(|g| {
                conditions
                    .iter()
                    .any(|c| c["type"] == g["conditionType"] && c["status"] == "True")
            })
            .count();
        format!("{met}/{}", gates.len())
    };
    vec![
        name(pod),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts_text),
        age(pod, now),
        json!(non_empty(
            status["podIPs"][0]["ip"]
                .as_str()
                .or(status["podIP"].as_str())
                .unwrap_or_default()
        )),
        json!(non_empty(
            pod["spec"]["nodeName"].as_str().unwrap_or_default()
        )),
        json!(non_empty(
            status["nominatedNodeName"].as_str().unwrap_or_default()
        )),
        json!(gates_text),
    ]
}

pub(super) fn event_cells(e: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let first = e["firstTimestamp"].clone();
    let last = if e["lastTimestamp"].is_string() {
        e["lastTimestamp"].clone()
    } else {
        first.clone()
    };
    let involved = &e["involvedObject"];
    let source = &e["source"];
    fn non_blank(v: &Value) -> Option<&str> {
        v.as_str().filter(|s| !s.is_empty())
    }
    let component = non_blank(&source["component"])
        .or(non_blank(&e["reportingController"]))
        .or(non_blank(&e["reportingComponent"]))
        .unwrap_or_default();
    let source_text = match non_blank(&source["host"]).or(non_blank(&e["reportingInstance"])) {
        Some(host) => format!("{component}, {host}"),
        None => component.to_owned(),
    };
    vec![
        json!(since(&last, now)),
        e["type"].clone(),
        e["reason"].clone(),
        json!(format!(
            "{}/{}",
            involved["kind"].as_str().unwrap_or_default().to_lowercase(),
            involved["name"].as_str().unwrap_or_default()
        )),
        json!(involved["fieldPath"].as_str().unwrap_or_default()),
        json!(source_text),
        json!(e["message"].as_str().unwrap_or_default().trim()),
        json!(since(&first, now)),
        json!(int(&e["count"]).max(1)),
        name(e),
    ]
}

pub(super) fn binding_cells(b: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let subjects = b["subjects"].as_array().cloned().unwrap_or_default();
    let of = |kind: &str| -> String {
        subjects
            .iter()
            .filter(|s| s["kind"] == kind)
            .map(|s| {
                let name = s["name"].as_str().unwrap_or_default();
                match (kind, s["namespace"].as_str()) {
                    ("ServiceAccount", Some(ns)) => format!("{ns}/{name}"),
                    _ => name.to_owned(),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    vec![
        name(b),
        json!(format!(
            "{}/{}",
            b["roleRef"]["kind"].as_str().unwrap_or_default(),
            b["roleRef"]["name"].as_str().unwrap_or_default()
        )),
        age(b, now),
        json!(of("User")),
        json!(of("Group")),
        json!(of("ServiceAccount")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_looping_pod_prints_its_reason_and_restarts() {
        let now = Utc::now();
        let at = (now - chrono::Duration::seconds(90)).to_rfc3339();
        let pod = json!({"metadata": {"name": "web-1", "creationTimestamp": at},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"},
            "status": {"phase": "Running", "podIP": "10.0.0.9", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 3,
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"finishedAt": at}}}]}});
        let cells = pod_cells(&pod, now);
        assert_eq!(
            cells,
            vec![
                json!("web-1"),
                json!("1/2"),
                json!("CrashLoopBackOff"),
                json!("3 (90s ago)"),
                json!("90s"),
                json!("10.0.0.9"),
                json!("n1"),
                json!("<none>"),
                json!("<none>"),
            ]
        );
    }
}
