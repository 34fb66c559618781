'use strict'
// Worker metrics from Node: the scheduler's snapshot and the process's
// /metrics endpoint, after real executions on a real ZooKeeper, agree with
// the executions the scheduler reported.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const ej = require('..')
const { startZookeeper } = require('./helpers')

function get(address, path) {
  return new Promise((resolve, reject) => {
    http.get(`http://${address}${path}`, (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk) => { body += chunk })
      response.on('end', () => resolve({ status: response.statusCode, type: response.headers['content-type'], body }))
    }).on('error', reject)
  })
}

function sample(text, series) {
  const line = text.split('\n').find((l) => !l.startsWith('#') && l.slice(0, l.lastIndexOf(' ')) === series)
  if (line === undefined) throw new Error(`no ${series} in:\n${text}`)
  return Number(line.slice(line.lastIndexOf(' ') + 1))
}

test('the snapshot and the endpoint match the executions', async () => {
  const zk = await startZookeeper()
  try {
    const registry = new ej.ZookeeperRegistry({ servers: zk.connect, namespace: 'node-metrics', sessionTimeoutMs: 2000 })
    const scheduler = new ej.JobScheduler({
      registry,
      config: { jobName: 'node-metered', cron: '* * * * * ?', shardingTotalCount: 2 },
      handler: async (ctx) => { if (ctx.shardingItem === 1) throw new Error('item one refuses') },
      metricsListen: '127.0.0.1:0',
    })
    const address = scheduler.metricsAddress
    assert.match(address, /^127\.0\.0\.1:\d+$/)
    assert.equal(scheduler.metrics().sessionState, 'closed')
    const executions = []
    scheduler.on('execution', (e) => executions.push(e))
    await scheduler.start()
    const deadline = Date.now() + 20000
    while (executions.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    const live = scheduler.metrics()
    assert.equal(live.sessionState, 'connected')
    assert.equal(live.itemsOwned, 2)
    const scraped = await get(address, '/metrics')
    assert.equal(scraped.status, 200)
    assert.match(scraped.type, /^text\/plain; version=0\.0\.4/)
    assert.ok(scraped.body.includes('# TYPE elasticjob_handler_duration_seconds histogram'))
    assert.equal((await get(address, '/nope')).status, 404)

    await scheduler.shutdown()
    const m = scheduler.metrics()
    const succeeded = executions.filter((e) => e.success).length
    assert.ok(executions.length >= 4, `${executions.length} executions`)
    assert.deepEqual(m.executions, { succeeded, failed: executions.length - succeeded, timedOut: 0, cancelled: 0 })
    assert.ok(m.executions.failed >= 2)
    assert.equal(m.fireLag.count, executions.length)
    assert.equal(m.handlerDuration.count, executions.length)
    assert.equal(m.fireLag.buckets.length, m.fireLag.bounds.length)
    assert.equal(m.fires.cron, new Set(executions.map((e) => e.fireTime)).size)
    assert.deepEqual([m.sessionState, m.itemsOwned, m.itemsRunning, m.history], ['closed', 0, 0, null])
    const text = (await get(address, '/metrics')).body
    assert.equal(sample(text, 'elasticjob_executions_total{job="node-metered",outcome="succeeded"}'), succeeded)
    assert.equal(sample(text, 'elasticjob_fires_total{job="node-metered",kind="cron"}'), m.fires.cron)
    assert.equal(sample(text, 'elasticjob_fire_lag_seconds_count{job="node-metered"}'), executions.length)
    assert.equal(sample(text, 'elasticjob_registry_session_state{job="node-metered",state="closed"}'), 1)

    // One endpoint per process: another address is refused, naming both.
    assert.throws(
      () => new ej.JobScheduler({ registry, config: { jobName: 'x', shardingTotalCount: 1 }, handler: () => {}, metricsListen: '127.0.0.1:1' }),
      (error) => error.message.includes('metrics_listen') && error.message.includes(address),
    )
  } finally {
    await zk.close()
  }
})

test('metrics without an endpoint, and a bad address names the option', () => {
  const registry = new ej.EmbeddedRegistry({ namespace: 'node-metrics-plain' })
  const plain = new ej.JobScheduler({ registry, config: { jobName: 'plain', shardingTotalCount: 1 }, handler: () => {} })
  assert.equal(plain.metricsAddress, null)
  assert.equal(plain.metrics().jobName, 'plain')
  assert.throws(
    () => new ej.JobScheduler({ registry, config: { jobName: 'p', shardingTotalCount: 1 }, handler: () => {}, metricsListen: 'nowhere' }),
    /metrics_listen `nowhere`/,
  )
  assert.throws(
    () => new ej.JobScheduler({ registry, config: { jobName: 'p', shardingTotalCount: 1 }, handler: () => {}, metricsListen: 9464 }),
    TypeError,
  )
})
