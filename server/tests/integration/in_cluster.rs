//! The in-cluster account against the simulator over HTTPS: the API server from the Pod's
//! environment, the service account's token, CA and namespace from its mounted directory.

use super::kubernetes::Sim;

#[tokio::test]
async fn a_pods_service_account_reaches_the_cluster_it_runs_in() {
    let sim = Sim::start().await;
    let mounted = tempfile::tempdir().unwrap();
    std::fs::write(
        mounted.path().join("ca.crt"),
        sim.cluster.ca_pem.as_deref().unwrap(),
    )
    .unwrap();
    std::fs::write(
        mounted.path().join("token"),
        sim.cluster.token.as_deref().unwrap(),
    )
    .unwrap();
    std::fs::write(mounted.path().join("namespace"), "shop-test\n").unwrap();
    let port = sim.cluster.url.rsplit(':').next().unwrap().to_owned();
    let env = move |k: &str| match k {
        "KUBERNETES_SERVICE_HOST" => Some("127.0.0.1".to_owned()),
        "KUBERNETES_SERVICE_PORT" => Some(port.clone()),
        _ => None,
    };
    let config = server::kubernetes::in_cluster::config(Some(mounted.path()), &env).unwrap();
    assert_eq!(config.default_namespace, "shop-test");
    let client = kube::Client::try_from(config).unwrap();
    client
        .apiserver_version()
        .await
        .expect("the cluster answers, its certificate verified against the mounted CA");
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client);
    namespaces
        .list(&Default::default())
        .await
        .expect("the token is accepted");

    // A wrong token is refused by the cluster, as a real API server refuses it.
    std::fs::write(mounted.path().join("token"), "not-the-token").unwrap();
    let config = server::kubernetes::in_cluster::config(Some(mounted.path()), &env).unwrap();
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(kube::Client::try_from(config).unwrap());
    let refused = namespaces.list(&Default::default()).await.unwrap_err();
    assert!(
        refused.to_string().contains("401")
            || refused.to_string().to_lowercase().contains("unauthorized"),
        "{refused}"
    );
}
