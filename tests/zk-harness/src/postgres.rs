//! A real PostgreSQL for tests: [`PgServer::start`] runs Debian's `initdb`
//! into a temporary directory (trust authentication, user `ej`), then
//! `postgres` on a free `127.0.0.1` port with its socket in that directory,
//! and waits until it accepts queries. PostgreSQL refuses to run as root:
//! as root (CI, containers) both run as the `postgres` user the Debian
//! package creates; otherwise as the current user. The server dies with the
//! test process and is stopped on drop; [`PgServer::stop`] and
//! [`PgServer::restart`] model a database that goes away and comes back.

use crate::server::{free_port, spawn_from_lasting_thread};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The superuser `initdb` creates; trust authentication, so no password.
pub const PG_USER: &str = "ej";

/// A PostgreSQL server on loopback, stopped on drop.
pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    run_as: Option<(libc::uid_t, libc::gid_t)>,
    child: Option<Child>,
}

impl PgServer {
    /// Initialises a cluster and starts it; panics with the log when it cannot.
    pub fn start() -> PgServer {
        let bin = find_bin_dir();
        let run_as = if unsafe { libc::geteuid() } == 0 { Some(postgres_user()) } else { None };
        let dir = tempfile::Builder::new().prefix("pg-harness").tempdir().expect("temp dir for PostgreSQL");
        if let Some((uid, gid)) = run_as {
            chown(dir.path(), uid, gid);
        }
        let mut server = PgServer { dir, bin, port: free_port(), run_as, child: None };
        let init = server
            .command("initdb")
            .arg("-D")
            .arg(server.data())
            .args(["-U", PG_USER, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap_or_else(|e| panic!("cannot run initdb from {}: {e}", server.bin.display()));
        assert!(init.status.success(), "initdb failed: {}", String::from_utf8_lossy(&init.stderr));
        server.spawn();
        server.wait_ready();
        server
    }

    /// The URL of the `postgres` database, for the history.
    pub fn url(&self) -> String {
        format!("postgres://{PG_USER}@127.0.0.1:{}/postgres", self.port)
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (fast shutdown: clients are disconnected).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the stopped server again, same port and data.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
        self.wait_ready();
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// A command from the PostgreSQL bin directory, as the user it must run as.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        command.stdin(Stdio::null()).env("LC_ALL", "C");
        let run_as = self.run_as;
        // Credentials first: changing them clears the parent-death signal.
        unsafe {
            command.pre_exec(move || {
                if let Some((uid, gid)) = run_as {
                    if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(gid) != 0 || libc::setuid(uid) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        command
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).expect("postgres log");
        if let Some((uid, gid)) = self.run_as {
            chown(&self.log_path(), uid, gid);
        }
        let mut command = self.command("postgres");
        command
            .arg("-D")
            .arg(self.data())
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(self.dir.path())
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=50"])
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        self.child = Some(spawn_from_lasting_thread(command).unwrap_or_else(|e| panic!("cannot start postgres: {e}")));
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", PG_USER, "-d", "postgres", "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            let exited = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
                panic!("PostgreSQL on 127.0.0.1:{} did not become ready ({exited:?}); log:\n{log}", self.port);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The newest Debian PostgreSQL bin directory, or the one `initdb` on PATH is in.
fn find_bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin): &(u32, PathBuf)| bin.join("postgres").exists())
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|dir| dir.join("initdb").exists() && dir.join("postgres").exists()))
        .unwrap_or_else(|| panic!("PostgreSQL is not installed: run scripts/install-deps (apt-get install postgresql)"))
}

/// The `postgres` user's ids: PostgreSQL will not run as root.
fn postgres_user() -> (libc::uid_t, libc::gid_t) {
    let name = std::ffi::CString::new("postgres").expect("no NUL");
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        panic!("running as root and there is no `postgres` user to run PostgreSQL as: install Debian's postgresql package (scripts/install-deps)");
    }
    unsafe { ((*entry).pw_uid, (*entry).pw_gid) }
}

fn chown(path: &Path, uid: libc::uid_t, gid: libc::gid_t) {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("no NUL in a temp path");
    if unsafe { libc::chown(c_path.as_ptr(), uid, gid) } != 0 {
        panic!("cannot hand {} to the postgres user: {}", path.display(), std::io::Error::last_os_error());
    }
}
