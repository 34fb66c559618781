//! The README's first command: three instances in one process share a
//! six-item job on the embedded registry. Each fire prints who ran which
//! item; after a few fires one instance leaves and its items move.
//!
//! Run with `cargo run -p elasticjob --example demo`.

use elasticjob::{Job, JobConfig, JobEvent, JobScheduler, EmbeddedServer, RegistryCenter};
use std::time::Duration;

#[tokio::main]
async fn main() -> elasticjob::Result<()> {
    let server = EmbeddedServer::new();
    let mut config = JobConfig::new("demo-job", "0/2 * * * * ?", 6);
    config.sharding_item_parameters = "0=Beijing,1=Shanghai,2=Guangzhou,3=Shenzhen,4=Hangzhou,5=Chengdu".into();
    let mut schedulers = Vec::new();
    for n in 1..=3 {
        // Each instance gets its own session on the shared embedded server,
        // as separate processes would on a ZooKeeper ensemble.
        let center = RegistryCenter::embedded_on(&server, "demo");
        let job = Job::from_fn(move |ctx| async move {
            println!(
                "  fire {}  item {} ({:<9}) ran on instance-{n}",
                ctx.fire_time / 1000 % 100_000,
                ctx.sharding_item,
                ctx.sharding_parameter
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
            Ok(())
        });
        let scheduler = JobScheduler::builder(center, config.clone(), job)
            .instance_id(format!("127.0.0.1@-@demo-{n}"))
            .build()?;
        scheduler.start().await?;
        schedulers.push(scheduler);
    }
    let mut events = schedulers[0].events();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if let JobEvent::Sharded(assignment) = event {
                println!("resharded: {assignment:?}");
            }
        }
    });
    println!("three instances share demo-job (6 items, every 2 s)");
    tokio::time::sleep(Duration::from_secs(7)).await;
    println!("instance-3 leaves; its items move to the others");
    schedulers.pop().expect("three").shutdown().await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    for scheduler in schedulers {
        scheduler.shutdown().await;
    }
    println!("done");
    Ok(())
}
