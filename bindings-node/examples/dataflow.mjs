// A dataflow job: each item drains its own shard of a queue, batch by batch
// (`streaming.process` keeps fetching until a batch is empty). Two
// instances share four items on the embedded registry (no server).
//   node examples/dataflow.mjs
import { EmbeddedRegistry, JobScheduler } from 'elasticjob'

const queues = [0, 1, 2, 3].map((item) => Array.from({ length: 7 }, (_, n) => item * 100 + n))
const registry = new EmbeddedRegistry({ namespace: 'examples' })
const config = { jobName: 'export-orders', cron: '* * * * * ?', shardingTotalCount: 4, props: { 'streaming.process': 'true' } }
const schedulers = [1, 2].map((n) => new JobScheduler({
  registry,
  config,
  instanceId: `127.0.0.1@-@dataflow-${n}`,
  fetch: (ctx) => queues[ctx.shardingItem].splice(0, 3),
  process: (ctx, orders) => { console.log(`item ${ctx.shardingItem} exported orders [${orders.join(', ')}]`) },
}))
for (const scheduler of schedulers) await scheduler.start()
for (let i = 0; i < 50 && queues.some((q) => q.length > 0); i++) await new Promise((r) => setTimeout(r, 100))
for (const scheduler of schedulers) await scheduler.shutdown()
console.log(`done: ${queues.reduce((n, q) => n + q.length, 0)} orders left`)
