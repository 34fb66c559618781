/**
 * elasticjob for Node.js: distributed cron jobs split into shards over every
 * live instance, coordinated through ZooKeeper.
 */
import { EventEmitter } from 'node:events'

/** A job's configuration, with Apache ElasticJob's keys and defaults. */
export interface JobConfig {
  /** The job's name, unique in its namespace (no `/`). */
  jobName: string
  /** Quartz cron expression (`0/5 * * * * ?`); empty: runs only when triggered. */
  cron?: string
  /** Time zone of the cron: IANA name or `GMT+08:00` (UTC when unset). */
  timeZone?: string
  /** How many items the job is split into: 1 to 100000. */
  shardingTotalCount: number
  /** Per-item parameters, e.g. `0=Beijing,1=Shanghai`. */
  shardingItemParameters?: string
  /** A parameter handed to every item. */
  jobParameter?: string
  /**
   * Mark running items in the registry (default true). Off: starts are still
   * fenced, but there is no misfire, no failover (rejected together) and
   * resharding does not wait for running items.
   */
  monitorExecution?: boolean
  /** Re-run items of crashed instances on survivors (default false). */
  failover?: boolean
  /** Run once more after a fire that came while items still ran (default true). */
  misfire?: boolean
  /** Refuse to fire when clocks differ by more seconds; -1 (default) is off. */
  maxTimeDiffSeconds?: number
  /** Minutes between self-diagnosis passes (default 10). */
  reconcileIntervalMinutes?: number
  /** `AVG_ALLOCATION` (default), `ODEVITY`, `ROUND_ROBIN`, `SINGLE_SHARDING_BALANCE`, or a name in `shardingStrategies`. */
  jobShardingStrategyType?: string
  /**
   * `LOG` (default), `IGNORE`, `THROW` (failed runs are emitted as `error`
   * events carrying a {@link JobExecutionError}), or a notifier configured by
   * props: `WEBHOOK`, `EMAIL`, `DINGTALK`, `WECHAT`, `FEISHU`, `SLACK`.
   */
  jobErrorHandlerType?: string
  /** `CPU` (default: twice the CPU count of items at once) or `SINGLE_THREAD` (one at a time). */
  jobExecutorServiceHandlerType?: string
  /** Java listener names, kept for compatibility. */
  jobListenerTypes?: string[]
  /** Free text shown to operators. */
  description?: string
  /** `streaming.process`, `script.command.line`, `http.uri`, `webhook.url`, `executionTimeoutMillis`, ... */
  props?: Record<string, string>
  /** Start with this server disabled. */
  disabled?: boolean
  /** Replace the registry's configuration with this one at start. */
  overwrite?: boolean
  /** Free-form instance label. */
  label?: string
  /** Keep the assignment when instances come and go. */
  staticSharding?: boolean
}

/** What a handler receives for one item. */
export interface ShardingContext {
  jobName: string
  taskId: string
  shardingTotalCount: number
  jobParameter: string
  /** The item to run. */
  shardingItem: number
  /** The item's parameter ('' if none). */
  shardingParameter: string
  /** The fire this run belongs to, epoch milliseconds. */
  fireTime: number
  /**
   * False when this run took over an item whose crashed runner did not
   * record its fire (a Java ElasticJob instance never does): then
   * `fireTime` is the take-over time.
   */
  fireTimeKnown: boolean
  /** Whether this run takes over a crashed instance's item. */
  failover: boolean
  /**
   * Grows with every start of this item anywhere in the cluster: a store
   * that keeps the highest token it accepted can refuse a stale writer.
   * A `bigint`, because the 64-bit registry transaction id it comes from may
   * exceed `Number.MAX_SAFE_INTEGER` and tokens must compare exactly
   * (`JSON.stringify` needs it converted: `String(ctx.fencingToken)`).
   */
  fencingToken: bigint
  /**
   * Which attempt at this item's fire the run is: 1, then 2 for the first
   * retry of a failed run (props `retryMaxAttempts`), and so on.
   */
  attempt: number
  /**
   * Aborted when this run should stop: the execution timeout passed, the
   * instance lost its registry session, the item moved to another instance,
   * or shutdown timed out. Pass it on (`fetch(url, { signal: ctx.signal })`)
   * or check `ctx.signal.aborted`; `ctx.signal.reason` is a
   * {@link CancelledError}. The item stays marked running until the handler
   * returns. One signal per handler call (dataflow: per fetch and process).
   */
  signal: AbortSignal
}

/** The `reason` of an aborted `ctx.signal`: why the run was told to stop. */
export declare class CancelledError extends Error {
  constructor(reason: CancelReason)
  /** `TimeoutError` for a timeout, `AbortError` otherwise. */
  readonly name: 'TimeoutError' | 'AbortError'
  readonly reason: CancelReason
}

/** A failed run of a job whose `jobErrorHandlerType` is `THROW` (an `error` event). */
export declare class JobExecutionError extends Error {
  readonly name: 'JobExecutionError'
  readonly type: 'thrown'
  readonly jobName: string
  readonly item: number
  readonly fireTime: number
  readonly instanceId: string
  readonly failover: boolean
  /** The run's failure, as in {@link ExecutionEvent.error}; also `cause`. */
  readonly error: Error
  readonly cause: Error
}

/** Why a run was told to stop. */
/** What a fire or a trigger does to an item still running (props `overlapPolicy`). */
export type OverlapPolicy = 'SKIP' | 'BUFFER_ONE' | 'BUFFER_ALL' | 'CANCEL_OTHER' | 'ALLOW_ALL'

export type CancelReason = 'timed-out' | 'session-lost' | 'item-moved' | 'shutdown' | 'superseded'

/** A ZooKeeper ensemble. */
export declare class ZookeeperRegistry {
  constructor(options: {
    /** Connect string, e.g. `127.0.0.1:2181`. */
    servers: string
    /** Root node of the cluster's jobs. */
    namespace: string
    /** Default 60000; 100 to 600000 (RangeError otherwise, TypeError if not a number). */
    sessionTimeoutMs?: number
    /**
     * How long `start()` may try to reach the servers before it rejects
     * naming them and the cause (refused, unresolvable, no answer). Default
     * 5000; 1 to 600000 (RangeError otherwise, TypeError if not a number).
     */
    connectionTimeoutMs?: number
    /** `user:password` digest credentials. */
    digest?: string
  })
}

/** The in-process registry: no server, one process. */
export declare class EmbeddedRegistry {
  constructor(options?: { namespace?: string })
}

export type Registry = ZookeeperRegistry | EmbeddedRegistry

/** How an item run ended. */
export type ExecutionOutcome = 'succeeded' | 'failed' | 'timed-out' | 'cancelled'

/** One finished item run. */
export interface ExecutionEvent {
  type: 'execution'
  jobName: string
  item: number
  fireTime: number
  instanceId: string
  failover: boolean
  startedAt: number
  finishedAt: number
  success: boolean
  outcome: ExecutionOutcome
  /** The run's fencing token (see {@link ShardingContext.fencingToken}). */
  fencingToken: bigint
  /** Which attempt at its item's fire the run was (see {@link ShardingContext.attempt}). */
  attempt: number
  /**
   * Null on success. A failure of this process's handler is what it threw
   * (with its own class, message and stack; a thrown non-Error is wrapped
   * in an Error); a timeout or cancellation is a {@link CancelledError};
   * a script or HTTP job's failure is an Error with the core's message.
   */
  error: Error | null
  /**
   * What the run printed, for a script job: the ends of its stdout and
   * stderr, labelled (`--- stdout ---`), each cut to its last 2,000
   * characters; null otherwise or when it printed nothing.
   */
  output: string | null
}

/**
 * Where the core's logs go (see {@link setLogger}): `console` works, and
 * so do pino, winston and most loggers. Each call gets one string.
 */
export interface Logger {
  error(message: string): unknown
  warn(message: string): unknown
  info(message: string): unknown
  debug(message: string): unknown
  trace?(message: string): unknown
}

/**
 * Sends the core's log records to `logger`, or back to stderr (the
 * default) with null. Process-wide. Which records: the `ELASTICJOB_LOG`
 * environment variable (`info` by default; `debug`, `warn`, `off`,
 * `elasticjob=debug`, ...), read once when the module loads. A failed
 * execution is logged at `error` with the handler's stack.
 */
export declare function setLogger(logger: Logger | null): void

/** What a listener receives: this instance's part of one fire. */
export interface ShardingContexts {
  /** `{jobName}@-@{items}@-@READY@-@{instanceId}`. */
  taskId: string
  jobName: string
  shardingTotalCount: number
  jobParameter: string
  /** This instance's items in the fire (keys) with their parameters. */
  shardingItemParameters: Record<string, string>
  /** The fire, epoch milliseconds. */
  fireTime: number
}

/**
 * ElasticJob's `ElasticJobListener`: called on this instance before its
 * first handler and after its last one of every fire it runs items of, once
 * each with all of them. A throw or rejection is an `error` event, never a
 * failed job; a call is cut off after 60 s.
 */
export interface JobListener {
  beforeJobExecuted?: (contexts: ShardingContexts) => unknown | Promise<unknown>
  afterJobExecuted?: (contexts: ShardingContexts) => unknown | Promise<unknown>
}

/**
 * ElasticJob's `AbstractDistributeOnceElasticJobListener`: each hook runs
 * once per fire across the cluster, on the instance that completes the set
 * of items. Instances wait for the others at most the timeouts (positive
 * integers; a crashed instance costs the others that long). One per job.
 */
export interface DistributeOnceJobListener {
  startedTimeoutMilliseconds: number
  completedTimeoutMilliseconds: number
  doBeforeJobExecutedAtLastStarted?: (contexts: ShardingContexts) => unknown | Promise<unknown>
  doAfterJobExecutedAtLastCompleted?: (contexts: ShardingContexts) => unknown | Promise<unknown>
}

export interface JobSchedulerOptions<T = unknown> {
  registry: Registry
  config: JobConfig
  /** Simple job: runs once per item and fire; a rejection fails that run only. */
  handler?: (ctx: ShardingContext) => unknown | Promise<unknown>
  /** Dataflow job: fetches a batch for the item (empty: no more data). */
  fetch?: (ctx: ShardingContext) => T[] | Promise<T[]>
  /** Dataflow job: processes one fetched batch. */
  process?: (ctx: ShardingContext, items: T[]) => unknown | Promise<unknown>
  /** Script job: runs the prop `script.command.line` per item. */
  script?: boolean
  /**
   * HTTP job: one request per item, configured by the props `http.uri`,
   * `http.method` (both required), `http.data`, `http.content.type`,
   * `http.connect.timeout.milliseconds`, `http.read.timeout.milliseconds`;
   * the context travels as JSON in the `shardingContext` header.
   */
  http?: boolean
  /** Instance id; only to run several instances in one process. */
  instanceId?: string
  /** How many items may run at once here: an integer from 1 to 10000.
   * Wins over `jobExecutorServiceHandlerType`. */
  maxParallel?: number
  /**
   * Sharding strategies of your own, by name: a job whose
   * `jobShardingStrategyType` is the name is sharded by it. Only the leader
   * calls it; register it in every instance. It returns instance id → items
   * (every item of 0..total-1 exactly once, only given ids), or a Promise of
   * that. A wrong answer or a throw is reported as an `error` event and
   * nothing is reassigned.
   */
  shardingStrategies?: Record<string, ShardingStrategy>
  /** Listeners called around this instance's part of every fire. */
  listeners?: JobListener[]
  /** At most one listener run once per fire across the cluster. */
  onceListeners?: DistributeOnceJobListener[]
  /**
   * Keep an execution history: `sqlite:///path/history.db` or
   * `postgres://user@host:port/db`. Writes never delay a fire.
   */
  history?: string
  /**
   * Serve the metrics of every scheduler of this process as Prometheus
   * text on `http://IP:PORT/metrics` (port 0 picks a free one). One
   * endpoint per process: the same address is shared, another is refused.
   * Read-only and unauthenticated: beyond loopback, anyone who can reach
   * it reads job names and counts.
   */
  metricsListen?: string
  /** Sends the core's logs of the whole process to this logger: the same as {@link setLogger}. */
  logger?: Logger
  /**
   * Leave the cluster on SIGTERM and SIGINT (default true): every
   * scheduler of the process shuts down (running items finish, the
   * instance leaves ZooKeeper at once, so the others take its items
   * without waiting for its session to expire), then the process exits
   * (status 0; 1 if a shutdown failed), unless the program listens for
   * the signal itself. A second signal ends the process at once. False
   * leaves signals to the program.
   */
  handleSignals?: boolean
}

/** A histogram in seconds: `buckets[i]` observations were at most `bounds[i]`. */
export interface Histogram {
  bounds: number[]
  /** Cumulative counts per bound (`+Inf` is `count`). */
  buckets: number[]
  count: number
  /** Sum of the observations, seconds. */
  sum: number
}

/** What a scheduler did so far (see the README's "Metrics"). */
export interface Metrics {
  jobName: string
  /** Fires that started items here, by what fired them. */
  fires: { cron: number; trigger: number; misfire: number }
  /** Finished item runs by outcome. */
  executions: { succeeded: number; failed: number; timedOut: number; cancelled: number }
  /** Scheduled fire time to handler start. */
  fireLag: Histogram
  /** How long handlers ran. */
  handlerDuration: Histogram
  /** Item fires missed because the item was still running. */
  misfires: number
  /** Items taken over from lost instances. */
  failoversTaken: number
  /** New assignments written as leader. */
  reshards: number
  /** Failures outside handlers. */
  errors: number
  /** Items assigned here at the latest fire. */
  itemsOwned: number
  /** Item runs in flight here. */
  itemsRunning: number
  sessionState: 'connected' | 'suspended' | 'lost' | 'closed'
  /** Registry comebacks: the connection within its session, or a new session. */
  reconnects: { connection: number; session: number }
  /** The history's counters, or null without a history. */
  history: HistoryStats | null
}

/** What the execution history wrote, lost and holds. */
export interface HistoryStats {
  written: number
  /** Records lost while the database could not take them (the buffer is bounded). */
  dropped: number
  pending: number
  failedWrites: number
  lastError: string | null
}

/** (live instance ids in ElasticJob's order, shardingTotalCount, job name) → instance id → items. */
export type ShardingStrategy = (
  instances: string[],
  total: number,
  jobName: string,
) => Record<string, number[]> | Promise<Record<string, number[]>>

/** Runs one job in this process. */
export declare class JobScheduler<T = unknown> extends EventEmitter {
  constructor(options: JobSchedulerOptions<T>)
  /**
   * Registers this instance and starts firing. `signal` aborts the wait
   * for the registry: the Promise rejects with `signal.reason` (an
   * `AbortError` DOMException unless given another; `AbortSignal.timeout()`
   * gives a `TimeoutError`). A wrong address rejects on its own within the
   * connection timeout, naming the address and the cause.
   */
  start(options?: { signal?: AbortSignal }): Promise<this>
  /** Runs this instance's items once, now. */
  trigger(): Promise<void>
  /** Finishes running items and leaves the cluster; the process can then exit. */
  shutdown(): Promise<void>
  /** This instance's id. */
  readonly instanceId: string
  /** The history's counters, or null without a history. */
  readonly historyStats: HistoryStats | null
  /** What this scheduler did so far. */
  metrics(): Metrics
  /** `IP:PORT` of this process's metrics endpoint, or null if not asked for. */
  readonly metricsAddress: string | null
  on(event: 'execution', listener: (event: ExecutionEvent) => void): this
  on(event: 'sharding', listener: (event: { type: 'sharding'; assignment: Record<string, number[]> }) => void): this
  on(event: 'misfire', listener: (event: { type: 'misfire'; items: number[]; fireTime: number }) => void): this
  on(event: 'error', listener: (event: { type: 'error'; error: string } | JobExecutionError) => void): this
  on(event: 'stopped', listener: (event: { type: 'stopped' }) => void): this
}

/**
 * ElasticJob's `OneOffJobBootstrap`: a job without cron (a cron is
 * rejected) that runs only when `execute()` is called.
 */
export declare class OneOffJobScheduler<T = unknown> extends JobScheduler<T> {
  /** Runs the job once now on every live instance, each running its own items. */
  execute(): Promise<void>
}

/** A backfill of a job's fires in [`from`, `to`), and how far it went: `started` of `total` (item, fire) runs. */
export interface Backfill {
  readonly id: string
  readonly from: Date
  readonly to: Date
  readonly by: string
  readonly at: Date
  readonly overlap: 'SKIP' | 'BUFFER_ALL'
  readonly fires: number
  readonly started: number
  readonly total: number
  readonly done: boolean
}

/** Why, by whom, since and until when a job is paused (`until` null: until resumed). */
export interface PauseNote {
  by: string
  reason: string
  at: Date
  until: Date | null
}

/** The lifecycle API for jobs running anywhere in the namespace. */
export declare class Operator {
  constructor(registry: Registry)
  /**
   * Runs every live instance's items now. An item still running runs once
   * more when it ends, unless `overlap` says otherwise: `SKIP` leaves it
   * out, `CANCEL_OTHER` tells its run to stop and runs it once that returned.
   */
  trigger(jobName: string, options?: { overlap?: OverlapPolicy }): Promise<void>
  /**
   * Pauses the job on every instance of ours from its next fire, with a
   * note (`by` defaults to the login name); with `until` it resumes by
   * itself then. Fires a pause holds are never caught up; triggers still run.
   */
  pause(jobName: string, options?: { reason?: string; by?: string; until?: Date }): Promise<void>
  /** Resumes a paused job from its next fire; resolves to whether it was paused. */
  resume(jobName: string): Promise<boolean>
  /** The note of the job's pause in force, or null. */
  pauseNote(jobName: string): Promise<PauseNote | null>
  /**
   * Runs the job for every fire of its cron in [`from`, `to`) (`to` defaults
   * to now, never in the future) on every item, oldest first per item, each
   * (item, fire) once, beside the schedule; resolves to the backfill's id.
   * An item still running when a fire's turn comes is waited for, or with
   * `overlap: 'SKIP'` left out of that fire.
   */
  backfill(jobName: string, options: { from: Date; to?: Date; by?: string; overlap?: 'SKIP' | 'BUFFER_ALL' }): Promise<string>
  /** The job's backfills, oldest first, with how far each went. */
  backfills(jobName: string): Promise<Backfill[]>
  /** Forgets a backfill: its runs in flight finish, no more start. */
  cancelBackfill(jobName: string, id: string): Promise<void>
  disable(jobName: string, serverIp?: string): Promise<void>
  enable(jobName: string, serverIp?: string): Promise<void>
  shutdown(jobName: string, serverIp?: string): Promise<void>
  remove(jobName: string, serverIp?: string): Promise<void>
  disableItem(jobName: string, item: number): Promise<void>
  enableItem(jobName: string, item: number): Promise<void>
  jobs(): Promise<Array<{ jobName: string; cron: string; shardingTotalCount: number; description: string; status: string; instanceCount: number; pause: PauseNote | null }>>
  instances(jobName: string): Promise<Array<{ instanceId: string; serverIp: string; leader: boolean; enabled: boolean }>>
  items(jobName: string): Promise<Array<{ item: number; instanceId: string | null; state: string; failoverInstance: string | null }>>
}

/** Validates a configuration and fills in ElasticJob's defaults (throws naming the bad field). */
export declare function jobConfig(config: JobConfig): Required<Omit<JobConfig, 'timeZone' | 'label' | 'jobShardingStrategyType' | 'jobErrorHandlerType' | 'jobExecutorServiceHandlerType'>> & JobConfig
/** Parses the YAML of a registry `config` node. */
export declare function fromYaml(yaml: string): JobConfig
/** The YAML the registry stores for a configuration. */
export declare function toYaml(config: JobConfig): string
