'use strict'
/**
 * elasticjob for Node.js: distributed cron jobs split into shards over every
 * live instance, coordinated through ZooKeeper. Workers in Node, Python, C
 * and Rust with the same job name and namespace share the job's items.
 *
 * The native module does the work; this file gives it an idiomatic shape:
 * Promises, an EventEmitter, camelCase configuration objects.
 */
const { EventEmitter } = require('node:events')
const os = require('node:os')
const native = require('./native.js')

// The core's logs go to stderr until someone gives a logger (level from
// the ELASTICJOB_LOG environment variable, default info).
native.setLogSink(null)

/** Logger methods by core level; a logger without `trace` gets `debug`. */
const LOG_METHODS = { error: ['error'], warn: ['warn'], info: ['info'], debug: ['debug'], trace: ['trace', 'debug'] }

/**
 * Sends the core's log records to `logger` (any object with `error`,
 * `warn`, `info` and `debug` methods: `console`, pino, winston, ...), or
 * back to stderr with null. Process-wide: every scheduler of the process
 * logs there. Each record is one string: the message and its fields; a
 * failed execution's carries the handler's stack.
 */
function setLogger(logger) {
  if (logger === null || logger === undefined) {
    native.setLogSink(null)
    return
  }
  if (typeof logger !== 'object' && typeof logger !== 'function') {
    throw new TypeError(`invalid logger \`${String(logger)}\`: expected an object with error, warn, info and debug methods`)
  }
  for (const method of ['error', 'warn', 'info', 'debug']) {
    if (typeof logger[method] !== 'function') throw new TypeError(`invalid logger: its ${method} is not a function`)
  }
  native.setLogSink((record) => {
    const method = LOG_METHODS[record.level].find((name) => typeof logger[name] === 'function')
    try {
      logger[method](record.message)
    } catch {
      // A logger that throws must not take the core's records with it.
    }
  })
}

/** The longest registry timeout, in milliseconds: ten minutes. */
const MAX_TIMEOUT_MS = 600000
/** The most handlers one scheduler may run at once. */
const MAX_PARALLEL = 10000

/**
 * Checks a numeric option before it reaches the native module, which would
 * otherwise wrap or truncate it: TypeError when it is not a number,
 * RangeError when it is NaN, infinite, fractional where an integer is
 * needed, or out of `[min, max]`. Both name the option and the value.
 */
function checkNumber(name, value, min, max, integer) {
  if (value === undefined) return undefined
  if (typeof value !== 'number') throw new TypeError(`invalid ${name} \`${String(value)}\`: must be a number`)
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new RangeError(`invalid ${name} \`${value}\`: must be ${integer ? 'an integer' : 'a finite number'} from ${min} to ${max}`)
  }
  return value
}

/** Integer fields of a job configuration (32-bit, as ElasticJob stores them). */
const INTEGER_CONFIG_FIELDS = ['shardingTotalCount', 'maxTimeDiffSeconds', 'reconcileIntervalMinutes']

/**
 * The configuration as JSON. Its integers are checked to survive the trip
 * (JSON turns NaN and Infinity into null, and serde's error would not name
 * the field); the core validates the values themselves.
 */
function configJson(config) {
  if (config === null || typeof config !== 'object') throw new TypeError('invalid config: expected an object')
  for (const name of INTEGER_CONFIG_FIELDS) checkNumber(name, config[name], -2147483648, 2147483647, true)
  return JSON.stringify(config)
}

/** A ZooKeeper ensemble. */
class ZookeeperRegistry {
  /**
   * @param {{servers: string, namespace: string, sessionTimeoutMs?: number, connectionTimeoutMs?: number, digest?: string}} options
   */
  constructor(options) {
    const { servers, namespace, sessionTimeoutMs, connectionTimeoutMs, digest } = options || {}
    checkNumber('sessionTimeoutMs', sessionTimeoutMs, 100, MAX_TIMEOUT_MS, false)
    checkNumber('connectionTimeoutMs', connectionTimeoutMs, 1, MAX_TIMEOUT_MS, false)
    this.native = native.NativeRegistry.zookeeper(servers, namespace, sessionTimeoutMs, connectionTimeoutMs, digest)
  }
}

/** The in-process registry: no server, one process (demos, tests). */
class EmbeddedRegistry {
  /** @param {{namespace?: string}} [options] */
  constructor(options) {
    this.native = native.NativeRegistry.embedded((options && options.namespace) || 'elasticjob')
  }
}

/** Validates a configuration (ElasticJob's camelCase keys) and fills in defaults. */
function jobConfig(config) {
  return JSON.parse(native.normalizeConfig(configJson(config)))
}

/** Parses the YAML of a registry `config` node. */
function fromYaml(yaml) {
  return JSON.parse(native.configFromYaml(yaml))
}

/** The YAML the registry stores for a configuration. */
function toYaml(config) {
  return native.configToYaml(configJson(config))
}

/**
 * Why a run was told to stop: the `reason` of a handler's aborted
 * `ctx.signal`. `reason` is `timed-out`, `session-lost`, `item-moved`,
 * `shutdown` or `superseded` (a newer fire, overlap policy `CANCEL_OTHER`); `name` is `TimeoutError` for a timeout and `AbortError`
 * otherwise, as the web platform names abort reasons.
 */
class CancelledError extends Error {
  constructor(reason) {
    super(`elasticjob run cancelled: ${reason}`)
    this.name = reason === 'timed-out' ? 'TimeoutError' : 'AbortError'
    this.reason = reason
  }
}

/**
 * A failed item run of a job whose `jobErrorHandlerType` is `THROW`: emitted
 * as an `error` event (when someone listens for `error`). `error` (also
 * `cause`) is the run's failure as an `Error`.
 */
class JobExecutionError extends Error {
  constructor(event) {
    super(`job ${event.jobName} item ${event.item} failed: ${event.error.message}`, { cause: event.error })
    this.name = 'JobExecutionError'
    this.type = 'thrown'
    this.jobName = event.jobName
    this.item = event.item
    this.fireTime = event.fireTime
    this.instanceId = event.instanceId
    this.failover = event.failover
    this.error = event.error
  }
}

/** What a handler threw, as an Error (a thrown string or object becomes one). */
function toError(value) {
  return value instanceof Error ? value : new Error(String(value))
}

/**
 * Errors by run, kept from when they happen until the run's events use
 * them. Bounded, since an event can be missed (a slow listener); the
 * oldest go first.
 */
class ErrorsByRun {
  constructor(limit) {
    this.limit = limit
    this.errors = new Map()
  }

  /** The run's key: its item and fencing token (unique per start). */
  static key(item, fencingToken) {
    return `${item}:${fencingToken}`
  }

  set(key, error) {
    this.errors.delete(key)
    this.errors.set(key, error)
    if (this.errors.size > this.limit) this.errors.delete(this.errors.keys().next().value)
  }

  take(key) {
    const error = this.errors.get(key)
    this.errors.delete(key)
    return error
  }
}

/**
 * A run's failure as an Error: what the handler threw when it came from
 * this process's handler, a CancelledError for a timeout or cancellation,
 * or an Error with the core's message (script and HTTP jobs).
 */
function outcomeError(outcome, thrown) {
  if (outcome.kind === 'succeeded') return null
  if (outcome.kind === 'timed-out') return new CancelledError('timed-out')
  if (outcome.kind === 'cancelled') return new CancelledError(outcome.reason)
  return thrown || new Error(outcome.message)
}

function describeError(error) {
  if (error instanceof Error) return error.stack || `${error.name}: ${error.message}`
  return String(error)
}

/**
 * Checks listener objects and gives the hooks the native side calls by
 * index: `listeners` are `{ beforeJobExecuted?, afterJobExecuted? }`
 * (ElasticJob's `ElasticJobListener`), `onceListeners` are
 * `{ startedTimeoutMilliseconds, completedTimeoutMilliseconds,
 * doBeforeJobExecutedAtLastStarted?, doAfterJobExecutedAtLastCompleted? }`
 * (its `AbstractDistributeOnceElasticJobListener`; the core checks the
 * timeouts and allows one per job).
 */
function listenerHooks(listeners, onceListeners) {
  if (!Array.isArray(listeners)) throw new TypeError('invalid listeners: expected an array')
  if (!Array.isArray(onceListeners)) throw new TypeError('invalid onceListeners: expected an array')
  for (const listener of [...listeners, ...onceListeners]) {
    if (listener === null || typeof listener !== 'object') throw new TypeError(`invalid listener \`${String(listener)}\`: expected an object`)
  }
  const onceTimeouts = []
  for (const listener of onceListeners) {
    for (const name of ['startedTimeoutMilliseconds', 'completedTimeoutMilliseconds']) {
      if (typeof listener[name] !== 'number' || !Number.isSafeInteger(listener[name])) {
        throw new TypeError(`invalid ${name} \`${String(listener[name])}\`: must be an integer number of milliseconds`)
      }
      onceTimeouts.push(listener[name])
    }
  }
  const ONCE = ['doBeforeJobExecutedAtLastStarted', 'doAfterJobExecutedAtLastCompleted']
  return {
    plain: listeners,
    onceTimeouts,
    async call(kind, index, contexts) {
      const listener = (ONCE.includes(kind) ? onceListeners : listeners)[index]
      if (typeof listener[kind] === 'function') await listener[kind](contexts)
    },
  }
}

/** Ids of `start` calls, for aborting one. */
let nextStartId = 1

/** The signals a deployment stops a process with. */
const LEAVE_SIGNALS = ['SIGTERM', 'SIGINT']
/** Started schedulers that leave the cluster on those signals. */
const leaving = new Set()

/**
 * On SIGTERM or SIGINT: shut every scheduler down (each finishes its
 * running items and leaves ZooKeeper at once, so the others take its items
 * without waiting for the session to expire), then exit: with status 0
 * once all have left, 1 if a shutdown failed. A program that listens for
 * the signal itself decides when to exit. A second signal during the
 * shutdown ends the process at once, as Node does by default.
 */
function leaveCluster(signal) {
  for (const name of LEAVE_SIGNALS) process.removeListener(name, leaveCluster)
  // Ours runs first (prepended), so the program's own listeners, `once`
  // ones included, are all still there to be counted.
  const programListens = process.listenerCount(signal) > 0
  const schedulers = [...leaving]
  Promise.allSettled(schedulers.map((scheduler) => scheduler.shutdown())).then((results) => {
    if (!programListens) process.exit(results.some((r) => r.status === 'rejected') ? 1 : 0)
  })
}

function leaveOnSignals(scheduler) {
  if (leaving.size === 0) for (const name of LEAVE_SIGNALS) process.prependListener(name, leaveCluster)
  leaving.add(scheduler)
}

function stayOnSignals(scheduler) {
  if (!leaving.delete(scheduler) || leaving.size > 0) return
  for (const name of LEAVE_SIGNALS) process.removeListener(name, leaveCluster)
}

/**
 * Runs one job in this process. Events: `execution` (every item run),
 * `sharding` (this instance resharded as leader), `misfire`, `error`
 * (only emitted when someone listens: a failure outside handlers, or a
 * `JobExecutionError` for a failed run when `jobErrorHandlerType` is
 * `THROW`), `stopped`.
 */
class JobScheduler extends EventEmitter {
  /**
   * @param {{registry: ZookeeperRegistry|EmbeddedRegistry, config: object,
   *   handler?: (ctx: object) => any, fetch?: (ctx: object) => any, process?: (ctx: object, items: any[]) => any,
   *   script?: boolean, http?: boolean, instanceId?: string, maxParallel?: number,
   *   shardingStrategies?: Record<string, (instances: string[], total: number, jobName: string) => any>,
   *   listeners?: object[], onceListeners?: object[], history?: string, metricsListen?: string,
   *   logger?: object, handleSignals?: boolean}} options
   */
  constructor(options) {
    super()
    const {
      registry, config, handler, fetch, process: processBatch, script, http, instanceId, maxParallel, shardingStrategies,
      listeners = [], onceListeners = [], history, metricsListen, logger, handleSignals = true,
    } = options || {}
    if (!registry || !registry.native) throw new TypeError('invalid registry: expected a ZookeeperRegistry or EmbeddedRegistry')
    checkNumber('maxParallel', maxParallel, 1, MAX_PARALLEL, true)
    if (history !== undefined && typeof history !== 'string') throw new TypeError(`invalid history \`${history}\`: expected a URL string`)
    if (metricsListen !== undefined && typeof metricsListen !== 'string') {
      throw new TypeError(`invalid metricsListen \`${metricsListen}\`: expected an IP:PORT string`)
    }
    const json = configJson(config)
    let kind
    if (typeof handler === 'function') kind = 'simple'
    else if (typeof fetch === 'function' && typeof processBatch === 'function') kind = 'dataflow'
    else if (script === true) kind = 'script'
    else if (http === true) kind = 'http'
    else throw new TypeError('invalid handler: give handler(ctx), or fetch(ctx) and process(ctx, items), or script: true, or http: true')
    if (handleSignals !== undefined && typeof handleSignals !== 'boolean') {
      throw new TypeError(`invalid handleSignals \`${String(handleSignals)}\`: expected a boolean`)
    }
    if (logger !== undefined) setLogger(logger)
    const hooks = listenerHooks(listeners, onceListeners)
    // What handlers threw, until the execution events carry it.
    const thrown = new ErrorsByRun(1000)
    const batches = new Map()
    let nextBatch = 1
    // One AbortController per handler call, aborted when the core cancels
    // the run; a `cancel` always arrives after the call it names.
    const controllers = new Map()
    const invoke = async (call) => {
      if (call.contexts) {
        try {
          await hooks.call(call.kind, call.listener, call.contexts)
          return '{}'
        } catch (error) {
          return JSON.stringify({ error: describeError(error) })
        }
      }
      if (call.kind === 'cancel') {
        const controller = controllers.get(call.id)
        if (controller) controller.abort(new CancelledError(call.reason))
        return '{}'
      }
      const controller = new AbortController()
      controllers.set(call.id, controller)
      call.ctx.signal = controller.signal
      try {
        if (call.kind === 'execute') {
          await handler(call.ctx)
          return '{}'
        }
        if (call.kind === 'fetch') {
          const items = await fetch(call.ctx)
          if (!Array.isArray(items) || items.length === 0) return '{}'
          const id = nextBatch++
          batches.set(id, items)
          return JSON.stringify({ batch: id })
        }
        const items = batches.get(call.batch) || []
        batches.delete(call.batch)
        await processBatch(call.ctx, items)
        return '{}'
      } catch (error) {
        thrown.set(ErrorsByRun.key(call.ctx.shardingItem, call.ctx.fencingToken), toError(error))
        return JSON.stringify({ error: describeError(error) })
      } finally {
        controllers.delete(call.id)
      }
    }
    const strategies = { ...(shardingStrategies || {}) }
    for (const [name, strategy] of Object.entries(strategies)) {
      if (typeof strategy !== 'function') {
        throw new TypeError(`invalid shardingStrategies.${name}: expected a function (instances, total, jobName)`)
      }
    }
    // Only the leader calls a strategy; the core checks its answer.
    const shard = async (call) => {
      try {
        const assignment = await strategies[call.name](call.instances, call.total, call.jobName)
        return JSON.stringify({ assignment: assignment === undefined ? null : assignment })
      } catch (error) {
        return JSON.stringify({ error: describeError(error) })
      }
    }
    const names = Object.keys(strategies)
    this.native = new native.NativeScheduler(
      registry.native, json, kind, invoke, instanceId, maxParallel, names, shard,
      hooks.plain.length, hooks.onceTimeouts, new.target.oneOff === true, history, metricsListen,
    )
    this.running = false
    this.left = false
    this.handleSignals = handleSignals
    this.thrown = thrown
    // Failures of execution events, for the THROW event that follows.
    this.reported = new ErrorsByRun(100)
  }

  /**
   * Registers this instance and starts firing. `signal` aborts the wait
   * for the registry (rejecting with `signal.reason`, an `AbortError`
   * unless given another); registering itself is not cut short.
   * @param {{signal?: AbortSignal}} [options]
   */
  async start(options) {
    const { signal } = options || {}
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('invalid signal: expected an AbortSignal')
    if (signal) signal.throwIfAborted()
    const id = nextStartId
    nextStartId = (nextStartId % 0xffffffff) + 1
    const abort = () => this.native.abortStart(id)
    if (signal) signal.addEventListener('abort', abort, { once: true })
    try {
      await this.native.start(id)
    } catch (error) {
      if (signal && signal.aborted) throw signal.reason
      throw error
    } finally {
      if (signal) signal.removeEventListener('abort', abort)
    }
    this.running = true
    this.left = false
    this.pump = this.pumpEvents()
    if (this.handleSignals) leaveOnSignals(this)
    return this
  }

  /** Runs this instance's items once, now. */
  async trigger() {
    await this.native.trigger()
  }

  /** Finishes running items, leaves the cluster; the process can then exit. */
  async shutdown() {
    this.running = false
    stayOnSignals(this)
    await this.native.shutdown()
    // The core queued `stopped` before its shutdown resolved: the pump
    // may end once the queue is empty.
    this.left = true
    if (this.pump) await this.pump
  }

  /**
   * The execution history's counters ({written, dropped, pending,
   * failedWrites, lastError}), or null without a history. `dropped` counts
   * records lost while the database could not take them.
   */
  get historyStats() {
    const json = this.native.historyStats()
    return json === null ? null : JSON.parse(json)
  }

  /**
   * What this scheduler did so far: fires and executions by kind and
   * outcome, the fire lag and handler duration histograms (seconds),
   * misfires, take-overs, reshards, errors, items owned and running, the
   * registry session's state and reconnects, and the history's counters;
   * the same figures the `/metrics` endpoint serves.
   */
  metrics() {
    return JSON.parse(this.native.metrics())
  }

  /** `IP:PORT` of this process's metrics endpoint, or null if not asked for (`metricsListen`). */
  get metricsAddress() {
    return this.native.metricsAddress
  }

  /** This instance's id (`{ip}@-@{pid}` unless given). */
  get instanceId() {
    return this.native.instanceId
  }

  async pumpEvents() {
    for (;;) {
      const json = await this.native.nextEvent(this.running ? 500 : 50)
      if (json === null) {
        if (this.left) return
        continue
      }
      const event = JSON.parse(json)
      if (event.type === 'execution' || event.type === 'thrown') {
        const key = ErrorsByRun.key(event.item, event.fencingToken)
        event.fencingToken = BigInt(event.fencingToken)
        if (event.type === 'execution') {
          event.error = outcomeError(event.outcome, this.thrown.take(key))
          if (event.error) this.reported.set(key, event.error)
        } else {
          event.error = this.reported.take(key) || outcomeError(event.outcome)
        }
        event.outcome = event.outcome.kind
      }
      if (event.type === 'thrown') {
        if (this.listenerCount('error') > 0) this.emit('error', new JobExecutionError(event))
        continue
      }
      if (event.type === 'error' && this.listenerCount('error') === 0) continue
      this.emit(event.type, event)
      if (event.type === 'stopped') return
    }
  }
}

/**
 * ElasticJob's `OneOffJobBootstrap`: a job without cron (a cron is
 * rejected) that runs only when `execute()` is called. Start it on every
 * instance as usual.
 */
class OneOffJobScheduler extends JobScheduler {
  static oneOff = true

  /** Runs the job once now on every live instance, each running its own items. */
  async execute() {
    await this.native.executeAll()
  }
}

/** A pause note with its instants as Dates (`null` when not paused). */
function pauseNoteOf(note) {
  if (note === null || note === undefined) return null
  return { by: note.by, reason: note.reason, at: new Date(note.at), until: note.until === undefined ? null : new Date(note.until) }
}

/** The lifecycle API for jobs running anywhere in the registry's namespace. */
class Operator {
  /** @param {ZookeeperRegistry|EmbeddedRegistry} registry */
  constructor(registry) {
    this.native = new native.NativeOperator(registry.native)
  }
  /**
   * Runs every live instance's items now; an item still running runs once
   * more when it ends, unless `overlap` says otherwise (`SKIP`, `CANCEL_OTHER`).
   * @param {string} jobName
   * @param {{overlap?: string}} [options]
   */
  trigger(jobName, options) { return this.native.apply('trigger', jobName, (options || {}).overlap) }
  /**
   * Pauses the job on every instance of ours from its next fire, with a
   * note: `by` (default: the login name), `reason`, and `until` (a Date) when
   * it resumes by itself. Fires a pause holds are never caught up; triggers still run.
   * @param {string} jobName
   * @param {{reason?: string, by?: string, until?: Date}} [options]
   */
  pause(jobName, options) {
    const { reason = '', by = os.userInfo().username, until } = options || {}
    if (until !== undefined && !(until instanceof Date && !Number.isNaN(until.getTime()))) {
      throw new TypeError(`until must be a valid Date, got ${until}`)
    }
    return this.native.pause(jobName, by, reason, until === undefined ? undefined : until.getTime())
  }
  /** Resumes a paused job from its next fire; resolves to whether it was paused. */
  resume(jobName) { return this.native.resume(jobName) }
  /** The note of the job's pause in force, or null. */
  async pauseNote(jobName) { return pauseNoteOf(JSON.parse(await this.native.pauseNote(jobName))) }
  /**
   * Runs the job for every fire of its cron in [`from`, `to`) (Dates; `to`
   * defaults to now and may not be in the future) on every item, oldest
   * first per item, each (item, fire) once, beside the schedule; resolves
   * to the backfill's id. An item still running when a fire's turn comes is
   * waited for, or with `overlap: 'SKIP'` left out of that fire.
   * @param {string} jobName
   * @param {{from: Date, to?: Date, by?: string, overlap?: string}} options
   */
  backfill(jobName, options) {
    const { from, to = new Date(), by = os.userInfo().username, overlap } = options || {}
    for (const [name, when] of [['from', from], ['to', to]]) {
      if (!(when instanceof Date && !Number.isNaN(when.getTime()))) throw new TypeError(`${name} must be a valid Date, got ${when}`)
    }
    return this.native.backfill(jobName, from.getTime(), to.getTime(), by, overlap)
  }
  /** The job's backfills, oldest first, with how far each went (instants as Dates). */
  async backfills(jobName) {
    return JSON.parse(await this.native.backfills(jobName))
      .map((b) => ({ ...b, from: new Date(b.from), to: new Date(b.to), at: new Date(b.at) }))
  }
  /** Forgets a backfill: its runs in flight finish, no more start. */
  cancelBackfill(jobName, id) { return this.native.cancelBackfill(jobName, id) }
  /** Disables the job on one server, or everywhere. */
  disable(jobName, serverIp) { return this.native.apply('disable', jobName, serverIp) }
  /** Enables the job on one server, or everywhere. */
  enable(jobName, serverIp) { return this.native.apply('enable', jobName, serverIp) }
  /** Shuts the job's instances down on one server, or everywhere. */
  shutdown(jobName, serverIp) { return this.native.apply('shutdown', jobName, serverIp) }
  /** Removes a server from the job, or the whole job. */
  remove(jobName, serverIp) { return this.native.apply('remove', jobName, serverIp) }
  /** Stops one item from running. */
  disableItem(jobName, item) { return this.native.setItemDisabled(jobName, item, true) }
  /** Lets a disabled item run again. */
  enableItem(jobName, item) { return this.native.setItemDisabled(jobName, item, false) }
  /** Every job of the namespace with its status (and pause note, when paused). */
  async jobs() {
    return JSON.parse(await this.native.jobs()).map((job) => ({ ...job, pause: pauseNoteOf(job.pause) }))
  }
  /** The live instances of a job. */
  async instances(jobName) { return JSON.parse(await this.native.instances(jobName)) }
  /** Every item of a job with its owner and state. */
  async items(jobName) { return JSON.parse(await this.native.items(jobName)) }
}

module.exports = {
  ZookeeperRegistry, EmbeddedRegistry, JobScheduler, OneOffJobScheduler, Operator, CancelledError, JobExecutionError,
  jobConfig, fromYaml, toYaml, setLogger,
}
