// ES module entry: the same API as the CommonJS one.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const elasticjob = require('./index.js')

export const {
  ZookeeperRegistry, EmbeddedRegistry, JobScheduler, OneOffJobScheduler, Operator, CancelledError, JobExecutionError,
  jobConfig, fromYaml, toYaml, setLogger,
} = elasticjob
export default elasticjob
