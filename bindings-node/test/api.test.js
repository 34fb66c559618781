'use strict'
// The Node API itself: configuration errors, YAML, dataflow, operator, ESM, clean exit.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const ej = require('..')

test('bad configuration throws naming the field and value', () => {
  assert.throws(() => ej.jobConfig({ jobName: 'j', shardingTotalCount: -4 }), /shardingTotalCount `-4`/)
  assert.throws(() => ej.jobConfig({ jobName: 'a/b', shardingTotalCount: 1 }), /jobName `a\/b`/)
  assert.throws(() => ej.jobConfig({ jobName: 'j', cron: '61 * * * * ?', shardingTotalCount: 1 }), /cron/)
  assert.throws(() => new ej.JobScheduler({ registry: new ej.EmbeddedRegistry(), config: { jobName: 'j', shardingTotalCount: 0 }, handler: () => {} }), /shardingTotalCount/)
  assert.throws(() => new ej.JobScheduler({ registry: {}, config: {}, handler: () => {} }), /registry/)
})

test('defaults and YAML round trip use ElasticJob keys', () => {
  const config = ej.jobConfig({ jobName: 'orders', cron: '0/5 * * * * ?', shardingTotalCount: 3, shardingItemParameters: '0=a,1=b,2=c' })
  assert.equal(config.monitorExecution, true)
  assert.equal(config.maxTimeDiffSeconds, -1)
  assert.equal(config.reconcileIntervalMinutes, 10)
  const yaml = ej.toYaml(config)
  assert.match(yaml, /shardingTotalCount: 3/)
  assert.deepEqual(ej.fromYaml(yaml), config)
})

test('dataflow streams batches until fetch returns nothing', async () => {
  const batches = [[{ id: 1 }, { id: 2 }], [{ id: 3 }]]
  const processed = []
  const scheduler = new ej.JobScheduler({
    registry: new ej.EmbeddedRegistry({ namespace: 'df' }),
    config: { jobName: 'feed', shardingTotalCount: 1, props: { 'streaming.process': 'true' } },
    fetch: async () => batches.shift() || [],
    process: async (ctx, items) => { processed.push(...items.map((i) => i.id)) },
  })
  await scheduler.start()
  await scheduler.trigger()
  const deadline = Date.now() + 5000
  while (processed.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  await scheduler.shutdown()
  assert.deepEqual(processed, [1, 2, 3])
})

test('operator triggers, disables items and lists jobs', async () => {
  const registry = new ej.EmbeddedRegistry({ namespace: 'ops' })
  const ran = []
  const scheduler = new ej.JobScheduler({ registry, config: { jobName: 'manual', shardingTotalCount: 2 }, handler: (ctx) => { ran.push(ctx.shardingItem) } })
  const sharded = []
  scheduler.on('sharding', (event) => sharded.push(event))
  await scheduler.start()
  const operator = new ej.Operator(registry)
  assert.deepEqual((await operator.jobs()).map((j) => j.jobName), ['manual'])
  await operator.disableItem('manual', 1)
  await operator.trigger('manual')
  const deadline = Date.now() + 5000
  while (ran.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  await new Promise((r) => setTimeout(r, 300))
  assert.deepEqual(ran, [0])
  assert.equal((await operator.items('manual'))[1].state, 'DISABLED')
  await operator.trigger('manual', { overlap: 'CANCEL_OTHER' })
  const again = Date.now() + 5000
  while (ran.length < 2 && Date.now() < again) await new Promise((r) => setTimeout(r, 50))
  assert.deepEqual(ran, [0, 0], 'an override trigger runs idle items')
  await assert.rejects(operator.trigger('manual', { overlap: 'now' }), /overlapPolicy `now`/)
  await assert.rejects(operator.trigger('missing'), /jobName `missing`/)
  assert.deepEqual(sharded[0].assignment, { [scheduler.instanceId]: [0, 1] }, 'the leader reports its resharding')
  await scheduler.shutdown()
})

test('operator pauses a job with a note and resumes it', async () => {
  const registry = new ej.EmbeddedRegistry({ namespace: 'pause' })
  const scheduler = new ej.JobScheduler({ registry, config: { jobName: 'nightly', cron: '0 0 3 * * ?', shardingTotalCount: 1 }, handler: () => {} })
  await scheduler.start()
  const operator = new ej.Operator(registry)
  const until = new Date(Date.now() + 3600 * 1000)
  await operator.pause('nightly', { reason: 'quarterly close', by: 'ops', until })
  const note = await operator.pauseNote('nightly')
  assert.deepEqual([note.by, note.reason, note.until.getTime()], ['ops', 'quarterly close', until.getTime()])
  assert.ok(note.at instanceof Date)
  const [job] = await operator.jobs()
  assert.equal(job.status, 'PAUSED')
  assert.deepEqual(job.pause, note)
  assert.throws(() => operator.pause('nightly', { until: 'tomorrow' }), /until must be a valid Date/)
  await assert.rejects(operator.pause('nightly', { until: new Date(Date.now() - 60000) }), /until `.*`: must be in the future/)
  assert.equal(await operator.resume('nightly'), true)
  assert.equal(await operator.resume('nightly'), false)
  assert.equal(await operator.pauseNote('nightly'), null)
  assert.equal((await operator.jobs())[0].pause, null)
  await scheduler.shutdown()
})

test('ESM import works and the process exits by itself after shutdown', () => {
  const script = `
    import { JobScheduler, EmbeddedRegistry } from ${JSON.stringify(path.resolve(__dirname, '..', 'index.mjs'))}
    const s = new JobScheduler({ registry: new EmbeddedRegistry(), config: { jobName: 'esm', cron: '* * * * * ?', shardingTotalCount: 1 }, handler: async () => {} })
    await s.start()
    await new Promise((r) => setTimeout(r, 1200))
    await s.shutdown()
    console.log('shut down')`
  const started = Date.now()
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20000 })
  assert.equal(result.status, 0, result.stderr)
  assert.match(result.stdout, /shut down/)
  assert.ok(Date.now() - started < 10000, 'no handle kept the loop alive')
})

test('TypeScript users compile against index.d.ts', () => {
  const tsc = path.resolve(__dirname, '..', 'node_modules', '.bin', 'tsc')
  const result = spawnSync(tsc, ['--noEmit', '-p', path.join(__dirname, 'tsconfig.json')], { encoding: 'utf8' })
  assert.equal(result.status, 0, result.stdout + result.stderr)
})
