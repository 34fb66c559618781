//! A dataflow job: each item drains its own shard of a queue, batch by
//! batch (`streaming.process: true` keeps fetching until a batch is empty).
//! Two instances share four items on the embedded registry.
//!
//! Run with `cargo run -p elasticjob --example dataflow`.

use elasticjob::{DataflowJob, HandlerResult, Job, JobConfig, JobScheduler, EmbeddedServer, RegistryCenter, ShardingContext};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Orders waiting to be exported, one queue per item (shard).
struct Exporter {
    queues: Arc<Vec<Mutex<VecDeque<u32>>>>,
}

#[async_trait::async_trait]
impl DataflowJob for Exporter {
    type Item = u32;

    async fn fetch(&self, ctx: &ShardingContext) -> HandlerResult<Vec<u32>> {
        let mut queue = self.queues[ctx.sharding_item as usize].lock().unwrap();
        let take = queue.len().min(3);
        Ok(queue.drain(..take).collect())
    }

    async fn process(&self, ctx: &ShardingContext, orders: Vec<u32>) -> HandlerResult {
        println!("item {} exported orders {orders:?}", ctx.sharding_item);
        Ok(())
    }
}

#[tokio::main]
async fn main() -> elasticjob::Result<()> {
    let queues: Arc<Vec<Mutex<VecDeque<u32>>>> =
        Arc::new((0..4).map(|item| Mutex::new((0..7).map(|n| item * 100 + n).collect())).collect());
    let server = EmbeddedServer::new();
    let mut config = JobConfig::new("export-orders", "* * * * * ?", 4);
    config.props.insert("streaming.process".into(), "true".into());
    let mut schedulers = Vec::new();
    for n in 1..=2 {
        let job = Job::dataflow(Exporter { queues: queues.clone() });
        let scheduler = JobScheduler::builder(RegistryCenter::embedded_on(&server, "examples"), config.clone(), job)
            .instance_id(format!("127.0.0.1@-@dataflow-{n}"))
            .build()?;
        scheduler.start().await?;
        schedulers.push(scheduler);
    }
    for _ in 0..50 {
        if queues.iter().all(|q| q.lock().unwrap().is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for scheduler in schedulers {
        scheduler.shutdown().await;
    }
    let left: usize = queues.iter().map(|q| q.lock().unwrap().len()).sum();
    println!("done: {left} orders left");
    Ok(())
}
