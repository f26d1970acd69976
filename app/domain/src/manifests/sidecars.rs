//! Sidecar templates: containers added beside a workload's application container, with a
//! volume both share — e.g. "Filebeat log shipper" reading the application's log files. The
//! templates are data (`sidecars.json` beside this file), not code: a template names its
//! container, its parameters (become the sidecar's environment) and the shared volume with the
//! paths it is mounted at in each container, which the user may change.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The templates shipped with Topsail.
const BUILT_IN: &str = include_str!("sidecars.json");

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SidecarTemplate {
    pub id: String,
    pub label: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub parameters: Vec<SidecarParameter>,
    pub volume: SharedVolume,
    /// The container to add, as a Kubernetes container (its `env` comes from the parameters).
    pub container: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SidecarParameter {
    pub name: String,
    pub label: String,
    #[serde(default)]
    pub default: String,
}

/// An `emptyDir` volume mounted in the application container and in the sidecar.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SharedVolume {
    pub name: String,
    pub app_mount_path: String,
    pub sidecar_mount_path: String,
}

/// The built-in templates.
pub fn built_in() -> Vec<SidecarTemplate> {
    serde_json::from_str(BUILT_IN).unwrap_or_default()
}

/// What the user chose when adding a sidecar.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SidecarChoice {
    /// The application container the volume is shared with (by name).
    pub app_container: String,
    /// The parameters' values, by name (missing ones take the template's default).
    #[serde(default)]
    pub values: std::collections::BTreeMap<String, String>,
    /// Where the volume is mounted, when not the template's paths.
    #[serde(default)]
    pub app_mount_path: Option<String>,
    #[serde(default)]
    pub sidecar_mount_path: Option<String>,
}

/// Adds `template`'s sidecar to `workload` (a Deployment, StatefulSet or DaemonSet): the
/// container with its environment, the shared `emptyDir` volume, and the volume mounted in the
/// chosen application container. Refused (nothing changed) when the workload has no such
/// container or already has a container or volume of those names.
pub fn add_sidecar(
    workload: &mut Value,
    template: &SidecarTemplate,
    choice: &SidecarChoice,
) -> Result<(), String> {
    let spec = workload
        .pointer_mut("/spec/template/spec")
        .and_then(Value::as_object_mut)
        .ok_or("the workload has no pod template (spec.template.spec)")?;
    let containers = spec
        .get("containers")
        .and_then(Value::as_array)
        .ok_or("the workload has no containers")?;
    let sidecar_name = template.container["name"].as_str().unwrap_or_default();
    let app = containers
        .iter()
        .position(|c| c["name"] == choice.app_container.as_str())
        .ok_or_else(|| format!("no container is called '{}'", choice.app_container))?;
    if containers.iter().any(|c| c["name"] == sidecar_name) {
        return Err(format!("a container is already called '{sidecar_name}'"));
    }
    let volume = &template.volume;
    let volumes = spec.get("volumes").and_then(Value::as_array);
    if volumes.is_some_and(|v| v.iter().any(|v| v["name"] == volume.name.as_str())) {
        return Err(format!("a volume is already called '{}'", volume.name));
    }
    let app_path = choice
        .app_mount_path
        .clone()
        .unwrap_or(volume.app_mount_path.clone());
    let sidecar_path = choice
        .sidecar_mount_path
        .clone()
        .unwrap_or(volume.sidecar_mount_path.clone());
    let env: Vec<Value> = template
        .parameters
        .iter()
        .map(|p| {
            let value = choice.values.get(&p.name).unwrap_or(&p.default);
            json!({"name": p.name, "value": value})
        })
        .collect();
    let mut sidecar = template.container.clone();
    sidecar["env"] = Value::Array(env);
    sidecar["volumeMounts"] = json!([{"name": volume.name, "mountPath": sidecar_path}]);

    let mount = json!({"name": volume.name, "mountPath": app_path});
    let containers = spec["containers"].as_array_mut().expect("checked above");
    let mounts = &mut containers[app]["volumeMounts"];
    match mounts.as_array_mut() {
        Some(list) => list.push(mount),
        None => *mounts = json!([mount]),
    }
    containers.push(sidecar);
    let new_volume = json!({"name": volume.name, "emptyDir": {}});
    match spec.get_mut("volumes").and_then(Value::as_array_mut) {
        Some(list) => list.push(new_volume),
        None => {
            spec.insert("volumes".into(), json!([new_volume]));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::rules::check;

    fn workload() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "dubbo-demo-service"},
            "spec": {"selector": {"matchLabels": {"app": "dubbo"}},
                "template": {"metadata": {"labels": {"app": "dubbo"}},
                    "spec": {"containers": [{"name": "app", "image": "dubbo:1"}]}}}})
    }

    #[test]
    fn the_filebeat_template_adds_a_sidecar_sharing_a_log_volume() {
        let templates = built_in();
        let filebeat = templates
            .iter()
            .find(|t| t.id == "filebeat")
            .expect("shipped");
        let mut w = workload();
        let choice = SidecarChoice {
            app_container: "app".into(),
            values: [("PROJ_NAME".to_owned(), "dubbo-demo".to_owned())].into(),
            app_mount_path: Some("/opt/dubbo/logs".into()),
            sidecar_mount_path: None,
        };
        add_sidecar(&mut w, filebeat, &choice).unwrap();
        let spec = &w["spec"]["template"]["spec"];
        assert_eq!(
            spec["containers"][0]["volumeMounts"],
            json!([{"name": "app-logs", "mountPath": "/opt/dubbo/logs"}])
        );
        assert_eq!(spec["containers"][1]["name"], "filebeat");
        assert_eq!(
            spec["containers"][1]["volumeMounts"],
            json!([{"name": "app-logs", "mountPath": "/var/log/app"}])
        );
        assert_eq!(
            spec["containers"][1]["env"],
            json!([{"name": "ENV", "value": "test"}, {"name": "PROJ_NAME", "value": "dubbo-demo"}])
        );
        assert_eq!(
            spec["volumes"],
            json!([{"name": "app-logs", "emptyDir": {}}])
        );
        assert_eq!(check(&w), vec![], "the result breaks no rule");

        // Twice is refused, and nothing changes.
        let before = w.clone();
        assert_eq!(
            add_sidecar(&mut w, filebeat, &choice).unwrap_err(),
            "a container is already called 'filebeat'"
        );
        assert_eq!(w, before);
        let elsewhere = SidecarChoice {
            app_container: "web".into(),
            ..choice
        };
        assert_eq!(
            add_sidecar(&mut workload(), filebeat, &elsewhere).unwrap_err(),
            "no container is called 'web'"
        );
    }
}
