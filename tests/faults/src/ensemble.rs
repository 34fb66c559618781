//! A three-node ZooKeeper ensemble whose nodes start *without waiting*.
//!
//! `zk_harness::ZkEnsemble::restart_node` waits until that one node serves,
//! which cannot happen while the rest of the ensemble is down (a lone
//! quorum member never serves): a whole-ensemble restart would hang there
//! for the start-up timeout and panic. This module starts and stops JVMs
//! itself and waits for a *quorum* instead. Same JVM flags, 200 ms tick.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use zk_harness::server::{four_letter, free_port};

const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";

struct Node {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

/// A quorum of ZooKeeper JVMs on loopback, killed on drop.
pub struct Ensemble {
    nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

impl Ensemble {
    /// Starts `size` servers and waits until all serve.
    pub fn start(size: usize) -> Ensemble {
        let dir = tempfile::Builder::new().prefix("faults-ensemble-").tempdir().expect("temp dir");
        let quorum: Vec<(u16, u16)> = (0..size).map(|_| (free_port(), free_port())).collect();
        let mut nodes = Vec::new();
        for i in 0..size {
            let node_dir = dir.path().join(format!("node{i}"));
            let data = node_dir.join("data");
            std::fs::create_dir_all(&data).expect("data dir");
            std::fs::write(data.join("myid"), format!("{}\n", i + 1)).expect("myid");
            let port = free_port();
            let mut cfg = format!(
                "tickTime=200\ninitLimit=20\nsyncLimit=10\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 maxSessionTimeout=60000\n4lw.commands.whitelist=*\nadmin.enableServer=false\n\
                 autopurge.purgeInterval=0\nmaxClientCnxns=0\nquorumListenOnAllIPs=false\n",
                data.display()
            );
            for (n, (peer, election)) in quorum.iter().enumerate() {
                cfg.push_str(&format!("server.{}=127.0.0.1:{peer}:{election}\n", n + 1));
            }
            std::fs::write(node_dir.join("zoo.cfg"), cfg).expect("zoo.cfg");
            nodes.push(Node { dir: node_dir, port, child: None });
        }
        let mut ensemble = Ensemble { nodes, _dir: dir };
        for i in 0..size {
            ensemble.start_node(i);
        }
        let all: Vec<usize> = (0..size).collect();
        assert!(ensemble.wait_serving(&all, Duration::from_secs(60)), "ensemble did not serve within 60 s");
        ensemble
    }

    /// `127.0.0.1:P1,127.0.0.1:P2,...`.
    pub fn connect_string(&self) -> String {
        self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect::<Vec<_>>().join(",")
    }

    /// Client port of node `i`.
    pub fn port(&self, i: usize) -> u16 {
        self.nodes[i].port
    }

    /// Starts node `i` (if down) without waiting.
    pub fn start_node(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if node.child.is_some() {
            return;
        }
        let log = std::fs::OpenOptions::new().create(true).append(true).open(node.dir.join("server.log")).expect("log");
        let child = Command::new("java")
            .args(["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dzookeeper.jmx.log4j.disable=true"])
            .arg("-cp")
            .arg(ZOOKEEPER_JAR)
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(node.dir.join("zoo.cfg"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start java for ZooKeeper");
        node.child = Some(child);
    }

    /// Kills node `i`.
    pub fn stop_node(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `leader`, `follower`, or `None` when node `i` does not serve.
    pub fn mode(&self, i: usize) -> Option<String> {
        let answer = four_letter(self.nodes[i].port, "srvr")?;
        let line = answer.lines().find(|l| l.starts_with("Mode: "))?;
        Some(line.trim_start_matches("Mode: ").trim().to_string())
    }

    /// The node that leads, if any serves as leader.
    pub fn leader(&self) -> Option<usize> {
        (0..self.nodes.len()).find(|&i| self.mode(i).as_deref() == Some("leader"))
    }

    /// Client connections node `i` holds (from `cons`, not counting the asker).
    pub fn connections(&self, i: usize) -> usize {
        four_letter(self.nodes[i].port, "cons")
            .map(|a| a.lines().filter(|l| l.contains("queued=") && !l.contains("recved=0")).count().saturating_sub(1))
            .unwrap_or(0)
    }

    /// Waits until every node in `which` serves; false on timeout.
    pub fn wait_serving(&self, which: &[usize], timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if which.iter().all(|&i| self.mode(i).is_some()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.stop_node(i);
        }
    }
}
