//! What applying manifests would change, object by object: the fields each manifest sets, as
//! the cluster has them now and as they would be (or "will be created"). The manifest editor's
//! "What will change" asks the API server by a dry run (`dryRun=All`: validated and defaulted,
//! nothing written), so what the cluster would refuse shows before the pipeline runs; the
//! judgment panel compares with the manifests as written.

use domain::execution::PlannedChange;
use domain::{Access, Application, RequestContext};
use serde_json::{Value, json};

use crate::kubernetes::{Accounts, ResourceRef};

/// One deploy to preview.
pub struct Deploy<'a> {
    /// The stage's name, shown with each object.
    pub stage: &'a str,
    pub account: &'a str,
    pub namespace_override: Option<String>,
    pub manifests: Vec<Value>,
    /// Ask the API server (a dry-run apply) rather than compare with the manifests as written.
    pub dry_run: bool,
}

/// Each manifest of `deploy` against the live object, on the fields the manifest sets. Only
/// what the application may deploy to and the caller may read is read; never a Secret.
pub async fn plan(
    accounts: &Accounts,
    rc: &RequestContext,
    application: &Application,
    deploy: Deploy<'_>,
) -> Vec<PlannedChange> {
    let account = deploy.account.to_owned();
    let blank = |note: String| PlannedChange {
        stage: deploy.stage.to_owned(),
        account: account.clone(),
        namespace: String::new(),
        object: String::new(),
        exists: false,
        changes: Vec::new(),
        note: Some(note),
    };
    // An unknown account is said on each object (reading it fails with the reason).
    let default_namespace = accounts
        .account(&account)
        .map(|a| a.default_namespace.clone())
        .unwrap_or_else(|_| "default".into());
    if !accounts.allow_caller(&account, &rc.caller, Access::Read) {
        return vec![blank(format!(
            "READ access to account '{account}' is needed to compare with what runs there"
        ))];
    }
    let mut out = Vec::new();
    for m in &deploy.manifests {
        let text = |pointer: &str| {
            m.pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (kind, name) = (text("/kind"), text("/metadata/name"));
        let namespace = deploy
            .namespace_override
            .clone()
            .or_else(|| Some(text("/metadata/namespace")).filter(|n| !n.is_empty()))
            .unwrap_or_else(|| default_namespace.clone());
        let mut planned = PlannedChange {
            stage: deploy.stage.to_owned(),
            account: account.clone(),
            namespace: namespace.clone(),
            object: format!("{} {name}", kind.to_ascii_lowercase()),
            exists: false,
            changes: Vec::new(),
            note: None,
        };
        if !application.may_deploy_to(&account, &namespace) {
            planned.note = Some(format!(
                "{account}/{namespace} is not a deploy target of application '{}'",
                application.name
            ));
            out.push(planned);
            continue;
        }
        if kind.eq_ignore_ascii_case("secret") {
            planned.note = Some("Secrets are not compared".into());
            out.push(planned);
            continue;
        }
        let mut wanted = m.clone();
        if let Some(meta) = wanted.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("namespace".into(), json!(namespace));
        }
        // Read by kind as the judgment panel always did; a dry run needs the apiVersion written.
        let by_kind = ResourceRef::from_kind(&account, &namespace, &kind, &name);
        let r = match by_kind.map(|r| ResourceRef {
            api_version: Some(text("/apiVersion"))
                .filter(|v| !v.is_empty())
                .unwrap_or(r.api_version.clone()),
            ..r
        }) {
            Ok(r) => r,
            Err(e) => {
                planned.note = Some(e.to_string());
                out.push(planned);
                continue;
            }
        };
        let live = accounts.get(&r).await;
        let would_be = if deploy.dry_run {
            match accounts.apply_dry_run(&r, &wanted, &application.name).await {
                Ok(stored) => project(&stored, &wanted),
                Err(e) => {
                    planned.note = Some(format!("the cluster would refuse it: {e}"));
                    out.push(planned);
                    continue;
                }
            }
        } else {
            wanted.clone()
        };
        match live {
            Ok(Some(live))
                if crate::kubernetes::cache::application_of(&live).as_deref()
                    != Some(application.name.as_str()) =>
            {
                planned.exists = true;
                planned.note = Some(format!(
                    "{} exists and is not application '{}''s: its values are not shown",
                    planned.object, application.name
                ));
            }
            Ok(Some(live)) => {
                planned.exists = true;
                planned.changes = domain::pipeline::diff_json(&project(&live, &wanted), &would_be);
            }
            Ok(None) => planned.changes = domain::pipeline::diff_json(&Value::Null, &would_be),
            Err(e) => planned.note = Some(e.to_string()),
        }
        out.push(planned);
    }
    out
}

/// `live` cut down to the fields `shape` sets (what an apply of `shape` would touch).
pub fn project(live: &Value, shape: &Value) -> Value {
    match (live, shape) {
        (Value::Object(l), Value::Object(s)) => Value::Object(
            s.keys()
                .filter_map(|k| Some((k.clone(), project(l.get(k)?, &s[k]))))
                .collect(),
        ),
        (Value::Array(l), Value::Array(s)) => Value::Array(
            l.iter()
                .zip(s.iter())
                .map(|(l, s)| project(l, s))
                .chain(l.iter().skip(s.len()).cloned())
                .collect(),
        ),
        (l, _) => l.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::project;
    use serde_json::json;

    #[test]
    fn projection_keeps_what_the_manifest_sets() {
        let live = json!({"metadata": {"name": "web", "uid": "u1", "labels": {"app": "web", "extra": "x"}},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "main", "image": "a:1", "resources": {}}]}}}, "status": {"ready": 3}});
        let shape = json!({"metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "main", "image": "a:2"}]}}}});
        assert_eq!(
            project(&live, &shape),
            json!({"metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "main", "image": "a:1"}]}}}})
        );
    }
}
