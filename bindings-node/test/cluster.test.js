'use strict'
// Node workers on a real ZooKeeper: sharing, failover, rejected Promises.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { JobScheduler, ZookeeperRegistry } = require('..')
const h = require('./helpers.js')

function args(zk, ledger, job, items, cron, extra = {}) {
  const list = ['--zk', zk, '--namespace', 'node-tests', '--job', job, '--items', String(items), '--cron', cron, '--ledger', ledger]
  for (const [k, v] of Object.entries(extra)) list.push(`--${k}`, String(v))
  return list
}

function tempLedger() {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ej-node-')), 'ledger.jsonl')
}

test('two node workers share a job, each (item, fire) exactly once', async () => {
  const zk = await h.startZookeeper()
  const ledger = tempLedger()
  const workers = [
    await h.startWorker(args(zk.connect, ledger, 'share', 4, '* * * * * ?', { 'sleep-ms': 50 })),
    await h.startWorker(args(zk.connect, ledger, 'share', 4, '* * * * * ?', { 'sleep-ms': 50 })),
  ]
  const ready = Date.now()
  await h.sleep(7000)
  const done = Date.now()
  await Promise.all(workers.map((w) => w.terminate()))
  await zk.close()
  const fires = h.firesBetween(ready + 1000, done - 1500, 1000)
  assert.ok(fires.length >= 4)
  h.checkLedger(ledger, 'share', 4, fires)
  assert.equal(new Set(h.readLedger(ledger).map((e) => e.instance)).size, 2)
})

test('a killed node worker\'s items move to the other', async () => {
  const zk = await h.startZookeeper()
  const ledger = tempLedger()
  const opts = { 'sleep-ms': 2500 }
  const survivor = await h.startWorker(args(zk.connect, ledger, 'failover', 4, '0/4 * * * * ?', opts))
  const victim = await h.startWorker(args(zk.connect, ledger, 'failover', 4, '0/4 * * * * ?', opts))
  await h.waitFor(() => h.readLedger(ledger).some((e) => e.instance === victim.instanceId), 20000, 'the victim to start')
  const fire = h.readLedger(ledger).find((e) => e.instance === victim.instanceId).fire
  await h.sleep(500)
  await victim.kill9()
  const victimItems = h.readLedger(ledger).filter((e) => e.instance === victim.instanceId && e.fire === fire).map((e) => e.item)
  await h.waitFor(() => victimItems.every((item) => h.readLedger(ledger).some(
    (e) => e.item === item && e.fire === fire && e.phase === 'end' && e.instance === survivor.instanceId)), 15000, 'failover')
  await survivor.terminate()
  await zk.close()
  h.checkLedger(ledger, 'failover', 4, [fire], [victim.instanceId])
})

test('a rejected promise is reported and later fires still run', async () => {
  const zk = await h.startZookeeper()
  const registry = new ZookeeperRegistry({ servers: zk.connect, namespace: 'node-errors', sessionTimeoutMs: 2000 })
  const ran = []
  const failures = []
  const scheduler = new JobScheduler({
    registry,
    config: { jobName: 'flaky', cron: '* * * * * ?', shardingTotalCount: 2 },
    handler: async (ctx) => {
      if (ctx.shardingItem === 0) throw new TypeError('item zero is broken')
      ran.push(ctx.fireTime)
    },
  })
  scheduler.on('execution', (e) => { if (!e.success) failures.push(e) })
  await scheduler.start()
  await h.sleep(3500)
  await scheduler.shutdown()
  await zk.close()
  assert.ok(new Set(ran).size >= 3, `later fires ran: ${ran}`)
  assert.ok(failures.length >= 2)
  assert.ok(failures.every((f) => f.item === 0))
  assert.ok(failures[0].error instanceof TypeError, 'the error the handler threw')
  assert.equal(failures[0].error.message, 'item zero is broken')
  assert.match(failures[0].error.stack, /cluster\.test\.js/, 'the stack is kept')
  assert.equal(failures[0].jobName, 'flaky')
  assert.equal(failures[0].outcome, 'failed')
})
