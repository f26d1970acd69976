//! Start-up benchmark: cold start of the release binary to a 200 from `/readyz` (fresh data
//! directory each run, so it includes creating the SQLite file and applying migrations), and
//! the resident memory once ready and after rendering a page.
//!
//! Run with `cargo bench -p server --bench startup` (or `./x bench`). Results go to BENCHMARKS.md.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 15;

fn get(addr: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_whitespace().nth(1)?.parse().ok()
}

fn rss_kib(child: &Child) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

struct Run {
    ready: Duration,
    rss_ready_kib: u64,
    rss_after_page_kib: u64,
}

fn one_run() -> Run {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_topsail"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("TOPSAIL_LOG", "info")
        .env_remove("DATABASE_URL")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("topsail exited").unwrap();
        if let Some((_, rest)) = line.split_once("listening on http://") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let deadline = started + Duration::from_secs(30);
    while get(&addr, "/readyz") != Some(200) {
        assert!(Instant::now() < deadline, "not ready within 30 s");
    }
    let ready = started.elapsed();
    let rss_ready_kib = rss_kib(&child);
    assert_eq!(get(&addr, "/applications"), Some(200));
    let rss_after_page_kib = rss_kib(&child);
    child.kill().unwrap();
    child.wait().unwrap();
    Run {
        ready,
        rss_ready_kib,
        rss_after_page_kib,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let mut runs: Vec<Run> = (0..RUNS).map(|_| one_run()).collect();
    runs.sort_by_key(|r| r.ready);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = &runs[RUNS / 2];
    println!("cold start to /readyz over {RUNS} runs (fresh data dir each):");
    println!(
        "  min {:.1} ms   median {:.1} ms   max {:.1} ms",
        ms(runs[0].ready),
        ms(median.ready),
        ms(runs[RUNS - 1].ready)
    );
    let max_ready = runs.iter().map(|r| r.rss_ready_kib).max().unwrap();
    let max_page = runs.iter().map(|r| r.rss_after_page_kib).max().unwrap();
    println!(
        "RSS once ready: median {} KiB, max {} KiB",
        median.rss_ready_kib, max_ready
    );
    println!(
        "RSS after rendering /applications: median {} KiB, max {} KiB",
        median.rss_after_page_kib, max_page
    );
}
