'use strict'
// Job listeners, one-off jobs and monitorExecution: false through the built
// package, on a real ZooKeeper.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const ej = require('..')
const { startZookeeper } = require('./helpers')

let zk
before(async () => { zk = await startZookeeper() })
after(async () => { await zk.close() })

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const registry = (namespace) => new ej.ZookeeperRegistry({ servers: zk.connect, namespace, sessionTimeoutMs: 5000 })

test('listeners run per instance per fire and the once-listener once across the cluster', async () => {
  const log = []
  const errors = []
  const config = { jobName: 'node-listened', cron: '* * * * * ?', shardingTotalCount: 4 }
  const schedulers = [0, 1].map((n) => {
    const name = `w${n}`
    const items = (contexts) => Object.keys(contexts.shardingItemParameters).map(Number).sort()
    const scheduler = new ej.JobScheduler({
      registry: registry('node-listeners'),
      config,
      instanceId: `127.0.0.1@-@node-${n}`,
      handler: async (ctx) => { log.push([name, 'run', ctx.fireTime, [ctx.shardingItem]]); await sleep(50) },
      listeners: [{
        beforeJobExecuted: (contexts) => { log.push([name, 'before', contexts.fireTime, items(contexts)]) },
        afterJobExecuted: async (contexts) => {
          log.push([name, 'after', contexts.fireTime, items(contexts)])
          throw new Error('listener errors are only reported')
        },
      }],
      onceListeners: [{
        startedTimeoutMilliseconds: 3000,
        completedTimeoutMilliseconds: 3000,
        doBeforeJobExecutedAtLastStarted: (contexts) => { log.push([name, 'once-before', contexts.fireTime, null]) },
        doAfterJobExecutedAtLastCompleted: (contexts) => { log.push([name, 'once-after', contexts.fireTime, null]) },
      }],
    })
    scheduler.on('error', (e) => errors.push(e.error))
    return scheduler
  })
  for (const s of schedulers) await s.start()
  await sleep(5500)
  for (const s of schedulers) await s.shutdown()
  await sleep(300)
  const runs = new Map()
  for (const [name, what, fire, items] of log) {
    if (what !== 'run') continue
    if (!runs.has(fire)) runs.set(fire, new Map())
    const byName = runs.get(fire)
    byName.set(name, [...(byName.get(name) || []), ...items])
  }
  const whole = [...runs].filter(([, byName]) => byName.size === 2 && [...byName.values()].flat().length === 4)
  assert.ok(whole.length >= 3, `whole fires: ${JSON.stringify([...runs])}`)
  for (const [fire, byName] of whole) {
    for (const [name, items] of byName) {
      for (const what of ['before', 'after']) {
        const calls = log.filter((e) => e[0] === name && e[1] === what && e[2] === fire)
        assert.equal(calls.length, 1, `${fire} ${name} ${what}`)
        assert.deepEqual(calls[0][3], [...items].sort(), 'one call with all of the instance items')
      }
    }
    for (const what of ['once-before', 'once-after']) {
      assert.equal(log.filter((e) => e[1] === what && e[2] === fire).length, 1, `${fire} ${what}`)
    }
  }
  assert.ok(errors.some((e) => e.includes('listener errors are only reported')), JSON.stringify(errors))
})

test('a once-listener needs positive integer timeouts', () => {
  const options = (once) => ({ registry: registry('node-listeners'), config: { jobName: 'bad-once', shardingTotalCount: 1 }, handler: () => {}, onceListeners: [once] })
  assert.throws(() => new ej.JobScheduler(options({ startedTimeoutMilliseconds: 0, completedTimeoutMilliseconds: 10 })), /startedTimeoutMilliseconds `0`/)
  assert.throws(() => new ej.JobScheduler(options({ startedTimeoutMilliseconds: 10 })), /completedTimeoutMilliseconds `undefined`/)
  assert.throws(() => new ej.JobScheduler({ ...options({ startedTimeoutMilliseconds: 10, completedTimeoutMilliseconds: 10 }), listeners: [null] }), /invalid listener/)
})

test('a one-off job runs every instance items once per execute and rejects a cron', async () => {
  const runs = []
  const config = { jobName: 'node-one-off', shardingTotalCount: 4 }
  const schedulers = [0, 1].map((n) => new ej.OneOffJobScheduler({
    registry: registry('node-one-off'), config, instanceId: `127.0.0.1@-@one-${n}`,
    handler: (ctx) => { runs.push(ctx.shardingItem) },
  }))
  for (const s of schedulers) await s.start()
  try {
    await sleep(1500)
    assert.deepEqual(runs, [], 'nothing runs before execute()')
    await schedulers[1].execute()
    const deadline = Date.now() + 10000
    while (runs.length < 4 && Date.now() < deadline) await sleep(50)
    await sleep(500)
    assert.deepEqual([...runs].sort(), [0, 1, 2, 3])
  } finally {
    for (const s of schedulers) await s.shutdown()
  }
  assert.throws(() => new ej.OneOffJobScheduler({
    registry: registry('node-one-off'), config: { jobName: 'x', cron: '* * * * * ?', shardingTotalCount: 1 }, handler: () => {},
  }), /cron `\* \* \* \* \* \?`.*one-off/)
})

test('without monitorExecution no item shows running and failover is refused', async () => {
  assert.throws(() => new ej.JobScheduler({
    registry: registry('node-unmonitored'),
    config: { jobName: 'both', cron: '* * * * * ?', shardingTotalCount: 1, failover: true, monitorExecution: false },
    handler: () => {},
  }), /monitorExecution `false`.*failover/)
  let ran = 0
  const scheduler = new ej.JobScheduler({
    registry: registry('node-unmonitored'),
    config: { jobName: 'node-unmonitored', cron: '* * * * * ?', shardingTotalCount: 2, monitorExecution: false },
    handler: async () => { ran += 1; await sleep(600) },
  })
  const operator = new ej.Operator(registry('node-unmonitored'))
  await scheduler.start()
  try {
    const deadline = Date.now() + 3500
    while (Date.now() < deadline) {
      const states = (await operator.items('node-unmonitored')).map((i) => i.state)
      assert.ok(!states.includes('RUNNING'), JSON.stringify(states))
      await sleep(50)
    }
  } finally {
    await scheduler.shutdown()
  }
  assert.ok(ran >= 4, `ran ${ran}`)
})
