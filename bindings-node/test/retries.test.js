'use strict'
// Retries (props retryMaxAttempts ...): a failed run is run again after its
// back-off, with ctx.attempt counting the attempts, and each execution
// event says which attempt it was.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const ej = require('..')
const { waitFor } = require('./helpers')

test('a thrown error is retried after the back-off and ctx.attempt counts', async () => {
  const calls = []
  const scheduler = new ej.JobScheduler({
    registry: new ej.EmbeddedRegistry({ namespace: 'node-retries' }),
    config: {
      jobName: 'retried', shardingTotalCount: 1,
      props: { retryMaxAttempts: '3', retryInitialIntervalMillis: '200' },
    },
    handler: async (ctx) => {
      calls.push({ attempt: ctx.attempt, fireTime: ctx.fireTime, at: Date.now() })
      if (ctx.attempt < 2) throw new TypeError(`attempt ${ctx.attempt} fails`)
    },
  })
  const executions = []
  scheduler.on('execution', (event) => executions.push(event))
  await scheduler.start()
  await scheduler.trigger()
  await waitFor(() => executions.length === 2, 5000, 'the retry')
  await scheduler.shutdown()
  assert.deepEqual(calls.map((c) => c.attempt), [1, 2])
  assert.equal(calls[1].fireTime, calls[0].fireTime, 'a retry keeps its fire time')
  assert.ok(calls[1].at - calls[0].at >= 190, `waited ${calls[1].at - calls[0].at} ms`)
  assert.deepEqual(executions.map((e) => [e.attempt, e.success]), [[1, false], [2, true]])
  assert.ok(executions[0].error instanceof TypeError, 'the first attempt reports what it threw')
})

test('a bad retry prop fails the constructor naming it', () => {
  assert.throws(() => new ej.JobScheduler({
    registry: new ej.EmbeddedRegistry({ namespace: 'node-retries-bad' }),
    config: { jobName: 'bad', shardingTotalCount: 1, props: { retryMaxAttempts: '3', retryBackoffCoefficient: '0.5' } },
    handler: () => {},
  }), /retryBackoffCoefficient.*0\.5/)
})
