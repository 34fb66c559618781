//! Worker processes of any language, started and abused by cluster tests:
//! each prints `ready <instance-id>` once registered; tests then kill -9,
//! pause (SIGSTOP), resume or terminate it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running worker process.
pub struct Worker {
    child: Child,
    /// The instance id it registered with.
    pub instance_id: String,
    /// A label for messages (`rust-1`, `python`, ...).
    pub name: String,
}

impl Worker {
    /// Starts `command` and waits (up to 60 s) for its `ready` line.
    pub fn spawn(name: &str, command: Command) -> Worker {
        Worker::spawn_with_stderr(name, command, Stdio::inherit())
    }

    /// [`Worker::spawn`] with the worker's stderr (its log) appended to `log`,
    /// for tests that read what the scheduler said.
    pub fn spawn_logged(name: &str, command: Command, log: &Path) -> Worker {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("open worker log");
        Worker::spawn_with_stderr(name, command, Stdio::from(file))
    }

    fn spawn_with_stderr(name: &str, mut command: Command, stderr: Stdio) -> Worker {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start worker {name}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(id) = line.strip_prefix("ready ") {
                        let _ = tx.send(id.trim().to_string());
                        sent = true;
                    }
                }
            }
        });
        let instance_id = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("worker {name} did not print `ready <instance-id>` within 60 s"));
        Worker { child, instance_id, name: name.to_string() }
    }

    /// The worker's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the worker process in KiB (from /proc).
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.child.id())
    }

    /// CPU time the worker process has used so far (user + system), in seconds.
    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds(self.child.id())
    }

    fn signal(&self, signal: i32) {
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
    }

    /// kill -9: no goodbye, its session expires on the server.
    pub fn kill9(&mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
    }

    /// Freezes the process (SIGSTOP).
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// Resumes a frozen process (SIGCONT).
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    /// Whether the process has exited.
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Asks for a graceful shutdown (SIGTERM) and waits up to `timeout`, then kills.
    pub fn terminate(&mut self, timeout: Duration) {
        self.ask_to_stop();
        if !self.wait_exit(timeout) {
            self.kill9();
        }
    }

    /// Asks for a graceful shutdown (SIGTERM) without waiting for it.
    pub fn ask_to_stop(&self) {
        self.signal(libc::SIGTERM);
    }

    /// Waits up to `timeout` for the process to exit; whether it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.resume();
            self.kill9();
        }
    }
}

/// Resident memory of a process in KiB (from /proc).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time (user + system) process `pid` has used, in seconds (from /proc).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields are counted after its `)`.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let (user, system): (f64, f64) = (fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?);
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks > 0.0).then(|| (user + system) / ticks)
}

/// Epoch milliseconds now.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970").as_millis() as i64
}

/// The every-`step_ms` fire times strictly between `from` and `to` (epoch ms).
pub fn fires_between(from: i64, to: i64, step_ms: i64) -> Vec<i64> {
    let first = (from / step_ms + 1) * step_ms;
    (0..).map(|n| first + n * step_ms).take_while(|&t| t < to).collect()
}

/// Compiles a C program from `source` against the library in `lib_dir`
/// (shared, with an rpath) into `output`; panics with the compiler's verdict.
pub fn compile_c(source: &Path, include_dir: &Path, lib_dir: &Path, output: &Path) {
    link_soname(include_dir, lib_dir);
    let status = Command::new("cc")
        .args(["-std=c11", "-D_DEFAULT_SOURCE", "-Wall", "-Wextra", "-Werror", "-g"])
        .arg("-I")
        .arg(include_dir)
        .arg(source)
        .arg("-o")
        .arg(output)
        .arg("-L")
        .arg(lib_dir)
        .arg("-lelasticjob")
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .arg("-lpthread")
        .status()
        .expect("cc runs");
    assert!(status.success(), "compiling {} failed", source.display());
}

/// The library's SONAME is `libelasticjob.so.<major>` (what programs ask
/// the loader for), but cargo writes only `libelasticjob.so`: the link an
/// installation makes is made in cargo's directory too. The major version
/// is the header's `EJ_VERSION_MAJOR`.
fn link_soname(include_dir: &Path, lib_dir: &Path) {
    let header = std::fs::read_to_string(include_dir.join("elasticjob.h")).expect("elasticjob.h");
    let major = header
        .lines()
        .find_map(|l| l.strip_prefix("#define EJ_VERSION_MAJOR "))
        .expect("the header defines EJ_VERSION_MAJOR")
        .trim();
    let link = lib_dir.join(format!("libelasticjob.so.{major}"));
    if std::fs::symlink_metadata(&link).is_err() {
        // Another test may make it at the same moment: only the result matters.
        let _ = std::os::unix::fs::symlink("libelasticjob.so", &link);
    }
}
