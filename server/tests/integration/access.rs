//! Authorization, route by route: every server function and Gate route called with no identity,
//! a role the application does not list, and READ, EXECUTE, WRITE and admin identities; each
//! answers 401, 403 or goes through exactly as the application's permissions say.

use serde_json::{Value, json};

use crate::support::{Backend, TestServer};

/// What a route needs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Needs {
    /// Any signed-in user.
    SignedIn,
    Read,
    Execute,
    Write,
    Admin,
}

/// The identities every route is tried with, and what each may do with application `shop`.
const WHO: [(&str, &[Needs]); 6] = [
    ("nobody", &[]),
    ("stranger", &[Needs::SignedIn]),
    ("viewer", &[Needs::SignedIn, Needs::Read]),
    ("releaser", &[Needs::SignedIn, Needs::Read, Needs::Execute]),
    ("owner", &[Needs::SignedIn, Needs::Read, Needs::Write]),
    (
        "admin",
        &[
            Needs::SignedIn,
            Needs::Read,
            Needs::Execute,
            Needs::Write,
            Needs::Admin,
        ],
    ),
];

enum Call {
    /// A server function with its JSON arguments.
    Fn(&'static str, Value),
    /// A Gate route: method, path, body.
    Gate(&'static str, String, Option<Value>),
}

struct World {
    s: TestServer,
    clients: Vec<(&'static str, reqwest::Client)>,
    pipeline_id: String,
}

impl World {
    async fn new() -> Self {
        let s = TestServer::start(Backend::Sqlite).await;
        let (code, body, _) = s
            .call(
                "applications/create",
                json!({"input": {"name": "shop", "ownerEmail": "team@example.com",
                    "readRoles": "viewers", "executeRoles": "releasers", "writeRoles": "owners"}}),
            )
            .await;
        assert_eq!(code, 200, "{body}");
        let (code, saved, _) = s
            .call(
                "pipelines/save",
                json!({"pipeline": {"application": "shop", "name": "P", "stages": [
                    {"refId": "1", "type": "manualJudgment", "name": "Approve"}]}}),
            )
            .await;
        assert_eq!(code, 200, "{saved}");
        let pipeline_id = saved["id"].as_str().unwrap().to_owned();
        let mut clients = vec![("nobody", reqwest::Client::new())];
        for (who, role) in [
            ("stranger", "others"),
            ("viewer", "viewers"),
            ("releaser", "releasers"),
            ("owner", "owners"),
        ] {
            clients.push((who, s.user_with_roles(who, &[role]).await));
        }
        clients.push(("admin", s.client.clone()));
        Self {
            s,
            clients,
            pipeline_id,
        }
    }

    /// A fresh run of P waiting at its judgment, started by the admin.
    async fn waiting_run(&self) -> (String, String) {
        let (code, id, _) = self
            .s
            .call(
                "executions/start",
                json!({"application": "shop", "name": "P"}),
            )
            .await;
        assert_eq!(code, 200, "{id}");
        let id = id.as_str().unwrap().to_owned();
        let stage = crate::support::eventually(
            "the judgment to wait",
            std::time::Duration::from_secs(15),
            || async {
                let (_, e, _) = self.s.call("executions/get", json!({"id": id})).await;
                (e["stages"][0]["status"] == "RUNNING")
                    .then(|| e["stages"][0]["id"].as_str().unwrap().to_owned())
            },
        )
        .await;
        (id, stage)
    }

    async fn send(&self, client: &reqwest::Client, call: &Call) -> (u16, String) {
        let base = &self.s.base;
        let request = match call {
            Call::Fn(endpoint, args) => client.post(format!("{base}/api/{endpoint}")).json(args),
            Call::Gate(method, path, body) => {
                let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
                let r = client.request(method, format!("{base}/gate{path}"));
                match body {
                    Some(b) => r.json(b),
                    None => r.header("content-type", "application/json"),
                }
            }
        };
        let res = request.send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }
}

fn object(kind: &str) -> Value {
    json!({"application": "shop", "account": "none", "namespace": "shop", "kind": kind, "name": "web"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_401_403_or_goes_through_as_the_permissions_say() {
    let w = World::new().await;
    let pid = w.pipeline_id.clone();
    // Routes that read, or change something in a way that can be repeated.
    let routes: Vec<(Call, Needs)> = vec![
        (Call::Fn("applications/list", json!({})), Needs::SignedIn),
        (
            Call::Fn("manifests/parse", json!({"yaml": "kind: ConfigMap"})),
            Needs::SignedIn,
        ),
        (
            Call::Fn(
                "manifests/yaml",
                json!({"manifests": [{"kind": "ConfigMap"}]}),
            ),
            Needs::SignedIn,
        ),
        (Call::Fn("manifests/sidecars", json!({})), Needs::SignedIn),
        (
            Call::Fn(
                "manifests/preview",
                json!({"application": "shop", "account": "none", "manifests": []}),
            ),
            Needs::Write,
        ),
        (
            Call::Fn("applications/get", json!({"name": "shop"})),
            Needs::Read,
        ),
        (
            Call::Fn(
                "applications/update",
                json!({"name": "shop", "input": {"name": "shop", "ownerEmail": "team@example.com",
                "readRoles": "viewers", "executeRoles": "releasers", "writeRoles": "owners"}}),
            ),
            Needs::Write,
        ),
        (
            Call::Fn("pipelines/list", json!({"application": "shop"})),
            Needs::Read,
        ),
        (
            Call::Fn("pipelines/get", json!({"application": "shop", "name": "P"})),
            Needs::Read,
        ),
        (
            Call::Fn(
                "pipelines/save",
                json!({"pipeline": {"application": "shop", "name": "P", "stages": [
                {"refId": "1", "type": "manualJudgment", "name": "Approve"}]}}),
            ),
            Needs::Write,
        ),
        (
            Call::Fn("pipelines/history", json!({"id": pid})),
            Needs::Read,
        ),
        (
            Call::Fn("pipelines/diff", json!({"id": pid, "from": 1, "to": 1})),
            Needs::Read,
        ),
        (
            Call::Fn("pipelines/restore", json!({"id": pid, "version": 1})),
            Needs::Write,
        ),
        (
            Call::Fn("executions/list", json!({"application": "shop"})),
            Needs::Read,
        ),
        (
            Call::Fn("infrastructure/view", json!({"application": "shop"})),
            Needs::Read,
        ),
        (Call::Fn("integrations/health", json!({})), Needs::SignedIn),
        (Call::Fn("tokens/list", json!({})), Needs::SignedIn),
        (Call::Fn("users/list", json!({})), Needs::Admin),
        (Call::Fn("audit/list", json!({"query": {}})), Needs::Admin),
        (
            Call::Gate("GET", "/applications".into(), None),
            Needs::SignedIn,
        ),
        (
            Call::Gate("GET", "/applications/shop".into(), None),
            Needs::Read,
        ),
        (
            Call::Gate("GET", "/applications/shop/pipelineConfigs".into(), None),
            Needs::Read,
        ),
        (
            Call::Gate("GET", "/applications/shop/pipelineConfigs/P".into(), None),
            Needs::Read,
        ),
        (
            Call::Gate("GET", "/applications/shop/pipelines".into(), None),
            Needs::Read,
        ),
        (
            Call::Gate("GET", "/auth/user".into(), None),
            Needs::SignedIn,
        ),
        (
            Call::Gate(
                "POST",
                "/pipelines".into(),
                Some(json!({"application": "shop", "name": "P", "stages": [
                {"refId": "1", "type": "manualJudgment", "name": "Approve"}]})),
            ),
            Needs::Write,
        ),
    ];
    for (call, needs) in &routes {
        check(&w, call, *needs, None).await;
    }
    // Routes about one execution: each allowed caller gets a fresh waiting run.
    type Make = fn(&str, &str) -> Call;
    let per_run: Vec<(Make, Needs, &str)> = vec![
        (
            |id, _| Call::Fn("executions/get", json!({"id": id})),
            Needs::Read,
            "get",
        ),
        (
            |id, _| {
                Call::Fn(
                    "executions/evaluate",
                    json!({"id": id, "expression": "${execution.id}"}),
                )
            },
            Needs::Read,
            "evaluate",
        ),
        (
            |id, st| {
                Call::Fn(
                    "executions/judgment_preview",
                    json!({"id": id, "stage_id": st}),
                )
            },
            Needs::Read,
            "preview",
        ),
        (
            |id, _| Call::Gate("GET", format!("/pipelines/{id}"), None),
            Needs::Read,
            "gate get",
        ),
        (
            |id, st| {
                Call::Fn(
                    "executions/judge",
                    json!({"id": id, "stage_id": st, "judgment": "continue"}),
                )
            },
            Needs::Execute,
            "judge",
        ),
        (
            |id, _| Call::Fn("executions/cancel", json!({"id": id})),
            Needs::Execute,
            "cancel",
        ),
        (
            |id, _| Call::Fn("executions/pause", json!({"id": id})),
            Needs::Execute,
            "pause",
        ),
        (
            |id, _| Call::Gate("PUT", format!("/pipelines/{id}/cancel"), None),
            Needs::Execute,
            "gate cancel",
        ),
        (
            |id, st| {
                Call::Gate(
                    "PATCH",
                    format!("/pipelines/{id}/stages/{st}"),
                    Some(json!({"judgmentStatus": "continue"})),
                )
            },
            Needs::Execute,
            "gate judge",
        ),
    ];
    let (id, stage) = w.waiting_run().await;
    for (make, needs, label) in &per_run {
        for (who, grants) in &WHO {
            let allowed = grants.contains(needs);
            let (id, stage) = if allowed && *needs == Needs::Execute {
                w.waiting_run().await
            } else {
                (id.clone(), stage.clone())
            };
            let client = &w.clients.iter().find(|(n, _)| n == who).unwrap().1;
            let (code, body) = w.send(client, &make(&id, &stage)).await;
            // Gate answers its controls with 202 Accepted.
            let code = if code == 202 { 200 } else { code };
            assert_eq!(code, expected(who, allowed), "{label} as {who}: {body}");
        }
    }
    // Starting runs and Infrastructure details and actions (no cluster here: past the check,
    // they fail on the missing account, never with 401 or 403).
    let starts = [
        (
            Call::Fn(
                "executions/start",
                json!({"application": "shop", "name": "P"}),
            ),
            Needs::Execute,
        ),
        (
            Call::Gate(
                "POST",
                "/pipelines/shop/P".into(),
                Some(json!({"type": "manual"})),
            ),
            Needs::Execute,
        ),
        (
            Call::Fn(
                "infrastructure/details",
                json!({"object": object("Deployment")}),
            ),
            Needs::Read,
        ),
        (
            Call::Fn("infrastructure/logs", json!({"pod": object("Pod")})),
            Needs::Read,
        ),
        (
            Call::Fn(
                "infrastructure/act",
                json!({"action": {"action": "restart", "target": object("Deployment")}}),
            ),
            Needs::Write,
        ),
    ];
    for (call, needs) in &starts {
        check(&w, call, *needs, Some(&[401, 403])).await;
    }
    w.s.stop().await;
}

/// 401 without identity; else what the grant says (200 when allowed, unless `not` lists codes
/// an allowed call must merely avoid).
fn expected(who: &str, allowed: bool) -> u16 {
    match (who, allowed) {
        ("nobody", _) => 401,
        (_, true) => 200,
        (_, false) => 403,
    }
}

async fn check(w: &World, call: &Call, needs: Needs, not: Option<&[u16]>) {
    for (who, grants) in &WHO {
        let allowed = grants.contains(&needs);
        let client = &w.clients.iter().find(|(n, _)| n == who).unwrap().1;
        let (code, body) = w.send(client, call).await;
        let label = match call {
            Call::Fn(e, _) => format!("/api/{e}"),
            Call::Gate(m, p, _) => format!("{m} /gate{p}"),
        };
        match (who, allowed, not) {
            (&"nobody", _, _) | (_, false, _) | (_, true, None) => {
                assert_eq!(code, expected(who, allowed), "{label} as {who}: {body}")
            }
            (_, true, Some(not)) => {
                assert!(
                    !not.contains(&code),
                    "{label} as {who} answered {code}: {body}"
                )
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_leave_out_what_the_caller_cannot_read_and_the_trigger_user_is_the_caller() {
    let w = World::new().await;
    let (code, _, _) =
        w.s.call(
            "applications/create",
            json!({"input": {"name": "secret-app", "ownerEmail": "x@example.com"}}),
        )
        .await;
    assert_eq!(code, 200);
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let viewer = &w.clients[2].1;
    let (_, apps) = w.s.call_as(viewer, "applications/list", json!({})).await;
    assert_eq!(names(&apps), ["shop"]);
    let (_, apps) =
        w.s.call_as(&w.s.client, "applications/list", json!({}))
            .await;
    assert_eq!(
        names(&apps),
        ["secret-app", "shop"],
        "admins see everything"
    );
    let gate = viewer
        .get(format!("{}/gate/applications", w.s.base))
        .send()
        .await
        .unwrap();
    let gate: Value = gate.json().await.unwrap();
    assert_eq!(gate.as_array().unwrap().len(), 1, "{gate}");

    // A forged trigger user is ignored: the run is the releaser's.
    let releaser = &w.clients[3].1;
    let (code, id) =
        w.s.call_as(
            releaser,
            "executions/start",
            json!({"application": "shop", "name": "P",
            "trigger": {"type": "manual", "user": "release-manager"}}),
        )
        .await;
    assert_eq!(code, 200, "{id}");
    let (_, e) =
        w.s.call_as(releaser, "executions/get", json!({"id": id}))
            .await;
    assert_eq!(e["trigger"]["user"], "releaser");
    w.s.stop().await;
}
