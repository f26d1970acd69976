//! The manifest editor's "What will change": a dry run on the (simulated) cluster, compared with
//! what runs there, before anything is saved or run.

use serde_json::json;

use crate::kubernetes::{Sim, deploy_request, deployment};
use crate::support::{Backend, TestServer};

/// A simulated cluster running Deployment `web` (`replicas`) in `shop-test`, and a Topsail whose
/// account `test` is that cluster, with application `shop` deploying to `deploy_targets`.
async fn shop_with_web(
    replicas: i64,
    deploy_targets: &str,
) -> (Sim, server::kubernetes::Accounts, TestServer) {
    let sim = Sim::start().await;
    sim.namespaces(&["shop-test"]).await;
    let accounts = sim.accounts(&[]).await;
    accounts
        .deploy(&deploy_request(
            "shop-test",
            vec![deployment("web", "registry.local/shop/web:1.0", replicas)],
        ))
        .await
        .unwrap();
    let server = TestServer::start_with(Backend::Sqlite, |c| {
        c.kubernetes.accounts = vec![sim.account("test", &[])]
    })
    .await;
    let (code, body, _) = server
        .call(
            "applications/create",
            json!({"input": {"name": "shop", "ownerEmail": "team@example.com", "deployTargets": deploy_targets}}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    (sim, accounts, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_shows_what_would_change_and_what_the_cluster_would_refuse() {
    let (_sim, accounts, server) = shop_with_web(3, "test/shop-test, test/shop-missing").await;

    let wanted = json!([
        deployment("web", "registry.local/shop/web:2.0", 2),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-settings"}, "data": {"LEVEL": "info"}},
    ]);
    let (code, preview, _) = server
        .call(
            "manifests/preview",
            json!({"application": "shop", "account": "test", "namespace": "shop-test", "manifests": wanted}),
        )
        .await;
    assert_eq!(code, 200, "{preview}");
    let planned = preview.as_array().unwrap();
    assert_eq!(planned.len(), 2, "{preview:#}");
    let web = &planned[0];
    assert_eq!(
        (web["object"].clone(), web["exists"].clone()),
        (json!("deployment web"), json!(true))
    );
    let paths: Vec<&str> = web["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"spec.replicas"), "{web:#}");
    assert!(
        paths.contains(&"spec.template.spec.containers[0].image"),
        "an image change shows: {web:#}"
    );
    assert_eq!(
        (
            planned[1]["object"].clone(),
            planned[1]["exists"].clone(),
            planned[1]["note"].clone()
        ),
        (json!("configmap web-settings"), json!(false), json!(null)),
        "{preview:#}"
    );
    // Nothing was written: the Deployment still runs 1.0 with 3 replicas, no ConfigMap exists.
    let live = accounts
        .images(
            &server::kubernetes::ResourceRef::from_kind("test", "shop-test", "Deployment", "web")
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(live, ["registry.local/shop/web:1.0"]);
    let settings = server::kubernetes::ResourceRef::from_kind(
        "test",
        "shop-test",
        "ConfigMap",
        "web-settings",
    )
    .unwrap();
    assert_eq!(accounts.get(&settings).await.unwrap(), None);

    // Where the application may not deploy, nothing is asked of the cluster.
    let (_, elsewhere, _) = server
        .call(
            "manifests/preview",
            json!({"application": "shop", "account": "test", "namespace": "kube-system", "manifests": wanted}),
        )
        .await;
    assert!(
        elsewhere[0]["note"]
            .as_str()
            .unwrap()
            .contains("is not a deploy target"),
        "{elsewhere}"
    );

    // A namespace that does not exist: the cluster's own refusal, per object.
    let (_, refused, _) = server
        .call(
            "manifests/preview",
            json!({"application": "shop", "account": "test", "namespace": "shop-missing", "manifests": wanted}),
        )
        .await;
    assert!(
        refused[0]["note"]
            .as_str()
            .is_some_and(|n| n.starts_with("the cluster would refuse it")),
        "{refused}"
    );
    server.stop().await;
}

/// "Edit" on the Infrastructure tab: the live object as one would apply it again, an edit of it
/// applied (audited), and an "edit" that would change another object refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_of_a_live_object_is_applied_and_only_to_that_object() {
    let (_sim, accounts, server) = shop_with_web(1, "test/shop-test").await;
    let target = json!({"application": "shop", "account": "test", "namespace": "shop-test", "kind": "Deployment", "name": "web"});
    let (code, details, _) = server
        .call("infrastructure/details", json!({"object": target}))
        .await;
    assert_eq!(code, 200, "{details}");
    let mut manifest = details["manifest"].clone();
    for gone in [
        "uid",
        "resourceVersion",
        "managedFields",
        "creationTimestamp",
    ] {
        assert!(manifest["metadata"].get(gone).is_none(), "{manifest:#}");
    }
    assert!(manifest.get("status").is_none(), "{manifest:#}");

    manifest["spec"]["replicas"] = json!(3);
    let (code, said, _) = server
        .call(
            "infrastructure/act",
            json!({"action": {"action": "apply", "target": target, "manifest": manifest}}),
        )
        .await;
    assert_eq!(
        (code, said.as_str()),
        (200, Some("Apply an edit of deployment web: applied"))
    );
    let live = accounts
        .get(&crate::kubernetes::web("shop-test"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live["spec"]["replicas"], 3);
    let res = server
        .client
        .get(format!(
            "{}/api/audit/export?action=infrastructure.action",
            server.base
        ))
        .send()
        .await
        .unwrap();
    let audited = res.text().await.unwrap();
    assert!(
        audited.contains("Apply an edit of deployment web: applied"),
        "{audited}"
    );

    // Renaming in the editor would write another object: refused, naming the field.
    let mut other = manifest.clone();
    other["metadata"]["name"] = json!("api");
    let (code, err, _) = server
        .call(
            "infrastructure/act",
            json!({"action": {"action": "apply", "target": target, "manifest": other}}),
        )
        .await;
    assert_eq!(code, 422, "{err}");
    assert!(err.to_string().contains("manifest.metadata.name"), "{err}");
    server.stop().await;
}
