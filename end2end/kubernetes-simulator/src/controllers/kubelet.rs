//! The simulated kubelet: container states, readiness and pod status from the image's name
//! (crash loops, image pull errors, slow or never-ready containers), and the kubelet's Events.

use std::time::Instant;

use serde_json::{Value, json};

use crate::objects::Part;
use crate::store::{Key, State, now_rfc3339, uid_of};

use super::{Behaviour, Memory, Timing, behaviour_of, record_event, set_condition, write};

pub(super) fn kubelet(state: &mut State, key: &Key, timing: &Timing, memory: &mut Memory) {
    let Some(current) = state.objects.get(key) else {
        return;
    };
    // A pod in its final state is not looked at again until it changes.
    if memory.settled.get(uid_of(current)).map(String::as_str)
        == current["metadata"]["resourceVersion"].as_str()
    {
        return;
    }
    let pod = current.clone();
    let uid = uid_of(&pod).to_owned();
    let age = state
        .born
        .get(&uid)
        .map(Instant::elapsed)
        .unwrap_or_default();
    let containers: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let behaviours: Vec<Behaviour> = containers
        .iter()
        .map(|c| behaviour_of(c["image"].as_str().unwrap_or_default()))
        .collect();
    let slowest = if behaviours.contains(&Behaviour::Slow) {
        timing.slow_ready_after
    } else {
        timing.pod_ready_after
    };
    let started = age >= slowest.min(timing.pod_ready_after);
    // Nothing about it changes with time any more: running (ready or never), no crash loop or
    // pull error to count on.
    let settled = age >= slowest
        && behaviours.iter().all(|b| {
            matches!(
                b,
                Behaviour::Healthy | Behaviour::Slow | Behaviour::NeverReady
            )
        });
    let now = now_rfc3339();
    let n = key
        .2
        .bytes()
        .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    let pod_ip = format!("10.244.{}.{}", (n >> 8) % 250, n % 250 + 2);
    let mut statuses = Vec::new();
    let mut all_ready = true;
    let mut phase = "Running";
    let mut warnings: Vec<(&str, String)> = Vec::new();
    for (c, b) in containers.iter().zip(&behaviours) {
        let name = c["name"].clone();
        let image = c["image"].clone();
        let base = json!({"name": name, "image": image, "imageID": image_id(image.as_str().unwrap_or_default()), "started": false, "ready": false, "restartCount": 0});
        let mut s = base;
        match b {
            Behaviour::PullError => {
                let reason = if age < timing.pod_ready_after * 2 {
                    "ErrImagePull"
                } else {
                    "ImagePullBackOff"
                };
                s["state"] = json!({"waiting": {"reason": reason, "message": format!("Back-off pulling image \"{}\"", image.as_str().unwrap_or_default())}});
                s["imageID"] = json!("");
                phase = "Pending";
                all_ready = false;
                warnings.push((
                    "Failed",
                    format!(
                        "Failed to pull image \"{}\": the simulator marks this image as missing",
                        image.as_str().unwrap_or_default()
                    ),
                ));
            }
            _ if !started => {
                s["state"] = json!({"waiting": {"reason": "ContainerCreating"}});
                phase = "Pending";
                all_ready = false;
            }
            Behaviour::Crash => {
                let restarts = (age.saturating_sub(timing.pod_ready_after).as_millis()
                    / timing.crash_every.as_millis().max(1)) as i64;
                s["restartCount"] = json!(restarts);
                s["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!("back-off restarting failed container {} in pod {}", name.as_str().unwrap_or_default(), key.2)}});
                s["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": now, "finishedAt": now}});
                all_ready = false;
                warnings.push(("BackOff", "Back-off restarting failed container".to_owned()));
            }
            other => {
                let ready = match other {
                    Behaviour::NeverReady => false,
                    Behaviour::Slow => age >= timing.slow_ready_after,
                    _ => true,
                };
                s["state"] =
                    json!({"running": {"startedAt": pod["metadata"]["creationTimestamp"]}});
                s["started"] = json!(true);
                s["ready"] = json!(ready);
                all_ready &= ready;
            }
        }
        statuses.push(s);
    }
    if all_ready {
        memory
            .ready_since
            .entry(uid.clone())
            .or_insert_with(Instant::now);
    } else {
        memory.ready_since.remove(&uid);
    }
    let mut status = pod["status"].clone();
    let before = status.clone();
    let ready_text = if all_ready { "True" } else { "False" };
    status["phase"] = json!(phase);
    status["hostIP"] = json!("192.168.49.2");
    status["startTime"] = pod["metadata"]["creationTimestamp"].clone();
    if phase == "Running" {
        status["podIP"] = json!(pod_ip);
        status["podIPs"] = json!([{"ip": pod_ip}]);
    }
    status["containerStatuses"] = json!(statuses);
    set_condition(&mut status, "PodScheduled", "True", "", "");
    set_condition(&mut status, "Initialized", "True", "", "");
    set_condition(
        &mut status,
        "ContainersReady",
        ready_text,
        if all_ready { "" } else { "ContainersNotReady" },
        "",
    );
    set_condition(
        &mut status,
        "Ready",
        ready_text,
        if all_ready { "" } else { "ContainersNotReady" },
        "",
    );
    for c in status["conditions"].as_array_mut().into_iter().flatten() {
        if let Some(m) = c.as_object_mut() {
            m.remove("lastUpdateTime");
            m.retain(|_, v| v != "");
        }
    }
    if !settled {
        memory.unsettled += 1;
    }
    if before == status {
        if settled {
            settle(state, key, memory);
        }
        return;
    }
    let was_started = before["containerStatuses"].as_array().is_some_and(|s| {
        s.iter()
            .any(|c| c["started"] == json!(true) || c["restartCount"].as_i64().unwrap_or(0) > 0)
    });
    let mut updated = pod.clone();
    updated["status"] = status;
    if let Some(written) = write(state, key, updated, Part::Status) {
        if before["phase"] == "Pending" && before.get("containerStatuses").is_none() {
            record_event(
                state,
                &written,
                "Pod",
                "Normal",
                "Scheduled",
                &format!(
                    "Successfully assigned {}/{} to {}",
                    key.1,
                    key.2,
                    pod["spec"]["nodeName"].as_str().unwrap_or_default()
                ),
                "default-scheduler",
            );
        }
        if started && !was_started {
            for c in &containers {
                record_event(
                    state,
                    &written,
                    "Pod",
                    "Normal",
                    "Started",
                    &format!(
                        "Started container {}",
                        c["name"].as_str().unwrap_or_default()
                    ),
                    "kubelet",
                );
            }
        }
        for (reason, message) in warnings {
            record_event(
                state, &written, "Pod", "Warning", reason, &message, "kubelet",
            );
        }
    }
    if settled {
        settle(state, key, memory);
    }
}

/// Remembers the pod's version in its final state: passes skip it until it changes.
fn settle(state: &State, key: &Key, memory: &mut Memory) {
    if let Some(pod) = state.objects.get(key) {
        let version = pod["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default();
        memory
            .settled
            .insert(uid_of(pod).to_owned(), version.to_owned());
    }
}

/// What a kubelet reports it runs for `image`: the repository and the digest of what it
/// pulled — the reference's own digest when pinned, else one that depends on the reference
/// only (the same tag is the same image wherever it is pulled, as from one registry).
pub fn image_id(image: &str) -> String {
    if image.contains('@') {
        return image.to_owned();
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    let repository = match last.rsplit_once(':') {
        Some((_, tag)) => &image[..image.len() - tag.len() - 1],
        None => image,
    };
    // FNV-1a over the reference, four times with different seeds: 256 bits of hex.
    let hex: String = (0u64..4)
        .map(|seed| {
            let hash = image.bytes().fold(
                0xcbf2_9ce4_8422_2325_u64 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3),
            );
            format!("{hash:016x}")
        })
        .collect();
    format!("{repository}@sha256:{hex}")
}

#[cfg(test)]
mod image_id_tests {
    use super::image_id;

    #[test]
    fn the_same_reference_is_the_same_digest_wherever_it_runs() {
        let a = image_id("registry:5000/shop/web:1.0");
        assert_eq!(a, image_id("registry:5000/shop/web:1.0"));
        assert_ne!(a, image_id("registry:5000/shop/web:1.1"));
        let (repository, digest) = a.split_once('@').unwrap();
        assert_eq!(repository, "registry:5000/shop/web");
        assert_eq!(digest.len(), "sha256:".len() + 64);
        assert_eq!(
            image_id("shop@sha256:abc"),
            "shop@sha256:abc",
            "pinned: its own digest"
        );
    }
}
