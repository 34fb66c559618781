//! The core's examples (`core/examples`) run as a user would run them and
//! do what their doc comments say. `cargo build --all-targets` (which
//! `scripts/test-all` runs first) builds them.

use mixed_language_tests::profile_dir;
use std::process::Command;

fn run_example(name: &str) -> String {
    let binary = profile_dir().join("examples").join(name);
    assert!(binary.exists(), "build the examples first: cargo build -p elasticjob --examples");
    let output = Command::new(&binary).output().expect("the example runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{name} failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

#[test]
fn the_dataflow_example_drains_every_shard() {
    let out = run_example("dataflow");
    assert!(out.contains("done: 0 orders left"), "{out}");
    for item in 0..4 {
        assert!(out.contains(&format!("item {item} exported orders")), "item {item}: {out}");
    }
}

#[test]
fn the_script_example_reports_a_success_and_a_failure() {
    let out = run_example("script");
    assert!(out.contains("item 0: Succeeded") && out.contains("item 1: Failed"), "{out}");
    assert!(out.contains("--- stdout ---\nreport for {") && out.contains("--- stderr ---\nno data"), "the runs' output: {out}");
}
