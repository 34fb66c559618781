'use strict'
// The package as users get it: `npm run pack` builds the release module
// and packs the main package and the linux-x64-gnu one (napi-rs layout);
// both install offline into a fresh project, without engine warnings, and
// a job there runs on a real ZooKeeper, from ESM and TypeScript alike.
// Slow (a release build): run by `npm run test:package`.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const h = require('../helpers.js')

const root = path.resolve(__dirname, '..', '..')
const version = require(path.join(root, 'package.json')).version

function listing(tarball) {
  return execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, '')).sort()
}

const JOB = `
import { JobScheduler, ZookeeperRegistry } from 'elasticjob'

const ran = new Set()
const scheduler = new JobScheduler({
  registry: new ZookeeperRegistry({ servers: process.env.ELASTICJOB_ZK, namespace: 'packed' }),
  config: { jobName: 'packed', cron: '* * * * * ?', shardingTotalCount: 2 },
  handler: async (ctx) => { ran.add(ctx.shardingItem) },
})
scheduler.on('execution', (event) => { if (!event.success) console.error(event.error) })
await scheduler.start()
while (ran.size < 2) await new Promise((resolve) => setTimeout(resolve, 100))
await scheduler.shutdown()
console.log('ran items', [...ran].sort().join(','))
`

const TYPED = `
import { JobScheduler, EmbeddedRegistry, type ExecutionEvent } from 'elasticjob'
const scheduler = new JobScheduler({ registry: new EmbeddedRegistry(), config: { jobName: 'typed', shardingTotalCount: 1 }, handler: () => {} })
scheduler.on('execution', (event: ExecutionEvent) => { const error: Error | null = event.error; console.log(event.jobName, error?.stack) })
`

test('npm run pack gives installable packages that run a job', { timeout: 30 * 60 * 1000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elasticjob-package-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const out = path.join(dir, 'dist')
  execFileSync(process.execPath, [path.join(root, 'scripts', 'pack.js'), '--out', out], { cwd: root, stdio: 'inherit' })
  const main = path.join(out, `elasticjob-${version}.tgz`)
  const native = path.join(out, `elasticjob-linux-x64-gnu-${version}.tgz`)

  assert.deepEqual(listing(main), ['LICENSE', 'README.md', 'index.d.ts', 'index.js', 'index.mjs', 'native.d.ts', 'native.js', 'package.json'])
  assert.deepEqual(listing(native), ['LICENSE', 'README.md', 'elasticjob.linux-x64-gnu.node', 'package.json'])
  const manifest = JSON.parse(execFileSync('tar', ['xzOf', main, 'package/package.json'], { encoding: 'utf8' }))
  assert.deepEqual(manifest.optionalDependencies, { 'elasticjob-linux-x64-gnu': version })
  assert.equal(manifest.scripts, undefined)
  const unpacked = path.join(dir, 'unpacked')
  fs.mkdirSync(unpacked)
  execFileSync('tar', ['xzf', native, '-C', unpacked])
  const node = path.join(unpacked, 'package', 'elasticjob.linux-x64-gnu.node')
  const sections = execFileSync('readelf', ['-S', '-W', node], { encoding: 'utf8' })
  assert.doesNotMatch(sections, /\.debug_info/, 'a release module without debug info')
  assert.ok(fs.statSync(node).size < 40 * 1024 * 1024, `${fs.statSync(node).size} bytes`)

  const project = path.join(dir, 'project')
  fs.mkdirSync(project)
  execFileSync('npm', ['init', '-y'], { cwd: project, stdio: 'ignore' })
  const install = spawnSync('npm', ['install', '--offline', '--no-audit', '--no-fund', native, main], { cwd: project, encoding: 'utf8' })
  assert.equal(install.status, 0, install.stderr)
  assert.doesNotMatch(install.stderr, /EBADENGINE|npm warn/i, install.stderr)

  const zk = await h.startZookeeper()
  try {
    fs.writeFileSync(path.join(project, 'job.mjs'), JOB)
    const run = spawnSync(process.execPath, ['job.mjs'], {
      cwd: project, encoding: 'utf8', timeout: 60000, env: { ...process.env, ELASTICJOB_ZK: zk.connect },
    })
    assert.equal(run.status, 0, run.stderr)
    assert.match(run.stdout, /ran items 0,1/)
    assert.match(run.stderr, /INFO elasticjob::scheduler::session: registered job=packed/, 'logs on stderr by default')
  } finally {
    await zk.close()
  }

  fs.writeFileSync(path.join(project, 'typed.ts'), TYPED)
  const tsc = spawnSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['--noEmit', '--strict', '--module', 'nodenext',
    '--moduleResolution', 'nodenext', '--target', 'es2022', '--typeRoots', path.join(root, 'node_modules', '@types'), '--types', 'node', 'typed.ts'],
  { cwd: project, encoding: 'utf8' })
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr)
})
