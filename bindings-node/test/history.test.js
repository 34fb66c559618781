'use strict'
// The execution history from Node: a job configured with a SQLite history
// writes a row per execution there, tagged with the binding (read back
// with `ejob history --json`).
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const ej = require('..')
const { startZookeeper, tool } = require('./helpers')

test('executions are written to a SQLite history', async () => {
  const zk = await startZookeeper()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ej-node-history-'))
  const url = `sqlite://${path.join(dir, 'history.db')}`
  try {
    const scheduler = new ej.JobScheduler({
      registry: new ej.ZookeeperRegistry({ servers: zk.connect, namespace: 'node-history', sessionTimeoutMs: 2000 }),
      config: { jobName: 'node-traced', cron: '* * * * * ?', shardingTotalCount: 2 },
      handler: async (ctx) => { if (ctx.shardingItem === 1) throw new Error('item one refuses') },
      history: url,
    })
    const executions = []
    scheduler.on('execution', (e) => executions.push(e))
    await scheduler.start()
    const deadline = Date.now() + 20000
    while (executions.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    await scheduler.shutdown()
    assert.ok(executions.length >= 4, `${executions.length} executions`)
    const stats = scheduler.historyStats
    assert.equal(stats.dropped, 0)
    assert.equal(stats.pending, 0)

    const shown = spawnSync(tool('ejob'), ['--history', url, 'history', '--job', 'node-traced', '--json'], { encoding: 'utf8' })
    assert.equal(shown.status, 0, shown.stderr)
    const rows = JSON.parse(shown.stdout)
    assert.equal(rows.length, executions.length)
    assert.ok(rows.every((r) => r.binding === 'node'))
    const failures = rows.filter((r) => r.sharding_item === 1)
    assert.ok(failures.length > 0 && failures.every((r) => !r.is_success && r.failure_cause.includes('item one refuses')))
  } finally {
    await zk.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('history is optional and a bad URL names the option', () => {
  const registry = new ej.EmbeddedRegistry({ namespace: 'node-history-bad' })
  const plain = new ej.JobScheduler({ registry, config: { jobName: 'j', shardingTotalCount: 1 }, handler: () => {} })
  assert.equal(plain.historyStats, null)
  assert.throws(
    () => new ej.JobScheduler({ registry, config: { jobName: 'j', shardingTotalCount: 1 }, handler: () => {}, history: 'mysql://db/x' }),
    /history `mysql:\/\/db\/x`/,
  )
})
