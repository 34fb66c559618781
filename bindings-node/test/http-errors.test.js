'use strict'
// HTTP jobs and the THROW error handler through the real binding, on a real
// ZooKeeper, against an HTTP server the test starts on a loopback port.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const ej = require('..')
const { startZookeeper } = require('./helpers')

let zk
before(async () => { zk = await startZookeeper() })
after(async () => { await zk.close() })

function registry(namespace) {
  return new ej.ZookeeperRegistry({ servers: zk.connect, namespace, sessionTimeoutMs: 5000 })
}

async function until(check) {
  const deadline = Date.now() + 20000
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met within 20 s')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

test('an http job posts the sharding context to the configured URI', async () => {
  const requests = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => { body += chunk })
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, headers: req.headers, body })
      res.end('ok')
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const uri = `http://127.0.0.1:${server.address().port}/jobs/sync`
  try {
    const scheduler = new ej.JobScheduler({
      registry: registry('node-http'),
      config: {
        jobName: 'node-http-job', shardingTotalCount: 2, shardingItemParameters: '0=a,1=b',
        props: { 'http.uri': uri, 'http.method': 'PUT', 'http.data': '{"full":true}', 'http.content.type': 'application/json' },
      },
      http: true,
    })
    await scheduler.start()
    await scheduler.trigger()
    await until(() => requests.length === 2)
    await scheduler.shutdown()
  } finally {
    server.close()
  }
  for (const request of requests) {
    assert.deepEqual([request.method, request.url, request.body], ['PUT', '/jobs/sync', '{"full":true}'])
    assert.equal(request.headers['content-type'], 'application/json')
  }
  const parameters = requests.map((r) => JSON.parse(r.headers.shardingcontext).shardingParameter).sort()
  assert.deepEqual(parameters, ['a', 'b'])
})

test('bad http props throw naming the prop', () => {
  assert.throws(() => new ej.JobScheduler({
    registry: new ej.EmbeddedRegistry({ namespace: 'node-http-bad' }),
    config: { jobName: 'bad', shardingTotalCount: 1, props: { 'http.uri': 'http://127.0.0.1:1/', 'http.method': 'GET', 'http.connect.timeout.milliseconds': 'soon' } },
    http: true,
  }), /http\.connect\.timeout\.milliseconds `soon`/)
})

test('THROW emits failed runs as error events carrying a JobExecutionError', async () => {
  const scheduler = new ej.JobScheduler({
    registry: registry('node-throw'),
    config: { jobName: 'node-throw-job', shardingTotalCount: 1, jobErrorHandlerType: 'THROW' },
    handler: async (ctx) => { throw new Error(`item ${ctx.shardingItem} is broken`) },
  })
  const errors = []
  scheduler.on('error', (error) => errors.push(error))
  await scheduler.start()
  await scheduler.trigger()
  await until(() => errors.length > 0)
  await scheduler.shutdown()
  const [error] = errors
  assert.ok(error instanceof ej.JobExecutionError && error instanceof Error, String(error))
  assert.deepEqual([error.jobName, error.item, error.instanceId], ['node-throw-job', 0, scheduler.instanceId])
  assert.ok(error.error instanceof Error && error.cause === error.error)
  assert.equal(error.error.message, 'item 0 is broken')
  assert.match(error.error.stack, /http-errors\.test\.js/)
  assert.match(error.message, /node-throw-job item 0 failed/)
})
