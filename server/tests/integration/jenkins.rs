//! Jenkins: the client, the `jenkins` stage and the `jenkins` trigger against the Jenkins
//! emulator, over HTTP, as against a real controller.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use domain::pipeline::PipelineDocument;
use jenkins_emulator::{RunningJenkins, Script};
use serde_json::{Value, json};
use server::config::{JenkinsMasterConfig, Secret};
use server::jenkins::{JenkinsClient, JenkinsError, JenkinsMasters, QueueState};
use server::orchestration::engine::Engine;
use server::orchestration::queue::{QueueSettings, SystemClock};
use server::orchestration::stages::StageRegistry;

use crate::support::{self, Backend, TestServer, eventually};

pub const TOKEN: &str = "0123456789abcdef";

pub fn script(extra_jobs: Value) -> Script {
    let mut jobs = json!([
        {"name": "team/build-image", "parameters": [
            {"name": "IMAGE", "default": "shop/web"},
            {"name": "BRANCH", "default": "main"},
            {"name": "COMMIT", "default": "0000000"},
            {"name": "RESULT", "type": "choice", "choices": ["SUCCESS", "UNSTABLE", "FAILURE"]}
         ],
         "build": {"durationMs": 300, "result": "${RESULT}",
                   "console": ["Cloning ${BRANCH}@${COMMIT}", "Building ${IMAGE}"],
                   "artifacts": [{"path": "out/build.properties", "content": "IMAGE_TAG=${BRANCH}-${COMMIT}\nIMAGE=${IMAGE}\n"}]}},
        {"name": "plain", "build": {"durationMs": 200}},
        {"name": "slow", "build": {"durationMs": 60000, "console": ["step 1", "step 2"]}},
        {"name": "off", "disabled": true, "parameters": [{"name": "X"}]}
    ]);
    jobs.as_array_mut()
        .unwrap()
        .extend(extra_jobs.as_array().cloned().unwrap_or_default());
    Script::from_json(
        &json!({
            "users": [{"name": "ci-bot", "token": TOKEN}, {"name": "human", "password": "pw"}],
            "crumbs": true,
            "quietPeriodMs": 100,
            "jobs": jobs
        })
        .to_string(),
    )
    .unwrap()
}

pub async fn emulator(extra_jobs: Value) -> RunningJenkins {
    jenkins_emulator::start(script(extra_jobs), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

pub fn master(name: &str, jenkins: &RunningJenkins) -> JenkinsMasterConfig {
    JenkinsMasterConfig {
        name: name.into(),
        address: jenkins.url.clone(),
        username: "ci-bot".into(),
        token_env: None,
        token_file: None,
        token: Some(Secret::new(TOKEN)),
    }
}

pub fn client(jenkins: &RunningJenkins) -> JenkinsClient {
    JenkinsClient::new(&master("ci", jenkins)).with_backoff(Duration::from_millis(20))
}

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn faults(jenkins: &RunningJenkins, spec: Value) {
    reqwest::Client::new()
        .post(format!("{}__emulator/faults", jenkins.url))
        .json(&spec)
        .send()
        .await
        .unwrap();
}

/// Queues a build and waits until it has ended; returns its number.
pub async fn completed_build(c: &JenkinsClient, job: &str, p: &[(&str, &str)]) -> u64 {
    let id = c.trigger(job, &params(p)).await.unwrap();
    let number = eventually("the build to start", Duration::from_secs(10), || async {
        match c.queue_item(id).await.unwrap() {
            QueueState::Started { number, .. } => Some(number),
            _ => None,
        }
    })
    .await;
    eventually("the build to end", Duration::from_secs(10), || async {
        (!c.build(job, number).await.unwrap().building).then_some(())
    })
    .await;
    number
}

#[tokio::test]
async fn the_client_follows_a_build_from_queue_to_log_and_artifacts() {
    let jenkins = emulator(json!([])).await;
    let c = client(&jenkins);
    assert!(c.version().await.unwrap().starts_with("2."));
    let jobs: Vec<String> = c
        .jobs()
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.name)
        .collect();
    assert_eq!(
        jobs,
        ["off", "plain", "slow", "team/build-image"],
        "folders are walked"
    );
    let job = c.job("team/build-image").await.unwrap();
    let names: Vec<&str> = job
        .parameter_definition_list
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["IMAGE", "BRANCH", "COMMIT", "RESULT"]);
    assert_eq!(
        job.parameter_definition_list[1].default_value.as_deref(),
        Some("main")
    );
    assert_eq!(
        job.parameter_definition_list[3].choices,
        ["SUCCESS", "UNSTABLE", "FAILURE"]
    );

    let number = completed_build(
        &c,
        "team/build-image",
        &[("BRANCH", "feature"), ("COMMIT", "abc1234")],
    )
    .await;
    let b = c.build("team/build-image", number).await.unwrap();
    assert_eq!((b.result.as_deref(), b.building), (Some("SUCCESS"), false));
    assert_eq!(b.artifacts[0].relative_path, "out/build.properties");
    let bytes = c
        .artifact("team/build-image", number, "out/build.properties")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        "IMAGE_TAG=feature-abc1234\nIMAGE=shop/web\n"
    );
    assert_eq!(
        c.artifact("team/build-image", number, "nope.txt")
            .await
            .unwrap(),
        None
    );
    // The log, read in pieces until it is complete.
    let mut text = String::new();
    let mut start = 0;
    let log = eventually("the log to be complete", Duration::from_secs(10), || {
        let c = &c;
        async move {
            c.log("team/build-image", number, 0)
                .await
                .ok()
                .filter(|l| !l.more)
        }
    })
    .await;
    while start < log.next {
        let chunk = c.log("team/build-image", number, start).await.unwrap();
        text.push_str(&chunk.text);
        start = chunk.next;
    }
    assert!(
        text.contains("Cloning feature@abc1234\nBuilding shop/web\n")
            && text.ends_with("Finished: SUCCESS\n"),
        "{text}"
    );
    let builds = c.builds("team/build-image").await.unwrap();
    assert_eq!(
        builds.iter().map(|b| b.number).collect::<Vec<_>>(),
        [number]
    );
}

#[tokio::test]
async fn the_client_explains_refusals_and_retries_server_errors() {
    let jenkins = emulator(json!([])).await;
    let c = client(&jenkins);
    let none = params(&[]);
    assert!(matches!(
        c.trigger("nope", &none).await,
        Err(JenkinsError::NoSuchJob { .. })
    ));
    assert!(matches!(
        c.trigger("team/nope", &none).await,
        Err(JenkinsError::NoSuchJob { .. })
    ));
    let disabled = c.trigger("off", &none).await.unwrap_err();
    assert_eq!(
        disabled.to_string(),
        "job 'off' on Jenkins 'ci' is disabled"
    );
    let unparameterized = c
        .trigger("plain", &params(&[("BRANCH", "x")]))
        .await
        .unwrap_err();
    assert_eq!(
        unparameterized.to_string(),
        "job 'plain' on Jenkins 'ci' has no parameters defined, but parameters were given: BRANCH"
    );
    let rejected = c
        .trigger("team/build-image", &params(&[("RESULT", "MAYBE")]))
        .await
        .unwrap_err();
    assert!(
        matches!(&rejected, JenkinsError::Rejected { status: 400, message, .. } if message.contains("Illegal choice")),
        "{rejected}"
    );
    assert!(matches!(
        c.build("plain", 42).await,
        Err(JenkinsError::NoSuchBuild { number: 42, .. })
    ));

    let mut wrong = master("ci", &jenkins);
    wrong.token = Some(Secret::new("not-the-token"));
    let health = JenkinsMasters::from_clients(vec![JenkinsClient::new(&wrong)])
        .health()
        .await;
    assert_eq!(
        (health[0].healthy, health[0].detail.as_str()),
        (
            false,
            "Jenkins 'ci' refused the credentials (check the user and API token)"
        )
    );
    let denied = JenkinsClient::new(&wrong).jobs().await.unwrap_err();
    assert_eq!(
        denied.to_string(),
        "Jenkins 'ci' refused the credentials (check the user and API token)"
    );
    assert!(!denied.to_string().contains("not-the-token"));

    // Two 502s are retried through; five are not.
    faults(
        &jenkins,
        json!({"failNext": 2, "status": 502, "pathContains": "api/json"}),
    )
    .await;
    assert_eq!(c.jobs().await.unwrap().len(), 4);
    faults(
        &jenkins,
        json!({"failNext": 5, "status": 500, "pathContains": "api/json"}),
    )
    .await;
    let e = c.jobs().await.unwrap_err();
    assert!(
        e.is_transient() && matches!(e, JenkinsError::ServerError { status: 500, .. }),
        "{e}"
    );
    // A POST is not repeated after a 500 (the build may have been queued), but is after a 503.
    faults(
        &jenkins,
        json!({"failNext": 1, "status": 500, "pathContains": "build"}),
    )
    .await;
    assert!(matches!(
        c.trigger("plain", &none).await,
        Err(JenkinsError::ServerError { status: 500, .. })
    ));
    faults(
        &jenkins,
        json!({"failNext": 1, "status": 503, "pathContains": "/build"}),
    )
    .await;
    assert!(c.trigger("plain", &none).await.is_ok());
    // A controller slower than the timeout: tried three times, then unreachable ("timed out").
    faults(
        &jenkins,
        json!({"latencyMs": 400, "pathContains": "api/json"}),
    )
    .await;
    let slow = client(&jenkins).with_timeout(Duration::from_millis(150));
    let started = std::time::Instant::now();
    let e = slow.jobs().await.unwrap_err();
    assert_eq!(
        e,
        JenkinsError::Unreachable {
            master: "ci".into(),
            reason: "timed out".into()
        }
    );
    assert!(
        started.elapsed() >= Duration::from_millis(450),
        "three attempts of 150 ms"
    );
    assert_eq!(
        client(&jenkins).jobs().await.unwrap().len(),
        4,
        "a patient client gets the answer"
    );
    faults(&jenkins, json!({})).await;
    // A controller that is not there at all is unreachable too.
    let down = JenkinsClient::new(&JenkinsMasterConfig {
        address: "http://127.0.0.1:9".into(),
        ..master("gone", &jenkins)
    })
    .with_backoff(Duration::from_millis(10));
    assert!(matches!(
        down.jobs().await,
        Err(JenkinsError::Unreachable { .. })
    ));
}

#[tokio::test]
async fn a_password_client_gets_a_crumb_bound_to_its_session() {
    let jenkins = emulator(json!([])).await;
    let human = JenkinsMasterConfig {
        username: "human".into(),
        token: Some(Secret::new("pw")),
        ..master("ci", &jenkins)
    };
    let c = JenkinsClient::new(&human);
    // The first POST is refused for want of a crumb; the client fetches one and tries again.
    let id = c.trigger("plain", &params(&[])).await.unwrap();
    assert!(id > 0);
    assert!(c.cancel_queue_item(id).await.is_ok());
    assert_eq!(c.queue_item(id).await.unwrap(), QueueState::Cancelled);
}

fn doc(value: Value) -> PipelineDocument {
    PipelineDocument::from_value(value).unwrap()
}

async fn until_execution(server: &TestServer, id: &str) -> Value {
    eventually(
        &format!("execution {id} to end"),
        Duration::from_secs(60),
        || async {
            let (_, e, _) = server.call("executions/get", json!({"id": id})).await;
            ["SUCCEEDED", "TERMINAL", "CANCELED"]
                .contains(&e["status"].as_str().unwrap_or_default())
                .then_some(e)
        },
    )
    .await
}

fn stage<'a>(e: &'a Value, ref_id: &str) -> &'a Value {
    e["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["refId"] == ref_id)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jenkins_stage_builds_with_expressions_and_hands_its_properties_on() {
    let jenkins = emulator(json!([])).await;
    let config = master("ci", &jenkins);
    let server =
        TestServer::start_with(Backend::Sqlite, |c| c.jenkins.masters = vec![config]).await;
    server
        .call(
            "applications/create",
            json!({"input": {"name": "shop", "ownerEmail": "team@example.com"}}),
        )
        .await;
    let pipeline = json!({"application": "shop", "name": "Build", "parameterConfig": [{"name": "branch", "default": "main"}],
    "stages": [
        {"refId": "1", "type": "jenkins", "name": "Build", "master": "ci", "job": "team/build-image",
         "parameters": {"BRANCH": "${trigger.parameters.branch}", "COMMIT": "${trigger.parameters.commit}", "IMAGE": "shop/web"},
         "propertyFile": "build.properties"},
        {"refId": "2", "requisiteStageRefIds": ["1"], "type": "evaluateVariables", "name": "Use",
         "variables": [{"key": "tag", "value": "${#stage('Build')['context']['IMAGE_TAG']}"},
                       {"key": "number", "value": "${#stage('Build')['context']['buildInfo']['number']}"}]}
    ]});
    let (code, saved, _) = server
        .call("pipelines/save", json!({"pipeline": pipeline}))
        .await;
    assert_eq!(code, 200, "{saved}");
    let trigger =
        json!({"type": "manual", "parameters": {"branch": "release-2", "commit": "abc1234"}});
    let (code, id, _) = server
        .call(
            "executions/start",
            json!({"application": "shop", "name": "Build", "trigger": trigger}),
        )
        .await;
    assert_eq!(code, 200, "{id}");
    let id = id.as_str().unwrap().to_owned();

    // While it runs, the console log streams to the execution page.
    let running = eventually("the build to start", Duration::from_secs(20), || async {
        let (_, e, _) = server.call("executions/get", json!({"id": id})).await;
        stage(&e, "1")["context"]["buildInfo"]["number"]
            .as_u64()
            .map(|_| e.clone())
    })
    .await;
    let stage_id = stage(&running, "1")["id"].as_str().unwrap().to_owned();
    let mut events = server
        .client
        .get(format!(
            "{}/api/builds/log/stream?execution={id}&stage={stage_id}",
            server.base
        ))
        .send()
        .await
        .unwrap();
    let mut buffer = String::new();
    let log = support::next_event(&mut events, &mut buffer, "log", |v: &Value| {
        v["more"] == false
    })
    .await;
    assert!(
        log["text"]
            .as_str()
            .unwrap()
            .contains("Cloning release-2@abc1234"),
        "{log}"
    );

    let done = until_execution(&server, &id).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done:#}");
    let build = stage(&done, "1");
    let tasks: Vec<&str> = build["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tasks,
        [
            "startJenkinsJob",
            "waitForJenkinsJobStart",
            "monitorJenkinsJob",
            "getJenkinsBuildProperties"
        ]
    );
    assert_eq!(build["outputs"]["IMAGE_TAG"], "release-2-abc1234");
    assert_eq!(
        build["outputs"]["propertyFileContents"],
        json!({"IMAGE_TAG": "release-2-abc1234", "IMAGE": "shop/web"})
    );
    assert_eq!(build["outputs"]["buildInfo"]["result"], "SUCCESS");
    assert_eq!(build["outputs"]["buildInfo"]["name"], "team/build-image");
    assert_eq!(
        build["outputs"]["buildInfo"]["artifacts"][0]["fileName"],
        "build.properties"
    );
    let number = build["outputs"]["buildInfo"]["number"].as_u64().unwrap();
    assert_eq!(stage(&done, "2")["outputs"]["tag"], "release-2-abc1234");
    assert_eq!(stage(&done, "2")["outputs"]["number"], json!(number));

    // The Gate routes the stage editor and spin use, and the masters' health.
    let get = |path: String| {
        let (client, base) = (server.client.clone(), server.base.clone());
        async move {
            let r = client.get(format!("{base}{path}")).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(get("/gate/v2/builds".into()).await, (200, json!(["ci"])));
    assert_eq!(
        get("/gate/v2/builds/ci/jobs".into()).await.1,
        json!(["off", "plain", "slow", "team/build-image"])
    );
    let (_, job) = get("/gate/v2/builds/ci/jobs/team/build-image".into()).await;
    assert_eq!(
        job["parameterDefinitionList"][3]["choices"],
        json!(["SUCCESS", "UNSTABLE", "FAILURE"])
    );
    let (_, b) = get(format!(
        "/gate/v2/builds/ci/build/{number}/team/build-image"
    ))
    .await;
    assert_eq!(b["result"], "SUCCESS");
    let (status, missing) = get("/gate/v2/builds/nope/jobs".into()).await;
    assert_eq!(
        (status, missing["message"].clone()),
        (404, json!("Jenkins master 'nope' not found"))
    );
    let (_, health) = get("/api/builds/masters".into()).await;
    assert_eq!(health[0]["healthy"], true, "{health}");
    assert!(!health.to_string().contains(TOKEN));
    let (code, integrations, _) = server.call("integrations/health", json!({})).await;
    assert_eq!(code, 200);
    assert_eq!(
        integrations,
        json!([{"kind": "jenkins", "name": "ci", "address": jenkins.url, "healthy": true, "detail": "Jenkins 2.479.3"}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unstable_fails_unless_allowed_and_canceling_stops_the_build() {
    let jenkins = emulator(json!([])).await;
    let config = master("ci", &jenkins);
    let server =
        TestServer::start_with(Backend::Sqlite, |c| c.jenkins.masters = vec![config]).await;
    server
        .call(
            "applications/create",
            json!({"input": {"name": "shop", "ownerEmail": "team@example.com"}}),
        )
        .await;
    let build = |name: &str, extra: Value| {
        let mut s = json!({"refId": "1", "type": "jenkins", "name": "Build", "master": "ci", "job": "team/build-image", "parameters": {"RESULT": "UNSTABLE"}});
        s.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"application": "shop", "name": name, "stages": [s]})
    };
    for (name, extra) in [
        ("Strict", json!({})),
        ("Lenient", json!({"markUnstableAsSuccessful": true})),
        ("Missing", json!({"job": "team/gone"})),
    ] {
        let (code, saved, _) = server
            .call("pipelines/save", json!({"pipeline": build(name, extra)}))
            .await;
        assert_eq!(code, 200, "{saved}");
    }
    let run = |name: &'static str| {
        let server = &server;
        async move {
            let (_, id, _) = server
                .call(
                    "executions/start",
                    json!({"application": "shop", "name": name}),
                )
                .await;
            until_execution(server, id.as_str().unwrap()).await
        }
    };
    let strict = run("Strict").await;
    assert_eq!(strict["status"], "TERMINAL");
    let message = stage(&strict, "1")["context"]["exception"]["details"]["errors"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.starts_with("build #") && message.ends_with("of 'team/build-image' ended UNSTABLE"),
        "{message}"
    );
    assert_eq!(run("Lenient").await["status"], "SUCCEEDED");
    let missing = run("Missing").await;
    assert_eq!(
        stage(&missing, "1")["context"]["exception"]["details"]["errors"][0],
        "Jenkins 'ci' has no job 'team/gone'"
    );

    // Canceling the run stops the Jenkins build.
    let slow = json!({"application": "shop", "name": "Slow", "stages": [{"refId": "1", "type": "jenkins", "name": "Build", "master": "ci", "job": "slow"}]});
    server
        .call("pipelines/save", json!({"pipeline": slow}))
        .await;
    let (_, id, _) = server
        .call(
            "executions/start",
            json!({"application": "shop", "name": "Slow"}),
        )
        .await;
    let id = id.as_str().unwrap().to_owned();
    let number = eventually(
        "the slow build to start",
        Duration::from_secs(20),
        || async {
            let (_, e, _) = server.call("executions/get", json!({"id": id})).await;
            stage(&e, "1")["context"]["buildInfo"]["number"].as_u64()
        },
    )
    .await;
    let (code, body, _) = server.call("executions/cancel", json!({"id": id})).await;
    assert_eq!(code, 200, "{body}");
    let c = client(&jenkins);
    let aborted = eventually(
        "Jenkins to abort the build",
        Duration::from_secs(20),
        || async {
            let b = c.build("slow", number).await.unwrap();
            (!b.building).then_some(b)
        },
    )
    .await;
    assert_eq!(aborted.result.as_deref(), Some("ABORTED"));
    assert_eq!(until_execution(&server, &id).await["status"], "CANCELED");
}

#[tokio::test]
async fn a_completed_build_starts_its_pipelines_once_across_restarts() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = support::TestDatabase::create(backend).await;
        let store = db.store().await;
        let jenkins = emulator(json!([])).await;
        let c = client(&jenkins);
        let masters = JenkinsMasters::from_clients(vec![client(&jenkins)]);
        let engine = Arc::new(Engine::new(
            &store,
            Arc::new(SystemClock),
            QueueSettings::default(),
            StageRegistry::standard(),
        ));
        let pipeline = doc(
            json!({"application": "shop", "name": "On build", "parameterConfig": [{"name": "env", "default": "test"}],
            "triggers": [{"type": "jenkins", "master": "ci", "job": "team/build-image", "propertyFile": "build.properties", "enabled": true},
                         {"type": "jenkins", "master": "ci", "job": "plain", "enabled": false}],
            "stages": [{"refId": "1", "type": "wait", "name": "Wait", "waitTime": 0}]}),
        );
        store.save_pipeline(pipeline, "alice").await.unwrap();
        let watcher = || server::events::jenkins::BuildWatcher {
            masters: masters.clone(),
            store: store.clone(),
            engine: engine.clone(),
        };

        let before = completed_build(&c, "team/build-image", &[]).await;
        assert_eq!(
            watcher().check().await.unwrap(),
            0,
            "the first look only records where the job stands"
        );
        assert_eq!(
            store.cursor("jenkins:ci:team/build-image").await.unwrap(),
            Some(before.to_string())
        );

        let built = completed_build(
            &c,
            "team/build-image",
            &[("BRANCH", "main"), ("COMMIT", "feed123")],
        )
        .await;
        let failed = completed_build(&c, "team/build-image", &[("RESULT", "FAILURE")]).await;
        completed_build(&c, "plain", &[]).await;
        assert_eq!(
            watcher().check().await.unwrap(),
            1,
            "the successful build starts the pipeline; the failed one does not"
        );
        assert_eq!(watcher().check().await.unwrap(), 0, "nothing twice");
        assert_eq!(
            store.cursor("jenkins:ci:team/build-image").await.unwrap(),
            Some(failed.to_string())
        );

        let runs = engine.executions("shop", 10).await.unwrap();
        assert_eq!(runs.len(), 1);
        let t = &runs[0].trigger;
        assert_eq!(
            (
                t["type"].clone(),
                t["buildNumber"].clone(),
                t["buildInfo"]["result"].clone()
            ),
            (json!("jenkins"), json!(built), json!("SUCCESS"))
        );
        assert_eq!(t["properties"]["IMAGE_TAG"], "main-feed123");
        assert_eq!(
            t["parameters"],
            json!({"env": "test"}),
            "parameter defaults fill in"
        );

        // A build that completes while no watcher runs is started by the next one (a restart).
        let later = completed_build(&c, "team/build-image", &[("COMMIT", "cafe000")]).await;
        assert_eq!(watcher().check().await.unwrap(), 1);
        let runs = engine.executions("shop", 10).await.unwrap();
        assert_eq!(runs.len(), 2);
        assert!(
            runs.iter()
                .any(|r| r.trigger["buildNumber"] == json!(later))
        );
        // Two replicas looking at the same build start it once.
        store
            .set_cursor("jenkins:ci:team/build-image", &failed.to_string())
            .await
            .unwrap();
        assert_eq!(
            watcher().check().await.unwrap(),
            0,
            "the run for that build exists already"
        );
        let _ = store.close().await;
        db.drop().await;
    }
}
