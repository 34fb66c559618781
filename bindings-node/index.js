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
const native = require('./native.js')

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
 * `ctx.signal`. `reason` is `timed-out`, `session-lost`, `item-moved` or
 * `shutdown`; `name` is `TimeoutError` for a timeout and `AbortError`
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
 * as an `error` event (when someone listens for `error`).
 */
class JobExecutionError extends Error {
  constructor(event) {
    super(`job ${event.jobName} item ${event.item} failed: ${event.error}`)
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
   *   listeners?: object[], onceListeners?: object[], history?: string, metricsListen?: string}} options
   */
  constructor(options) {
    super()
    const {
      registry, config, handler, fetch, process: processBatch, script, http, instanceId, maxParallel, shardingStrategies,
      listeners = [], onceListeners = [], history, metricsListen,
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
    const hooks = listenerHooks(listeners, onceListeners)
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
  }

  /** Registers this instance and starts firing. */
  async start() {
    await this.native.start()
    this.running = true
    this.pump = this.pumpEvents()
    return this
  }

  /** Runs this instance's items once, now. */
  async trigger() {
    await this.native.trigger()
  }

  /** Finishes running items, leaves the cluster; the process can then exit. */
  async shutdown() {
    this.running = false
    await this.native.shutdown()
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
    while (this.running || !this.native.isShutDown) {
      const json = await this.native.nextEvent(this.running ? 500 : 50)
      if (json === null) {
        if (!this.running) return
        continue
      }
      const event = JSON.parse(json)
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

/** The lifecycle API for jobs running anywhere in the registry's namespace. */
class Operator {
  /** @param {ZookeeperRegistry|EmbeddedRegistry} registry */
  constructor(registry) {
    this.native = new native.NativeOperator(registry.native)
  }
  /** Asks every live instance of the job to run its items now. */
  trigger(jobName) { return this.native.apply('trigger', jobName) }
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
  /** Every job of the namespace with its status. */
  async jobs() { return JSON.parse(await this.native.jobs()) }
  /** The live instances of a job. */
  async instances(jobName) { return JSON.parse(await this.native.instances(jobName)) }
  /** Every item of a job with its owner and state. */
  async items(jobName) { return JSON.parse(await this.native.items(jobName)) }
}

module.exports = { ZookeeperRegistry, EmbeddedRegistry, JobScheduler, OneOffJobScheduler, Operator, CancelledError, JobExecutionError, jobConfig, fromYaml, toYaml }
