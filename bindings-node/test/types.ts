// Compiled with `tsc --noEmit` by the tests: the public types as a user sees them.
import { Backfill, CancelledError, EmbeddedRegistry, ExecutionOutcome, JobExecutionError, JobScheduler, OneOffJobScheduler, Operator, ShardingContext, ShardingContexts, ZookeeperRegistry, jobConfig, setLogger } from '..'

const registry = new ZookeeperRegistry({ servers: '127.0.0.1:2181', namespace: 'demo', sessionTimeoutMs: 5000 })
const config = jobConfig({ jobName: 'orders', cron: '0/5 * * * * ?', shardingTotalCount: 4, failover: true })

const scheduler = new JobScheduler({
  registry,
  config,
  handler: async (ctx: ShardingContext): Promise<void> => {
    const item: number = ctx.shardingItem
    const parameter: string = ctx.shardingParameter
    const token: bigint = ctx.fencingToken
    const signal: AbortSignal = ctx.signal
    if (signal.aborted && signal.reason instanceof CancelledError) console.log(signal.reason.reason)
    console.log(item, parameter, token)
  },
})
scheduler.on('execution', (event) => {
  const outcome: ExecutionOutcome = event.outcome
  const token: bigint = event.fencingToken
  if (event.error !== null) console.error(event.jobName, event.item, outcome, token, event.error.stack)
  if (event.error instanceof CancelledError) console.error(event.error.reason)
})
scheduler.on('error', (event) => {
  if (event instanceof JobExecutionError) console.error(event.jobName, event.item, event.fireTime, event.error.message, event.cause.stack)
  else console.error(event.error)
})
setLogger(console)
setLogger(null)
const quiet = new JobScheduler({ registry, config, handler: () => undefined, logger: console, handleSignals: false })
void quiet.start({ signal: AbortSignal.timeout(5000) })

const http = new JobScheduler({
  registry,
  config: { jobName: 'ping', shardingTotalCount: 1, props: { 'http.uri': 'http://127.0.0.1:8080/ping', 'http.method': 'GET' } },
  http: true,
  history: 'sqlite:///var/lib/ejob/history.db',
})
const stats = http.historyStats
if (stats !== null) console.log(stats.written, stats.dropped, stats.lastError ?? '')
const metered = new JobScheduler({ registry, config, handler: () => undefined, metricsListen: '127.0.0.1:9464' })
const metrics = metered.metrics()
const lagCount: number = metrics.fireLag.count
const state: 'connected' | 'suspended' | 'lost' | 'closed' = metrics.sessionState
console.log(lagCount, state, metrics.executions.timedOut, metrics.history?.dropped, metered.metricsAddress ?? '')

const feed = new JobScheduler<{ id: number }>({
  registry: new EmbeddedRegistry(),
  config: { jobName: 'feed', shardingTotalCount: 1 },
  fetch: async () => [{ id: 1 }],
  process: async (_ctx, items) => { items.forEach((i) => i.id.toFixed()) },
})

async function run(): Promise<void> {
  await scheduler.start()
  await feed.start()
  const operator = new Operator(registry)
  await operator.pause('feed', { reason: 'maintenance', until: new Date(Date.now() + 60_000) })
  const note = await operator.pauseNote('feed')
  console.log(note?.until?.toISOString(), note?.by)
  const jobs = await operator.jobs()
  console.log(jobs.map((j) => `${j.status} ${j.pause?.reason ?? ''}`))
  const resumed: boolean = await operator.resume('feed')
  console.log(resumed)
  const id: string = await operator.backfill('feed', { from: new Date(Date.now() - 3_600_000) })
  const backfills: Backfill[] = await operator.backfills('feed')
  console.log(id, backfills.map((b) => `${b.started}/${b.total} ${b.from.toISOString()}`))
  await operator.cancelBackfill('feed', id)
  await scheduler.shutdown()
  await feed.shutdown()
}
void run()

const listened = new OneOffJobScheduler({
  registry,
  config: { jobName: 'listened', shardingTotalCount: 2 },
  handler: () => undefined,
  listeners: [{ beforeJobExecuted: (contexts: ShardingContexts) => console.log(contexts.taskId), afterJobExecuted: async () => {} }],
  onceListeners: [{
    startedTimeoutMilliseconds: 5000,
    completedTimeoutMilliseconds: 5000,
    doAfterJobExecutedAtLastCompleted: (contexts) => console.log(Object.keys(contexts.shardingItemParameters)),
  }],
})
void listened.start().then(() => listened.execute())
