//! `jenkins-emulator`: serves one emulated Jenkins controller from a script file.
//!
//! ```text
//! jenkins-emulator --script jobs.json [--port P]
//! ```
//! Prints `url http://127.0.0.1:P/` once listening.

use std::net::SocketAddr;

fn usage() -> ! {
    eprintln!("usage: jenkins-emulator --script FILE [--port P]");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut port = 0u16;
    let mut script_path = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--script" => script_path = Some(value()),
            "--port" => port = value().parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let Some(path) = script_path else { usage() };
    let script = std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|t| jenkins_emulator::Script::from_json(&t));
    let script = script.unwrap_or_else(|e| {
        eprintln!("jenkins-emulator: {path}: {e}");
        std::process::exit(1)
    });
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let running = jenkins_emulator::start(script, addr)
        .await
        .unwrap_or_else(|e| {
            eprintln!("jenkins-emulator: cannot listen on {addr}: {e}");
            std::process::exit(1)
        });
    println!("url {}", running.url);
    let _ = tokio::signal::ctrl_c().await;
}
