//! The in-cluster account: Topsail deploying to the cluster it runs in through its Pod's
//! service account, with no kubeconfig Secret. The rules are Kubernetes' in-cluster
//! configuration, as kube-rs and client-go read it: the API server at
//! `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`, the service account's token
//! (re-read as the kubelet rotates it), CA bundle and namespace from its mounted directory.
//! Only the directory can be moved (`service_account_dir`), so it can be tested outside a Pod.

use std::path::{Path, PathBuf};

use base64::Engine as _;

/// Where the kubelet mounts a Pod's service account.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The client configuration for the cluster around this Pod. `env` reads an environment
/// variable (the process environment in the server). Errors say what is missing, for the
/// account's health.
pub fn config(
    dir: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<kube::Config, String> {
    let dir = dir.map_or_else(|| PathBuf::from(SERVICE_ACCOUNT_DIR), Path::to_path_buf);
    let host = env("KUBERNETES_SERVICE_HOST").filter(|h| !h.is_empty());
    let port = env("KUBERNETES_SERVICE_PORT").filter(|p| !p.is_empty());
    let (Some(host), Some(port)) = (host, port) else {
        return Err(
            "not running in a Kubernetes Pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set"
                .into(),
        );
    };
    // An IPv6 address is bracketed in a URL.
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    let url: http::Uri = format!("https://{host}:{port}")
        .parse()
        .map_err(|e| format!("KUBERNETES_SERVICE_HOST/PORT do not make an address: {e}"))?;
    let read = |file: &str| {
        let path = dir.join(file);
        std::fs::read(&path).map_err(|e| {
            format!(
                "cannot read the service account's {file} ({}): {e}",
                path.display()
            )
        })
    };
    let ca = read("ca.crt")?;
    let root_cert = certificates(&ca)?;
    let namespace = String::from_utf8_lossy(&read("namespace")?)
        .trim()
        .to_owned();
    // The token file must exist; kube reads it again before it expires.
    read("token")?;
    let mut config = kube::Config::new(url);
    config.default_namespace = if namespace.is_empty() {
        "default".into()
    } else {
        namespace
    };
    config.root_cert = Some(root_cert);
    config.root_cert_file = Some(dir.join("ca.crt"));
    config.auth_info = kube::config::AuthInfo {
        token_file: Some(dir.join("token").to_string_lossy().into_owned()),
        ..Default::default()
    };
    Ok(config)
}

/// The DER certificates of a PEM bundle.
fn certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let text = std::str::from_utf8(pem).map_err(|_| "the service account's ca.crt is not PEM")?;
    let mut certs = Vec::new();
    let mut body: Option<String> = None;
    for line in text.lines().map(str::trim) {
        match (line, body.as_mut()) {
            ("-----BEGIN CERTIFICATE-----", None) => body = Some(String::new()),
            ("-----END CERTIFICATE-----", Some(b)) => {
                let der = base64::engine::general_purpose::STANDARD
                    .decode(b.as_bytes())
                    .map_err(|_| "the service account's ca.crt is not valid PEM")?;
                certs.push(der);
                body = None;
            }
            (l, Some(b)) => b.push_str(l),
            _ => {}
        }
    }
    if certs.is_empty() {
        return Err("the service account's ca.crt holds no certificate".into());
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    const CA: &str = "-----BEGIN CERTIFICATE-----\nAAEC\nAwQ=\n-----END CERTIFICATE-----\n";

    fn service_account(namespace: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), CA).unwrap();
        std::fs::write(dir.path().join("token"), "t0ken").unwrap();
        std::fs::write(dir.path().join("namespace"), namespace).unwrap();
        dir
    }

    #[test]
    fn outside_a_pod_it_says_so() {
        let dir = service_account("shop");
        let e = config(Some(dir.path()), env(&[])).unwrap_err();
        assert!(e.contains("KUBERNETES_SERVICE_HOST"), "{e}");
    }

    #[test]
    fn the_api_server_token_ca_and_namespace_come_from_the_pod() {
        let dir = service_account("shop\n");
        let c = config(
            Some(dir.path()),
            env(&[
                ("KUBERNETES_SERVICE_HOST", "10.0.0.1"),
                ("KUBERNETES_SERVICE_PORT", "443"),
            ]),
        )
        .unwrap();
        assert_eq!(c.cluster_url.to_string(), "https://10.0.0.1:443/");
        assert_eq!(c.default_namespace, "shop");
        assert_eq!(c.root_cert, Some(vec![vec![0, 1, 2, 3, 4]]));
        assert_eq!(
            c.auth_info.token_file.as_deref(),
            Some(dir.path().join("token").to_str().unwrap())
        );
        let v6 = config(
            Some(dir.path()),
            env(&[
                ("KUBERNETES_SERVICE_HOST", "fd00::1"),
                ("KUBERNETES_SERVICE_PORT", "6443"),
            ]),
        )
        .unwrap();
        assert_eq!(v6.cluster_url.to_string(), "https://[fd00::1]:6443/");
    }

    #[test]
    fn a_missing_file_is_named() {
        let dir = service_account("shop");
        std::fs::remove_file(dir.path().join("token")).unwrap();
        let e = config(
            Some(dir.path()),
            env(&[
                ("KUBERNETES_SERVICE_HOST", "10.0.0.1"),
                ("KUBERNETES_SERVICE_PORT", "443"),
            ]),
        )
        .unwrap_err();
        assert!(e.contains("token"), "{e}");
        std::fs::write(dir.path().join("ca.crt"), "not pem").unwrap();
        let e = config(
            Some(dir.path()),
            env(&[
                ("KUBERNETES_SERVICE_HOST", "h"),
                ("KUBERNETES_SERVICE_PORT", "1"),
            ]),
        )
        .unwrap_err();
        assert!(e.contains("no certificate"), "{e}");
    }
}
