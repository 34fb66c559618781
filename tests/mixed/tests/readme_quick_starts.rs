//! The README's quick starts, run verbatim: each language's first snippet
//! is taken out of `README.md` as it stands, built or interpreted as a new
//! user would, and run against a harness ZooKeeper whose address it reads
//! from `ELASTICJOB_ZK`. It must run an item of its job, then stop cleanly
//! on Ctrl-C (SIGINT). The Python section's three snippets are run the same
//! way by pytest (`bindings-python/tests/test_examples.py`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use zk_harness::ZkServer;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

/// The code blocks fenced as ```` ```lang ```` in the README section headed
/// `## {section}`, in order.
fn snippets(section: &str, lang: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let heading = format!("## {section}\n");
    let start = readme.find(&heading).unwrap_or_else(|| panic!("README has no `## {section}` section"));
    let body = &readme[start + heading.len()..];
    let body = &body[..body.find("\n## ").unwrap_or(body.len())];
    let fence = format!("```{lang}\n");
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.find(&fence) {
        let code = &rest[at + fence.len()..];
        let end = code.find("\n```").expect("a closed code block");
        out.push(code[..end + 1].to_string());
        rest = &code[end..];
    }
    assert!(!out.is_empty(), "README section `{section}` has no ```{lang} block");
    out
}

/// Runs `command` with `ELASTICJOB_ZK` set until its output has a line
/// `ran` accepts (within 30 s), then sends SIGINT and expects a clean exit
/// within 40 s (a graceful leave of every job). Returns what it printed.
fn run_until(mut command: Command, zk: &str, ran: impl Fn(&str) -> bool) -> Vec<String> {
    let mut child = command
        .env("ELASTICJOB_ZK", zk)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the quick start starts");
    let (tx, rx) = mpsc::channel();
    for stream in [Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>, Box::new(child.stderr.take().unwrap())] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let mut printed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !printed.iter().any(|l: &String| ran(l)) {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => printed.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!("the quick start ran no item within 30 s; it printed:\n{}", printed.join("\n"));
            }
        }
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let stopped = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            while let Ok(line) = rx.try_recv() {
                printed.push(line);
            }
            assert!(status.success(), "the quick start exited with {status} after SIGINT; it printed:\n{}", printed.join("\n"));
            return printed;
        }
        if stopped.elapsed() > Duration::from_secs(40) {
            let _ = child.kill();
            panic!("the quick start did not stop within 40 s of SIGINT; it printed:\n{}", printed.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The Rust quick start: a new Cargo project beside a checkout named
/// `elasticjob`, with the README's `[dependencies]` and `main.rs`.
#[test]
fn the_rust_quick_start_runs_verbatim() {
    let zk = ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(root(), dir.path().join("elasticjob")).unwrap();
    let project = dir.path().join("quickstart");
    std::fs::create_dir_all(project.join("src")).unwrap();
    let toml = &snippets("Rust", "toml")[0];
    std::fs::write(
        project.join("Cargo.toml"),
        format!("[package]\nname = \"quickstart\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n{toml}\n[workspace]\n"),
    )
    .unwrap();
    std::fs::write(project.join("src/main.rs"), &snippets("Rust", "rust")[0]).unwrap();
    // The workspace's lock file and debug level, so the build reuses the
    // dependencies the workspace built (the harness's choice, not the user's).
    std::fs::copy(root().join("Cargo.lock"), project.join("Cargo.lock")).unwrap();
    let target = mixed_language_tests::profile_dir().parent().expect("target dir").to_path_buf();
    let status = Command::new("cargo")
        .args(["build", "--quiet", "--offline", "--config", "profile.dev.debug=1"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(&project)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the Rust quick start does not build");
    let printed = run_until(Command::new(target.join("debug/quickstart")), &zk.connect_string(), |l| l.starts_with("item "));
    println!("{}", printed.join("\n"));
}

/// The Node.js quick start (`worker.mjs`), in a new project whose
/// `node_modules/elasticjob` is the binding as built here (the packed
/// tarball's install is tested by `bindings-node/test/package`).
#[test]
fn the_node_quick_start_runs_verbatim() {
    let binding = root().join("bindings-node");
    let built = std::fs::read_dir(&binding).unwrap().flatten().any(|e| e.file_name().to_string_lossy().ends_with(".node"));
    assert!(built, "build the Node binding first (npx napi build in bindings-node)");
    let zk = ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("node_modules")).unwrap();
    std::os::unix::fs::symlink(&binding, dir.path().join("node_modules/elasticjob")).unwrap();
    std::fs::write(dir.path().join("worker.mjs"), &snippets("Node.js", "js")[0]).unwrap();
    let mut command = Command::new("node");
    command.arg("worker.mjs").current_dir(dir.path());
    let printed = run_until(command, &zk.connect_string(), |l| l.starts_with("item "));
    println!("{}", printed.join("\n"));
}

/// The C quick start (`worker.c`), compiled against the library built here
/// (building it from the installed files, with pkg-config and CMake, is
/// tested by `bindings-c/tests/install.rs`).
#[test]
fn the_c_quick_start_runs_verbatim() {
    let zk = ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("worker.c");
    std::fs::write(&source, &snippets("C", "c")[0]).unwrap();
    let binary = dir.path().join("worker");
    cluster_tests::workers::compile_c(&source, &root().join("bindings-c/include"), &mixed_language_tests::profile_dir(), &binary);
    let printed = run_until(Command::new(&binary), &zk.connect_string(), |l| l.starts_with("item "));
    println!("{}", printed.join("\n"));
}
