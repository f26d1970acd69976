//! `deploy/` as an operator uses it: every Kustomize overlay renders (`kubectl kustomize`) and
//! passes strict schema validation (`kubernetes-validate`), the rendered objects keep the
//! hardening the folder promises, the HA overlay (with the cluster-access component) applies to
//! the Kubernetes simulator with `kubectl apply -k` and rolls out, and `deploy/nginx.conf`
//! passes `nginx -t`. kubectl is on the project's machines; `./x setup` installs the others.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::kubernetes::Sim;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// Runs a tool, panicking with its output when it fails.
fn run(command: &mut Command, what: &str) -> String {
    let output = command.output().unwrap_or_else(|e| {
        panic!("{what}: cannot run {command:?} ({e}); kubectl is on the project's machines, `./x setup` installs kubernetes-validate and nginx")
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{what} failed:\n{text}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A copy of `deploy/kubernetes` with one more kustomization, `ci/`: the HA overlay, the
/// cluster-access component, and the Secrets the overlay's comment says to create first.
fn working_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    run(
        Command::new("cp")
            .arg("-r")
            .arg(deploy_dir().join("kubernetes"))
            .arg(dir.path()),
        "copying deploy/kubernetes",
    );
    let ci = dir.path().join("kubernetes/ci");
    std::fs::create_dir(&ci).unwrap();
    std::fs::write(
        ci.join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: topsail\n\
         resources: [../overlays/ha, secrets.yaml]\ncomponents: [../components/cluster-access]\n",
    )
    .unwrap();
    let secret = |name: &str, url: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\nstringData:\n  url: {url}\n"
        )
    };
    std::fs::write(
        ci.join("secrets.yaml"),
        format!(
            "{}---\n{}",
            secret("topsail-database", "postgres://topsail@db/topsail"),
            secret("topsail-redis", "redis://redis:6379/0")
        ),
    )
    .unwrap();
    dir
}

fn render(dir: &Path) -> (String, Vec<Value>) {
    let text = run(
        Command::new("kubectl").arg("kustomize").arg(dir),
        &format!("kubectl kustomize {}", dir.display()),
    );
    let objects = server::manifests::yaml::parse(&text)
        .unwrap()
        .into_iter()
        .map(|d| d.value)
        .collect();
    (text, objects)
}

fn find<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} rendered"))
}

#[test]
fn every_overlay_renders_validates_strictly_and_stays_hardened() {
    let copy = working_copy();
    let root = copy.path().join("kubernetes");
    for overlay in ["base", "overlays/single-node", "overlays/ha", "ci"] {
        let (text, objects) = render(&root.join(overlay));
        let file = copy
            .path()
            .join(format!("{}.yaml", overlay.replace('/', "-")));
        std::fs::write(&file, &text).unwrap();
        run(
            Command::new("kubernetes-validate")
                .args(["--strict", "--quiet", "-k", "1.32.0"])
                .arg(&file),
            &format!("kubernetes-validate --strict of {overlay}"),
        );

        // Every namespaced object lands in Topsail's namespace.
        for o in &objects {
            let cluster_scoped = matches!(
                o["kind"].as_str(),
                Some("Namespace" | "ClusterRole" | "ClusterRoleBinding")
            );
            assert_eq!(
                o["metadata"]["namespace"].as_str().is_some(),
                !cluster_scoped,
                "{overlay}: {} {}",
                o["kind"],
                o["metadata"]["name"]
            );
        }
        let deployment = find(&objects, "Deployment");
        let pod = &deployment["spec"]["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], "topsail", "{overlay}");
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{overlay}");
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
            "{overlay}"
        );
        for c in pod["containers"].as_array().unwrap() {
            let s = &c["securityContext"];
            assert_eq!(s["allowPrivilegeEscalation"], false, "{overlay}");
            assert_eq!(s["readOnlyRootFilesystem"], true, "{overlay}");
            assert_eq!(
                s["capabilities"]["drop"],
                serde_json::json!(["ALL"]),
                "{overlay}"
            );
            assert_eq!(
                c["readinessProbe"]["httpGet"]["path"], "/readyz",
                "{overlay}"
            );
            assert_eq!(
                c["livenessProbe"]["httpGet"]["path"], "/healthz",
                "{overlay}"
            );
            let env = |name: &str| {
                c["env"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|e| e["name"] == name)
                    .map(|e| e["value"].clone())
            };
            assert_eq!(env("TOPSAIL_IN_CLUSTER_ACCOUNT"), Some("in-cluster".into()));
            assert_eq!(env("TOPSAIL_METRICS_LISTEN"), Some("0.0.0.0:9090".into()));
            // Writable: the data volume and /tmp only.
            let mounts: Vec<&str> = c["volumeMounts"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["readOnly"] != true)
                .map(|m| m["mountPath"].as_str().unwrap())
                .collect();
            assert_eq!(mounts, ["/var/lib/topsail", "/tmp"], "{overlay}");
        }
        // The Ingress has TLS and routes only the http port: /metrics is not on it.
        let ingress = find(&objects, "Ingress");
        assert!(
            ingress["spec"]["tls"][0]["secretName"].is_string(),
            "{overlay}"
        );
        for rule in ingress["spec"]["rules"].as_array().unwrap() {
            for path in rule["http"]["paths"].as_array().unwrap() {
                assert_eq!(path["backend"]["service"]["port"]["name"], "http");
            }
        }
        assert_eq!(
            find(&objects, "RoleBinding")["subjects"][0]["namespace"],
            "topsail"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ha_overlay_applies_to_a_cluster_and_rolls_out() {
    let sim = Sim::start().await;
    let copy = working_copy();
    let ci = copy.path().join("kubernetes/ci");
    let kubectl = |args: &[&str]| {
        let mut c = Command::new("kubectl");
        c.arg("--kubeconfig").arg(&sim.kubeconfig).args(args);
        c
    };
    let applied = tokio::task::spawn_blocking({
        // `--validate=false`: kubectl's client-side validation downloads the OpenAPI document,
        // which the simulator does not serve yet (issue 19); the rendering passed strict schema
        // validation above.
        let mut apply = kubectl(&[
            "apply",
            "--server-side",
            "--field-manager=ci",
            "--validate=false",
            "-k",
        ]);
        apply.arg(&ci);
        move || run(&mut apply, "kubectl apply --server-side -k (HA overlay)")
    })
    .await
    .unwrap();
    for object in [
        "namespace/topsail",
        "serviceaccount/topsail",
        "role.rbac.authorization.k8s.io/topsail-deployer",
        "clusterrolebinding.rbac.authorization.k8s.io/topsail-deployer",
        "poddisruptionbudget.policy/topsail",
        "deployment.apps/topsail",
        "ingress.networking.k8s.io/topsail",
    ] {
        assert!(
            applied.contains(&format!("{object} serverside-applied")),
            "{object}:\n{applied}"
        );
    }
    let mut status = kubectl(&[
        "-n",
        "topsail",
        "rollout",
        "status",
        "deployment/topsail",
        "--timeout=60s",
    ]);
    let rolled = tokio::task::spawn_blocking(move || run(&mut status, "kubectl rollout status"))
        .await
        .unwrap();
    assert!(rolled.contains("successfully rolled out"), "{rolled}");
    let mut ready = kubectl(&[
        "-n",
        "topsail",
        "get",
        "deployment/topsail",
        "-o",
        "jsonpath={.status.readyReplicas}",
    ]);
    let ready = tokio::task::spawn_blocking(move || run(&mut ready, "kubectl get"))
        .await
        .unwrap();
    assert_eq!(ready, "3", "the HA overlay runs three replicas");
}

#[test]
fn nginx_accepts_the_shipped_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("nginx.conf");
    std::fs::write(
        &main,
        format!(
            "pid {0}/nginx.pid;\nerror_log {0}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  include {1};\n}}\n",
            dir.path().display(),
            deploy_dir().join("nginx.conf").display()
        ),
    )
    .unwrap();
    let mut test = Command::new("nginx");
    test.arg("-t")
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&main);
    run(&mut test, "nginx -t");
}
