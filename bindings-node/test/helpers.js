'use strict'
// Test helpers: a real ZooKeeper from the shared harness, worker processes,
// and the shared ledger checker.
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const readline = require('node:readline')

const root = path.resolve(__dirname, '..', '..')
const targetDir = path.join(process.env.CARGO_TARGET_DIR || path.join(root, 'target'), 'debug')

function tool(name) {
  const file = path.join(targetDir, name)
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: build it with cargo build -p zk-harness -p cluster-tests`)
  return file
}

function firstLine(child) {
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout })
    lines.once('line', (line) => resolve(line.trim()))
    child.once('exit', (code) => reject(new Error(`process exited with ${code} before printing`)))
  })
}

async function startZookeeper() {
  const child = spawn(tool('zk-harness'), [], { stdio: ['pipe', 'pipe', 'inherit'] })
  const connect = await firstLine(child)
  return { connect, close: () => new Promise((resolve) => { child.once('exit', resolve); child.stdin.end() }) }
}

async function startWorker(args) {
  const child = spawn(process.execPath, [path.join(__dirname, 'worker.js'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await firstLine(child)
  if (!line.startsWith('ready ')) throw new Error(`worker did not start: ${line}`)
  return {
    instanceId: line.slice(6),
    kill9: () => new Promise((resolve) => { child.once('exit', resolve); child.kill('SIGKILL') }),
    terminate: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve()
      child.once('exit', resolve)
      child.kill('SIGTERM')
    }),
  }
}

function readLedger(file) {
  if (!fs.existsSync(file)) return []
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).flatMap((line) => {
    try { return [JSON.parse(line)] } catch { return [] }
  })
}

function checkLedger(file, job, items, fires, crashed = []) {
  const result = spawnSync(tool('ledger-check'), ['--ledger', file, '--job', job, '--items', String(items),
    '--fires', fires.join(','), '--crashed', crashed.join(',')], { encoding: 'utf8' })
  const report = JSON.parse(result.stdout)
  if (result.status !== 0) throw new Error(`ledger check failed: ${JSON.stringify(report)}`)
  return report
}

function firesBetween(from, to, step) {
  const fires = []
  for (let t = (Math.floor(from / step) + 1) * step; t < to; t += step) fires.push(t)
  return fires
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function waitFor(condition, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

module.exports = { tool, startZookeeper, startWorker, readLedger, checkLedger, firesBetween, sleep, waitFor }
