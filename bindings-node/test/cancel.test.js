'use strict'
// Telling handlers to stop (ctx.signal, an AbortSignal), ctx.fencingToken,
// and absurd options that must be clear errors, never a crash.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const ej = require('..')
const native = require('../native.js')
const { sleep, waitFor } = require('./helpers')

function timedScheduler(namespace, handler, items = 1) {
  const scheduler = new ej.JobScheduler({
    registry: new ej.EmbeddedRegistry({ namespace }),
    config: { jobName: namespace, shardingTotalCount: items, props: { executionTimeoutMillis: '300' } },
    handler,
  })
  const executions = []
  scheduler.on('execution', (event) => executions.push(event))
  return { scheduler, executions }
}

test('the context has a bigint fencing token and an AbortSignal that is not aborted', async () => {
  const seen = []
  const scheduler = new ej.JobScheduler({
    registry: new ej.EmbeddedRegistry({ namespace: 'node-ctx' }),
    config: { jobName: 'ctx', shardingTotalCount: 2 },
    handler: (ctx) => { seen.push(ctx) },
  })
  await scheduler.start()
  await scheduler.trigger()
  await waitFor(() => seen.length === 2, 5000, 'both items')
  await scheduler.shutdown()
  for (const ctx of seen) {
    assert.equal(typeof ctx.fencingToken, 'bigint')
    assert.ok(ctx.fencingToken >= 0n)
    assert.ok(ctx.signal instanceof AbortSignal)
    assert.equal(ctx.signal.aborted, false)
  }
  assert.notEqual(seen[0].signal, seen[1].signal, 'one signal per handler call')
})

test('a timed-out async handler sees ctx.signal aborted with the reason', async () => {
  const observed = {}
  const { scheduler, executions } = timedScheduler('node-timeout', async (ctx) => {
    const started = Date.now()
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, 5000)
      ctx.signal.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
    })
    Object.assign(observed, { aborted: ctx.signal.aborted, reason: ctx.signal.reason, took: Date.now() - started })
    ctx.signal.throwIfAborted()
  })
  await scheduler.start()
  try {
    await scheduler.trigger()
    await waitFor(() => executions.length === 1, 10000, 'the execution event')
    assert.equal(executions[0].success, false)
    assert.ok(executions[0].error instanceof ej.CancelledError, String(executions[0].error))
    assert.equal(executions[0].error.name, 'TimeoutError')
    assert.equal(executions[0].outcome, 'timed-out')
    await waitFor(() => 'aborted' in observed, 10000, 'the handler to return')
  } finally {
    await scheduler.shutdown()
  }
  assert.equal(observed.aborted, true, `the handler ran ${observed.took} ms and was never told to stop`)
  assert.ok(observed.reason instanceof ej.CancelledError)
  assert.equal(observed.reason.reason, 'timed-out')
  assert.equal(observed.reason.name, 'TimeoutError')
  assert.ok(observed.took < 3000, `took ${observed.took} ms`)
})

test('a handler polling ctx.signal.aborted stops after the timeout', async () => {
  const observed = {}
  const { scheduler, executions } = timedScheduler('node-poll', async (ctx) => {
    const started = Date.now()
    while (!ctx.signal.aborted && Date.now() - started < 5000) await sleep(10)
    Object.assign(observed, { aborted: ctx.signal.aborted, took: Date.now() - started })
  })
  await scheduler.start()
  try {
    await scheduler.trigger()
    await waitFor(() => executions.length === 1 && 'aborted' in observed, 10000, 'the handler to return')
  } finally {
    await scheduler.shutdown()
  }
  assert.equal(executions[0].error.reason, 'timed-out')
  assert.equal(observed.aborted, true, `ran ${observed.took} ms unaware`)
})

test('fencing tokens are positive and grow across fires', async () => {
  const tokens = []
  const scheduler = new ej.JobScheduler({
    registry: new ej.EmbeddedRegistry({ namespace: 'node-fence' }),
    config: { jobName: 'fence', shardingTotalCount: 1 },
    handler: (ctx) => { tokens.push(ctx.fencingToken) },
  })
  let finished = 0
  scheduler.on('execution', () => { finished++ })
  await scheduler.start()
  try {
    for (let n = 1; n <= 3; n++) {
      await scheduler.trigger()
      await waitFor(() => finished === n, 5000, `run ${n}`)
    }
  } finally {
    await scheduler.shutdown()
  }
  assert.ok(tokens.every((t) => t > 0n), String(tokens))
  assert.ok(tokens.every((t, i) => i === 0 || t > tokens[i - 1]), `tokens must grow: ${tokens}`)
})

const ABSURD = [1e300, NaN, -1, Infinity, -Infinity, 0, 600001]

test('absurd registry timeouts are RangeErrors naming the option', () => {
  for (const option of ['sessionTimeoutMs', 'connectionTimeoutMs']) {
    for (const value of ABSURD) {
      assert.throws(() => new ej.ZookeeperRegistry({ servers: '127.0.0.1:1', namespace: 'ns', [option]: value }),
        (error) => error instanceof RangeError && error.message.includes(option), `${option}: ${value}`)
    }
    assert.throws(() => new ej.ZookeeperRegistry({ servers: '127.0.0.1:1', namespace: 'ns', [option]: '5000' }),
      (error) => error instanceof TypeError && error.message.includes(option))
  }
  new ej.ZookeeperRegistry({ servers: '127.0.0.1:1', namespace: 'ns', sessionTimeoutMs: 600000, connectionTimeoutMs: 1.5 })
})

test('the native module itself refuses absurd timeouts without crashing', () => {
  for (const value of ABSURD) {
    assert.throws(() => native.NativeRegistry.zookeeper('127.0.0.1:1', 'ns', value), /sessionTimeoutMs/)
    assert.throws(() => native.NativeRegistry.zookeeper('127.0.0.1:1', 'ns', undefined, value), /connectionTimeoutMs/)
  }
})

test('absurd maxParallel is a RangeError naming the option', () => {
  for (const value of [1e300, NaN, -1, Infinity, 0, 1.5]) {
    assert.throws(() => new ej.JobScheduler({ registry: new ej.EmbeddedRegistry(), config: { jobName: 'j', shardingTotalCount: 1 }, handler: () => {}, maxParallel: value }),
      (error) => error instanceof RangeError && error.message.includes('maxParallel'), String(value))
  }
})

test('item counts above the maximum and non-integers are errors naming shardingTotalCount', () => {
  for (const count of [2147483647, 100001]) {
    assert.throws(() => ej.jobConfig({ jobName: 'huge', shardingTotalCount: count }), new RegExp(`shardingTotalCount \`${count}\``))
    assert.throws(() => new ej.JobScheduler({ registry: new ej.EmbeddedRegistry(), config: { jobName: 'huge', shardingTotalCount: count }, handler: () => {} }), /shardingTotalCount/)
    assert.throws(() => ej.fromYaml(`jobName: huge\nshardingTotalCount: ${count}\n`), new RegExp(String(count)))
  }
  for (const count of [1e300, NaN, Infinity, 2.5]) {
    assert.throws(() => ej.jobConfig({ jobName: 'huge', shardingTotalCount: count }), (error) => error instanceof RangeError && /shardingTotalCount/.test(error.message), String(count))
  }
  assert.throws(() => ej.jobConfig({ jobName: 'huge', shardingTotalCount: '4' }), (error) => error instanceof TypeError && /shardingTotalCount/.test(error.message))
  assert.equal(ej.jobConfig({ jobName: 'big', shardingTotalCount: 100000 }).shardingTotalCount, 100000)
})

test('a timed-out handler that ignores the signal is never started again until it returns', async () => {
  // Scenario j: JS code cannot be stopped from outside; the core aborts the
  // signal at the timeout and keeps the item running until the promise settles.
  let running = 0
  let most = 0
  const runs = []
  const scheduler = new ej.JobScheduler({
    registry: new ej.EmbeddedRegistry({ namespace: 'node-never-doubled' }),
    config: { jobName: 'never-doubled', cron: '* * * * * ?', shardingTotalCount: 1, props: { executionTimeoutMillis: '200' } },
    handler: async (ctx) => {
      running += 1
      most = Math.max(most, running)
      const started = Date.now()
      await sleep(1500) // ignores ctx.signal on purpose
      running -= 1
      runs.push({ started, ended: Date.now(), reason: ctx.signal.reason && ctx.signal.reason.reason })
    },
  })
  await scheduler.start()
  try {
    await waitFor(() => runs.length >= 2, 10000, 'two runs of the item')
  } finally {
    await scheduler.shutdown()
  }
  assert.equal(most, 1, JSON.stringify(runs))
  runs.sort((a, b) => a.started - b.started)
  for (let n = 1; n < runs.length; n++) {
    assert.ok(runs[n].started >= runs[n - 1].ended, `a run started before the timed-out one returned: ${JSON.stringify(runs)}`)
  }
  assert.equal(runs[0].reason, 'timed-out')
})
