//! The library as a C user gets it: `install.sh` puts it in a fresh
//! prefix, then `examples/worker.c` is built from the installed files only
//! — with pkg-config and with CMake, against the shared and the static
//! library — and every binary runs against a real ZooKeeper until it runs
//! an item, then leaves on SIGTERM. The shared binaries run without
//! `LD_LIBRARY_PATH`: pkg-config's rpath and CMake's build rpath find the
//! library.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use support::{crate_dir, library_dir, Running};

/// Installs into `<dir>/prefix` and returns the prefix.
fn install(dir: &Path) -> PathBuf {
    let prefix = dir.join("prefix");
    let status = Command::new(crate_dir().join("install.sh"))
        .arg("--build-dir")
        .arg(library_dir())
        .arg(&prefix)
        .status()
        .expect("install.sh runs");
    assert!(status.success(), "install.sh failed");
    prefix
}

fn checked(command: &mut Command, what: &str) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{what} failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

/// The shared libraries a binary needs (`NEEDED` entries).
fn needed(binary: &Path) -> String {
    checked(Command::new("readelf").arg("-d").arg(binary), "readelf")
}

/// Runs the example worker until it runs an item of job `orders`, then stops it.
fn runs_an_item(binary: &Path, zk: &str) {
    let mut command = Command::new(binary);
    command.arg(zk).env_remove("LD_LIBRARY_PATH");
    let mut worker = Running::spawn(command);
    let joined = worker.wait_for("joined job orders (elasticjob 0.1.0)", Duration::from_secs(20));
    assert!(joined, "{} did not join: {:?}", binary.display(), worker.seen);
    let ran = worker.wait_for(": item ", Duration::from_secs(20));
    assert!(ran, "{} ran no item: {:?}", binary.display(), worker.seen);
    assert!(worker.terminate(Duration::from_secs(15)), "{} did not exit cleanly on SIGTERM", binary.display());
}

#[test]
fn install_sh_lays_out_versioned_libraries_pkg_config_and_cmake_files() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = install(dir.path());
    let lib = prefix.join("lib");
    assert_eq!(std::fs::read_link(lib.join("libelasticjob.so")).unwrap(), Path::new("libelasticjob.so.0"));
    assert_eq!(std::fs::read_link(lib.join("libelasticjob.so.0")).unwrap(), Path::new("libelasticjob.so.0.1.0"));
    assert!(needed(&lib.join("libelasticjob.so.0.1.0")).contains("Library soname: [libelasticjob.so.0]"));
    for file in ["libelasticjob.a", "pkgconfig/elasticjob.pc", "pkgconfig/elasticjob-static.pc",
        "cmake/elasticjob/elasticjobConfig.cmake", "cmake/elasticjob/elasticjobConfigVersion.cmake"] {
        assert!(lib.join(file).is_file(), "{file} is not installed");
    }
    let header = std::fs::read_to_string(prefix.join("include/elasticjob.h")).unwrap();
    assert!(header.contains("#define EJ_VERSION_MAJOR 0") && header.contains("#define EJ_VERSION_STRING"));
    let pkg_config = |args: &[&str]| {
        checked(Command::new("pkg-config").args(args).env("PKG_CONFIG_PATH", lib.join("pkgconfig")), "pkg-config")
    };
    assert_eq!(pkg_config(&["--modversion", "elasticjob"]).trim(), "0.1.0");
    assert!(pkg_config(&["--static", "--libs", "elasticjob"]).contains("-lm"), "Libs.private lists the system libraries");
}

#[test]
fn the_example_builds_from_the_installed_files_with_pkg_config_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = install(dir.path());
    let source = crate_dir().join("examples/worker.c");
    let pc_path = prefix.join("lib/pkgconfig");
    let build = |module: &str, output: &Path| {
        let script = format!("cc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror \"$0\" -o \"$1\" $(pkg-config --cflags --libs {module})");
        checked(Command::new("sh").arg("-c").arg(script).arg(&source).arg(output).env("PKG_CONFIG_PATH", &pc_path), module);
    };
    let shared = dir.path().join("worker-pkg-config");
    let static_ = dir.path().join("worker-pkg-config-static");
    build("elasticjob", &shared);
    build("elasticjob-static", &static_);
    assert!(needed(&shared).contains("libelasticjob.so.0"), "linked to the SONAME");
    assert!(!needed(&static_).contains("libelasticjob"), "the static build needs no libelasticjob.so");
    let zk = zk_harness::ZkServer::start();
    runs_an_item(&shared, &zk.connect_string());
    runs_an_item(&static_, &zk.connect_string());
}

#[test]
fn the_example_builds_from_the_installed_files_with_cmake_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = install(dir.path());
    let build = dir.path().join("build");
    checked(
        Command::new("cmake")
            .arg("-S")
            .arg(crate_dir().join("examples"))
            .arg("-B")
            .arg(&build)
            .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display()))
            .arg("-DCMAKE_C_FLAGS=-Wall -Wextra -Werror"),
        "cmake configure",
    );
    checked(Command::new("cmake").arg("--build").arg(&build), "cmake build");
    let (shared, static_) = (build.join("worker"), build.join("worker-static"));
    assert!(needed(&shared).contains("libelasticjob.so.0"));
    assert!(!needed(&static_).contains("libelasticjob"));
    let zk = zk_harness::ZkServer::start();
    runs_an_item(&shared, &zk.connect_string());
    runs_an_item(&static_, &zk.connect_string());
}
