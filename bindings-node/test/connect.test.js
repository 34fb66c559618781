'use strict'
// Connecting: a wrong address fails fast naming the address and the cause;
// an AbortSignal cuts the wait short.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const ej = require('..')

/** A loopback port nothing listens on: bound, then closed. */
async function closedPort() {
  const server = net.createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** A loopback server that accepts connections and never answers: the client waits. */
async function silentServer() {
  const sockets = new Set()
  const server = net.createServer((socket) => { sockets.add(socket) })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    address: `127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(resolve) }),
  }
}

function scheduler(servers, namespace) {
  return new ej.JobScheduler({
    registry: new ej.ZookeeperRegistry({ servers, namespace }),
    config: { jobName: 'unreachable', cron: '0/5 * * * * ?', shardingTotalCount: 1 },
    handler: () => {},
  })
}

test('a wrong address fails within 5 s naming the address and the cause', async () => {
  const address = `127.0.0.1:${await closedPort()}`
  const started = Date.now()
  await assert.rejects(scheduler(address, 'node-wrong').start(), (error) => {
    assert.ok(error.message.includes(address), error.message)
    assert.match(error.message, /refused/i)
    return true
  })
  assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`)
})

test('aborting start rejects at once with an AbortError', async () => {
  const server = await silentServer()
  try {
    const s = scheduler(server.address, 'node-abort')
    const controller = new AbortController()
    const started = Date.now()
    setTimeout(() => controller.abort(), 200)
    await assert.rejects(s.start({ signal: controller.signal }), { name: 'AbortError' })
    assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`)
    await assert.rejects(s.start({ signal: AbortSignal.timeout(100) }), { name: 'TimeoutError' })
    await assert.rejects(s.start({ signal: AbortSignal.abort() }), { name: 'AbortError' }, 'an aborted signal rejects before connecting')
    await assert.rejects(s.start({ signal: 'stop' }), TypeError)
    await s.shutdown()
  } finally {
    await server.close()
  }
})

test('a signal that is not aborted changes nothing', async () => {
  const s = new ej.JobScheduler({
    registry: new ej.EmbeddedRegistry({ namespace: 'node-signal-unused' }),
    config: { jobName: 'fine', shardingTotalCount: 1 },
    handler: () => {},
    handleSignals: false,
  })
  const controller = new AbortController()
  assert.equal(await s.start({ signal: controller.signal }), s)
  controller.abort()
  const began = Date.now()
  await s.shutdown()
  assert.ok(Date.now() - began < 5000, `shutdown right after the start took ${Date.now() - began} ms`)
})
