'use strict'
// A Node test worker: joins a job on ZooKeeper and appends every item run to
// the execution ledger. Prints `ready <instance-id>`; SIGTERM shuts it down
// (the binding's default: leave the cluster, then exit).
const fs = require('node:fs')
const { parseArgs } = require('node:util')
const { JobScheduler, ZookeeperRegistry, fromYaml } = require('..')

const { values } = parseArgs({
  options: {
    zk: { type: 'string' }, namespace: { type: 'string' }, job: { type: 'string' },
    items: { type: 'string' }, cron: { type: 'string' }, ledger: { type: 'string' },
    'sleep-ms': { type: 'string', default: '100' }, 'session-timeout-ms': { type: 'string', default: '2000' },
    'fail-item': { type: 'string' }, lang: { type: 'string', default: 'node' }, 'config-yaml': { type: 'string' },
  },
})

async function main() {
  const registry = new ZookeeperRegistry({ servers: values.zk, namespace: values.namespace, sessionTimeoutMs: Number(values['session-timeout-ms']) })
  const config = values['config-yaml']
    ? fromYaml(fs.readFileSync(values['config-yaml'], 'utf8'))
    : { jobName: values.job, cron: values.cron, shardingTotalCount: Number(values.items), failover: true, overwrite: true }
  let instance = ''
  const record = (phase, ctx) => fs.appendFileSync(values.ledger, JSON.stringify({
    phase, job: ctx.jobName, item: ctx.shardingItem, fire: ctx.fireTimeKnown ? ctx.fireTime : -1, instance, lang: values.lang, at: Date.now(),
  }) + '\n')
  const scheduler = new JobScheduler({
    registry, config,
    handler: async (ctx) => {
      record('start', ctx)
      await new Promise((resolve) => setTimeout(resolve, Number(values['sleep-ms'])))
      if (values['fail-item'] !== undefined && ctx.shardingItem === Number(values['fail-item'])) {
        throw new Error(`planted failure in item ${ctx.shardingItem}`)
      }
      record('end', ctx)
    },
  })
  instance = scheduler.instanceId
  await scheduler.start()
  process.stdout.write(`ready ${instance}\n`)
}

main().catch((error) => { console.error(error); process.exit(1) })
