use serde_json::{Value, json};

use super::check_rules;
use super::rules::{check, dns_label_problem, dns_subdomain_problem};

/// The seed's workload, as the form builds it: what every rule accepts.
fn dubbo() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "dubbo-demo-service", "labels": {"app": "dubbo-demo-service"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "dubbo-demo-service"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": "dubbo-demo-service"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "${trigger.artifacts[0].reference}",
                            "ports": [{"name": "dubbo", "containerPort": 20880}],
                            "env": [{"name": "JAR_BALL", "value": "dubbo-server.jar"}, {"name": "C_OPTS", "value": "-Denv=test"}],
                            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "500m", "memory": "1Gi"}},
                            "readinessProbe": {"tcpSocket": {"port": 20880}, "initialDelaySeconds": 10, "periodSeconds": 5},
                            "livenessProbe": {"tcpSocket": {"port": "dubbo"}, "initialDelaySeconds": 30},
                            "volumeMounts": [{"name": "logs", "mountPath": "/opt/logs"}]
                        },
                        {
                            "name": "filebeat",
                            "image": "docker.elastic.co/beats/filebeat:8.15.0",
                            "volumeMounts": [{"name": "logs", "mountPath": "/logs"}]
                        }
                    ],
                    "volumes": [{"name": "logs", "emptyDir": {}}]
                }
            }
        }
    })
}

fn paths(manifest: &Value) -> Vec<String> {
    check(manifest).into_iter().map(|f| f.path).collect()
}

#[test]
fn a_sound_workload_breaks_no_rule() {
    assert_eq!(check(&dubbo()), vec![]);
}

#[test]
fn limits_below_requests_are_refused_on_the_limit() {
    let mut m = dubbo();
    m["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = json!("100m");
    let findings = check(&m);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(
        findings[0].path,
        "spec.template.spec.containers[0].resources.limits.cpu"
    );
    assert_eq!(
        findings[0].message,
        "the limit (100m) is less than the request (250m)"
    );
}

#[test]
fn a_bad_quantity_is_named_on_its_field() {
    let mut m = dubbo();
    m["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = json!("1GB");
    let findings = check(&m);
    assert_eq!(
        findings[0].path,
        "spec.template.spec.containers[0].resources.limits.memory"
    );
    assert!(
        findings[0].message.contains("'1GB' is not a quantity"),
        "{findings:?}"
    );
}

#[test]
fn selector_names_and_mounts_are_checked() {
    let mut m = dubbo();
    m["spec"]["selector"]["matchLabels"]["tier"] = json!("backend");
    let spec = &mut m["spec"]["template"]["spec"];
    spec["containers"][1]["name"] = json!("app");
    spec["containers"][1]["volumeMounts"][0]["name"] = json!("missing");
    spec["volumes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "Logs_2", "emptyDir": {}, "configMap": {"name": "x"}}));
    assert_eq!(
        paths(&m),
        [
            "spec.selector.matchLabels.tier",
            "spec.template.spec.volumes[1].name",
            "spec.template.spec.volumes[1]",
            "spec.template.spec.containers[1].name",
            "spec.template.spec.containers[1].volumeMounts[0].name",
        ]
    );
}

#[test]
fn probes_have_one_handler_and_name_real_ports() {
    let mut m = dubbo();
    let c = &mut m["spec"]["template"]["spec"]["containers"][0];
    c["readinessProbe"]["httpGet"] = json!({"path": "/health", "port": 8080});
    c["livenessProbe"]["tcpSocket"]["port"] = json!("http");
    c["startupProbe"] = json!({"periodSeconds": 0});
    let findings = check(&m);
    let shown: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| (f.path.as_str(), f.message.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            (
                "spec.template.spec.containers[0].readinessProbe",
                "has 2 checks (httpGet, tcpSocket): keep one"
            ),
            (
                "spec.template.spec.containers[0].livenessProbe.tcpSocket.port",
                "no container port is called 'http'"
            ),
            (
                "spec.template.spec.containers[0].startupProbe",
                "needs a check: exec, httpGet, tcpSocket or grpc"
            ),
            (
                "spec.template.spec.containers[0].startupProbe.periodSeconds",
                "0 is not a whole number of at least 1"
            ),
        ]
    );
}

#[test]
fn strategies_services_and_autoscalers() {
    let mut m = dubbo();
    m["spec"]["strategy"]["rollingUpdate"] = json!({"maxSurge": "0%", "maxUnavailable": 0});
    assert_eq!(paths(&m), ["spec.strategy.rollingUpdate.maxUnavailable"]);
    m["spec"]["strategy"]["rollingUpdate"] = json!({"maxSurge": "25 percent"});
    assert_eq!(paths(&m), ["spec.strategy.rollingUpdate.maxSurge"]);

    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dubbo-demo-service"},
        "spec": {"selector": {"app": "dubbo-demo-service"}, "ports": [{"port": 20880}, {"port": 70000, "name": "x"}]}});
    assert_eq!(
        paths(&service),
        ["spec.ports[0].name", "spec.ports[1].port"]
    );

    let hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "minReplicas": 3, "maxReplicas": 2}});
    assert_eq!(paths(&hpa), ["spec.maxReplicas"]);
}

#[test]
fn expressions_wait_for_the_run() {
    let mut m = dubbo();
    m["metadata"]["name"] = json!("${parameters.name}");
    m["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] =
        json!("${parameters.cpu}");
    m["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] =
        json!("${parameters.port}");
    assert_eq!(check(&m), vec![]);
}

#[test]
fn names_follow_dns_1123() {
    assert_eq!(dns_label_problem("app-1"), None);
    assert!(dns_label_problem("App").is_some());
    assert!(dns_label_problem("-app").is_some());
    assert!(dns_label_problem(&"a".repeat(64)).is_some());
    assert_eq!(dns_subdomain_problem("api.example.com"), None);
    assert!(dns_subdomain_problem("api..example").is_some());
    let other = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "My_Widget"}, "spec": {"anything": 1}});
    assert_eq!(
        paths(&other),
        ["metadata.name"],
        "kinds without rules: only the name"
    );
}

#[test]
fn problems_carry_their_document() {
    let bad = json!({"kind": "ConfigMap", "metadata": {}});
    let problems = check_rules(&[dubbo(), bad]);
    let shown: Vec<(usize, &str)> = problems
        .iter()
        .map(|p| (p.document, p.path.as_str()))
        .collect();
    assert_eq!(shown, [(1, "apiVersion"), (1, "metadata.name")]);
}
