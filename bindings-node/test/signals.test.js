'use strict'
// Graceful leave: SIGTERM and SIGINT shut every scheduler down, the
// instance leaves ZooKeeper at once (long before its session would
// expire) and another instance takes over; opt-out with handleSignals.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const ej = require('..')
const h = require('./helpers.js')

/** A test worker with a 30 s session: only a graceful leave removes it quickly. */
async function worker(zk, ledger) {
  const child = spawn(process.execPath, [path.join(__dirname, 'worker.js'), '--zk', zk, '--namespace', 'node-signals',
    '--job', 'leave', '--items', '4', '--cron', '0/2 * * * * ?', '--ledger', ledger, '--session-timeout-ms', '30000'],
  { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ELASTICJOB_LOG: 'off' } })
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  const line = await new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).once('line', resolve)
    exited.then(() => reject(new Error('the worker exited before it was ready')))
  })
  assert.match(line, /^ready /)
  return { child, exited, instanceId: line.slice(6) }
}

/** Polls `read` until `done(value)`; returns the value. */
async function until(read, done, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (done(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`)
    await h.sleep(100)
  }
}

test('SIGTERM leaves ZooKeeper at once and the other instance takes over', async () => {
  const zk = await h.startZookeeper()
  const ledger = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ej-signals-')), 'ledger.jsonl')
  const operator = new ej.Operator(new ej.ZookeeperRegistry({ servers: zk.connect, namespace: 'node-signals' }))
  const workers = [await worker(zk.connect, ledger), await worker(zk.connect, ledger)]
  try {
    const instances = () => operator.instances('leave')
    const both = await until(instances, (list) => list.length === 2 && list.some((i) => i.leader), 10000, 'two instances and a leader')
    const leader = both.find((i) => i.leader).instanceId
    const leaving = workers.find((w) => w.instanceId === leader)
    const staying = workers.find((w) => w.instanceId !== leader)

    const signalled = Date.now()
    leaving.child.kill('SIGTERM')
    await until(instances, (list) => list.length === 1 && list[0].instanceId === staying.instanceId, 5000, 'the leader to leave')
    const left = Date.now() - signalled
    assert.ok(left < 5000, `left after ${left} ms, its session would have lasted 30 s`)
    assert.deepEqual(await leaving.exited, { code: 0, signal: null }, 'then the process exited')

    await until(instances, (list) => list.length === 1 && list[0].leader, 10000, 'the other instance to lead')
    await until(() => operator.items('leave'), (items) => items.length === 4 && items.every((i) => i.instanceId === staying.instanceId),
      10000, 'every item to move to the other instance')
  } finally {
    for (const w of workers) w.child.kill('SIGKILL')
    await zk.close()
  }
})

/** Runs a script that starts an embedded scheduler, prints `ready`, then gets `signal`. */
function signalled(script, signal) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ELASTICJOB_LOG: 'off' } })
    let stdout = ''
    child.stdout.on('data', (chunk) => {
      stdout += chunk
      if (stdout.includes('ready\n') && !child.signalled) {
        child.signalled = true
        child.kill(signal)
      }
    })
    child.once('exit', (code, exitSignal) => resolve({ code, signal: exitSignal, stdout }))
  })
}

const entry = JSON.stringify(path.resolve(__dirname, '..'))
const start = (options) => `
  const ej = require(${entry})
  const s = new ej.JobScheduler({ registry: new ej.EmbeddedRegistry(), config: { jobName: 'sig', cron: '* * * * * ?', shardingTotalCount: 1 },
    handler: () => {}, ${options} })
  s.on('stopped', () => console.log('stopped'))
  const started = s.start().then(() => console.log('ready'))
  setInterval(() => {}, 1000)  // an app that would run forever`

test('SIGINT shuts down and exits; a program listening for the signal keeps control', async () => {
  const plain = await signalled(start(''), 'SIGINT')
  assert.deepEqual([plain.code, plain.signal], [0, null], 'exits although the app would run forever')
  assert.match(plain.stdout, /stopped/)
  const own = await signalled(`${start('')}
    process.once('SIGTERM', () => { console.log('mine'); setTimeout(() => { console.log('cleaned up'); process.exit(3) }, 1500) })`, 'SIGTERM')
  assert.deepEqual([own.code, own.signal], [3, null], 'the program exits when it wants')
  assert.match(own.stdout, /mine[\s\S]*cleaned up/)
  assert.match(own.stdout, /stopped/, 'the scheduler left all the same')
})

test('handleSignals: false leaves signals to the program', async () => {
  const before = process.listenerCount('SIGTERM')
  const s = new ej.JobScheduler({ registry: new ej.EmbeddedRegistry(), config: { jobName: 'own', shardingTotalCount: 1 }, handler() {}, handleSignals: false })
  await s.start()
  assert.equal(process.listenerCount('SIGTERM'), before)
  await s.shutdown()
  const t = new ej.JobScheduler({ registry: new ej.EmbeddedRegistry(), config: { jobName: 'ours', shardingTotalCount: 1 }, handler() {} })
  await t.start()
  assert.equal(process.listenerCount('SIGTERM'), before + 1)
  // Right after the start: the core's tasks may first run after the stop
  // was asked for, and must still see it (they used to wait out the 60 s
  // shutdown timeout).
  const began = Date.now()
  await t.shutdown()
  assert.ok(Date.now() - began < 5000, `shutdown took ${Date.now() - began} ms`)
  assert.equal(process.listenerCount('SIGTERM'), before, 'removed with the last scheduler')
  const result = spawnSync(process.execPath, ['-e', `${start('handleSignals: false')}
    started.then(() => process.kill(process.pid, 'SIGTERM'))`], { encoding: 'utf8', timeout: 10000 })
  assert.equal(result.signal, 'SIGTERM')
  assert.doesNotMatch(result.stdout, /stopped/, 'killed outright, as Node does without a listener')
})
