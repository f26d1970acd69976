//! Bearer tokens, injected faults, pod logs, and HTTPS with the CA in the kubeconfig.

use super::*;

#[tokio::test]
async fn bearer_tokens_faults_and_logs() {
    let api = cluster_with(Some("s3cret")).await;
    let anonymous = reqwest::get(format!("{}/api/v1/namespaces", api.base))
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(
        (body["kind"].as_str(), body["reason"].as_str()),
        (Some("Status"), Some("Unauthorized"))
    );
    assert_eq!(
        reqwest::get(format!("{}/version", api.base))
            .await
            .unwrap()
            .status()
            .as_u16(),
        200,
        "/version is public"
    );
    let (code, _) = api.get("/api/v1/namespaces").await;
    assert_eq!(code, 200);
    api.http
        .post(format!("{}/simulator/faults", api.base))
        .body(json!({"failNext": 2, "status": 503}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(api.get("/api/v1/namespaces").await.0, 503);
    let (code, body) = api.get("/api/v1/namespaces").await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (503, Some("ServiceUnavailable"))
    );
    assert_eq!(api.get("/api/v1/namespaces").await.0, 200);

    api.namespace("prod").await;
    api.post(DEPLOYMENTS, deployment("web", "registry.local/web:7", 1))
        .await;
    let pods = api
        .until("/api/v1/namespaces/prod/pods", |p| {
            p["items"][0]["status"]["phase"] == "Running"
        })
        .await;
    let name = pods["items"][0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, log) = api
        .get(&format!("/api/v1/namespaces/prod/pods/{name}/log"))
        .await;
    assert_eq!(code, 200);
    let log = log.as_str().unwrap();
    assert!(
        log.contains(&name) && log.contains("registry.local/web:7"),
        "{log}"
    );
    let (code, _) = api
        .get(&format!(
            "/api/v1/namespaces/prod/pods/{name}/log?&container=nope"
        ))
        .await;
    assert_eq!(code, 400);
    // A container that never restarted has no previous instance (the kubelet's answer).
    let (code, body) = api
        .get(&format!(
            "/api/v1/namespaces/prod/pods/{name}/log?previous=true"
        ))
        .await;
    assert_eq!(code, 400);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("previous terminated container \"main\"")),
        "{body}"
    );
}

#[tokio::test]
async fn https_with_a_certificate_authority_in_the_kubeconfig() {
    let config = Config {
        https: true,
        token: Some("t0ken".into()),
        ..Config::default()
    };
    let cluster = kubernetes_simulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    assert!(cluster.url.starts_with("https://127.0.0.1:"));
    let ca = cluster.ca_pem.clone().unwrap();
    let kubeconfig = cluster.kubeconfig("sim", "default");
    assert!(
        kubeconfig.contains("certificate-authority-data: "),
        "{kubeconfig}"
    );
    // A client that does not trust the simulator's CA is refused at the handshake.
    let untrusting = reqwest::Client::builder().build().unwrap();
    assert!(
        untrusting
            .get(format!("{}/version", cluster.url))
            .send()
            .await
            .is_err()
    );
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
        .build()
        .unwrap();
    let version = trusting
        .get(format!("{}/version", cluster.url))
        .bearer_auth("t0ken")
        .send()
        .await
        .unwrap();
    assert_eq!(version.status().as_u16(), 200);
    let anonymous = trusting
        .get(format!("{}/api/v1/namespaces", cluster.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
}
