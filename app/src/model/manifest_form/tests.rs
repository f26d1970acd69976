use super::*;

fn deployment() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "annotations": {"team.example.com/owner": "pay"}},
        "x-origin": {"kept": true},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "main", "image": "web:1", "futureField": 3,
                    "ports": [{"containerPort": 20880}]}],
                    "volumes": [{"name": "logs", "emptyDir": {}}]}}}})
}

#[test]
fn paths_read_the_fields_the_server_names() {
    let d = deployment();
    assert_eq!(
        get(
            &d,
            "spec.template.spec.containers[0].ports[0].containerPort"
        ),
        Some(&json!(20880))
    );
    assert_eq!(get(&d, "spec.template.spec.containers[1].name"), None);
    assert_eq!(read(&d, "spec.replicas", Input::Int), "2");
    assert_eq!(
        read(&d, "spec.template.metadata.labels", Input::KeyValues),
        "app=web"
    );
}

#[test]
fn form_edits_keep_every_field_the_form_does_not_show() {
    let mut d = deployment();
    write(&mut d, "spec.replicas", Input::Int, "3").unwrap();
    write(
        &mut d,
        "spec.template.spec.containers[0].resources.limits.cpu",
        Input::Quantity,
        "500m",
    )
    .unwrap();
    write(
        &mut d,
        "spec.template.spec.containers[0].image",
        Input::Text,
        "web:2",
    )
    .unwrap();
    assert_eq!(d["x-origin"], json!({"kept": true}));
    assert_eq!(
        d["metadata"]["annotations"]["team.example.com/owner"],
        "pay"
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["futureField"],
        3
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["resources"],
        json!({"limits": {"cpu": "500m"}})
    );
    assert_eq!(d["spec"]["replicas"], 3);
}

#[test]
fn clearing_a_field_removes_what_it_leaves_empty_but_not_an_empty_dir() {
    let mut d = deployment();
    let cpu = "spec.template.spec.containers[0].resources.limits.cpu";
    write(&mut d, cpu, Input::Quantity, "1").unwrap();
    write(&mut d, cpu, Input::Quantity, "").unwrap();
    assert!(
        d["spec"]["template"]["spec"]["containers"][0]
            .get("resources")
            .is_none()
    );
    write(
        &mut d,
        "spec.template.spec.volumes[0].emptyDir.sizeLimit",
        Input::Quantity,
        "1Gi",
    )
    .unwrap();
    write(
        &mut d,
        "spec.template.spec.volumes[0].emptyDir.sizeLimit",
        Input::Quantity,
        "",
    )
    .unwrap();
    assert_eq!(
        d["spec"]["template"]["spec"]["volumes"][0],
        json!({"name": "logs", "emptyDir": {}})
    );
}

#[test]
fn inputs_refuse_text_they_cannot_take_and_change_nothing() {
    let mut d = deployment();
    let before = d.clone();
    assert!(write(&mut d, "spec.replicas", Input::Int, "two").is_err());
    let surge = "spec.strategy.rollingUpdate.maxSurge";
    assert!(write(&mut d, surge, Input::IntOrPercent, "25 %").is_err());
    assert!(
        write(
            &mut d,
            "spec.template.metadata.labels",
            Input::KeyValues,
            "app"
        )
        .is_err()
    );
    assert_eq!(d, before);
    write(&mut d, surge, Input::IntOrPercent, "1").unwrap();
    assert_eq!(get(&d, surge), Some(&json!(1)));
    write(&mut d, surge, Input::IntOrPercent, "25%").unwrap();
    assert_eq!(get(&d, surge), Some(&json!("25%")));
    write(
        &mut d,
        "spec.template.spec.containers[0].args",
        Input::Lines,
        "-jar\n\napp.jar\n",
    )
    .unwrap();
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["-jar", "app.jar"])
    );
}

#[test]
fn quantities_are_hinted_in_units_people_read() {
    assert_eq!(quantity_hint("cpu", "500m"), "= 0.5 CPU");
    assert_eq!(quantity_hint("memory", "1Gi"), "= 1 GiB");
    assert_eq!(quantity_hint("memory", "1536Mi"), "= 1.5 GiB");
    assert_eq!(quantity_hint("memory", "lots"), "");
}

#[test]
fn new_objects_are_tied_to_the_workload() {
    let d = deployment();
    let service = new_object("Service", "web", std::slice::from_ref(&d));
    assert_eq!(service["spec"]["selector"], json!({"app": "web"}));
    assert_eq!(service["spec"]["ports"][0]["port"], 20880);
    let docs = vec![d, service];
    let ingress = new_object("Ingress", "web", &docs);
    let backend = &ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
    assert_eq!(backend["name"], "web");
    assert_eq!(backend["port"]["number"], 20880);
    let hpa = new_object("HorizontalPodAutoscaler", "web", &docs);
    assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "web");
    let sts = new_object("StatefulSet", "db", &[]);
    assert_eq!(sts["spec"]["serviceName"], "db");
    assert_eq!(sts["spec"]["selector"]["matchLabels"], json!({"app": "db"}));
}

#[test]
fn containers_move_between_roles_and_places() {
    let mut d = deployment();
    push(
        &mut d,
        "spec.template.spec.containers",
        json!({"name": "filebeat", "image": "filebeat"}),
    );
    push(
        &mut d,
        "spec.template.spec.containers",
        json!({"name": "migrate", "image": "tool"}),
    );
    let names = |d: &Value| {
        containers(d)
            .into_iter()
            .map(|(_, n, r)| format!("{n}:{}", r.label()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&d),
        ["main:main", "filebeat:sidecar", "migrate:sidecar"]
    );
    set_role(&mut d, "spec.template.spec.containers[2]", Role::Init);
    assert_eq!(names(&d), ["main:main", "filebeat:sidecar", "migrate:init"]);
    move_entry(&mut d, "spec.template.spec.containers", 1, true);
    assert_eq!(names(&d), ["filebeat:main", "main:sidecar", "migrate:init"]);
    set_role(&mut d, "spec.template.spec.containers[1]", Role::Main);
    assert_eq!(names(&d), ["main:main", "filebeat:sidecar", "migrate:init"]);
    remove_at(&mut d, "spec.template.spec.initContainers", 0);
    assert!(
        d["spec"]["template"]["spec"]
            .get("initContainers")
            .is_none()
    );
}

#[test]
fn probes_switch_handlers_and_keep_their_timings() {
    let mut d = deployment();
    let probe = "spec.template.spec.containers[0].readinessProbe";
    set_probe_handler(&mut d, probe, "tcpSocket", json!(20880));
    write(&mut d, &format!("{probe}.periodSeconds"), Input::Int, "5").unwrap();
    assert_eq!(probe_handler(get(&d, probe)), "tcpSocket");
    set_probe_handler(&mut d, probe, "httpGet", json!(8080));
    assert_eq!(
        get(&d, probe),
        Some(
            &json!({"periodSeconds": 5, "httpGet": {"path": "/", "port": 8080, "scheme": "HTTP"}})
        )
    );
    set_probe_handler(&mut d, probe, "", json!(0));
    assert_eq!(get(&d, probe), None);
}

#[test]
fn volume_and_env_sources_switch() {
    let mut d = deployment();
    let v = "spec.template.spec.volumes[0]";
    assert_eq!(volume_source(get(&d, v).unwrap()), "emptyDir");
    set_volume_source(&mut d, v, "configMap");
    assert_eq!(
        get(&d, v),
        Some(&json!({"name": "logs", "configMap": {"name": "logs"}}))
    );
    let env = "spec.template.spec.containers[0].env";
    push(&mut d, env, json!({"name": "C_OPTS", "value": "-Xmx1g"}));
    let first = format!("{env}[0]");
    assert_eq!(env_source(get(&d, &first).unwrap()), "value");
    set_env_source(&mut d, &first, "secretKeyRef");
    assert_eq!(env_source(get(&d, &first).unwrap()), "secretKeyRef");
    assert!(has_expression("${trigger.parameters.opts}"));
}

#[test]
fn strategies_keep_their_rolling_settings() {
    let mut d = deployment();
    set_strategy(&mut d, "Deployment", "RollingUpdate");
    write(
        &mut d,
        "spec.strategy.rollingUpdate.maxSurge",
        Input::IntOrPercent,
        "1",
    )
    .unwrap();
    set_strategy(&mut d, "Deployment", "Recreate");
    assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));
    let mut s = new_object("StatefulSet", "db", &[]);
    set_strategy(&mut s, "StatefulSet", "RollingUpdate");
    assert_eq!(s["spec"]["updateStrategy"]["rollingUpdate"]["partition"], 0);
}
