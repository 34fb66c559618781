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

test('operator backfills a range and lists its progress', async () => {
  const registry = new ej.EmbeddedRegistry({ namespace: 'backfill' })
  const ran = []
  const to = new Date(Math.floor(Date.now() / 3600_000) * 3600_000)
  const scheduler = new ej.JobScheduler({
    registry, config: { jobName: 'hourly', cron: '0 0 * * * ?', shardingTotalCount: 2 },
    // (A cron fire at the top of an hour the test crosses is no backfill run.)
    handler: (ctx) => { if (ctx.fireTime < to.getTime()) ran.push(`${ctx.shardingItem}@${ctx.fireTime}`) },
  })
  await scheduler.start()
  const operator = new ej.Operator(registry)
  const from = new Date(to.getTime() - 3 * 3600_000)
  const id = await operator.backfill('hourly', { from, to, by: 'ops' })
  let listed = []
  for (let n = 0; n < 200; n++) {
    listed = await operator.backfills('hourly')
    if (listed.every((b) => b.done) && ran.length >= 6) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  assert.deepEqual(listed.map((b) => [b.id, b.by, b.fires, b.started, b.total, b.done, b.to.getTime()]), [[id, 'ops', 3, 6, 6, true, to.getTime()]])
  const hours = [3, 2, 1].map((h) => to.getTime() - h * 3600_000)
  assert.deepEqual(ran.sort(), [0, 1].flatMap((item) => hours.map((hour) => `${item}@${hour}`)).sort())
  assert.throws(() => operator.backfill('hourly', { from: 'yesterday' }), /from must be a valid Date/)
  await assert.rejects(operator.backfill('hourly', { from: to, to: new Date(Date.now() + 86_400_000) }), /to `.*`: must not be in the future/)
  await operator.cancelBackfill('hourly', id)
  assert.deepEqual(await operator.backfills('hourly'), [])
  await assert.rejects(operator.cancelBackfill('hourly', id), /is not a backfill of this job/)
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
