//! The harness itself: real servers start, stop, restart and form quorums.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use zk_harness::server::four_letter;
use zk_harness::{ZkEnsemble, ZkServer};

#[test]
fn a_server_starts_stops_and_restarts_on_the_same_port() {
    let mut server = ZkServer::start();
    assert_eq!(four_letter(server.port(), "ruok").as_deref(), Some("imok"));
    assert!(four_letter(server.port(), "srvr").unwrap().contains("Mode: standalone"));
    server.stop();
    assert_eq!(four_letter(server.port(), "ruok"), None, "stopped server refuses connections");
    server.restart();
    assert_eq!(four_letter(server.port(), "ruok").as_deref(), Some("imok"));
}

#[test]
fn an_ensemble_keeps_serving_with_one_node_down() {
    let mut ensemble = ZkEnsemble::start(3);
    let modes: Vec<String> = (0..3)
        .map(|i| four_letter(ensemble.port(i), "srvr").unwrap().lines().find(|l| l.starts_with("Mode:")).unwrap().to_string())
        .collect();
    assert_eq!(modes.iter().filter(|m| m.contains("leader")).count(), 1, "{modes:?}");
    ensemble.stop_node(0);
    assert_eq!(four_letter(ensemble.port(0), "ruok"), None);
    let serving = (1..3).filter(|&i| four_letter(ensemble.port(i), "srvr").is_some_and(|a| a.contains("Mode: "))).count();
    assert!(serving >= 1, "the remaining quorum still serves");
    ensemble.restart_node(0);
    assert!(four_letter(ensemble.port(0), "srvr").unwrap().contains("Mode: "));
    assert_eq!(ensemble.connect_string().split(',').count(), 3);
}

#[test]
fn the_binary_prints_a_connect_string_and_stops_when_stdin_closes() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zk-harness"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let connect = lines.next().unwrap().unwrap();
    let port: u16 = connect.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(four_letter(port, "ruok").as_deref(), Some("imok"));
    writeln!(stdin, "restart").unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "ok");
    assert_eq!(four_letter(port, "ruok").as_deref(), Some("imok"));
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success());
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(four_letter(port, "ruok"), None, "the server went with the harness");
}
