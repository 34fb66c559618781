//! Starting, stopping and restarting ZooKeeper JVMs.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's package puts the server; its manifest names every dependency jar.
const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";
const MAIN_CLASS: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A free TCP port on 127.0.0.1 (free when asked; the server binds it next).
/// Never the same port twice in one process: the system may hand a port
/// it just freed out again, and an ensemble with two equal ports is an
/// invalid configuration.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let port =
            TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port");
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Sends a four-letter command and returns the answer, if the server answers.
pub fn four_letter(port: u16, command: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_millis(1000))).ok()?;
    stream.write_all(command.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

/// How a server's JVM is tuned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jvm {
    /// For tests, which start many servers and load them lightly: a small
    /// heap, the serial collector and the quick (C1) compiler start fast.
    QuickStart,
    /// For the benchmark, whose servers carry thousands of requests a
    /// second for minutes, as a production server is set up: a 1 GB heap,
    /// the parallel collector and the optimizing compiler. (With
    /// `QuickStart`, collections of the small heap stall a loaded server
    /// for whole seconds.)
    Throughput,
}

impl Jvm {
    /// The JVM options this tuning passes.
    pub fn options(self) -> &'static [&'static str] {
        match self {
            Jvm::QuickStart => &["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"],
            Jvm::Throughput => &["-Xms1g", "-Xmx1g", "-XX:+UseParallelGC"],
        }
    }
}

/// One ZooKeeper JVM with its configuration and data directory.
struct Node {
    dir: PathBuf,
    client_port: u16,
    jvm: Jvm,
    child: Option<Child>,
}

impl Node {
    fn config_path(&self) -> PathBuf {
        self.dir.join("zoo.cfg")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    fn write_config(&self, quorum: &[(u16, u16)], id: usize) {
        let data = self.dir.join("data");
        std::fs::create_dir_all(&data).expect("create ZooKeeper data dir");
        let mut cfg = format!(
            "tickTime=200\ninitLimit=20\nsyncLimit=10\ndataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\n\
             maxSessionTimeout=60000\n4lw.commands.whitelist=*\nadmin.enableServer=false\n\
             autopurge.purgeInterval=0\nmaxClientCnxns=0\n",
            data.display(),
            self.client_port
        );
        if quorum.len() > 1 {
            std::fs::write(data.join("myid"), format!("{}\n", id + 1)).expect("write myid");
            for (n, (peer, election)) in quorum.iter().enumerate() {
                cfg.push_str(&format!("server.{}=127.0.0.1:{peer}:{election}\n", n + 1));
            }
            cfg.push_str("quorumListenOnAllIPs=false\n");
        }
        std::fs::write(self.config_path(), cfg).expect("write zoo.cfg");
    }

    fn spawn(&mut self) {
        check_installed();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).expect("server log");
        let mut command = Command::new("java");
        command
            .args(self.jvm.options())
            .arg("-Dzookeeper.jmx.log4j.disable=true")
            .arg("-cp")
            .arg(ZOOKEEPER_JAR)
            .arg(MAIN_CLASS)
            .arg(self.config_path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        // The JVM dies with the process that started it, even on kill -9.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        self.child = Some(spawn_from_lasting_thread(command).unwrap_or_else(|e| panic!("cannot start java for ZooKeeper: {e}")));
    }

    fn is_serving(&self) -> bool {
        four_letter(self.client_port, "srvr").is_some_and(|a| a.contains("Mode: "))
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn failure(&mut self, what: &str) -> String {
        let exited = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect();
        format!(
            "ZooKeeper on 127.0.0.1:{} {what} (process {}); last log lines:\n{}",
            self.client_port,
            exited.map_or("still running".to_string(), |s| format!("exited with {s}")),
            tail.join("\n")
        )
    }
}

/// Spawns `command` from a thread that lives as long as the process.
/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits,
/// and test harnesses run each test on a thread of its own: a server shared
/// by several tests must not die with the first one.
pub(crate) fn spawn_from_lasting_thread(command: Command) -> std::io::Result<Child> {
    use std::sync::mpsc::{channel, Sender};
    use std::sync::{Mutex, OnceLock};
    type Request = (Command, Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<Sender<Request>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (requests, inbox) = channel::<Request>();
        std::thread::Builder::new()
            .name("zk-harness-spawner".into())
            .spawn(move || {
                for (mut command, reply) in inbox {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("spawner thread");
        Mutex::new(requests)
    });
    let (reply, answer) = channel();
    spawner.lock().unwrap_or_else(|p| p.into_inner()).send((command, reply)).expect("spawner thread alive");
    answer.recv().expect("spawner thread answers")
}

fn check_installed() {
    if !Path::new(ZOOKEEPER_JAR).exists() {
        panic!("ZooKeeper is not installed ({ZOOKEEPER_JAR} missing): run scripts/install-deps (apt-get install zookeeper)");
    }
    if Command::new("java").arg("-version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
        panic!("java is not on PATH: ZooKeeper needs a JRE (apt-get install default-jre-headless)");
    }
}

fn wait_until_serving(nodes: &mut [Node]) {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if nodes.iter().all(Node::is_serving) {
            return;
        }
        for node in nodes.iter_mut() {
            if node.child.as_mut().and_then(|c| c.try_wait().ok().flatten()).is_some() {
                panic!("{}", node.failure("exited during start-up"));
            }
        }
        if Instant::now() > deadline {
            let node = nodes.iter_mut().find(|n| !n.is_serving()).expect("one is not serving");
            panic!("{}", node.failure(&format!("did not serve within {START_TIMEOUT:?}")));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A standalone ZooKeeper server, stopped (and its data removed) on drop.
pub struct ZkServer {
    node: Node,
    _dir: tempfile::TempDir,
}

impl ZkServer {
    /// Starts a server and waits until it serves; panics with its log if it cannot.
    pub fn start() -> ZkServer {
        ZkServer::start_with(Jvm::QuickStart)
    }

    /// [`ZkServer::start`] with the JVM tuned as `jvm` says.
    pub fn start_with(jvm: Jvm) -> ZkServer {
        let dir = tempfile::Builder::new().prefix("zk-harness-").tempdir().expect("temp dir");
        let mut node = Node { dir: dir.path().to_path_buf(), client_port: free_port(), jvm, child: None };
        node.write_config(&[], 0);
        node.spawn();
        wait_until_serving(std::slice::from_mut(&mut node));
        ZkServer { node, _dir: dir }
    }

    /// `127.0.0.1:PORT`.
    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.node.client_port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.node.client_port
    }

    /// Kills the server; its data stays for [`ZkServer::restart`].
    pub fn stop(&mut self) {
        self.node.kill();
    }

    /// Starts the server again on the same port and data: sessions whose
    /// timeout has not passed survive.
    pub fn restart(&mut self) {
        self.node.kill();
        self.node.spawn();
        wait_until_serving(std::slice::from_mut(&mut self.node));
    }
}

impl Drop for ZkServer {
    fn drop(&mut self) {
        self.node.kill();
    }
}

/// A quorum of ZooKeeper servers on loopback, stopped on drop.
pub struct ZkEnsemble {
    nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

impl ZkEnsemble {
    /// Starts `size` servers (3 or 5 make sense) and waits until all serve.
    pub fn start(size: usize) -> ZkEnsemble {
        assert!(size >= 1, "an ensemble needs at least one server");
        let dir = tempfile::Builder::new().prefix("zk-ensemble-").tempdir().expect("temp dir");
        let quorum: Vec<(u16, u16)> = (0..size).map(|_| (free_port(), free_port())).collect();
        let mut nodes: Vec<Node> = (0..size)
            .map(|i| Node { dir: dir.path().join(format!("node{i}")), client_port: free_port(), jvm: Jvm::QuickStart, child: None })
            .collect();
        for (i, node) in nodes.iter_mut().enumerate() {
            std::fs::create_dir_all(&node.dir).expect("node dir");
            node.write_config(&quorum, i);
            node.spawn();
        }
        wait_until_serving(&mut nodes);
        ZkEnsemble { nodes, _dir: dir }
    }

    /// `127.0.0.1:P1,127.0.0.1:P2,...`.
    pub fn connect_string(&self) -> String {
        self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.client_port)).collect::<Vec<_>>().join(",")
    }

    /// Client port of server `i`.
    pub fn port(&self, i: usize) -> u16 {
        self.nodes[i].client_port
    }

    /// Kills server `i`.
    pub fn stop_node(&mut self, i: usize) {
        self.nodes[i].kill();
    }

    /// Starts server `i` again and waits until it serves.
    pub fn restart_node(&mut self, i: usize) {
        self.nodes[i].kill();
        self.nodes[i].spawn();
        wait_until_serving(std::slice::from_mut(&mut self.nodes[i]));
    }
}

impl Drop for ZkEnsemble {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
    }
}
