// A script job: each item runs a program (no shell unless you ask for one)
// with the sharding context as a JSON argument; a non-zero exit fails the
// run (the error ends with its last line of stderr), and the ends of its
// stdout and stderr are the execution's `output`. Embedded registry.
//   node examples/script.mjs
import { EmbeddedRegistry, JobScheduler } from 'elasticjob'

const scheduler = new JobScheduler({
  registry: new EmbeddedRegistry({ namespace: 'examples' }),
  config: {
    jobName: 'nightly-report',
    cron: '* * * * * ?',
    shardingTotalCount: 2,
    shardingItemParameters: '0=north,1=south',
    // `sh -c SCRIPT NAME CONTEXT`: the context arrives as $1. Item 1 fails on purpose.
    props: { 'script.command.line': `sh -c 'echo "report for $1"; case "$1" in *south*) echo "no data" >&2; exit 2;; esac' report` },
  },
  script: true,
})
const seen = new Promise((resolve) => {
  const outcomes = new Map()
  scheduler.on('execution', (e) => {
    const outcome = e.success ? 'succeeded' : `failed: ${e.error.message}`
    outcomes.set(e.item, e.output ? `${outcome}\n${e.output}` : outcome)
    if (outcomes.size === 2) resolve(outcomes)
  })
})
await scheduler.start()
for (const [item, outcome] of [...(await seen)].sort()) console.log(`item ${item}: ${outcome}`)
await scheduler.shutdown()
console.log('done')
