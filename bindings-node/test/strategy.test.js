'use strict'
// Sharding strategies of your own on a real ZooKeeper, and executor types.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { JobScheduler, ZookeeperRegistry, EmbeddedRegistry } = require('..')
const h = require('./helpers.js')

async function waitUntil(what, condition, ms = 10000) {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (condition()) return
    await h.sleep(50)
  }
  assert.fail(`${what}: not within ${ms} ms`)
}

// Every item to the instance ending in "-b": no built-in strategy does that.
function toB(instances, total) {
  const chosen = instances.find((id) => id.endsWith('-b'))
  return { [chosen]: Array.from({ length: total }, (_, i) => i) }
}

test('a JS strategy (sync or async) decides who runs what across schedulers', async () => {
  const zk = await h.startZookeeper()
  const runs = []
  const config = { jobName: 'custom', cron: '* * * * * ?', shardingTotalCount: 4, jobShardingStrategyType: 'TO_B', overwrite: true }
  const schedulers = ['a', 'b', 'c'].map((name, n) => new JobScheduler({
    registry: new ZookeeperRegistry({ servers: zk.connect, namespace: 'node-strategy' }),
    config,
    instanceId: `127.0.0.1@-@node-${name}`,
    handler: (ctx) => { runs.push([ctx.shardingItem, name]) },
    // One instance answers with a Promise: whichever leads, the answer is the same.
    shardingStrategies: { TO_B: n === 0 ? async (instances, total) => toB(instances, total) : toB },
  }))
  try {
    for (const s of schedulers) await s.start()
    await h.sleep(1500)
    runs.length = 0
    await waitUntil('every item ran', () => new Set(runs.map((r) => r[0])).size === 4)
  } finally {
    for (const s of schedulers) await s.shutdown()
    await zk.close()
  }
  assert.deepEqual([...new Set(runs.map((r) => r[1]))], ['b'])
})

test('a wrong answer or a throw is reported as an error event and nothing runs', async () => {
  const zk = await h.startZookeeper()
  for (const [name, strategy, expected] of [
    ['TWICE', (instances) => ({ [instances[0]]: [0, 0] }), 'item 0 twice'],
    ['THROWS', () => { throw new Error('no capacity data') }, 'no capacity data'],
    ['NOT_NUMBERS', (instances) => ({ [instances[0]]: ['zero'] }), 'not an object of instance id to an array of items'],
    ['REJECTS', async () => { throw new Error('async refusal') }, 'async refusal'],
  ]) {
    const runs = []
    const errors = []
    const scheduler = new JobScheduler({
      registry: new ZookeeperRegistry({ servers: zk.connect, namespace: `node-strategy-${name}` }),
      config: { jobName: 'custom', cron: '* * * * * ?', shardingTotalCount: 1, jobShardingStrategyType: name },
      handler: (ctx) => { runs.push(ctx.shardingItem) },
      shardingStrategies: { [name]: strategy },
    })
    scheduler.on('error', (event) => errors.push(event.error))
    await scheduler.start()
    try {
      await waitUntil(`${name} was reported`, () => errors.some((e) => e.includes(`\`${name}\``) && e.includes(expected)))
      await h.sleep(1200)
    } finally {
      await scheduler.shutdown()
    }
    assert.deepEqual(runs, [], `${name}: a refused assignment runs nothing`)
  }
  await zk.close()
})

test('a Promise-returning strategy is awaited', async () => {
  const scheduler = new JobScheduler({
    registry: new EmbeddedRegistry({ namespace: 'node-strategy-async' }),
    config: { jobName: 'j', shardingTotalCount: 2, jobShardingStrategyType: 'ASYNC' },
    handler: () => {},
    shardingStrategies: { ASYNC: async (instances, total) => { await h.sleep(10); return { [instances[0]]: [...Array(total).keys()] } } },
  })
  const sharded = new Promise((resolve) => scheduler.once('sharding', resolve))
  await scheduler.start()
  try {
    await scheduler.trigger()
    const event = await sharded
    assert.deepEqual(event.assignment, { [scheduler.instanceId]: [0, 1] })
  } finally {
    await scheduler.shutdown()
  }
})

test('an unregistered strategy type or a non-function fails the constructor', () => {
  const registry = new EmbeddedRegistry({ namespace: 'node-strategy-none' })
  assert.throws(
    () => new JobScheduler({ registry, config: { jobName: 'j', shardingTotalCount: 1, jobShardingStrategyType: 'NOWHERE' }, handler: () => {} }),
    /jobShardingStrategyType.*NOWHERE/,
  )
  assert.throws(
    () => new JobScheduler({ registry, config: { jobName: 'j', shardingTotalCount: 1 }, handler: () => {}, shardingStrategies: { X: 1 } }),
    /shardingStrategies\.X/,
  )
})

async function mostInFlight(executor) {
  let now = 0
  let most = 0
  let done = 0
  const scheduler = new JobScheduler({
    registry: new EmbeddedRegistry({ namespace: `node-pool-${executor}` }),
    config: { jobName: 'pool', shardingTotalCount: 4, jobExecutorServiceHandlerType: executor },
    handler: async () => {
      now += 1
      most = Math.max(most, now)
      await h.sleep(150)
      now -= 1
      done += 1
    },
  })
  await scheduler.start()
  try {
    await scheduler.trigger()
    await waitUntil('every item ran', () => done === 4)
  } finally {
    await scheduler.shutdown()
  }
  return most
}

test('SINGLE_THREAD runs items one at a time, CPU overlaps them', async () => {
  assert.equal(await mostInFlight('SINGLE_THREAD'), 1)
  assert.ok((await mostInFlight('CPU')) >= 2)
  assert.throws(
    () => new JobScheduler({ registry: new EmbeddedRegistry({ namespace: 'x' }), config: { jobName: 'j', shardingTotalCount: 1, jobExecutorServiceHandlerType: 'GPU' }, handler: () => {} }),
    /jobExecutorServiceHandlerType.*GPU/,
  )
})
