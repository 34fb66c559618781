//! A script job: each item runs a program (no shell unless you ask for
//! one) with the sharding context as a JSON argument; a non-zero exit is a
//! failed execution (its message ends with the last line of stderr), and
//! the ends of its stdout and stderr are the execution's `output`. Runs on
//! the embedded registry.
//!
//! Run with `cargo run -p elasticjob --example script`.

use elasticjob::{Job, JobConfig, JobEvent, JobScheduler, RegistryCenter};
use std::time::Duration;

#[tokio::main]
async fn main() -> elasticjob::Result<()> {
    let mut config = JobConfig::new("nightly-report", "* * * * * ?", 2);
    config.sharding_item_parameters = "0=north,1=south".into();
    // `sh -c SCRIPT NAME CONTEXT`: the context arrives as $1. Item 1 fails on purpose.
    config.props.insert(
        "script.command.line".into(),
        r#"sh -c 'echo "report for $1"; case "$1" in *south*) echo "no data" >&2; exit 2;; esac' report"#.into(),
    );
    let scheduler = JobScheduler::builder(RegistryCenter::embedded("examples"), config, Job::script()).build()?;
    let mut events = scheduler.events();
    scheduler.start().await?;
    let mut seen = 0;
    while seen < 2 {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
            Ok(Ok(JobEvent::Executed(run))) => {
                println!("item {}: {:?}", run.item, run.outcome);
                if let Some(output) = &run.output {
                    println!("{output}");
                }
                seen += 1;
            }
            Ok(Ok(_)) => {}
            _ => break,
        }
    }
    scheduler.shutdown().await;
    println!("done");
    Ok(())
}
