// A Node worker for the README: joins job "orders" and prints each item it
// runs. Start several (next to Python, C and Rust workers) to watch the
// items spread:  node examples/worker.js 127.0.0.1:2181
'use strict'
const { JobScheduler, ZookeeperRegistry } = require('..')

async function main() {
  const registry = new ZookeeperRegistry({ servers: process.argv[2] || '127.0.0.1:2181', namespace: 'elasticjob-demo' })
  const scheduler = new JobScheduler({
    registry,
    config: {
      jobName: 'orders',
      cron: '0/5 * * * * ?',
      shardingTotalCount: 4,
      shardingItemParameters: '0=Beijing,1=Shanghai,2=Guangzhou,3=Shenzhen',
      failover: true,
    },
    handler: async (ctx) => {
      console.log(`fire ${ctx.fireTime}: item ${ctx.shardingItem} (${ctx.shardingParameter})`)
    },
  })
  scheduler.on('execution', (e) => { if (!e.success) console.error(`item ${e.item} failed: ${e.error}`) })
  await scheduler.start()
  console.log(`instance ${scheduler.instanceId} joined job orders`)
  process.once('SIGINT', () => scheduler.shutdown())
  process.once('SIGTERM', () => scheduler.shutdown())
}

main().catch((error) => { console.error(error); process.exit(1) })
