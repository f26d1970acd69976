//! The emulator against `shared/reference/jenkins-api.md`, point by point, over HTTP.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use jenkins_emulator::{RunningJenkins, Script};
use serde_json::{Value, json};

const TOKEN: &str = "11d0c0ffee";

fn script() -> Script {
    Script::from_json(
        &json!({
            "users": [{"name": "ci-bot", "token": TOKEN, "password": "hunter2"}],
            "crumbs": true,
            "quietPeriodMs": 50,
            "jobs": [
                {"name": "team/build-image", "parameters": [
                    {"name": "BRANCH", "default": "main", "description": "branch to build"},
                    {"name": "RESULT", "type": "choice", "choices": ["SUCCESS", "UNSTABLE", "FAILURE", "NOT_BUILT", "ABORTED"]},
                    {"name": "DEBUG", "type": "boolean"}
                 ],
                 "build": {"durationMs": 300, "result": "${RESULT}", "console": ["Building ${BRANCH}", "Testing build ${BUILD_NUMBER}"],
                           "artifacts": [{"path": "out/build.properties", "content": "IMAGE_TAG=${BRANCH}-${BUILD_NUMBER}\n"}]}},
                {"name": "plain", "quietPeriodMs": 0, "build": {"durationMs": 5000, "console": ["long step"]}},
                {"name": "off", "disabled": true, "parameters": [{"name": "X"}]},
                {"name": "one-at-a-time", "concurrent": false, "quietPeriodMs": 0, "build": {"durationMs": 400}}
            ]
        })
        .to_string(),
    )
    .unwrap()
}

struct Client {
    base: String,
    http: reqwest::Client,
    _jenkins: RunningJenkins,
}

async fn jenkins() -> Client {
    let running = jenkins_emulator::start(script(), SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Client {
        base: running.url.clone(),
        http,
        _jenkins: running,
    }
}

impl Client {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path.trim_start_matches('/'))
    }
    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .basic_auth("ci-bot", Some(TOKEN))
            .send()
            .await
            .unwrap()
    }
    async fn json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(
            r.headers()["content-type"],
            "application/json;charset=utf-8"
        );
        assert!(r.headers().contains_key("x-jenkins"));
        r.json().await.unwrap()
    }
    async fn post(&self, path: &str) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .basic_auth("ci-bot", Some(TOKEN))
            .send()
            .await
            .unwrap()
    }
    /// Polls `path` until `done` holds (deadline 10 s).
    async fn until(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v = self.json(path).await;
            if done(&v) {
                return v;
            }
            assert!(Instant::now() < deadline, "{path} never got there: {v}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

fn queue_path(location: &str, base: &str) -> String {
    format!("{}api/json", location.strip_prefix(base).unwrap())
}

#[tokio::test]
async fn a_parameterized_build_runs_from_queue_to_result_with_log_and_artifacts() {
    let j = jenkins().await;
    let r = j.post("job/team/job/build-image/buildWithParameters?BRANCH=feature-x&RESULT=UNSTABLE&IGNORED=1").await;
    assert_eq!(r.status(), 201);
    let item_url = location(&r);
    assert!(
        item_url.starts_with(&j.base) && item_url.ends_with('/'),
        "absolute, trailing slash: {item_url}"
    );
    let qpath = queue_path(&item_url, &j.base);
    let waiting = j.json(&qpath).await;
    assert_eq!(waiting["_class"], "hudson.model.Queue$WaitingItem");
    assert_eq!(
        waiting["params"],
        "\nBRANCH=feature-x\nRESULT=UNSTABLE\nDEBUG=false"
    );
    assert!(
        waiting.get("executable").is_none() && waiting.get("cancelled").is_none(),
        "absent before the item leaves"
    );
    assert!(
        waiting["why"]
            .as_str()
            .unwrap()
            .starts_with("In the quiet period. Expires in")
    );
    assert_eq!(waiting["task"]["name"], "build-image");

    let left = j
        .until(
            &format!("{qpath}?tree=executable[number,url],cancelled"),
            |v| v["executable"].is_object(),
        )
        .await;
    assert_eq!(left["_class"], "hudson.model.Queue$LeftItem");
    assert_eq!(left["cancelled"], false);
    let number = left["executable"]["number"].as_u64().unwrap();
    assert_eq!(
        left["executable"]["url"],
        format!("{}job/team/job/build-image/{number}/", j.base)
    );

    let build_path = format!("job/team/job/build-image/{number}/api/json");
    let running = j.json(&build_path).await;
    assert_eq!(
        (
            running["building"].clone(),
            running["result"].clone(),
            running["duration"].clone()
        ),
        (json!(true), Value::Null, json!(0))
    );
    assert_eq!(
        running["actions"][0]["parameters"][2],
        json!({"_class": "hudson.model.BooleanParameterValue", "name": "DEBUG", "value": false})
    );
    assert_eq!(running["actions"][1]["causes"][0]["userId"], "ci-bot");

    // Progressive log: follow X-Text-Size until X-More-Data goes away.
    let mut start = 0;
    let mut log = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = j
            .get(&format!(
                "job/team/job/build-image/{number}/logText/progressiveText?start={start}"
            ))
            .await;
        let more = r.headers().contains_key("x-more-data");
        start = r.headers()["x-text-size"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        log.push_str(&r.text().await.unwrap());
        if !more {
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(log.starts_with("Started by user ci-bot\n"), "{log}");
    assert!(
        log.contains("Building feature-x\nTesting build 1\n"),
        "{log}"
    );
    assert!(log.ends_with("Finished: UNSTABLE\n"), "{log}");
    assert_eq!(
        j.get(&format!("job/team/job/build-image/{number}/consoleText"))
            .await
            .text()
            .await
            .unwrap(),
        log
    );
    let past_end = j
        .get(&format!(
            "job/team/job/build-image/{number}/logText/progressiveText?start=999999"
        ))
        .await;
    assert_eq!(
        past_end.text().await.unwrap(),
        log,
        "a start past the end reads from 0"
    );

    let done = j.json(&build_path).await;
    assert_eq!(
        (
            done["building"].clone(),
            done["inProgress"].clone(),
            done["result"].clone()
        ),
        (json!(false), json!(false), json!("UNSTABLE"))
    );
    assert!(done["duration"].as_u64().unwrap() >= 300);
    assert_eq!(
        done["artifacts"],
        json!([{"displayPath": "build.properties", "fileName": "build.properties", "relativePath": "out/build.properties"}])
    );
    let artifact = j
        .get(&format!(
            "job/team/job/build-image/{number}/artifact/out/build.properties"
        ))
        .await;
    assert_eq!(artifact.text().await.unwrap(), "IMAGE_TAG=feature-x-1\n");
    assert_eq!(
        j.get(&format!(
            "job/team/job/build-image/{number}/artifact/out/nope"
        ))
        .await
        .status(),
        404
    );

    // Permalinks and the job view.
    assert_eq!(
        j.json("job/team/job/build-image/lastUnstableBuild/api/json?tree=number")
            .await,
        json!({"_class": "hudson.model.FreeStyleBuild", "number": 1})
    );
    assert_eq!(
        j.get("job/team/job/build-image/lastStableBuild/api/json")
            .await
            .status(),
        404
    );
    let job = j.json("job/team/job/build-image/api/json").await;
    assert_eq!(job["color"], "yellow");
    assert_eq!(
        job["builds"][0],
        json!({"_class": "hudson.model.FreeStyleBuild", "number": 1, "url": format!("{}job/team/job/build-image/1/", j.base)})
    );
    assert_eq!(job["fullName"], "team/build-image");
    assert!(job.get("allBuilds").is_none(), "hidden unless asked for");
    let tree = j
        .json("job/team/job/build-image/api/json?tree=allBuilds[number,result]")
        .await;
    assert_eq!(
        tree["allBuilds"],
        json!([{"_class": "hudson.model.FreeStyleBuild", "number": 1, "result": "UNSTABLE"}])
    );
}

#[tokio::test]
async fn jobs_list_through_folders_with_parameter_definitions() {
    let j = jenkins().await;
    let root = j.json("api/json").await;
    let names: Vec<&str> = root["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["off", "one-at-a-time", "plain", "team"]);
    assert_eq!(
        root["jobs"][3]["_class"],
        "com.cloudbees.hudson.plugins.folder.Folder"
    );
    let nested = j.json("api/json?tree=jobs[name,jobs[name,buildable,property[parameterDefinitions[name,type,defaultParameterValue[value],choices]]]]").await;
    let team = &nested["jobs"][3];
    let defs = &team["jobs"][0]["property"][0]["parameterDefinitions"];
    assert_eq!(
        defs[0],
        json!({"_class": "hudson.model.StringParameterDefinition", "name": "BRANCH", "type": "StringParameterDefinition", "defaultParameterValue": {"_class": "hudson.model.StringParameterValue", "value": "main"}})
    );
    assert_eq!(defs[1]["choices"][0], "SUCCESS");
    assert_eq!(
        j.json("job/team/api/json").await["jobs"][0]["name"],
        "build-image"
    );
    assert_eq!(j.get("job/nope/api/json").await.status(), 404);
    assert_eq!(
        j.get("job/team/job/build-image/7/api/json").await.status(),
        404
    );
    assert_eq!(j.get("queue/item/999/api/json").await.status(), 404);
    assert_eq!(
        j.get("api/json?tree=jobs[name").await.status(),
        500,
        "malformed tree"
    );
    assert_eq!(j.get("api/json?depth=deep").await.status(), 500);
}

#[tokio::test]
async fn trigger_errors_merging_and_cancelling() {
    let j = jenkins().await;
    assert_eq!(
        j.post("job/plain/buildWithParameters").await.status(),
        400,
        "not parameterized"
    );
    assert_eq!(
        j.post("job/off/buildWithParameters").await.status(),
        409,
        "disabled"
    );
    let get = j.get("job/team/job/build-image/buildWithParameters").await;
    assert_eq!(
        (
            get.status().as_u16(),
            get.headers()["allow"].to_str().unwrap()
        ),
        (405, "POST")
    );
    assert_eq!(
        j.post("job/team/job/build-image/buildWithParameters?RESULT=MAYBE")
            .await
            .status(),
        400,
        "not a choice"
    );
    assert_eq!(
        j.post("job/team/job/build-image/buildWithParameters?BRANCH=a&BRANCH=b")
            .await
            .status(),
        400
    );

    let first = j
        .post("job/team/job/build-image/buildWithParameters?BRANCH=x&delay=5sec")
        .await;
    assert_eq!(first.status(), 201);
    let same = j
        .post("job/team/job/build-image/buildWithParameters?BRANCH=x&delay=5sec")
        .await;
    assert_eq!(
        same.status(),
        303,
        "an identical waiting item absorbs the request"
    );
    assert_eq!(location(&same), location(&first));
    let other = j
        .post("job/team/job/build-image/buildWithParameters?BRANCH=y&delay=5sec")
        .await;
    assert_eq!(other.status(), 201);
    assert_ne!(location(&other), location(&first));
    assert_eq!(
        j.json("queue/api/json").await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let id = location(&first)
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        j.post(&format!("queue/cancelItem?id={id}")).await.status(),
        204
    );
    assert_eq!(
        j.post(&format!("queue/cancelItem?id={id}")).await.status(),
        404
    );
    let cancelled = j.json(&queue_path(&location(&first), &j.base)).await;
    assert_eq!(
        (
            cancelled["cancelled"].clone(),
            cancelled["executable"].clone()
        ),
        (json!(true), Value::Null)
    );

    // `build` on a job without parameters.
    let r = j.post("job/plain/build").await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        j.post("job/team/job/build-image/build").await.status(),
        400,
        "parameterized jobs need a form"
    );
}

#[tokio::test]
async fn stop_aborts_and_non_concurrent_builds_wait() {
    let j = jenkins().await;
    let r = j.post("job/plain/build").await;
    let item = j
        .until(&queue_path(&location(&r), &j.base), |v| {
            v["executable"].is_object()
        })
        .await;
    let number = item["executable"]["number"].as_u64().unwrap();
    let stop = j.post(&format!("job/plain/{number}/stop")).await;
    assert_eq!(stop.status(), 302);
    let done = j
        .until(&format!("job/plain/{number}/api/json"), |v| {
            v["building"] == false
        })
        .await;
    assert_eq!(done["result"], "ABORTED");
    assert!(
        j.get(&format!("job/plain/{number}/consoleText"))
            .await
            .text()
            .await
            .unwrap()
            .contains("Aborted by ci-bot")
    );

    let a = j.post("job/one-at-a-time/build").await;
    j.until(&queue_path(&location(&a), &j.base), |v| {
        v["executable"].is_object()
    })
    .await;
    let b = j.post("job/one-at-a-time/build").await;
    let blocked = j
        .until(&queue_path(&location(&b), &j.base), |v| {
            v["_class"] != "hudson.model.Queue$WaitingItem"
        })
        .await;
    assert_eq!(blocked["_class"], "hudson.model.Queue$BlockedItem");
    assert_eq!(blocked["blocked"], true);
    let second = j
        .until(&queue_path(&location(&b), &j.base), |v| {
            v["executable"].is_object()
        })
        .await;
    assert_eq!(second["executable"]["number"], 2);
    let first = j.json("job/one-at-a-time/1/api/json").await;
    assert_eq!(
        first["building"], false,
        "the second build started only after the first"
    );

    let desc = j
        .http
        .post(j.url("job/plain/1/submitDescription"))
        .basic_auth("ci-bot", Some(TOKEN))
        .form(&[("description", "rolled back")])
        .send()
        .await
        .unwrap();
    assert_eq!(desc.status(), 302);
    assert_eq!(
        j.json("job/plain/1/api/json").await["description"],
        "rolled back"
    );
}

#[tokio::test]
async fn auth_and_crumbs() {
    let j = jenkins().await;
    let anonymous = j.http.get(j.url("api/json")).send().await.unwrap();
    assert_eq!(anonymous.status(), 403);
    let wrong = j
        .http
        .get(j.url("api/json"))
        .basic_auth("ci-bot", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );

    // Password auth: POST needs the crumb and the session cookie it was issued with.
    let post = |crumb: Option<&str>, cookie: Option<&str>| {
        let mut r = j
            .http
            .post(j.url("job/plain/build"))
            .basic_auth("ci-bot", Some("hunter2"));
        if let Some(c) = crumb {
            r = r.header("Jenkins-Crumb", c);
        }
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        r.send()
    };
    assert_eq!(post(None, None).await.unwrap().status(), 403);
    let issued = j
        .http
        .get(j.url("crumbIssuer/api/json"))
        .basic_auth("ci-bot", Some("hunter2"))
        .send()
        .await
        .unwrap();
    let cookie = issued.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let body: Value = issued.json().await.unwrap();
    assert_eq!(body["crumbRequestField"], "Jenkins-Crumb");
    let crumb = body["crumb"].as_str().unwrap().to_owned();
    assert_eq!(
        post(Some(&crumb), None).await.unwrap().status(),
        403,
        "a crumb is useless without its session"
    );
    assert_eq!(
        post(Some(&crumb), Some("JSESSIONID.x=other"))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        post(Some(&crumb), Some(&cookie)).await.unwrap().status(),
        201
    );
    // API-token Basic auth needs no crumb.
    assert_eq!(j.post("job/plain/build").await.status(), 201);
}

#[tokio::test]
async fn injected_faults_and_latency() {
    let j = jenkins().await;
    j.http
        .post(j.url("__emulator/faults"))
        .json(&json!({"failNext": 2, "status": 502, "pathContains": "api/json"}))
        .send()
        .await
        .unwrap();
    assert_eq!(j.get("api/json").await.status(), 502);
    assert_eq!(j.get("api/json").await.status(), 502);
    assert_eq!(j.get("api/json").await.status(), 200);
    j.http
        .post(j.url("__emulator/faults"))
        .json(&json!({"latencyMs": 300}))
        .send()
        .await
        .unwrap();
    let started = Instant::now();
    assert_eq!(j.get("api/json").await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}
