// A real cluster for the browser test: a ZooKeeper from the test harness,
// `ejob run` workers (script jobs, each keeping the execution history in
// one SQLite file), and `ejob console` with a users file, all on free
// 127.0.0.1 ports, all stopped at the end.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TARGET = process.env.CARGO_TARGET_DIR || join(ROOT, 'target');
const BIN = join(TARGET, 'debug');

export const USERS = { operator: ['olga', 'operator-password-1'], viewer: ['victor', 'viewer-password-1'] };

/** Builds `ejob` and `zk-harness` (a no-op when they are up to date). */
export function build() {
  const built = spawnSync('cargo', ['build', '-q', '-p', 'ejob', '-p', 'zk-harness'], { cwd: ROOT, stdio: 'inherit' });
  if (built.status !== 0) throw new Error('cargo build of ejob and zk-harness failed');
}

/** Resolves with the first stdout line of `child` matching `pattern`. */
function lineMatching(child, pattern, what, timeoutMs = 60000) {
  return new Promise((resolvePromise, reject) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`${what}: no line matching ${pattern} within ${timeoutMs} ms`)), timeoutMs);
    lines.on('line', (line) => {
      const match = line.match(pattern);
      if (match) {
        clearTimeout(timer);
        resolvePromise(match);
      }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${what} exited with ${code} before it was ready`)); });
  });
}

export class Cluster {
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'ejob-console-test-'));
    this.children = [];
    this.history = `sqlite://${join(this.dir, 'history.db')}`;
  }

  track(child, name) {
    child.stderr.on('data', (chunk) => { if (process.env.ELASTICJOB_TEST_VERBOSE) process.stderr.write(`[${name}] ${chunk}`); });
    this.children.push(child);
    return child;
  }

  async startZookeeper() {
    const zk = this.track(spawn(join(BIN, 'zk-harness'), [], { stdio: ['pipe', 'pipe', 'pipe'] }), 'zk');
    this.zkProcess = zk;
    const [line] = await lineMatching(zk, /^127\.0\.0\.1:\d+$/, 'zk-harness');
    this.zk = line;
  }

  ejobArgs(...rest) {
    return ['--zk', this.zk, '--namespace', 'console-test', '--history', this.history, ...rest];
  }

  usersFile() {
    const lines = [];
    for (const [role, [name, password]] of Object.entries(USERS)) {
      const made = spawnSync(join(BIN, 'ejob'), ['console-user', name, role, '--iterations', '10000'], { input: `${password}\n` });
      if (made.status !== 0) throw new Error(`console-user failed: ${made.stderr}`);
      lines.push(made.stdout.toString().trim());
    }
    const file = join(this.dir, 'users');
    writeFileSync(file, `# browser test users\n${lines.join('\n')}\n`);
    return file;
  }

  /** Writes the jobs' YAML files: a failing item, a slow one, a trigger-only job. */
  jobFiles() {
    const script = join(this.dir, 'work.sh');
    // $1: seconds of work, $2: an item that fails, $3: the sharding context JSON.
    writeFileSync(script, 'sleep "$1"\ncase "$3" in *"\\"shardingItem\\":$2,"*) echo "payment gateway refused the batch" >&2; exit 3;; esac\n');
    const job = (name, cron, items, extra, seconds, failing) => {
      const file = join(this.dir, `${name}.yaml`);
      writeFileSync(file, [
        `jobName: ${name}`,
        `cron: '${cron}'`,
        `shardingTotalCount: ${items}`,
        'failover: true',
        'overwrite: true',
        ...extra,
        'props:',
        `  script.command.line: sh ${script} ${seconds} ${failing}`,
        '',
      ].join('\n'));
      return file;
    };
    return {
      orders: job('orders', '0/2 * * * * ?', 6, ["description: Export paid orders to the warehouse", "shardingItemParameters: '0=EU,1=US,2=APAC,3=LATAM,4=MEA,5=CN'"], 0.6, 5),
      invoices: job('invoices', '0/5 * * * * ?', 3, ['description: Render and mail invoices', 'timeZone: Europe/Berlin'], 0.3, -1),
      settlement: job('settlement', '', 4, ['description: Bank settlement, run on demand'], 0.3, -1),
    };
  }

  /** Starts an `ejob run` worker; resolves with its instance id. */
  async startWorker(name, files) {
    const child = this.track(spawn(join(BIN, 'ejob'), this.ejobArgs('--session-timeout-ms', '3000', 'run', ...files), { stdio: ['ignore', 'pipe', 'pipe'] }), name);
    const [, id] = await lineMatching(child, /^running job `[^`]+` as (\S+)$/, name);
    return { child, id };
  }

  async startConsole(usersFile) {
    const child = this.track(spawn(join(BIN, 'ejob'), this.ejobArgs('console', '--listen', '127.0.0.1:0', '--auth', usersFile), { stdio: ['ignore', 'pipe', 'pipe'] }), 'console');
    const [, url] = await lineMatching(child, /listening on (http:\/\/127\.0\.0\.1:\d+\/)/, 'ejob console');
    this.console = child;
    this.url = url;
    return url;
  }

  async stop() {
    for (const child of this.children.reverse()) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        if (child === this.zkProcess) child.stdin.end(); else child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 15000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
