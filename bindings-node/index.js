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

/** A ZooKeeper ensemble. */
class ZookeeperRegistry {
  /**
   * @param {{servers: string, namespace: string, sessionTimeoutMs?: number, connectionTimeoutMs?: number, digest?: string}} options
   */
  constructor(options) {
    const { servers, namespace, sessionTimeoutMs, connectionTimeoutMs, digest } = options || {}
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
  return JSON.parse(native.normalizeConfig(JSON.stringify(config)))
}

/** Parses the YAML of a registry `config` node. */
function fromYaml(yaml) {
  return JSON.parse(native.configFromYaml(yaml))
}

/** The YAML the registry stores for a configuration. */
function toYaml(config) {
  return native.configToYaml(JSON.stringify(config))
}

function describeError(error) {
  if (error instanceof Error) return error.stack || `${error.name}: ${error.message}`
  return String(error)
}

/**
 * Runs one job in this process. Events: `execution` (every item run),
 * `sharding` (this instance resharded as leader), `misfire`, `error`
 * (only emitted when someone listens), `stopped`.
 */
class JobScheduler extends EventEmitter {
  /**
   * @param {{registry: ZookeeperRegistry|EmbeddedRegistry, config: object,
   *   handler?: (ctx: object) => any, fetch?: (ctx: object) => any, process?: (ctx: object, items: any[]) => any,
   *   script?: boolean, instanceId?: string, maxParallel?: number}} options
   */
  constructor(options) {
    super()
    const { registry, config, handler, fetch, process: processBatch, script, instanceId, maxParallel } = options || {}
    if (!registry || !registry.native) throw new TypeError('invalid registry: expected a ZookeeperRegistry or EmbeddedRegistry')
    let kind
    if (typeof handler === 'function') kind = 'simple'
    else if (typeof fetch === 'function' && typeof processBatch === 'function') kind = 'dataflow'
    else if (script === true) kind = 'script'
    else throw new TypeError('invalid handler: give handler(ctx), or fetch(ctx) and process(ctx, items), or script: true')
    const batches = new Map()
    let nextBatch = 1
    const invoke = async (call) => {
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
      }
    }
    this.native = new native.NativeScheduler(registry.native, JSON.stringify(config), kind, invoke, instanceId, maxParallel)
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
      if (event.type === 'error' && this.listenerCount('error') === 0) continue
      this.emit(event.type, event)
      if (event.type === 'stopped') return
    }
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

module.exports = { ZookeeperRegistry, EmbeddedRegistry, JobScheduler, Operator, jobConfig, fromYaml, toYaml }
