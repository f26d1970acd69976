//! A Kubernetes account restricted to roles: people without a READ role do not see it in the
//! Infrastructure view, and a run deploys there only when the application's or the starting
//! user's roles may write there.

use serde_json::json;

use crate::kubernetes::{Sim, deployment, until_execution};
use crate::support::{Backend, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restricted_account_takes_runs_only_from_its_writers() {
    let sim = Sim::start().await;
    sim.namespaces(&["shop-prod"]).await;
    let mut prod = sim.account("prod", &[]);
    prod.permissions = domain::Permissions {
        read: vec!["viewers".into()],
        write: vec!["deployers".into()],
        ..Default::default()
    };
    let server =
        TestServer::start_with(Backend::Sqlite, |c| c.kubernetes.accounts = vec![prod]).await;
    let (code, body, _) = server
        .call("applications/create", json!({"input": {"name": "shop", "ownerEmail": "team@example.com",
            "readRoles": "viewers, outsiders", "executeRoles": "releasers", "writeRoles": "owners"}}))
        .await;
    assert_eq!(code, 200, "{body}");
    let pipeline = json!({"application": "shop", "name": "to-prod", "stages": [{"refId": "1", "type": "deployManifest",
        "name": "Deploy", "account": "prod", "namespaceOverride": "shop-prod", "manifests": [deployment("web", "web:1", 1)]}]});
    let (code, saved, _) = server
        .call("pipelines/save", json!({"pipeline": pipeline}))
        .await;
    assert_eq!(code, 200, "{saved}");

    // The application's roles may not write to prod, and neither may the releaser who starts it.
    let releaser = server.user_with_roles("rita", &["releasers"]).await;
    let (code, id) = server
        .call_as(
            &releaser,
            "executions/start",
            json!({"application": "shop", "name": "to-prod"}),
        )
        .await;
    assert_eq!(code, 200, "{id}");
    let refused = until_execution(&server, id.as_str().unwrap(), &["SUCCEEDED", "TERMINAL"]).await;
    assert_eq!(refused["status"], "TERMINAL");
    let message = refused["stages"][0]["context"]["exception"]["details"]["errors"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("account prod is restricted"), "{message}");
    assert!(message.contains("rita"), "{message}");

    // A releaser who is also a deployer may.
    let deployer = server
        .user_with_roles("dana", &["releasers", "deployers"])
        .await;
    let (_, id) = server
        .call_as(
            &deployer,
            "executions/start",
            json!({"application": "shop", "name": "to-prod"}),
        )
        .await;
    let done = until_execution(&server, id.as_str().unwrap(), &["SUCCEEDED", "TERMINAL"]).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");

    // The view shows prod to its readers only.
    let viewer = server.user_with_roles("vic", &["viewers"]).await;
    let outsider = server.user_with_roles("olga", &["outsiders"]).await;
    let accounts = |client| {
        let server = &server;
        async move {
            let (code, view) = server
                .call_as(
                    client,
                    "infrastructure/view",
                    json!({"application": "shop"}),
                )
                .await;
            assert_eq!(code, 200, "{view}");
            view["accounts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["name"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(accounts(&viewer).await, ["prod"]);
    assert!(accounts(&outsider).await.is_empty());
    let object = json!({"application": "shop", "account": "prod", "namespace": "shop-prod", "kind": "Deployment", "name": "web"});
    let (code, _) = server
        .call_as(
            &outsider,
            "infrastructure/details",
            json!({"object": object}),
        )
        .await;
    assert_eq!(code, 403);
    let (code, _) = server
        .call_as(&viewer, "infrastructure/details", json!({"object": object}))
        .await;
    assert_eq!(code, 200);
    server.stop().await;
}
