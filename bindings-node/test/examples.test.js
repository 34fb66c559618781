'use strict'
// The examples (examples/*.mjs) run as a user would run them and do what
// their comments say, on the embedded registry.
const { test } = require('node:test')
const assert = require('node:assert')
const { execFileSync } = require('node:child_process')
const path = require('node:path')

function runExample(name) {
  return execFileSync(process.execPath, [path.join(__dirname, '..', 'examples', name)], { encoding: 'utf8', timeout: 30000 })
}

test('the dataflow example drains every shard', () => {
  const out = runExample('dataflow.mjs')
  assert.match(out, /done: 0 orders left/)
  for (const item of [0, 1, 2, 3]) assert.match(out, new RegExp(`item ${item} exported orders`))
})

test('the script example reports a success and a failure with the script output', () => {
  const out = runExample('script.mjs')
  assert.match(out, /item 0: succeeded/)
  assert.match(out, /item 1: failed: script .* exited with exit status: 2: no data/)
  // Each run's output, stream by stream.
  assert.match(out, /item 0: succeeded\n--- stdout ---\nreport for \{/)
  assert.match(out, /--- stderr ---\nno data/)
})
