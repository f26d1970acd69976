//! The API's write rules: create, replace, patch, apply and delete, with the defaulting,
//! validation, generation and concurrency behaviour of reference §2, §4, §7 and §9.

use serde_json::{Map, Value, json};

use crate::patch::{self, Ownership};
use crate::resources::{TYPES, index_of};
use crate::store::{ApiError, Key, State, name_of, now_rfc3339, uid_of, with_type};

/// Which part of the object a write addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Main,
    Status,
}

/// Who writes: the field manager and whether the change is only validated (`dryRun=All`).
#[derive(Clone, Debug)]
pub struct Writer {
    pub manager: String,
    pub dry_run: bool,
}

fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn random_suffix(n: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..n)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect()
}

/// Fills in the defaults the real API server applies to the kinds whose defaults matter to a
/// delivery system.
pub fn apply_defaults(type_index: usize, object: &mut Value, state: &mut State) {
    let t = &TYPES[type_index];
    let ensure = |v: &mut Value, key: &str, default: Value| {
        if v.get(key).is_none_or(Value::is_null) {
            v[key] = default;
        }
    };
    let default_pod_spec = |spec: &mut Value| {
        ensure(spec, "restartPolicy", json!("Always"));
        ensure(spec, "dnsPolicy", json!("ClusterFirst"));
        ensure(spec, "terminationGracePeriodSeconds", json!(30));
        for c in spec["containers"].as_array_mut().into_iter().flatten() {
            let latest = c["image"]
                .as_str()
                .is_some_and(|i| !i.contains(':') || i.ends_with(":latest"));
            ensure(
                c,
                "imagePullPolicy",
                json!(if latest { "Always" } else { "IfNotPresent" }),
            );
            ensure(c, "terminationMessagePath", json!("/dev/termination-log"));
            for p in c["ports"].as_array_mut().into_iter().flatten() {
                ensure(p, "protocol", json!("TCP"));
            }
        }
    };
    match (t.group, t.plural) {
        ("apps", "deployments") => {
            let spec = &mut object["spec"];
            ensure(spec, "replicas", json!(1));
            ensure(spec, "revisionHistoryLimit", json!(10));
            ensure(spec, "progressDeadlineSeconds", json!(600));
            ensure(spec, "strategy", json!({"type": "RollingUpdate"}));
            if spec["strategy"]["type"] == "RollingUpdate" {
                ensure(&mut spec["strategy"], "rollingUpdate", json!({}));
                ensure(
                    &mut spec["strategy"]["rollingUpdate"],
                    "maxUnavailable",
                    json!("25%"),
                );
                ensure(
                    &mut spec["strategy"]["rollingUpdate"],
                    "maxSurge",
                    json!("25%"),
                );
            }
            default_pod_spec(&mut spec["template"]["spec"]);
        }
        ("apps", "replicasets") | ("apps", "statefulsets") | ("apps", "daemonsets") => {
            let spec = &mut object["spec"];
            if t.plural != "daemonsets" {
                ensure(spec, "replicas", json!(1));
            }
            if t.plural == "statefulsets" {
                ensure(spec, "podManagementPolicy", json!("OrderedReady"));
                ensure(
                    spec,
                    "updateStrategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
                );
                ensure(spec, "revisionHistoryLimit", json!(10));
            }
            if t.plural == "daemonsets" {
                ensure(
                    spec,
                    "updateStrategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
                );
                ensure(spec, "revisionHistoryLimit", json!(10));
            }
            default_pod_spec(&mut spec["template"]["spec"]);
        }
        ("", "pods") => default_pod_spec(&mut object["spec"]),
        ("", "services") => {
            let spec = &mut object["spec"];
            ensure(spec, "type", json!("ClusterIP"));
            ensure(spec, "sessionAffinity", json!("None"));
            if spec.get("clusterIP").is_none_or(Value::is_null) {
                let n = state.rv % 60_000;
                let ip = format!("10.96.{}.{}", n / 250, n % 250 + 2);
                spec["clusterIP"] = json!(ip);
                spec["clusterIPs"] = json!([ip]);
            }
            for p in spec["ports"].as_array_mut().into_iter().flatten() {
                ensure(p, "protocol", json!("TCP"));
                let port = p["port"].clone();
                ensure(p, "targetPort", port);
            }
        }
        _ => {}
    }
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

fn has_generation(type_index: usize) -> bool {
    let t = &TYPES[type_index];
    matches!(t.group, "apps" | "networking.k8s.io" | "autoscaling")
}

/// Creates an object (POST, or an apply that finds nothing).
pub fn create(
    state: &mut State,
    type_index: usize,
    namespace: &str,
    mut object: Value,
    writer: &Writer,
) -> Result<Value, ApiError> {
    let t = &TYPES[type_index];
    if !object.is_object() {
        return Err(ApiError::bad_request("the request body must be an object"));
    }
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    if let Some(body_ns) = object["metadata"]["namespace"].as_str()
        && t.namespaced
        && body_ns != namespace
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    if name_of(&object).is_empty() {
        match object["metadata"]["generateName"].as_str() {
            Some(prefix) => {
                object["metadata"]["name"] = json!(format!("{prefix}{}", random_suffix(5)))
            }
            None => {
                return Err(ApiError::invalid(
                    t,
                    "",
                    vec![(
                        "metadata.name".into(),
                        "Required value: name or generateName is required".into(),
                    )],
                ));
            }
        }
    }
    let name = name_of(&object).to_owned();
    if t.namespaced && !state.namespace_exists(namespace) {
        return Err(ApiError::not_found(&TYPES[0], namespace));
    }
    let key: Key = (
        type_index,
        if t.namespaced {
            namespace.to_owned()
        } else {
            String::new()
        },
        name.clone(),
    );
    if state.objects.contains_key(&key) {
        return Err(ApiError::already_exists(t, &name));
    }
    apply_defaults(type_index, &mut object, state);
    validate(type_index, &object, None)?;
    let m = object["metadata"].as_object_mut().expect("an object");
    if t.namespaced {
        m.insert("namespace".into(), json!(namespace));
    }
    m.remove("resourceVersion");
    m.remove("deletionTimestamp");
    let uid = state.new_uid();
    object["metadata"]["uid"] = json!(uid);
    object["metadata"]["creationTimestamp"] = json!(now_rfc3339());
    if has_generation(type_index) {
        object["metadata"]["generation"] = json!(1);
    }
    if t.has_status() {
        if let Some(m) = object.as_object_mut() {
            m.remove("status");
        }
        initial_status(type_index, &mut object);
    }
    if writer.dry_run {
        return Ok(with_type(type_index, object));
    }
    if object["metadata"].get("managedFields").is_none() {
        let mut owners = Ownership::default();
        owners.record_update(
            &writer.manager,
            &t.api_version(),
            &now_rfc3339(),
            &json!({}),
            &object,
        );
        owners.write(&mut object);
    }
    Ok(with_type(type_index, state.insert(key, object)))
}

fn initial_status(type_index: usize, object: &mut Value) {
    let t = &TYPES[type_index];
    match (t.group, t.plural) {
        ("", "pods") => object["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"}),
        ("", "namespaces") => object["status"] = json!({"phase": "Active"}),
        ("", "services") => object["status"] = json!({"loadBalancer": {}}),
        _ => {}
    }
}

/// The rules for writing `new` over the stored `old` (PUT and PATCH end here): concurrency,
/// which part is kept, generation, validation, ownership, no-op detection, finalizers.
pub fn update(
    state: &mut State,
    key: &Key,
    old: &Value,
    mut new: Value,
    part: Part,
    writer: &Writer,
    record_ownership: bool,
) -> Result<Value, ApiError> {
    let type_index = key.0;
    let t = &TYPES[type_index];
    if !new.is_object() || !new["metadata"].is_object() {
        return Err(ApiError::bad_request(
            "the request body must be an object with metadata",
        ));
    }
    let name = name_of(old).to_owned();
    if name_of(&new) != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            name_of(&new)
        )));
    }
    if let Some(rv) = new["metadata"]["resourceVersion"].as_str()
        && !rv.is_empty()
        && Some(rv) != old["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::conflict(t, &name));
    }
    // Server-set identity is kept whatever the body says.
    for field in ["uid", "creationTimestamp", "namespace", "deletionTimestamp"] {
        match old["metadata"].get(field) {
            Some(v) => new["metadata"][field] = v.clone(),
            None => {
                if let Some(m) = new["metadata"].as_object_mut() {
                    m.remove(field);
                }
            }
        }
    }
    match part {
        Part::Main if t.has_status() => match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove("status");
                }
            }
        },
        Part::Status => {
            let status = new.get("status").cloned();
            let annotations = new["metadata"].get("annotations").cloned();
            new = old.clone();
            match status {
                Some(s) => new["status"] = s,
                None => {
                    new.as_object_mut().expect("an object").remove("status");
                }
            }
            // Status writes may carry annotations (the Deployment controller writes the revision
            // this way) but never spec or labels.
            if let Some(a) = annotations {
                new["metadata"]["annotations"] = a;
            }
        }
        Part::Main => {}
    }
    apply_defaults(type_index, &mut new, state);
    validate(type_index, &new, Some(old))?;
    if has_generation(type_index) {
        let g = old["metadata"]["generation"].as_i64().unwrap_or(1);
        let changed = part == Part::Main
            && (old.get("spec") != new.get("spec")
                || old["metadata"].get("annotations") != new["metadata"].get("annotations"));
        new["metadata"]["generation"] = json!(if changed { g + 1 } else { g });
    }
    if record_ownership {
        let mut owners = Ownership::read(old);
        owners.record_update(&writer.manager, &t.api_version(), &now_rfc3339(), old, &new);
        owners.write(&mut new);
    } else if new["metadata"].get("managedFields").is_none()
        && let Some(mf) = old["metadata"].get("managedFields")
    {
        new["metadata"]["managedFields"] = mf.clone();
    }
    if writer.dry_run {
        let mut preview = new;
        preview["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        return Ok(with_type(type_index, preview));
    }
    // The last finalizer removed from an object being deleted completes the deletion.
    if new["metadata"].get("deletionTimestamp").is_some()
        && new["metadata"]["finalizers"]
            .as_array()
            .is_none_or(Vec::is_empty)
    {
        let removed = state.remove(key).unwrap_or(new);
        return Ok(with_type(type_index, removed));
    }
    Ok(with_type(type_index, state.replace(key, new)))
}

/// Server-side apply (reference §7): creates when absent, merges the applied configuration,
/// tracks ownership per manager, refuses conflicting changes unless forced.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    state: &mut State,
    type_index: usize,
    namespace: &str,
    name: &str,
    applied: Value,
    part: Part,
    writer: &Writer,
    force: bool,
) -> Result<(Value, bool), ApiError> {
    let t = &TYPES[type_index];
    if applied["apiVersion"].as_str() != Some(t.api_version().as_str()) {
        return Err(ApiError::bad_request(format!(
            "Incorrect version specified in apply patch. Specified patch version: {}, expected: {}",
            applied["apiVersion"].as_str().unwrap_or_default(),
            t.api_version()
        )));
    }
    if applied["metadata"].get("managedFields").is_some() {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    if applied["kind"].as_str() != Some(t.kind) {
        return Err(ApiError::bad_request(format!(
            "the kind of the applied object must be {}",
            t.kind
        )));
    }
    if !name_of(&applied).is_empty() && name_of(&applied) != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            name_of(&applied)
        )));
    }
    let key: Key = (
        type_index,
        if t.namespaced {
            namespace.to_owned()
        } else {
            String::new()
        },
        name.to_owned(),
    );
    let now = now_rfc3339();
    let existing = state.objects.get(&key).cloned();
    let (base, mut owners) = match &existing {
        Some(o) => (o.clone(), Ownership::read(o)),
        None => (
            json!({"apiVersion": t.api_version(), "kind": t.kind, "metadata": {"name": name}}),
            Ownership::default(),
        ),
    };
    let mut live = base.clone();
    let mut applied_body = applied.clone();
    if part == Part::Status {
        // Apply to /status owns status fields only.
        applied_body = json!({"apiVersion": applied["apiVersion"], "kind": applied["kind"], "metadata": {"name": name}, "status": applied["status"]});
    }
    owners.apply(&mut live, &applied_body, &writer.manager, &t.api_version(), &now, force).map_err(|conflicts| {
        let fields: Vec<String> = conflicts.iter().map(|c| c.field.clone()).collect();
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|c| json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{}\"", c.manager), "field": c.field}))
            .collect();
        let listed = conflicts.iter().map(|c| format!("conflict with \"{}\": {}", c.manager, c.field)).collect::<Vec<_>>().join("\n- ");
        ApiError::new(409, "Conflict", format!("Apply failed with {} conflict{}: {listed}", fields.len(), if fields.len() == 1 { "" } else { "s" }))
            .with_details(json!({"name": name, "group": t.group, "kind": t.plural, "causes": causes}))
    })?;
    if part == Part::Status {
        live["status"] = {
            let mut s = base.get("status").cloned().unwrap_or(json!({}));
            patch::apply_merge(&mut s, &applied["status"], "status");
            s
        };
    }
    owners.write(&mut live);
    match existing {
        Some(old) => {
            live["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
            Ok((update(state, &key, &old, live, part, writer, false)?, false))
        }
        None => {
            if part == Part::Status {
                return Err(ApiError::not_found(t, name));
            }
            Ok((create(state, type_index, namespace, live, writer)?, true))
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

/// Deletes an object. Background: removed now, dependents collected by the garbage collector.
/// Foreground (or finalizers present): marked with `deletionTimestamp` and returned.
pub fn delete(
    state: &mut State,
    key: &Key,
    propagation: Propagation,
    precondition_uid: Option<&str>,
    dry_run: bool,
) -> Result<Value, ApiError> {
    let t = &TYPES[key.0];
    let Some(object) = state.objects.get(key).cloned() else {
        return Err(ApiError::not_found(t, &key.2));
    };
    if let Some(uid) = precondition_uid
        && uid != uid_of(&object)
    {
        return Err(ApiError::conflict(t, &key.2));
    }
    if dry_run {
        return Ok(success_status(t, &key.2, uid_of(&object)));
    }
    if propagation == Propagation::Orphan {
        let uid = uid_of(&object).to_owned();
        let dependents: Vec<Key> = state
            .objects
            .iter()
            .filter(|(_, o)| owner_uids(o).any(|u| u == uid))
            .map(|(k, _)| k.clone())
            .collect();
        for k in dependents {
            if let Some(mut d) = state.objects.get(&k).cloned() {
                if let Some(refs) = d["metadata"]["ownerReferences"].as_array_mut() {
                    refs.retain(|r| r["uid"].as_str() != Some(uid.as_str()));
                }
                state.replace(&k, d);
            }
        }
    }
    let has_finalizers = object["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|f| !f.is_empty());
    if propagation == Propagation::Foreground || has_finalizers {
        let mut marked = object.clone();
        if marked["metadata"].get("deletionTimestamp").is_none() {
            marked["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
            marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        }
        if propagation == Propagation::Foreground {
            let finalizers = marked["metadata"]["finalizers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !finalizers.contains(&json!("foregroundDeletion")) {
                let mut f = finalizers;
                f.push(json!("foregroundDeletion"));
                marked["metadata"]["finalizers"] = json!(f);
            }
        }
        return Ok(with_type(key.0, state.replace(key, marked)));
    }
    state.remove(key);
    Ok(success_status(t, &key.2, uid_of(&object)))
}

fn success_status(t: &crate::resources::ResourceType, name: &str, uid: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
        "details": {"name": name, "group": t.group, "kind": t.plural, "uid": uid}})
}

pub fn owner_uids(object: &Value) -> impl Iterator<Item = &str> {
    object["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["uid"].as_str())
}

/// The controlling owner's uid, if any.
pub fn controller_uid(object: &Value) -> Option<&str> {
    object["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == json!(true))
        .and_then(|r| r["uid"].as_str())
}

/// Creates the namespaces every cluster starts with.
pub fn seed(state: &mut State) {
    let writer = Writer {
        manager: "kube-apiserver".into(),
        dry_run: false,
    };
    for ns in ["default", "kube-system", "kube-public"] {
        let _ = create(
            state,
            index_of("", "namespaces"),
            "",
            json!({"metadata": {"name": ns}}),
            &writer,
        );
    }
}
