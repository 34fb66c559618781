// The jobs overview: every job's status, cron and next fire, instances,
// item states, last runs and failure rate.
import { h, pill, shortTime, relative, duration, formatTime, enc } from './util.js';
import { view } from './api.js';

export function itemBar(items) {
  const bar = h('span', { class: 'itembar', title: '' });
  const counts = {};
  for (const i of items) counts[i.state] = (counts[i.state] || 0) + 1;
  for (const state of ['RUNNING', 'PENDING', 'SHARDING_FLAG', 'DISABLED']) {
    if (!counts[state]) continue;
    const seg = h('span', { class: `seg-${state}` });
    seg.style.width = `${(100 * counts[state]) / items.length}%`;
    bar.append(seg);
  }
  bar.title = Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ');
  return bar;
}

export function outcomeStrip(history) {
  const strip = h('span', { class: 'strip' });
  const runs = (history && history.recent) || [];
  for (const run of runs.slice(0, 12).reverse()) {
    strip.append(h('i', {
      class: `${run.outcome}${run.failover ? ' fo' : ''}`,
      title: `${formatTime(run.start_time)} item ${run.item} ${run.outcome} (${duration(run.complete_time - run.start_time)}) on ${run.instance_id}${run.failover ? ', failover' : ''}`,
    }));
  }
  if (!runs.length) strip.append(h('span', { class: 'muted small', text: 'no runs' }));
  return strip;
}

export function failureRate(history) {
  if (!history || !history.total) return h('span', { class: 'muted', text: '—' });
  const rate = (100 * history.failed) / history.total;
  return h('span', { class: rate > 0 ? 'rate-bad' : 'rate-ok', title: `${history.failed} of ${history.total} runs failed in the last day`, text: `${rate.toFixed(rate > 0 && rate < 10 ? 1 : 0)}%` });
}

export function renderOverview(page) {
  const state = view.state;
  const jobs = state.registry.jobs;
  const hist = state.history;
  const instances = new Set();
  let running = 0; let items = 0; let total = 0; let failed = 0;
  for (const job of jobs) {
    job.instances.forEach((i) => instances.add(i.instance_id));
    items += job.items.length;
    running += job.items.filter((i) => i.state === 'RUNNING').length;
    const jh = hist.jobs[job.job_name];
    if (jh) { total += jh.total; failed += jh.failed; }
  }
  const statusCounts = {};
  for (const job of jobs) statusCounts[job.status] = (statusCounts[job.status] || 0) + 1;
  const stat = (label, value, hint) => h('div', { class: 'stat' }, h('div', { class: 'label', text: label }), h('div', { class: 'value', text: value }), h('div', { class: 'hint', text: hint }));
  page.append(
    h('div', { class: 'page-head' }, h('div', {}, h('h1', { text: 'Jobs' }), h('div', { class: 'sub' }, `${jobs.length} jobs in this namespace · updated live from ZooKeeper`))),
    h('div', { class: 'stats' },
      stat('Jobs', jobs.length, Object.entries(statusCounts).map(([k, v]) => `${v} ${k}`).join(' · ') || 'none yet'),
      stat('Instances', instances.size, 'live worker processes'),
      stat('Items', items, `${running} running now`),
      stat('Runs, last 24 h', hist.configured ? total : '—', hist.configured ? `${failed} failed${total ? ` (${((100 * failed) / total).toFixed(1)}%)` : ''}` : 'no history configured'),
    ),
  );
  const rows = jobs.map((job) => h('tr', { dataset: { job: job.job_name, status: job.status } },
    h('td', {}, h('a', { class: 'job-link', href: `#/job/${enc(job.job_name)}`, text: job.job_name }), job.description ? h('div', { class: 'muted small', text: job.description }) : null),
    h('td', {}, pill(job.status)),
    h('td', {}, job.cron ? h('code', { text: job.cron }) : h('span', { class: 'muted', text: 'trigger only' }), job.time_zone ? h('div', { class: 'muted small', text: job.time_zone }) : null),
    h('td', {}, job.next_fire_time ? [h('span', { text: shortTime(job.next_fire_time) }), ' ', h('span', { class: 'muted small', 'data-rel': job.next_fire_time, text: relative(job.next_fire_time) })] : h('span', { class: 'muted', text: '—' })),
    h('td', { class: 'num' }, String(job.instance_count)),
    h('td', {}, itemBar(job.items), h('span', { class: 'small', text: `${job.items.length}` })),
    h('td', {}, outcomeStrip(hist.jobs[job.job_name])),
    h('td', { class: 'num' }, failureRate(hist.jobs[job.job_name])),
    h('td', {}, hist.jobs[job.job_name] ? h('span', { class: 'muted small', 'data-rel': hist.jobs[job.job_name].last_start, text: relative(hist.jobs[job.job_name].last_start) }) : h('span', { class: 'muted', text: '—' })),
  ));
  page.append(h('div', { class: 'card flush' },
    h('div', { class: 'table-wrap' }, h('table', { id: 'jobs-table' },
      h('thead', {}, h('tr', {}, ['Job', 'Status', 'Cron', 'Next fire', 'Instances', 'Items', 'Last runs', 'Failures 24 h', 'Last run'].map((t, i) => h('th', { class: i === 4 || i === 7 ? 'num' : null, text: t })))),
      h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 9, class: 'empty', text: state.registry.state === 'CONNECTED' ? 'No jobs in this namespace yet.' : 'Connecting to ZooKeeper…' }))),
    ))));
}
