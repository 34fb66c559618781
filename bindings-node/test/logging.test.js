'use strict'
// The core's logs in Node: stderr by default with the level from
// ELASTICJOB_LOG, or the logger given; a throwing handler nobody listens
// to is logged with its stack as real lines.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const ej = require('..')

const entry = JSON.stringify(path.resolve(__dirname, '..'))

/** Runs a job whose handler throws, triggered once, in a fresh process. */
function runThrowingJob(env, setup = '') {
  const script = `
    const ej = require(${entry})
    ${setup}
    async function main() {
      const s = new ej.JobScheduler({ registry: new ej.EmbeddedRegistry(), config: { jobName: 'noisy', shardingTotalCount: 1 },
        handler: async function failingHandler() { throw new RangeError('the answer is out of range') } })
      await s.start()
      await s.trigger()
      await new Promise((r) => setTimeout(r, 500))
      await s.shutdown()
    }
    main()`
  return spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000, env: { ...process.env, ...env } })
}

test('a throwing handler with no listener is logged to stderr with its stack', () => {
  const result = runThrowingJob({ ELASTICJOB_LOG: '' })
  assert.equal(result.status, 0, result.stderr)
  assert.match(result.stderr, / ERROR elasticjob::scheduler::runner: job execution failed job=noisy item=0 fire_time=\d+\nRangeError: the answer is out of range\n {4}at failingHandler \(\[eval\]:\d+:\d+\)\n/,
    'the stack follows as real lines')
  assert.match(result.stderr, / INFO elasticjob::scheduler::session: registered job=noisy/, 'INFO by default')
  assert.doesNotMatch(result.stderr, / DEBUG /)
})

test('ELASTICJOB_LOG sets the level', () => {
  assert.equal(runThrowingJob({ ELASTICJOB_LOG: 'off' }).stderr, '')
  const errors = runThrowingJob({ ELASTICJOB_LOG: 'error' }).stderr
  assert.match(errors, /job execution failed/)
  assert.doesNotMatch(errors, / INFO /)
  assert.match(runThrowingJob({ ELASTICJOB_LOG: 'debug' }).stderr, / DEBUG /)
})

test('a logger option receives the records at their levels, stderr none', () => {
  const setup = `
    const seen = []
    const logger = {}
    for (const level of ['error', 'warn', 'info', 'debug']) logger[level] = (message) => seen.push(level + ' ' + message)
    ej.setLogger(logger)
    process.on('exit', () => console.log(JSON.stringify(seen)))`
  const result = runThrowingJob({ ELASTICJOB_LOG: '' }, setup)
  assert.equal(result.status, 0, result.stderr)
  assert.equal(result.stderr, '')
  const seen = JSON.parse(result.stdout)
  const failure = seen.find((line) => line.startsWith('error job execution failed job=noisy'))
  assert.ok(failure, seen.join('\n'))
  assert.match(failure, /\nRangeError: the answer is out of range\n {4}at failingHandler/)
  assert.ok(seen.some((line) => line.startsWith('info registered')), seen.join('\n'))
})

test('console works as a logger and bad loggers are refused', () => {
  ej.setLogger(console)
  ej.setLogger(null)
  assert.throws(() => ej.setLogger('loud'), TypeError)
  assert.throws(() => ej.setLogger({ info() {} }), /error is not a function/)
  assert.throws(() => new ej.JobScheduler({ registry: new ej.EmbeddedRegistry(), config: { jobName: 'j', shardingTotalCount: 1 }, handler() {}, logger: 7 }), TypeError)
})
