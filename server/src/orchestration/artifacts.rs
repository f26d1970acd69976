//! Artifacts (Spinnaker's `expectedArtifacts`): which exact image a run uses, decided when it
//! starts, and the binding of that image into manifests, so a promotion deploys the very image
//! (by digest when known) that was tested.
//!
//! An expected artifact `{id, matchArtifact: {type, name, version?}, useDefaultArtifact,
//! defaultArtifact, usePriorArtifact}` is resolved from the trigger's `artifacts` (name and
//! version match as whole regular expressions), else from the previous run of the pipeline, else
//! from its default. The result goes to the trigger's `resolvedExpectedArtifacts`.

use serde_json::{Map, Value, json};

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn matches_pattern(pattern: &str, value: &str) -> bool {
    pattern.is_empty()
        || regex::Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|re| re.is_match(value))
}

/// Does `artifact` satisfy the `matchArtifact` of an expected artifact?
pub fn matches(expected_match: &Value, artifact: &Value) -> bool {
    let wanted_type = text(expected_match, "type");
    (wanted_type.is_empty() || wanted_type == text(artifact, "type"))
        && matches_pattern(text(expected_match, "name"), text(artifact, "name"))
        && matches_pattern(text(expected_match, "version"), text(artifact, "version"))
}

/// Resolves every expected artifact of a pipeline. `prior` are the resolved artifacts of the
/// pipeline's previous run. An artifact that cannot be resolved is an error naming it.
pub fn resolve(
    expected: &[Value],
    trigger_artifacts: &[Value],
    prior: &[Value],
) -> Result<Vec<Value>, String> {
    let mut resolved = Vec::new();
    for e in expected {
        let id = text(e, "id");
        let label = Some(text(e, "displayName"))
            .filter(|d| !d.is_empty())
            .unwrap_or(id);
        let wanted = e.get("matchArtifact").cloned().unwrap_or_else(|| json!({}));
        let from_trigger = trigger_artifacts
            .iter()
            .find(|a| matches(&wanted, a))
            .cloned();
        let from_prior = || {
            (e.get("usePriorArtifact").and_then(Value::as_bool) == Some(true))
                .then(|| {
                    prior
                        .iter()
                        .find(|a| text(a, "expectedArtifactId") == id || matches(&wanted, a))
                        .cloned()
                })
                .flatten()
        };
        let from_default = || {
            (e.get("useDefaultArtifact").and_then(Value::as_bool) == Some(true))
                .then(|| e.get("defaultArtifact").cloned())
                .flatten()
        };
        let Some(mut artifact) = from_trigger.or_else(from_prior).or_else(from_default) else {
            return Err(format!(
                "expected artifact '{label}' was not found in the trigger, and it has no prior or default artifact to use"
            ));
        };
        if let Some(a) = artifact.as_object_mut() {
            a.insert("expectedArtifactId".into(), json!(id));
        }
        resolved.push(artifact);
    }
    Ok(resolved)
}

/// The image an artifact stands for: its `reference`, else `name@digest` or `name:version`.
pub fn image_reference(artifact: &Value) -> Option<String> {
    let reference = text(artifact, "reference");
    if !reference.is_empty() {
        return Some(reference.to_owned());
    }
    let name = text(artifact, "name");
    let digest = artifact
        .pointer("/metadata/digest")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match (name, digest, text(artifact, "version")) {
        ("", _, _) => None,
        (n, d, _) if !d.is_empty() => Some(format!("{n}@{d}")),
        (n, _, v) if !v.is_empty() => Some(format!("{n}:{v}")),
        (n, _, _) => Some(n.to_owned()),
    }
}

/// The repository part of an image reference (`registry:5000/shop:1.4` → `registry:5000/shop`).
pub fn repository(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    match without_digest.rfind(':') {
        Some(i) if !without_digest[i..].contains('/') => &without_digest[..i],
        _ => without_digest,
    }
}

/// Replaces the image of every container (and init container) in `manifest` whose repository is
/// that of one of the `docker/image` artifacts with that artifact's reference. Returns the
/// images it bound.
pub fn bind_images(manifest: &mut Value, artifacts: &[Value]) -> Vec<String> {
    let images: Vec<(String, String)> = artifacts
        .iter()
        .filter(|a| text(a, "type") == "docker/image")
        .filter_map(|a| image_reference(a).map(|r| (repository(&r).to_owned(), r)))
        .collect();
    let mut bound = Vec::new();
    bind_in(manifest, &images, &mut bound);
    bound
}

fn bind_in(value: &mut Value, images: &[(String, String)], bound: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for key in ["containers", "initContainers"] {
                if let Some(Value::Array(containers)) = map.get_mut(key) {
                    for c in containers.iter_mut() {
                        bind_container(c, images, bound);
                    }
                }
            }
            for (_, v) in map.iter_mut() {
                bind_in(v, images, bound);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| bind_in(v, images, bound)),
        _ => {}
    }
}

fn bind_container(container: &mut Value, images: &[(String, String)], bound: &mut Vec<String>) {
    let Some(c) = container.as_object_mut() else {
        return;
    };
    let Some(current) = c.get("image").and_then(Value::as_str) else {
        return;
    };
    if let Some((_, reference)) = images.iter().find(|(repo, _)| repo == repository(current))
        && current != reference
    {
        c.insert("image".into(), Value::String(reference.clone()));
        bound.push(reference.clone());
    }
}

/// Puts the resolved artifacts on the trigger, as Spinnaker does.
pub fn record(trigger: &mut Map<String, Value>, resolved: Vec<Value>) {
    trigger.insert("resolvedExpectedArtifacts".into(), Value::Array(resolved));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(extra: Value) -> Value {
        let mut e = json!({"id": "image", "displayName": "shop image", "matchArtifact": {"type": "docker/image", "name": "registry/shop"}});
        e.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        e
    }

    #[test]
    fn resolves_from_the_trigger_then_prior_then_default() {
        let pushed = json!({"type": "docker/image", "name": "registry/shop", "version": "1.4", "reference": "registry/shop:1.4"});
        let other = json!({"type": "docker/image", "name": "registry/cart", "version": "9"});
        let got = resolve(
            &[expected(json!({}))],
            &[other.clone(), pushed.clone()],
            &[],
        )
        .unwrap();
        assert_eq!(
            (
                got[0]["reference"].clone(),
                got[0]["expectedArtifactId"].clone()
            ),
            (json!("registry/shop:1.4"), json!("image"))
        );

        let prior = vec![
            json!({"type": "docker/image", "name": "registry/shop", "version": "1.3", "expectedArtifactId": "image"}),
        ];
        let got = resolve(
            &[expected(json!({"usePriorArtifact": true}))],
            std::slice::from_ref(&other),
            &prior,
        )
        .unwrap();
        assert_eq!(got[0]["version"], json!("1.3"));

        let default = json!({"type": "docker/image", "name": "registry/shop", "version": "stable"});
        let got = resolve(
            &[expected(
                json!({"useDefaultArtifact": true, "defaultArtifact": default}),
            )],
            &[],
            &[],
        )
        .unwrap();
        assert_eq!(got[0]["version"], json!("stable"));

        let err = resolve(&[expected(json!({}))], &[other], &[]).unwrap_err();
        assert_eq!(
            err,
            "expected artifact 'shop image' was not found in the trigger, and it has no prior or default artifact to use"
        );
    }

    #[test]
    fn name_and_version_match_as_whole_patterns() {
        let m = json!({"type": "docker/image", "name": "registry/.*", "version": "1\\..*"});
        assert!(matches(
            &m,
            &json!({"type": "docker/image", "name": "registry/shop", "version": "1.2"})
        ));
        assert!(!matches(
            &m,
            &json!({"type": "docker/image", "name": "registry/shop", "version": "21.2"})
        ));
        assert!(!matches(
            &m,
            &json!({"type": "git/repo", "name": "registry/shop", "version": "1.2"})
        ));
    }

    #[test]
    fn images_bind_by_repository_preferring_digests() {
        let tested = json!({"type": "docker/image", "name": "registry:5000/shop", "version": "1.4",
            "metadata": {"digest": "sha256:abc"}});
        assert_eq!(
            image_reference(&tested).as_deref(),
            Some("registry:5000/shop@sha256:abc")
        );
        assert_eq!(repository("registry:5000/shop:1.4"), "registry:5000/shop");
        assert_eq!(
            repository("registry:5000/shop@sha256:abc"),
            "registry:5000/shop"
        );
        assert_eq!(repository("shop"), "shop");
        let mut deployment = json!({"kind": "Deployment", "spec": {"template": {"spec": {
            "initContainers": [{"name": "migrate", "image": "registry:5000/shop:latest"}],
            "containers": [{"name": "web", "image": "registry:5000/shop:1.0"}, {"name": "proxy", "image": "envoy:1.30"}]
        }}}});
        let bound = bind_images(&mut deployment, &[tested]);
        assert_eq!(bound.len(), 2);
        let spec = &deployment["spec"]["template"]["spec"];
        assert_eq!(
            spec["containers"][0]["image"],
            "registry:5000/shop@sha256:abc"
        );
        assert_eq!(
            spec["initContainers"][0]["image"],
            "registry:5000/shop@sha256:abc"
        );
        assert_eq!(
            spec["containers"][1]["image"], "envoy:1.30",
            "other images are left alone"
        );
    }
}
