// The web console in a real headless Chromium, against a real cluster:
// log in, see the jobs, open a job, watch an item change owner when its
// worker is killed (pushed live, no reload), trigger a job and see its
// runs appear, pause it with a note and resume it, have a bad configuration
// refused beside its field, and be
// refused an operation as a viewer. Screenshots of the main pages go to
// $ELASTICJOB_CONSOLE_SCREENSHOTS (docs/ when refreshed), else a temp dir.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Cluster, USERS, build } from '../cluster.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.ELASTICJOB_CONSOLE_SCREENSHOTS || mkdtempSync(join(tmpdir(), 'ejob-console-shots-'));

let cluster; let browser; let profile; let page;
let workerA; let workerB;
const pageErrors = [];

before(async () => {
  build();
  mkdirSync(SHOTS, { recursive: true });
  cluster = new Cluster();
  await cluster.startZookeeper();
  const jobs = cluster.jobFiles();
  workerA = await cluster.startWorker('worker-a', [jobs.orders, jobs.invoices, jobs.settlement]);
  workerB = await cluster.startWorker('worker-b', [jobs.orders, jobs.settlement]);
  await cluster.startConsole(cluster.usersFile());
  profile = mkdtempSync(join(tmpdir(), 'ejob-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  page = browser.pages()[0] || await browser.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
});

after(async () => {
  assert.deepEqual(pageErrors, [], 'no script error in the page');
  if (browser) await browser.close();
  if (cluster) await cluster.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** Toasts fade by themselves; screenshots are taken without them. */
const clearToasts = () => page.evaluate(() => document.getElementById('toasts').replaceChildren());

async function login([name, password]) {
  await page.goto(cluster.url);
  await page.waitForURL(/\/login/);
  await page.fill('#name', name);
  await page.fill('#password', password);
  await page.click('#login-button');
  await page.waitForSelector('#role');
  assert.equal(await page.textContent('#user > span:first-child'), name);
}

test('a wrong password is refused on the login page', async () => {
  await page.goto(cluster.url);
  await page.waitForURL(/\/login/);
  await page.fill('#name', USERS.operator[0]);
  await page.fill('#password', 'not-the-password');
  await page.click('#login-button');
  await page.waitForSelector('#login-error:not([hidden])');
  assert.match(await page.textContent('#login-error'), /wrong name or password/);
});

test('the overview lists every job with its status, live', async () => {
  await login(USERS.operator);
  assert.equal(await page.textContent('#role'), 'operator');
  for (const name of ['orders', 'invoices', 'settlement']) {
    await page.waitForSelector(`#jobs-table tr[data-job="${name}"][data-status="OK"]`, { timeout: 30000 });
  }
  assert.match(await page.textContent('#zk-state'), /ZooKeeper connected/);
  const cron = await page.textContent('#jobs-table tr[data-job="orders"] code');
  assert.equal(cron, '0/2 * * * * ?');
  // Runs (and the failing item's failures) arrive from the history.
  await page.waitForFunction(() => document.querySelectorAll('#jobs-table tr[data-job="orders"] .strip i.FAILED').length > 0, null, { timeout: 30000 });
  await page.waitForFunction(() => document.querySelectorAll('#jobs-table tr[data-job="invoices"] .strip i.SUCCEEDED').length > 0, null, { timeout: 30000 });
  await clearToasts();
  await page.screenshot({ path: join(SHOTS, 'console-overview.png') });
});

test('an item changes owner on the job page when its worker is killed', async () => {
  await page.click('#jobs-table tr[data-job="settlement"] a.job-link');
  await page.waitForSelector('#items-grid');
  const owners = async () => page.$$eval('#items-grid tbody tr', (rows) => rows.map((r) => r.dataset.owner));
  await page.waitForFunction(([a, b]) => {
    const seen = [...document.querySelectorAll('#items-grid tbody tr')].map((r) => r.dataset.owner);
    return seen.includes(a) && seen.includes(b);
  }, [workerA.id, workerB.id], { timeout: 30000 });
  const before = await owners();
  const moving = before.findIndex((owner) => owner === workerB.id);
  assert.ok(moving >= 0, `worker B owns an item: ${before}`);
  await page.evaluate(() => { window.notReloaded = true; });

  workerB.child.kill('SIGKILL');
  await page.waitForFunction(([item, a]) => {
    const row = document.querySelector(`#items-grid tbody tr[data-item="${item}"]`);
    return row && row.dataset.owner === a;
  }, [moving, workerA.id], { timeout: 45000 });
  const afterKill = await owners();
  assert.deepEqual(afterKill, afterKill.map(() => workerA.id), 'every item is on the surviving worker');
  assert.equal(await page.evaluate(() => window.notReloaded), true, 'the change was pushed, the page never reloaded');
  assert.equal(await page.$$eval('#items-grid thead th.inst', (ths) => ths.length), 1, 'one live instance column left');
});

test('triggering a job asks for confirmation, then its runs appear', async () => {
  const clicked = Date.now();
  await page.click('button[data-action="trigger"]');
  await page.waitForSelector('#confirm[open]');
  assert.match(await page.textContent('#confirm-text'), /settlement/);
  await page.click('#confirm-ok');
  await page.waitForSelector('.toast:has-text("Trigger: done")');
  // All four items run once, on the survivor, and show in the runs table.
  await page.waitForFunction((since) => {
    const rows = [...document.querySelectorAll('#runs-table tbody tr')].filter((r) => Number(r.dataset.start) >= since - 1000);
    return new Set(rows.map((r) => r.dataset.item)).size === 4 && rows.every((r) => r.dataset.outcome === 'SUCCEEDED');
  }, clicked, { timeout: 30000 });
  const instances = await page.$$eval('#runs-table tbody tr td:nth-child(3)', (tds) => tds.map((td) => td.textContent));
  assert.ok(instances.every((text) => text === instances[0]), 'one instance ran them all');
  await page.waitForSelector('#timeline-card .tl-bar');
});

test('pausing asks for a reason and an end, shows the note live, and resuming clears it', async () => {
  await page.click('button[data-action="pause"]');
  await page.waitForSelector('#pause-dialog[open]');
  await page.fill('#pause-reason', 'quarterly close');
  await page.fill('#pause-until', '2h');
  await page.click('#pause-ok');
  await page.waitForSelector('.toast:has-text("Pause: done")');
  await page.waitForSelector('#pause-note:has-text("quarterly close")');
  assert.match(await page.textContent('#pause-note'), /Paused by olga .*resumes by itself/);
  assert.equal(await page.textContent('#job-title .pill'), 'PAUSED');
  await page.click('button[data-action="resume"]');
  await page.waitForSelector('#confirm[open]');
  await page.click('#confirm-ok');
  await page.waitForSelector('.toast:has-text("Resume: done")');
  await page.waitForSelector('#pause-note', { state: 'detached' });
  await page.waitForSelector('button[data-action="pause"]');
});

test('a bad configuration is refused beside its field', async () => {
  await page.click('#edit-config');
  await page.waitForSelector('#config-dialog[open] #cfg-cron');
  await page.fill('#cfg-shardingTotalCount', '0');
  await page.click('#config-save');
  await page.waitForSelector('#confirm[open]');
  await page.click('#confirm-ok');
  await page.waitForSelector('[data-error-for="shardingTotalCount"]:not([hidden])');
  assert.match(await page.textContent('[data-error-for="shardingTotalCount"]'), /at least 1/);
  assert.ok(await page.$eval('[data-field="shardingTotalCount"]', (f) => f.classList.contains('invalid')));
  await page.fill('#cfg-shardingTotalCount', '4');
  await page.fill('#cfg-cron', 'every minute');
  await page.click('#config-save');
  await page.click('#confirm-ok');
  await page.waitForSelector('[data-error-for="cron"]:not([hidden])');
  assert.match(await page.textContent('[data-error-for="cron"]'), /every minute/);
  assert.equal(await page.$eval('[data-error-for="shardingTotalCount"]', (e) => e.hidden), true, 'the old error is cleared');
  await page.fill('#cfg-cron', '');
  await page.fill('#cfg-description', 'Bank settlement, run on demand (checked by the console test)');
  await page.click('#config-save');
  await page.click('#confirm-ok');
  await page.waitForSelector('#config-dialog', { state: 'hidden' });
  await page.waitForSelector('.toast:has-text("saved: description")');
});

test('a backfill asks for a range, then its progress shows until every (item, fire) started', async () => {
  await page.goto(`${cluster.url}#/job/invoices`);
  await page.waitForSelector('#no-backfills');
  await page.click('button[data-action="backfill"]');
  await page.waitForSelector('#backfill-dialog[open]');
  await page.fill('#backfill-from', 'last week');
  await page.click('#backfill-ok');
  await page.waitForSelector('.toast.bad:has-text("Backfill refused: invalid from `last week`")');
  await clearToasts();
  await page.click('button[data-action="backfill"]');
  await page.fill('#backfill-from', '20s');
  await page.click('#backfill-ok');
  await page.waitForSelector('.toast:has-text("Backfill: bf-")');
  // Four fires of 0/5 s in 20 s, on 3 items: 12 runs of 0.3 s, oldest first per item.
  await page.waitForSelector('#backfills-table tr[data-done="true"]', { timeout: 30000 });
  assert.match(await page.textContent('#backfills-table tbody tr'), /bf-\d{10}.*(12\/12|9\/9|15\/15).*DONE.*olga/);
});

test('a new worker takes a share of the items; screenshots of the job page and the history', async () => {
  await page.goto(`${cluster.url}#/job/orders`);
  await page.waitForSelector('#items-grid');
  const workerC = await cluster.startWorker('worker-c', [cluster.jobFiles().orders]);
  await page.waitForFunction((c) => [...document.querySelectorAll('#items-grid tbody tr')].some((r) => r.dataset.owner === c), workerC.id, { timeout: 30000 });
  await page.waitForFunction(() => document.querySelectorAll('#timeline-card .tl-bar.FAILED').length > 2, null, { timeout: 30000 });
  await page.waitForTimeout(4500);
  await clearToasts();
  await page.screenshot({ path: join(SHOTS, 'console-job.png'), fullPage: true });
  await page.goto(`${cluster.url}#/history?limit=15`);
  await page.waitForSelector('#history-table tbody tr[data-outcome]');
  await clearToasts();
  await page.screenshot({ path: join(SHOTS, 'console-history.png'), fullPage: true });
  await page.goto(`${cluster.url}#/history?job=orders&outcome=FAILED&limit=15`);
  await page.waitForSelector('#history-table tbody tr[data-outcome="FAILED"]');
  const outcomes = await page.$$eval('#history-table tbody tr', (rows) => rows.map((r) => r.dataset.outcome));
  assert.ok(outcomes.length > 0 && outcomes.every((o) => o === 'FAILED'), 'the outcome filter applies');
  assert.match(await page.textContent('#history-table tbody tr td.cause'), /payment gateway refused/);
});

test('a viewer reads but is refused every operation, and the refusal is audited', async () => {
  await page.click('#logout');
  await page.waitForURL(/\/login/);
  await login(USERS.viewer);
  assert.equal(await page.textContent('#role'), 'viewer');
  await page.goto(`${cluster.url}#/job/settlement`);
  await page.waitForSelector('#items-grid');
  assert.match(await page.textContent('.readonly-note'), /viewer/);
  await page.click('button[data-action="trigger"]');
  await page.click('#confirm-ok');
  await page.waitForSelector('.toast.bad');
  assert.match(await page.textContent('.toast.bad'), /Trigger refused: user `victor` is a viewer: operations need the operator role/);
  await page.goto(`${cluster.url}#/audit`);
  await page.waitForSelector('#audit-table tbody tr[data-outcome="DENIED"][data-actor="victor"][data-action="trigger"]');
  await page.waitForSelector('#audit-table tbody tr[data-outcome="OK"][data-actor="olga"][data-action="update-config"]');
  await page.screenshot({ path: join(SHOTS, 'console-audit.png') });
});
