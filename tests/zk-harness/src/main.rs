//! `zk-harness`: runs a real ZooKeeper for tests written in other languages.
//!
//! `zk-harness [--nodes N]` starts a server (or an N-server ensemble),
//! prints its connect string as one line on stdout, then reads commands from
//! stdin, one per line, each answered with `ok`:
//! `stop I` / `restart I` (ensemble member I, or the server for I = 0).
//! It stops everything and exits when stdin closes or on SIGTERM/SIGINT.

use std::io::{BufRead, Write};
use zk_harness::{ZkEnsemble, ZkServer};

enum Cluster {
    Single(ZkServer),
    Ensemble(ZkEnsemble),
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let nodes: usize = match args.iter().position(|a| a == "--nodes") {
        Some(i) => args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or_else(|| usage()),
        None => 1,
    };
    // SIGTERM/SIGINT: let the default action kill us; the JVMs die with us (PDEATHSIG).
    let mut cluster = if nodes <= 1 { Cluster::Single(ZkServer::start()) } else { Cluster::Ensemble(ZkEnsemble::start(nodes)) };
    let connect = match &cluster {
        Cluster::Single(s) => s.connect_string(),
        Cluster::Ensemble(e) => e.connect_string(),
    };
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{connect}").and_then(|_| stdout.flush()).expect("stdout");
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let parts: Vec<&str> = line.split_whitespace().collect();
        let index = parts.get(1).and_then(|i| i.parse::<usize>().ok()).unwrap_or(0);
        match (parts.first().copied(), &mut cluster) {
            (Some("stop"), Cluster::Single(s)) => s.stop(),
            (Some("restart"), Cluster::Single(s)) => s.restart(),
            (Some("stop"), Cluster::Ensemble(e)) => e.stop_node(index),
            (Some("restart"), Cluster::Ensemble(e)) => e.restart_node(index),
            _ => {
                writeln!(stdout, "error: unknown command `{line}`").ok();
                stdout.flush().ok();
                continue;
            }
        }
        writeln!(stdout, "ok").and_then(|_| stdout.flush()).expect("stdout");
    }
}

fn usage() -> ! {
    eprintln!("usage: zk-harness [--nodes N]");
    std::process::exit(2);
}
