#!/usr/bin/env node
'use strict'
// Packs elasticjob for npm the way napi-rs lays packages out (what
// `napi pre-publish` prepares before publishing): the main package (the
// JS API, its types and the loader `native.js`), whose optionalDependencies
// name one package per platform, and the package of this machine's
// platform, holding the release native module. npm installs only the
// platform package that matches the user's os, cpu and libc, and
// `native.js` loads it.
//
//   node scripts/pack.js [--out DIR]     (npm run pack; DIR defaults to dist/)
//
// Prints the tarballs' paths and sizes. Other platforms' packages are
// built on their own machines (or CI) the same way.
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { parseArgs } = require('node:util')

const root = path.resolve(__dirname, '..')
const { values } = parseArgs({ options: { out: { type: 'string', default: path.join(root, 'dist') } } })
const out = path.resolve(values.out)

/** The npm name of this machine's platform, as napi-rs names it. */
function platform() {
  const glibc = process.report.getReport().header.glibcVersionRuntime !== undefined
  if (process.platform === 'linux' && process.arch === 'x64' && glibc) return 'linux-x64-gnu'
  throw new Error(`packing for ${process.platform}-${process.arch} is not set up: only linux-x64-gnu (npm/) is`)
}

function run(command, args, cwd) {
  return execFileSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })
}

/** Copies `files` from `from` into a fresh `to`. */
function stage(to, from, files) {
  fs.rmSync(to, { recursive: true, force: true })
  fs.mkdirSync(to, { recursive: true })
  for (const [source, name] of files) fs.copyFileSync(path.join(from, source), path.join(to, name || source))
}

function pack(dir) {
  const [info] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', out], dir))
  const file = path.join(out, info.filename)
  console.log(`${file} ${fs.statSync(file).size} bytes (${info.entryCount} files, ${info.unpackedSize} unpacked)`)
  return file
}

const main = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const target = platform()
const platformDir = path.join(root, 'npm', target)
const platformPackage = JSON.parse(fs.readFileSync(path.join(platformDir, 'package.json'), 'utf8'))
if (platformPackage.version !== main.version) {
  throw new Error(`npm/${target}/package.json is version ${platformPackage.version}, package.json ${main.version}: make them equal`)
}

// The release module, stripped of symbols.
const build = fs.mkdtempSync(path.join(os.tmpdir(), 'elasticjob-pack-'))
run(path.join(root, 'node_modules', '.bin', 'napi'), ['build', '--platform', '--release', '--strip', '--no-js', '--output-dir', build], root)
const binary = platformPackage.main
fs.mkdirSync(out, { recursive: true })

const platformStage = path.join(out, 'stage', platformPackage.name)
stage(platformStage, platformDir, [['package.json'], ['README.md']])
fs.copyFileSync(path.join(root, '..', 'LICENSE'), path.join(platformStage, 'LICENSE'))
fs.copyFileSync(path.join(build, binary), path.join(platformStage, binary))
fs.rmSync(build, { recursive: true, force: true })

const mainStage = path.join(out, 'stage', main.name)
stage(mainStage, root, main.files.filter((f) => f !== 'LICENSE').map((f) => [f]))
fs.copyFileSync(path.join(root, '..', 'LICENSE'), path.join(mainStage, 'LICENSE'))
const published = { ...main, optionalDependencies: { [platformPackage.name]: main.version } }
// Development scripts and tools stay in the repository.
delete published.devDependencies
delete published.scripts
fs.writeFileSync(path.join(mainStage, 'package.json'), `${JSON.stringify(published, null, 2)}\n`)

pack(platformStage)
pack(mainStage)
fs.rmSync(path.join(out, 'stage'), { recursive: true, force: true })
