//! kubectl as the judge: a client this project did not write, run against the simulator. Each
//! case checks what kubectl prints against what it prints for a real API server (kubectl's
//! documented output and Kubernetes' printers). Skipped, saying so, where kubectl is absent.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use kubernetes_simulator::{Config, RunningCluster, Timing};

struct Kubectl {
    kubeconfig: PathBuf,
    _cluster: RunningCluster,
}

impl Kubectl {
    /// A simulated cluster (token auth, pods ready after 100 ms) and a kubeconfig for it, or
    /// None when kubectl is not installed.
    async fn start() -> Option<Self> {
        if Command::new("kubectl")
            .args(["version", "--client"])
            .output()
            .is_err()
        {
            eprintln!(
                "SKIPPED: kubectl is not installed; the kubectl conformance cases did not run"
            );
            return None;
        }
        let config = Config {
            token: Some(format!("kubectl-{:x}", fastrand::u64(..))),
            // kubectl sends a token only over TLS.
            https: true,
            timing: Timing {
                pod_ready_after: Duration::from_millis(100),
                ..Timing::default()
            },
            ..Config::default()
        };
        let cluster = kubernetes_simulator::start(config, ([127, 0, 0, 1], 0).into())
            .await
            .unwrap();
        let kubeconfig = std::env::temp_dir().join(format!(
            "kubectl-conformance-{}-{:x}.yaml",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::write(&kubeconfig, cluster.kubeconfig("sim", "default")).unwrap();
        Some(Self {
            kubeconfig,
            _cluster: cluster,
        })
    }

    /// `kubectl apply --server-side` of a manifest (JSON or YAML). Client-side validation is
    /// off: it needs the OpenAPI documents the simulator does not serve.
    async fn apply(&self, manifest: &str) {
        self.run_with_input(
            &["apply", "--server-side", "--validate=false", "-f", "-"],
            manifest,
        )
        .await;
    }

    /// `kubectl rollout status` until the rollout of `workload` is complete (20 s at most).
    async fn rollout_done(&self, workload: &str) {
        self.run(&["rollout", "status", workload, "--timeout=20s"])
            .await;
    }

    /// Runs kubectl; its standard output, or a panic with what it said.
    async fn run(&self, args: &[&str]) -> String {
        self.run_with_input(args, "").await
    }

    async fn run_with_input(&self, args: &[&str], input: &str) -> String {
        let (ok, out, err) = self.try_run(args, input).await;
        assert!(ok, "kubectl {}: {err}{out}", args.join(" "));
        out
    }

    async fn try_run(&self, args: &[&str], input: &str) -> (bool, String, String) {
        let kubeconfig = self.kubeconfig.clone();
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let input = input.to_owned();
        tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let mut child = Command::new("kubectl")
                .args(&args)
                .env("KUBECONFIG", &kubeconfig)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .await
        .unwrap()
    }

    /// Runs kubectl until `ok` holds for its output (a deadline of 20 s).
    async fn until(&self, args: &[&str], ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, out, err) = self.try_run(args, "").await;
            if ok(&out) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "kubectl {}: still {err}{out}",
                args.join(" ")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Kubectl {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.kubeconfig);
    }
}

const WEB: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: nginx, image: 'nginx:1.27'}
";

/// Table lines with the AGE column (a duration) replaced by `AGE`, runs of spaces by one.
fn normalise(table: &str, age_column: usize) -> Vec<String> {
    table
        .lines()
        .enumerate()
        .map(|(n, line)| {
            if n == 0 {
                header(line)
            } else {
                row(line, age_column)
            }
        })
        .collect()
}

fn header(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn row(line: &str, age_column: usize) -> String {
    let mut cells: Vec<&str> = line.split_whitespace().collect();
    if cells.len() > age_column {
        cells[age_column] = "AGE";
    }
    cells.join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_prints_the_columns_a_real_server_prints() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.apply(WEB).await;
    k.until(&["get", "deployment", "web"], |o| o.contains(" 2/2 "))
        .await;
    assert_eq!(
        normalise(&k.run(&["get", "deployments"]).await, 4),
        ["NAME READY UP-TO-DATE AVAILABLE AGE", "web 2/2 2 2 AGE"]
    );
    assert_eq!(
        normalise(&k.run(&["get", "deploy", "-o", "wide"]).await, 4),
        [
            "NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS IMAGES SELECTOR",
            "web 2/2 2 2 AGE nginx nginx:1.27 app=web"
        ]
    );
    let sets = normalise(&k.run(&["get", "rs", "-o", "wide"]).await, 4);
    assert_eq!(
        sets[0],
        "NAME DESIRED CURRENT READY AGE CONTAINERS IMAGES SELECTOR"
    );
    let set: Vec<&str> = sets[1].split(' ').collect();
    assert!(set[0].starts_with("web-"), "{sets:?}");
    assert_eq!(
        &set[1..7],
        ["2", "2", "2", "AGE", "nginx", "nginx:1.27"],
        "{sets:?}"
    );
    assert_eq!(
        set[7],
        format!("app=web,pod-template-hash={}", &set[0]["web-".len()..])
    );
    let pods = normalise(&k.run(&["get", "pods", "-o", "wide"]).await, 4);
    assert_eq!(
        pods[0],
        "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES"
    );
    assert_eq!(pods.len(), 3, "{pods:?}");
    for pod in &pods[1..] {
        let cells: Vec<&str> = pod.split(' ').collect();
        assert_eq!(&cells[1..5], ["1/1", "Running", "0", "AGE"], "{pod}");
        assert!(cells[5].starts_with("10.244."), "{pod}");
        assert_eq!(&cells[7..], ["<none>", "<none>"], "{pod}");
    }
    assert_eq!(
        normalise(&k.run(&["get", "namespace", "default"]).await, 2),
        ["NAME STATUS AGE", "default Active AGE"]
    );
    // Other output formats read the object itself, not a Table.
    assert_eq!(
        k.run(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}"
        ])
        .await,
        "nginx:1.27"
    );
    let yaml = k.run(&["get", "deploy", "web", "-o", "yaml"]).await;
    assert!(
        yaml.starts_with("apiVersion: apps/v1\nkind: Deployment\n"),
        "{yaml}"
    );
    assert_eq!(
        k.run(&["get", "deploy", "-o", "name"]).await,
        "deployment.apps/web\n"
    );
    // A kind with no printer of its own: name and creation time.
    // (`kubectl create role` would send protobuf, which the simulator does not read.)
    k.apply("{\"apiVersion\": \"rbac.authorization.k8s.io/v1\", \"kind\": \"Role\", \"metadata\": {\"name\": \"reader\"}, \"rules\": [{\"apiGroups\": [\"\"], \"resources\": [\"pods\"], \"verbs\": [\"get\"]}]}").await;
    let roles = k.run(&["get", "roles"]).await;
    let lines: Vec<&str> = roles.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "CREATED", "AT"]
    );
    assert!(lines[1].starts_with("reader "), "{roles}");
    assert!(lines[1].trim_end().ends_with('Z'), "{roles}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_undo_returns_to_the_old_revision_s_replica_set() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.apply(WEB).await;
    k.rollout_done("deployment/web").await;
    k.run(&["set", "image", "deployment/web", "nginx=nginx:1.28"])
        .await;
    k.rollout_done("deployment/web").await;
    let before = k.run(&["get", "rs", "-o", "name"]).await;
    assert_eq!(before.lines().count(), 2, "{before}");
    k.run(&["rollout", "undo", "deployment/web"]).await;
    k.rollout_done("deployment/web").await;
    // The first ReplicaSet is back (revision 3), no third one.
    let after = k.run(&["get", "rs", "-o", "name"]).await;
    assert_eq!(after, before);
    let history = k.run(&["rollout", "history", "deployment/web"]).await;
    let revisions: Vec<&str> = history
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(revisions, ["2", "3"], "{history}");
    assert_eq!(
        k.run(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}"
        ])
        .await,
        "nginx:1.27"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_prints_a_row_per_change() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.apply(WEB).await;
    k.rollout_done("deployment/web").await;
    // kubectl's lines as it prints them (a thread reads them; the child is killed at the end).
    let mut child = Command::new("kubectl")
        .args(["get", "deployment", "web", "--watch"])
        .env("KUBECONFIG", &k.kubeconfig)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut rows = Vec::new();
    let mut next_row = async || {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.recv())
            .await
            .expect("a line from kubectl get --watch within 20 s")
            .expect("kubectl get --watch still running");
        if line.starts_with("NAME") {
            header(&line)
        } else {
            row(&line, 4)
        }
    };
    // The header and the row of the list kubectl starts from; the watch follows from there.
    rows.push(next_row().await);
    rows.push(next_row().await);
    k.run(&["scale", "deployment/web", "--replicas=3"]).await;
    while rows.last().unwrap() != "web 3/3 3 3 AGE" {
        rows.push(next_row().await);
    }
    assert_eq!(rows[0], "NAME READY UP-TO-DATE AVAILABLE AGE", "{rows:?}");
    assert_eq!(rows[1], "web 2/2 2 2 AGE", "{rows:?}");
    assert!(
        rows[1..].iter().all(|r| r.starts_with("web ")),
        "one header, then rows only: {rows:?}"
    );
    let _ = child.kill();
    let _ = child.wait();
}
