//! What the benchmarks that run the real binaries share: two simulated clusters, a release
//! `topsail` on them signed in as its first admin, resident memory and percentiles.
//! (A folder, so Cargo does not take it for a benchmark of its own.)
// Each bench uses part of this.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A child process killed when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The resident memory of a process, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// The value at fraction `p` of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Two simulated clusters (the release `kubernetes-simulator` beside `topsail`).
pub struct Clusters {
    pub urls: Vec<String>,
    pub token: String,
    pub kubeconfig: PathBuf,
    _process: Killed,
}

pub fn clusters(dir: &Path, topsail: &str) -> Clusters {
    let simulator = Path::new(topsail).with_file_name("kubernetes-simulator");
    assert!(
        simulator.is_file(),
        "build the simulator first: cargo build -p kubernetes-simulator --release"
    );
    let kubeconfig = dir.join("kubeconfig.yaml");
    let mut sim = Command::new(&simulator)
        .args(["--clusters", "2", "--pod-ready-ms", "200", "--kubeconfig"])
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut urls = Vec::new();
    for line in BufReader::new(sim.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(url) = line.strip_prefix("sim-1 ").or(line.strip_prefix("sim-2 ")) {
            urls.push(url.to_owned());
        }
        if line.starts_with("kubeconfig ") {
            break;
        }
    }
    let token = std::fs::read_to_string(&kubeconfig)
        .unwrap()
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: ").map(str::to_owned))
        .unwrap();
    Clusters {
        urls,
        token,
        kubeconfig,
        _process: Killed(sim),
    }
}

/// A release `topsail` on SQLite in `dir`, with the clusters as accounts.
pub struct Topsail {
    pub base: String,
    pub pid: u32,
    /// A client signed in as the first admin (its session cookie on every request).
    pub http: reqwest::Client,
    _process: Killed,
}

/// A `topsail serve` on `dir/data` watching `clusters`, signed in as the first admin.
pub async fn topsail(dir: &Path, topsail: &str, clusters: &Clusters, log: &str) -> Topsail {
    let kubeconfig = clusters.kubeconfig.to_string_lossy().into_owned();
    replica(
        &dir.join("data"),
        topsail,
        &[("TOPSAIL_KUBECONFIG", kubeconfig.as_str())],
        log,
        None,
    )
    .await
}

/// A `topsail serve` on `data` with `env`, signed in as the first admin: with the password it
/// wrote into `data`, or `password` (a replica joining a database that has its users already).
pub async fn replica(
    data: &Path,
    topsail: &str,
    env: &[(&str, &str)],
    log: &str,
    password: Option<&str>,
) -> Topsail {
    let mut server = Command::new(topsail)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env_remove("DATABASE_URL")
        .envs(env.iter().copied())
        // BENCH_TOPSAIL_LOG overrides the bench's log filter (e.g. to see debug timings).
        .env(
            "TOPSAIL_LOG",
            std::env::var("BENCH_TOPSAIL_LOG").unwrap_or_else(|_| log.to_owned()),
        )
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("topsail exited").unwrap();
        if let Some((_, rest)) = line.split_once("listening on ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // The rest of its log is dropped, or kept in BENCH_TOPSAIL_LOG_FILE when set.
    let keep = std::env::var("BENCH_TOPSAIL_LOG_FILE")
        .ok()
        .and_then(|f| std::fs::File::create(f).ok());
    std::thread::spawn(move || {
        use std::io::Write;
        let mut keep = keep;
        for line in lines.map_while(Result::ok) {
            if let Some(f) = keep.as_mut() {
                let _ = writeln!(f, "{line}");
            }
        }
    });
    let password = match password {
        Some(p) => p.to_owned(),
        None => std::fs::read_to_string(data.join("initial-admin-password")).unwrap(),
    };
    let res = reqwest::Client::new()
        .post(format!("{base}/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": password.trim()}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204, "signing in");
    let cookie = res
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.split(';')
                .next()
                .filter(|c| c.starts_with("topsail_session="))
        })
        .unwrap()
        .to_owned();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::COOKIE, cookie.parse().unwrap());
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(128)
        .build()
        .unwrap();
    Topsail {
        base,
        pid: server.id(),
        http,
        _process: Killed(server),
    }
}

/// A server-sent event stream read as a browser's `EventSource` does: when the server ends it
/// (streams have a lifetime) it is opened again and reading goes on.
pub struct EventStream {
    http: reqwest::Client,
    url: String,
    response: reqwest::Response,
    buffer: String,
    /// How many times the server ended the stream and it was opened again.
    pub reconnects: usize,
}

impl EventStream {
    pub async fn open(http: &reqwest::Client, url: String) -> Self {
        let response = Self::connect(http, &url).await;
        Self {
            http: http.clone(),
            url,
            response,
            buffer: String::new(),
            reconnects: 0,
        }
    }

    async fn connect(http: &reqwest::Client, url: &str) -> reqwest::Response {
        let response = http.get(url).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response
    }

    /// The next event named `name` (two minutes at most between chunks).
    pub async fn next(&mut self, name: &str) -> serde_json::Value {
        let wanted = format!("event: {name}");
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if block.lines().any(|l| l == wanted) {
                    let data: String = block
                        .lines()
                        .filter_map(|l| l.strip_prefix("data: "))
                        .collect();
                    return serde_json::from_str(&data).unwrap();
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(120), self.response.chunk())
                .await
                .expect("an event within 120 s")
                .unwrap();
            match chunk {
                Some(chunk) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                None => {
                    // Ended by the server: a partial event is dropped, as EventSource does.
                    self.buffer.clear();
                    self.response = Self::connect(&self.http, &self.url).await;
                    self.reconnects += 1;
                }
            }
        }
    }
}
