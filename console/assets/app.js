// elasticjob console: a single page on the console's JSON API.
// The cluster view arrives over Server-Sent Events (/api/events), pushed by
// the console's one ZooKeeper watcher; the page never polls the registry.
// Everything the page shows is built with DOM calls (textContent), never
// from HTML strings, so no registry or history value can inject markup.
'use strict';

const view = { me: null, state: null, route: null, timelineKey: null, timeline: null, historyMode: 'executions' };

// ---------- small helpers ----------

function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');
function formatTime(ms) {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
function shortTime(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
function relative(ms) {
  if (!ms) return '';
  const s = Math.round((ms - Date.now()) / 1000);
  const abs = Math.abs(s);
  const text = abs < 60 ? `${abs}s` : abs < 3600 ? `${Math.round(abs / 60)}m` : abs < 86400 ? `${Math.round(abs / 3600)}h` : `${Math.round(abs / 86400)}d`;
  return s >= 0 ? `in ${text}` : `${text} ago`;
}
function duration(ms) {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60000)} m ${Math.round((ms % 60000) / 1000)} s`;
}
function pill(value, cls) { return h('span', { class: `pill ${cls || value}`, text: value }); }
const enc = encodeURIComponent;

function toast(message, bad) {
  const el = h('div', { class: bad ? 'toast bad' : 'toast', role: 'status', text: message });
  document.getElementById('toasts').append(el);
  setTimeout(() => el.remove(), bad ? 9000 : 4500);
}

// ---------- API ----------

class ApiError extends Error {
  constructor(status, body) {
    super(body.error || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body) {
  const headers = { 'X-Requested-With': 'ejob-console' };
  if (method !== 'GET') {
    headers['X-Ejob-Csrf'] = (view.me && view.me.csrf) || 'console';
    headers['Content-Type'] = 'application/json';
  }
  const response = await fetch(path, {
    method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401 && view.me && view.me.users) {
    location.assign('/login' + location.hash);
    throw new ApiError(401, { error: 'logged out' });
  }
  const text = await response.text();
  const data = text ? JSON.parse(text) : {};
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// ---------- confirmation ----------

function confirmAction(title, text, danger) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  const ok = document.getElementById('confirm-ok');
  ok.className = danger ? 'btn btn-primary btn-danger-fill' : 'btn btn-primary';
  ok.textContent = title;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.returnValue = 'cancel';
    dialog.showModal();
    document.getElementById('confirm-cancel').focus();
  });
}

const ACTION_TEXT = {
  trigger: ['Trigger', (j) => `Run every item of job “${j}” now, on every live instance?`],
  disable: ['Disable', (j, t) => t.server ? `Disable job “${j}” on server ${t.server}? Its instances there stop taking items.` : `Disable job “${j}” on every server? No item runs until it is enabled.`],
  enable: ['Enable', (j, t) => t.server ? `Enable job “${j}” on server ${t.server}?` : `Enable job “${j}” on every server?`],
  'disable-item': ['Disable item', (j, t) => `Disable item ${t.item} of job “${j}”? It will not run until enabled.`],
  'enable-item': ['Enable item', (j, t) => `Enable item ${t.item} of job “${j}”?`],
  shutdown: ['Shut down', (j, t) => t.server ? `Shut down the instances of job “${j}” on server ${t.server}? They finish running items and stop.` : `Shut down every instance of job “${j}”? They finish running items and stop.`],
  remove: ['Remove', (j, t) => t.server ? `Remove server ${t.server} from job “${j}”?` : `Remove job “${j}” and all its registry nodes? This cannot be undone.`],
};

async function operate(job, action, target = {}) {
  const [title, text] = ACTION_TEXT[action];
  const danger = action === 'remove' || action === 'shutdown';
  if (!await confirmAction(title, text(job, target), danger)) return;
  try {
    await api('POST', `/api/jobs/${enc(job)}/operations/${action}`, target);
    toast(`${title}: done for ${job}${target.server ? ` on ${target.server}` : ''}${target.item !== undefined ? `, item ${target.item}` : ''}`);
    if (action === 'remove' && !target.server) location.hash = '#/';
  } catch (e) {
    toast(`${title} refused: ${e.message}`, true);
  }
}

function opButton(label, job, action, target, cls) {
  const readOnly = view.me && view.me.role !== 'operator';
  return h('button', {
    class: `btn ${cls || ''} ${readOnly ? 'is-readonly' : ''}`.trim(),
    title: readOnly ? `Your role (${view.me.role}) cannot operate: the console will refuse` : null,
    dataset: { action, ...(target && target.item !== undefined ? { item: String(target.item) } : {}), ...(target && target.server ? { server: target.server } : {}) },
    onclick: () => operate(job, action, target || {}),
  }, label);
}

// ---------- header ----------

function renderHeader() {
  const state = view.state;
  const zk = document.getElementById('zk-state');
  if (state) {
    const s = state.registry.state;
    zk.className = `conn ${s === 'CONNECTED' ? 'ok' : s === 'SUSPENDED' || s === 'CONNECTING' ? 'warn' : 'bad'}`;
    zk.lastElementChild.textContent = `ZooKeeper ${s.toLowerCase()}`;
    zk.title = `The console's one ZooKeeper session ${state.registry.session_id || ''}; ${state.registry.reconnects} reconnects`;
  }
  const banner = document.getElementById('banner');
  const problems = [];
  if (state && state.registry.error) problems.push(state.registry.error);
  if (state && state.registry.state !== 'CONNECTED') problems.push(`ZooKeeper session ${state.registry.state.toLowerCase()}: the page shows the last state read.`);
  if (state && state.history.error) problems.push(`History: ${state.history.error}`);
  banner.hidden = problems.length === 0;
  banner.textContent = problems.join(' · ');
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', a.dataset.nav === (view.route && view.route.nav));
  }
}

function setLive(ok, text) {
  const live = document.getElementById('live-state');
  live.className = `conn ${ok ? 'ok' : 'warn'}`;
  live.lastElementChild.textContent = text;
}

// ---------- overview ----------

function itemBar(items) {
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

function outcomeStrip(history) {
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

function failureRate(history) {
  if (!history || !history.total) return h('span', { class: 'muted', text: '—' });
  const rate = (100 * history.failed) / history.total;
  return h('span', { class: rate > 0 ? 'rate-bad' : 'rate-ok', title: `${history.failed} of ${history.total} runs failed in the last day`, text: `${rate.toFixed(rate > 0 && rate < 10 ? 1 : 0)}%` });
}

function renderOverview(page) {
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

// ---------- job page ----------

function instanceLabel(id) {
  const [ip, pid] = id.split('@-@');
  return pid ? `${ip} · ${pid}` : id;
}

function itemsGrid(job) {
  const live = job.instances.map((i) => i.instance_id);
  const orphaned = job.items.some((i) => i.instance_id && !live.includes(i.instance_id)) || job.items.some((i) => !i.instance_id);
  const head = h('tr', {}, h('th', { text: 'Item' }),
    job.instances.map((i) => h('th', { class: 'inst', title: i.instance_id }, instanceLabel(i.instance_id), i.leader ? h('span', { class: 'tag leader', text: 'leader' }) : null, i.enabled ? null : h('span', { class: 'tag off', text: 'disabled' }))),
    orphaned ? h('th', { class: 'inst', text: 'not live' }) : null,
    h('th', { text: 'State' }), h('th', { text: '' }));
  const rows = job.items.map((item) => {
    const cells = job.instances.map((inst) => {
      let content = h('span', { class: 'dot-free', text: '·' });
      if (item.instance_id === inst.instance_id) content = h('span', { class: `chip ${item.state}`, text: item.state === 'SHARDING_FLAG' ? 'RESHARDING' : item.state });
      if (item.failover_instance === inst.instance_id) content = h('span', { class: 'chip failover', text: 'FAILOVER' });
      return h('td', { class: 'cell' }, content);
    });
    const gone = orphaned ? h('td', { class: 'cell' }, item.instance_id && !live.includes(item.instance_id) ? h('span', { class: 'chip SHARDING_FLAG', title: item.instance_id, text: instanceLabel(item.instance_id) }) : !item.instance_id ? h('span', { class: 'chip SHARDING_FLAG', text: 'UNASSIGNED' }) : h('span', { class: 'dot-free', text: '·' })) : null;
    const toggle = item.state === 'DISABLED'
      ? opButton('Enable', job.job_name, 'enable-item', { item: item.item }, 'btn-small')
      : opButton('Disable', job.job_name, 'disable-item', { item: item.item }, 'btn-small');
    return h('tr', { dataset: { item: String(item.item), owner: item.instance_id || '', state: item.state } },
      h('td', { text: String(item.item) }), cells, gone,
      h('td', {}, pill(item.state), item.running_fire ? h('span', { class: 'muted small', text: ` fire ${shortTime(item.running_fire)}` }) : null),
      h('td', {}, toggle));
  });
  return h('div', { class: 'table-wrap' }, h('table', { class: 'grid-table', id: 'items-grid' }, h('thead', {}, head), h('tbody', {}, rows)));
}

function serversTable(job) {
  const rows = job.servers.map((s) => h('tr', { dataset: { server: s.ip } },
    h('td', { class: 'mono', text: s.ip }),
    h('td', {}, s.enabled ? pill('ENABLED', 'ok') : pill('DISABLED')),
    h('td', { class: 'num', text: String(s.instance_count) }),
    h('td', {}, h('div', { class: 'actions' },
      s.enabled ? opButton('Disable', job.job_name, 'disable', { server: s.ip }, 'btn-small') : opButton('Enable', job.job_name, 'enable', { server: s.ip }, 'btn-small'),
      s.instance_count ? opButton('Shut down', job.job_name, 'shutdown', { server: s.ip }, 'btn-small btn-danger') : opButton('Remove', job.job_name, 'remove', { server: s.ip }, 'btn-small btn-danger'))),
  ));
  return h('table', {}, h('thead', {}, h('tr', {}, ['Server', 'State', 'Instances', ''].map((t, i) => h('th', { class: i === 2 ? 'num' : null, text: t })))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 4, class: 'empty', text: 'No servers.' }))));
}

function instancesTable(job) {
  const rows = job.instances.map((i) => h('tr', {},
    h('td', { class: 'mono', text: i.instance_id }),
    h('td', { class: 'mono', text: i.server_ip }),
    h('td', {}, i.leader ? h('span', { class: 'tag leader', text: 'leader' }) : ''),
    h('td', { class: 'num', text: String(job.items.filter((it) => it.instance_id === i.instance_id).length) })));
  return h('table', {}, h('thead', {}, h('tr', {}, ['Instance', 'Server', 'Role', 'Items'].map((t, i) => h('th', { class: i === 3 ? 'num' : null, text: t })))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 4, class: 'empty', text: 'No live instance: the job is CRASHED.' }))));
}

function timelineCard(job) {
  const card = h('div', { class: 'card', id: 'timeline-card' }, h('div', { class: 'card-head' }, h('h2', { text: 'Recent fires' }), h('span', { class: 'muted small', text: 'from the execution history' })));
  if (!view.state.history.configured) {
    card.append(h('p', { class: 'muted', text: 'No execution history: start the console with --history URL to see which instance ran which item, for how long, and what failed.' }));
    return card;
  }
  const data = view.timeline && view.timelineKey && view.timelineKey.startsWith(`${job.job_name}\u0000`) ? view.timeline : null;
  if (!data) { card.append(h('p', { class: 'muted', text: 'Loading…' })); return card; }
  const runs = data.executions;
  const marks = data.statuses.filter((s) => ['MISFIRED', 'TRIGGERED', 'FAILOVER_TAKEN'].includes(s.state));
  if (!runs.length && !marks.length) { card.append(h('p', { class: 'muted', id: 'no-runs', text: 'No runs recorded yet.' })); return card; }
  const now = Date.now();
  const oldest = Math.min(...runs.map((r) => r.start_time), ...marks.map((m) => m.creation_time), now - 20000);
  const t0 = Math.max(oldest, now - 30 * 60000);
  const span = Math.max(now - t0, 1);
  const pos = (t) => `${Math.max(0, Math.min(100, (100 * (t - t0)) / span))}%`;
  const axis = h('div', { class: 'tl-axis' }, [0, 0.25, 0.5, 0.75, 1].map((f) => h('span', { text: shortTime(t0 + f * span) })));
  const lanes = job.items.map((item) => {
    const track = h('div', { class: 'tl-track' });
    for (const r of runs.filter((r) => r.sharding_item === item.item && r.complete_time >= t0)) {
      const bar = h('div', { class: `tl-bar ${r.outcome}${r.failover ? ' fo' : ''}`, title: `item ${r.sharding_item} · ${r.outcome}${r.failover ? ' · failover' : ''}\n${instanceLabel(r.instance_id)}\nstarted ${formatTime(r.start_time)} · ${duration(r.complete_time - r.start_time)}\nfire ${formatTime(r.fire_time)}${r.failure_cause ? `\n${r.failure_cause.split('\n')[0]}` : ''}` });
      bar.style.left = pos(r.start_time);
      bar.style.width = `${Math.max(0.35, (100 * (r.complete_time - r.start_time)) / span)}%`;
      track.append(bar);
    }
    for (const m of marks.filter((m) => m.sharding_item.split(',').includes(String(item.item)) && m.creation_time >= t0)) {
      const mark = h('div', { class: `tl-mark ${m.state}`, title: `${m.state} · ${formatTime(m.creation_time)} · ${instanceLabel(m.instance_id)}${m.message ? `\n${m.message}` : ''}` });
      mark.style.left = pos(m.creation_time);
      track.append(mark);
    }
    return h('div', { class: 'tl-lane' }, h('div', { class: 'tl-label', text: `item ${item.item}` }), track);
  });
  const legend = h('div', { class: 'legend' },
    h('span', {}, h('i', { class: 'l-ok' }), 'succeeded'),
    h('span', {}, h('i', { class: 'l-failed' }), 'failed'),
    h('span', {}, h('i', { class: 'l-timeout' }), 'timed out'),
    h('span', {}, h('i', { class: 'l-fo' }), 'failover'),
    h('span', {}, h('i', { class: 'mark' }), 'misfire'),
    h('span', {}, h('i', { class: 'mark TRIGGERED' }), 'trigger'));
  const table = h('table', { id: 'runs-table' },
    h('thead', {}, h('tr', {}, ['Started', 'Item', 'Instance', 'Duration', 'Outcome', 'Source', 'Cause'].map((t, i) => h('th', { class: i === 1 || i === 3 ? 'num' : null, text: t })))),
    h('tbody', {}, runs.slice(0, 12).map((r) => h('tr', { dataset: { item: String(r.sharding_item), outcome: r.outcome, start: String(r.start_time) } },
      h('td', { text: formatTime(r.start_time) }),
      h('td', { class: 'num', text: String(r.sharding_item) }),
      h('td', { class: 'mono', text: instanceLabel(r.instance_id) }),
      h('td', { class: 'num', text: duration(r.complete_time - r.start_time) }),
      h('td', {}, pill(r.outcome)),
      h('td', {}, r.failover ? pill('FAILOVER') : h('span', { class: 'muted small', text: r.execution_source })),
      h('td', { class: 'cause', title: r.failure_cause || '', text: r.failure_cause ? r.failure_cause.split('\n')[0] : '' })))));
  card.append(h('div', { class: 'timeline' }, axis, lanes), legend, h('div', { class: 'table-wrap' }, table),
    h('div', { class: 'more' }, h('a', { href: `#/history?job=${enc(job.job_name)}`, text: 'All runs of this job in the history →' })));
  return card;
}

function renderJob(page, name) {
  const job = view.state.registry.jobs.find((j) => j.job_name === name);
  if (!job) {
    page.append(h('div', { class: 'crumbs' }, h('a', { href: '#/', text: 'Jobs' }), ' / ', name),
      h('div', { class: 'card empty', text: view.state.registry.state === 'CONNECTED' ? `There is no job “${name}” in this namespace (removed?).` : 'Connecting to ZooKeeper…' }));
    return;
  }
  const readOnly = view.me.role !== 'operator';
  const allDisabled = job.servers.length && job.servers.every((s) => !s.enabled);
  page.append(
    h('div', { class: 'crumbs' }, h('a', { href: '#/', text: 'Jobs' }), ' / ', job.job_name),
    h('div', { class: 'page-head' },
      h('div', {},
        h('h1', { id: 'job-title' }, job.job_name, ' ', pill(job.status)),
        h('div', { class: 'sub' },
          job.cron ? h('span', {}, 'cron ', h('code', { text: job.cron }), job.time_zone ? ` (${job.time_zone})` : '') : h('span', { text: 'trigger only (no cron)' }),
          job.next_fire_time ? h('span', {}, `next fire ${formatTime(job.next_fire_time)} `, h('span', { 'data-rel': job.next_fire_time, text: `(${relative(job.next_fire_time)})` })) : null,
          h('span', { text: `${job.sharding_total_count} items · ${job.instance_count} instances` }),
          h('span', { text: `failover ${job.failover ? 'on' : 'off'} · misfire ${job.misfire ? 'on' : 'off'}` })),
        job.description ? h('div', { class: 'muted', text: job.description }) : null),
      h('div', { class: 'actions' },
        readOnly ? h('span', { class: 'readonly-note', text: 'read-only: viewer' }) : null,
        opButton('Trigger now', job.job_name, 'trigger', {}, 'btn-primary'),
        allDisabled ? opButton('Enable job', job.job_name, 'enable', {}) : opButton('Disable job', job.job_name, 'disable', {}),
        h('button', { class: 'btn', id: 'edit-config', onclick: () => openConfig(job.job_name) }, 'Edit config'),
        opButton('Shut down', job.job_name, 'shutdown', {}, 'btn-danger'),
        opButton('Remove', job.job_name, 'remove', {}, 'btn-danger'))),
    h('div', { class: 'card flush' }, h('div', { class: 'card-head' }, h('h2', { text: 'Items × instances' }), h('span', { class: 'muted small', text: 'who owns each item now, live' })), itemsGrid(job)),
    h('div', { class: 'two-col' },
      h('div', { class: 'card flush' }, h('div', { class: 'card-head' }, h('h2', { text: 'Instances' })), h('div', { class: 'table-wrap' }, instancesTable(job))),
      h('div', { class: 'card flush' }, h('div', { class: 'card-head' }, h('h2', { text: 'Servers' })), h('div', { class: 'table-wrap' }, serversTable(job)))),
    timelineCard(job));
  refreshTimeline();
}

let timelineTimer = null;
function timelineKeyOf(name) {
  const jh = view.state.history.jobs[name];
  return `${name}\u0000${jh ? `${jh.total}/${jh.last_start}` : 'none'}`;
}

// Fetches the job's timeline when its runs moved (the view's counts say
// so), a moment after the change; the console answers many browsers from
// one query.
function refreshTimeline() {
  if (!view.state.history.configured || timelineTimer) return;
  if (timelineKeyOf(view.route.job) === view.timelineKey) return;
  timelineTimer = setTimeout(async () => {
    timelineTimer = null;
    if (view.route.name !== 'job') return;
    const name = view.route.job;
    const key = timelineKeyOf(name);
    try {
      const data = await api('GET', `/api/jobs/${enc(name)}/timeline?limit=300`);
      view.timeline = data;
      view.timelineKey = key;
      if (view.route.name === 'job' && view.route.job === name) {
        const old = document.getElementById('timeline-card');
        const job = view.state.registry.jobs.find((j) => j.job_name === name);
        if (old && job) old.replaceWith(timelineCard(job));
      }
    } catch (e) {
      toast(`History: ${e.message}`, true);
    }
  }, 150);
}

// ---------- configuration form ----------

const CONFIG_FIELDS = [
  ['cron', 'Cron', 'text', 'Quartz syntax with seconds; empty: trigger only'],
  ['timeZone', 'Time zone', 'text', 'IANA name or GMT+08:00; empty: UTC'],
  ['shardingTotalCount', 'Items (shardingTotalCount)', 'number', ''],
  ['shardingItemParameters', 'Item parameters', 'text', 'e.g. 0=Beijing,1=Shanghai'],
  ['jobParameter', 'Job parameter', 'text', ''],
  ['description', 'Description', 'text', ''],
  ['jobShardingStrategyType', 'Sharding strategy', 'text', 'AVG_ALLOCATION, ODEVITY, ROUND_ROBIN, SINGLE_SHARDING_BALANCE'],
  ['jobExecutorServiceHandlerType', 'Executor', 'text', 'CPU or SINGLE_THREAD'],
  ['jobErrorHandlerType', 'Error handler', 'text', 'LOG, IGNORE, THROW, WEBHOOK, …'],
  ['maxTimeDiffSeconds', 'Max clock difference (s)', 'number', '-1: off'],
  ['reconcileIntervalMinutes', 'Reconcile interval (min)', 'number', '0: off'],
  ['failover', 'Failover', 'checkbox', ''],
  ['misfire', 'Misfire', 'checkbox', ''],
  ['monitorExecution', 'Monitor execution', 'checkbox', ''],
  ['staticSharding', 'Static sharding', 'checkbox', ''],
  ['disabled', 'Start disabled', 'checkbox', ''],
  ['props', 'Props (key=value per line)', 'textarea', ''],
];

async function openConfig(name) {
  let data;
  try { data = await api('GET', `/api/jobs/${enc(name)}/config`); } catch (e) { toast(e.message, true); return; }
  const dialog = document.getElementById('config-dialog');
  document.getElementById('config-job').textContent = name;
  document.getElementById('config-error').hidden = true;
  const fields = document.getElementById('config-fields');
  fields.replaceChildren();
  for (const [key, label, type, hint] of CONFIG_FIELDS) {
    const value = data.fields[key];
    let input;
    if (type === 'checkbox') input = h('input', { type: 'checkbox', name: key, id: `cfg-${key}`, checked: !!value });
    else if (type === 'textarea') input = h('textarea', { name: key, id: `cfg-${key}` }, Object.entries(value || {}).map(([k, v]) => `${k}=${v}`).join('\n'));
    else input = h('input', { type, name: key, id: `cfg-${key}`, value: value === null || value === undefined ? '' : String(value) });
    const wide = type === 'textarea' || key === 'description';
    const field = type === 'checkbox'
      ? h('label', { class: 'field check', 'data-field': key }, input, h('span', { text: label }), h('div', { class: 'field-error', 'data-error-for': key, hidden: true }))
      : h('label', { class: `field${wide ? ' full' : ''}`, 'data-field': key }, h('span', { text: label }), input, hint ? h('span', { class: 'hint', text: hint }) : null, h('div', { class: 'field-error', 'data-error-for': key, hidden: true }));
    fields.append(field);
  }
  dialog.dataset.job = name;
  dialog.showModal();
}

function clearFieldErrors() {
  for (const f of document.querySelectorAll('#config-fields .field')) f.classList.remove('invalid');
  for (const e of document.querySelectorAll('#config-fields .field-error')) { e.hidden = true; e.textContent = ''; }
  document.getElementById('config-error').hidden = true;
}

async function saveConfig(event) {
  event.preventDefault();
  const dialog = document.getElementById('config-dialog');
  const name = dialog.dataset.job;
  clearFieldErrors();
  const form = {};
  for (const [key, , type] of CONFIG_FIELDS) {
    const input = document.getElementById(`cfg-${key}`);
    form[key] = type === 'checkbox' ? input.checked : input.value;
  }
  if (!await confirmAction('Save', `Write the new configuration of job “${name}” to ZooKeeper? Live instances apply it at once.`)) return;
  try {
    const result = await api('POST', `/api/jobs/${enc(name)}/config`, form);
    dialog.close();
    toast(result.changed.length ? `Configuration of ${name} saved: ${result.changed.join(', ')}` : `Nothing changed in ${name}`);
  } catch (e) {
    const field = e.body && e.body.field;
    const slot = field && document.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
    if (slot) {
      slot.textContent = e.body.reason ? `${e.body.reason} (got “${e.body.value}”)` : e.message;
      slot.hidden = false;
      slot.parentElement.classList.add('invalid');
      const input = document.getElementById(`cfg-${field}`);
      if (input) input.focus();
    } else {
      const box = document.getElementById('config-error');
      box.textContent = e.message;
      box.hidden = false;
    }
  }
}

// ---------- history and audit ----------

function datetimeToMillis(value) { return value ? String(new Date(value).getTime()) : ''; }

function filterForm(fields, onSubmit, values) {
  const form = h('form', { class: 'filters', id: 'filters' });
  for (const [name, label, kind, options] of fields) {
    let input;
    if (kind === 'select') input = h('select', { name }, options.map((o) => h('option', { value: o, selected: values[name] === o, text: o || 'any' })));
    else input = h('input', { name, type: kind, value: values[name] || '', placeholder: kind === 'text' ? 'any' : null, size: kind === 'number' ? 5 : null });
    form.append(h('label', {}, label, input));
  }
  form.append(h('button', { class: 'btn btn-primary', type: 'submit', text: 'Apply' }), h('button', { class: 'btn', type: 'button', text: 'Clear', onclick: () => onSubmit({}) }));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form).entries());
    onSubmit(data);
  });
  return form;
}

function queryOf(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== undefined && v !== null) q.set(k, v);
  return q.toString();
}

async function renderList(page, kind) {
  const route = view.route;
  const params = Object.fromEntries(new URLSearchParams(route.query || '').entries());
  const jobs = ['', ...view.state.registry.jobs.map((j) => j.job_name), ...Object.keys(view.state.history.jobs)].filter((v, i, a) => a.indexOf(v) === i);
  const go = (values) => { location.hash = `#/${kind}?${queryOf(values)}`; };
  const toForm = (p) => ({ ...p, since: p.since ? toLocalInput(Number(p.since)) : '', until: p.until ? toLocalInput(Number(p.until)) : '' });
  const fromForm = (d) => ({ ...d, since: datetimeToMillis(d.since), until: datetimeToMillis(d.until), offset: '' });
  let title; let fields; let path; let columns; let row; let empty;
  if (kind === 'history') {
    const statusMode = params.view === 'status';
    title = 'Execution history';
    path = statusMode ? '/api/statuses' : '/api/history';
    fields = statusMode
      ? [['job', 'Job', 'select', jobs], ['instance', 'Instance', 'text'], ['state', 'State', 'select', ['', 'RESHARDED', 'MISFIRED', 'STUCK_ITEMS', 'FAILOVER_TAKEN', 'TRIGGERED', 'DISABLED', 'ENABLED', 'ERROR', 'STOPPED']], ['since', 'From', 'datetime-local'], ['until', 'Until', 'datetime-local']]
      : [['job', 'Job', 'select', jobs], ['item', 'Item', 'number'], ['instance', 'Instance', 'text'], ['outcome', 'Outcome', 'select', ['', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'CANCELLED']], ['since', 'From', 'datetime-local'], ['until', 'Until', 'datetime-local']];
    columns = statusMode ? ['Time', 'Job', 'State', 'Instance', 'Items', 'Message'] : ['Started', 'Job', 'Item', 'Instance', 'Duration', 'Outcome', 'Source', 'Fire', 'Cause'];
    row = statusMode
      ? (r) => h('tr', {}, h('td', { text: formatTime(r.creation_time) }), h('td', {}, h('a', { href: `#/job/${enc(r.job_name)}`, text: r.job_name })), h('td', {}, pill(r.state, r.state === 'ERROR' ? 'bad' : r.state === 'MISFIRED' || r.state === 'STUCK_ITEMS' ? 'warn' : r.state === 'FAILOVER_TAKEN' ? 'fo' : 'off')), h('td', { class: 'mono', text: instanceLabel(r.instance_id) }), h('td', { text: r.sharding_item }), h('td', { class: 'wrap small', text: r.message }))
      : (r) => h('tr', { dataset: { outcome: r.outcome } }, h('td', { text: formatTime(r.start_time) }), h('td', {}, h('a', { href: `#/job/${enc(r.job_name)}`, text: r.job_name })), h('td', { class: 'num', text: String(r.sharding_item) }), h('td', { class: 'mono', text: instanceLabel(r.instance_id) }), h('td', { class: 'num', text: duration(r.complete_time - r.start_time) }), h('td', {}, pill(r.outcome)), h('td', {}, r.failover ? pill('FAILOVER') : h('span', { class: 'muted small', text: r.execution_source })), h('td', { class: 'small muted', text: shortTime(r.fire_time) }), h('td', { class: 'cause', title: r.failure_cause || '', text: r.failure_cause ? r.failure_cause.split('\n')[0] : '' }));
    empty = 'No runs match.';
    page.append(h('div', { class: 'page-head' }, h('div', {}, h('h1', { text: title }), h('div', { class: 'sub', text: 'Every item run and status change the schedulers recorded, newest first' })),
      h('div', { class: 'segmented' },
        h('button', { class: statusMode ? '' : 'active', onclick: () => { location.hash = '#/history'; } }, 'Runs'),
        h('button', { class: statusMode ? 'active' : '', onclick: () => { location.hash = '#/history?view=status'; } }, 'Status changes'))));
    if (!view.state.history.configured) {
      page.append(h('div', { class: 'card empty', text: 'No execution history: start the console with --history URL (sqlite://PATH or postgres://…).' }));
      return;
    }
    const submit = (d) => go({ ...fromForm(d), view: statusMode ? 'status' : '' });
    page.append(h('div', { class: 'card' }, filterForm(fields, submit, toForm(params))));
  } else {
    title = 'Audit log';
    path = '/api/audit';
    fields = [['job', 'Job', 'select', jobs], ['actor', 'User', 'text'], ['action', 'Operation', 'select', ['', 'trigger', 'disable', 'enable', 'disable-item', 'enable-item', 'shutdown', 'remove', 'update-config', 'login']], ['outcome', 'Outcome', 'select', ['', 'OK', 'DENIED', 'FAILED']], ['since', 'From', 'datetime-local'], ['until', 'Until', 'datetime-local']];
    columns = ['Time', 'User', 'Role', 'Operation', 'Job', 'Target', 'Outcome', 'Detail', 'From'];
    row = (r) => h('tr', { dataset: { action: r.action, outcome: r.outcome, actor: r.actor } }, h('td', { text: formatTime(r.creation_time) }), h('td', { text: r.actor }), h('td', { class: 'muted', text: r.role }), h('td', {}, h('code', { text: r.action })), h('td', {}, r.job_name ? h('a', { href: `#/job/${enc(r.job_name)}`, text: r.job_name }) : ''), h('td', { text: r.target }), h('td', {}, pill(r.outcome, r.outcome === 'OK' ? 'ok' : r.outcome === 'DENIED' ? 'bad' : 'warn')), h('td', { class: 'wrap small', text: r.detail }), h('td', { class: 'mono muted', text: r.remote_addr }));
    empty = 'No operations recorded.';
    page.append(h('div', { class: 'page-head' }, h('div', {}, h('h1', { text: title }), h('div', { class: 'sub', text: view.state.history.configured ? 'Every operation asked of the console — done, denied or failed — kept in the history database' : 'Every operation asked of the console (kept in memory: start with --history to keep it)' }))));
    page.append(h('div', { class: 'card' }, filterForm(fields, (d) => go(fromForm(d)), toForm(params))));
  }
  const tbody = h('tbody', {}, h('tr', {}, h('td', { colspan: columns.length, class: 'empty', text: 'Loading…' })));
  const pager = h('div', { class: 'pager' });
  page.append(h('div', { class: 'card flush' }, h('div', { class: 'table-wrap' }, h('table', { id: `${kind}-table` }, h('thead', {}, h('tr', {}, columns.map((c) => h('th', { text: c })))), tbody)), pager));
  try {
    const data = await api('GET', `${path}?${queryOf({ ...params, view: undefined })}`);
    tbody.replaceChildren(...(data.rows.length ? data.rows.map(row) : [h('tr', {}, h('td', { colspan: columns.length, class: 'empty', text: empty }))]));
    const offset = Number(params.offset || 0);
    pager.append(
      h('span', { text: data.rows.length ? `Rows ${offset + 1}–${offset + data.rows.length}` : '' }),
      h('div', { class: 'actions' },
        h('button', { class: 'btn btn-small', disabled: offset === 0, onclick: () => go({ ...params, offset: String(Math.max(0, offset - data.limit)) }) }, '← Newer'),
        h('button', { class: 'btn btn-small', disabled: !data.has_more, onclick: () => go({ ...params, offset: String(offset + data.limit) }) }, 'Older →')));
  } catch (e) {
    tbody.replaceChildren(h('tr', {}, h('td', { colspan: columns.length, class: 'empty', text: e.message })));
  }
}

function toLocalInput(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// ---------- routing and rendering ----------

function parseRoute() {
  const [path, query] = (location.hash || '#/').slice(1).split('?');
  if (path.startsWith('/job/')) return { name: 'job', nav: 'overview', job: decodeURIComponent(path.slice(5)) };
  if (path === '/history') return { name: 'history', nav: 'history', query };
  if (path === '/audit') return { name: 'audit', nav: 'audit', query };
  return { name: 'overview', nav: 'overview' };
}

function render(full) {
  renderHeader();
  if (!view.state || !view.me) return;
  const route = view.route;
  const key = location.hash;
  // Lists change only when asked (filters, paging), not with the cluster.
  if (!full && (route.name === 'history' || route.name === 'audit') && view.rendered === key) return;
  if (document.querySelector('dialog[open]') && !full) {
    view.pending = true; // do not rebuild the page under an open dialog
    return;
  }
  const page = h('main', { id: 'page', class: 'page', 'aria-live': 'polite' });
  if (route.name === 'job') renderJob(page, route.job);
  else if (route.name === 'history') renderList(page, 'history');
  else if (route.name === 'audit') renderList(page, 'audit');
  else renderOverview(page);
  const scroll = window.scrollY;
  view.rendered = key;
  document.getElementById('page').replaceWith(page);
  if (!full) window.scrollTo(0, scroll);
  document.title = route.name === 'job' ? `${route.job} · elasticjob console` : 'elasticjob console';
}

function connectEvents() {
  const source = new EventSource('/api/events');
  source.addEventListener('state', (event) => {
    view.state = JSON.parse(event.data);
    setLive(true, 'live');
    render(false);
  });
  source.onopen = () => setLive(true, 'live');
  source.onerror = async () => {
    setLive(false, 'reconnecting');
    if (source.readyState === EventSource.CLOSED) {
      // The browser gave up (e.g. the login expired): check, then reopen.
      try { await api('GET', '/api/me'); } catch (e) { /* api() sends to the login page on 401 */ }
      setTimeout(connectEvents, 2000);
    }
  };
}

async function start() {
  try {
    view.me = await api('GET', '/api/me');
  } catch (e) {
    if (e.status === 401) { location.assign('/login' + location.hash); return; }
    document.getElementById('page').replaceChildren(h('div', { class: 'card empty', text: `Cannot reach the console: ${e.message}` }));
    return;
  }
  const user = document.getElementById('user');
  user.replaceChildren(h('span', { text: view.me.name }), h('span', { class: 'role', id: 'role', text: view.me.role }));
  const logout = document.getElementById('logout');
  logout.hidden = !view.me.users || view.me.via !== 'session';
  logout.addEventListener('click', async () => {
    try { await api('POST', '/api/logout'); } finally { location.assign('/login'); }
  });
  document.getElementById('config-form').addEventListener('submit', saveConfig);
  document.getElementById('config-cancel').addEventListener('click', () => document.getElementById('config-dialog').close());
  for (const dialog of document.querySelectorAll('dialog')) {
    dialog.addEventListener('close', () => { if (view.pending) { view.pending = false; render(false); } });
  }
  view.route = parseRoute();
  window.addEventListener('hashchange', () => { view.route = parseRoute(); render(true); });
  setInterval(() => { for (const el of document.querySelectorAll('[data-rel]')) { const text = relative(Number(el.dataset.rel)); el.textContent = el.textContent.startsWith('(') ? `(${text})` : text; } }, 1000);
  connectEvents();
}

start();
