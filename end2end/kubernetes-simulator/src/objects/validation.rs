//! Validation of object names and of the kinds a delivery system writes (reference §9).

use serde_json::{Map, Value, json};

use crate::resources::TYPES;
use crate::store::{ApiError, name_of};

fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn int_or_percent_ok(v: &Value) -> bool {
    v.is_null()
        || v.as_i64().is_some_and(|n| n >= 0)
        || v.as_str().is_some_and(|s| {
            s.strip_suffix('%')
                .is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n <= 100))
        })
}

fn is_zero(v: &Value) -> bool {
    v.as_i64() == Some(0) || v.as_str() == Some("0%")
}

/// Validation of the kinds a delivery system writes (reference §9), plus object names.
pub fn validate(type_index: usize, object: &Value, old: Option<&Value>) -> Result<(), ApiError> {
    let t = &TYPES[type_index];
    let name = name_of(object);
    let mut causes: Vec<(String, String)> = Vec::new();
    if !is_dns_subdomain(name) {
        causes.push((
            "metadata.name".into(),
            format!("Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"),
        ));
    }
    if matches!(
        t.plural,
        "deployments" | "replicasets" | "statefulsets" | "daemonsets"
    ) && t.group == "apps"
    {
        let spec = &object["spec"];
        let selector = &spec["selector"];
        if selector.is_null() || selector.as_object().is_some_and(Map::is_empty) {
            causes.push(("spec.selector".into(), "Required value".into()));
        } else {
            let labels = spec["template"]["metadata"]["labels"].as_object();
            if !crate::selectors::LabelSelector::from_object(selector).matches(labels) {
                causes.push((
                    "spec.template.metadata.labels".into(),
                    format!(
                        "Invalid value: {}: `selector` does not match template `labels`",
                        json!(labels)
                    ),
                ));
            }
            if let Some(old) = old
                && old["spec"]["selector"] != *selector
            {
                causes.push((
                    "spec.selector".into(),
                    format!("Invalid value: {selector}: field is immutable"),
                ));
            }
        }
        let containers = spec["template"]["spec"]["containers"].as_array();
        if containers.is_none_or(Vec::is_empty) {
            causes.push((
                "spec.template.spec.containers".into(),
                "Required value".into(),
            ));
        }
        for (i, c) in containers.into_iter().flatten().enumerate() {
            if c["name"].as_str().is_none_or(str::is_empty) {
                causes.push((
                    format!("spec.template.spec.containers[{i}].name"),
                    "Required value".into(),
                ));
            }
            if c["image"].as_str().is_none_or(str::is_empty) {
                causes.push((
                    format!("spec.template.spec.containers[{i}].image"),
                    "Required value".into(),
                ));
            }
        }
        if spec["replicas"].as_i64().is_some_and(|r| r < 0) {
            causes.push((
                "spec.replicas".into(),
                "Invalid value: must be greater than or equal to 0".into(),
            ));
        }
        if t.plural == "deployments" {
            let strategy = &spec["strategy"];
            match strategy["type"].as_str() {
                Some("Recreate") if !strategy["rollingUpdate"].is_null() => causes.push((
                    "spec.strategy.rollingUpdate".into(),
                    "Forbidden: may not be specified when strategy `type` is 'Recreate'".into(),
                )),
                Some("Recreate") | Some("RollingUpdate") => {}
                other => causes.push((
                    "spec.strategy.type".into(),
                    format!(
                        "Unsupported value: {}: supported values: \"Recreate\", \"RollingUpdate\"",
                        json!(other)
                    ),
                )),
            }
            let ru = &strategy["rollingUpdate"];
            if !int_or_percent_ok(&ru["maxUnavailable"]) {
                causes.push((
                    "spec.strategy.rollingUpdate.maxUnavailable".into(),
                    "Invalid value: must not be greater than 100%".into(),
                ));
            }
            if !int_or_percent_ok(&ru["maxSurge"]) {
                causes.push((
                    "spec.strategy.rollingUpdate.maxSurge".into(),
                    "Invalid value: must be an integer or percentage".into(),
                ));
            }
            if is_zero(&ru["maxUnavailable"]) && is_zero(&ru["maxSurge"]) {
                causes.push((
                    "spec.strategy.rollingUpdate.maxUnavailable".into(),
                    "Invalid value: 0: may not be 0 when `maxSurge` is 0".into(),
                ));
            }
            let deadline = spec["progressDeadlineSeconds"].as_i64().unwrap_or(600);
            let min_ready = spec["minReadySeconds"].as_i64().unwrap_or(0);
            if deadline <= min_ready {
                causes.push((
                    "spec.progressDeadlineSeconds".into(),
                    "Invalid value: must be greater than minReadySeconds".into(),
                ));
            }
        }
    }
    if t.plural == "services" && t.group.is_empty() {
        for (i, p) in object["spec"]["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            if p["port"].as_i64().is_none_or(|n| !(1..=65535).contains(&n)) {
                causes.push((
                    format!("spec.ports[{i}].port"),
                    "Invalid value: must be between 1 and 65535, inclusive".into(),
                ));
            }
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(t, name, causes))
    }
}
