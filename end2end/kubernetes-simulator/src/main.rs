//! `kubernetes-simulator`: runs one or more simulated clusters (one port each) and writes a
//! kubeconfig naming them all.
//!
//! ```text
//! kubernetes-simulator [--clusters N] [--port P] [--token T|--anonymous] [--https] [--kubeconfig PATH] [--pod-ready-ms MS]
//! ```
//! Ports are P, P+1, ... (P = 0 picks free ports). Contexts are named `sim-1`, `sim-2`, ...

use std::net::SocketAddr;
use std::time::Duration;

fn usage() -> ! {
    eprintln!(
        "usage: kubernetes-simulator [--clusters N] [--port P] [--token T|--anonymous] [--https] [--kubeconfig PATH] [--pod-ready-ms MS]"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut clusters = 1u16;
    let mut port = 0u16;
    let mut token = Some(format!("sim-{:016x}", fastrand::u64(..)));
    let mut kubeconfig_path = String::from("kubeconfig.yaml");
    let mut config = kubernetes_simulator::Config::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--clusters" => clusters = value().parse().unwrap_or_else(|_| usage()),
            "--port" => port = value().parse().unwrap_or_else(|_| usage()),
            "--token" => token = Some(value()),
            "--anonymous" => token = None,
            "--https" => config.https = true,
            "--kubeconfig" => kubeconfig_path = value(),
            "--pod-ready-ms" => {
                config.timing.pod_ready_after =
                    Duration::from_millis(value().parse().unwrap_or_else(|_| usage()))
            }
            _ => usage(),
        }
    }
    config.token = token;
    let mut running = Vec::new();
    for n in 0..clusters {
        let p = if port == 0 { 0 } else { port + n };
        let addr = SocketAddr::from(([127, 0, 0, 1], p));
        match kubernetes_simulator::start(config.clone(), addr).await {
            Ok(c) => running.push(c),
            Err(e) => {
                eprintln!("kubernetes-simulator: cannot listen on {addr}: {e}");
                std::process::exit(1);
            }
        }
    }
    let names: Vec<String> = (1..=running.len()).map(|n| format!("sim-{n}")).collect();
    let contexts: Vec<(&str, &kubernetes_simulator::RunningCluster, &str)> = names
        .iter()
        .zip(&running)
        .map(|(n, c)| (n.as_str(), c, "default"))
        .collect();
    if let Err(e) = std::fs::write(
        &kubeconfig_path,
        kubernetes_simulator::kubeconfig(&contexts),
    ) {
        eprintln!("kubernetes-simulator: cannot write {kubeconfig_path}: {e}");
        std::process::exit(1);
    }
    for (name, c) in names.iter().zip(&running) {
        println!("{name} {}", c.url);
    }
    println!("kubeconfig {kubeconfig_path}");
    let _ = tokio::signal::ctrl_c().await;
}
